import NIOCore

extension ByteBuffer {
    /// Writes one header line, `name` given with its colon and space: `writeHeaderLine("Host: ", host)`.
    mutating func writeHeaderLine(_ name: StaticString, _ value: String) {
        writeWithUnsafeMutableBytes(minimumWritableBytes: name.utf8CodeUnitCount + value.utf8.count + 2) { raw in
            var writer = RawHeadWriter(base: raw.baseAddress!)
            writer.put(name)
            writer.put(value)
            writer.put(UInt8(ascii: "\r"), UInt8(ascii: "\n"))
            return writer.offset
        }
    }
}

/// Copies bytes into memory already sized for them by the caller.
struct RawHeadWriter {
    let base: UnsafeMutableRawPointer
    var offset = 0

    init(base: UnsafeMutableRawPointer) {
        self.base = base
    }

    mutating func put(_ string: String) {
        let copied = string.utf8.withContiguousStorageIfAvailable { bytes in
            if let source = bytes.baseAddress {
                (base + offset).copyMemory(from: source, byteCount: bytes.count)
            }
            return bytes.count
        }
        if let copied {
            offset += copied
        } else {
            for byte in string.utf8 {
                base.storeBytes(of: byte, toByteOffset: offset, as: UInt8.self)
                offset += 1
            }
        }
    }

    mutating func put(_ string: StaticString) {
        (base + offset).copyMemory(from: string.utf8Start, byteCount: string.utf8CodeUnitCount)
        offset += string.utf8CodeUnitCount
    }

    mutating func put(_ first: UInt8, _ second: UInt8) {
        base.storeBytes(of: first, toByteOffset: offset, as: UInt8.self)
        base.storeBytes(of: second, toByteOffset: offset + 1, as: UInt8.self)
        offset += 2
    }
}
