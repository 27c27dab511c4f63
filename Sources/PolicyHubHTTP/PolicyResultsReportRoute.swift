import Foundation
import HTTPTypes
import Hummingbird
import OpenAPIRuntime
import PolicyHubAPI
import PolicyHubCore

/// Registers the generated API on a transport, except the operations listed here, which are registered with
/// hand-written handlers at the same method and path: their request bodies are too large for the generated
/// decoding to be quick. Everything else about them (authentication, errors, the answer's shape) is as for any
/// other route.
struct HandServedOperations: ServerTransport {
    typealias Handler =
        @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (
            HTTPResponse, HTTPBody?
        )

    let transport: any ServerTransport
    let handlers: [String: Handler]

    static func key(_ method: HTTPRequest.Method, _ path: String) -> String { "\(method.rawValue) \(path)" }

    func register(_ handler: @escaping Handler, method: HTTPRequest.Method, path: String) throws {
        try transport.register(handlers[Self.key(method, path)] ?? handler, method: method, path: path)
    }
}

/// `PUT .../updates/{version}/results`: a policy results report, which lists every resource of a stack (1.3 MiB
/// for 2,000 resources), read with `JSONReader` straight into the core's `PolicyReportInput`.
struct PolicyResultsReportRoute: Sendable {
    static let path =
        "/api/preview/insights/{orgName}/policy/stacks/{projectName}/{stackName}/updates/{version}/results"

    let results: PolicyResultsService
    let maxBytes: Int

    func handle(_ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata) async throws -> (
        HTTPResponse, HTTPBody?
    ) {
        if request.path?.contains("%00") == true {
            throw RegistryError.invalid("The request's path or query contains a NUL character (%00).")
        }
        if let type = request.headerFields[.contentType], !type.lowercased().contains("json") {
            throw HTTPError(
                .unsupportedMediaType,
                message: "The request body must be JSON (Content-Type: application/json), not \(type).")
        }
        func parameter(_ name: String) throws -> String {
            guard let raw = metadata.pathParameters[name], let value = String(raw).removingPercentEncoding else {
                throw RegistryError.invalid("The path parameter '\(name)' is malformed.")
            }
            return value
        }
        let bytes: [UInt8]
        do {
            bytes = try await [UInt8](collecting: body ?? HTTPBody(), upTo: maxBytes)
        } catch {
            throw RegistryError(.tooLarge, "The request body is larger than the limit of \(maxBytes) bytes.")
        }
        let input = try Self.report(bytes, updateVersion: try parameter("version"))
        let receipt = try await results.report(
            organization: try PathName.organization(try parameter("orgName")),
            stack: try PathName.stack(project: try parameter("projectName"), name: try parameter("stackName")),
            input: input, caller: try RequestInfo.caller())
        let answer = Components.Schemas.UpdateStackPolicyResultsResponse(
            recorded: receipt.recorded, violations: receipt.violations, unknownPolicyPacks: receipt.unknownPacks)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var response = HTTPResponse(status: .ok)
        response.headerFields[.contentType] = "application/json; charset=utf-8"
        return (response, HTTPBody(try encoder.encode(answer)))
    }

    /// Pulumi's `UpdateStackPolicyResultsRequest`, with PolicyHub's `evaluations`. Unknown keys are ignored and
    /// `null` is an absent optional field, as for every other body; the values themselves are checked by the core.
    static func report(_ body: [UInt8], updateVersion: String) throws(RegistryError) -> PolicyReportInput {
        guard !body.isEmpty else {
            throw RegistryError.invalid(
                "The request body is required: {\"results\": {\"succeeded\": ..., \"violations\": [...]}}.")
        }
        return try JSONReader.read(body) { json throws(RegistryError) in
            var claimID: String?
            var results: PolicyReportInput?
            var object = try json.beginObject("the body")
            while let key = try json.nextKey(&object) {
                if key.is("claimId") {
                    claimID = try json.optionalString("'claimId'")
                } else if key.is("results"), try !json.readNull("'results'") {
                    results = try self.results(json, updateVersion: updateVersion)
                } else {
                    try json.skipValue()
                }
            }
            guard var report = results else { throw required("results", in: nil) }
            report.claimID = claimID
            return report
        }
    }

