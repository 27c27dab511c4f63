import Hummingbird
import NIOCore

/// Hummingbird's basic context plus the client's address, which `BasicRequestContext` does not keep. Only the
/// edge sees it; the router's handlers get the basic context made from the same source.
struct EdgeRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    /// The context the router's handlers take.
    let basic: BasicRequestContext
    private let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        basic = BasicRequestContext(source: source)
        channel = source.channel
    }

    var remoteAddress: SocketAddress? { channel.remoteAddress }

    var client: ClientAddress { ClientAddress(remoteAddress) }
}
