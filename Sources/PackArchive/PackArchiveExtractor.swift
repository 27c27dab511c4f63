import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A filesystem operation failed while extracting (for example the disk is full, or something already in the
/// destination is in the way, such as a symbolic link where the archive needs a directory).
public struct PackExtractionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The entry path, relative to the destination.
    public var path: String
    /// What went wrong.
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String {
        "could not extract '\(ArchiveProblem.displayable(path))': \(reason)"
    }
}

/// Streaming extractor: writes the entries of a policy pack archive below `destination`, a directory that must
/// already exist, applying the same safety rules as ``PackArchiveInspector``.
///
/// - Regular files are written with mode 0644, or 0755 when any execute bit is set in the tar header; missing parent
///   directories are created (mode 0755, subject to the umask), as are directory entries.
/// - Symbolic links that stay inside the destination are created as-is; hard links to files extracted earlier are
///   created as hard links (or copies where the filesystem refuses links).
/// - pax global headers are skipped.
/// - Nothing is ever written outside `destination`: every path is opened component by component relative to the
///   destination without following symbolic links, so a symbolic link already present in the destination (or
///   created by the archive) is never written through.
///
/// Errors are ``ArchiveProblem`` for bad archives and ``PackExtractionError`` for filesystem failures. Entries
/// extracted before an error are left in place; the caller decides whether to delete the destination.
public struct PackArchiveExtractor {
    private let pipeline: ArchivePipeline
    private let writer: ExtractionWriter

    public init(destination: URL, limits: ArchiveLimits = .init()) throws {
        writer = try ExtractionWriter(destination: destination)
        pipeline = try ArchivePipeline(limits: limits)
    }

    /// Feeds the next chunk of the compressed archive, writing whatever it completes.
    public mutating func consume(_ chunk: UnsafeRawBufferPointer) throws {
        let writer = self.writer
        try pipeline.consume(chunk) { try writer.handle($0) }
    }

    /// Feeds the next chunk of the compressed archive, writing whatever it completes.
    public mutating func consume(_ chunk: [UInt8]) throws {
        try chunk.withUnsafeBytes { try consume($0) }
    }

    /// Checks that the archive ended properly and contained `package/PulumiPolicy.yaml`.
    public mutating func finish() throws -> PackArchiveSummary {
        let summary = try pipeline.finish()
        try writer.closeCurrentFile()
        return summary
    }
}

extension PackArchiveExtractor {
    /// Extracts the archive file at `url` below `destination`, reading it in 64 KiB chunks.
    public static func extract(
        fileAt url: URL,
        to destination: URL,
        limits: ArchiveLimits = .init()
    ) throws -> PackArchiveSummary {
        var extractor = try PackArchiveExtractor(destination: destination, limits: limits)
        try forEachChunk(ofFileAt: url) { try extractor.consume($0) }
        return try extractor.finish()
    }
}

/// Performs the filesystem side of extraction with `*at` system calls relative to a descriptor of the destination.
final class ExtractionWriter {
    private let root: Int32
    private var file: Int32 = -1
    private var filePath = ""

    init(destination: URL) throws {
        let path = destination.path
        root = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard root >= 0 else {
            throw PackExtractionError(path: path, reason: "the destination is not an accessible directory")
        }
    }

    deinit {
        if file >= 0 { close(file) }
        close(root)
    }

    func handle(_ event: PipelineEvent) throws {
        switch event {
        case .entry(let entry):
            try closeCurrentFile()
            try create(entry)
        case .data(let bytes):
            if file >= 0 { try writeAll(bytes, to: file, path: filePath) }
        case .endOfEntry:
            try closeCurrentFile()
        }
    }

    func closeCurrentFile() throws {
        guard file >= 0 else { return }
        let descriptor = file
        file = -1
        if close(descriptor) != 0 {
            throw Self.failure(filePath, errno)
        }
    }

