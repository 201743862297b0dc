// swift-tools-version:6.1
import PackageDescription

// Targets follow DESIGN.md §3: C libraries are quarantined in system-library targets, each
// imported by exactly one Swift module; `imn` only wires things together.
let package = Package(
    name: "imn",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "imn", targets: ["imn"]),
        .library(name: "RedisClient", targets: ["RedisClient"]),
        .library(name: "NATSClient", targets: ["NATSClient"]),
        .library(name: "IMNCore", targets: ["IMNCore"]),
        .library(name: "DBOS", targets: ["DBOS"]),
        .library(name: "Agent", targets: ["Agent"]),
        .library(name: "IMNTestSupport", targets: ["IMNTestSupport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.30.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.0.0"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.0.0"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.0.0"),
    ],
    targets: [
        // MARK: C libraries (Debian -dev packages)
        .systemLibrary(
            name: "CHiredis", pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(
            name: "CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(
            name: "CNats", pkgConfig: "libnats",
            providers: [.apt(["libnats-dev"])]),
        .systemLibrary(
            name: "CProtobufC", pkgConfig: "libprotobuf-c",
            providers: [.apt(["libprotobuf-c-dev"])]),

        // MARK: Libraries
        .target(
            name: "RedisClient",
            dependencies: [
                "CHiredis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]),
        .target(
            name: "NATSClient",
            dependencies: [
                "CNats", "IMNCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]),
        .target(name: "IMNCore"),
        .target(
            name: "Agent",
            dependencies: [
                "NATSClient", "IMNCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]),
        .target(
            name: "Server",
            dependencies: [
                "DBOS", "NATSClient", "IMNCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
            ]),
        .target(
            name: "DBOS",
            dependencies: [
                "RedisClient", "IMNCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),

        // MARK: The executable
        .executableTarget(
            name: "imn",
            dependencies: [
                "IMNCore", "RedisClient", "NATSClient", "DBOS", "Agent", "Server",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),

        // MARK: Tests
        .target(
            name: "IMNTestSupport",
            dependencies: [.product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "RedisClientTests",
            dependencies: ["RedisClient", "IMNTestSupport"]),
        .testTarget(
            name: "NATSClientTests",
            dependencies: ["NATSClient", "IMNTestSupport"]),
        .testTarget(
            name: "AgentTests",
            dependencies: ["Agent", "NATSClient", "IMNTestSupport"]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["Server", "Agent", "DBOS", "RedisClient", "NATSClient", "IMNTestSupport"]),
        .testTarget(
            name: "IMNCoreTests",
            dependencies: ["IMNCore"]),
        .testTarget(
            name: "DBOSTests",
            dependencies: ["DBOS", "RedisClient", "IMNTestSupport"]),
        .testTarget(
            name: "CLibraryTests",
            dependencies: ["CCurl", "CProtobufC"]),
    ],
    swiftLanguageModes: [.v6]
)
