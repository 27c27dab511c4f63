/// Limits applied while validating or extracting a policy pack archive.
public struct ArchiveLimits: Sendable, Equatable {
    /// The maximum number of entries (files, directories and links) the archive may contain.
    public var maxEntries: Int
    /// The maximum sum of the sizes of the regular files in the archive, after decompression.
    public var maxUnpackedBytes: Int64

    public init(maxEntries: Int = 10_000, maxUnpackedBytes: Int64 = 1 << 30) {
        self.maxEntries = maxEntries
        self.maxUnpackedBytes = maxUnpackedBytes
    }
}

/// Why an archive was rejected; `description` is a short human sentence used verbatim in API error messages,
/// e.g. "the archive is not gzip-compressed", "entry '../x' escapes the package directory".
///
/// The `String` payload of `unsafePath`, `unsafeLink` and `unsupportedEntry` is the entry's name as found in the
/// archive; the payload of `corruptCompression` and `corruptTar` is a short detail phrase.
public enum ArchiveProblem: Error, Equatable, Sendable, CustomStringConvertible {
    /// The first bytes are not the gzip magic number 1f 8b.
    case notGzip
    /// The gzip stream is corrupt or truncated.
    case corruptCompression(String)
    /// The decompressed data is not a well-formed tar archive.
    case corruptTar(String)
    /// An entry name is absolute, contains a ".." component, is empty, contains NUL, or lies below a symbolic link.
    case unsafePath(String)
    /// A symbolic or hard link whose target is absolute or leaves the archive root.
    case unsafeLink(String)
    /// A device, FIFO or other entry type that a policy pack may not contain.
    case unsupportedEntry(String)
    /// There is no regular file "package/PulumiPolicy.yaml".
    case missingManifest
    /// The archive has more entries than allowed.
    case tooManyEntries(limit: Int)
    /// The archive unpacks to more bytes than allowed.
    case tooLarge(limit: Int64)

    public var description: String {
        switch self {
        case .notGzip:
            return "the archive is not gzip-compressed"
        case .corruptCompression(let detail):
            return "the archive's gzip compression is corrupt: \(detail)"
        case .corruptTar(let detail):
            return "the archive is not a valid tar file: \(detail)"
        case .unsafePath(let name):
            if name.isEmpty {
                return "the archive contains an entry with an empty name"
            }
            if name.contains("\0") {
                return "entry '\(Self.displayable(name))' has a name containing a NUL character"
            }
            if name.utf8.count > EntryPolicy.maxPathBytes {
                return "entry '\(Self.displayable(name))' has a name that is too long"
            }
            if name.hasPrefix("/") {
                return "entry '\(Self.displayable(name))' has an absolute path"
            }
            return "entry '\(Self.displayable(name))' escapes the package directory"
        case .unsafeLink(let name):
            return "link '\(Self.displayable(name))' points outside the package directory"
        case .unsupportedEntry(let name):
            return "entry '\(Self.displayable(name))' is not a regular file, directory or link"
        case .missingManifest:
            return "the archive does not contain package/PulumiPolicy.yaml"
        case .tooManyEntries(let limit):
            return "the archive contains more than \(limit) entries"
        case .tooLarge(let limit):
            return "the archive unpacks to more than \(limit) bytes"
        }
    }

    /// Makes an entry name safe to embed in a one-line message: control characters become "?" and very long
    /// names are shortened.
    static func displayable(_ name: String) -> String {
        var result = ""
        var count = 0
        for scalar in name.unicodeScalars {
            if count == 200 {
                result += "…"
                break
            }
            if scalar.value < 0x20 || scalar.value == 0x7F {
                result += "?"
            } else {
                result.unicodeScalars.append(scalar)
            }
            count += 1
        }
        return result
    }
}

/// What a successfully validated (or extracted) archive contains.
public struct PackArchiveSummary: Sendable, Equatable {
    /// Number of entries: regular files, directories, symbolic links and hard links (not tar metadata headers).
    public var entryCount: Int
    /// Sum of the sizes of the regular files.
    public var unpackedBytes: Int64

    public init(entryCount: Int, unpackedBytes: Int64) {
        self.entryCount = entryCount
        self.unpackedBytes = unpackedBytes
    }
}
