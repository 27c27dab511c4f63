import BlobStoreFileSystem
import BlobStoreS3
import Foundation
import PolicyHubCore
import PolicyHubTestSupport
import Testing

/// A blob store the conformance suite can run against, and how to see what it holds.
struct BlobBackend: Sendable, CustomTestStringConvertible {
    let name: String
    let make: @Sendable () async throws -> BlobFixture

    var testDescription: String { name }

    /// The filesystem always; S3 when `POLICYHUB_TEST_S3_URL` is set (with `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY`), e.g. from `eval "$(scripts/start-radosgw.sh)"`.
    static let available: [BlobBackend] = {
        var backends = [fileSystem]
        if let url = TestStores.s3URL {
            backends.append(s3(url: url))
        } else {
            print(
                "Notice: POLICYHUB_TEST_S3_URL is not set, so the BlobStore conformance suite skips S3 and runs on "
                    + "the filesystem only. Run `eval \"$(scripts/start-radosgw.sh)\"` first to include S3.")
        }
        return backends
    }()

    static let fileSystem = BlobBackend(name: "filesystem") {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent(
            "policyhub-conformance-\(UUID().uuidString)", isDirectory: true)
        let store = try FileSystemBlobStore(root: root)
        return BlobFixture(
            store: store,
            leftovers: { prefix in try fileSystemLeftovers(root: root, prefix: prefix) },
            tearDown: { try? FileManager.default.removeItem(at: root) },
            abandonWrite: { modified in
                // What a write leaves when the process dies mid-stream: its temporary file in `.incoming`.
                let file = root.appendingPathComponent(".incoming/\(UUID().uuidString)")
                try Data(randomBytes(100, seed: 5)).write(to: file)
                try FileManager.default.setAttributes([.modificationDate: modified], ofItemAtPath: file.path)
            })
    }

    static func s3(url: String) -> BlobBackend {
        BlobBackend(name: "S3") {
            let store = try S3BlobStore(url: url)
            // A write goes to S3 in one PUT once it is whole: an interrupted one leaves nothing in the bucket.
            return BlobFixture(
                store: store, leftovers: { prefix in try await store.list(prefix: prefix).map(\.key) }, tearDown: {},
                abandonWrite: nil)
        }
    }

    /// Files under `prefix`, plus anything in `.incoming` (a write must never leave a temporary file there).
    private static func fileSystemLeftovers(root: URL, prefix: String) throws -> [String] {
        let incoming = try FileManager.default.contentsOfDirectory(
            atPath: root.appendingPathComponent(".incoming").path)
        var files = incoming.map { ".incoming/\($0)" }
        let enumerator = FileManager.default.enumerator(atPath: root.path)
        while let path = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(
                atPath: root.appendingPathComponent(path).path, isDirectory: &isDirectory)
            if exists && !isDirectory.boolValue && path.hasPrefix(prefix) { files.append(path) }
        }
        return files.sorted()
    }
}

/// One case's store. `leftovers(prefix)` lists what the store holds under a key prefix, temporary files included;
/// `abandonWrite(modified)` leaves behind what a write interrupted at `modified` leaves, for stores where one can.
struct BlobFixture: Sendable {
    let store: any BlobStore
    let leftovers: @Sendable (String) async throws -> [String]
    let tearDown: @Sendable () async -> Void
    let abandonWrite: (@Sendable (Date) async throws -> Void)?
}
