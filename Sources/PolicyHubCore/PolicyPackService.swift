import Crypto
import Foundation
import Logging
import NIOCore
import PackArchive

/// Where this server's own signed links point. The HTTP adapter, which serves them, says how they are spelled.
public protocol TransferLinks: Sendable {
    func uploadURL(token: String) -> String
    func downloadURL(token: String) -> String
}

/// Limits and link lifetimes that shape publishing.
public struct PublishSettings: Sendable {
    public var uploadLinkLifetime: TimeInterval
    public var downloadLinkLifetime: TimeInterval
    public var maxArchiveBytes: Int64
    public var archiveLimits: ArchiveLimits

    public init(
        uploadLinkLifetime: TimeInterval = 3600, downloadLinkLifetime: TimeInterval = 3600,
        maxArchiveBytes: Int64 = 100 << 20, archiveLimits: ArchiveLimits = .init()
    ) {
        self.uploadLinkLifetime = uploadLinkLifetime
        self.downloadLinkLifetime = downloadLinkLifetime
        self.maxArchiveBytes = maxArchiveBytes
        self.archiveLimits = archiveLimits
    }
}

/// The answer to a create: the pending version and where to upload its archive.
public struct PublishTicket: Hashable, Sendable {
    public var version: PackVersion
    public var upload: UploadTarget
}

/// Publishing, reading and deleting policy pack versions: the two-phase publish of the OCI registry
/// (create, upload, complete) with Pulumi's rules.
public struct PolicyPackService: Sendable {
    let store: any PackStore
    let blobs: any BlobStore
    let authorizer: Authorizer
    let signer: LinkSigner
    let links: any TransferLinks
    let settings: PublishSettings
    let clock: WallClock
    let logger: Logger

    public init(
        store: any PackStore, blobs: any BlobStore, authorizer: Authorizer, signer: LinkSigner,
        links: any TransferLinks, settings: PublishSettings, clock: WallClock = .system,
        logger: Logger = Logger(label: "policyhub.packs")
    ) {
        self.links = links
        self.store = store
        self.authorizer = authorizer
        self.blobs = blobs
        self.signer = signer
        self.settings = settings
        self.clock = clock
        self.logger = logger
    }

    // MARK: Publishing

    /// Creates a pending version, or hands out the pending one with the same tag again. With `expectedName` (the
    /// registry's path), a body naming another pack is refused before anything is written.
    public func create(
        organization: Name, draft: PolicyPackDraft, expectedName: Name? = nil, caller: Principal
    ) async throws -> PublishTicket {
        // The services take validated names; the store and the audit trail keep their text.
        let organization = organization.text
        let now = clock.now()
        try await authorizer.require(.publishPolicyPacks, in: organization, target: "policy packs", caller: caller)
        if let expectedName, draft.name != expectedName.text {
            throw RegistryError.invalid(
                "The body's name '\(draft.name)' does not match the policy pack '\(expectedName)' in the path.",
                details: [.init(resource: "policypack", attribute: "name", errorType: .invalid)])
        }
        let version = try await store.beginVersion(
            organization: organization, draft: draft, at: now,
            audit: caller.event(
                AuditAction.versionCreated, in: organization,
                target: draft.name + (draft.versionTag.map { "@" + $0 } ?? ""), at: now))
        let target: UploadTarget
        if let direct = try await blobs.directUploadTarget(
            key: ArchiveKeys.directUpload(for: version), lifetime: settings.uploadLinkLifetime)
        {
            // Every create of this pending version hands out a link to the same key, so whichever link the client
            // uses, `complete` finds the bytes; sealing at complete copies them out of the links' reach.
            target = direct
        } else {
            let grant = LinkGrant(
                purpose: .upload, versionID: version.id, organization: organization, pack: draft.name,
                version: version.version,
                expires: Int64((now.timeIntervalSince1970 + settings.uploadLinkLifetime).rounded(.down)))
            target = UploadTarget(
                url: links.uploadURL(token: signer.token(for: grant)),
                requiredHeaders: ["Content-Type": "application/octet-stream"])
        }
        logger.info(
            "created pending version",
            metadata: ["org": "\(organization)", "pack": "\(draft.name)", "version": "\(version.version)"])
        return PublishTicket(version: version, upload: target)
    }

