// swift-tools-version:6.1
import PackageDescription

// Benchmarks live apart from the product so that their dependencies and release builds never
// slow down the main build or the tests. `./run` builds in release mode and prints figures.
let package = Package(
    name: "IMNBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "imn", path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        // Only here, to compare our exporter with it (issue 6); never a dependency of IMN itself.
        .package(url: "https://github.com/swift-otel/swift-otel", exact: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.1.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.0"),
    ],
    targets: [
        .target(name: "CMallocCounter"),
        .executableTarget(
            name: "imn-bench",
            dependencies: [
                .product(name: "RedisClient", package: "imn"),
                .product(name: "NATSClient", package: "imn"),
                .product(name: "IMNTestSupport", package: "imn"),
                .product(name: "DBOS", package: "imn"),
                .product(name: "Agent", package: "imn"),
                .product(name: "DNSClient", package: "imn"),
                .product(name: "IMNCore", package: "imn"),
                .product(name: "OTLP", package: "imn"),
                .product(name: "Archive", package: "imn"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                "CMallocCounter",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ])
    ],
    swiftLanguageModes: [.v6]
)
