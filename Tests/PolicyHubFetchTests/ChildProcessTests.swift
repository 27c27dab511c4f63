import Foundation
import PolicyHubFetch
import Testing

/// How `fetch --exec` runs its command: where the event log goes, and the child's exit status.
@Suite("Running the command")
struct ChildProcessTests {
    static let runs = URL(fileURLWithPath: "/cache/runs", isDirectory: true)
    static let here = URL(fileURLWithPath: "/work/infra", isDirectory: true)
    static let packs = ["--policy-pack", "/cache/packs/d/package", "--policy-pack-config", "/cache/config/c.json"]

    static func plan(_ command: [String]) -> EventLogPlan {
        EventLogPlan(command: command, packArguments: packs, runsDirectory: runs, workingDirectory: here)
    }

    @Test func pulumiGetsAnEventLogOfOursAfterThePacks() throws {
        let plan = Self.plan(["pulumi", "up", "--yes"])
        let file = try #require(plan.logFile)
        #expect(plan.isTemporary)
        #expect(plan.command == ["pulumi", "up", "--yes"] + Self.packs + ["--event-log", file.path])
        #expect(file.deletingLastPathComponent().path == Self.runs.path)
        #expect(file.lastPathComponent.hasPrefix("events-") && file.lastPathComponent.hasSuffix(".jsonl"))
        #expect(Self.plan(["pulumi", "up"]).logFile != file, "each run has a log of its own")
        #expect(Self.plan(["/usr/local/bin/pulumi", "preview"]).isTemporary)
    }

    @Test func aCommandsOwnEventLogIsReadAndKept() {
        for command in [
            ["pulumi", "preview", "--event-log", "logs/events.jsonl"],
            ["pulumi", "preview", "--event-log=logs/events.jsonl"],
        ] {
            let plan = Self.plan(command)
            #expect(plan.command == command + Self.packs)
            #expect(plan.logFile?.path == "/work/infra/logs/events.jsonl")
            #expect(!plan.isTemporary)
        }
        #expect(Self.plan(["pulumi", "up", "--event-log", "/var/log/e.jsonl"]).logFile?.path == "/var/log/e.jsonl")
        // Streamed to a gRPC server: no file to read.
        let streamed = Self.plan(["pulumi", "up", "--event-log", "tcp://127.0.0.1:9000"])
        #expect(streamed.logFile == nil)
        #expect(streamed.command == ["pulumi", "up", "--event-log", "tcp://127.0.0.1:9000"] + Self.packs)
    }

    /// Only pulumi takes `--event-log`: another command gets just the packs' arguments, and nothing is reported.
    @Test func anotherCommandGetsNoEventLog() {
        let plan = Self.plan(["/bin/sh", "-c", "echo \"$@\"", "sh"])
        #expect(plan.command == ["/bin/sh", "-c", "echo \"$@\"", "sh"] + Self.packs)
        #expect(plan.logFile == nil)
        #expect(!plan.isTemporary)
    }

    @Test func theChildsExitStatusIsReturned() async throws {
        #expect(try await ChildProcess.run(["/bin/sh", "-c", "exit 0"]) == 0)
        #expect(try await ChildProcess.run(["sh", "-c", "exit 7"]) == 7, "found in PATH")
        #expect(try await ChildProcess.run(["/bin/sh", "-c", "kill -9 $$"]) == 128 + 9)
        #expect(try await ChildProcess.run(["/bin/sh", "-c", "kill -TERM $$"]) == 128 + 15)
    }

    @Test func aCommandThatCannotStartThrows() async {
        await #expect(throws: SpawnError.self) {
            try await ChildProcess.run(["policyhub-no-such-command-\(UUID().uuidString)"])
        }
    }

    @Test func logsOfKilledRunsAreRemovedButRecentOnesKept() throws {
        let runs = FileManager.default.temporaryDirectory.appendingPathComponent("runs-\(UUID())", isDirectory: true)
        defer { try? FileManager.default.removeItem(at: runs) }
        try FileManager.default.createDirectory(at: runs, withIntermediateDirectories: true)
        for name in ["events-old.jsonl", "events-new.jsonl", "other.jsonl"] {
            #expect(FileManager.default.createFile(atPath: runs.appendingPathComponent(name).path, contents: Data()))
        }
        for name in ["events-old.jsonl", "other.jsonl"] {
            try FileManager.default.setAttributes(
                [.modificationDate: Date().addingTimeInterval(-3 * 86400)],
                ofItemAtPath: runs.appendingPathComponent(name).path)
        }
        EventLogPlan.removeAbandonedLogs(in: runs)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: runs.path).sorted() == [
                "events-new.jsonl", "other.jsonl",
            ])
    }
}
