import CLDNS
import Glibc

/// One question, and how to ask it: the header bits and EDNS options of the query.
public struct DNSQuery: Sendable, Equatable {
    public var name: String
    public var type: String
    public var recordClass: String
    public var recursionDesired: Bool
    /// Sets EDNS's DO bit (asks for DNSSEC records).
    public var dnssecOK: Bool
    /// The EDNS UDP payload size advertised; 0 sends no EDNS record (classic 512-byte limit).
    public var udpPayloadSize: Int

    public init(
        name: String, type: String = "A", recordClass: String = "IN", recursionDesired: Bool = true, dnssecOK: Bool = false,
        udpPayloadSize: Int = 1232
    ) {
        self.name = name
        self.type = type.uppercased()
        self.recordClass = recordClass.uppercased()
        self.recursionDesired = recursionDesired
        self.dnssecOK = dnssecOK
        self.udpPayloadSize = udpPayloadSize
    }

    /// The name as asked: for PTR, an IPv4 or IPv6 address becomes its reverse name
    /// (`192.0.2.1` → `1.2.0.192.in-addr.arpa.`).
    public var questionName: String {
        guard type == "PTR" else { return name }
        var v4 = in_addr()
        if inet_pton(AF_INET, name, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { $0.reversed().map { "\($0)" }.joined(separator: ".") } + ".in-addr.arpa."
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, name, &v6) == 1 {
            let digits = withUnsafeBytes(of: &v6) { bytes in bytes.flatMap { [$0 >> 4, $0 & 0xF] } }
            return digits.reversed().map { String($0, radix: 16) }.joined(separator: ".") + ".ip6.arpa."
        }
        return name
    }

    /// The query in wire format with message id `id`.
    public func wire(id: UInt16) throws(DNSError) -> [UInt8] {
        let asked = questionName
        let recordType = ldns_get_rr_type_by_name(type)
        guard recordType.rawValue != 0 || type == "TYPE0" else { throw .unknownType(type) }
        let klass = ldns_get_rr_class_by_name(recordClass)
        guard klass.rawValue != 0 else { throw .unknownType(recordClass) }
        guard !asked.isEmpty, asked.utf8.count <= 253 || (asked.utf8.count == 254 && asked.hasSuffix(".")) else {
            throw .badName(name, reason: "names are 1 to 253 characters")
        }
        guard !asked.contains(".."), asked.split(separator: ".").allSatisfy({ $0.utf8.count <= 63 }) else {
            throw .badName(name, reason: "each label is 1 to 63 characters")
        }
        guard let owner = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_DNAME, asked) else { throw .badName(name, reason: "ldns cannot parse it") }
        guard let packet = ldns_pkt_query_new(owner, recordType, klass, UInt16(recursionDesired ? LDNS_RD : 0)) else {
            throw .badName(name, reason: "ldns cannot build a query for it")
        }
        defer { ldns_pkt_free(packet) }
        ldns_pkt_set_id(packet, id)
        if udpPayloadSize > 0 || dnssecOK {
            ldns_pkt_set_edns_udp_size(packet, UInt16(max(512, udpPayloadSize)))
            ldns_pkt_set_edns_do(packet, dnssecOK ? 1 : 0)
        }
        var bytes: UnsafeMutablePointer<UInt8>?
        var size = 0
        guard ldns_pkt2wire(&bytes, packet, &size) == LDNS_STATUS_OK, let bytes else { throw .badName(name, reason: "ldns cannot encode it") }
        defer { free(bytes) }
        return Array(UnsafeBufferPointer(start: bytes, count: size))
    }
}