    private static func results(_ json: JSONReader, updateVersion: String) throws(RegistryError) -> PolicyReportInput {
        var succeeded: Bool?
        var violations: [PolicyReportInput.Violation] = []
        var evaluations: [PolicyReportInput.Evaluation]?
        var object = try json.beginObject("'results'")
        while let key = try json.nextKey(&object) {
            if key.is("succeeded") {
                succeeded = try json.readNull("'results.succeeded'") ? nil : try json.bool("'results.succeeded'")
            } else if key.is("violations") {
                violations =
                    try json.readNull("'results.violations'")
                    ? []
                    : try list(json, "'results.violations'") { index throws(RegistryError) in
                        try violation(json, ElementPath(list: "results.violations", index: index))
                    }
            } else if key.is("evaluations") {
                evaluations =
                    try json.readNull("'results.evaluations'")
                    ? nil
                    : try list(json, "'results.evaluations'") { index throws(RegistryError) in
                        try evaluation(json, ElementPath(list: "results.evaluations", index: index))
                    }
            } else {
                try json.skipValue()
            }
        }
        guard let succeeded else { throw required("succeeded", in: "results") }
        return PolicyReportInput(
            updateVersion: updateVersion, claimID: nil, succeeded: succeeded, violations: violations,
            evaluations: evaluations)
    }

    private static func violation(_ json: JSONReader, _ path: ElementPath) throws(RegistryError)
        -> PolicyReportInput.Violation
    {
        var message, policyName, packName, packVersion, level, kind, urn: String?
        var object = try json.beginObject("'\(path)'")
        while let key = try json.nextKey(&object) {
            if key.is("message") {
                message = try json.optionalString("'\(path).message'")
            } else if key.is("policyName") {
                policyName = try json.optionalString("'\(path).policyName'")
            } else if key.is("policyPackName") {
                packName = try json.optionalString("'\(path).policyPackName'")
            } else if key.is("policyPackVersion") {
                packVersion = try json.optionalString("'\(path).policyPackVersion'")
            } else if key.is("enforcementLevel") {
                level = try json.optionalString("'\(path).enforcementLevel'")
            } else if key.is("kind") {
                kind = try json.optionalString("'\(path).kind'")
            } else if key.is("resourceURN") {
                urn = try json.optionalString("'\(path).resourceURN'")
            } else {
                try json.skipValue()
            }
        }
        guard let message else { throw required("message", in: "\(path)") }
        guard let policyName else { throw required("policyName", in: "\(path)") }
        guard let packName else { throw required("policyPackName", in: "\(path)") }
        guard let packVersion else { throw required("policyPackVersion", in: "\(path)") }
        guard let level else { throw required("enforcementLevel", in: "\(path)") }
        return PolicyReportInput.Violation(
            message: message, policyName: policyName, policyPackName: packName, policyPackVersion: packVersion,
            enforcementLevel: level, kind: kind, resourceURN: urn)
    }

    private static func evaluation(_ json: JSONReader, _ path: ElementPath) throws(RegistryError)
        -> PolicyReportInput.Evaluation
    {
        var urn, packName, packVersion: String?
        var passed: [String] = []
        var failed: [String] = []
        var object = try json.beginObject("'\(path)'")
        while let key = try json.nextKey(&object) {
            if key.is("resourceURN") {
                urn = try json.optionalString("'\(path).resourceURN'")
            } else if key.is("policyPackName") {
                packName = try json.optionalString("'\(path).policyPackName'")
            } else if key.is("policyPackVersion") {
                packVersion = try json.optionalString("'\(path).policyPackVersion'")
            } else if key.is("passed") {
                passed = try json.readNull("'\(path).passed'") ? [] : try strings(json, path, "passed")
            } else if key.is("failed") {
                failed = try json.readNull("'\(path).failed'") ? [] : try strings(json, path, "failed")
            } else {
                try json.skipValue()
            }
        }
        guard let packName else { throw required("policyPackName", in: "\(path)") }
        guard let packVersion else { throw required("policyPackVersion", in: "\(path)") }
        return PolicyReportInput.Evaluation(
            resourceURN: urn, policyPackName: packName, policyPackVersion: packVersion, passed: passed,
            failed: failed)
    }

    private static func strings(_ json: JSONReader, _ path: ElementPath, _ field: StaticString) throws(RegistryError)
        -> [String]
    {
        try list(json, "'\(path).\(field)'") { index throws(RegistryError) in
            try json.string("'\(path).\(field)[\(index)]'")
        }
    }

    /// The elements of an array, each read by `element` given its index.
    private static func list<Element>(
        _ json: JSONReader, _ path: @autoclosure () -> String, _ element: (Int) throws(RegistryError) -> Element
    ) throws(RegistryError) -> [Element] {
        var elements: [Element] = []
        var array = try json.beginArray(path())
        while try json.nextElement(&array) { elements.append(try element(elements.count)) }
        return elements
    }

    /// Where an element of a list is, spelled out only for an error.
    struct ElementPath: CustomStringConvertible {
        var list: StaticString
        var index: Int
        var description: String { "\(list)[\(index)]" }
    }

    private static func required(_ key: String, in parent: String?) -> RegistryError {
        RegistryError.invalid(
            "Invalid request body: '\(key)' is required" + (parent.map { " in '\($0)'." } ?? "."))
    }
}
