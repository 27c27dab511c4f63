import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a command could not be started, e.g. "No such file or directory".
public struct SpawnError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// Runs a command as a child that shares this process's stdin, stdout, stderr, directory and environment.
///
/// SIGINT and SIGTERM sent to this process by another process (CI cancelling a job, `kill`) are passed on to the
/// child, and do not end this process, which waits for the child and returns its status. A Ctrl-C typed at the
/// terminal is not passed on: the terminal already sent it to the child, which is in the same process group, and
/// a second one would make pulumi stop at once instead of cancelling cleanly.
public enum ChildProcess {
    /// Runs `command` (its first word searched in PATH unless it holds a "/") and returns its exit status as a
    /// shell gives it: the exit code, or 128 + the signal that killed it.
    public static func run(_ command: [String]) async throws(SpawnError) -> Int32 {
        precondition(!command.isEmpty, "a command has at least a name")
        fflush(nil)
        let previous = SignalForwarding.install()
        defer { SignalForwarding.restore(previous) }
        let pid = try spawn(command)
        SignalForwarding.forward(to: pid)
        let status = await wait(for: pid)
        SignalForwarding.forward(to: 0)
        return status
    }

    private static func spawn(_ command: [String]) throws(SpawnError) -> pid_t {
        #if canImport(Darwin)
        var attributes: posix_spawnattr_t? = nil
        #else
        var attributes = posix_spawnattr_t()
        #endif
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The child starts with default dispositions and nothing blocked, whatever this process set up.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGPIPE, SIGQUIT, SIGHUP] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        // This process's environment, read through Foundation (the C global is shared mutable state to Swift).
        let environment: [UnsafeMutablePointer<CChar>?] =
            ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + environment { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, command[0], nil, &attributes, argv, environment)
        guard result == 0 else { throw SpawnError(description: String(cString: strerror(result))) }
        return pid
    }

    /// Waits on a thread of its own, so no task thread is blocked for the length of a deployment.
    private static func wait(for pid: pid_t) async -> Int32 {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 {
                    guard errno == EINTR else {
                        continuation.resume(returning: 127)
                        return
                    }
                }
                continuation.resume(returning: shellStatus(status))
            }
        }
    }

    /// WEXITSTATUS, or 128 + WTERMSIG: the macros are not imported into Swift.
    static func shellStatus(_ status: Int32) -> Int32 {
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }
}

/// The child signals are passed on to, 0 while there is none.
private let forwardedChild = Atomic<Int32>(0)
/// A signal that arrived after the handlers were installed but before the child's pid was known.
private let pendingSignal = Atomic<Int32>(0)

private enum SignalForwarding {
    static let signals = [SIGINT, SIGTERM]

    #if canImport(Glibc) || canImport(Darwin)
    typealias Saved = [sigaction]

    static func install() -> Saved {
        pendingSignal.store(0, ordering: .sequentiallyConsistent)
        var action = sigaction()
        #if canImport(Darwin)
        action.__sigaction_u.__sa_sigaction = handle
        #else
        action.__sigaction_handler.sa_sigaction = handle
        #endif
        action.sa_flags = SA_SIGINFO | SA_RESTART
        sigemptyset(&action.sa_mask)
        return signals.map { signal in
            var old = sigaction()
            sigaction(signal, &action, &old)
            return old
        }
    }

    static func restore(_ saved: Saved) {
        for (signal, old) in zip(signals, saved) {
            var old = old
            sigaction(signal, &old, nil)
        }
    }
    #else
    typealias Saved = Void
    static func install() -> Saved {}
    static func restore(_ saved: Saved) {}
    #endif

    static func forward(to pid: pid_t) {
        forwardedChild.store(pid, ordering: .sequentiallyConsistent)
        guard pid > 0 else { return }
        let pending = pendingSignal.exchange(0, ordering: .sequentiallyConsistent)
        if pending > 0 { kill(pid, pending) }
    }
}

#if canImport(Glibc) || canImport(Darwin)
/// The signal handler: only async-signal-safe work (atomics and kill).
private func handle(_ signal: Int32, _ info: UnsafeMutablePointer<siginfo_t>?, _ context: UnsafeMutableRawPointer?) {
    if let info, !sentByAProcess(info.pointee) { return }
    let child = forwardedChild.load(ordering: .sequentiallyConsistent)
    if child > 0 {
        kill(child, signal)
    } else {
        pendingSignal.store(signal, ordering: .sequentiallyConsistent)
    }
}

/// False for a signal the kernel raised itself, such as the terminal's Ctrl-C (which the child got too).
private func sentByAProcess(_ info: siginfo_t) -> Bool {
    #if canImport(Darwin)
    return info.si_pid != 0
    #else
    // SI_USER (kill), SI_QUEUE (sigqueue) and SI_TKILL (tgkill) are zero or negative; SI_KERNEL is 0x80.
    return info.si_code <= 0
    #endif
}
#endif
