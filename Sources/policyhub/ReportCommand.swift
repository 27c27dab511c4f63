import ArgumentParser
import Foundation
import PolicyHubFetch

/// `policyhub report`: sends what the policies of one `pulumi preview` or `pulumi up` found to PolicyHub.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Send the policy results in a pulumi event log to PolicyHub.",
        discussion: """
            Reads the engine event log of `pulumi preview` or `pulumi up` (their --event-log FILE) and records its \
            policy violations and summaries as one update of the stack. A report the server cannot take now \
            (unreachable, busy) is kept in CACHE-DIR and resent by the next report or fetch --exec; a report never \
            fails: the exit status is 0 whatever the server says.
            """
    )

    @OptionGroup var target: StackServerOptions

    @Option(help: "The event log pulumi wrote.")
    var eventLog: String

    @Option(help: "Where reports that could not be sent wait for the next run (fetch's --dest).")
    var cacheDir: String = "./.policyhub-packs"

    @Option(help: "The update's number; later runs of a stack need larger ones (default: now, in milliseconds).")
    var updateVersion: Int64?

    @Option(help: "pulumi's exit status: the run succeeded if it is 0 (default: if no mandatory policy failed).")
    var pulumiExitStatus: Int32?

    func run() async throws {
        let startedAt = Date()
        let access = try ClientOptions.access(server: target.server, token: target.token)
        let stackReference = try ClientOptions.stack(target.stack)
        if let updateVersion, updateVersion < 1 {
            throw ClientOptions.usageError("--update-version must be a positive number, not \(updateVersion)")
        }
        if let pulumiExitStatus, pulumiExitStatus < 0 {
            throw ClientOptions.usageError("--pulumi-exit-status must be 0 or more, not \(pulumiExitStatus)")
        }
        let logFile =
            eventLog.hasPrefix("/")
            ? URL(fileURLWithPath: eventLog)
            : URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
                .appendingPathComponent(eventLog)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: logFile.path, isDirectory: &isDirectory), !isDirectory.boolValue
        else {
            ClientOptions.say("error: no event log at \(logFile.path)")
            throw ExitCode(66)
        }
        let findings: PolicyFindings
        do {
            findings = try EngineEventLog.read(contentsOf: logFile)
        } catch {
            ClientOptions.say("error: cannot read the event log \(logFile.path): \(error.localizedDescription)")
            throw ExitCode(66)
        }

        let reporter = ResultsReporter(
            server: access.server, token: access.token,
            spool: ReportSpool(cacheDirectory: ClientOptions.absoluteDirectory(cacheDir)), say: ClientOptions.say)
        _ = await reporter.report(
            eventLog: findings, logFile: logFile, exitStatus: pulumiExitStatus, stack: stackReference,
            updateVersion: updateVersion ?? ClientOptions.updateVersion(startedAt: startedAt))
    }
}
