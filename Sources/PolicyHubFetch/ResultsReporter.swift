import Foundation

/// Sends what a run's policies found to PolicyHub, for `policyhub report` and `policyhub fetch --exec`.
///
/// Reports spooled by earlier runs for the same server are resent first, oldest first. A report the server cannot
/// take now (unreachable, timed out, 429, 5xx) is spooled for the next run; one it refuses for good (another 4xx)
/// is dropped. Nothing here throws: a report must never fail a deployment, so every problem is a line for stderr.
public struct ResultsReporter: Sendable {
    public var server: URL
    public var token: String
    public var spool: ReportSpool
    /// Receives each line to print (on stderr), warnings already prefixed with "warning: ".
    public var say: @Sendable (String) -> Void
    /// At most this many spooled reports are resent by one run, so a long backlog cannot hold up a deployment.
    public var maxResends = 100
    /// Nor can a slow server: no resend starts after this long.
    public var resendBudget: Duration = .seconds(60)
    public var limits = ResultsReport.Limits()

    public init(server: URL, token: String, spool: ReportSpool, say: @escaping @Sendable (String) -> Void) {
        self.server = server
        self.token = token
        self.spool = spool
        self.say = say
    }

    /// What became of a report.
    public enum Delivery: Sendable, Equatable {
        case recorded(ReportAnswer)
        case spooled(URL)
        case dropped
        /// Neither sent nor spooled (it could not be encoded, or the spool could not be written).
        case lost
    }

    /// Reads `logFile`, builds its report and delivers it. `exitStatus` is pulumi's, when known: the run succeeded
    /// when it is 0 (when unknown: when no mandatory policy was violated) and the log is complete.
    public func report(
        eventLog findings: PolicyFindings, logFile: URL, exitStatus: Int32?, stack: StackPath, updateVersion: Int64
    ) async -> Delivery {
        if findings.truncated {
            say("warning: \(logFile.path) ends inside an event (the run was interrupted): reporting what it holds")
        }
        if findings.unreadableLines > 0 {
            say(
                "warning: skipped \(Self.count(findings.unreadableLines, "line")) of \(logFile.path) that are no engine events"
            )
        }
        let succeeded = ResultsReport.succeeded(findings, exitStatus: exitStatus)
        let bounded: BoundedReport
        do {
            bounded = try ResultsReport(findings: findings, succeeded: succeeded).bounded(by: limits)
        } catch {
            say("warning: cannot encode the report for \(stack): \(error); nothing was reported")
            return .lost
        }
        if bounded.omittedViolations > 0 {
            let total = bounded.report.results.violations.count + bounded.omittedViolations
            say(
                "warning: the run found \(Self.count(total, "violation")); only the first "
                    + "\(bounded.report.results.violations.count) are reported")
        }
        if bounded.omittedEvaluations > 0 {
            let kept = bounded.report.results.evaluations?.count ?? 0
            say(
                "warning: the run has \(Self.count(kept + bounded.omittedEvaluations, "policy summary", "policy summaries")); "
                    + "only the first \(kept) are reported")
        }
        return await deliver(bounded, stack: stack, updateVersion: updateVersion)
    }

    /// Resends the spool, then sends `bounded`.
    public func deliver(_ bounded: BoundedReport, stack: StackPath, updateVersion: Int64) async -> Delivery {
        let label = "\(stack) (update \(updateVersion))"
        let spooled = SpooledReport(server: server, stack: stack, updateVersion: updateVersion, body: bounded.body)
        let outcome: ReportOutcome
        do {
            outcome = try await ReportSender.with(server: server, token: token) { sender in
                if let reason = await resendSpooled(with: sender) { return .retryLater(reason: reason) }
                return await sender.send(body: bounded.body, stack: stack, updateVersion: updateVersion)
            }
        } catch {
            outcome = .retryLater(reason: "cannot send: \(error)")
        }
        switch outcome {
        case .accepted(let answer):
            say(Self.summary(answer, sent: bounded.report, label: label))
            if let unknown = answer.unknownPolicyPacks, !unknown.isEmpty {
                say(
                    "warning: \(unknown.joined(separator: ", ")) \(unknown.count == 1 ? "is" : "are") not published in "
                        + "PolicyHub; recorded but flagged")
            }
            return .recorded(answer)
        case .refused(let status, let message):
            let reason = message.isEmpty ? "" : ": \(FetchError(message).description)"
            say(
                "warning: the server refused the report for \(label)\(reason) (HTTP \(status)); it was NOT "
                    + "recorded and is dropped")
            return .dropped
        case .retryLater(let reason):
            do {
                let file = try spool.write(spooled)
                say(
                    "warning: \(reason); the report for \(label) is spooled in \(file.path) and will be resent by "
                        + "the next run")
                return .spooled(file)
            } catch {
                say("warning: \(reason); the report for \(label) is lost: it cannot be spooled either (\(error))")
                return .lost
            }
        }
    }

    /// Resends this server's spooled reports, oldest first; each the server accepts or refuses for good is removed.
    /// Stops at the first that must wait (the rest would wait too) and returns why, or nil when none had to.
    func resendSpooled(with sender: ReportSender) async -> String? {
        let (entries, unreadable) = spool.list(server: server)
        for file in unreadable { say("warning: \(file.path) is no spooled report; it is left alone") }
        guard !entries.isEmpty else { return nil }
        var resent = 0
        var dropped = 0
        var stoppedBy: String?
        let deadline = ContinuousClock.now + resendBudget
        for entry in entries.prefix(maxResends) {
            guard ContinuousClock.now < deadline else { break }
            let report = entry.report
            let outcome = await sender.send(
                body: report.bodyData, stack: report.stackPath, updateVersion: report.updateVersion)
            switch outcome {
            case .accepted:
                resent += 1
            case .refused(let status, let message):
                dropped += 1
                let reason = message.isEmpty ? "" : ": \(FetchError(message).description)"
                say(
                    "warning: the server refused the spooled report for \(report.stackPath) (update "
                        + "\(report.updateVersion))\(reason) (HTTP \(status)); it was NOT recorded and is dropped")
            case .retryLater(let reason):
                stoppedBy = reason
            }
            if stoppedBy != nil { break }
            try? spool.remove(entry)
        }
        let kept = entries.count - resent - dropped
        var line = "resent \(Self.count(resent, "spooled report"))"
        if kept > 0 { line += "; \(kept) still spooled" + (stoppedBy.map { " (\($0))" } ?? "") }
        say(line)
        return stoppedBy
    }

    static func summary(_ answer: ReportAnswer, sent report: ResultsReport, label: String) -> String {
        if answer.recorded == false { return "the report for \(label) was already recorded" }
        let violations = answer.violations ?? report.results.violations.count
        guard violations > 0 else { return "reported no violations for \(label)" }
        return "reported \(count(violations, "violation")) of \(count(report.policyCount, "policy", "policies")) "
            + "for \(label)"
    }

    static func count(_ number: Int, _ singular: String, _ plural: String? = nil) -> String {
        "\(number) \(number == 1 ? singular : plural ?? singular + "s")"
    }
}