    private func create(_ entry: ValidatedEntry) throws {
        let path = entry.path
        guard let name = entry.components.last else { return }  // "./": the destination itself
        let parentComponents = entry.components.dropLast()
        switch entry.kind {
        case .directory:
            let directory = try openDirectory(entry.components, create: true, path: path)
            close(directory)
        case .regularFile:
            let parent = try openDirectory(parentComponents, create: true, path: path)
            defer { close(parent) }
            try removeNonDirectory(name, in: parent, path: path)
            let mode: mode_t = entry.mode & 0o111 != 0 ? 0o755 : 0o644
            let descriptor = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
            guard descriptor >= 0 else { throw Self.failure(path, errno) }
            file = descriptor
            filePath = path
            guard fchmod(descriptor, mode) == 0 else { throw Self.failure(path, errno) }
        case .symbolicLink(let target):
            let parent = try openDirectory(parentComponents, create: true, path: path)
            defer { close(parent) }
            try removeNonDirectory(name, in: parent, path: path)
            guard symlinkat(target, parent, name) == 0 else { throw Self.failure(path, errno) }
        case .hardLink(let target):
            try createHardLink(name: name, parentComponents: parentComponents, path: path, target: target)
        }
    }

    private func createHardLink(
        name: String,
        parentComponents: ArraySlice<String>,
        path: String,
        target: [String]
    ) throws {
        let targetPath = target.joined(separator: "/")
        let targetParent = try openDirectory(target.dropLast(), create: false, path: targetPath)
        defer { close(targetParent) }
        let targetName = target[target.count - 1]
        var status = stat()
        guard fstatat(targetParent, targetName, &status, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw Self.failure(path, errno, detail: "the link target '\(targetPath)' cannot be found")
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw PackExtractionError(path: path, reason: "the link target '\(targetPath)' is not a regular file")
        }
        if targetPath == path { return }
        let parent = try openDirectory(parentComponents, create: true, path: path)
        defer { close(parent) }
        try removeNonDirectory(name, in: parent, path: path)
        if linkat(targetParent, targetName, parent, name, 0) == 0 { return }
        // Some filesystems do not support hard links: copy the file instead.
        let source = openat(targetParent, targetName, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard source >= 0 else { throw Self.failure(path, errno) }
        defer { close(source) }
        let mode = status.st_mode & 0o777
        let copy = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard copy >= 0 else { throw Self.failure(path, errno) }
        defer { close(copy) }
        guard fchmod(copy, mode) == 0 else { throw Self.failure(path, errno) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = read(source, buffer.baseAddress, buffer.count)
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw Self.failure(path, errno)
            }
            try writeAll(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), to: copy, path: path)
        }
    }

    /// Opens (and with `create`, makes) the directory at `components` below the destination, refusing to follow
    /// symbolic links. The caller closes the returned descriptor.
    private func openDirectory(_ components: some Collection<String>, create: Bool, path: String) throws -> Int32 {
        var current = dup(root)
        guard current >= 0 else { throw Self.failure(path, errno) }
        for component in components {
            var next = openat(current, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0, errno == ENOENT, create {
                if mkdirat(current, component, 0o755) != 0, errno != EEXIST {
                    let error = errno
                    close(current)
                    throw Self.failure(path, error)
                }
                next = openat(current, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            if next < 0 {
                let error = errno
                close(current)
                if error == ELOOP || error == ENOTDIR {
                    throw PackExtractionError(
                        path: path,
                        reason: "'\(component)' is in the way: it is not a directory (or is a symbolic link)"
                    )
                }
                throw Self.failure(path, error)
            }
            close(current)
            current = next
        }
        return current
    }

    /// Removes a file or symbolic link that a new entry replaces; a directory in the way is an error.
    private func removeNonDirectory(_ name: String, in parent: Int32, path: String) throws {
        var status = stat()
        guard fstatat(parent, name, &status, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return }
            throw Self.failure(path, errno)
        }
        if status.st_mode & S_IFMT == S_IFDIR {
            throw PackExtractionError(path: path, reason: "a directory is in the way")
        }
        guard unlinkat(parent, name, 0) == 0 else { throw Self.failure(path, errno) }
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32, path: String) throws {
        guard var pointer = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let written = write(descriptor, pointer, remaining)
            if written < 0 {
                if errno == EINTR { continue }
                throw Self.failure(path, errno)
            }
            pointer += written
            remaining -= written
        }
    }

    private static func failure(_ path: String, _ code: Int32, detail: String? = nil) -> PackExtractionError {
        PackExtractionError(path: path, reason: detail ?? String(cString: strerror(code)))
    }
}
