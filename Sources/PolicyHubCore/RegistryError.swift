/// Which part of a request is wrong and how; the HTTP adapter spells these as Pulumi's request-error list.
public struct FieldProblem: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case notFound
        case required
        case invalid
        case alreadyExists
        case custom
    }

    public var resource: String
    public var attribute: String?
    public var errorType: Kind
    public var customMessage: String?

    public init(resource: String, attribute: String?, errorType: Kind, customMessage: String? = nil) {
        self.resource = resource
        self.attribute = attribute
        self.errorType = errorType
        self.customMessage = customMessage
    }
}

/// Every failure the domain reports. The kind says what went wrong in domain terms; the HTTP adapter alone
/// turns kinds into statuses.
public struct RegistryError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        case invalid
        case unauthenticated
        case forbidden
        case notFound
        case conflict
        case tooLarge
        case unavailable
    }

    public var kind: Kind
    public var message: String
    public var details: [FieldProblem]

    public init(_ kind: Kind, _ message: String, details: [FieldProblem] = []) {
        self.kind = kind
        self.message = message
        self.details = details
    }

    public var description: String { message }
}

extension RegistryError {
    public static func invalid(_ message: String, details: [FieldProblem] = []) -> RegistryError {
        RegistryError(.invalid, message, details: details)
    }

    public static func invalidName(field: String, value: String) -> RegistryError {
        RegistryError(
            .invalid,
            "Invalid \(field) '\(value)': it must be 1 to 100 characters of letters, digits, '.', '_' or '-'.",
            details: [.init(resource: "request", attribute: field, errorType: .invalid)]
        )
    }

    /// A dependency (the database, archive storage) cannot be reached; the request may be retried.
    public static func unavailable(_ dependency: String) -> RegistryError {
        RegistryError(.unavailable, "The \(dependency) is unavailable right now; try again shortly.")
    }

    public static let unauthenticated = RegistryError(
        .unauthenticated, "Unauthorized: No credentials provided or are invalid.")
    public static let organizationNotFound = RegistryError(.notFound, "Organization not found")
    public static let uploadMissing = RegistryError(
        .invalid, "No archive was uploaded for this Policy Pack version; upload it to the uploadURI before completing.")
    public static let incompleteVersion = RegistryError(.invalid, "Cannot get incomplete Policy Pack")
    public static let alreadyComplete = RegistryError(.invalid, "Policy Pack is already complete")
    public static let invalidAccessFilter = RegistryError(.invalid, "Policy pack access is not valid")

    public static func linkInvalid(_ purpose: LinkGrant.Purpose) -> RegistryError {
        RegistryError(.forbidden, "The \(purpose.noun) link is invalid: \(purpose.remedy).")
    }

    public static func linkExpired(_ purpose: LinkGrant.Purpose) -> RegistryError {
        RegistryError(.forbidden, "The \(purpose.noun) link has expired: \(purpose.remedy).")
    }

    public static func forbidden(_ action: String) -> RegistryError {
        RegistryError(.forbidden, "You must be an admin of the organization to \(action).")
    }

    public static func packNotFound(_ name: String) -> RegistryError {
        RegistryError(.notFound, "Policy Pack '\(name)' not found")
    }

    public static func versionNotFound(_ name: String, _ version: String) -> RegistryError {
        RegistryError(.notFound, "Policy Pack '\(name)' version '\(version)' not found")
    }

    public static func versionTagExists(_ name: String, _ tag: String) -> RegistryError {
        RegistryError(
            .conflict,
            "Policy Pack '\(name)' version '\(tag)' is already published; published versions are immutable, "
                + "so publish under a new version.",
            details: [.init(resource: "policypack", attribute: "versionTag", errorType: .alreadyExists)]
        )
    }

    public static func uploadToCompletedVersion(_ name: String, _ version: Int) -> RegistryError {
        RegistryError(
            .conflict, "Policy Pack '\(name)' version \(version) is already complete; its archive cannot change.")
    }

    public static func archiveTooLarge(limit: Int64) -> RegistryError {
        RegistryError(.tooLarge, "The archive is larger than the limit of \(limit) bytes.")
    }

    public static func invalidArchive(_ reason: String) -> RegistryError {
        RegistryError(.invalid, "The uploaded archive is not a valid policy pack: \(reason).")
    }
}

extension LinkGrant.Purpose {
    var noun: String { self == .upload ? "upload" : "download" }

    var remedy: String {
        self == .upload
            ? "request a new one by creating the version again" : "ask the server for the stack's policy packs again"
    }
}