    /// Receives an archive through a signed upload link. Each upload goes to a fresh key, so bytes that a
    /// completed version points at are never overwritten.
    @discardableResult
    public func receiveUpload<Body: AsyncSequence & Sendable>(
        token: String, body: Body, declaredLength: Int64?
    ) async throws -> StoredBlob where Body.Element == ByteBuffer {
        let grant = try signer.verify(token, for: .upload, at: clock.now())
        guard let version = try await store.version(id: grant.versionID), grant.names(version) else {
            throw RegistryError(.notFound, "This Policy Pack version no longer exists.")
        }
        guard version.status == .pending else {
            throw RegistryError.uploadToCompletedVersion(version.name, version.version)
        }
        if let declaredLength, declaredLength > settings.maxArchiveBytes {
            throw RegistryError.archiveTooLarge(limit: settings.maxArchiveBytes)
        }
        let key = ArchiveKeys.fresh(for: version)
        let blob = try await blobs.write(key: key, body: body, maxBytes: settings.maxArchiveBytes)
        do {
            guard blob.size > 0 else { throw RegistryError.invalid("The upload body is empty: send the .tgz archive.") }
            if let replaced = try await store.recordUpload(versionID: version.id, archive: blob, at: clock.now()) {
                try? await blobs.delete(key: replaced.key)
            }
        } catch {
            try? await blobs.delete(key: key)
            throw error
        }
        logger.info("received archive", metadata: ["version": "\(version.id)", "bytes": "\(blob.size)"])
        return blob
    }

    /// Makes a pending version visible once its archive has arrived and is a valid pack.
    public func complete(
        organization: Name, pack: Name, reference: String, caller: Principal, operationID: String? = nil
    ) async throws {
        let (organization, pack) = (organization.text, pack.text)
        try await authorizer.require(
            .publishPolicyPacks, in: organization, target: "\(pack)@\(reference)", caller: caller)
        let version = try await store.version(organization: organization, pack: pack, reference: reference)
        if let operationID, operationID != version.id {
            throw RegistryError(.notFound, "Publish operation not found")
        }
        guard version.status == .pending else { throw RegistryError.alreadyComplete }
        let upload = try await receivedUpload(of: version)
        // Uploads straight to the store (presigned URLs) never pass through receiveUpload's limit.
        guard upload.size <= settings.maxArchiveBytes else {
            try? await blobs.delete(key: upload.key)
            throw RegistryError.archiveTooLarge(limit: settings.maxArchiveBytes)
        }
        let sealedKey = try await blobs.seal(key: upload.key)
        let verified: StoredBlob
        do {
            verified = try await verify(key: sealedKey)
            let now = clock.now()
            try await store.completeVersion(
                versionID: version.id, recordedUpload: upload.recorded ? upload.key : nil, archive: verified, at: now,
                audit: caller.event(
                    AuditAction.versionCompleted, in: organization, target: "\(pack)@\(version.label)", at: now))
        } catch {
            if sealedKey != upload.key { try? await blobs.delete(key: sealedKey) }
            throw error
        }
        if sealedKey != upload.key { try? await blobs.delete(key: upload.key) }
        logger.info(
            "completed version",
            metadata: ["org": "\(organization)", "pack": "\(pack)", "version": "\(version.version)"])
    }

    /// Where a pending version's archive arrived: at its direct-upload key when the client wrote straight to storage,
    /// else what an upload through this server recorded.
    private func receivedUpload(of version: PackVersion) async throws -> (key: String, size: Int64, recorded: Bool) {
        let direct = ArchiveKeys.directUpload(for: version)
        if let size = try await blobs.size(key: direct) { return (direct, size, false) }
        guard let archive = version.archive, let size = try await blobs.size(key: archive.key) else {
            throw RegistryError.uploadMissing
        }
        return (archive.key, size, true)
    }

    /// Reads the archive once: checks it is a safe pack archive and measures its digest and size.
    func verify(key: String) async throws -> StoredBlob {
        var inspector = try PackArchiveInspector(limits: settings.archiveLimits)
        var hasher = SHA256()
        var size: Int64 = 0
        do {
            try await blobs.read(key: key, range: nil) { buffer in
                try buffer.withUnsafeReadableBytes { bytes in
                    hasher.update(bufferPointer: bytes)
                    try inspector.consume(bytes)
                }
                size += Int64(buffer.readableBytes)
            }
            _ = try inspector.finish()
        } catch let problem as ArchiveProblem {
            throw RegistryError.invalidArchive(problem.description)
        } catch let error as RegistryError where error.kind == .notFound {
            throw RegistryError.uploadMissing
        }
        return StoredBlob(key: key, size: size, sha256: hasher.finalize().hexString)
    }

