import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PierBoardStore
import PierCore

extension BoardAPI {
    func addAccountRoutes(_ group: RouterGroup<BoardContext>) {
        group.get("me") { _, context in Response.json(UserOut(try context.requireUser())) }
        group.patch("me") { request, context in try await self.updateOwnAccount(request, context) }
        group.post("me/password") { request, context in try await self.changeOwnPassword(request, context) }
        group.get("users") { _, context in
            _ = try Self.requireSupervisor(context)
            return Response.json(try await self.repository.users().map(UserOut.init))
        }
        group.post("users") { request, context in try await self.createUser(request, context) }
        group.patch("users/:id") { request, context in try await self.updateUser(request, context) }
        group.post("users/:id/password") { request, context in try await self.resetPassword(request, context) }
    }

    static func requireSupervisor(_ context: BoardContext) throws -> User {
        let user = try context.requireUser()
        guard user.role == .supervisor else { throw APIProblem.forbidden("only a supervisor may do this") }
        return user
    }

    /// A path id: ids are UUIDs, so anything else cannot exist.
    static func pathID(_ context: BoardContext, _ what: String, parameter: String = "id") throws -> String {
        guard let id = context.parameters.get(parameter), id.utf8.count == 36,
            id.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) || $0 == 0x2D })
        else { throw APIProblem.notFound(what) }
        return id
    }

    /// `POST /users`: a Supervisor adds an account; without a password one is generated and returned once.
    func createUser(_ request: Request, _ context: BoardContext) async throws -> Response {
        let actor = try Self.requireSupervisor(context)
        let input = try await JSONInput.read(request, allowed: ["email", "name", "role", "password"])
        let email = try input.string("email", maxLength: AccountRules.maxEmailLength)
        if let problem = AccountRules.emailProblem(email) { throw APIProblem.invalidField("email", problem) }
        let name = try input.string("name", maxLength: AccountRules.maxNameLength)
        if let problem = AccountRules.nameProblem(name) { throw APIProblem.invalidField("name", problem) }
        let roleText = try input.string("role", maxLength: 20)
        guard let role = UserRole(rawValue: roleText) else {
            throw APIProblem.invalidField("role", "must be supervisor or pic")
        }
        var password = try input.optionalString("password", maxLength: 1024)
        if let given = password, let problem = AccountRules.passwordProblem(given) {
            throw APIProblem.invalidField("password", problem)
        }
        let generated = password == nil
        if generated { password = AccountRules.generatePassword() }
        let hash = try await passwords.hash(password!)
        let user = try await repository.createUser(
            email: email, name: name, role: role, passwordHash: hash, actorID: actor.id,
            passwordChangeRequired: generated)
        return Response.json(
            CreatedUserOut(user: UserOut(user), password: generated ? password : nil), status: .created,
            headers: [.location: "\(Self.prefix)/users/\(user.id)"])
    }

    /// `PATCH /users/{id}`: a Supervisor disables or re-enables an account (not their own).
    func updateUser(_ request: Request, _ context: BoardContext) async throws -> Response {
        let actor = try Self.requireSupervisor(context)
        let id = try Self.pathID(context, "user")
        let input = try await JSONInput.read(request, allowed: ["disabled"])
        guard let disabled = try input.optionalBool("disabled") else { throw APIProblem.missingField("disabled") }
        if id == actor.id && disabled {
            throw APIProblem(.conflict, code: "cannot_disable_self", detail: "you cannot disable your own account")
        }
        let user = try await repository.setUserDisabled(id: id, disabled: disabled, actorID: actor.id)
        return Response.json(UserOut(user))
    }

    /// `POST /users/{id}/password`: a Supervisor sets a new password (given, or generated and returned once); every
    /// session of that account ends.
    func resetPassword(_ request: Request, _ context: BoardContext) async throws -> Response {
        let actor = try Self.requireSupervisor(context)
        let id = try Self.pathID(context, "user")
        // One's own password changes only with the current one (and `/me/password`'s throttle): a stolen
        // Supervisor token must not be enough to take over the account for good.
        if id == actor.id {
            throw APIProblem(
                .conflict, code: "cannot_reset_own_password",
                detail: "change your own password with POST \(Self.prefix)/me/password and the current password")
        }
        let input = try await JSONInput.read(request, allowed: ["password"], optionalBody: true)
        let given = try input.optionalString("password", maxLength: 1024)
        if let given, let problem = AccountRules.passwordProblem(given) {
            throw APIProblem.invalidField("password", problem)
        }
        guard try await repository.user(id: id) != nil else { throw APIProblem.notFound("user") }
        let password = given ?? AccountRules.generatePassword()
        try await repository.setPasswordHash(
            id: id, passwordHash: try await passwords.hash(password), actorID: actor.id,
            passwordChangeRequired: given == nil)
        return given == nil ? Response.json(StringsOut(members: ["password": password])) : Response.noContent()
    }

    /// `PATCH /me`: one's display name, and the language one uses the board in (`ko`, `en` or `null`), which one's
    /// email is written in. At least one of them.
    func updateOwnAccount(_ request: Request, _ context: BoardContext) async throws -> Response {
        var user = try context.requireUser()
        let input = try await JSONInput.read(request, allowed: ["language", "name"])
        let name = try input.optionalString("name", maxLength: AccountRules.maxNameLength)
        if let name, let problem = AccountRules.nameProblem(name) { throw APIProblem.invalidField("name", problem) }
        let language = try input.clearableString("language", maxLength: 2)
        if case .some(.some(let language)) = language, !["ko", "en"].contains(language) {
            throw APIProblem.invalidField("language", "expected ko, en or null")
        }
        guard name != nil || language != nil else { throw APIProblem.missingField("name") }
        if let name { user = try await repository.setName(id: user.id, name: name) }
        if let language { user = try await repository.setLanguage(id: user.id, language: language) }
        return Response.json(UserOut(user))
    }

    /// `POST /me/password`: anyone changes their own password by giving the current one (throttled like sign-in).
    func changeOwnPassword(_ request: Request, _ context: BoardContext) async throws -> Response {
        let user = try context.requireUser()
        let input = try await JSONInput.read(request, allowed: ["current_password", "new_password"])
        let current = try input.string("current_password", maxLength: 1024, allowEmpty: true)
        try Self.refuseOverlongPassword(current, field: "current_password")
        let new = try input.string("new_password", maxLength: 1024)
        if let problem = AccountRules.passwordProblem(new) { throw APIProblem.invalidField("new_password", problem) }
        let account = user.email.lowercased()
        let address = clientAddress(request, context)
        if let wait = throttle.begin(account: account, address: address) { throw Self.throttled(wait) }
        guard try await passwords.verify(current, hash: user.passwordHash) else {
            throw APIProblem(
                .forbidden, code: "invalid_credentials", detail: "the current password is wrong",
                extensions: [APIProblem.naming("current_password")])
        }
        throttle.recordSuccess(account: account, address: address)
        try await repository.setPasswordHash(id: user.id, passwordHash: try await passwords.hash(new), actorID: user.id)
        return Response.noContent(headers: Self.clearedCookies)
    }
}
