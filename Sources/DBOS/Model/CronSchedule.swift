import Foundation

/// A five-field cron expression (minute hour day-of-month month day-of-week), evaluated in UTC.
/// Fields take `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, and lists `a,b`; day of week
/// is 0–7 with 0 and 7 both Sunday. As in Vixie cron, when both day fields are restricted a day
/// matching either one matches.
public struct CronSchedule: Sendable, Hashable {
    let minutes: Set<Int>
    let hours: Set<Int>
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    let daysOfWeek: Set<Int>
    let dayOfMonthRestricted: Bool
    let dayOfWeekRestricted: Bool
    public let expression: String

    public init(_ expression: String) throws(DBOSError) {
        let fields = expression.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard fields.count == 5 else {
            throw DBOSError(.invalidArgument, "cron needs five fields (minute hour day-of-month month day-of-week), got \"\(expression)\"")
        }
        self.expression = expression
        minutes = try Self.parse(fields[0], 0...59, "minute")
        hours = try Self.parse(fields[1], 0...23, "hour")
        daysOfMonth = try Self.parse(fields[2], 1...31, "day of month")
        months = try Self.parse(fields[3], 1...12, "month")
        daysOfWeek = Set(try Self.parse(fields[4], 0...7, "day of week").map { $0 % 7 })
        dayOfMonthRestricted = fields[2] != "*"
        dayOfWeekRestricted = fields[4] != "*"
    }

    /// The first matching minute strictly after `milliseconds` (ms since 1970), or nil when none
    /// comes within five years (e.g. 30 February).
    public func next(after milliseconds: Int64) -> Int64? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let start = Date(timeIntervalSince1970: Double(milliseconds / 60_000 + 1) * 60)
        var components = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: start)
        guard var year = components.year, var month = components.month, var day = components.day,
            var hour = components.hour, var minute = components.minute
        else { return nil }
        let lastYear = year + 5
        while year <= lastYear {
            if !months.contains(month) {
                (month, day, hour, minute) = (month + 1, 1, 0, 0)
                if month > 12 { (year, month) = (year + 1, 1) }
                continue
            }
            let daysInMonth = Self.days(in: month, year: year)
            if day > daysInMonth {
                (month, day, hour, minute) = (month + 1, 1, 0, 0)
                if month > 12 { (year, month) = (year + 1, 1) }
                continue
            }
            if !matchesDay(year: year, month: month, day: day) {
                (day, hour, minute) = (day + 1, 0, 0)
                continue
            }
            guard let matchingHour = hours.filter({ $0 >= hour }).min() else {
                (day, hour, minute) = (day + 1, 0, 0)
                continue
            }
            if matchingHour != hour { (hour, minute) = (matchingHour, 0) }
            guard let matchingMinute = minutes.filter({ $0 >= minute }).min() else {
                (hour, minute) = (hour + 1, 0)
                if hour > 23 { (day, hour) = (day + 1, 0) }
                continue
            }
            components = DateComponents(year: year, month: month, day: day, hour: hour, minute: matchingMinute)
            return calendar.date(from: components).map { Int64($0.timeIntervalSince1970 * 1000) }
        }
        return nil
    }

    private func matchesDay(year: Int, month: Int, day: Int) -> Bool {
        let weekday = Self.weekday(year: year, month: month, day: day)
        let byMonth = daysOfMonth.contains(day)
        let byWeek = daysOfWeek.contains(weekday)
        switch (dayOfMonthRestricted, dayOfWeekRestricted) {
        case (true, true): return byMonth || byWeek
        case (true, false): return byMonth
        case (false, true): return byWeek
        case (false, false): return true
        }
    }

    /// 0 = Sunday (Sakamoto's method).
    static func weekday(year: Int, month: Int, day: Int) -> Int {
        let offsets = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4]
        let y = month < 3 ? year - 1 : year
        return (y + y / 4 - y / 100 + y / 400 + offsets[month - 1] + day) % 7
    }

    static func days(in month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    private static func parse(_ field: String, _ bounds: ClosedRange<Int>, _ name: String) throws(DBOSError) -> Set<Int> {
        var values = Set<Int>()
        for part in field.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { throw DBOSError(.invalidArgument, "bad \(name) in cron: \(part)") }
            var step = 1
            if pieces.count == 2 {
                guard let parsed = Int(pieces[1]), parsed > 0 else { throw DBOSError(.invalidArgument, "bad step in cron \(name): \(part)") }
                step = parsed
            }
            var range: ClosedRange<Int>
            if pieces[0] == "*" {
                range = bounds
            } else if let dash = pieces[0].firstIndex(of: "-") {
                guard let low = Int(pieces[0][..<dash]), let high = Int(pieces[0][pieces[0].index(after: dash)...]), low <= high else {
                    throw DBOSError(.invalidArgument, "bad range in cron \(name): \(part)")
                }
                range = low...high
            } else {
                guard let value = Int(pieces[0]) else { throw DBOSError(.invalidArgument, "bad \(name) in cron: \(part)") }
                range = value...(pieces.count == 2 ? bounds.upperBound : value)
            }
            guard bounds.contains(range.lowerBound), bounds.contains(range.upperBound) else {
                throw DBOSError(.invalidArgument, "cron \(name) \(part) is outside \(bounds.lowerBound)–\(bounds.upperBound)")
            }
            values.formUnion(stride(from: range.lowerBound, through: range.upperBound, by: step))
        }
        return values
    }
}
