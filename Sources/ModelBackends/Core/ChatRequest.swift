import Crypto
import Foundation

/// One message of a chat conversation.
public struct ChatMessage: Sendable, Hashable, Codable {
    public enum Role: String, Sendable, Hashable, Codable {
        case system, user, assistant
    }

    public var role: Role
    public var content: String

    public init(role: Role, content: String) {
        self.role = role
        self.content = content
    }

    public static func system(_ content: String) -> ChatMessage { ChatMessage(role: .system, content: content) }
    public static func user(_ content: String) -> ChatMessage { ChatMessage(role: .user, content: content) }
    public static func assistant(_ content: String) -> ChatMessage { ChatMessage(role: .assistant, content: content) }
}

/// A JSON schema the answer should follow, for backends that can constrain their output.
public struct OutputSchema: Sendable, Hashable {
    /// A short identifier (`[a-zA-Z0-9_-]`), which OpenAI-style APIs require.
    public var name: String
    public var schema: JSONValue {
        didSet { canonicalSchema = schema.canonicalBytes() }
    }
    /// `schema` as canonical JSON, written once: a batch sends the same schema with every call.
    private(set) var canonicalSchema: [UInt8]

    public init(name: String, schema: JSONValue) {
        self.name = name
        self.schema = schema
        self.canonicalSchema = schema.canonicalBytes()
    }
}

/// What the caller asks of a model, independent of any provider's wire format.
public struct ChatRequest: Sendable, Hashable {
    public var messages: [ChatMessage]
    public var temperature: Double?
    public var maxOutputTokens: Int?
    public var schema: OutputSchema?
    /// Ask the backend to stream; the answer is the same, with time to first token measured.
    public var stream: Bool
    /// Who is asking, for messages and traces (e.g. "builder · Mistral 3 Small"). For display only:
    /// nothing parses it (the router reads ``context``). Not part of the request's identity.
    public var label: String
    /// The persona and panel the call belongs to, for the router. Not part of the request's identity.
    public var context: RoutingContext
    /// Which of a persona's repeated asks this is (`--samples K`: 0 ..< K). Never sent to a provider; it
    /// keeps samples apart in the response cache and in recordings (``recordingKey``).
    public var sample: Int = 0

    public init(
        messages: [ChatMessage],
        temperature: Double? = nil,
        maxOutputTokens: Int? = nil,
        schema: OutputSchema? = nil,
        stream: Bool = false,
        label: String = "",
        context: RoutingContext = RoutingContext()
    ) {
        self.messages = messages
        self.temperature = temperature
        self.maxOutputTokens = maxOutputTokens
        self.schema = schema
        self.stream = stream
        self.label = label
        self.context = context
    }

    /// The request's identity as canonical JSON: messages, sampling and schema — not the backend,
    /// the model, the label or whether it streams, so a recording answers for any backend.
    public var canonicalBody: JSONValue {
        var body: [String: JSONValue] = [
            "messages": .array(messages.map { .object(["role": .string($0.role.rawValue), "content": .string($0.content)]) })
        ]
        if let temperature { body["temperature"] = .double(temperature) }
        if let maxOutputTokens { body["max_tokens"] = .int(maxOutputTokens) }
        if let schema { body["schema"] = .object(["name": .string(schema.name), "schema": schema.schema]) }
        return .object(body)
    }

    /// SHA-256 of ``canonicalBody``, hex encoded.
    public var canonicalHash: String {
        ContentHash.hex(SHA256.hash(data: canonicalBody.canonicalData()))
    }

    /// What a recording of this request is filed under: ``canonicalHash`` for the first sample (so
    /// recordings made before samples still answer), and a hash of it with the index for the others.
    public var recordingKey: String {
        sample == 0 ? canonicalHash : ContentHash.sha256("\(canonicalHash)#sample=\(sample)")
    }
}

/// SHA-256 of text, hex encoded: request identities, prompt and template provenance.
public enum ContentHash {
    public static func sha256(_ text: String) -> String {
        hex(SHA256.hash(data: Data(text.utf8)))
    }

    /// Bytes as lowercase hex (`String(format: "%02x")` per byte cost ~700 instructions a byte; a batch
    /// hashes twice per listing).
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(validUTF8: text, isASCII: true)
    }
}
