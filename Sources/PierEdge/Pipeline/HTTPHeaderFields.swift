import NIOCore

/// Header fields as ranges into the bytes they were parsed from.
public struct HTTPHeaderFields: Sendable, Sequence {
    struct Field: Sendable {
        var nameStart: UInt32
        var nameEnd: UInt32
        var valueStart: UInt32
        var valueEnd: UInt32
        /// The field's ``KnownHeader`` raw value, or `KnownHeader.unknown`.
        var known: UInt8 = KnownHeader.unknown
    }

    let storage: ByteBuffer
    var fields: [Field]

    /// No fields.
    static let empty = HTTPHeaderFields(storage: ByteBuffer(), fields: [])

    init(storage: ByteBuffer, fields: [Field]) {
        self.storage = storage
        self.fields = fields
    }

    /// Fields given as name-value pairs (an HTTP/2 header block): laid out as `name: value` lines in one buffer, so
    /// they are read, matched and forwarded exactly like fields parsed from HTTP/1.1.
    init<Pairs: Sequence<(String, String)>>(pairs: Pairs) {
        var storage = ByteBuffer()
        var fields: [Field] = []
        var presence: UInt32 = 0
        for (name, value) in pairs {
            let nameStart = storage.writerIndex
            storage.writeString(name)
            let nameEnd = storage.writerIndex
            storage.writeStaticString(": ")
            let valueStart = storage.writerIndex
            storage.writeString(value)
            let valueEnd = storage.writerIndex
            storage.writeStaticString("\r\n")
            let known = storage.withUnsafeReadableBytes { KnownHeader.classify($0, start: nameStart, end: nameEnd) }
            if known != KnownHeader.unknown { presence |= 1 << UInt32(known) }
            if name.utf8.contains(UInt8(ascii: "_")) { presence |= Self.underscoreBit }
            fields.append(
                Field(
                    nameStart: UInt32(nameStart), nameEnd: UInt32(nameEnd), valueStart: UInt32(valueStart),
                    valueEnd: UInt32(valueEnd), known: known))
        }
        self.storage = storage
        self.fields = fields
        self.presence = presence
    }

    /// The number of fields.
    public var count: Int { fields.count }
    /// One bit per ``KnownHeader`` present, so absent fields are answered without a scan.
    var presence: UInt32 = 0
    /// Set in ``presence`` (above every ``KnownHeader`` bit) when some field name contains `_`, found while parsing
    /// so the proxy scans names only when one does.
    static let underscoreBit: UInt32 = 1 << 31
    var hasUnderscoreNames: Bool { presence & Self.underscoreBit != 0 }

    /// The value of the first field of a known name, or `nil`.
    public func first(_ header: KnownHeader) -> String? {
        guard presence & header.bit != 0 else { return nil }
        for index in fields.indices where fields[index].known == header.rawValue {
            return value(at: index)
        }
        return nil
    }

    /// Whether a field of a known name is present.
    public func contains(_ header: KnownHeader) -> Bool {
        presence & header.bit != 0
    }

    /// Every value of fields of a known name, in order.
    public func values(_ header: KnownHeader) -> [String] {
        guard presence & header.bit != 0 else { return [] }
        return fields.indices.filter { fields[$0].known == header.rawValue }.map { value(at: $0) }
    }

    /// The value of the first field with this name (given in lower case), or `nil`.
    public func first(_ lowercasedName: String) -> String? {
        guard let index = firstIndex(lowercasedName) else { return nil }
        return value(at: index)
    }

    /// Every value of fields with this name (given in lower case), in order.
    public func values(_ lowercasedName: String) -> [String] {
        var result: [String] = []
        for index in fields.indices where nameEquals(index, lowercasedName) {
            result.append(value(at: index))
        }
        return result
    }

    /// Whether a field with this name (given in lower case) is present.
    public func contains(_ lowercasedName: String) -> Bool {
        firstIndex(lowercasedName) != nil
    }

    func firstIndex(_ lowercasedName: String) -> Int? {
        fields.indices.first { nameEquals($0, lowercasedName) }
    }

    func nameEquals(_ index: Int, _ lowercasedName: String) -> Bool {
        let field = fields[index]
        guard Int(field.nameEnd - field.nameStart) == lowercasedName.utf8.count else { return false }
        var lowercasedName = lowercasedName
        return lowercasedName.withUTF8 { expected in
            bytesEqual(from: field.nameStart, to: field.nameEnd, UnsafeRawBufferPointer(expected))
        }
    }

