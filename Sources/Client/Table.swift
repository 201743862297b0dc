/// Text laid out in aligned columns: numbers right-aligned, the rest left; cells may carry a
/// colour, written only when `colour` is on (a terminal, no NO_COLOR).
public struct Table {
    public enum Colour: String, Sendable {
        case green = "32"
        case red = "31"
        case yellow = "33"
        case dim = "2"
        case bold = "1"
    }

    public struct Cell {
        var text: String
        var colour: Colour?
        var rightAligned: Bool

        public init(_ text: String, colour: Colour? = nil, right: Bool = false) {
            self.text = text
            self.colour = colour
            rightAligned = right
        }
    }

    var header: [String]
    var rows: [[Cell]] = []

    public init(header: [String]) { self.header = header }

    public mutating func add(_ row: [Cell]) { rows.append(row) }

    public func render(colour: Bool) -> String {
        let columns = max(header.count, rows.map(\.count).max() ?? 0)
        var widths = Array(repeating: 0, count: columns)
        for row in [header.map { Cell($0) }] + rows {
            // The last cell of a short row (an error in place of the figures) runs on, widening nothing.
            for (index, cell) in row.enumerated() where !(index == row.count - 1 && row.count < columns) {
                widths[index] = max(widths[index], cell.text.count)
            }
        }
        func line(_ cells: [Cell], bold: Bool) -> String {
            var parts: [String] = []
            for (index, cell) in cells.enumerated() {
                let padding = String(repeating: " ", count: max(0, widths[index] - cell.text.count))
                let last = index == cells.count - 1
                var text = cell.rightAligned ? padding + cell.text : cell.text + (last ? "" : padding)
                if colour, let paint = bold ? .bold : cell.colour { text = "\u{1B}[\(paint.rawValue)m\(text)\u{1B}[0m" }
                parts.append(text)
            }
            return parts.joined(separator: "  ")
        }
        return ([line(header.map { Cell($0) }, bold: true)] + rows.map { line($0, bold: false) }).joined(separator: "\n")
    }
}

/// How output should look: colours only on a terminal (and never with NO_COLOR set).
public struct OutputStyle: Sendable {
    public var colour: Bool
    /// Standard error is a terminal: progress lines may overwrite themselves.
    public var progress: Bool

    public init(colour: Bool, progress: Bool) {
        self.colour = colour
        self.progress = progress
    }
}
