import Foundation
import PierTesting
import Synchronization
import Testing

/// `pier backup` taken while a board instance writes, then restored as the README says.
@Suite("pier backup")
struct BackupCommandTests {
    @Test(
        "a backup taken during writes passes the integrity check, holds every task committed before it began, and serves after a restore; it never overwrites; PostgreSQL is refused"
    )
    func backupDuringWrites() async throws {
        try await TemporaryDirectory.with { directory in
            let database = directory + "/live/pier.sqlite"
            let (server, port) = try await BoardServeTests.started(["--database-url", "sqlite://\(database)"])
            let (email, password) = try await BoardServeTests.credentials(server, port: port)
            let credentials = #"{"email":"\#(email)","password":"\#(password)"}"#
            let login = try await BoardServeTests.post(port, "/api/v1/auth/login", credentials)
            let token = try #require(BoardServeTests.json(login.text)["access_token"] as? String)
            let board = try await BoardServeTests.post(port, "/api/v1/boards", token: token, #"{"name":"백업"}"#)
            let boardID = try #require(BoardServeTests.json(board.text)["id"] as? String)

            // One writer creates tasks without pause; the titles it saw committed are kept in order.
            let committed = Mutex<[String]>([])
            let stop = Atomic<Bool>(false)
            let writer = Task {
                var index = 0
                while !stop.load(ordering: .relaxed) {
                    let title = "task \(index)"
                    let created = try await BoardServeTests.post(
                        port, "/api/v1/boards/\(boardID)/tasks", token: token, #"{"title":"\#(title)"}"#)
                    if created.status == 201 { committed.withLock { $0.append(title) } }
                    index += 1
                    // A steady stream rather than a flood: the other suites run beside this one.
                    try await Task.sleep(for: .milliseconds(10))
                }
            }
            while committed.withLock({ $0.count }) < 40 { try await Task.sleep(for: .milliseconds(20)) }
            let before = committed.withLock { $0 }
            let target = directory + "/pier-backup.sqlite"
            let backup = try await PierBinary.run([
                "backup", "--database-url", "sqlite://\(database)", "--to", target,
            ])
            let duringBackup = committed.withLock { $0.count } - before.count
            stop.store(true, ordering: .relaxed)
            try await writer.value
            #expect(backup.status == 0, "\(backup.output + backup.error)")
            #expect(backup.output.contains("integrity ok"), "\(backup.output)")
            print("pier backup: \(before.count) tasks committed before it began, \(duringBackup) during it")
            let mode = try FileManager.default.attributesOfItem(atPath: target)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            // Read by another SQLite than the one inside Pier.
            let integrity = try await CommandLineTool.run(
                "python3",
                [
                    "-c",
                    "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                        + "print(c.execute('PRAGMA integrity_check').fetchone()[0]); "
                        + "print(c.execute('SELECT COUNT(*) FROM tasks').fetchone()[0])",
                    target,
                ]
            ).all
            let lines = integrity.split(separator: "\n")
            #expect(lines.first == "ok", "\(integrity)")
            let copied = Int(lines.last ?? "") ?? 0
            #expect(copied >= before.count && copied <= committed.withLock { $0.count }, "\(copied) tasks")

            let again = try await PierBinary.run(["backup", "--database-url", "sqlite://\(database)", "--to", target])
            #expect(again.status == 1)
            #expect(again.error.contains("exists already"), "\(again.error)")
            #expect(await server.stop() == 0)

            // Restore: the copy becomes the database of a new instance, which serves every task it holds.
            try FileManager.default.createDirectory(atPath: directory + "/restored", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: target, toPath: directory + "/restored/pier.sqlite")
            let (restored, restoredPort) = try await BoardServeTests.started([
                "--database-url", "sqlite://\(directory)/restored/pier.sqlite",
            ])
            let again2 = try await BoardServeTests.post(restoredPort, "/api/v1/auth/login", credentials)
            #expect(again2.status == 200, "\(again2.text)")
            let restoredToken = try #require(BoardServeTests.json(again2.text)["access_token"] as? String)
            let tasks = try await BoardServeTests.get(
                restoredPort, "/api/v1/boards/\(boardID)/tasks?limit=200", token: restoredToken)
            #expect(tasks.status == 200)
            let missing = before.filter { !tasks.text.contains("\"\($0)\"") }
            #expect(missing.isEmpty, "missing after restore: \(missing)")
            #expect(await restored.stop() == 0)

            let postgres = try await PierBinary.run([
                "backup", "--database-url", "postgres://pier@127.0.0.1:5432/pier", "--to", directory + "/x",
            ])
            #expect(postgres.status != 0)
            #expect(postgres.error.contains("pg_dump"), "\(postgres.error)")
        }
    }
}
