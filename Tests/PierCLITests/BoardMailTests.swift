import Foundation
import PierTesting
import Testing

/// `pier board serve` with email notifications, end to end: the API changes a task, a real SMTP server receives the
/// message.
@Suite("pier board serve: email notifications")
struct BoardMailTests {
    typealias Serve = BoardServeTests

    @Test(
        "assigning a task through the API emails the PIC, with a link to the task; PIER_SMTP_URL works like --smtp-url")
    func assignmentEmail() async throws {
        try await SMTPTestServer.with { server in
            try await TemporaryDirectory.with { directory in
                let (board, port) = try await Serve.started(
                    [
                        "--database-url", "sqlite://\(directory)/pier.sqlite", "--mail-from", "Pier <board@pier.test>",
                        "--public-url", "https://board.example.com", "--mail-language", "ko",
                    ], environment: ["PIER_SMTP_URL": "smtp://127.0.0.1:\(server.port)"])
                let (email, password) = try await Serve.credentials(board, port: port)
                let login = try await Serve.post(
                    port, "/api/v1/auth/login", #"{"email":"\#(email)","password":"\#(password)"}"#)
                let token = try #require(Serve.json(login.text)["access_token"] as? String)
                let created = try await Serve.post(
                    port, "/api/v1/users", token: token, #"{"email":"minji@example.com","name":"김민지","role":"pic"}"#)
                #expect(created.status == 201)
                let picID = try #require((Serve.json(created.text)["user"] as? [String: Any])?["id"] as? String)
                let boardID = try #require(
                    Serve.json(try await Serve.post(port, "/api/v1/boards", token: token, #"{"name":"운영팀"}"#).text)[
                        "id"]
                        as? String)
                #expect(
                    try await Serve.post(
                        port, "/api/v1/boards/\(boardID)/members", token: token, #"{"user_id":"\#(picID)"}"#
                    )
                    .status == 204)
                let task = try await Serve.post(
                    port, "/api/v1/boards/\(boardID)/tasks", token: token,
                    #"{"title":"분기 보고서","assignee_id":"\#(picID)"}"#)
                #expect(task.status == 201)
                let taskID = try #require(Serve.json(task.text)["id"] as? String)

                let deadline = ContinuousClock.now + .seconds(20)
                while try server.received().isEmpty && ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(100))
                }
                let received = try server.received()
                try #require(received.count == 1, "\(board.standardError)")
                let mail = received[0]
                #expect(mail.rcptTos == ["minji@example.com"])
                #expect(mail.mailFrom == "board@pier.test")
                #expect(mail.headers["Subject"] == "[운영팀] ‘분기 보고서’ 작업이 배정되었습니다")
                #expect(mail.headers["To"] == "김민지 <minji@example.com>")
                #expect(
                    mail.parts.first?.content.contains("https://board.example.com/boards/\(boardID)/tasks/\(taskID)")
                        == true)
                #expect(board.standardError.contains("email notifications on"))
                #expect(!board.standardError.contains("email notifications are off"))
                #expect(await board.stop() == 0)
            }
        }
    }

    @Test("without SMTP the board says once that email is off; bad mail options are refused before it starts")
    func offAndBadOptions() async throws {
        try await TemporaryDirectory.with { directory in
            let (board, _) = try await Serve.started(["--database-url", "sqlite://\(directory)/pier.sqlite"])
            try await board.waitForOutput(containing: "email notifications are off", inStandardError: true)
            #expect(await board.stop() == 0)
        }
        let remote = try await PierBinary.run([
            "board", "serve", "--smtp-url", "smtp://mailer:hunter2@mail.example.com", "--mail-from", "a@b.example",
            "--public-url", "https://board.example.com",
        ])
        #expect(remote.status != 0)
        #expect(remote.error.contains("unencrypted"))
        #expect(!remote.error.contains("hunter2"))
        let noFrom = try await PierBinary.run(["board", "serve", "--smtp-url", "smtp://127.0.0.1:2525"])
        #expect(noFrom.status != 0)
        #expect(noFrom.error.contains("--mail-from"))
        let noURL = try await PierBinary.run([
            "board", "serve", "--smtp-url", "smtp://127.0.0.1:2525", "--mail-from", "a@b.example",
        ])
        #expect(noURL.error.contains("--public-url"))
        let badFrom = try await PierBinary.run(["board", "serve", "--mail-from", "not an address"])
        #expect(badFrom.error.contains("--mail-from"))
        let language = try await PierBinary.run(["board", "serve", "--mail-language", "fr"])
        #expect(language.error.contains("--mail-language"))
    }
}
