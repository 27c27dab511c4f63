import Foundation
import PolicyHubCore
import SQLKit

/// A report's violations, kept as one JSON document of the report (`policy_reports.violations`): they are only
/// ever read a report at a time, and a row each cost a large report more than its issues did.
extension SQLMetadataStore {
    /// One violation in the document, with the field names of Pulumi's report (read back with `JSONDecoder`).
    struct StoredViolation: Decodable {
        var message: String
        var policyName: String
        var policyPackName: String
        var policyPackVersion: String
        var enforcementLevel: String
        var kind: String
        var resourceUrn: String

        var violation: ReportedViolation {
            ReportedViolation(
                message: message, policyName: policyName, packName: policyPackName, packVersion: policyPackVersion,
                level: EnforcementLevel(rawValue: enforcementLevel) ?? .advisory,
                kind: IssueKind(rawValue: kind) ?? .preventative, resourceURN: resourceUrn)
        }
    }

    /// The document of `violations`, as `JSONEncoder` would write `StoredViolation`s but written directly: a report
    /// holds up to thousands, and the encoder took a tenth of a large report's time.
    static func violationsDocument(_ violations: [ReportedViolation]) -> String {
        var json: [UInt8] = []
        json.reserveCapacity(violations.count * 320 + 2)
        json.append(UInt8(ascii: "["))
        for (index, violation) in violations.enumerated() {
            if index > 0 { json.append(UInt8(ascii: ",")) }
            let fields = [
                ("message", violation.message), ("policyName", violation.policyName),
                ("policyPackName", violation.packName), ("policyPackVersion", violation.packVersion),
                ("enforcementLevel", violation.level.rawValue), ("kind", violation.kind.rawValue),
                ("resourceUrn", violation.resourceURN),
            ]
            for (position, (key, value)) in fields.enumerated() {
                json.append(UInt8(ascii: position == 0 ? "{" : ","))
                appendJSONString(key, to: &json)
                json.append(UInt8(ascii: ":"))
                appendJSONString(value, to: &json)
            }
            json.append(UInt8(ascii: "}"))
        }
        json.append(UInt8(ascii: "]"))
        return String(decoding: json, as: UTF8.self)
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// `text` as a JSON string: quotes, backslashes and control characters escaped, the rest as UTF-8.
    static func appendJSONString(_ text: String, to json: inout [UInt8]) {
        json.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                json.append(UInt8(ascii: "\\"))
                json.append(byte)
            case 0..<0x20:
                json.append(contentsOf: Array("\\u00".utf8))
                json.append(hexDigits[Int(byte >> 4)])
                json.append(hexDigits[Int(byte & 0xF)])
            default:
                json.append(byte)
            }
        }
        json.append(UInt8(ascii: "\""))
    }

    static func violations(inDocument document: String) throws -> [ReportedViolation] {
        try JSONDecoder().decode([StoredViolation].self, from: Data(document.utf8)).map(\.violation)
    }

    /// A violation's ID: its report's and its place in the report.
    static func violationID(report: String, index: Int) -> String { "\(report)-\(index)" }

    /// Where a page of current violations starts: stacks evaluated before `time`, or at `time` with a newest
    /// report up to `report`; in `report` itself, from `index` on.
    struct ViolationPosition {
        var time: Int64
        var report: String
        var index: Int

        /// Just after the violation the cursor names. An ID of another form (a token from before M0009) resumes at
        /// the next report.
        init(after cursor: ViolationCursor) {
            time = cursor.time
            if let dash = cursor.id.lastIndex(of: "-"), let index = Int(cursor.id[cursor.id.index(after: dash)...]) {
                report = String(cursor.id[..<dash])
                // A token is the client's: its index may be any integer, the largest too.
                self.index = index == .max ? .max : index + 1
            } else {
                report = cursor.id
                index = .max
            }
        }

        init(time: Int64, report: String, index: Int) {
            self.time = time
            self.report = report
            self.index = index
        }
    }

    public func currentViolations(organization: String, after: ViolationCursor?, limit: Int) async throws
        -> [CurrentViolation]
    {
        try await backend.withConnection { database in
            let orgID = try await Self.organizationID(database, organization)
            struct Part {
                var stack: StackReference
                var updateVersion: Int64
                var observedAt: Date
                var report: String
                var start: Int
            }
            // First the stacks (newest evaluation first) whose newest reports hold the page, by their counts; then
            // only those reports' documents.
            var parts: [Part] = []
            var wanted = limit
            var position = after.map(ViolationPosition.init(after:))
            let batch = 100
            while wanted > 0 {
                let from: SQLQueryString =
                    position.map {
                        """
                        AND (s.evaluated_at < \(bind: $0.time)
                            OR (s.evaluated_at = \(bind: $0.time) AND s.report_id <= \(bind: $0.report)))
                        """
                    } ?? ""
                let rows = try await database.raw(
                    """
                    SELECT s.project AS project, s.stack AS stack, s.update_version AS update_version,
                        s.evaluated_at AS evaluated_at, s.report_id AS report_id, r.violation_count AS violation_count
                    FROM policy_stacks s JOIN policy_reports r ON r.id = s.report_id
                    WHERE s.organization_id = \(bind: orgID) AND r.violation_count > 0 \(from)
                    ORDER BY s.evaluated_at DESC, s.report_id DESC LIMIT \(bind: batch)
                    """
                ).all()
                for row in rows where wanted > 0 {
                    let report = try row.string("report_id")
                    let time = try row.int("evaluated_at")
                    let start = position.map { $0.report == report && $0.time == time ? $0.index : 0 } ?? 0
                    let available = Int(try row.int("violation_count")) - start
                    guard available > 0 else { continue }
                    parts.append(
                        Part(
                            stack: StackReference(project: try row.string("project"), name: try row.string("stack")),
                            updateVersion: try row.int("update_version"), observedAt: Date(milliseconds: time),
                            report: report, start: start))
                    wanted -= available
                }
                guard rows.count == batch, let last = rows.last else { break }
                position = ViolationPosition(
                    time: try last.int("evaluated_at"), report: try last.string("report_id"), index: .max)
            }
            guard !parts.isEmpty else { return [] }
            var documents: [String: String] = [:]
            for row in try await database.raw(
                "SELECT id, violations FROM policy_reports WHERE id IN (\(binds: parts.map(\.report)))"
            ).all() {
                documents[try row.string("id")] = try row.string("violations")
            }
            var page: [CurrentViolation] = []
            for part in parts {
                let violations = try Self.violations(inDocument: documents[part.report] ?? "[]")
                for index in violations.indices.dropFirst(part.start) where page.count < limit {
                    let violation = violations[index]
                    page.append(
                        CurrentViolation(
                            id: Self.violationID(report: part.report, index: index), stack: part.stack,
                            updateVersion: part.updateVersion, violation: violation,
                            resource: ResourceParts(urn: violation.resourceURN), observedAt: part.observedAt))
                }
            }
            return page
        }
    }

    /// M0009: the violation rows of every report into its document, in the order they were stored; then the rows'
    /// table is dropped. Read in pages, written a report at a time.
    @Sendable static func foldReportViolations(_ database: any SQLDatabase) async throws {
        var report = ""
        var violations: [ReportedViolation] = []
        func write() async throws {
            guard !report.isEmpty else { return }
            try await database.raw(
                "UPDATE policy_reports SET violations = \(bind: violationsDocument(violations)) WHERE id = \(bind: report)"
            ).run()
        }
        var after: (report: String, id: String) = ("", "")
        while true {
            let rows = try await database.raw(
                """
                SELECT report_id, id, message, policy_name, pack_name, pack_version, level, kind, resource_urn
                FROM policy_report_violations
                WHERE report_id > \(bind: after.report) OR (report_id = \(bind: after.report) AND id > \(bind: after.id))
                ORDER BY report_id, id LIMIT 5000
                """
            ).all()
            for row in rows {
                let owner = try row.string("report_id")
                if owner != report {
                    try await write()
                    report = owner
                    violations = []
                }
                violations.append(
                    ReportedViolation(
                        message: try row.string("message"), policyName: try row.string("policy_name"),
                        packName: try row.string("pack_name"), packVersion: try row.string("pack_version"),
                        level: EnforcementLevel(rawValue: try row.string("level")) ?? .advisory,
                        kind: IssueKind(rawValue: try row.string("kind")) ?? .preventative,
                        resourceURN: try row.string("resource_urn")))
            }
            guard let last = rows.last else { break }
            after = (try last.string("report_id"), try last.string("id"))
        }
        try await write()
        try await database.raw("DROP TABLE policy_report_violations").run()
    }
}
