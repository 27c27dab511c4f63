import Foundation
import PolicyHubCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The on-disk layout below the destination directory:
///
/// - `packs/<sha256>/package/`: one unpacked archive per digest. A digest directory only ever appears by an atomic
///   rename of a complete, verified extraction, so its existence means the pack is there in full.
/// - `config/<org>.<project>.<stack>.<pack>.json`: each pack's configuration for one stack.
/// - `.tmp-<uuid>/`: an extraction in progress, on the same filesystem so that the final rename is atomic.
struct PackCache {
    /// A staging directory or config file this old belongs to a run that was killed, not to one still working.
    static let abandonedAfter: TimeInterval = 3600

    let root: URL

    init(root: URL, now: Date = Date()) throws {
        self.root = root
        for directory in [packsDirectory, configDirectory] {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }
        removeAbandonedStaging(before: now.addingTimeInterval(-Self.abandonedAfter))
    }

    private var packsDirectory: URL { root.appendingPathComponent("packs", isDirectory: true) }
    private var configDirectory: URL { root.appendingPathComponent("config", isDirectory: true) }

    /// `packs/<digest>`; `digest` must already be checked to be lowercase hex.
    func packDirectory(digest: String) -> URL {
        packsDirectory.appendingPathComponent(digest, isDirectory: true)
    }

    func contains(digest: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: packDirectory(digest: digest).path, isDirectory: &isDirectory)
            && isDirectory.boolValue
    }

    /// Removes what killed runs left behind: `.tmp-*` entries last changed before `cutoff`. Younger ones may belong
    /// to a run in progress, and are kept. Best effort: a leftover is harmless, only untidy.
    private func removeAbandonedStaging(before cutoff: Date) {
        for directory in [root, configDirectory] {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            for name in entries where name.hasPrefix(".tmp-") {
                let entry = directory.appendingPathComponent(name)
                let modified = (try? FileManager.default.attributesOfItem(atPath: entry.path))?[.modificationDate]
                if let modified = modified as? Date, modified < cutoff {
                    try? FileManager.default.removeItem(at: entry)
                }
            }
        }
    }

    /// A fresh, empty directory to extract into.
    func makeStagingDirectory() throws -> URL {
        let staging = root.appendingPathComponent(".tmp-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: false)
        return staging
    }

    /// Moves a verified extraction into place with one rename. When another run got there first the existing
    /// directory is kept (same digest, same bytes) and the staging directory is removed.
    func install(_ staging: URL, digest: String) throws {
        let target = packDirectory(digest: digest)
        if rename(staging.path, target.path) == 0 { return }
        let code = errno
        try? FileManager.default.removeItem(at: staging)
        if (code == EEXIST || code == ENOTEMPTY) && contains(digest: digest) { return }
        throw FetchError("cannot move the pack into \(target.path): \(String(cString: strerror(code)))")
    }

    /// Writes `config` as a pretty JSON object, atomically (a temporary file renamed over the old one).
    func writeConfig(_ config: JSONValue, for stack: StackPath, pack name: String) throws -> URL {
        let parts = [stack.organization, stack.project, stack.stack, name]
        guard parts.allSatisfy({ !$0.contains("/") && !$0.contains("\0") }) else {
            throw FetchError("cannot name a config file after '\(stack)' and '\(name)'")
        }
        let file = configDirectory.appendingPathComponent(
            "\(stack.organization).\(stack.project).\(stack.stack).\(name).json")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(config)
        data.append(UInt8(ascii: "\n"))
        try AtomicFile.write(data, to: file)
        return file
    }
}
