import ArgumentParser
import Foundation
import PolicyHubFetch

/// `policyhub fetch`: gets a stack's required packs for pulumi runs whose state is not in PolicyHub.
struct FetchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Download the policy packs a stack must run and print the pulumi arguments that enforce them.",
        discussion: """
            Prints one line per pack, "--policy-pack DIR --policy-pack-config FILE", for `pulumi preview` and \
            `pulumi up`. With --exec, runs the command after "--" with those arguments appended instead, and exits \
            with its status. When that command is pulumi, it also gets "--event-log FILE" (unless it names its own) \
            and what the policies found is reported to PolicyHub afterwards, as `policyhub report` does.
            Packs are cached in DEST by SHA-256: nothing is downloaded twice.
            """
    )

    @Option(help: "The PolicyHub server, e.g. http://127.0.0.1:8080 (env POLICYHUB_SERVER).")
    var server: String?

    @Option(help: "An access token (env POLICYHUB_TOKEN).")
    var token: String?

    @Option(help: "The stack as ORG/PROJECT/STACK.")
    var stack: String

    @Option(help: "The cache directory for packs, their config files and unsent reports.")
    var dest: String = "./.policyhub-packs"

    @Flag(help: "Run the command given after \"--\" with the packs' arguments appended, and exit with its status.")
    var exec = false

    @Argument(parsing: .postTerminator, help: "With --exec: the command to run, e.g. -- pulumi up --yes.")
    var command: [String] = []

    func run() async throws {
        let updateVersion = ClientOptions.updateVersion(startedAt: Date())
        if exec && command.isEmpty { throw ClientOptions.usageError("--exec needs a command after \"--\"") }
        if !exec && !command.isEmpty { throw ClientOptions.usageError("a command after \"--\" needs --exec") }
        let access = try ClientOptions.access(server: server, token: token)
        let stackReference = try ClientOptions.stack(stack)
        let destination = ClientOptions.absoluteDirectory(dest)

        let packs: [FetchedPack]
        do {
            packs = try await PackFetcher.fetch(
                server: access.server, token: access.token, stack: stackReference, destination: destination,
                progress: ClientOptions.say)
        } catch {
            throw fail(error)
        }

        let arguments = packs.map { ["--policy-pack", $0.directory.path, "--policy-pack-config", $0.configFile.path] }
        if exec {
            let status = await runAndReport(
                packArguments: arguments.flatMap { $0 }, access: access, stack: stackReference,
                destination: destination, updateVersion: updateVersion)
            throw ExitCode(status)
        }
        for pair in arguments { print(ShellQuoting.line(pair)) }
    }

    /// Runs the command as a child, then reports what its event log says. Returns the child's status (127 when it
    /// cannot be started); the report's fate never changes it.
    private func runAndReport(
        packArguments: [String], access: ClientOptions.Access, stack: StackPath, destination: URL,
        updateVersion: Int64
    ) async -> Int32 {
        let runs = destination.appendingPathComponent("runs", isDirectory: true)
        var plan = EventLogPlan(
            command: command, packArguments: packArguments, runsDirectory: runs,
            workingDirectory: URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true))
        if plan.isTemporary {
            do {
                try FileManager.default.createDirectory(at: runs, withIntermediateDirectories: true)
                EventLogPlan.removeAbandonedLogs(in: runs)
            } catch {
                ClientOptions.say("warning: cannot create \(runs.path) (\(error)): the run's results are not reported")
                plan.command = command + packArguments
                plan.logFile = nil
                plan.isTemporary = false
            }
        }

        let status: Int32
        do {
            status = try await ChildProcess.run(plan.command)
        } catch {
            ClientOptions.say("error: cannot run \(plan.command[0]): \(error)")
            return 127
        }
        guard let logFile = plan.logFile else { return status }
        defer { if plan.isTemporary { try? FileManager.default.removeItem(at: logFile) } }
        guard FileManager.default.fileExists(atPath: logFile.path) else {
            ClientOptions.say("warning: \(plan.command[0]) wrote no event log to \(logFile.path): nothing is reported")
            return status
        }
        let findings: PolicyFindings
        do {
            findings = try EngineEventLog.read(contentsOf: logFile)
        } catch {
            ClientOptions.say("warning: cannot read the event log \(logFile.path) (\(error)): nothing is reported")
            return status
        }
        let reporter = ResultsReporter(
            server: access.server, token: access.token, spool: ReportSpool(cacheDirectory: destination),
            say: ClientOptions.say)
        _ = await reporter.report(
            eventLog: findings, logFile: logFile, exitStatus: status, stack: stack, updateVersion: updateVersion)
        return status
    }
}

/// What `fetch` and `report` share: where the server is, how to say things, and how usage errors end a run.
enum ClientOptions {
    struct Access {
        var server: URL
        var token: String
    }

    /// `--server` and `--token`, else `POLICYHUB_SERVER` and `POLICYHUB_TOKEN`, checked.
    static func access(server: String?, token: String?) throws -> Access {
        guard let serverText = Environment.value(server, "POLICYHUB_SERVER") else {
            throw usageError("no server: pass --server or set POLICYHUB_SERVER")
        }
        guard let url = URL(string: serverText), ["http", "https"].contains(url.scheme?.lowercased()),
            url.host != nil
        else {
            throw usageError("--server must be an http(s) URL, not '\(serverText)'")
        }
        guard let token = Environment.value(token, "POLICYHUB_TOKEN") else {
            throw usageError("no token: pass --token or set POLICYHUB_TOKEN")
        }
        return Access(server: url, token: token)
    }

    static func stack(_ text: String) throws -> StackPath {
        guard let stack = StackPath(text) else { throw usageError("--stack must be ORG/PROJECT/STACK, not '\(text)'") }
        return stack
    }

    /// A directory option as an absolute path: printed arguments must work from any directory.
    static func absoluteDirectory(_ path: String) -> URL {
        if path.hasPrefix("/") { return URL(fileURLWithPath: path, isDirectory: true).standardizedFileURL }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
            .appendingPathComponent(path, isDirectory: true).standardizedFileURL
    }

    /// The results' update version when none is given: milliseconds since 1970 at the start of the run, which
    /// grow from one run of a stack to the next.
    static func updateVersion(startedAt date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
    }

    /// One "error: " line on stderr, and the exit status of a usage error (64, EX_USAGE).
    static func usageError(_ message: String) -> ExitCode {
        say("error: \(FetchError(message).description)")
        return ExitCode.validationFailure
    }

    @Sendable static func say(_ line: String) {
        FileHandle.standardError.write(Data("\(line)\n".utf8))
    }
}
