import Logging
import PolicyHubCore
import ServiceLifecycle

/// Runs the garbage collector every `interval` while the server runs; stops with the server.
public struct SweepService: Service {
    let collector: GarbageCollector
    let interval: Duration
    let logger: Logger

    public init(collector: GarbageCollector, interval: Duration, logger: Logger) {
        self.collector = collector
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                // Graceful shutdown (SIGTERM) ends the wait at once.
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
            do {
                _ = try await collector.sweep()
            } catch {
                // A failed sweep (database or storage away) is retried at the next interval.
                logger.warning("sweep failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