    // MARK: Reading

    public func list(organization: Name, name: Name?, caller: Principal) async throws -> [PackSummary] {
        try await authorizer.require(
            .readPolicyPacks, in: organization.text, target: name?.text ?? "policy packs", caller: caller)
        return try await store.listPacks(organization: organization.text, name: name?.text)
    }

    /// A completed version; pending ones are refused because they may still change.
    public func completedVersion(
        organization: Name, pack: Name, reference: String, caller: Principal
    ) async throws -> PackVersion {
        let (organization, pack) = (organization.text, pack.text)
        try await authorizer.require(.readPolicyPacks, in: organization, target: "\(pack)@\(reference)", caller: caller)
        let version = try await store.version(organization: organization, pack: pack, reference: reference)
        guard version.status == .complete else { throw RegistryError.incompleteVersion }
        return version
    }

    /// `{policy name: config schema}` for the policies that declare one.
    public func configSchemas(
        organization: Name, pack: Name, reference: String, caller: Principal
    ) async throws -> [String: JSONValue] {
        let version = try await completedVersion(
            organization: organization, pack: pack, reference: reference, caller: caller)
        var schemas: [String: JSONValue] = [:]
        for policy in version.draft.policies {
            if let schema = policy.configSchema { schemas[policy.name] = schema }
        }
        return schemas
    }

    // MARK: Downloading

    /// A link to download a completed version's archive: straight from storage when it serves presigned URLs,
    /// else a signed link to this server.
    public func downloadLink(for version: PackVersion) async throws -> String {
        if let archive = version.archive,
            let direct = try await blobs.directDownloadURL(key: archive.key, lifetime: settings.downloadLinkLifetime)
        {
            return direct
        }
        let expires = clock.now().timeIntervalSince1970 + settings.downloadLinkLifetime
        let grant = LinkGrant(
            purpose: .download, versionID: version.id, organization: version.organization, pack: version.name,
            version: version.version, expires: Int64(expires.rounded(.down)))
        return links.downloadURL(token: signer.token(for: grant))
    }

    /// The completed version a download link names, with its archive.
    public func download(token: String) async throws -> (version: PackVersion, archive: StoredBlob) {
        let grant = try signer.verify(token, for: .download, at: clock.now())
        guard let version = try await store.version(id: grant.versionID), grant.names(version),
            version.status == .complete, let archive = version.archive
        else { throw RegistryError(.notFound, "This Policy Pack version no longer exists.") }
        return (version, archive)
    }

    /// Streams an archive, or a byte range of it, from storage.
    public func readArchive(
        _ archive: StoredBlob, range: ClosedRange<Int64>?, consume: (ByteBuffer) async throws -> Void
    ) async throws {
        try await blobs.read(key: archive.key, range: range, consume: consume)
    }

    // MARK: Deleting

    public func deletePack(organization: Name, pack: Name, caller: Principal) async throws {
        let (organization, pack) = (organization.text, pack.text)
        let now = clock.now()
        try await authorizer.require(.deletePolicyPacks, in: organization, target: pack, caller: caller)
        let keys = try await store.deletePack(
            organization: organization, name: pack,
            audit: caller.event(AuditAction.packDeleted, in: organization, target: pack, at: now))
        await deleteBlobs(keys)
        logger.info("deleted pack", metadata: ["org": "\(organization)", "pack": "\(pack)"])
    }

    public func deleteVersion(organization: Name, pack: Name, reference: String, caller: Principal) async throws {
        let (organization, pack) = (organization.text, pack.text)
        let now = clock.now()
        try await authorizer.require(
            .deletePolicyPacks, in: organization, target: "\(pack)@\(reference)", caller: caller)
        let version = try await store.version(organization: organization, pack: pack, reference: reference)
        let key = try await store.deleteVersion(
            id: version.id,
            audit: caller.event(
                AuditAction.versionDeleted, in: organization, target: "\(pack)@\(version.label)", at: now))
        await deleteBlobs(key.map { [$0] } ?? [])
        logger.info(
            "deleted version", metadata: ["org": "\(organization)", "pack": "\(pack)", "version": "\(version.version)"])
    }

    /// Metadata is deleted first, so a failure here leaves only unreferenced archives, which the sweep removes.
    private func deleteBlobs(_ keys: [String]) async {
        for key in keys {
            do { try await blobs.delete(key: key) } catch {
                logger.warning("could not delete archive", metadata: ["key": "\(key)", "error": "\(error)"])
            }
        }
    }
}
