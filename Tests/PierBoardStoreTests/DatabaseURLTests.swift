import PierBoardStore
import Testing

@Suite("Database URLs")
struct DatabaseURLTests {
    @Test("sqlite URLs keep absolute and relative paths")
    func sqlite() throws {
        #expect(
            try DatabaseURL(parsing: "sqlite:///var/lib/pier/pier.sqlite") == .sqlite(path: "/var/lib/pier/pier.sqlite")
        )
        #expect(
            try DatabaseURL(parsing: "sqlite://./pier-data/pier.sqlite") == .sqlite(path: "./pier-data/pier.sqlite"))
    }

    @Test("postgres URLs are split into their parts and the password is masked when printed")
    func postgres() throws {
        let url = try DatabaseURL(parsing: "postgres://pier:s%40cret@db.internal:6543/board?sslmode=require")
        guard case .postgres(let location) = url else {
            Issue.record("expected postgres")
            return
        }
        #expect(location.host == "db.internal")
        #expect(location.port == 6543)
        #expect(location.username == "pier")
        #expect(location.password == "s@cret")
        #expect(location.database == "board")
        #expect(location.requireTLS)
        #expect(url.description == "postgres://pier:***@db.internal:6543/board")
        #expect(location.rootCertificatePath == nil)
        let privateCA = try DatabaseURL(
            parsing: "postgres://pier@db/board?sslmode=verify-full&sslrootcert=/etc/hostname")
        guard case .postgres(let verified) = privateCA else { return }
        #expect(verified.requireTLS && verified.rootCertificatePath == "/etc/hostname")
        #expect(!url.description.contains("cret"))
    }

    @Test(
        "refuses malformed URLs",
        arguments: [
            "mysql://x@y/z", "sqlite://", "postgres://host/db", "postgres://u@host", "postgres://u@h/db?sslmode=bogus",
            "", "postgres://u@h/db?sslrootcert=/etc/hostname", "postgres://u@h/db?sslmode=require&sslrootcert=/nope",
            "postgres://u@h/db?application_name=x",
        ]
    )
    func refuses(text: String) {
        #expect(throws: DatabaseURL.ParseError.self) { try DatabaseURL(parsing: text) }
    }
}
