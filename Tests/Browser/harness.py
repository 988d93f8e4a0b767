"""Test support for the browser suite: a running Pier (started here, or given by the environment), an API client
for setting up and checking state, and headless Chromium sessions."""

import http.client
import http.server
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("PIER_TEST_ARTIFACTS", REPO / "test-artifacts" / "browser"))
CHROMIUM = os.environ.get("PIER_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("PIER_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
WAIT = float(os.environ.get("PIER_TEST_WAIT", "10"))


class PierServer:
    """`pier up` on a free port with a fresh data directory, or the server named by PIER_TEST_BASE_URL."""

    def __init__(self, extra_arguments=()):
        self.extra_arguments = list(extra_arguments)
        self.process = None
        self.directory = None
        self.output = []
        self.base_url = None
        self.email = None
        self.password = None

    def start(self):
        given = os.environ.get("PIER_TEST_BASE_URL")
        if given:
            self.base_url = given.rstrip("/")
            self.email = os.environ["PIER_TEST_SUPERVISOR_EMAIL"]
            self.password = os.environ["PIER_TEST_SUPERVISOR_PASSWORD"]
            return self
        binary = os.environ.get("PIER_BIN")
        if not binary:
            raise RuntimeError("set PIER_BIN to the pier binary, or PIER_TEST_BASE_URL and the Supervisor's credentials")
        self.directory = tempfile.mkdtemp(prefix="pier-browser-")
        command = [
            binary, "up", "--listen", "127.0.0.1:0", "--data-dir", self.directory,
            "--web-root", str(REPO / "web"), "--bcrypt-cost", "10", *self.extra_arguments,
        ]
        self.process = subprocess.Popen(
            command, cwd=self.directory, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        lines = queue.Queue()

        def pump():
            for line in self.process.stdout:
                self.output.append(line)
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + 60
        while self.base_url is None:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.stop()
                raise RuntimeError("pier up did not start:\n" + "".join(self.output))
            if match := re.match(r"\s*email:\s*(\S+)", line):
                self.email = match.group(1)
            elif match := re.match(r"\s*password:\s*(\S+)", line):
                self.password = match.group(1)
            elif match := re.search(r"pier up: open (http://\S+?)/?\s*$", line):
                self.base_url = match.group(1).rstrip("/")
        if not (self.email and self.password):
            self.stop()
            raise RuntimeError("pier up did not print the first Supervisor's credentials:\n" + "".join(self.output))
        # The printed password is generated and must be replaced at the first sign-in (test_welcome walks that
        # form): the other tests sign in with a password of the Supervisor's own.
        self.password = API.replace_generated_password(self.base_url, self.email, self.password, SUPERVISOR_PASSWORD)
        return self

    def stop(self):
        """SIGTERM; returns the exit status (None when the server was not started here)."""
        status = None
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            status = self.process.returncode
            self.process = None
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
        return status


# The policy Pier will serve the web app with. The app must work under it: no inline scripts or event-handler
# attributes, no style attributes, no eval, no javascript: URLs.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te",
              "trailer", "transfer-encoding", "upgrade"}


class HeaderProxy:
    """A reverse proxy on a free loopback port that passes every request to `upstream` (an http:// base URL) and
    adds `headers` to every answer, so a browser sees the server as if it sent them. The Host header is passed on
    unchanged, so the board takes the proxy's address as its own origin and accepts the browser's changes.

    It exists for the Content-Security-Policy test while the server does not send the policy itself; once it
    does, that test can load the server directly."""

    def __init__(self, upstream, headers):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.headers = dict(headers)
        self.server = None
        self.base_url = None

    def start(self):
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *arguments):
                pass

            def forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP}
                connection = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=30)
                try:
                    connection.request(self.command, self.path, body=body, headers=headers)
                    answer = connection.getresponse()
                    data = answer.read()
                    fields = answer.getheaders()
                    status, reason = answer.status, answer.reason
                finally:
                    connection.close()
                self.send_response(status, reason)
                for name, value in fields:
                    if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                        self.send_header(name, value)
                for name, value in proxy.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if data and self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


class APIError(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


SUPERVISOR_PASSWORD = "the Supervisor's own password"


class API:
    """A Bearer-token client of the board API, for arranging and checking what the browser did."""

    @staticmethod
    def replace_generated_password(base_url, email, generated, chosen):
        """Signs in with a generated password and sets `chosen` in its place (as the first sign-in asks); returns
        `chosen`."""
        api = API(base_url, email, generated)
        if api.user.get("password_change_required"):
            api.call("POST", "/me/password", {"current_password": generated, "new_password": chosen})
            return chosen
        return generated

    def __init__(self, base_url, email, password):
        self.base_url = base_url
        self.token = None
        answer = self.call("POST", "/auth/login", {"email": email, "password": password})
        self.token = answer["access_token"]
        self.user = answer["user"]

    def call(self, method, path, body=None, headers=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + "/api/v1" + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as error:
            text = error.read().decode()
            raise APIError(error.code, json.loads(text) if text else None) from None
        return json.loads(text) if text else None

    def tasks(self, board_id, **query):
        parameters = "&".join(f"{name}={value}" for name, value in query.items())
        return self.call("GET", f"/boards/{board_id}/tasks" + (f"?{parameters}" if parameters else ""))["tasks"]

    def task_by_title(self, board_id, title):
        matches = [task for task in self.tasks(board_id) if task["title"] == title]
        if len(matches) != 1:
            raise AssertionError(f"expected one task titled {title!r}, found {len(matches)}")
        return matches[0]


def browser(width=1280, height=900, language="en-US"):
    """Headless Chromium with the given window size and preferred language."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", f"--window-size={width},{height}",
        f"--lang={language}", "--no-first-run", "--disable-extensions", "--force-color-profile=srgb",
    ):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_window_size(width, height)
    return driver


def set_viewport(driver, width, height=900):
    """Makes the page's viewport exactly `width` CSS pixels wide (the window has no frame in headless mode, but
    the emulation also pins the device-pixel ratio for screenshots)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})


def wait(driver, condition, timeout=WAIT, message=""):
    """Polls `condition` (a page being redrawn may make elements stale meanwhile; that only means "not yet")."""
    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(driver, timeout, poll_frequency=0.1, ignored_exceptions=ignored).until(condition, message)


def wait_for(driver, css, timeout=WAIT, visible=True):
    def find(d):
        for element in d.find_elements(By.CSS_SELECTOR, css):
            if not visible or element.is_displayed():
                return element
        return False

    return wait(driver, find, timeout, f"no {'visible ' if visible else ''}element matches {css}")


def wait_text(driver, css, text, timeout=WAIT):
    """Waits until an element matching `css` contains `text`; returns it."""

    def find(d):
        for element in d.find_elements(By.CSS_SELECTOR, css):
            try:
                if text in element.text:
                    return element
            except Exception:
                continue
        return False

    try:
        return wait(driver, find, timeout)
    except TimeoutException:
        seen = [element.text for element in driver.find_elements(By.CSS_SELECTOR, css)]
        raise AssertionError(f"no {css} containing {text!r}; saw {seen!r}") from None


def screenshot(driver, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def console_errors(driver):
    """Severe console messages, minus the failed-resource lines the browser logs for expected 4xx answers."""
    errors = []
    for entry in driver.get_log("browser"):
        if entry["level"] != "SEVERE":
            continue
        if entry.get("source") == "network" or "Failed to load resource" in entry["message"]:
            continue
        errors.append(entry["message"])
    return errors
