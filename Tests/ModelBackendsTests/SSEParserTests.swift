import Testing

@testable import ModelBackends

struct SSEParserTests {
    static let stream = """
        : keep-alive comment\r
        event: message_start\r
        data: {"a":1}\r
        \r
        data: line one
        data: line two

        id: 7
        data: {"b":"é ünïcödé ✓"}

        data: [DONE]

        """

    static let expected = [
        SSEEvent(event: "message_start", data: #"{"a":1}"#),
        SSEEvent(data: "line one\nline two"),
        SSEEvent(data: #"{"b":"é ünïcödé ✓"}"#, id: "7"),
        SSEEvent(data: "[DONE]", id: "7"),
    ]

    @Test func parsesWholeStream() {
        var parser = SSEParser()
        let events = parser.feed(Array(Self.stream.utf8)) + parser.finish()
        #expect(events == Self.expected)
    }

    @Test func bareCarriageReturnsEndLines() {
        var parser = SSEParser()
        let events = parser.feed(Array("data: a\r\rdata: b\r\r".utf8))
        #expect(events == [SSEEvent(data: "a"), SSEEvent(data: "b")])
    }

    @Test func finalEventWithoutBlankLineIsDispatchedAtFinish() {
        var parser = SSEParser()
        #expect(parser.feed(Array("data: tail".utf8)).isEmpty)
        #expect(parser.finish() == [SSEEvent(data: "tail")])
    }

    @Test func eventWithoutDataIsNotDispatched() {
        var parser = SSEParser()
        #expect(parser.feed(Array("event: ping\n\n".utf8)).isEmpty)
    }

    /// Property: however the bytes are split into chunks, the events are the same.
    @Test(arguments: 0..<40)
    func arbitraryChunkSplitsGiveTheSameEvents(seed: Int) {
        var rng = SplitMix64(seed: UInt64(seed) &+ 0x9E37_79B9)
        let bytes = Array(Self.stream.utf8)
        var parser = SSEParser()
        var events: [SSEEvent] = []
        var index = 0
        while index < bytes.count {
            let size = Int(rng.next() % 7) + (rng.next() % 5 == 0 ? 0 : 1)
            let end = min(bytes.count, index + size)
            events += parser.feed(bytes[index..<end])
            index = end
        }
        events += parser.finish()
        #expect(events == Self.expected)
    }
}

/// A small deterministic generator for property tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
