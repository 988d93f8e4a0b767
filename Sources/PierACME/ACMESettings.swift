/// The `acme:` section of the edge's configuration: where certificates come from and for which names.
public struct ACMESettings: Sendable, Hashable {
    public static let letsEncrypt = "https://acme-v02.api.letsencrypt.org/directory"

    /// The CA's directory URL.
    public var directory: String
    /// The account's contact address (expiry notices from the CA).
    public var email: String?
    /// The allow-list: nothing outside it is ever requested. One certificate per name.
    public var domains: [String]
    /// Challenge types in the order they are tried.
    public var challenges: [String]
    public var keyType: ACMEKeyType
    /// The directory accounts and certificates are kept in (0700, files 0600).
    public var storage: String
    /// A PEM file of roots for the CA's HTTPS endpoint, for a test CA only.
    public var trustedRoots: String?
    /// The common name of the root to prefer among alternate chains.
    public var preferredChain: String?
    /// How long one order may take, challenges included.
    public var orderTimeout: Duration

    public static let supportedChallenges = ["http-01"]

    public init(
        directory: String = ACMESettings.letsEncrypt, email: String? = nil, domains: [String],
        challenges: [String] = ["http-01"], keyType: ACMEKeyType = .ecdsaP256, storage: String,
        trustedRoots: String? = nil, preferredChain: String? = nil, orderTimeout: Duration = .seconds(180)
    ) {
        self.directory = directory
        self.email = email
        self.domains = domains
        self.challenges = challenges
        self.keyType = keyType
        self.storage = storage
        self.trustedRoots = trustedRoots
        self.preferredChain = preferredChain
        self.orderTimeout = orderTimeout
    }

    /// Whether `name` is on the allow-list (exactly; a wildcard entry allows only the wildcard certificate).
    public func allows(_ name: String) -> Bool {
        domains.contains(name.lowercased())
    }
}
