/// The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of
/// 16-bit big-endian words.
enum InternetChecksum {
    /// Adds `bytes` to a running sum (an odd last byte is padded with zero).
    static func add(_ bytes: some Collection<UInt8>, to sum: UInt32 = 0) -> UInt32 {
        var sum = sum
        var iterator = bytes.makeIterator()
        while let high = iterator.next() {
            let low = iterator.next() ?? 0
            sum += UInt32(high) << 8 | UInt32(low)
        }
        return sum
    }

    static func finish(_ sum: UInt32) -> UInt16 {
        var sum = sum
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }

    /// The pseudo-header sum that UDP and TCP checksums start from (IPv4 or IPv6).
    static func pseudoHeader(source: [UInt8], destination: [UInt8], protocol number: UInt8, length: Int) -> UInt32 {
        var sum = add(source)
        sum = add(destination, to: sum)
        if source.count == 16 {
            sum = add([UInt8(length >> 24 & 0xFF), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)], to: sum)
            return add([0, 0, 0, number], to: sum)
        }
        return add([0, number, UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)], to: sum)
    }
}