    /// Whether the received bytes `start..<end` equal `lowercase`, ignoring ASCII case.
    private func bytesEqual(from start: UInt32, to end: UInt32, _ lowercase: UnsafeRawBufferPointer) -> Bool {
        storage.withUnsafeReadableBytes { bytes in
            HTTPToken.equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: bytes[Int(start)..<Int(end)]), lowercase)
        }
    }

    /// Whether the received bytes from `start` (up to `end`) begin with `prefix` (lowercase), ignoring ASCII case.
    private func bytesHavePrefix(from start: UInt32, to end: UInt32, _ prefix: StaticString) -> Bool {
        let count = UInt32(prefix.utf8CodeUnitCount)
        guard end - start >= count else { return false }
        return bytesEqual(from: start, to: start + count, prefix.rawBytes)
    }

    /// Whether the field name at `index` starts with `prefix` (given in lower case).
    func nameHasPrefix(_ index: Int, _ prefix: StaticString) -> Bool {
        bytesHavePrefix(from: fields[index].nameStart, to: fields[index].nameEnd, prefix)
    }

    /// Whether the value at `index` starts with `prefix` (given in lower case).
    func valueHasPrefix(_ index: Int, ignoringCase prefix: StaticString) -> Bool {
        bytesHavePrefix(from: fields[index].valueStart, to: fields[index].valueEnd, prefix)
    }

    /// Whether the name of the field at `index` contains `_`.
    func nameContainsUnderscore(_ index: Int) -> Bool {
        let field = fields[index]
        return storage.withUnsafeReadableBytes { bytes in
            bytes[Int(field.nameStart)..<Int(field.nameEnd)].contains(UInt8(ascii: "_"))
        }
    }

    /// The name of the field at `index`, as sent.
    public func name(at index: Int) -> String {
        let field = fields[index]
        return storage.getString(
            at: storage.readerIndex + Int(field.nameStart), length: Int(field.nameEnd - field.nameStart)) ?? ""
    }

    /// The value of the field at `index`, without surrounding whitespace.
    public func value(at index: Int) -> String {
        let field = fields[index]
        return storage.getString(
            at: storage.readerIndex + Int(field.valueStart), length: Int(field.valueEnd - field.valueStart)) ?? ""
    }

    public func makeIterator() -> AnyIterator<(name: String, value: String)> {
        var index = 0
        return AnyIterator {
            guard index < self.fields.count else { return nil }
            defer { index += 1 }
            return (self.name(at: index), self.value(at: index))
        }
    }
}

extension HTTPHeaderFields {
    /// Copies the field at `index` as `Name: value\r\n`, byte for byte.
    ///
    /// One sized write per field: the proxy copies every forwarded field twice per exchange (request and response),
    /// and `ByteBuffer`'s bookkeeping per call cost more than the copying.
    func writeField(at index: Int, into buffer: inout ByteBuffer) {
        let field = fields[index]
        let nameLength = Int(field.nameEnd - field.nameStart)
        let valueLength = Int(field.valueEnd - field.valueStart)
        storage.withUnsafeReadableBytes { bytes in
            let source = bytes.baseAddress!
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: nameLength + valueLength + 4) { target in
                let base = target.baseAddress!
                base.copyMemory(from: source + Int(field.nameStart), byteCount: nameLength)
                base.storeBytes(of: UInt8(ascii: ":"), toByteOffset: nameLength, as: UInt8.self)
                base.storeBytes(of: UInt8(ascii: " "), toByteOffset: nameLength + 1, as: UInt8.self)
                (base + nameLength + 2).copyMemory(from: source + Int(field.valueStart), byteCount: valueLength)
                base.storeBytes(of: UInt8(ascii: "\r"), toByteOffset: nameLength + valueLength + 2, as: UInt8.self)
                base.storeBytes(of: UInt8(ascii: "\n"), toByteOffset: nameLength + valueLength + 3, as: UInt8.self)
                return nameLength + valueLength + 4
            }
        }
    }

    /// The known-name tag of the field at `index` (``KnownHeader/unknown`` for others).
    func knownTag(at index: Int) -> UInt8 { fields[index].known }

}
