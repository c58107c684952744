extension String {
    /// A string of bytes known to be valid UTF-8 — slices of other strings cut at ASCII bytes or whole
    /// scalars, joined with ASCII — copied without validating them again. `String(decoding:as:)` checks
    /// every byte (one byte past ASCII and it checks each sequence, ~40 times the cost of the copy on a
    /// kept document), which panel's writers paid on every document, claim token and parsed string.
    /// Bytes from outside (a response body, a file) are not known valid: decode them. Debug builds (the
    /// tests) check the promise.
    @inlinable
    public init(validUTF8 bytes: UnsafeBufferPointer<UInt8>, isASCII: Bool = false) {
        assert(String(validating: bytes, as: UTF8.self) != nil, "String(validUTF8:) was given bytes that are not UTF-8")
        self = String(copying: UTF8Span(unchecked: Span(_unsafeElements: bytes), isKnownASCII: isASCII))
    }

    /// ``init(validUTF8:isASCII:)`` of a whole array.
    @inlinable
    public init(validUTF8 bytes: [UInt8], isASCII: Bool = false) {
        self = bytes.withUnsafeBufferPointer { String(validUTF8: $0, isASCII: isASCII) }
    }
}
