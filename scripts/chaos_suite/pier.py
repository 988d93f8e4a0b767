"""Pier under test: a throwaway PostgreSQL cluster, board instances, an edge in front of them, `pier up`, and a
small API client."""

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from .harness import CLEANUP, HTTP, Proc, free_port, log, temp_dir, wait_http


CHOSEN_PASSWORD = "the Supervisor's own password"


def own_password(port, email, generated):
    """The first Supervisor's password is generated and must be replaced before the account may do anything else,
    as its first sign-in in the web app asks: sets CHOSEN_PASSWORD in its place and returns it."""
    http = HTTP(port, timeout=30)
    try:
        r = http.request("POST", "/api/v1/auth/login", {"email": email, "password": generated})
        if r.status != 200:
            raise RuntimeError(f"sign-in with the generated password failed: {r!r}")
        if not r.json()["user"].get("password_change_required"):
            return generated
        changed = http.request("POST", "/api/v1/me/password",
                               {"current_password": generated, "new_password": CHOSEN_PASSWORD},
                               token=r.json()["access_token"])
        if changed.status != 204:
            raise RuntimeError(f"replacing the generated password failed: {changed!r}")
        return CHOSEN_PASSWORD
    finally:
        http.close()


class Postgres:
    """A cluster of our own (we restart it under load, so it cannot be the one scripts/test shares), started the way
    scripts/test starts its: initdb as the postgres user when we are root, trust auth, loopback only."""

    def __init__(self, log_dir):
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: [int(x) for x in p.parent.name.split(".") if x.isdigit()])
        if not bins:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        self.bin = bins[-1]
        self.dir = temp_dir("pier-chaos-pg.")
        os.chmod(self.dir, 0o755)
        if os.getuid() == 0:
            shutil.chown(self.dir, "postgres")
        self.port = free_port()
        self.log_dir = log_dir
        self.url = f"postgres://pier@127.0.0.1:{self.port}/pier"
        self._run(f"'{self.bin}/initdb' -D '{self.dir}/data' -U pier --auth=trust -E UTF8 --no-locale")
        self.start()
        CLEANUP.add(self.teardown)
        self._run(f"'{self.bin}/createdb' -h 127.0.0.1 -p {self.port} -U pier pier")

    def _run(self, command):
        if os.getuid() == 0:
            argv = ["su", "postgres", "-s", "/bin/sh", "-c", command]
        else:
            argv = ["sh", "-c", command]
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{command}: {done.stdout}{done.stderr}")
        return done.stdout

    def start(self):
        self._run(
            f"'{self.bin}/pg_ctl' -D '{self.dir}/data' -w -o \"-p {self.port} -k '{self.dir}' "
            f"-c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200\" -l '{self.dir}/server.log' start")

    def stop(self, mode="fast"):
        self._run(f"'{self.bin}/pg_ctl' -D '{self.dir}/data' -m {mode} -w stop")

    def teardown(self):
        pid = None
        pidfile = self.dir / "data" / "postmaster.pid"
        if pidfile.exists():
            pid = int(pidfile.read_text().split()[0])
        try:
            self.stop("immediate")
        except Exception:
            pass
        if pid:
            for _ in range(50):
                try:
                    state = Path(f"/proc/{pid}/stat").read_text().split()[2]
                except OSError:
                    break
                if state == "Z":
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
        try:
            shutil.copy(self.dir / "server.log", Path(self.log_dir) / "postgres.log")
        except OSError:
            pass


