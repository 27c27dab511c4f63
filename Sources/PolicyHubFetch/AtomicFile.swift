import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Files written whole or not at all: the data goes to a temporary file beside `file`, then one rename puts it in
/// place, so a reader never sees half of it and a killed run leaves only a `.tmp-*` file behind.
enum AtomicFile {
    /// Writes `data` to `file`. `durable` flushes it to disk before the rename, for what must survive a crash.
    static func write(_ data: Data, to file: URL, permissions: mode_t = 0o644, durable: Bool = false) throws {
        let temporary = file.deletingLastPathComponent().appendingPathComponent(".tmp-\(UUID().uuidString).json")
        do {
            let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, permissions)
            guard descriptor >= 0 else { throw failure(file) }
            let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
            try handle.write(contentsOf: data)
            if durable { try handle.synchronize() }
            try handle.close()
            guard rename(temporary.path, file.path) == 0 else { throw failure(file) }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    private static func failure(_ file: URL) -> FetchError {
        FetchError("cannot write \(file.path): \(String(cString: strerror(errno)))")
    }
}
