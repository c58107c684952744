import Testing

@testable import PanelKit

@Suite struct TemplateTests {
    func render(_ source: String, _ value: TemplateValue, escaping: TemplateEscaping = .html) throws -> String {
        try Template(source, escaping: escaping).render(value)
    }

    @Test func variablesEscapeByKind() throws {
        let value: TemplateValue = ["x": "<a href='q'>&\"</a>", "n": 42, "f": true]
        #expect(
            try render("{{x}}|{{{x}}}|{{&x}}|{{ n }}|{{f}}", value)
                == "&lt;a href=&#39;q&#39;&gt;&amp;&quot;&lt;/a&gt;|<a href='q'>&\"</a>|<a href='q'>&\"</a>|42|true")
        #expect(try render("{{x}}", value, escaping: .markdown) == "&lt;a href='q'&gt;&amp;\"&lt;/a&gt;")
        #expect(try render("{{x}}", value, escaping: .none) == "<a href='q'>&\"</a>")
        #expect(try render("[{{missing}}]", value) == "[]")
    }

    @Test func sectionsFollowTheValue() throws {
        let value: TemplateValue = [
            "items": [["name": "a"], ["name": "b"]], "empty": .list([]), "yes": true, "no": false, "text": "t",
            "obj": ["inner": "deep"], "name": "outer",
        ]
        #expect(try render("{{#items}}{{name}},{{/items}}", value) == "a,b,")
        #expect(try render("{{#empty}}x{{/empty}}{{^empty}}none{{/empty}}", value) == "none")
        #expect(try render("{{#yes}}{{name}}{{/yes}}{{#no}}x{{/no}}{{^no}}n{{/no}}{{^yes}}x{{/yes}}", value) == "outern")
        #expect(try render("{{#text}}[{{.}}]{{/text}}{{^text}}x{{/text}}", value) == "[t]")
        #expect(try render("{{#obj}}{{inner}} {{name}}{{/obj}} {{obj.inner}} {{obj.none}}", value) == "deep outer deep ")
        #expect(try render("{{#missing}}x{{/missing}}{{^missing}}m{{/missing}}", value) == "m")
    }

    @Test func standaloneTagLinesLeaveNoBlankLines() throws {
        let source = """
            Begin
              {{#items}}
            - {{name}}
              {{/items}}
            {{! a comment }}
            {{^items}}
            none
            {{/items}}
            End {{#yes}}inline{{/yes}}
            {{#yes}}{{/yes}}
            last
            """
        let value: TemplateValue = ["items": [["name": "a"], ["name": "b"]], "yes": true]
        #expect(try render(source, value) == "Begin\n- a\n- b\nEnd inline\n\nlast")
        #expect(try render("a\r\n{{#yes}}\r\nb\r\n{{/yes}}\r\n", value) == "a\r\nb\r\n")
        #expect(try render("{{#yes}}\nx\n{{/yes}}", value) == "x\n")
    }

    @Test func malformedTemplatesSayWhereAndWhy() {
        func problem(_ source: String) -> String? {
            do {
                _ = try Template(source, escaping: .html)
                return nil
            } catch {
                return error.description
            }
        }
        #expect(problem("a\n{{#x}}\nb") == "line 2: section {{#x}} is never closed")
        #expect(problem("{{#x}}{{/y}}") == "line 1: {{/y}} closes nothing here (expected {{/x}})")
        #expect(problem("{{/y}}") == "line 1: {{/y}} closes nothing here (no section is open)")
        #expect(problem("x\n\n{{name") == "line 3: a tag opened with '{{' is never closed")
        #expect(problem("{{> header}}")?.contains("not supported") == true)
        #expect(problem("{{=<% %>=}}")?.contains("not supported") == true)
        #expect(problem("{{}}") == "line 1: a tag has no name")
    }

    @Test func pragmasAreIgnored() throws {
        #expect(try render("{{% CONTENT_TYPE: TEXT}}\n{{x}}", ["x": "<"]) == "&lt;")
    }
}
