import Synchronization

/// Documents already rendered, by review, format and number of editor actions: a finished review's
/// document never changes and its actions are only appended, so that key names one text for good.
/// Reading a document again skips decoding and rendering. Holds the newest ``capacity`` texts.
final class RenderedDocuments: Sendable {
    struct Key: Hashable {
        var review: String
        var format: String
        var actions: Int
    }

    struct State {
        var texts: [Key: String] = [:]
        var order: [Key] = []
    }

    let state = Mutex(State())
    let capacity: Int

    init(capacity: Int = 512) {
        self.capacity = capacity
    }

    func text(_ key: Key, render: () throws -> String?) rethrows -> String? {
        if let text = state.withLock({ $0.texts[key] }) { return text }
        guard let text = try render() else { return nil }
        state.withLock { state in
            guard state.texts.updateValue(text, forKey: key) == nil else { return }
            state.order.append(key)
            if state.order.count > capacity { state.texts[state.order.removeFirst()] = nil }
        }
        return text
    }
}
