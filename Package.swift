// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "panel",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "panel", targets: ["panel"]),
        .executable(name: "panel-mock-provider", targets: ["panel-mock-provider"]),
        .library(name: "PanelKit", targets: ["PanelKit"]),
        .library(name: "ModelBackends", targets: ["ModelBackends"]),
        .library(name: "MockProvider", targets: ["MockProvider"]),
        .library(name: "PanelStore", targets: ["PanelStore"]),
        .library(name: "ModelRouter", targets: ["ModelRouter"]),
        .library(name: "PanelEngine", targets: ["PanelEngine"]),
        .library(name: "PanelPostgres", targets: ["PanelPostgres"]),
        .library(name: "PanelServer", targets: ["PanelServer"]),
        .library(name: "PanelRuntime", targets: ["PanelRuntime"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // The JSON API's types and server stubs, generated from openapi.yaml at build time.
        .package(url: "https://github.com/apple/swift-openapi-generator", from: "1.14.3"),
        .package(url: "https://github.com/apple/swift-openapi-runtime", from: "1.13.4"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird", from: "2.1.0"),
        // Traces: the API in the libraries, the OTLP/HTTP exporter in the executable (off unless the
        // standard OTEL_* variables turn it on; gRPC left out, which keeps its build away).
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        .package(url: "https://github.com/swift-otel/swift-otel", from: "1.6.0", traits: ["OTLPHTTP"]),
        // Test-only: the reference Mustache implementation our template engine is checked against.
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        // Test-only: property-based tests of the answer parser.
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    ],
    targets: [
        .target(
            name: "ModelBackends",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        // snprintf for one double, which Swift cannot call directly (``CFormat``).
        .target(name: "CPanelFormat"),
        .target(
            name: "PanelKit",
            dependencies: [
                "ModelBackends",
                "CPanelFormat",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "PanelEngine",
            dependencies: [
                "PanelKit",
                "ModelBackends",
                "ModelRouter",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        .target(name: "ModelRouter", dependencies: ["ModelBackends"]),
        .target(
            name: "PanelStore",
            dependencies: [
                "ModelBackends",
                "PanelEngine",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // The PostgreSQL store (`--store postgres://…`): the engine's store protocol on postgres-nio.
        .target(
            name: "PanelPostgres",
            dependencies: [
                "ModelBackends",
                "PanelEngine",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The team server (`panel serve`): the JSON API, its event streams, the web page, tokens and metrics.
        .target(
            name: "PanelServer",
            dependencies: [
                "PanelEngine",
                "PanelKit",
                "ModelBackends",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
            ],
            plugins: [.plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator")]
        ),
        .target(
            name: "MockProvider",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The composition root: the one way in to a ready engine (configuration, store, backends,
        // settings, checks) for every front end; it re-exports the engine's API.
        .target(
            name: "PanelRuntime",
            dependencies: [
                "PanelEngine", "PanelKit", "ModelBackends", "ModelRouter", "PanelStore", "PanelPostgres",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "panel",
            dependencies: [
                "PanelRuntime",
                "PanelServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "panel-bench",
            dependencies: [
                "ModelRouter",
                "PanelKit",
                "ModelBackends",
                "MockProvider",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Fuzzing harnesses (scripts/fuzz.sh builds them with libFuzzer; built plainly, a replayer).
        .executableTarget(name: "panel-fuzz", dependencies: ["ModelBackends", "PanelKit", "PanelEngine"]),
        .executableTarget(
            name: "panel-mock-provider",
            dependencies: [
                "MockProvider",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "ModelBackendsTests",
            dependencies: [
                "ModelBackends", "MockProvider", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]),
        .testTarget(
            name: "PanelKitTests",
            dependencies: [
                "PanelKit", "ModelBackends", "MockProvider", .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            resources: []
        ),
        .testTarget(
            name: "PanelEngineTests",
            dependencies: ["PanelEngine", "PanelKit", "ModelBackends", "ModelRouter", "MockProvider"]),
        .testTarget(name: "ModelRouterTests", dependencies: ["ModelRouter", "ModelBackends", "MockProvider"]),
        .testTarget(
            name: "PanelStoreTests",
            dependencies: [
                "PanelStore", "PanelPostgres", "PanelEngine", "ModelBackends", "MockProvider", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]),
        .testTarget(
            name: "PanelServerTests",
            dependencies: [
                "PanelServer", "PanelEngine", "PanelKit", "PanelStore", "ModelBackends", "MockProvider",
                .product(name: "HummingbirdTesting", package: "hummingbird"), .product(name: "Yams", package: "Yams"),
                .product(name: "HTTPTypes", package: "swift-http-types"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "PanelCLITests",
            dependencies: [
                "MockProvider", "ModelBackends", "PanelStore", "PanelEngine", "PanelPostgres", "PanelRuntime",
                .product(name: "NIOPosix", package: "swift-nio"),
            ]),
    ]
)

for target in package.targets {
    var settings = target.swiftSettings ?? []
    settings.append(contentsOf: [
        .swiftLanguageMode(.v6),
        .enableUpcomingFeature("ExistentialAny"),
        .enableUpcomingFeature("MemberImportVisibility"),
        .enableUpcomingFeature("InternalImportsByDefault"),
    ])
    target.swiftSettings = settings
}