class Board:
    """One `pier board serve` instance."""

    def __init__(self, binary, name, database_url, key_file, log_dir, extra=(), port=None, preexec_fn=None,
                 cwd=None):
        self.binary = binary
        self.name = name
        self.database_url = database_url
        self.key_file = key_file
        self.log_dir = log_dir
        self.extra = list(extra)
        self.port = port or free_port()
        self.preexec_fn = preexec_fn
        self.cwd = cwd
        self.process = None
        self.credentials = None

    def start(self, wait=True, credentials=False):
        """`credentials`: the database is empty, so wait for the first Supervisor's password to be printed."""
        argv = [self.binary, "board", "serve", "--listen", f"127.0.0.1:{self.port}", "--database-url",
                self.database_url, "--signing-key-file", self.key_file, "--bcrypt-cost", "10",
                # As a deployment behind its edge would: the edge (on loopback here) is the trusted proxy, so the
                # board sees client addresses from X-Forwarded-For (no proxy is trusted by default).
                "--trusted-proxies", "loopback", *self.extra]
        self.process = Proc(self.name, argv, self.log_dir, preexec_fn=self.preexec_fn, cwd=self.cwd)
        if wait:
            if credentials:
                self.process.wait_for(r"password:\s*\S+", 60)
            self.wait_ready()
        return self

    def wait_ready(self, timeout=60):
        self.process.wait_for(r"pier board listening on", timeout)
        wait_http(self.port, "/readyz", timeout=timeout, process=self.process)
        if self.credentials is None:
            email = re.search(r"email:\s*(\S+)", "".join(self.process.lines))
            password = re.search(r"password:\s*(\S+)", "".join(self.process.lines))
            if email and password:
                self.credentials = (email.group(1), own_password(self.port, email.group(1), password.group(1)))


