import IMNCore

/// Rows as ClickHouse's `RowBinary` format has them: each column's value in the table's type,
/// little-endian, strings and arrays after their length (LEB128), `Nullable` after a null flag.
/// ClickHouse stores it without parsing text, and writing it costs no escaping.
extension ArchiveRow {
    /// The columns ``writeRowBinary(into:)`` writes, in its order: the INSERT names them.
    public static let columns = [
        "request_id", "agent_id", "module", "module_version", "state", "target", "address", "time", "time_ms", "duration_ms",
        "continent", "country", "region", "city", "latitude", "longitude", "asn", "network", "tags", "sent", "received", "rtts", "hops",
        "reached", "http_status", "resolve_ms", "connect_ms", "tls_ms", "first_byte_ms", "total_ms", "error", "output",
    ]

    /// Appends the row, its `output` replaced by `output` when given.
    public func writeRowBinary(into bytes: inout [UInt8], output: String? = nil) {
        var writer = RowBinaryWriter(bytes: consume bytes)
        defer { bytes = writer.bytes }
        for text in [requestID, agentID, module, moduleVersion, state, target, address] { writer.string(text) }
        writer.integer(UInt32(clamping: timeMilliseconds / 1000))
        writer.integer(UInt64(clamping: timeMilliseconds))
        writer.nullable(durationMilliseconds)
        for text in [location.continent, location.country, location.region, location.city] { writer.string(text ?? "") }
        writer.nullable(location.latitude)
        writer.nullable(location.longitude)
        writer.integer(UInt32(clamping: location.asn ?? 0))
        writer.string(location.network ?? "")
        writer.length(location.tags.count)
        for tag in location.tags { writer.string(tag) }
        writer.integer(UInt32(clamping: sent))
        writer.integer(UInt32(clamping: received))
        writer.length(rtts.count)
        for rtt in rtts { writer.float(rtt) }
        writer.integer(UInt16(clamping: hops))
        writer.integer(UInt8(reached ? 1 : 0))
        writer.integer(UInt16(clamping: httpStatus))
        for phase in ["resolve", "connect", "tls", "first_byte", "total"] { writer.nullable(phases.isEmpty ? nil : phases[phase]) }
        writer.string(error)
        writer.string(output ?? self.output)
    }
}

private struct RowBinaryWriter {
    var bytes: [UInt8]

    mutating func length(_ value: Int) {
        var rest = UInt64(value)
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    mutating func string(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            length(utf8.count)
            bytes.append(contentsOf: utf8)
        }
    }

    mutating func integer(_ value: some FixedWidthInteger) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func float(_ value: Double) { integer(value.bitPattern) }

    mutating func nullable(_ value: Double?) {
        if let value {
            bytes.append(0)
            float(value)
        } else {
            bytes.append(1)
        }
    }
}
