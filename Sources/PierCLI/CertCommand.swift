import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PierACME
import PierCore
import PierEdge

/// `pier cert`: the edge's certificates.
struct CertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cert",
        abstract: "Show and renew the edge's certificates.",
        subcommands: [CertStatusCommand.self, CertRenewCommand.self]
    )
}

/// `pier cert status --config FILE`: every certificate with its expiry, next renewal and last error.
struct CertStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Print each certificate: names, issuer, expiry, next renewal and the last error.",
        discussion: """
            Asks the running edge through its admin listener (admin.listen) when the file has one; otherwise, or \
            when the edge is not running, reads the ACME storage directory.
            """
    )

    @Option(help: "The edge configuration file (YAML).")
    var config: String

    @Flag(help: "Print the JSON the admin listener answers instead of a table.")
    var json = false

    func run() async throws {
        let edge = try ConfigCheckCommand.loadOrExit(config)
        if let admin = edge.admin,
            let status = try? await AdminClient.with(admin.listen, { try await $0.get("/status") })
        {
            let certificates =
                (try? JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any])?[
                    "certificates"] as? [[String: Any]] ?? []
            if json {
                let data = try JSONSerialization.data(
                    withJSONObject: certificates, options: [.prettyPrinted, .sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(Self.table(certificates), terminator: "")
            }
            return
        }
        guard let acme = edge.acme else {
            printError(
                "pier: \(config) has no acme: section and no reachable admin listener; its certificates are the files "
                    + "it names (see `pier config check \(config)`)")
            throw ExitCode(1)
        }
        printError("pier: the edge's admin listener is not reachable; showing what is stored in \(acme.storage)")
        let storage = ACMEFileStorage(root: acme.storage)
        let formatter = ISO8601DateFormatter()
        let rows: [[String: Any]] = acme.domains.map { name in
            guard let stored = storage.certificate(name) else {
                return ["source": "acme", "name": name, "state": "missing"]
            }
            return [
                "source": "acme", "name": name, "state": "valid", "issuer": stored.issuer,
                "not_after": formatter.string(from: stored.notAfter),
                "days_to_expiry": stored.notAfter.timeIntervalSinceNow / 86400,
            ]
        }
        print(Self.table(rows), terminator: "")
    }

    static func table(_ certificates: [[String: Any]]) -> String {
        guard !certificates.isEmpty else { return "no certificates\n" }
        let header = ["NAME", "SOURCE", "STATE", "NOT AFTER", "DAYS", "NEXT RENEWAL", "ISSUER", "LAST ERROR"]
        let rows = certificates.map { item -> [String] in
            let names = (item["names"] as? [String])?.joined(separator: ",")
            let days = (item["days_to_expiry"] as? Double).map { String(format: "%.1f", $0) } ?? "-"
            return [
                item["name"] as? String ?? names ?? "-", item["source"] as? String ?? "-",
                item["state"] as? String ?? "-", item["not_after"] as? String ?? "-", days,
                item["next_renewal"] as? String ?? "-", item["issuer"] as? String ?? "-",
                item["last_error"] as? String ?? "-",
            ]
        }
        let widths = header.indices.map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        return ([header] + rows).map { row in
            row.enumerated().map { column, text in
                column == row.count - 1 ? text : text.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}

/// `pier cert renew --config FILE [--force] [--name NAME]`: makes the running edge renew now.
struct CertRenewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "renew",
        abstract: "Renew the edge's ACME certificates now, through its admin listener, and wait for the outcome.",
        discussion: """
            Without --force only certificates that are due (or missing) are renewed; with it every one is, as \
            operators do after a CA revokes certificates. Needs admin.listen in the file and the edge running.
            """
    )

    @Option(help: "The edge configuration file (YAML).")
    var config: String

    @Flag(help: "Renew certificates that are not due yet.")
    var force = false

    @Option(help: "Renew only this name (repeatable); it must be in acme.domains.")
    var name: [String] = []

    @Option(help: "Seconds to wait for the renewals to finish.")
    var wait = 300

    func run() async throws {
        let edge = try ConfigCheckCommand.loadOrExit(config)
        guard edge.acme != nil else {
            printError("pier: \(config) has no acme: section: there is nothing to renew")
            throw ExitCode(1)
        }
        guard let admin = edge.admin else {
            printError("pier: \(config) has no admin.listen: the running edge cannot be asked to renew")
            throw ExitCode(1)
        }
        try await AdminClient.with(admin.listen) { admin in
            try await renew(through: admin)
        }
    }

    private func renew(through admin: AdminClient) async throws {
        var path = "/certificates/renew?force=\(force)"
        for name in name {
            path += "&name=\(name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? name)"
        }
        let before = try await Self.certificates(admin)
        let (status, body) = try await admin.post(path)
        guard status == 202,
            let queued = (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["queued"]
                as? [String]
        else {
            printError("pier: the edge refused (\(status)): \(body)")
            throw ExitCode(1)
        }
        if queued.isEmpty {
            print("nothing is due (use --force to renew anyway)")
            return
        }
        print("renewing: \(queued.joined(separator: ", "))")
        var pending = Set(queued)
        var failed = false
        let deadline = Date().addingTimeInterval(TimeInterval(wait))
        while !pending.isEmpty && Date() < deadline {
            try await Task.sleep(for: .seconds(1))
            let now = try await Self.certificates(admin)
            for name in pending {
                guard let item = now[name], item["state"] as? String != "ordering" else { continue }
                let old = before[name]
                if let obtained = item["obtained_at"] as? String, obtained != old?["obtained_at"] as? String {
                    print("\(name): renewed, valid until \(item["not_after"] as? String ?? "?")")
                    pending.remove(name)
                } else if let error = item["last_error_at"] as? String, error != old?["last_error_at"] as? String {
                    print(
                        "\(name): failed: \(item["last_error"] as? String ?? "?") (retried at \(item["next_renewal"] as? String ?? "?"))"
                    )
                    pending.remove(name)
                    failed = true
                }
            }
        }
        if !pending.isEmpty {
            printError("pier: still renewing after \(wait) s: \(pending.sorted().joined(separator: ", "))")
            throw ExitCode(1)
        }
        if failed { throw ExitCode(1) }
    }

    static func certificates(_ admin: AdminClient) async throws -> [String: [String: Any]] {
        let status = try await admin.get("/status")
        let items =
            (try? JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any])?["certificates"]
            as? [[String: Any]] ?? []
        var byName: [String: [String: Any]] = [:]
        for item in items { if let name = item["name"] as? String { byName[name] = item } }
        return byName
    }
}

/// Requests to the edge's loopback admin listener, over one HTTP client for the whole command.
struct AdminClient {
    let address: SocketAddressSpec
    let client: HTTPClient

    /// Runs `body` with a client, and shuts the client down afterwards.
    static func with<Result>(_ address: SocketAddressSpec, _ body: (AdminClient) async throws -> Result)
        async throws -> Result
    {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            let result = try await body(AdminClient(address: address, client: client))
            try await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    func get(_ path: String) async throws -> String {
        try await send(path, method: .GET).1
    }

    func post(_ path: String) async throws -> (Int, String) {
        try await send(path, method: .POST)
    }

    private func send(_ path: String, method: HTTPMethod) async throws -> (Int, String) {
        let host = address.host.contains(":") ? "[\(address.host)]" : address.host
        var request = HTTPClientRequest(url: "http://\(host):\(address.port)\(path)")
        request.method = method
        let response = try await client.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), String(buffer: body))
    }
}
