import Foundation
import MetadataStoreSQL
import PolicyHubCore
import Testing

/// The audit trail: what is recorded, how it is read back, filtered and paged.
extension MetadataStoreConformanceTests {
    static func event(
        _ id: String, at offset: TimeInterval, in organization: String? = "acme",
        action: String = AuditAction.versionCreated, origin: RequestOrigin = .init(clientAddress: nil, userAgent: nil)
    ) -> AuditEvent {
        AuditEvent(
            id: id, time: now.addingTimeInterval(offset), organization: organization, actor: "admin", action: action,
            target: "target of \(id)", origin: origin)
    }

    static func everyEvent(_ store: SQLMetadataStore) async throws -> [AuditEvent] {
        try await store.auditEvents(AuditQuery(organization: nil, limit: 1000), after: nil)
    }

    @Test(arguments: MetadataBackend.available)
    func recordedEventsReadBackWholeNewestFirst(backend: MetadataBackend) async throws {
        try await backend.withStore { store, _ in
            let origin = RequestOrigin(clientAddress: "203.0.113.7", userAgent: "pulumi-cli/1 (v3.259.0; linux)")
            let first = Self.event("e1", at: 0, origin: origin)
            var second = Self.event("e2", at: 1.5, action: AuditAction.authorizationDenied)
            second.actor = "bob"
            let unowned = Self.event("e3", at: 2, in: nil, action: AuditAction.tokenCreated)
            let elsewhere = Self.event("e4", at: 3, in: "beta")
            // Recorded out of order: reading sorts by time.
            for event in [unowned, first, elsewhere, second] { try await store.recordAudit(event) }

            #expect(try await store.auditEvents(AuditQuery(organization: "acme"), after: nil) == [second, first])
            #expect(try await store.auditEvents(AuditQuery(organization: "beta"), after: nil) == [elsewhere])
            // Without an organization: every event, those of no organization included.
            #expect(try await Self.everyEvent(store) == [elsewhere, unowned, second, first])
            #expect(try await store.auditEvents(AuditQuery(organization: "nowhere"), after: nil) == [])
            // Events are only ever added: another event under a recorded ID does not rewrite it.
            var rewritten = first
            rewritten.target = "rewritten"
            try? await store.recordAudit(rewritten)
            #expect(try await Self.everyEvent(store) == [elsewhere, unowned, second, first])
        }
    }

    @Test(arguments: MetadataBackend.available)
    func auditEventsFilterByTimeAndActionAndStopAtTheLimit(backend: MetadataBackend) async throws {
        try await backend.withStore { store, _ in
            for index in 0..<6 {
                let action = index.isMultiple(of: 2) ? AuditAction.versionCreated : AuditAction.versionDeleted
                try await store.recordAudit(Self.event("e\(index)", at: TimeInterval(index), action: action))
            }
            try await store.recordAudit(Self.event("other", at: 2, in: "beta", action: AuditAction.versionDeleted))

            func ids(from: TimeInterval? = nil, to: TimeInterval? = nil, action: String? = nil, limit: Int = 100)
                async throws -> [String]
            {
                let query = AuditQuery(
                    organization: "acme", from: from.map(Self.now.addingTimeInterval),
                    to: to.map(Self.now.addingTimeInterval), action: action, limit: limit)
                return try await store.auditEvents(query, after: nil).map(\.id)
            }
            #expect(try await ids() == ["e5", "e4", "e3", "e2", "e1", "e0"])
            // `from` is inclusive, `to` exclusive.
            #expect(try await ids(from: 2) == ["e5", "e4", "e3", "e2"])
            #expect(try await ids(to: 2) == ["e1", "e0"])
            #expect(try await ids(from: 1, to: 4) == ["e3", "e2", "e1"])
            #expect(try await ids(from: 4, to: 4) == [])
            #expect(try await ids(action: AuditAction.versionDeleted) == ["e5", "e3", "e1"])
            #expect(try await ids(from: 2, action: AuditAction.versionDeleted) == ["e5", "e3"])
            #expect(try await ids(action: AuditAction.groupCreated) == [])
            // The newest ones first, up to the limit.
            #expect(try await ids(limit: 2) == ["e5", "e4"])
            #expect(try await ids(action: AuditAction.versionCreated, limit: 1) == ["e4"])
            let everywhere = AuditQuery(organization: nil, action: AuditAction.versionDeleted)
            #expect(try await store.auditEvents(everywhere, after: nil).map(\.id) == ["e5", "e3", "other", "e1"])
        }
    }

