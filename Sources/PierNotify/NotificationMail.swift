import Foundation
import PierBoardStore
import PierMail

/// The email for one delivery, in the recipient's language (Korean or English): a subject that says what happened
/// to which task, a text part and an HTML part with the same content, and a link to the task on the board.
public struct NotificationMail: Sendable {
    public enum Language: String, Sendable, CaseIterable {
        case ko, en
    }

    public var from: MailAddress
    /// The board's address as people open it (`https://board.example.com`), for the link to the task.
    public var publicURL: String
    /// The language of recipients who have not chosen one.
    public var defaultLanguage: Language

    public init(from: MailAddress, publicURL: String, defaultLanguage: Language = .en) {
        self.from = from
        self.publicURL = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
        self.defaultLanguage = defaultLanguage
    }

    /// The message for `delivery`; its Message-ID is the delivery's, the same on every attempt.
    public func message(for delivery: PendingDelivery, now: Date = Date()) -> MailMessage {
        let language = delivery.recipient.language.flatMap(Language.init(rawValue:)) ?? defaultLanguage
        let content = Self.content(for: delivery, language: language)
        let link = taskLink(delivery)
        let text =
            ([content.headline] + content.details + [
                "", link.map { "\(content.open): \($0)" } ?? "", "", content.footer,
            ])
            .joined(separator: "\n")
        let escaped = content.details.map { "<p style=\"margin:0 0 8px\">\(Self.escape($0))</p>" }.joined()
        let button =
            link.map {
                "<p style=\"margin:16px 0\"><a href=\"\(Self.escape($0))\" style=\"background:#2456d6;color:#fff;padding:8px 14px;border-radius:6px;text-decoration:none\">\(Self.escape(content.open))</a></p>"
            } ?? ""
        let html = """
            <!doctype html><html lang="\(language.rawValue)"><head><meta charset="utf-8"><title>\(Self.escape(content.subject))</title></head>\
            <body style="font-family:system-ui,-apple-system,'Noto Sans KR',sans-serif;color:#1d2330;line-height:1.5">\
            <p style="margin:0 0 12px;font-weight:600">\(Self.escape(content.headline))</p>\(escaped)\(button)\
            <p style="margin:24px 0 0;color:#5b6272;font-size:13px">\(Self.escape(content.footer))</p></body></html>
            """
        let domain = from.address.split(separator: "@").last.map(String.init) ?? "pier.invalid"
        var headers = [MailMessage.Header("X-Pier-Event", delivery.kind)]
        if let task = delivery.payload["task_id"] { headers.append(.init("X-Pier-Task", task)) }
        return MailMessage(
            from: from, to: [MailAddress(delivery.recipient.email, name: delivery.recipient.name)],
            subject: content.subject, text: text, html: html, messageID: "delivery-\(delivery.id)@\(domain)", date: now,
            language: language.rawValue, headers: headers)
    }

    func taskLink(_ delivery: PendingDelivery) -> String? {
        guard let board = delivery.payload["board_id"], let task = delivery.payload["task_id"] else { return nil }
        func part(_ value: String) -> String {
            value.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? value
        }
        return "\(publicURL)/boards/\(part(board))/tasks/\(part(task))"
    }

    struct Content {
        var subject: String
        var headline: String
        var details: [String]
        var open: String
        var footer: String
    }

