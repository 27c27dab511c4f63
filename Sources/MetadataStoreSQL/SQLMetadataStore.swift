import Foundation
import PolicyHubCore
import SQLKit

/// The metadata store on SQLKit. The SQL is written once; `SQLBackend` supplies the few dialect differences.
public struct SQLMetadataStore: MetadataStore {
    let backend: any SQLBackend

    /// Opens the store and brings its schema up to date.
    public static func open(_ backend: any SQLBackend) async throws -> SQLMetadataStore {
        try await Migrations.run(on: backend)
        return SQLMetadataStore(backend: backend)
    }

    public func ping() async throws {
        try await backend.withConnection { try await $0.raw("SELECT 1 AS one").run() }
    }

    public func shutdown() async throws {
        try await backend.shutdown()
    }

    static func newID() -> String { UUID().uuidString.lowercased() }
}

extension SQLRow {
    func string(_ column: String) throws -> String { try decode(column: column, as: String.self) }
    func optionalString(_ column: String) throws -> String? { try decode(column: column, as: String?.self) }
    func int(_ column: String) throws -> Int64 { try decode(column: column, as: Int64.self) }
    func optionalInt(_ column: String) throws -> Int64? { try decode(column: column, as: Int64?.self) }
}

/// Stored data this code could not have written: an operator's hand edit, or a bug. Never the client's fault.
struct StoreInconsistency: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) { self.description = description }
}
