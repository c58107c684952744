import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Answers in Anthropic's, Ollama's and Gemini's wire formats, plain and streamed.
enum MockWire {
    struct Cut: Error {}

    static func data(_ object: Any) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: object)) ?? Data(), as: UTF8.self)
    }

    static func pieces(_ text: String) -> [String] { ChatCompletions.pieces(text, size: 24) }

    static func plain(_ body: String) -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func streamed(_ contentType: String, _ chunks: [String], truncate: Bool) -> Response {
        let cutAt = truncate ? chunks.count / 2 : nil
        return Response(
            status: .ok, headers: [.contentType: contentType],
            body: ResponseBody { writer in
                for (index, chunk) in chunks.enumerated() {
                    if index == cutAt { throw Cut() }
                    try await writer.write(ByteBuffer(string: chunk))
                }
                try await writer.finish(nil)
            })
    }

    static func anthropic(
        text: String, model: String, usage: (input: Int, output: Int), stream: Bool, toolUse: String?, truncate: Bool
    ) -> Response {
        // A forced tool call is answered with that tool's name (tool_choice), as the API does.
        let input = toolUse != nil ? (try? JSONSerialization.jsonObject(with: Data(text.utf8))) : nil
        let block: [String: Any] =
            input.map { ["type": "tool_use", "id": "toolu_mock", "name": toolUse ?? "tool", "input": $0] } ?? [
                "type": "text", "text": text,
            ]
        if !stream {
            if truncate { return plain(#"{"id":"msg_mock","type":"message","content":[{"type":"te"#) }
            let usageObject: [String: Any] = ["input_tokens": usage.input, "output_tokens": usage.output]
            let message: [String: Any] = [
                "id": "msg_mock", "type": "message", "role": "assistant", "model": model, "content": [block],
                "stop_reason": input == nil ? "end_turn" : "tool_use", "stop_sequence": NSNull(), "usage": usageObject,
            ]
            return plain(data(message))
        }
        func event(_ name: String, _ object: [String: Any]) -> String { "event: \(name)\ndata: \(data(object))\n\n" }
        let startUsage: [String: Any] = ["input_tokens": usage.input, "output_tokens": 1]
        let startMessage: [String: Any] = [
            "id": "msg_mock", "type": "message", "role": "assistant", "model": model, "content": [Any](), "stop_reason": NSNull(),
            "usage": startUsage,
        ]
        let textBlock: [String: Any] = ["type": "text", "text": ""]
        let toolBlock: [String: Any] = ["type": "tool_use", "id": "toolu_mock", "name": toolUse ?? "tool", "input": [String: Any]()]
        let startBlock: [String: Any] = ["type": "content_block_start", "index": 0, "content_block": input == nil ? textBlock : toolBlock]
        var chunks = [
            event("message_start", ["type": "message_start", "message": startMessage]),
            event("content_block_start", startBlock),
            event("ping", ["type": "ping"]),
        ]
        for piece in pieces(text) {
            let delta: [String: Any] =
                input == nil ? ["type": "text_delta", "text": piece] : ["type": "input_json_delta", "partial_json": piece]
            chunks.append(event("content_block_delta", ["type": "content_block_delta", "index": 0, "delta": delta]))
        }
        chunks.append(event("content_block_stop", ["type": "content_block_stop", "index": 0]))
        let stopDelta: [String: Any] = ["stop_reason": input == nil ? "end_turn" : "tool_use", "stop_sequence": NSNull()]
        let endUsage: [String: Any] = ["output_tokens": usage.output]
        chunks.append(event("message_delta", ["type": "message_delta", "delta": stopDelta, "usage": endUsage]))
        chunks.append(event("message_stop", ["type": "message_stop"]))
        return streamed("text/event-stream", chunks, truncate: truncate)
    }

    static func ollama(text: String, model: String, usage: (input: Int, output: Int), stream: Bool, truncate: Bool) -> Response {
        let finalMessage: [String: Any] = ["role": "assistant", "content": stream ? "" : text]
        let final: [String: Any] = [
            "model": model, "created_at": "2026-11-25T12:00:00Z", "message": finalMessage, "done": true,
            "done_reason": "stop", "total_duration": 1_200_000_000, "prompt_eval_count": usage.input, "eval_count": usage.output,
        ]
        if !stream { return truncate ? plain(#"{"model":"m","message":{"role":"assis"#) : plain(data(final)) }
        var chunks = pieces(text).map { piece -> String in
            let message: [String: Any] = ["role": "assistant", "content": piece]
            let object: [String: Any] = ["model": model, "created_at": "2026-11-25T12:00:00Z", "message": message, "done": false]
            return data(object) + "\n"
        }
        chunks.append(data(final) + "\n")
        return streamed("application/x-ndjson", chunks, truncate: truncate)
    }

    static func gemini(text: String, model: String, usage: (input: Int, output: Int), stream: Bool, truncate: Bool) -> Response {
        func response(_ piece: String, finish: Bool) -> [String: Any] {
            let content: [String: Any] = ["parts": [["text": piece]], "role": "model"]
            var candidate: [String: Any] = ["content": content, "index": 0]
            if finish { candidate["finishReason"] = "STOP" }
            let metadata: [String: Any] = [
                "promptTokenCount": usage.input, "candidatesTokenCount": usage.output, "totalTokenCount": usage.input + usage.output,
            ]
            return ["candidates": [candidate], "modelVersion": model, "usageMetadata": metadata]
        }
        if !stream { return truncate ? plain(#"{"candidates":[{"content":{"parts":[{"te"#) : plain(data(response(text, finish: true))) }
        let parts = pieces(text)
        let chunks = parts.enumerated().map { index, piece in
            "data: " + data(response(piece, finish: index == parts.count - 1)) + "\r\n\r\n"
        }
        return streamed("text/event-stream", chunks, truncate: truncate)
    }
}
