/// An entry that passed the safety rules, with its path normalised into components below the archive root.
struct ValidatedEntry {
    enum Kind: Equatable {
        case regularFile
        case directory
        /// `target` is the link text exactly as it appears in the archive (already checked to stay inside).
        case symbolicLink(target: String)
        /// `target` is the normalised path, relative to the archive root, of the entry being linked to.
        case hardLink(target: [String])
    }

    /// Normalised path components; empty only for a directory entry naming the root itself ("./").
    var components: [String]
    var kind: Kind
    /// Permission bits from the header.
    var mode: UInt32
    /// Payload size (regular files only).
    var size: Int64

    var path: String { components.joined(separator: "/") }
}

/// The safety rules shared by the inspector and the extractor, applied to each entry header in order.
///
/// Rules:
/// - Names: a leading "./" (and any "." component or repeated "/") is ignored; absolute names, ".." components,
///   empty names, NUL characters, invalid UTF-8, names over 4096 bytes or 256 components are rejected
///   (``ArchiveProblem/unsafePath(_:)``), as is any entry below an earlier symbolic link, because writing it
///   would follow the link.
/// - Symbolic links: the target must be relative, and when resolved from the link's directory must stay inside the
///   archive root. ".." is only accepted as leading components ("../../lib/x", not "a/../b"), since a ".." after a
///   component that is itself a symbolic link would not resolve lexically. A link may not replace a directory that
///   earlier entries live in.
/// - Hard links: the target is a path relative to the archive root and follows the same rules as entry names; it
///   may not be (or lie below) a symbolic link.
/// - Every entry counts towards `maxEntries`; regular file sizes count towards `maxUnpackedBytes` as soon as the
///   header announces them.
struct EntryPolicy {
    static let maxPathBytes = 4096
    static let maxPathComponents = 256
    static let manifestComponents = ["package", "PulumiPolicy.yaml"]

    let limits: ArchiveLimits
    private(set) var entryCount = 0
    private(set) var unpackedBytes: Int64 = 0
    private(set) var sawManifest = false
    /// Hashes of every directory known to exist: explicit directory entries and the parents of all entries.
    private var directories: Set<Int> = []
    /// Hashes of the paths of symbolic links seen so far.
    private var symbolicLinks: Set<Int> = []

    init(limits: ArchiveLimits) {
        self.limits = limits
    }

    var summary: PackArchiveSummary {
        PackArchiveSummary(entryCount: entryCount, unpackedBytes: unpackedBytes)
    }

    mutating func admit(_ header: TarEntryHeader) throws(ArchiveProblem) -> ValidatedEntry {
        entryCount += 1
        guard entryCount <= limits.maxEntries else {
            throw .tooManyEntries(limit: limits.maxEntries)
        }
        let rawName = String(decoding: header.name, as: UTF8.self)
        if case .unsupported = header.type {
            throw .unsupportedEntry(rawName)
        }
        guard let components = Self.normalize(header.name) else {
            throw .unsafePath(rawName)
        }
        if components.isEmpty && header.type != .directory {
            throw .unsafePath(rawName)
        }
        // Hashes of each prefix: prefixes[i] identifies components[0...i].
        let prefixes = Self.prefixHashes(components)
        if prefixes.dropLast().contains(where: symbolicLinks.contains) {
            throw .unsafePath(rawName)
        }

        let kind: ValidatedEntry.Kind
        switch header.type {
        case .regularFile:
            let (total, overflow) = unpackedBytes.addingReportingOverflow(header.size)
            guard !overflow, total <= limits.maxUnpackedBytes else {
                throw .tooLarge(limit: limits.maxUnpackedBytes)
            }
            unpackedBytes = total
            kind = .regularFile
        case .directory:
            kind = .directory
        case .symbolicLink:
            guard let target = Self.symbolicLinkTarget(header.linkName, directoryDepth: components.count - 1),
                let last = prefixes.last, !directories.contains(last)
            else { throw .unsafeLink(rawName) }
            kind = .symbolicLink(target: target)
        case .hardLink:
            guard let target = Self.normalize(header.linkName), !target.isEmpty,
                !Self.prefixHashes(target).contains(where: symbolicLinks.contains),
                let last = prefixes.last, !directories.contains(last)
            else { throw .unsafeLink(rawName) }
            kind = .hardLink(target: target)
        case .unsupported:
            throw .unsupportedEntry(rawName)
        }

        for prefix in prefixes.dropLast() { directories.insert(prefix) }
        if let last = prefixes.last {
            if kind == .directory { directories.insert(last) }
            if case .symbolicLink = kind { symbolicLinks.insert(last) }
        }
        if components == Self.manifestComponents {
            // A later entry with the same name replaces the manifest when extracted.
            sawManifest = kind == .regularFile
        }
        return ValidatedEntry(components: components, kind: kind, mode: header.mode, size: header.size)
    }

    /// Splits an entry name into components, dropping empty and "." components. Returns nil for names that are
    /// empty, absolute, contain "..", NUL or invalid UTF-8, or are too long or deep.
    static func normalize(_ raw: [UInt8]) -> [String]? {
        guard !raw.isEmpty, raw.count <= maxPathBytes, raw.first != UInt8(ascii: "/"), !raw.contains(0),
            let name = String(validating: raw, as: UTF8.self)
        else { return nil }
        var components: [String] = []
        for part in name.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." { return nil }
            components.append(String(part))
        }
        guard components.count <= maxPathComponents else { return nil }
        return components
    }

    /// Checks a symbolic link target against the link's directory depth; returns the target text if it is relative,
    /// only uses ".." as leading components, and does not climb above the archive root.
    static func symbolicLinkTarget(_ raw: [UInt8], directoryDepth: Int) -> String? {
        guard !raw.isEmpty, raw.count <= maxPathBytes, raw.first != UInt8(ascii: "/"), !raw.contains(0),
            let target = String(validating: raw, as: UTF8.self)
        else { return nil }
        var climbs = 0
        var descended = false
        for part in target.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".":
                continue
            case "..":
                if descended { return nil }
                climbs += 1
            default:
                descended = true
            }
        }
        return climbs <= directoryDepth ? target : nil
    }

    /// 64-bit hashes identifying each prefix of a path. Collisions are astronomically unlikely and could only make
    /// the policy reject an archive, never accept an unsafe one.
    static func prefixHashes(_ components: [String]) -> [Int] {
        var hasher = Hasher()
        var hashes: [Int] = []
        hashes.reserveCapacity(components.count)
        for component in components {
            hasher.combine(component)
            let snapshot = hasher
            hashes.append(snapshot.finalize())
        }
        return hashes
    }
}
