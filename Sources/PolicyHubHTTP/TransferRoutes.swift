import HTTPTypes
import Hummingbird
import PolicyHubAPI
import PolicyHubCore

/// Archive uploads through signed links. The CLI sends no Authorization header here: the signed token in the
/// path is the only credential. The body is streamed to the blob store, never held whole.
struct TransferRoutes {
    let packs: PolicyPackService

    func register(on router: Router<BasicRequestContext>) {
        router.put("/api/uploads/:token") { request, context -> Response in
            let token = try context.parameters.require("token")
            let length = request.headers[.contentLength].flatMap { Int64($0) }
            try await packs.receiveUpload(token: token, body: request.body, declaredLength: length)
            return Response(status: .ok)
        }
    }
}

/// Health and the API description.
struct OperationsRoutes {
    func register(on router: Router<BasicRequestContext>) {
        router.get("/healthz") { _, _ -> Response in
            Self.text(#"{"status":"ok"}"#, contentType: "application/json")
        }
        router.get("/api/openapi.yaml") { _, _ -> Response in
            Self.text(OpenAPIDocument.yaml, contentType: "application/yaml")
        }
    }

    static func text(_ text: String, contentType: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
