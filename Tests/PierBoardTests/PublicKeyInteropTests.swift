import Foundation
import HTTPTypes
import HummingbirdTesting
import PierBoard
import PierBoardStore
import PierTesting
import Testing

@Suite("Access tokens verify elsewhere")
struct PublicKeyInteropTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..")
        .standardized.path

    @Test("pyseto verifies a signed-in user's access token from GET /auth/public-key alone")
    func pyseto() async throws {
        let venv = ProcessInfo.processInfo.environment["PIER_TEST_VENV"] ?? Self.root + "/.venv"
        let python = venv + "/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            Issue.record("the Python venv (scripts/test prepares it) is missing at \(venv)")
            return
        }
        try await APIWorld.with { world, client in
            let login = try await BoardAPITests.login(client, "pic@example.com")
            let token = try #require(login.object["access_token"] as? String)
            let published = try await client.call(.get, "/api/v1/auth/public-key")
            #expect(published.status == .ok)
            let input = #"{"document":\#(published.text),"token":"\#(token)"}"#
            let result = try await CommandLineTool.run(
                python, [Self.root + "/Tests/Probes/paseto_verify.py"], input: input, timeout: .seconds(60))
            #expect(result.status == 0, "\(result.all)")
            let claims = try #require(
                try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any], "\(result.all)")
            #expect(claims["sub"] as? String == world.pic.id)
            #expect(claims["role"] as? String == "pic")
            for name in ["iat", "nbf", "exp", "jti"] { #expect(claims[name] is String, "\(name)") }
        }
    }
}
