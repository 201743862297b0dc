import Glibc
import IMNCore

/// The `console` exporter (`OTEL_<SIGNAL>_EXPORTER=console`): each item of an export as one JSON
/// line on standard output, decoded from the very bytes the `otlp` exporter would send.
enum OTLPConsole {
    static func write(_ signal: OTLPSignal, _ body: [UInt8], to descriptor: Int32) {
        let lines: String
        do {
            lines = try OTLPItem.decode(signal, body).map { $0.json.text + "\n" }.joined()
        } catch {
            lines = #"{"signal":"\#(signal.rawValue)","error":"cannot decode the export: \#(error)"}"# + "\n"
        }
        // Straight to the file descriptor, whole, so lines of concurrent exports do not interleave.
        var bytes = Array(lines.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { return }
            bytes = bytes.dropFirst(written)
        }
    }
}
