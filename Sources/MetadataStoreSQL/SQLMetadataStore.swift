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

    /// A version 7 UUID: its first 48 bits are the Unix time in milliseconds, so the rows one report inserts
    /// (thousands of violations and issues) sit together at the end of the primary-key index instead of on
    /// thousands of random pages of it.
    static func newID() -> String {
        var bytes = UUID().uuid
        let milliseconds = UInt64(max(0, Date().timeIntervalSince1970 * 1_000))
        withUnsafeMutableBytes(of: &bytes) { raw in
            for index in 0..<6 { raw[index] = UInt8(truncatingIfNeeded: milliseconds >> (8 * (5 - index))) }
            raw[6] = raw[6] & 0x0F | 0x70  // version 7; the variant bits stay those of the random UUID
        }
        return UUID(uuid: bytes).uuidString.lowercased()
    }
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
