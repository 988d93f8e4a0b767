import Foundation

/// Validation rules for accounts, shared by the API and the command line.
public enum AccountRules {
    public static let maxEmailLength = 254
    public static let maxNameLength = 100
    public static let minPasswordLength = 10
    /// bcrypt only reads the first 72 bytes; longer passwords would silently lose their tail.
    public static let maxPasswordBytes = 72

    /// What is wrong with an email address, or `nil`.
    public static func emailProblem(_ email: String) -> String? {
        guard !email.isEmpty, email.utf8.count <= maxEmailLength else {
            return "the email must be 1 to \(maxEmailLength) characters"
        }
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."),
            !parts[1].hasSuffix("."),
            !email.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F || $0.properties.isWhitespace })
        else { return "\"\(email)\" is not an email address" }
        return nil
    }

    /// What is wrong with a display name, or `nil`.
    public static func nameProblem(_ name: String) -> String? {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, name.count <= maxNameLength else {
            return "the name must be 1 to \(maxNameLength) characters"
        }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            return "the name contains control characters"
        }
        return nil
    }

    /// What is wrong with a new password, or `nil`.
    public static func passwordProblem(_ password: String) -> String? {
        guard password.count >= minPasswordLength else {
            return "the password must have at least \(minPasswordLength) characters"
        }
        guard password.utf8.count <= maxPasswordBytes else {
            return "the password must be at most \(maxPasswordBytes) bytes"
        }
        return nil
    }

    /// A random 20-character password from an alphabet without look-alike characters.
    public static func generatePassword() -> String {
        let alphabet = Array("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<20).map { _ in alphabet.randomElement(using: &generator)! })
    }
}
