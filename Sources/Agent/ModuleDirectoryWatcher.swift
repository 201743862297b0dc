import FoundationEssentials
import IMNCore
import Logging

/// Watches a folder of module manifests (`*.json`): a new manifest is loaded, a changed one
/// reloaded, a removed one unloaded, without restarting the agent. Looks once a second (and
/// when asked to), which also works on network and overlay file systems.
final class ModuleDirectoryWatcher: Sendable {
    let directory: URL
    let modules: ModuleHost
    let logger: Logger
    private let wake = WakeSignal()

    init(directory: URL, modules: ModuleHost, logger: Logger) {
        self.directory = directory
        self.modules = modules
        self.logger = logger
    }

    /// Look again now (a control `reload`).
    func rescan() { wake.signal() }

    func run() async {
        var loaded: [String: (file: String, data: Data)] = [:]  // module name → its manifest
        var complained: Set<String> = []
        while !Task.isCancelled {
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
            var seen: Set<String> = []
            for file in files {
                guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(file).path) else { continue }
                do {
                    let manifest = try JSONDecoder().decode(ExternalModule.Manifest.self, from: data)
                    seen.insert(manifest.name)
                    if loaded[manifest.name]?.data == data { continue }
                    if modules.specs.contains(where: { $0.name == manifest.name && !$0.external }) {
                        throw AgentError("\(manifest.name) is a built-in module")
                    }
                    modules.install(try ExternalModule(manifest))
                    logger.info(
                        loaded[manifest.name] == nil ? "external module loaded" : "external module reloaded",
                        metadata: ["module": "\(manifest.name)", "file": "\(file)"])
                    loaded[manifest.name] = (file, data)
                    complained.remove(file)
                } catch {
                    if !complained.contains(file) {
                        logger.warning("manifest not loaded", metadata: ["file": "\(file)", "error": "\(error)"])
                        complained.insert(file)
                    }
                    // A broken edit of a loaded manifest keeps the last good version.
                    if let name = loaded.first(where: { $0.value.file == file })?.key { seen.insert(name) }
                }
            }
            for name in loaded.keys where !seen.contains(name) {
                modules.remove(name)
                loaded.removeValue(forKey: name)
                logger.info("external module unloaded", metadata: ["module": "\(name)"])
            }
            await wake.wait(timeout: .seconds(1))
        }
    }
}
