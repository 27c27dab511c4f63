import ArgumentParser
import Foundation
import PolicyHubFetch

/// The server, token and stack that `fetch` and `report` both take.
struct StackServerOptions: ParsableArguments {
    @Option(help: "The PolicyHub server, e.g. http://127.0.0.1:8080 (env POLICYHUB_SERVER).")
    var server: String?

    @Option(help: "An access token (env POLICYHUB_TOKEN).")
    var token: String?

    @Option(help: "The stack as ORG/PROJECT/STACK.")
    var stack: String
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