    /// Pages resume just after the last event shown, by time and then id, so events sharing a millisecond are
    /// neither skipped nor shown twice.
    @Test(arguments: MetadataBackend.available)
    func auditPagesResumeAfterTheCursorWithoutGapsOrRepeats(backend: MetadataBackend) async throws {
        try await backend.withStore { store, _ in
            let offsets: [(String, TimeInterval)] = [
                ("a", 0), ("b", 0), ("c", 0), ("d", 1), ("e", 2), ("f", 2), ("g", 3),
            ]
            for (id, offset) in offsets.shuffled() { try await store.recordAudit(Self.event(id, at: offset)) }
            try await store.recordAudit(Self.event("z", at: 1, in: "beta"))

            var pages: [[String]] = []
            var cursor: AuditCursor?
            repeat {
                let page = try await store.auditEvents(AuditQuery(organization: "acme", limit: 2), after: cursor)
                pages.append(page.map(\.id))
                cursor = page.last.map { AuditCursor(time: $0.time.milliseconds, id: $0.id) }
            } while cursor != nil && pages.count < 10
            #expect(pages == [["g", "f"], ["e", "d"], ["c", "b"], ["a"], []])

            // The cursor of a token, as the API hands it out, resumes the same way, with the filters still applied.
            let token = AuditCursor(time: Self.now.addingTimeInterval(2).milliseconds, id: "f").token
            let filtered = AuditQuery(organization: "acme", from: Self.now.addingTimeInterval(1), limit: 10)
            #expect(
                try await store.auditEvents(filtered, after: try AuditCursor(token: token)).map(\.id) == ["e", "d"])
        }
    }

    /// Changes record their event in their own transaction: it is there when the change happened, and rolls back
    /// with a change that is refused.
    @Test(arguments: MetadataBackend.available)
    func changesRecordTheirEventOnlyWhenTheyHappen(backend: MetadataBackend) async throws {
        try await backend.withStore { store, _ in
            try await Self.setUp(store)
            var offset: TimeInterval = 0
            var recorded: [String] = []
            func audit(_ action: String, happens: Bool = true) -> AuditEvent {
                offset += 1
                let id = "\(action)#\(Int(offset))"
                if happens { recorded.append(id) }
                return Self.event(id, at: offset, action: action)
            }
            let stack = StackReference(project: "web", name: "prod")

            // Changes that happen.
            let token = try await store.createToken(
                login: "admin", tokenHash: "h-ci", description: "ci", expiresAt: nil, at: Self.now,
                audit: audit(AuditAction.tokenCreated))
            try await store.revokeToken(id: token, at: Self.now, audit: audit(AuditAction.tokenRevoked))
            let version = try await store.beginVersion(
                organization: "acme", draft: Self.draft("p", tag: "1"), at: Self.now,
                audit: audit(AuditAction.versionCreated))
            let archive = StoredBlob(key: "k/p1", size: 1, sha256: "a")
            _ = try await store.recordUpload(versionID: version.id, archive: archive, at: Self.now)
            try await store.completeVersion(
                versionID: version.id, recordedUpload: archive.key, archive: archive, at: Self.now,
                audit: audit(AuditAction.versionCompleted))
            try await store.createGroup(
                organization: "acme", name: "prod", mode: .audit, agentPoolID: nil, at: Self.now,
                audit: audit(AuditAction.groupCreated))
            var applies = GroupChanges()
            applies.addStacks = [stack]
            applies.addPacks = [.init(packID: version.packID, versionID: version.id, config: nil)]
            try await store.updateGroup(
                organization: "acme", name: "prod", changes: applies, audit: audit(AuditAction.groupUpdated))
            let extra = try await Self.publish(store, "acme", "p", tag: "2")
            _ = try await store.deleteVersion(id: extra.id, audit: audit(AuditAction.versionDeleted))

            // Changes that are refused.
            try await expectRegistryError(.notFound) {
                _ = try await store.createToken(
                    login: "nobody", tokenHash: "h-x", description: "", expiresAt: nil, at: Self.now,
                    audit: audit(AuditAction.tokenCreated, happens: false))
            }
            try await expectRegistryError(.conflict) {
                try await store.revokeToken(
                    id: token, at: Self.now, audit: audit(AuditAction.tokenRevoked, happens: false))
            }
            try await expectRegistryError(.conflict) {
                _ = try await store.beginVersion(
                    organization: "acme", draft: Self.draft("p", tag: "1"), at: Self.now,
                    audit: audit(AuditAction.versionCreated, happens: false))
            }
            try await expectRegistryError(.invalid) {
                try await store.completeVersion(
                    versionID: version.id, recordedUpload: archive.key, archive: archive, at: Self.now,
                    audit: audit(AuditAction.versionCompleted, happens: false))
            }
            try await expectRegistryError(.conflict) {
                try await store.createGroup(
                    organization: "acme", name: "prod", mode: .audit, agentPoolID: nil, at: Self.now,
                    audit: audit(AuditAction.groupCreated, happens: false))
            }
            var failing = GroupChanges()
            failing.removeStacks = [StackReference(project: "api", name: "prod")]
            try await expectRegistryError(.notFound) {
                try await store.updateGroup(
                    organization: "acme", name: "prod", changes: failing,
                    audit: audit(AuditAction.groupUpdated, happens: false))
            }
            try await expectRegistryError(.conflict) {
                _ = try await store.deleteVersion(
                    id: version.id, audit: audit(AuditAction.versionDeleted, happens: false))
            }
            try await expectRegistryError(.invalid) {
                _ = try await store.deletePack(
                    organization: "acme", name: "p", audit: audit(AuditAction.packDeleted, happens: false))
            }
            try await expectRegistryError(.notFound) {
                try await store.deleteGroup(
                    organization: "acme", name: "staging", audit: audit(AuditAction.groupDeleted, happens: false))
            }
            // The refusals changed nothing either.
            #expect(try await store.version(id: version.id)?.applied == true)
            #expect(try await store.group(organization: "acme", name: "prod").stacks == [stack])

            // And the last changes that happen.
            try await store.deleteGroup(organization: "acme", name: "prod", audit: audit(AuditAction.groupDeleted))
            _ = try await store.deletePack(organization: "acme", name: "p", audit: audit(AuditAction.packDeleted))

            let events = try await Self.everyEvent(store)
            #expect(events.reversed().map(\.id) == recorded)
            #expect(events.allSatisfy { $0.organization == "acme" && $0.actor == "admin" })
        }
    }
}
