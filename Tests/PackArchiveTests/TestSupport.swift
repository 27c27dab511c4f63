import Foundation
import PackArchive
import Testing

// MARK: - Temporary directories

/// A fresh directory under the system temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("PackArchiveTests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(at: url)
    }

    func path(_ relative: String) -> URL {
        url.appendingPathComponent(relative)
    }

    /// Writes a file (creating parent directories) with the given permissions.
    @discardableResult
    func write(_ relative: String, _ contents: String, mode: Int = 0o644) throws -> URL {
        let file = path(relative)
        try FileManager.default.createDirectory(
            at: file.deletingLastPathComponent(),
            withIntermediateDirectories: true
        )
        try Data(contents.utf8).write(to: file)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: file.path)
        return file
    }
}

/// Runs a command and fails the test if it does not succeed; returns its standard output.
@discardableResult
func run(_ executable: String, _ arguments: [String], in directory: URL? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    try #require(process.terminationStatus == 0, "\(executable) \(arguments) failed")
    return String(decoding: data, as: UTF8.self)
}

/// Lists every file, directory and link below `directory`, as paths relative to it.
func treeListing(_ directory: URL) throws -> [String] {
    let base = directory.resolvingSymlinksInPath().path
    guard let enumerator = FileManager.default.enumerator(atPath: base) else { return [] }
    return enumerator.compactMap { $0 as? String }.sorted()
}

// MARK: - Feeding archives

/// Inspects `archive` fed in chunks of `chunkSize` bytes.
func inspect(_ archive: [UInt8], chunkSize: Int = 64 * 1024, limits: ArchiveLimits = .init()) throws
    -> PackArchiveSummary
{
    var inspector = try PackArchiveInspector(limits: limits)
    var offset = 0
    while offset < archive.count {
        let end = min(offset + chunkSize, archive.count)
        try inspector.consume(Array(archive[offset..<end]))
        offset = end
    }
    return try inspector.finish()
}

/// Extracts `archive` below `destination` in 4 KiB chunks.
@discardableResult
func extract(_ archive: [UInt8], to destination: URL, limits: ArchiveLimits = .init()) throws -> PackArchiveSummary {
    var extractor = try PackArchiveExtractor(destination: destination, limits: limits)
    var offset = 0
    while offset < archive.count {
        let end = min(offset + 4096, archive.count)
        try archive[offset..<end].withUnsafeBytes { try extractor.consume($0) }
        offset = end
    }
    return try extractor.finish()
}
