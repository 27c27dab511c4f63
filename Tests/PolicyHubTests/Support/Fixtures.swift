import Foundation
import PolicyHubCore

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

    /// A real `.tgz` made by tar from the given files (paths relative to the archive root).
    static func packArchive(
        files: [String: String] = [
            "package/PulumiPolicy.yaml": "runtime: nodejs\nversion: 1.0.0\n", "package/index.js": "// rules\n",
        ]
    ) throws -> [UInt8] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pack-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        for (path, contents) in files {
            let file = directory.appendingPathComponent(path)
            try FileManager.default.createDirectory(
                at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(contents.utf8).write(to: file)
        }
        let archive = directory.appendingPathComponent("out.tgz")
        let tops = Set(files.keys.map { String($0.split(separator: "/").first ?? "") }).sorted()
        try run("/usr/bin/tar", ["-czf", archive.path, "-C", directory.path] + tops)
        return [UInt8](try Data(contentsOf: archive))
    }

    static func run(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw TestFailure("\(executable) \(arguments) failed") }
    }
}
