import Foundation
import PierCore

/// Debian's `pebble` (a test ACME CA) and `pebble-challtestsrv` (its DNS server, answering 127.0.0.1 for every
/// name) on loopback ports, for ACME tests. Pebble validates http-01 challenges on `httpPort` of 127.0.0.1.
public final class PebbleCA: Sendable {
    /// The ACME directory URL.
    public let directoryURL: String
    /// The PEM file that verifies Pebble's HTTPS endpoint (`acme.trusted_roots`).
    public let trustedRoots: String
    /// Pebble's management interface (roots, certificate status).
    public let managementURL: String
    private let pebble: RunningProcess
    private let dns: RunningProcess

    /// Whether the tools are installed (`apt-get install pebble`).
    public static var isInstalled: Bool {
        CommandLineTool.find("pebble") != nil && CommandLineTool.find("pebble-challtestsrv") != nil
    }

    /// Starts both under `directory`. `nonceRejectPercent` is Pebble's share of good nonces refused as
    /// `badNonce` (its default is 5, which clients must survive).
    public static func start(
        httpPort: Int, under directory: String, nonceRejectPercent: Int = 5
    ) async throws -> PebbleCA {
        let authority = try TestCertificateAuthority(name: "Pier test CA for Pebble")
        let (certificate, key) = try authority.write(["localhost"], as: "pebble", under: directory)
        let roots = try authority.writeAuthority(under: directory)
        let port = try LoopbackPort.reserve()
        let management = try LoopbackPort.reserve()
        let dnsPort = try LoopbackPort.reserve()
        let config = """
            {"pebble": {"listenAddress": "127.0.0.1:\(port)", "managementListenAddress": "127.0.0.1:\(management)",
              "certificate": "\(certificate)", "privateKey": "\(key)", "httpPort": \(httpPort), "tlsPort": 5001,
              "ocspResponderURL": "", "externalAccountBindingRequired": false}}
            """
        try config.write(toFile: directory + "/pebble.json", atomically: true, encoding: .utf8)
        let dns = try RunningProcess(
            executable: URL(
                fileURLWithPath: CommandLineTool.find("pebble-challtestsrv") ?? "/usr/bin/pebble-challtestsrv"),
            arguments: [
                "-dns01", "127.0.0.1:\(dnsPort)", "-http01", "", "-https01", "", "-tlsalpn01", "",
                "-management", "127.0.0.1:\(try LoopbackPort.reserve())", "-defaultIPv4", "127.0.0.1", "-defaultIPv6",
                "",
            ])
        let pebble = try RunningProcess(
            executable: URL(fileURLWithPath: CommandLineTool.find("pebble") ?? "/usr/bin/pebble"),
            arguments: ["-config", directory + "/pebble.json", "-dnsserver", "127.0.0.1:\(dnsPort)"],
            environment: ["PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "\(nonceRejectPercent)"])
        let ca = PebbleCA(
            directoryURL: "https://localhost:\(port)/dir", trustedRoots: roots,
            managementURL: "https://localhost:\(management)", pebble: pebble, dns: dns)
        let deadline = ContinuousClock.now + .seconds(20)
        while !ca.log.contains("Listening on") {
            guard pebble.isRunning, ContinuousClock.now < deadline else {
                await ca.stop()
                throw RunningProcess.Failure(description: "pebble did not start: \(ca.log)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return ca
    }

    private init(
        directoryURL: String, trustedRoots: String, managementURL: String, pebble: RunningProcess, dns: RunningProcess
    ) {
        self.directoryURL = directoryURL
        self.trustedRoots = trustedRoots
        self.managementURL = managementURL
        self.pebble = pebble
        self.dns = dns
    }

    /// Everything Pebble has logged (its requests and validations).
    public var log: String { pebble.standardOutput + pebble.standardError }

    /// How many orders Pebble has created (requests refused with badNonce are not orders).
    public var orders: Int {
        var count = 0
        for line in log.split(separator: "\n") where line.contains("orders in the db") {
            if let number = line.split(separator: " ").reversed().compactMap({ Int($0) }).first { count = number }
        }
        return count
    }

    /// Pebble's root certificate (new on every start), as PEM, for verifying what it issued.
    public func rootPEM(under directory: String) async throws -> String {
        let path = directory + "/pebble-root.pem"
        let result = try await CommandLineTool.run(
            "curl", ["-sS", "--cacert", trustedRoots, "-o", path, managementURL + "/roots/0"])
        guard result.status == 0 else { throw RunningProcess.Failure(description: "pebble roots: \(result.all)") }
        return path
    }

    public func stop() async {
        await pebble.stop()
        await dns.stop()
    }
}

extension PebbleCA {
    /// Starts Pebble, runs `body`, and stops Pebble again, also when `body` throws.
    public static func with<Result: Sendable>(
        httpPort: Int, under directory: String, nonceRejectPercent: Int = 5,
        _ body: (PebbleCA) async throws -> Result
    ) async throws -> Result {
        let pebble = try await start(httpPort: httpPort, under: directory, nonceRejectPercent: nonceRejectPercent)
        do {
            let result = try await body(pebble)
            await pebble.stop()
            return result
        } catch {
            await pebble.stop()
            throw error
        }
    }
}
