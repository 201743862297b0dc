import FoundationEssentials

extension Date {
    /// Now, in whole milliseconds since 1970 (the unit of every `*_ms` field).
    public static var nowMilliseconds: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
