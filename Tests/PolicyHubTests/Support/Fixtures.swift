import Foundation
import PolicyHubCore
import PolicyHubTestSupport

enum Fixtures {
    /// A policy as the CLI sends it.
    static func policy(
        _ name: String, level: String = "mandatory", schema: JSONValue? = nil
    ) -> JSONValue {
        var members: [String: JSONValue] = [
            "name": .string(name), "displayName": .string("Rule \(name)"), "description": .string("Checks \(name)."),
            "enforcementLevel": .string(level), "message": .string("\(name) failed"),
        ]
        if let schema { members["configSchema"] = schema }
        return .object(members)
    }

    static func createBody(
        _ name: String, tag: String?, policies: [JSONValue] = [policy("rule")], tagKey: String = "versionTag"
    ) -> JSONValue {
        var members: [String: JSONValue] = [
            "name": .string(name), "displayName": .string("Pack \(name)"), "policies": .array(policies),
            "runtime": .string("nodejs"), "metadata": .object(["git.head": .string("abc123")]),
        ]
        if let tag { members[tagKey] = .string(tag) }
        return .object(members)
    }

    /// A pack's `.tgz` of the given files (paths relative to the archive root), laid out as tar lays it out.
    static func packArchive(
        files: [String: String] = [
            "package/PulumiPolicy.yaml": "runtime: nodejs\nversion: 1.0.0\n", "package/index.js": "// rules\n",
        ]
    ) -> [UInt8] {
        TarBuilder.archive(files: files)
    }
}
