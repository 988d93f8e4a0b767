"""Faults: a board instance SIGKILLed under mixed load, a rolling restart, PostgreSQL restarted under load, edge
reloads with event streams and WebSockets open, and a full disk under SQLite."""

import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

from .harness import HTTP, Load, TransportError, log, temp_dir, wait_http
from .pier import API, Board
from .stub import SSEClient, WSClient


def describe(records, limit=4):
    bad = [r for r in records if not r[3]]
    kinds = Counter(f"{r[2]}: {r[4][:90]}" for r in bad)
    return "; ".join(f"{n}× {k}" for k, n in kinds.most_common(limit))


class MixedLoad:
    """GET readers and task-creating writers through the edge on one board; writers remember what they sent so the
    board can be checked afterwards."""

    def __init__(self, port, token, board, readers=4, writers=2, tag="mix"):
        self.board = board
        self.sent = {}  # title -> (content, labels)
        self.outcome = {}  # title -> status or error
        self.lock = threading.Lock()
        column = board["columns"][0]["id"]

        def read(_index, client):
            r = client.request("GET", f"/api/v1/boards/{board['id']}/tasks?limit=20")
            return "GET", r.status == 200, f"{r.status} {r.body[:80]!r}"

        def write(index, client):
            title = f"{tag}-{index}-{uuid.uuid4().hex[:10]}"
            content = f"content of {title} " * 20
            labels = [f"l{index}", title[-6:]]
            with self.lock:
                self.sent[title] = (content, labels)
            try:
                r = client.request("POST", f"/api/v1/boards/{board['id']}/tasks",
                                   {"title": title, "content": content, "labels": labels, "column_id": column})
            except TransportError as error:
                with self.lock:
                    self.outcome[title] = "transport"
                raise error
            with self.lock:
                self.outcome[title] = r.status
            return "POST", r.status == 201, f"{r.status} {r.body[:80]!r}"

        self.reads = Load(port, readers, read, token=token)
        self.writes = Load(port, writers, write, token=token)

    def start(self):
        self.reads.start()
        self.writes.start()
        return self

    def stop(self):
        return self.reads.stop(), self.writes.stop()

    def check_writes(self, api):
        """(problems, created_ok, failed, in_board_without_2xx)."""
        present = {t["title"]: t for t in api.all_tasks(self.board["id"]) if t["title"] in self.sent}
        problems = []
        ok = [t for t, s in self.outcome.items() if s == 201]
        failed = [t for t, s in self.outcome.items() if s != 201]
        for title in ok:
            if title not in present:
                problems.append(f"{title} got 201 but is not on the board")
        for title, task in present.items():
            content, labels = self.sent[title]
            if task["content"] != content or sorted(task["labels"]) != sorted(labels):
                problems.append(f"{title} is half-written: {task!r:.200}")
        unanswered = [t for t in failed if t in present]
        return problems, len(ok), failed, unanswered


def run_kill(results, context, kills=1):
    edge, boards, api = context.edge, context.boards, context.api
    board = api.create_board("kill under load")
    load = MixedLoad(edge.port, api.token, board, tag="kill").start()
    time.sleep(2)
    for k in range(kills):
        victim = boards[(k + 1) % len(boards)]
        log(f"SIGKILL {victim.name} (pid {victim.process.pid}) under load")
        victim.process.kill()
        time.sleep(3)
        victim.start()
        edge.wait_targets_healthy(len(boards))
        time.sleep(2)
    reads, writes = load.stop()
    bad_reads = [r for r in reads if not r[3]]
    results.add("faults", "instance SIGKILLed: GETs through the edge", len(reads), len(bad_reads),
                describe(reads) or f"{kills} kill(s), {load.reads.stale_retries()} stale keep-alive resends")
    problems, created, failed, unanswered = load.check_writes(api)
    allowed = 2 * kills  # the writers' requests in flight at each kill
    excess = max(0, len(failed) - allowed)
    detail = (f"{created} created; {len(failed)} failed (allowed: the {allowed} in flight), "
              f"{len(unanswered)} of them applied anyway; " + (describe(writes) or ""))
    results.add("faults", "instance SIGKILLed: writes (only in-flight fail)", len(writes), excess, detail)
    results.add("faults", "instance SIGKILLed: nothing half-written or lost", created, len(problems),
                "; ".join(problems[:5]) or "every 201 on the board, every task complete")


