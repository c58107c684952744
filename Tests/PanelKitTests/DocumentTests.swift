import Foundation
import Testing

@testable import PanelKit

struct DocumentTests {
    @Test func otherSchemaVersionsAreRejected() {
        let error = #expect(throws: DocumentError.self) {
            try JSONDocumentRenderer.decode(Data(#"{"schema": "panel.document/v2"}"#.utf8), source: "old.json")
        }
        #expect(error?.description.contains("panel.document/v2") == true)
    }
}
