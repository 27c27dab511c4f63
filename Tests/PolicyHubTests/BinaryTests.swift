import Foundation
import HTTPTypes
import PolicyHubCore
import Testing

/// The built `policyhub` executable over real HTTP, as users and the Pulumi CLI drive it.
@Suite("The policyhub binary", .serialized)
struct BinaryTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("policyhub-bin-\(UUID().uuidString)")

    @Test func aFirstStartCreatesTheAdminAndTheCLIFlowWorksEndToEnd() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let dataDir = directory.appendingPathComponent("data")
        let server = try ServerProcess(dataDir: dataDir)
        try await server.waitUntilReady()

        let tokenFile = dataDir.appendingPathComponent("initial-admin-token")
        let token = try String(contentsOf: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(AccessToken.isWellFormed(token))
        let mode = try FileManager.default.attributesOfItem(atPath: tokenFile.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(server.output.contains(token))
        #expect(server.output.contains("pulumi login http://127.0.0.1:\(server.port)"))

        let archive = Fixtures.packArchive()
        try await server.withClient { api in
            let user = try await api.send(.get, "/api/user", token: token)
            #expect(user.json["githubLogin"] == "admin")
            let created = try await api.send(
                .post, "/api/orgs/default/policypacks", token: token, json: Fixtures.createBody("guard", tag: "1.0.0"))
            #expect(created.status == .created)
            let uploadURI = try #require(created.json["uploadURI"]?.stringValue)
            #expect(uploadURI.hasPrefix("http://127.0.0.1:\(server.port)/api/uploads/"))
            let headers = created.json["requiredHeaders"]?.objectValue?.compactMapValues(\.stringValue) ?? [:]
            #expect(try await api.upload(uploadURI, archive, headers: headers).status == .ok)
            let completed = try await api.send(
                .post, "/api/orgs/default/policypacks/guard/versions/1.0.0/complete", token: token)
            #expect(completed.status == .noContent)
            let list = try await api.send(.get, "/api/orgs/default/policypacks", token: token)
            #expect(list.json["policyPacks"]?.arrayValue?.first?["versionTags"] == ["1.0.0"])
            let version = try await api.send(.get, "/api/orgs/default/policypacks/guard/versions/1.0.0", token: token)
            #expect(version.json["name"] == "guard")
            let deleted = try await api.send(
                .delete, "/api/orgs/default/policypacks/guard/versions/1.0.0", token: token)
            #expect(deleted.status == .ok)
            #expect(try await api.publish("default", "keep", tag: "2.0.0", token: token, archive: archive) == 1)
        }

        #expect(try await server.terminate() == 0)

        // A second start on the same store keeps everything and creates no new admin.
        let restarted = try ServerProcess(dataDir: dataDir)
        try await restarted.waitUntilReady()
        #expect(!restarted.output.contains("pul-"))
        #expect(try String(contentsOf: tokenFile, encoding: .utf8).contains(token))
        try await restarted.withClient { api in
            let list = try await api.send(.get, "/api/orgs/default/policypacks", token: token)
            #expect(list.json["policyPacks"]?.arrayValue?.map { $0["name"] } == ["keep"])
        }
        #expect(try await restarted.terminate() == 0)
    }

    @Test func adminCommandsWorkBesideARunningServer() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let dataDir = directory.appendingPathComponent("data")
        let server = try ServerProcess(dataDir: dataDir)
        try await server.waitUntilReady()
        let store = ["--data-dir", dataDir.path]

        #expect(try await PolicyHubBinary.run(["admin", "create-org", "acme"] + store).status == 0)
        #expect(try await PolicyHubBinary.run(["admin", "create-user", "alice"] + store).status == 0)
        #expect(
            try await PolicyHubBinary.run(["admin", "add-member", "acme", "alice", "--role", "admin"] + store).status
                == 0)
        let created = try await PolicyHubBinary.run(["admin", "create-token", "alice"] + store)
        #expect(created.status == 0)
        let token = created.stdout.trimmingCharacters(in: .newlines)
        #expect(AccessToken.isWellFormed(token))
        #expect(created.stdout == token + "\n")

        try await server.withClient { api in
            #expect(try await api.publish("acme", "rules", tag: "1.0.0", token: token) == 1)
            let user = try await api.send(.get, "/api/user", token: token)
            #expect(user.json["organizations"]?.arrayValue?.map { $0["githubLogin"] } == ["acme"])
        }

        // Tokens can expire, are listed without their secret, and revoking one refuses it at once.
        let temporary = try await PolicyHubBinary.run(
            ["admin", "create-token", "alice", "--description", "laptop", "--expires-in", "30d"] + store)
        #expect(temporary.status == 0)
        let listed = try await PolicyHubBinary.run(["admin", "list-tokens", "alice"] + store)
        #expect(listed.status == 0)
        #expect(!listed.stdout.contains("pul-"))
        let laptopLine = try #require(listed.stdout.split(separator: "\n").first { $0.hasSuffix("\tlaptop") })
        #expect(laptopLine.contains("\tactive\t"))
        let laptopID = String(laptopLine.split(separator: "\t")[0])
        let laptopToken = temporary.stdout.trimmingCharacters(in: .newlines)
        let before = try await server.withClient { api in try await api.send(.get, "/api/user", token: laptopToken) }
        #expect(before.status == .ok)
        #expect(try await PolicyHubBinary.run(["admin", "revoke-token", laptopID] + store).status == 0)
        let after = try await server.withClient { api in try await api.send(.get, "/api/user", token: laptopToken) }
        #expect(after.status == .unauthorized)
        let relisted = try await PolicyHubBinary.run(["admin", "list-tokens", "alice"] + store)
        #expect(relisted.stdout.contains("\trevoked\t"))

        let failures: [[String]] = [
            ["admin", "revoke-token", laptopID],  // already revoked
            ["admin", "revoke-token", "no-such-id"],
            ["admin", "create-token", "alice", "--expires-in", "soon"],
            ["admin", "list-tokens", "nobody"],
            ["admin", "list-tokens", "alice", "--database-pool-size", "0"],
            ["admin", "create-org", "acme"],  // duplicate
            ["admin", "create-user", "alice"],  // duplicate
            ["admin", "create-org", "alice"],  // taken by a user
            ["admin", "create-org", "bad name"],
            ["admin", "add-member", "acme", "nobody", "--role", "member"],
            ["admin", "add-member", "acme", "alice", "--role", "owner"],
            ["admin", "add-member", "acme", "alice", "--role", "admin"],  // already a member
            ["admin", "create-token", "nobody"],
        ]
        for arguments in failures {
            let result = try await PolicyHubBinary.run(arguments + store)
            #expect(result.status != 0, "\(arguments)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(arguments): \(result.stderr)")
            #expect(result.stdout.isEmpty, "\(arguments)")
        }
        #expect(try await server.terminate() == 0)
    }

    @Test func flagsFallBackToEnvironmentVariables() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let dataDir = directory.appendingPathComponent("from-env")
        let result = try await PolicyHubBinary.run(
            ["admin", "create-user", "envuser"], environment: ["POLICYHUB_DATA_DIR": dataDir.path])
        #expect(result.status == 0)
        #expect(FileManager.default.fileExists(atPath: dataDir.appendingPathComponent("policyhub.sqlite").path))
    }
}