def run_rolling(results, context):
    edge, boards, api = context.edge, context.boards, context.api
    board = api.create_board("rolling restart")
    load = MixedLoad(edge.port, api.token, board, tag="roll").start()
    time.sleep(2)
    for board_instance in boards:
        log(f"rolling restart: SIGTERM {board_instance.name}")
        status = board_instance.process.stop()
        if status != 0:
            log(f"{board_instance.name} exited with {status} after SIGTERM")
        board_instance.start()
        edge.wait_targets_healthy(len(boards))
        time.sleep(1.5)
    reads, writes = load.stop()
    results.add("faults", "rolling restart: GETs (0 errors)", len(reads), sum(1 for r in reads if not r[3]),
                describe(reads) or f"{len(boards)} instances restarted one by one")
    results.add("faults", "rolling restart: writes (0 errors)", len(writes), sum(1 for r in writes if not r[3]),
                describe(writes))
    problems, created, _failed, _unanswered = load.check_writes(api)
    results.add("faults", "rolling restart: nothing half-written or lost", created, len(problems),
                "; ".join(problems[:5]))


def run_postgres_restart(results, context, down_seconds=3):
    edge, boards, api, postgres = context.edge, context.boards, context.api, context.postgres
    board = api.create_board("postgres restart")
    statuses = Counter()
    unclear = []
    lock = threading.Lock()
    column = board["columns"][0]["id"]

    def operation(index, client):
        if index % 2:
            r = client.request("POST", f"/api/v1/boards/{board['id']}/tasks",
                               {"title": f"pg-{uuid.uuid4().hex[:8]}", "column_id": column})
            good = {201}
        else:
            r = client.request("GET", f"/api/v1/boards/{board['id']}/tasks?limit=5")
            good = {200}
        with lock:
            statuses[r.status] += 1
            if r.status not in good and not (r.status == 503 and r.is_problem()):
                body = r.json() if r.is_problem() else None
                unclear.append(f"{'POST' if index % 2 else 'GET'} {r.status} {body.get('code')}: {body.get('detail')}"
                               if body else f"{r.status} {(r.header('content-type') or '')} {r.body[:100]!r}")
        time.sleep(0.02)
        return "op", r.status in good or (r.status == 503 and r.is_problem()), str(r.status)

    load = Load(edge.port, 4, operation, token=api.token).start()
    time.sleep(1.5)
    log("stopping PostgreSQL under load")
    postgres.stop("fast")
    time.sleep(1)
    # Straight to an instance: readiness must say "not ready" promptly, or the edge learns it only by timing out.
    probe_start = time.monotonic()
    try:
        ready = HTTP(boards[0].port, timeout=5).request("GET", "/readyz")
        readiness = f"{ready.status} in {time.monotonic() - probe_start:.1f}s"
        ready_ok = ready.status == 503
    except TransportError as error:
        readiness = f"no answer in 5 s ({error})"
        ready_ok = False
    time.sleep(max(0, down_seconds - (time.monotonic() - probe_start) - 1))
    during = dict(statuses)
    postgres.start()
    log("PostgreSQL started again")
    recovered_after = None
    start = time.monotonic()
    deadline = start + 40
    client = HTTP(edge.port, token=api.token)
    while time.monotonic() < deadline:
        try:
            ok = all(HTTP(b.port, timeout=2).request("GET", "/readyz").status == 200 for b in boards)
            r = client.request("POST", f"/api/v1/boards/{board['id']}/tasks",
                               {"title": f"pg-after-{uuid.uuid4().hex[:8]}", "column_id": column})
            if ok and r.status == 201:
                recovered_after = time.monotonic() - start
                break
        except TransportError:
            pass
        time.sleep(0.25)
    time.sleep(1)
    records = load.stop()
    transport = [r for r in records if r[2] in ("transport", "exception")]
    unclear.extend(r[4][:100] for r in transport)
    saw_503 = statuses.get(503, 0)
    durations = sorted(end - begin for begin, end, *_ in records)
    slow = sum(1 for d in durations if d > 5)
    detail = f"statuses {dict(sorted(statuses.items()))}" + (
        "; not clear: " + "; ".join(f"{n}× {text}" for text, n in Counter(unclear).most_common(3)) if unclear else "")
    results.add("faults", "PostgreSQL down: only 503 problem documents", len(records), len(unclear),
                detail + ("" if saw_503 else " (no 503 seen during the outage)")
                + f"; slowest answer {durations[-1]:.1f}s, {slow} over 5 s (a client gives up at 15 s)")
    results.add("faults", "PostgreSQL down: /readyz answers 503 at once", 1, 0 if ready_ok else 1,
                f"GET /readyz on {boards[0].name} with PostgreSQL stopped: {readiness}")
    results.add("faults", "PostgreSQL back: recovery without restarting Pier", 1, 0 if recovered_after is not None else 1,
                f"all instances ready and a write 201 {recovered_after:.1f}s after PostgreSQL started"
                if recovered_after is not None else "no recovery within 40 s")
    alive = [b.name for b in boards if not b.process.alive()]
    if alive:
        results.add("faults", "PostgreSQL restart: board processes survive", len(boards), len(alive),
                    f"exited: {alive}")


