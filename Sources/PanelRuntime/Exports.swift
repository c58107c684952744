// The front ends' one import: the engine and the types its API speaks in (listings, documents, requests,
// the router's decisions), as Vapor exports NIO's. The stores and the wiring stay behind `PanelRuntime`.
@_exported import ModelBackends
@_exported import ModelRouter
@_exported import PanelEngine
@_exported import PanelKit
