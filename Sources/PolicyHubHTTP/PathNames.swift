import PolicyHubCore

/// Names from request paths and queries, validated once here under the parameter names the API documents; the
/// services take only validated names.
enum PathName {
    static func organization(_ text: String, field: String = "orgName") throws(RegistryError) -> Name {
        try Name(text, field: field)
    }

    static func pack(_ text: String, field: String = "policyPackName") throws(RegistryError) -> Name {
        try Name(text, field: field)
    }

    static func group(_ text: String) throws(RegistryError) -> Name { try Name(text, field: "policyGroup") }

    static func stack(project: String, name: String) throws(RegistryError) -> StackReference {
        StackReference(project: try Name(project, field: "projectName"), name: try Name(name, field: "stackName"))
    }
}
