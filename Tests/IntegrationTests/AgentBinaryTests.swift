import Foundation
import IMNTestSupport
import Testing

/// `imn-agent`, the agent on its own: it must stay free of full Foundation and ICU, the point of
/// having it (its idle RSS is a benchmark goal; see Benchmarks/README.md).
@Suite(.enabled(if: ServerBinaries.imnAgent != nil, "imn-agent is not built: run swift build"))
struct AgentBinaryTests {
    @Test func helpNamesTheAgentsOptions() async throws {
        let (status, output) = try await ConfigTests.run(try #require(ServerBinaries.imnAgent), ["--help"])
        #expect(status == 0)
        #expect(output.contains("USAGE: imn-agent <options>"))
        #expect(output.contains("--name <name>") && output.contains("IMN_AGENT_NAME"))
        #expect(output.contains("--allow-targets"))
        #expect(output.contains("--country <country>"))
        #expect(output.contains("--location-file <location-file>"))
    }

    @Test(.enabled(if: ServerBinaries.find("readelf") != nil, "readelf (binutils) is needed"))
    func linksFoundationEssentialsOnly() async throws {
        let (status, output) = try await ConfigTests.run(
            try #require(ServerBinaries.find("readelf")), ["-d", try #require(ServerBinaries.imnAgent)])
        #expect(status == 0)
        let needed = output.split(separator: "\n").filter { $0.contains("(NEEDED)") }.map(String.init)
        #expect(needed.contains { $0.contains("libFoundationEssentials.so") } || !needed.contains { $0.contains("libswiftCore.so") })
        for library in ["libFoundation.so", "libFoundationInternationalization.so", "lib_FoundationICU.so", "libFoundationNetworking.so"] {
            #expect(!needed.contains { $0.contains("[\(library)]") }, "imn-agent links \(library)")
        }
    }
}
