import ArgumentParser
import Foundation
import PolicyHubFetch

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `policyhub fetch`: gets a stack's required packs for pulumi runs whose state is not in PolicyHub.
struct FetchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Download the policy packs a stack must run and print the pulumi arguments that enforce them.",
        discussion: """
            Prints one line per pack, "--policy-pack DIR --policy-pack-config FILE", for `pulumi preview` and \
            `pulumi up`. With --exec, runs the command after "--" with those arguments appended instead.
            Packs are cached in DEST by SHA-256: nothing is downloaded twice.
            """
    )

    @Option(help: "The PolicyHub server, e.g. http://127.0.0.1:8080 (env POLICYHUB_SERVER).")
    var server: String?

    @Option(help: "An access token (env POLICYHUB_TOKEN).")
    var token: String?

    @Option(help: "The stack as ORG/PROJECT/STACK.")
    var stack: String

    @Option(help: "The cache directory for packs and their config files.")
    var dest: String = "./.policyhub-packs"

    @Flag(help: "Run the command given after \"--\" with the packs' arguments appended, and exit with its status.")
    var exec = false

    @Argument(parsing: .postTerminator, help: "With --exec: the command to run, e.g. -- pulumi up --yes.")
    var command: [String] = []

    func run() async throws {
        if exec && command.isEmpty { throw fail(FetchError("--exec needs a command after \"--\"")) }
        if !exec && !command.isEmpty { throw fail(FetchError("a command after \"--\" needs --exec")) }
        guard let serverText = Environment.value(server, "POLICYHUB_SERVER") else {
            throw fail(FetchError("no server: pass --server or set POLICYHUB_SERVER"))
        }
        guard let serverURL = URL(string: serverText), ["http", "https"].contains(serverURL.scheme?.lowercased()),
            serverURL.host != nil
        else {
            throw fail(FetchError("--server must be an http(s) URL, not '\(serverText)'"))
        }
        guard let token = Environment.value(token, "POLICYHUB_TOKEN") else {
            throw fail(FetchError("no token: pass --token or set POLICYHUB_TOKEN"))
        }
        guard let stackReference = StackPath(stack) else {
            throw fail(FetchError("--stack must be ORG/PROJECT/STACK, not '\(stack)'"))
        }

        let packs: [FetchedPack]
        do {
            packs = try await PackFetcher.fetch(
                server: serverURL, token: token, stack: stackReference, destination: destinationURL,
                progress: { FileHandle.standardError.write(Data("\($0)\n".utf8)) })
        } catch {
            throw fail(error)
        }

        let arguments = packs.map { ["--policy-pack", $0.directory.path, "--policy-pack-config", $0.configFile.path] }
        if exec {
            try Self.replaceProcess(with: command + arguments.flatMap { $0 })
        }
        for pair in arguments { print(ShellQuoting.line(pair)) }
    }

    /// `--dest` as an absolute path: the printed arguments must work from any directory.
    private var destinationURL: URL {
        let relative = URL(fileURLWithPath: dest, isDirectory: true)
        if dest.hasPrefix("/") { return relative.standardizedFileURL }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
            .appendingPathComponent(dest, isDirectory: true).standardizedFileURL
    }

    /// Runs `command` in place of this process (execvp, searching PATH), so that it inherits stdio and signals
    /// and its exit status is ours. Returns only by throwing when the command cannot be started.
    private static func replaceProcess(with command: [String]) throws {
        fflush(nil)
        var argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        execvp(command[0], &argv)
        let reason = String(cString: strerror(errno))
        for pointer in argv { free(pointer) }
        FileHandle.standardError.write(Data("error: cannot run \(command[0]): \(reason)\n".utf8))
        throw ExitCode(127)
    }
}
