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

    @OptionGroup var target: StackServerOptions

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
        let access = try ClientOptions.access(server: target.server, token: target.token)
        let stackReference = try ClientOptions.stack(target.stack)
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
