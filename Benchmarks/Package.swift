// swift-tools-version: 6.1
import PackageDescription

// The benchmark package is separate from the root package so that the library never depends on
// SwiftNIO: only this package pulls in PostgresNIO (for the side-by-side comparison) and
// package-benchmark (for the codec microbenchmarks).

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

// A path dependency's identity is the name of its folder (the repository may be checked out as
// "tusk", "main", "wt-bench", ...), so derive it instead of hard-coding it.
let rootPackage = String(Context.packageDirectory.split(separator: "/").dropLast().last ?? "tusk").lowercased()

let package = Package(
    name: "TuskBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/vapor/postgres-nio.git", "1.33.0"..<"1.34.0"),
        .package(url: "https://github.com/ordo-one/package-benchmark.git", from: "1.38.0", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
    ],
    targets: [
        .executableTarget(
            name: "tusk-bench",
            dependencies: [
                .product(name: "PGClient", package: rootPackage),
                .product(name: "PGPoolCore", package: rootPackage),
                .product(name: "PGTestSupport", package: rootPackage),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "tusk-store-bench",
            dependencies: [
                .product(name: "PGClient", package: rootPackage),
                .product(name: "PGPoolCore", package: rootPackage),
                .product(name: "PGRateLimiter", package: rootPackage),
                .product(name: "PGStoreSupport", package: rootPackage),
                .product(name: "PGTestSupport", package: rootPackage),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "CodecBenchmarks",
            dependencies: [
                .product(name: "PGWire", package: rootPackage),
                .product(name: "Benchmark", package: "package-benchmark"),
            ],
            path: "Benchmarks/CodecBenchmarks",
            swiftSettings: strict,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
    ]
)
