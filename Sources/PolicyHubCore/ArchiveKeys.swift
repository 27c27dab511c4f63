import Foundation

/// Where archives live in blob storage.
public enum ArchiveKeys {
    /// A fresh key for each upload through this server, so bytes a completed version points at are never overwritten.
    public static func fresh(for version: PackVersion) -> String {
        "policypacks/\(version.packID)/\(version.id)/\(UUID().uuidString.lowercased()).tgz"
    }

    /// The one key clients upload a pending version's archive to when they write straight to storage: the same for
    /// every create of that version, so any upload link it handed out leads to a successful complete.
    public static func directUpload(for version: PackVersion) -> String {
        "policypacks/\(version.packID)/\(version.id)/upload.tgz"
    }
}
