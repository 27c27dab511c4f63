import Foundation

// The server types and the `APIProtocol` are generated from openapi.yaml in this directory by the
// swift-openapi-generator build plugin (see openapi-generator-config.yaml).

/// The OpenAPI document the server is generated from, served at `GET /api/openapi.yaml`.
package enum OpenAPIDocument {
    package static let yaml: String = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { return "" }
        return text
    }()
}