    static func content(for delivery: PendingDelivery, language: Language) -> Content {
        let title = delivery.payload["title"] ?? "-"
        let board = delivery.boardName ?? "-"
        let actor = delivery.actorName ?? (language == .ko ? "누군가" : "Someone")
        let isAssignee = delivery.payload["assignee_id"] == delivery.recipient.id
        let assignee = delivery.assigneeName ?? "-"
        let from = delivery.fromColumnName ?? "-"
        let to = delivery.toColumnName ?? "-"
        let excerpt = delivery.payload["excerpt"].map { $0.count < 280 ? $0 : $0 + "…" }
        let due = delivery.payload["due_at"].flatMap(Int64.init).map {
            formatDue($0, timeZone: delivery.dueTimeZone, language: language)
        }
        switch language {
        case .ko:
            let boardLine = "보드: \(board)"
            let footer = "Pier 보드에서 보낸 알림입니다. 이 메일에 회신해도 전달되지 않습니다."
            switch delivery.kind {
            case "task.assigned":
                let headline =
                    isAssignee
                    ? "\(actor) 님이 ‘\(title)’ 작업을 회원님에게 배정했습니다."
                    : "\(actor) 님이 ‘\(title)’ 작업을 \(assignee) 님에게 배정했습니다."
                return Content(
                    subject: isAssignee
                        ? "[\(board)] ‘\(title)’ 작업이 배정되었습니다" : "[\(board)] ‘\(title)’ 담당자: \(assignee)",
                    headline: headline, details: [boardLine], open: "작업 열기", footer: footer)
            case "task.status_changed":
                return Content(
                    subject: "[\(board)] ‘\(title)’: \(from) → \(to)",
                    headline: "\(actor) 님이 ‘\(title)’ 작업의 상태를 바꿨습니다: \(from) → \(to)",
                    details: [boardLine], open: "작업 열기", footer: footer)
            case "task.due_changed":
                return Content(
                    subject: "[\(board)] ‘\(title)’ 마감: \(due ?? "없음")",
                    headline: due == nil
                        ? "\(actor) 님이 ‘\(title)’ 작업의 마감을 없앴습니다."
                        : "\(actor) 님이 ‘\(title)’ 작업의 마감을 바꿨습니다.",
                    details: (due.map { ["새 마감: \($0)"] } ?? []) + [boardLine], open: "작업 열기", footer: footer)
            case "task.commented":
                return Content(
                    subject: "[\(board)] ‘\(title)’ 새 댓글",
                    headline: "\(actor) 님이 ‘\(title)’ 작업에 댓글을 남겼습니다.",
                    details: (excerpt.map { ["“\($0)”"] } ?? []) + [boardLine], open: "작업 열기", footer: footer)
            case "task.unassigned":
                return Content(
                    subject: "[\(board)] ‘\(title)’ 작업의 담당이 해제되었습니다",
                    headline: "\(actor) 님이 ‘\(title)’ 작업에서 회원님의 담당을 해제했습니다.",
                    details: [boardLine], open: "작업 열기", footer: footer)
            case "task.due_soon":
                return Content(
                    subject: "[\(board)] ‘\(title)’ 마감이 다가옵니다: \(due ?? "-")",
                    headline: "회원님이 담당한 ‘\(title)’ 작업의 마감이 다가옵니다.",
                    details: (due.map { ["마감: \($0)"] } ?? []) + [boardLine], open: "작업 열기", footer: footer)
            case "task.overdue":
                return Content(
                    subject: "[\(board)] ‘\(title)’ 마감이 지났습니다",
                    headline: isAssignee
                        ? "회원님이 담당한 ‘\(title)’ 작업의 마감이 지났습니다."
                        : "\(assignee) 님이 담당한 ‘\(title)’ 작업의 마감이 지났습니다.",
                    details: (due.map { ["마감: \($0)"] } ?? []) + [boardLine], open: "작업 열기", footer: footer)
            default:
                return Content(
                    subject: "[\(board)] ‘\(title)’ 작업이 바뀌었습니다", headline: "\(actor) 님이 ‘\(title)’ 작업을 바꿨습니다.",
                    details: [boardLine], open: "작업 열기", footer: footer)
            }
        case .en:
            let boardLine = "Board: \(board)"
            let footer = "A notification from your Pier board. Replies to this email are not read."
            switch delivery.kind {
            case "task.assigned":
                return Content(
                    subject: isAssignee
                        ? "[\(board)] You were assigned “\(title)”"
                        : "[\(board)] “\(title)” was assigned to \(assignee)",
                    headline: isAssignee
                        ? "\(actor) assigned “\(title)” to you." : "\(actor) assigned “\(title)” to \(assignee).",
                    details: [boardLine], open: "Open the task", footer: footer)
            case "task.status_changed":
                return Content(
                    subject: "[\(board)] “\(title)”: \(from) → \(to)",
                    headline: "\(actor) moved “\(title)” from \(from) to \(to).", details: [boardLine],
                    open: "Open the task", footer: footer)
            case "task.due_changed":
                return Content(
                    subject: "[\(board)] “\(title)” is due \(due ?? "no longer")",
                    headline: due == nil
                        ? "\(actor) removed the due date of “\(title)”."
                        : "\(actor) changed the due date of “\(title)”.",
                    details: (due.map { ["New due date: \($0)"] } ?? []) + [boardLine], open: "Open the task",
                    footer: footer)
            case "task.commented":
                return Content(
                    subject: "[\(board)] New comment on “\(title)”",
                    headline: "\(actor) commented on “\(title)”.",
                    details: (excerpt.map { ["“\($0)”"] } ?? []) + [boardLine], open: "Open the task", footer: footer)
            case "task.unassigned":
                return Content(
                    subject: "[\(board)] You are no longer assigned “\(title)”",
                    headline: "\(actor) took you off “\(title)”.", details: [boardLine], open: "Open the task",
                    footer: footer)
            case "task.due_soon":
                return Content(
                    subject: "[\(board)] “\(title)” is due soon: \(due ?? "-")",
                    headline: "“\(title)”, assigned to you, is due soon.",
                    details: (due.map { ["Due: \($0)"] } ?? []) + [boardLine], open: "Open the task", footer: footer)
            case "task.overdue":
                return Content(
                    subject: "[\(board)] “\(title)” is overdue",
                    headline: isAssignee
                        ? "“\(title)”, assigned to you, is past its due date."
                        : "“\(title)”, assigned to \(assignee), is past its due date.",
                    details: (due.map { ["Due: \($0)"] } ?? []) + [boardLine], open: "Open the task", footer: footer)
            default:
                return Content(
                    subject: "[\(board)] “\(title)” changed", headline: "\(actor) changed “\(title)”.",
                    details: [boardLine],
                    open: "Open the task", footer: footer)
            }
        }
    }

    static func formatDue(_ milliseconds: Int64, timeZone: String?, language: Language) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: language == .ko ? "ko_KR" : "en_US_POSIX")
        formatter.timeZone = timeZone.flatMap(TimeZone.init(identifier:)) ?? TimeZone(identifier: "UTC")
        formatter.dateFormat = language == .ko ? "yyyy년 M월 d일 (E) HH:mm" : "EEE, d MMM yyyy HH:mm"
        let zone = formatter.timeZone.identifier
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000)) + " (\(zone))"
    }

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
