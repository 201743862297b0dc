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
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
    ],
    targets: [
        .executableTarget(
            name: "imn-bench",
            dependencies: [
                .product(name: "RedisClient", package: "imn"),
                .product(name: "NATSClient", package: "imn"),
                .product(name: "IMNTestSupport", package: "imn"),
                .product(name: "DBOS", package: "imn"),
                .product(name: "Agent", package: "imn"),
                .product(name: "IMNCore", package: "imn"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ])
    ],
    swiftLanguageModes: [.v6]
)
