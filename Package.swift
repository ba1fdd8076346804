// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "Tusk",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "PGClient", targets: ["PGClient"]),
        .library(name: "PGWire", targets: ["PGWire"]),
        .library(name: "PGPoolCore", targets: ["PGPoolCore"]),
        .library(name: "PGTestSupport", targets: ["PGTestSupport"]),
        .library(name: "PGStoreSupport", targets: ["PGStoreSupport"]),
        .library(name: "PGRateLimiter", targets: ["PGRateLimiter"]),
        .library(name: "PGCircuitBreaker", targets: ["PGCircuitBreaker"]),
        .library(name: "PGWorkQueue", targets: ["PGWorkQueue"]),
        .library(name: "PGActorStateStore", targets: ["PGActorStateStore"]),
        .executable(name: "tusk", targets: ["tusk"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CTuskOpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(name: "CTuskShims"),
        .target(name: "PGCrypto", dependencies: ["CTuskOpenSSL"], swiftSettings: strict),
        .target(name: "PGWire", dependencies: ["PGCrypto"], swiftSettings: strict),
        .target(name: "PGTransport", dependencies: ["CTuskShims", "CTuskOpenSSL"], swiftSettings: strict),
        .target(name: "PGPoolCore", swiftSettings: strict),
        .target(
            name: "PGClient",
            dependencies: [
                "PGWire", "PGCrypto", "PGTransport", "PGPoolCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "PGTestSupport",
            dependencies: ["PGClient", "PGWire", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(
            name: "PGStoreSupport",
            dependencies: [
                "PGClient", "PGWire", "PGCrypto",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "PGRateLimiter",
            dependencies: [
                "PGStoreSupport", "PGClient", "PGPoolCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "PGCircuitBreaker",
            dependencies: [
                "PGStoreSupport", "PGClient", "PGWire", "PGPoolCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "PGWorkQueue",
            dependencies: [
                "PGStoreSupport", "PGClient", "PGPoolCore", "PGWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "tusk",
            dependencies: [
                "PGClient", "PGPoolCore", "PGTransport", "PGTestSupport", "PGStoreSupport", "PGWire", "PGRateLimiter", "PGCircuitBreaker", "PGWorkQueue", "PGActorStateStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "PGActorStateStore",
            dependencies: [
                "PGStoreSupport", "PGClient", "PGPoolCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "tusk-test-worker",
            dependencies: ["PGClient", "PGTestSupport", "PGStoreSupport", "PGRateLimiter", "PGCircuitBreaker", "PGWorkQueue", "PGActorStateStore"],
            swiftSettings: strict
        ),
        .testTarget(name: "PGCryptoTests", dependencies: ["PGCrypto"], swiftSettings: strict),
        .testTarget(name: "PGWireTests", dependencies: ["PGWire", "PGCrypto"], swiftSettings: strict),
        .testTarget(name: "PGPoolCoreTests", dependencies: ["PGPoolCore"], swiftSettings: strict),
        .testTarget(name: "PGTransportTests", dependencies: ["PGTransport"], swiftSettings: strict),
        .testTarget(
            name: "PGClientTests",
            dependencies: ["PGClient", "PGTestSupport", "PGWire", "PGTransport", "PGPoolCore", .product(name: "Logging", package: "swift-log"),
                           .product(name: "Tracing", package: "swift-distributed-tracing"),
                           .product(name: "InMemoryTracing", package: "swift-distributed-tracing")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PGRateLimiterTests",
            // The worker executable is built first: the multi-process tests run it.
            dependencies: ["PGRateLimiter", "PGStoreSupport", "PGClient", "PGTestSupport", "tusk-test-worker"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PGCircuitBreakerTests",
            // The worker executable is built first: the multi-process tests run it.
            dependencies: ["PGCircuitBreaker", "PGStoreSupport", "PGClient", "PGTestSupport", "tusk-test-worker"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PGWorkQueueTests",
            // The worker executable is built first: the multi-process tests run it.
            dependencies: ["PGWorkQueue", "PGStoreSupport", "PGClient", "PGTestSupport", "tusk-test-worker"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PGActorStateStoreTests",
            // The worker executable is built first: the multi-process tests run it.
            dependencies: ["PGActorStateStore", "PGStoreSupport", "PGClient", "PGTestSupport", "tusk-test-worker"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PGStoreSupportTests",
            dependencies: [
                "PGStoreSupport", "PGClient", "PGWire", "PGTestSupport",
                // Built first so tests can run `tusk` as an OS process (two migrators at once, CLI failure lines).
                "tusk",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: strict
        ),
    ]
)
