import GRPCNIOTransportHTTP2

/// Optional TLS for DBOS's gRPC port: the server's certificate chain and key, and what clients
/// trust. PEM files; without them DBOS speaks plaintext (fine on loopback, not across hosts).
public enum DBOSTLS {
    /// The server side: `imn dbos --tls-cert --tls-key`.
    public struct Server: Sendable, Hashable {
        public var certificateChainPath: String
        public var privateKeyPath: String

        public init(certificateChainPath: String, privateKeyPath: String) {
            self.certificateChainPath = certificateChainPath
            self.privateKeyPath = privateKeyPath
        }

        var transportSecurity: HTTP2ServerTransport.Posix.TransportSecurity {
            .tls(certificateChain: [.file(path: certificateChainPath, format: .pem)], privateKey: .file(path: privateKeyPath, format: .pem))
        }
    }

    /// The client side: `imn server --dbos-tls` (system trust roots) or `--dbos-tls-ca FILE`
    /// (that CA only). The server's certificate must name the host of the DBOS address.
    public struct Client: Sendable, Hashable {
        /// PEM certificates to trust; nil trusts the system's roots.
        public var trustRootsPath: String?

        public init(trustRootsPath: String? = nil) {
            self.trustRootsPath = trustRootsPath
        }

        var transportSecurity: HTTP2ClientTransport.Posix.TransportSecurity {
            .tls { tls in
                if let trustRootsPath { tls.trustRoots = .certificates([.file(path: trustRootsPath, format: .pem)]) }
            }
        }
    }
}
