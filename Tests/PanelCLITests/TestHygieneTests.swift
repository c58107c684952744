import Foundation
import Testing

/// Every suite that starts a process or a server has a time limit, so a hang fails its test instead of CI.
@Suite(.timeLimit(.minutes(1)))
struct TestHygieneTests {
    @Test func everySuiteThatStartsProcessesOrServersHasATimeLimit() throws {
        let tests = PanelCLITests.root.appendingPathComponent("Tests")
        let starts = /Process\(\)|withServer|ServerHarness\.with|makeApplication|\.test\(\.live\)|panel\(\[/
        let suite = /\nstruct (\w+Tests) \{/
        var checked = 0
        for module in try FileManager.default.contentsOfDirectory(atPath: tests.path) {
            let directory = tests.appendingPathComponent(module)
            for file in (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [] where file.hasSuffix(".swift") {
                let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
                guard text.contains(starts) else { continue }
                for match in text.matches(of: suite) {
                    checked += 1
                    // The suite's attributes: what stands between the previous declaration's end and the struct.
                    let before = text[..<match.range.lowerBound]
                    let attributes = before.range(of: "\n}", options: .backwards).map { before[$0.upperBound...] } ?? before
                    #expect(
                        attributes.contains("@Suite(") && attributes.contains(".timeLimit("),
                        "\(module)/\(file): suite \(match.1) starts processes or servers without a time limit")
                }
            }
        }
        #expect(checked > 20)
    }
}
