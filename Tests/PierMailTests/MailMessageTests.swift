import Foundation
import Testing

@testable import PierMail

@Suite("Mail messages")
struct MailMessageTests {
    static let message = MailMessage(
        from: MailAddress("board@pier.example", name: "Pier 보드"),
        to: [MailAddress("minji@example.com", name: "김민지")],
        subject: "‘분기 보고서 작성’ 작업이 배정되었습니다 — 마감 2026-12-09, 보드: 운영팀 칸반",
        text: "김민지 님, 새 작업이 배정되었습니다.\n.이 줄은 점으로 시작합니다\nhttps://pier.example/boards/b1?task=t1\n",
        html: "<p>김민지 님, 새 작업이 배정되었습니다.</p>",
        messageID: "n-0193-7a2b@pier.example", date: Date(timeIntervalSince1970: 1_796_236_800), language: "ko",
        headers: [.init("X-Pier-Task", "t1")])

    /// The text of RFC 2047 encoded words in a header value (`=?UTF-8?B?…?=` separated by folding).
    static func decodeWords(_ value: String) -> String {
        let words = value.components(separatedBy: "\r\n ").flatMap { $0.split(separator: " ") }
        var bytes: [UInt8] = []
        for word in words where word.hasPrefix("=?UTF-8?B?") && word.hasSuffix("?=") {
            let payload = word.dropFirst(10).dropLast(2)
            bytes += Array(Data(base64Encoded: String(payload)) ?? Data())
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func header(_ name: String, in rendered: String) -> String? {
        let head = rendered.components(separatedBy: "\r\n\r\n")[0]
        var value: String?
        for line in head.components(separatedBy: "\r\n") {
            if line.hasPrefix(name + ": ") {
                value = String(line.dropFirst(name.count + 2))
            } else if value != nil, line.hasPrefix(" ") {
                value! += "\r\n" + line
            } else if value != nil {
                break
            }
        }
        return value
    }

    @Test("every line ends in CRLF and stays within 78 characters; Korean headers are RFC 2047 words")
    func wireFormat() {
        let rendered = Self.message.rendered(boundary: "=_pier_test")
        #expect(!rendered.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
        #expect(rendered.hasSuffix("\r\n"))
        for line in rendered.components(separatedBy: "\r\n") {
            #expect(line.utf8.count <= 78, "\(line)")
            #expect(line.unicodeScalars.allSatisfy { $0.isASCII }, "\(line)")
        }
        let subject = Self.header("Subject", in: rendered)
        #expect(subject.map(Self.decodeWords) == Self.message.subject)
        let from = Self.header("From", in: rendered) ?? ""
        #expect(Self.decodeWords(from) == "Pier 보드")
        #expect(from.hasSuffix("<board@pier.example>"))
        #expect(Self.header("Date", in: rendered) == "Wed, 02 Dec 2026 18:40:00 +0000")
        #expect(Self.header("Message-ID", in: rendered) == "<n-0193-7a2b@pier.example>")
        #expect(Self.header("Content-Language", in: rendered) == "ko")
        #expect(Self.header("Auto-Submitted", in: rendered) == "auto-generated")
        #expect(Self.header("X-Pier-Task", in: rendered) == "t1")
        #expect(Self.header("Content-Type", in: rendered) == "multipart/alternative;\r\n boundary=\"=_pier_test\"")
    }

    @Test("the text and HTML parts carry the content exactly, in base64")
    func parts() {
        let rendered = Self.message.rendered(boundary: "=_pier_test")
        let sections = rendered.components(separatedBy: "--=_pier_test")
        #expect(sections.count == 4)
        #expect(sections[3] == "--\r\n")
        func decoded(_ section: String) -> String {
            let body = section.components(separatedBy: "\r\n\r\n")[1].replacingOccurrences(of: "\r\n", with: "")
            return String(decoding: Data(base64Encoded: body) ?? Data(), as: UTF8.self)
        }
        #expect(sections[1].contains("Content-Type: text/plain; charset=utf-8\r\n"))
        #expect(decoded(sections[1]) == Self.message.text)
        #expect(sections[2].contains("Content-Type: text/html; charset=utf-8\r\n"))
        #expect(decoded(sections[2]) == Self.message.html)

        var plain = Self.message
        plain.html = nil
        let single = plain.rendered()
        #expect(Self.header("Content-Type", in: single) == "text/plain; charset=utf-8")
        #expect(Self.header("Content-Transfer-Encoding", in: single) == "base64")
    }

    @Test("line breaks in a subject cannot add headers; short ASCII subjects stay readable")
    func headerInjection() {
        var message = Self.message
        message.subject = "Hello\r\nBcc: everyone@example.com\nX-Evil: 1"
        let rendered = message.rendered()
        let lines = rendered.components(separatedBy: "\r\n\r\n")[0].components(separatedBy: "\r\n")
        #expect(!lines.contains { $0.hasPrefix("Bcc:") || $0.hasPrefix("X-Evil:") })
        message.subject = "Weekly report due"
        #expect(Self.header("Subject", in: message.rendered()) == "Weekly report due")
        message.subject = "A subject that says =?UTF-8?B?bm90IGVuY29kZWQ=?= on purpose"
        #expect(Self.decodeWords(Self.header("Subject", in: message.rendered()) ?? "") == message.subject)
    }

    @Test(
        "addresses that could smuggle commands or headers are refused before sending",
        arguments: [
            "a@b.example\r\nRCPT TO:<x@y.example>", "<a@b.example>", "no-at-sign", "two@@b.example", "a b@c.example",
            "@b.example", "a@",
        ])
    func badAddresses(address: String) {
        var message = Self.message
        message.to = [MailAddress(address)]
        #expect(message.problem?.contains("recipient") == true)
        message = Self.message
        message.from = MailAddress(address)
        #expect(message.problem?.contains("sender") == true)
    }

    @Test("a message needs a recipient, a Message-ID of the form local@domain and header names that are tokens")
    func otherProblems() {
        #expect(Self.message.problem == nil)
        var message = Self.message
        message.to = []
        #expect(message.problem != nil)
        message = Self.message
        message.messageID = "not an id"
        #expect(message.problem?.contains("Message-ID") == true)
        message = Self.message
        message.headers = [.init("X-Bad: header", "v")]
        #expect(message.problem?.contains("header name") == true)
    }

    @Test("dot-stuffing doubles a leading dot and ends the data with a lone dot")
    func dotStuffing() {
        #expect(SMTPSession.dotStuffed(".hidden\r\n..two\r\nend\r\n") == "..hidden\r\n...two\r\nend\r\n.\r\n")
        #expect(SMTPSession.dotStuffed("no line end") == "no line end\r\n.\r\n")
        #expect(SMTPSession.dotStuffed(".\n") == "..\r\n.\r\n")
    }
}
