import Foundation
import MetadataStoreSQL
import PolicyHubCore
import Testing

/// One suite for every metadata backend: the same calls give the same results and the same domain errors.
@Suite("MetadataStore conformance")
struct MetadataStoreConformanceTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func draft(_ name: String, tag: String?, policies: [String] = ["rule"]) -> PolicyPackDraft {
        PolicyPackDraft(
            name: name, displayName: "Pack \(name)", versionTag: tag,
            policies: policies.map { Policy(name: $0, enforcementLevel: .mandatory) })
    }

    /// Creates a version and completes it with a made-up archive.
    @discardableResult
    static func publish(_ store: SQLMetadataStore, _ org: String, _ name: String, tag: String?) async throws
        -> PackVersion
    {
        let version = try await store.beginVersion(organization: org, draft: draft(name, tag: tag), at: now)
        let archive = StoredBlob(key: "k/\(version.id)", size: 10, sha256: "ab")
        _ = try await store.recordUpload(versionID: version.id, archive: archive, at: now)
        try await store.completeVersion(versionID: version.id, recordedUpload: archive.key, archive: archive, at: now)
        return try #require(try await store.version(id: version.id))
    }

    static func setUp(_ store: SQLMetadataStore) async throws {
        #expect(try await store.bootstrap(adminLogin: "admin", organization: "acme", tokenHash: "h-admin", at: now))
    }

    @Test(arguments: MetadataBackend.available)
    func identity(backend: MetadataBackend) async throws {
        try await backend.withStore { store, _ in
            try await Self.setUp(store)
            #expect(try await !store.bootstrap(adminLogin: "admin", organization: "acme", tokenHash: "x", at: Self.now))
            try await store.createUser(login: "bob", displayName: "Bob", at: Self.now)
            try await store.addMember(organization: "acme", login: "bob", role: .member)
            let bobToken = try await store.createToken(
                login: "bob", tokenHash: "h-bob", description: "ci", expiresAt: nil, at: Self.now)

            let bob = try #require(try await store.principal(tokenHash: "h-bob", at: Self.now))
            #expect(bob.tokenID == bobToken)
            #expect(bob.login == "bob")
            #expect(bob.tokenDescription == "ci")
            #expect(
                bob.memberships == [
                    Membership(organization: "acme", role: .member, isPersonal: false),
                    Membership(organization: "bob", role: .admin, isPersonal: true),
                ])
            #expect(try await store.principal(tokenHash: "unknown", at: Self.now) == nil)

            try await expectRegistryError(.conflict) {
                try await store.createUser(login: "bob", displayName: "", at: Self.now)
            }
            try await expectRegistryError(.conflict) { try await store.createOrganization(login: "acme", at: Self.now) }
            try await expectRegistryError(.conflict) { try await store.createOrganization(login: "bob", at: Self.now) }
            try await expectRegistryError(.notFound) {
                try await store.addMember(organization: "acme", login: "nobody", role: .member)
            }
            try await expectRegistryError(.notFound) {
                try await store.addMember(organization: "nowhere", login: "bob", role: .member)
            }
            try await expectRegistryError(.conflict) {
                try await store.addMember(organization: "acme", login: "bob", role: .admin)
            }
            try await expectRegistryError(.notFound) {
                _ = try await store.createToken(
                    login: "nobody", tokenHash: "h", description: "", expiresAt: nil, at: Self.now)
            }
        }
    }

    @Test(arguments: MetadataBackend.available)
    func signingKeyIsSharedByEveryInstance(backend: MetadataBackend) async throws {
        try await backend.withStore { store, open in
            let key = try await store.signingKey()
            #expect(key.count == 32)
            let other = try await open()
            #expect(try await other.signingKey() == key)
            try await other.shutdown()
        }
    }

    /// Instances starting together on an empty database all ask for the key first thing: every one must get the
    /// same key (links one signs, another checks), and none may fail.
    @Test(arguments: MetadataBackend.available)
    func instancesStartingTogetherAgreeOnOneSigningKey(backend: MetadataBackend) async throws {
        try await backend.withStore { _, open in
            var others: [SQLMetadataStore] = []
            for _ in 0..<6 { others.append(try await open()) }
            let keys = try await withThrowingTaskGroup(of: [UInt8].self) { group in
                for other in others { group.addTask { try await other.signingKey() } }
                return try await group.reduce(into: [[UInt8]]()) { $0.append($1) }
            }
            #expect(keys.count == 6)
            #expect(Set(keys).count == 1)
            for other in others { try await other.shutdown() }
        }
    }

    @Test(arguments: MetadataBackend.available)
    func versionsAreNumberedAndTagsAreImmutable(backend: MetadataBackend) async throws {
        try await backend.withStore { store, _ in
            try await Self.setUp(store)
            let first = try await Self.publish(store, "acme", "p", tag: "1.0.0")
            #expect(first.version == 1)
            #expect(first.status == .complete)
            let pending = try await store.beginVersion(
                organization: "acme", draft: Self.draft("p", tag: "2.0.0"), at: Self.now)
            #expect(pending.version == 2)
            // The same pending tag again: the same version, with the new draft.
            let retried = try await store.beginVersion(
                organization: "acme", draft: Self.draft("p", tag: "2.0.0", policies: ["a", "b"]), at: Self.now)
            #expect(retried.id == pending.id)
            #expect(try await store.version(id: pending.id)?.draft.policies.count == 2)
            let taken = try await expectRegistryError(.conflict) {
                _ = try await store.beginVersion(
                    organization: "acme", draft: Self.draft("p", tag: "1.0.0"), at: Self.now)
            }
            #expect(taken.details.first?.errorType == .alreadyExists)
            try await expectRegistryError(.notFound) {
                _ = try await store.beginVersion(
                    organization: "nowhere", draft: Self.draft("p", tag: "1"), at: Self.now)
            }
            // Numbers are never reused, even after a delete.
            _ = try await store.deleteVersion(id: pending.id)
            #expect(try await Self.publish(store, "acme", "p", tag: "3.0.0").version == 3)
        }
    }

    @Test(arguments: MetadataBackend.available)
    func referencesResolveTagThenLatestThenNumber(backend: MetadataBackend) async throws {
        try await backend.withStore { store, _ in
            try await Self.setUp(store)
            try await Self.publish(store, "acme", "p", tag: "5")  // 1
            try await Self.publish(store, "acme", "p", tag: "1")  // 2
            try await Self.publish(store, "acme", "p", tag: nil)  // 3
            _ = try await store.beginVersion(organization: "acme", draft: Self.draft("p", tag: "9.0.0"), at: Self.now)
            #expect(try await store.version(organization: "acme", pack: "p", reference: "1").version == 2)
            #expect(try await store.version(organization: "acme", pack: "p", reference: "latest").version == 3)
            #expect(try await store.version(organization: "acme", pack: "p", reference: "3").version == 3)
            #expect(try await store.version(organization: "acme", pack: "p", reference: "9.0.0").status == .pending)
            #expect(try await store.version(organization: "acme", pack: "p", number: 1).versionTag == "5")
            let missingVersion = try await expectRegistryError(.notFound) {
                _ = try await store.version(organization: "acme", pack: "p", reference: "7.7.7")
            }
            #expect(missingVersion.message == "Policy Pack 'p' version '7.7.7' not found")
            let missingPack = try await expectRegistryError(.notFound) {
                _ = try await store.version(organization: "acme", pack: "q", reference: "1")
            }
            #expect(missingPack.message == "Policy Pack 'q' not found")
            let missingOrg = try await expectRegistryError(.notFound) {
                _ = try await store.version(organization: "nowhere", pack: "q", reference: "1")
            }
            #expect(missingOrg.message == "Organization not found")
        }
    }

    @Test(arguments: MetadataBackend.available)
    func uploadsAndCompletionFollowTheLifecycle(backend: MetadataBackend) async throws {
        try await backend.withStore { store, _ in
            try await Self.setUp(store)
            let version = try await store.beginVersion(
                organization: "acme", draft: Self.draft("p", tag: "1.0.0"), at: Self.now)
            let first = StoredBlob(key: "k/1", size: 1, sha256: "a")
            let second = StoredBlob(key: "k/2", size: 2, sha256: "b")
            #expect(try await store.recordUpload(versionID: version.id, archive: first, at: Self.now) == nil)
            #expect(try await store.recordUpload(versionID: version.id, archive: second, at: Self.now) == first)
            // Completing with an archive that is no longer the current one fails: a new upload came in.
            try await expectRegistryError(.conflict) {
                try await store.completeVersion(
                    versionID: version.id, recordedUpload: first.key, archive: first, at: Self.now)
            }
            // Completing may move the archive to a sealed key.
            let verified = StoredBlob(key: "sealed/2", size: 2, sha256: "cafe")
            try await store.completeVersion(
                versionID: version.id, recordedUpload: "k/2", archive: verified, at: Self.now)
            let completed = try #require(try await store.version(id: version.id))
            #expect(completed.archive == verified)
            #expect(completed.completedAt == Self.now)
            try await expectRegistryError(.invalid) {
                try await store.completeVersion(
                    versionID: version.id, recordedUpload: "sealed/2", archive: verified, at: Self.now)
            }
            try await expectRegistryError(.conflict) {
                _ = try await store.recordUpload(versionID: version.id, archive: first, at: Self.now)
            }
            try await expectRegistryError(.notFound) {
                _ = try await store.recordUpload(versionID: "missing", archive: first, at: Self.now)
            }
        }
    }

    @Test(arguments: MetadataBackend.available)
    func listsAndDeletes(backend: MetadataBackend) async throws {
        try await backend.withStore { store, _ in
            try await Self.setUp(store)
            try await Self.publish(store, "acme", "zeta", tag: "1")
            try await Self.publish(store, "acme", "alpha", tag: nil)
            try await Self.publish(store, "acme", "alpha", tag: "2")
            _ = try await store.beginVersion(organization: "acme", draft: Self.draft("alpha", tag: "3"), at: Self.now)
            let list = try await store.listPacks(organization: "acme", name: nil)
            #expect(
                list == [
                    PackSummary(name: "alpha", displayName: "Pack alpha", versions: [1, 2], versionTags: ["", "2"]),
                    PackSummary(name: "zeta", displayName: "Pack zeta", versions: [1], versionTags: ["1"]),
                ])
            #expect(try await store.listPacks(organization: "acme", name: "zeta").map(\.name) == ["zeta"])
            let keys = try await store.deletePack(organization: "acme", name: "alpha")
            #expect(keys.count == 2)
            #expect(try await store.listPacks(organization: "acme", name: nil).map(\.name) == ["zeta"])
            try await expectRegistryError(.notFound) {
                _ = try await store.deletePack(organization: "acme", name: "alpha")
            }
        }
    }

    @Test(arguments: MetadataBackend.available)
    func concurrentCreatesGetUniqueConsecutiveNumbers(backend: MetadataBackend) async throws {
        try await backend.withStore { store, _ in
            try await Self.setUp(store)
            let numbers = try await withThrowingTaskGroup(of: [Int].self) { group in
                for writer in 0..<8 {
                    group.addTask {
                        var mine: [Int] = []
                        for index in 0..<25 {
                            let version = try await store.beginVersion(
                                organization: "acme", draft: Self.draft("shared", tag: "\(writer).\(index)"),
                                at: Self.now)
                            mine.append(version.version)
                        }
                        return mine
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(numbers.sorted() == Array(1...200))
        }
    }

    @Test(arguments: MetadataBackend.available)
    func registryListingPagesByOrganizationAndName(backend: MetadataBackend) async throws {
        try await backend.withStore { store, _ in
            try await Self.setUp(store)
            try await store.createOrganization(login: "beta", at: Self.now)
            for name in ["c", "a", "b"] { try await Self.publish(store, "acme", name, tag: "1") }
            try await Self.publish(store, "acme", "a", tag: "2")
            try await Self.publish(store, "beta", "a", tag: "1")
            let firstPage = try await store.latestVersions(
                organizations: ["acme", "beta"], packIDs: nil, appliedOnly: false, after: nil, limit: 2)
            #expect(firstPage.map { "\($0.organization)/\($0.name)@\($0.label)" } == ["acme/a@2", "acme/b@1"])
            let cursor = RegistryCursor(organization: "acme", name: "b")
            let rest = try await store.latestVersions(
                organizations: ["acme", "beta"], packIDs: nil, appliedOnly: false, after: cursor, limit: 10)
            #expect(rest.map { "\($0.organization)/\($0.name)" } == ["acme/c", "beta/a"])
            let byID = try await store.latestVersions(
                organizations: ["acme", "beta"], packIDs: [rest[1].packID], appliedOnly: false, after: nil, limit: 10)
            #expect(byID.map(\.organization) == ["beta"])
            #expect(
                try await store.latestVersions(
                    organizations: ["acme"], packIDs: nil, appliedOnly: true, after: nil, limit: 10
                ).isEmpty)
            let versions = try await store.completedVersions(organization: "acme", pack: "a", after: 1, limit: 10)
            #expect(versions.map(\.version) == [2])
        }
    }

    @Test(arguments: MetadataBackend.available)
    func groupsApplyPacksToStacks(backend: MetadataBackend) async throws {
        try await backend.withStore { store, _ in
            try await Self.setUp(store)
            let v1 = try await Self.publish(store, "acme", "guard", tag: "1")
            let v2 = try await Self.publish(store, "acme", "guard", tag: "2")
            #expect(try await store.listGroups(organization: "acme").map(\.name) == [PolicyGroup.defaultName])
            try await store.createGroup(
                organization: "acme", name: "prod", mode: .audit, agentPoolID: nil, at: Self.now)
            try await expectRegistryError(.conflict) {
                try await store.createGroup(
                    organization: "acme", name: "prod", mode: .audit, agentPoolID: nil, at: Self.now)
            }
            var changes = GroupChanges()
            changes.addStacks = [StackReference(project: "web", name: "prod")]
            changes.addPacks = [.init(packID: v2.packID, versionID: v2.id, config: #"{"rule":null}"#)]
            try await store.updateGroup(organization: "acme", name: "prod", changes: changes)
            var base = GroupChanges()
            base.addPacks = [.init(packID: v1.packID, versionID: v1.id, config: nil)]
            try await store.updateGroup(organization: "acme", name: PolicyGroup.defaultName, changes: base)

            let group = try await store.group(organization: "acme", name: "prod")
            #expect(group.mode == .audit)
            #expect(group.stacks == [StackReference(project: "web", name: "prod")])
            #expect(group.packs.map(\.version.id) == [v2.id])
            #expect(group.packs.first?.config == ["rule": .null])
            #expect(try await store.version(id: v2.id)?.applied == true)

            let listed = try await store.appliedPacks(
                organization: "acme", stack: StackReference(project: "web", name: "prod"))
            #expect(listed.map(\.version.id) == [v2.id])
            let unlisted = try await store.appliedPacks(
                organization: "acme", stack: StackReference(project: "web", name: "dev"))
            #expect(unlisted.map(\.version.id) == [v1.id])
            #expect(
                try await store.groups(organization: "acme", stack: StackReference(project: "web", name: "dev")).map(
                    \.name)
                    == [PolicyGroup.defaultName])

            // A failing part undoes the whole update.
            var failing = GroupChanges()
            failing.newName = "renamed"
            failing.removeStacks = [StackReference(project: "api", name: "prod")]
            try await expectRegistryError(.notFound) {
                try await store.updateGroup(organization: "acme", name: "prod", changes: failing)
            }
            #expect(try await store.group(organization: "acme", name: "prod").stacks.count == 1)
            try await expectRegistryError(.notFound) {
                _ = try await store.group(organization: "acme", name: "renamed")
            }

            // Applied versions cannot be deleted.
            try await expectRegistryError(.invalid) {
                _ = try await store.deletePack(organization: "acme", name: "guard")
            }
            let inUse = try await expectRegistryError(.conflict) { _ = try await store.deleteVersion(id: v2.id) }
            #expect(inUse.message.contains("prod"))
            #expect(
                try await store.latestVersions(
                    organizations: ["acme"], packIDs: nil, appliedOnly: true, after: nil, limit: 10
                ).map(\.name) == ["guard"])
            let summaries = try await store.listGroups(organization: "acme")
            #expect(summaries.map(\.packCount) == [1, 1])
            #expect(summaries.map(\.stackCount) == [0, 1])

            try await store.deleteGroup(organization: "acme", name: "prod")
            _ = try await store.deleteVersion(id: v2.id)
            try await expectRegistryError(.notFound) { try await store.deleteGroup(organization: "acme", name: "prod") }
        }
    }

    @Test(arguments: MetadataBackend.available)
    func migrationsRunOnceWhenInstancesStartTogether(backend: MetadataBackend) async throws {
        try await backend.withStore { store, open in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask { try await open().shutdown() }
                }
                try await group.waitForAll()
            }
            try await Self.setUp(store)
            #expect(try await store.listGroups(organization: "acme").count == 1)
        }
    }

    @Test(arguments: MetadataBackend.available)
    func onlyOneOfSeveralStartingInstancesCreatesTheFirstAdmin(backend: MetadataBackend) async throws {
        try await backend.withStore { store, open in
            let created = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<4 {
                    group.addTask {
                        let instance = try await open()
                        do {
                            let made = try await instance.bootstrap(
                                adminLogin: "admin", organization: "acme", tokenHash: "h\(index)", at: Self.now)
                            try await instance.shutdown()
                            return made
                        } catch {
                            try? await instance.shutdown()
                            throw error
                        }
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(created.filter { $0 }.count == 1)
            #expect(try await store.listGroups(organization: "acme").count == 1)
        }
    }

    @Test(arguments: MetadataBackend.available)
    func racingInstancesCreatingOneNameGetOneSuccessAndConflicts(backend: MetadataBackend) async throws {
        try await backend.withStore { store, open in
            let others = [try await open(), try await open(), try await open()]
            let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
                for instance in [store] + others {
                    group.addTask {
                        do {
                            try await instance.createOrganization(login: "contested", at: Self.now)
                            return "created"
                        } catch let error as RegistryError {
                            return "\(error.kind)"
                        }
                    }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            for other in others { try await other.shutdown() }
            #expect(outcomes.sorted() == ["conflict", "conflict", "conflict", "created"])
        }
    }

    @Test(arguments: MetadataBackend.available)
    func tokensExpireAreRevokedAndRecordTheirUse(backend: MetadataBackend) async throws {
        try await backend.withStore { store, open in
            try await Self.setUp(store)
            let later = Self.now.addingTimeInterval(3600)
            let expiring = try await store.createToken(
                login: "admin", tokenHash: "h-expiring", description: "one hour", expiresAt: later, at: Self.now)
            #expect(try await store.principal(tokenHash: "h-expiring", at: Self.now) != nil)
            #expect(try await store.principal(tokenHash: "h-expiring", at: later) == nil)

            try await store.touchToken(id: expiring, at: Self.now.addingTimeInterval(5))
            #expect(
                try await store.principal(tokenHash: "h-expiring", at: Self.now)?.tokenLastUsedAt
                    == Self.now.addingTimeInterval(5))

            // A revocation made through one instance holds on the next request to another.
            let other = try await open()
            let ci = try await store.createToken(
                login: "admin", tokenHash: "h-ci", description: "ci", expiresAt: nil, at: Self.now)
            #expect(try await other.principal(tokenHash: "h-ci", at: Self.now) != nil)
            try await store.revokeToken(id: ci, at: Self.now)
            #expect(try await other.principal(tokenHash: "h-ci", at: Self.now) == nil)
            try await other.shutdown()
            try await expectRegistryError(.conflict) { try await store.revokeToken(id: ci, at: Self.now) }
            try await expectRegistryError(.notFound) { try await store.revokeToken(id: "missing", at: Self.now) }

            let records = try await store.listTokens(login: "admin")
            #expect(Set(records.map(\.description)) == ["initial admin token", "one hour", "ci"])
            #expect(records.first { $0.id == ci }?.revokedAt == Self.now)
            #expect(records.first { $0.id == expiring }?.expiresAt == later)
            try await expectRegistryError(.notFound) { _ = try await store.listTokens(login: "nobody") }
        }
    }
}
