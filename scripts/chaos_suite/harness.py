"""Processes, ports, HTTP clients and the results table of the chaos suite.

Everything started here binds 127.0.0.1, is registered with `CLEANUP`, and is stopped by its own PID when the suite
ends, fails or is interrupted."""

import http.client
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def log(message):
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cleanup:
    """Teardown actions, run last-registered first, once, also on SIGTERM/SIGINT."""

    def __init__(self):
        self.actions = []
        self.lock = threading.Lock()

    def add(self, action):
        with self.lock:
            self.actions.append(action)
        return action

    def remove(self, action):
        with self.lock:
            if action in self.actions:
                self.actions.remove(action)

    def run(self):
        while True:
            with self.lock:
                if not self.actions:
                    return
                action = self.actions.pop()
            try:
                action()
            except Exception as error:  # teardown continues whatever one step does
                print(f"chaos: teardown step failed: {error!r}", file=sys.stderr)


CLEANUP = Cleanup()


def install_signal_handlers():
    def handler(number, _frame):
        raise KeyboardInterrupt(f"signal {number}")

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


class Proc:
    """A child process whose output is kept (and written to a log file) and which is stopped by its PID."""

    def __init__(self, name, argv, log_dir, cwd=None, env=None, preexec_fn=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.lines = []
        self.queue = queue.Queue()
        self.log_path = Path(log_dir) / f"{name}.log"
        self.log_file = open(self.log_path, "a", encoding="utf-8", errors="replace")
        self.log_file.write(f"--- {time.strftime('%H:%M:%S')} {' '.join(self.argv)}\n")
        self.popen = subprocess.Popen(
            self.argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, errors="replace", bufsize=1, preexec_fn=preexec_fn)
        self.pid = self.popen.pid
        self._stop_action = CLEANUP.add(self.stop)
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.popen.stdout:
            self.lines.append(line)
            self.queue.put(line)
            try:
                self.log_file.write(line)
                self.log_file.flush()
            except ValueError:
                pass
        self.queue.put(None)

    def wait_for(self, pattern, timeout=60):
        """The first match of `pattern` in the output (also lines already seen); raises if the process ends first."""
        regex = re.compile(pattern)
        for line in list(self.lines):
            if m := regex.search(line):
                return m
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(f"{self.name}: no line matching {pattern!r} in {timeout}s:\n{self.tail()}")
            try:
                line = self.queue.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"{self.name} exited ({self.popen.poll()}) before {pattern!r}:\n{self.tail()}")
            if m := regex.search(line):
                return m

    def tail(self, n=30):
        return "".join(self.lines[-n:])

    def alive(self):
        return self.popen.poll() is None

    def signal(self, number):
        if self.alive():
            os.kill(self.pid, number)

    def kill(self):
        """SIGKILL, then reap."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        self.popen.wait()
        self._close()

    def stop(self, timeout=20):
        """SIGTERM, SIGKILL after `timeout`; returns the exit status."""
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.popen.wait()
        self._close()
        return self.popen.returncode

    def _close(self):
        CLEANUP.remove(self._stop_action)
        try:
            self.log_file.close()
        except Exception:
            pass

    def rss_kib(self):
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            return None
        return None


def temp_dir(prefix):
    path = tempfile.mkdtemp(prefix=prefix)
    CLEANUP.add(lambda: shutil.rmtree(path, ignore_errors=True))
    return Path(path)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    def is_problem(self):
        return (self.header("content-type") or "").startswith("application/problem+json") and isinstance(
            self.json(), dict)

    def __repr__(self):
        return f"<{self.status} {self.body[:200]!r}>"


class TransportError(Exception):
    """No HTTP answer at all: refused, reset, timed out or closed before a status line."""


class HTTP:
    """A keep-alive HTTP/1.1 client for one thread. A request on a reused connection that fails before any byte of
    an answer is sent again once on a new connection, as every browser does (RFC 9112 §9.3.1), and counted in
    `stale_retries`; any other failure is a `TransportError`."""

    def __init__(self, port, host="127.0.0.1", timeout=15, token=None):
        self.port = port
        self.host = host
        self.timeout = timeout
        self.token = token
        self.connection = None
        self.used = False
        self.stale_retries = 0
        self.last_used = time.monotonic()

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def request(self, method, path, body=None, headers=None, token=None):
        fields = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            fields["Content-Type"] = "application/json"
        bearer = token if token is not None else self.token
        if bearer:
            fields["Authorization"] = f"Bearer {bearer}"
        fields.update(headers or {})
        for attempt in (0, 1):
            # A connection idle for longer than the edge's idle_timeout may be closed already: as browsers do, do
            # not send on one that has sat idle for a long time.
            if self.connection is not None and time.monotonic() - self.last_used > 30:
                self.close()
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                self.used = False
            reused = self.used
            try:
                self.connection.request(method, path, body=data, headers=fields)
                answer = self.connection.getresponse()
                payload = answer.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as error:
                self.close()
                if reused and attempt == 0 and method in ("GET", "HEAD"):
                    self.stale_retries += 1
                    continue
                raise TransportError(f"{method} {path}: {error!r}") from None
            except (OSError, http.client.HTTPException) as error:
                self.close()
                raise TransportError(f"{method} {path}: {error!r}") from None
            self.used = True
            self.last_used = time.monotonic()
            headers_out = {k.lower(): v for k, v in answer.getheaders()}
            if answer.will_close:
                self.close()
            return Response(answer.status, headers_out, payload)
        raise AssertionError("unreachable")


def wait_http(port, path, want=200, timeout=60, process=None):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if process is not None and not process.alive():
            raise RuntimeError(f"{process.name} exited ({process.popen.poll()}):\n{process.tail()}")
        try:
            r = HTTP(port, timeout=2).request("GET", path)
            if r.status == want:
                return r
            last = r
        except TransportError as error:
            last = error
        time.sleep(0.1)
    raise RuntimeError(f"127.0.0.1:{port}{path} did not answer {want} in {timeout}s (last: {last!r})")


class Results:
    """The table: one row per check. status is pass, FAIL, known (a known failure with its issue), or skip."""

    def __init__(self, known_failures):
        self.rows = []
        self.known_failures = known_failures
        self.lock = threading.Lock()

    def add(self, area, check, tried, failed, detail="", skip=None):
        if skip is not None:
            status = "skip"
            detail = skip
        elif failed == 0:
            status = "pass"
        elif check in self.known_failures:
            status = "known"
            detail = f"{detail} [known: {self.known_failures[check]}]"
        else:
            status = "FAIL"
        row = {"area": area, "check": check, "tried": tried, "failed": failed, "status": status, "detail": detail}
        with self.lock:
            self.rows.append(row)
        log(f"{status:5} {area} / {check}: {failed}/{tried} failed. {detail}")
        return row

    def error(self, area, check, error):
        return self.add(area, check, 1, 1, f"the check itself failed: {error!r}"[:2000])

    def failed(self):
        return [r for r in self.rows if r["status"] == "FAIL"]

    def table(self):
        widths = [10, 44, 7, 7, 6]
        head = ["area", "check", "tried", "failed", "status"]
        lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths)) + "  detail"]
        lines.append("-" * 120)
        for r in self.rows:
            cells = [r["area"], r["check"], str(r["tried"]), str(r["failed"]), r["status"]]
            lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths)) + "  " + r["detail"])
        return "\n".join(lines)


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(p / 100 * (len(ordered) - 1)))))
    return ordered[index]


class Load:
    """`threads` threads calling `operation(worker_index, http_client)` in a loop until stopped; each call returns
    (kind, ok, detail) and is recorded with its time."""

    def __init__(self, port, threads, operation, token=None, timeout=15):
        self.port = port
        self.operation = operation
        self.stop_event = threading.Event()
        self.records = []  # (t_start, t_end, kind, ok, detail)
        self.lock = threading.Lock()
        self.clients = [HTTP(port, timeout=timeout, token=token) for _ in range(threads)]
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def _run(self, index):
        client = self.clients[index]
        while not self.stop_event.is_set():
            start = time.monotonic()
            try:
                kind, ok, detail = self.operation(index, client)
            except TransportError as error:
                kind, ok, detail = "transport", False, str(error)
            except Exception as error:
                kind, ok, detail = "exception", False, repr(error)
            with self.lock:
                self.records.append((start, time.monotonic(), kind, ok, detail))

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=30)
        for c in self.clients:
            c.close()
        return self.records

    def stale_retries(self):
        return sum(c.stale_retries for c in self.clients)