def run_reloads(results, context, reloads=50, streams=10, sockets=5):
    edge = context.edge
    sse = [SSEClient(edge.port, f"/sse/{i}") for i in range(streams)]
    ws = [WSClient(edge.port, f"/ws/{i}") for i in range(sockets)]

    def get(index, client):
        path = "/1k.txt" if index % 2 else "/api/v1/me"
        r = client.request("GET", path)
        return "GET", r.status in (200,) or (path == "/api/v1/me" and r.status == 401), str(r.status)

    load = Load(edge.port, 3, get).start()
    time.sleep(1)
    before = sum(1 for line in edge.process.lines if "configuration reloaded" in line)
    ws_failures = []
    for i in range(reloads):
        edge.write_config(generation=edge.generation + 1)
        edge.process.signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if sum(1 for line in edge.process.lines if "configuration reloaded" in line) >= before + i + 1:
                break
            time.sleep(0.02)
        for j, client in enumerate(ws):
            try:
                client.echo(f"reload {i} socket {j}")
            except Exception as error:
                ws_failures.append(f"socket {j} after reload {i}: {error!r}")
        time.sleep(0.05)
    applied = sum(1 for line in edge.process.lines if "configuration reloaded" in line) - before
    counts = [s.events for s in sse]
    time.sleep(1.0)
    records = load.stop()
    dropped = [f"stream {i}: {s.ended}" for i, s in enumerate(sse) if s.ended is not None or s.events <= counts[i]]
    for s in sse:
        s.close()
    for c in ws:
        c.close()
    results.add("faults", f"{reloads} edge reloads: configurations applied", reloads, max(0, reloads - applied),
                f"{applied} 'configuration reloaded' lines")
    results.add("faults", "edge reloads: SSE streams kept", streams, len(dropped),
                "; ".join(dropped[:5]) or f"events per stream ≥ {min(s.events for s in sse)}")
    results.add("faults", "edge reloads: WebSockets kept (echo each reload)", sockets * reloads, len(ws_failures),
                "; ".join(ws_failures[:3]))
    results.add("faults", "edge reloads: GETs (0 errors)", len(records), sum(1 for r in records if not r[3]),
                describe(records))