class Edge:
    """`pier edge` with a generated configuration: /api/ to the board pool, /sse/ and /ws/ to a stub upstream,
    everything else static."""

    def __init__(self, binary, log_dir, board_ports, stub_port=None, extra_routes="", limits=None, name="edge"):
        self.binary = binary
        self.log_dir = log_dir
        self.dir = temp_dir("pier-chaos-edge.")
        (self.dir / "site").mkdir()
        (self.dir / "site" / "index.html").write_text("<!doctype html><title>chaos</title><p>chaos</p>\n")
        (self.dir / "site" / "1k.txt").write_text("x" * 1024)
        self.port = free_port()
        self.admin_port = free_port()
        self.board_ports = list(board_ports)
        self.stub_port = stub_port
        self.extra_routes = extra_routes
        self.limits = limits or {}
        self.name = name
        self.generation = 0
        self.config = self.dir / "edge.yaml"
        self.write_config()
        self.process = None

    def write_config(self, generation=None):
        if generation is not None:
            self.generation = generation
        # A short header timeout, so the slowloris connections outlive it and the edge's defence is exercised.
        limits = {"header_timeout": "3s", "idle_timeout": "75s", "max_connections": 10000, **self.limits}
        self.limits_in_use = limits
        limit_text = ", ".join(f"{k}: {v}" for k, v in limits.items())
        board_targets = ", ".join(f"127.0.0.1:{p}" for p in self.board_ports)
        stub = ""
        stub_pool = ""
        if self.stub_port:
            stub = f"""
  - match: {{ path_prefix: /sse/ }}
    upstream: stub
    timeouts: {{ connect: 2s, response: 10s, stream_idle: 120s }}
  - match: {{ path_prefix: /ws/ }}
    upstream: stub
    timeouts: {{ connect: 2s, response: 10s, stream_idle: 120s }}
  - match: {{ path_prefix: /stub/ }}
    upstream: stub
    timeouts: {{ connect: 2s, response: {5 + self.generation % 2}s }}
"""
            stub_pool = f"""
  stub:
    targets: [127.0.0.1:{self.stub_port}]
"""
        text = f"""# written by scripts/chaos (generation {self.generation})
listen:
  - address: 127.0.0.1:{self.port}
access_log: off
limits: {{ {limit_text} }}
admin: {{ listen: 127.0.0.1:{self.admin_port} }}
routes:
{self.extra_routes}  - match: {{ path_prefix: /api/ }}
    upstream: board
    timeouts: {{ connect: 1s, response: {30 + self.generation % 2}s }}
{stub}  - match: {{ path_prefix: / }}
    static: {{ root: ./site, spa_fallback: index.html }}
upstreams:
  board:
    targets: [{board_targets}]
    balance: round_robin
    health_check: {{ path: /readyz, interval: 500ms, timeout: 500ms, healthy_threshold: 1, unhealthy_threshold: 2 }}
    passive: {{ consecutive_failures: 3, eject_for: 2s }}
{stub_pool}"""
        temporary = self.config.with_suffix(".tmp")
        temporary.write_text(text)
        os.replace(temporary, self.config)

    def start(self):
        self.process = Proc(self.name, [self.binary, "edge", "--config", self.config], self.log_dir, cwd=self.dir)
        wait_http(self.port, "/1k.txt", timeout=30, process=self.process)
        return self

    def status(self):
        r = HTTP(self.admin_port, timeout=3).request("GET", "/status")
        return r.json()

    def wait_targets_healthy(self, count, timeout=30):
        """Waits until `count` board targets are usable (from the admin status document, whatever its exact shape:
        any target object with a true `usable` or `healthy`)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.status()
                if usable_targets(last, "board") >= count:
                    return last
            except Exception as error:
                last = error
            time.sleep(0.1)
        raise RuntimeError(f"the edge did not see {count} usable board targets in {timeout}s: {last!r}")


def usable_targets(status, pool):
    """Counts usable targets of `pool` in the admin document."""
    def pools(document):
        upstreams = document.get("upstreams") if isinstance(document, dict) else None
        if isinstance(upstreams, dict):
            return upstreams.get(pool)
        if isinstance(upstreams, list):
            for u in upstreams:
                if isinstance(u, dict) and u.get("name") == pool:
                    return u
        return None

    entry = pools(status)
    targets = entry.get("targets", []) if isinstance(entry, dict) else []
    count = 0
    for t in targets:
        if isinstance(t, dict) and (t.get("usable") is True or (t.get("usable") is None and t.get("healthy") is True)):
            count += 1
    return count


class PierUp:
    """`pier up` (the edge, one board instance and SQLite in a fresh data directory)."""

    def __init__(self, binary, log_dir, name="pier-up", data_dir=None, extra=()):
        self.dir = Path(data_dir) if data_dir else temp_dir("pier-chaos-up.")
        self.port = free_port()
        argv = [binary, "up", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.dir / "data",
                "--web-root", Path(__file__).resolve().parents[2] / "web", "--bcrypt-cost", "10", *extra]
        self.process = Proc(name, argv, log_dir, cwd=self.dir)
        self.process.wait_for(r"pier up: open http", 90)
        text = "".join(self.process.lines)
        email = re.search(r"email:\s*(\S+)", text).group(1)
        wait_http(self.port, "/api/v1/openapi.json", timeout=30, process=self.process)
        self.credentials = (email, own_password(self.port, email, re.search(r"password:\s*(\S+)", text).group(1)))
        self.database = self.dir / "data" / "pier.sqlite"


class API:
    """A Bearer client of the board API (through the edge or direct)."""

    def __init__(self, port, email, password):
        self.port = port
        self.http = HTTP(port, timeout=30)
        r = self.http.request("POST", "/api/v1/auth/login", {"email": email, "password": password})
        if r.status != 200:
            raise RuntimeError(f"sign-in failed: {r!r}")
        self.token = r.json()["access_token"]
        self.refresh = r.json()["refresh_token"]
        self.user = r.json()["user"]
        self.http.token = self.token

    def call(self, method, path, body=None, headers=None, want=None):
        r = self.http.request(method, "/api/v1" + path, body, headers)
        if want is not None and r.status != want:
            raise RuntimeError(f"{method} {path}: expected {want}, got {r!r}")
        return r

    def create_board(self, name):
        return self.call("POST", "/boards", {"name": name}, want=201).json()

    def all_tasks(self, board_id):
        tasks = []
        cursor = None
        while True:
            query = "?limit=200" + (f"&cursor={cursor}" if cursor else "")
            page = self.call("GET", f"/boards/{board_id}/tasks{query}", want=200).json()
            tasks.extend(page["tasks"])
            cursor = page.get("next_cursor")
            if not cursor:
                return tasks

    def create_user(self, email, name, role="pic"):
        r = self.call("POST", "/users", {"email": email, "name": name, "role": role}, want=201).json()
        return r
