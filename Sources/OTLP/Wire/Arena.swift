import COTLP

/// Scoped allocation for one encode: every C structure, pointer array, string and byte buffer of a
/// request comes from a few large blocks, released together when the encode ends. Nothing is freed
/// one by one, so nothing can leak or be freed twice.
final class Arena {
    private var blocks: [UnsafeMutableRawPointer] = []
    private var current: UnsafeMutableRawPointer?
    private var offset = 0
    private var capacity = 0
    private let blockSize: Int

    init(blockSize: Int = 64 * 1024) { self.blockSize = blockSize }

    deinit {
        for block in blocks { block.deallocate() }
    }

    /// Raw memory for `count` bytes aligned to `alignment`, uninitialized.
    func allocate(byteCount count: Int, alignment: Int) -> UnsafeMutableRawPointer {
        let start = (offset + alignment - 1) & ~(alignment - 1)
        if let current, start + count <= capacity {
            offset = start + count
            return current + start
        }
        let size = Swift.max(blockSize, count + alignment)
        let block = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        blocks.append(block)
        (current, capacity, offset) = (block, size, count)
        return block
    }

    /// A C message set up by its protobuf-c `init` function.
    func message<T>(_ type: T.Type, _ initialize: (UnsafeMutablePointer<T>) -> Void) -> UnsafeMutablePointer<T> {
        let pointer = allocate(byteCount: MemoryLayout<T>.stride, alignment: MemoryLayout<T>.alignment).bindMemory(to: T.self, capacity: 1)
        initialize(pointer)
        return pointer
    }

    /// An array of `count` values, each made by `element`.
    func array<T>(_ count: Int, _ element: (Int) -> T) -> UnsafeMutablePointer<T>? {
        guard count > 0 else { return nil }
        let pointer = allocate(byteCount: MemoryLayout<T>.stride * count, alignment: MemoryLayout<T>.alignment).bindMemory(
            to: T.self, capacity: count)
        for index in 0..<count { (pointer + index).initialize(to: element(index)) }
        return pointer
    }

    /// A NUL-terminated copy (protobuf-c leaves an empty string out of the encoding, as proto3 wants).
    func string(_ text: String) -> UnsafeMutablePointer<CChar> {
        var text = text
        return text.withUTF8 { utf8 in
            let pointer = allocate(byteCount: utf8.count + 1, alignment: 1)
            if let base = utf8.baseAddress { pointer.copyMemory(from: base, byteCount: utf8.count) }
            pointer.storeBytes(of: 0, toByteOffset: utf8.count, as: UInt8.self)
            return pointer.bindMemory(to: CChar.self, capacity: utf8.count + 1)
        }
    }

    /// Big-endian bytes of `words` (trace ids: two words, span ids: one), without an array between.
    func id(_ words: UInt64...) -> ProtobufCBinaryData {
        let count = words.count * 8
        let pointer = allocate(byteCount: count, alignment: 1)
        for (index, word) in words.enumerated() { pointer.storeBytes(of: word.bigEndian, toByteOffset: index * 8, as: UInt64.self) }
        return ProtobufCBinaryData(len: count, data: pointer.bindMemory(to: UInt8.self, capacity: count))
    }

    func bytes(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        guard !bytes.isEmpty else { return ProtobufCBinaryData(len: 0, data: nil) }
        let pointer = allocate(byteCount: bytes.count, alignment: 1)
        bytes.withUnsafeBytes { source in
            if let base = source.baseAddress { pointer.copyMemory(from: base, byteCount: bytes.count) }
        }
        return ProtobufCBinaryData(len: bytes.count, data: pointer.bindMemory(to: UInt8.self, capacity: bytes.count))
    }
}
