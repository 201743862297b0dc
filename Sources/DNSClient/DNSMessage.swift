import CLDNS
import Glibc

/// A DNS answer, parsed by ldns: header, the four sections, EDNS.
public struct DNSMessage: Sendable, Equatable {
    public struct Record: Sendable, Equatable {
        public var name: String
        public var type: String
        public var recordClass: String
        public var ttl: UInt32
        /// The record data in presentation format (`10 mail.example.`, `"v=spf1 -all"`).
        public var data: String
    }

    public struct Flags: Sendable, Equatable {
        public var qr, aa, tc, rd, ra, ad, cd: Bool
    }

    public var id: UInt16
    public var rcode: String
    public var opcode: String
    public var flags: Flags
    public var question: [Record]
    public var answer: [Record]
    public var authority: [Record]
    public var additional: [Record]
    /// EDNS of the answer, when it had an OPT record.
    public var ednsUDPSize: Int?
    public var ednsDO: Bool
    public var size: Int

    /// Parses `bytes`; throws when they are not a whole DNS message.
    public init(wire bytes: [UInt8]) throws(DNSError) {
        var parsed: UnsafeMutablePointer<ldns_pkt>?
        let status = bytes.withUnsafeBufferPointer { ldns_wire2pkt(&parsed, $0.baseAddress, $0.count) }
        guard status == LDNS_STATUS_OK, let packet = parsed else {
            throw .malformed(String(cString: ldns_get_errorstr_by_id(status)) + " (\(bytes.count) bytes)")
        }
        defer { ldns_pkt_free(packet) }
        id = ldns_pkt_id(packet)
        rcode = Self.owned(ldns_pkt_rcode2str(ldns_pkt_get_rcode(packet))) ?? "RCODE\(ldns_pkt_get_rcode(packet).rawValue)"
        opcode = Self.owned(ldns_pkt_opcode2str(ldns_pkt_get_opcode(packet))) ?? "OPCODE\(ldns_pkt_get_opcode(packet).rawValue)"
        flags = Flags(
            qr: ldns_pkt_qr(packet) != 0, aa: ldns_pkt_aa(packet) != 0, tc: ldns_pkt_tc(packet) != 0, rd: ldns_pkt_rd(packet) != 0,
            ra: ldns_pkt_ra(packet) != 0, ad: ldns_pkt_ad(packet) != 0, cd: ldns_pkt_cd(packet) != 0)
        question = Self.records(ldns_pkt_question(packet), question: true)
        answer = Self.records(ldns_pkt_answer(packet))
        authority = Self.records(ldns_pkt_authority(packet))
        additional = Self.records(ldns_pkt_additional(packet))
        ednsUDPSize = ldns_pkt_edns(packet) != 0 ? Int(ldns_pkt_edns_udp_size(packet)) : nil
        ednsDO = ldns_pkt_edns_do(packet) != 0
        size = bytes.count
    }

    static func records(_ list: UnsafeMutablePointer<ldns_rr_list>?, question: Bool = false) -> [Record] {
        guard let list else { return [] }
        return (0..<ldns_rr_list_rr_count(list)).compactMap { index in
            guard let record = ldns_rr_list_rr(list, index) else { return nil }
            let type = ldns_rr_get_type(record)
            let data = (0..<ldns_rr_rd_count(record)).compactMap { owned(ldns_rdf2str(ldns_rr_rdf(record, $0))) }.joined(separator: " ")
            return Record(
                name: owned(ldns_rdf2str(ldns_rr_owner(record))) ?? "", type: owned(ldns_rr_type2str(type)) ?? "TYPE\(type.rawValue)",
                recordClass: owned(ldns_rr_class2str(ldns_rr_get_class(record))) ?? "", ttl: question ? 0 : ldns_rr_ttl(record), data: data)
        }
    }

    /// A string ldns allocated, copied and freed.
    static func owned(_ text: UnsafeMutablePointer<CChar>?) -> String? {
        guard let text else { return nil }
        defer { free(text) }
        return String(cString: text)
    }
}
