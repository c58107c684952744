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
        #expect(try render("{{x}}", value, escaping: .markdown) == "\\<a href='q'>&\"\\</a>")
        // Markdown: backslashes only where Markdown would read something in; never HTML entities. At the end of
        // a value an entity or a tag could go on in the next value written (a paragraph written in segments).
        for (text, markdown) in [
            ("API & Model Router", "API & Model Router"), ("a < b > c", "a < b > c"), ("&amp; &#60; &x", "\\&amp; \\&#60; \\&x"),
            ("&x y", "&x y"), ("a <", "a \\<"),
            ("> quoted\n> again", "\\> quoted\n\\> again"), ("<https://x.y>", "\\<https://x.y>"), ("[link](u)", "\\[link\\](u)"),
        ] {
            #expect(try render("{{x}}", ["x": .text(text)], escaping: .markdown) == markdown, "\(text)")
        }
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

/// Untrusted text in documents and on terminals: control characters never pass, Markdown links from
/// untrusted text are never live.
@Suite struct UntrustedTextTests {
    @Test func markdownEscapingNeutralisesLinksAndControls() throws {
        let hostile: TemplateValue = ["x": "see [click](javascript:alert(3)) \u{1B}]52;c;aGk=\u{07} \u{9B}31m © ok"]
        let markdown = try Template("{{x}}", escaping: .markdown).render(hostile)
        #expect(markdown == "see \\[click\\](javascript:alert(3)) \u{FFFD}\\]52;c;aGk=\u{FFFD} \u{FFFD}31m © ok")
        #expect(!markdown.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0.value == 0x9B })
        let html = try Template("{{x}}", escaping: .html).render(hostile)
        #expect(!html.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 || $0.value == 0x9B })
        #expect(html.contains("[click](javascript:alert(3))"))  // inert in HTML: no Markdown there
        #expect(try Template("{{{x}}}", escaping: .markdown).render(["x": "[a](b)"]) == "[a](b)")  // trusted text only
    }

    @Test func terminalTextShowsEveryControlCharacter() {
        #expect(TerminalText.safe("Acme\u{1B}]52;c;aGk=\u{07}\nRelay\u{202E}") == "Acme\u{FFFD}]52;c;aGk=\u{FFFD} Relay\u{FFFD}")
        #expect(TerminalText.safe("line one\nline two\ttab", singleLine: false) == "line one\nline two\ttab")
        #expect(TerminalText.safe("\u{9B}2J plain é ©") == "\u{FFFD}2J plain é ©")
        let clean = "Mistral 3 Small · 78/100"
        #expect(TerminalText.safe(clean) == clean)
    }

    /// An object's fields behave as a dictionary's: a name given twice reads as its last value, setting
    /// replaces, nil removes, merged fields win, and order does not matter to equality.
    @Test func fieldsReadAsADictionaryWould() throws {
        var fields: TemplateFields = ["a": 1, "bb": "x", "a": 2]
        #expect(fields["a"] == 2)
        #expect(fields["b"] == nil)
        fields["bb"] = "y"
        fields["c"] = true
        #expect(fields["bb"] == "y")
        #expect(fields.dictionary == ["a": 2, "bb": "y", "c": true])
        fields.merge(["a": 3, "d": 4])
        #expect(fields["a"] == 3)
        fields["a"] = nil
        #expect(fields["a"] == nil)
        #expect(fields == ["d": 4, "c": true, "bb": "y"])
        #expect(fields.mapValues { _ in "z" }.dictionary == ["bb": "z", "c": "z", "d": "z"])
        #expect(
            try Template("{{a}}{{#o}}{{a}}{{b}}{{/o}}", escaping: .html).render(["a": "outer", "o": ["b": "inner", "b": "last"]])
                == "outerouterlast")
    }
}
