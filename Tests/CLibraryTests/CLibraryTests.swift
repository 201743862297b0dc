import CCurl
import CProtobufC
import Testing

/// The system-library targets whose Swift users arrive later (the OTLP exporter) still have to
/// compile and link against Debian's packages.
@Suite struct CLibraryTests {
    @Test func curlLinks() {
        let version = String(cString: curl_version())
        #expect(version.hasPrefix("libcurl/"))
    }

    @Test func protobufCLinks() {
        let version = String(cString: protobuf_c_version())
        #expect(version.hasPrefix("1."))
    }
}
