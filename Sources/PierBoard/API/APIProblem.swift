import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PierBoardStore
import PierCore

/// An API error answered as an RFC 9457 `application/problem+json` document with a stable `code`.
///
/// Every error the board API produces goes through this type, including the router's own 404/405 and unexpected
/// failures (500 with the request id, details only in the log).
public struct APIProblem: Error, HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var code: String
    public var detail: String?
    /// Extra members as raw JSON, such as `current_version`.
    public var extensions: [(name: String, json: String)]
    public var headers: HTTPFields

    public init(
        _ status: HTTPResponse.Status,
        code: String,
        detail: String? = nil,
        extensions: [(name: String, json: String)] = [],
        headers: HTTPFields = [:]
    ) {
        self.status = status
        self.code = code
        self.detail = detail
        self.extensions = extensions
        self.headers = headers
    }

    public var description: String { "\(status.code) \(code)\(detail.map { ": \($0)" } ?? "")" }

    public var problem: ProblemDetails {
        ProblemDetails(
            status: status.code, title: status.reasonPhrase, code: code, detail: detail, extensions: extensions)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var problem = problem
        // The request id Hummingbird puts in the request's logger metadata (absent with a handler that keeps none).
        if let requestID = context.logger[metadataKey: "hb.request.id"] {
            problem.extensions.append(("request_id", JSONText.quoted("\(requestID)")))
        }
        var headers = headers
        headers[.contentType] = ProblemDetails.contentType
        headers[.cacheControl] = "no-store"
        headers[.xContentTypeOptions] = "nosniff"
        return Response(
            status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: problem.json)))
    }

    // MARK: The problems the API uses

    static func unauthenticated(_ detail: String = "sign in first") -> APIProblem {
        APIProblem(.unauthorized, code: "unauthenticated", detail: detail, headers: [.wwwAuthenticate: "Bearer"])
    }
    static func tokenExpired() -> APIProblem {
        APIProblem(
            .unauthorized, code: "token_expired", detail: "the access token has expired; refresh it",
            headers: [.wwwAuthenticate: "Bearer error=\"invalid_token\""])
    }
    static func forbidden(_ detail: String) -> APIProblem {
        APIProblem(.forbidden, code: "forbidden", detail: detail)
    }
    static func notFound(_ what: String) -> APIProblem {
        APIProblem(.notFound, code: "not_found", detail: "\(what) not found")
    }
    static func invalidField(_ field: String, _ detail: String) -> APIProblem {
        APIProblem(.badRequest, code: "invalid_field", detail: "\(field): \(detail)", extensions: [naming(field)])
    }
    static func missingField(_ field: String) -> APIProblem {
        APIProblem(.badRequest, code: "missing_field", detail: "\(field) is required", extensions: [naming(field)])
    }
    /// The `field` member naming the offending input field.
    static func naming(_ field: String) -> (name: String, json: String) {
        ("field", JSONText.quoted(field))
    }
    static func invalidParameter(_ name: String, _ detail: String) -> APIProblem {
        APIProblem(
            .badRequest, code: "invalid_parameter", detail: "\(name): \(detail)",
            extensions: [("parameter", JSONText.quoted(name))])
    }

    /// The `Retry-After` of `database_unavailable`: a moment, since a pool reconnects by itself.
    static let retryAfterSeconds = 2

    /// Maps a storage error to the API's answer.
    static func from(_ error: StoreError) -> APIProblem {
        if error.isNotFound { return APIProblem(.notFound, code: "not_found", detail: error.reason) }
        if error.isConflict {
            return APIProblem(
                .conflict, code: "version_conflict", detail: error.reason,
                extensions: error.currentVersion.map { [("current_version", String($0))] } ?? [])
        }
        if error.isDuplicate { return APIProblem(.conflict, code: "duplicate", detail: error.reason) }
        if error.isInvalid { return APIProblem(.badRequest, code: "invalid_request", detail: error.reason) }
        if error.isForbidden { return APIProblem(.forbidden, code: "forbidden", detail: error.reason) }
        if error.isRefused, let rule = error.rule { return APIProblem(.conflict, code: rule, detail: error.reason) }
        if error.isStorageFull {
            return APIProblem(
                .insufficientStorage, code: "storage_full",
                detail: "the database has no space left, so the change was not made; reading still works")
        }
        if error.isUnavailable {
            return APIProblem(
                .serviceUnavailable, code: "database_unavailable",
                detail: "the database cannot be reached right now; try again shortly",
                headers: [.retryAfter: String(retryAfterSeconds)])
        }
        return APIProblem(.internalServerError, code: "internal_error", detail: "the stored data could not be read")
    }
}

extension HTTPResponse.Status {
    /// 507 (RFC 4918 §11.5): the server cannot store what the request needs.
    static let insufficientStorage = HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage")
}