def run_disk_full(results, binary, log_dir):
    """SQLite on a 3 MiB tmpfs (as root), else (or with PIER_CHAOS_DISK=rlimit) under RLIMIT_FSIZE with SIGXFSZ
    ignored: writes then fail with EFBIG, which SQLite reports as an I/O error rather than SQLITE_FULL. Writes past the limit must get a clear error (a problem document), reads keep
    working, the process survives, and afterwards the database passes PRAGMA integrity_check with every 201 in it."""
    directory = temp_dir("pier-chaos-disk.")
    mounted = False
    if os.getuid() == 0 and os.environ.get("PIER_CHAOS_DISK") != "rlimit":
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m,mode=0755", "tmpfs", str(directory)],
                              capture_output=True, text=True)
        mounted = done.returncode == 0
    preexec = None
    if mounted:
        from .harness import CLEANUP
        CLEANUP.add(lambda: subprocess.run(["umount", "-l", str(directory)], capture_output=True))
        mode = "3 MiB tmpfs (ENOSPC)"
    else:
        limit = 3 * 1024 * 1024

        def preexec():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        mode = "RLIMIT_FSIZE 3 MiB (EFBIG; tmpfs needs root)" if os.getuid() else "RLIMIT_FSIZE 3 MiB (EFBIG)"
    database = directory / "pier.sqlite"
    key = directory / "signing-key"
    board_process = Board(binary, "board-diskfull", f"sqlite://{database}", str(key), log_dir, preexec_fn=preexec)
    board_process.start(credentials=True)
    api = API(board_process.port, *board_process.credentials)
    board = api.create_board("disk full")
    created = []
    errors = Counter()
    unclear = []
    reads = 0
    reads_failed = []
    content = "d" * 40000
    for i in range(400):
        title = f"fill-{i}"
        try:
            r = api.call("POST", f"/boards/{board['id']}/tasks", {"title": title, "content": content})
        except TransportError as error:
            unclear.append(f"POST: {error}")
            break
        if r.status == 201:
            created.append(title)
            continue
        body = r.json() or {}
        errors[f"{r.status} {body.get('code')}"] += 1
        # Clear: a problem document that says the storage is out of space or unavailable (503 or 507 with its own
        # code), not a generic 500 internal_error.
        if not r.is_problem() or r.status not in (503, 507) or body.get("code") in (None, "internal_error"):
            unclear.append(f"POST {r.status} {body.get('code')}: {body.get('detail')}")
        g = api.call("GET", f"/boards/{board['id']}/tasks?limit=1")
        reads += 1
        if g.status != 200:
            reads_failed.append(f"GET {g.status} {(g.json() or {}).get('code')}")
        if sum(errors.values()) >= 5:
            break
    alive = board_process.process.alive()
    recovered = None
    if mounted and alive:
        subprocess.run(["mount", "-o", "remount,size=16m", str(directory)], capture_output=True)
        r = api.call("POST", f"/boards/{board['id']}/tasks", {"title": "after-space-freed", "content": "ok"})
        recovered = f"{r.status} {(r.json() or {}).get('code', '')}"
        if r.status == 201:
            created.append("after-space-freed")
    board_process.process.stop()
    copy = temp_dir("pier-chaos-diskcheck.")
    for suffix in ("", "-wal", "-shm"):
        source = Path(str(database) + suffix)
        if source.exists():
            shutil.copy(source, copy / ("pier.sqlite" + suffix))
    connection = sqlite3.connect(copy / "pier.sqlite")
    integrity = connection.execute("PRAGMA integrity_check").fetchone()[0]
    titles = {row[0] for row in connection.execute("SELECT title FROM tasks")}
    connection.close()
    missing = [t for t in created if t not in titles]
    if not errors:
        results.add("faults", "SQLite disk full: clear error", len(created), 1,
                    f"{mode}: {len(created)} tasks of 40 KB written and no error: the limit was never reached")
    else:
        results.add("faults", "SQLite disk full: clear error", sum(errors.values()), len(unclear) + (0 if alive else 1),
                    f"{mode}: {len(created)} tasks of 40 KB written, then {dict(errors)}"
                    + (f"; expected 503/507 with a storage code, got {Counter(unclear).most_common(2)}" if unclear
                       else "") + ("" if alive else "; the board process died"))
        results.add("faults", "SQLite disk full: reads keep working", reads, len(reads_failed),
                    "; ".join(f"{n}× {t}" for t, n in Counter(reads_failed).most_common(3)))
    results.add("faults", "SQLite disk full: integrity_check ok, no 201 lost", len(created),
                (0 if integrity == "ok" else 1) + len(missing),
                f"integrity_check: {integrity}; {len(missing)} missing")
    if recovered is not None:
        results.add("faults", "SQLite disk full: writes work again once space is freed", 1,
                    0 if recovered.startswith("201") else 1,
                    f"POST after the tmpfs was grown answered {recovered}, without restarting the board")
