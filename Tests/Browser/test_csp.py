"""The web app under the Content-Security-Policy Pier will serve it with: every main screen is walked in a browser
that enforces the policy, and any violation fails the test. The sources are also scanned for what the policy
forbids, so a violation on a screen the walk misses is still caught.

The server does not send the policy yet, so the browser loads the app through a local proxy that adds it
(harness.HeaderProxy). Once `pier edge` sets the header itself, point the walk at the server and drop the proxy."""

import re
import time
import unittest
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from harness import (
    API,
    CONTENT_SECURITY_POLICY,
    HeaderProxy,
    PierServer,
    browser,
    screenshot,
    wait,
    wait_for,
    wait_text,
)

SOURCES = Path(__file__).resolve().parents[2] / "web"
STAMP = time.strftime("%H%M%S")

# Installed before any script of each page runs (and not itself an inline script, so the policy does not stop
# it): every violation the page reports is kept for the test to read.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
    window.__cspViolations.push(`${event.effectiveDirective} blocked ${event.blockedURI || "inline"} at ${event.sourceFile}:${event.lineNumber} ${event.sample}`);
});
"""


class ContentSecurityPolicy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = PierServer().start()
        cls.api = API(cls.server.base_url, cls.server.email, cls.server.password)
        cls.proxy = HeaderProxy(cls.server.base_url, {"Content-Security-Policy": CONTENT_SECURITY_POLICY}).start()
        cls.driver = browser()
        cls.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_VIOLATIONS})

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()
        cls.proxy.stop()
        cls.server.stop()

    def violations(self):
        """What the page reported since it loaded, and what the console said about the policy since last asked."""
        driver = self.driver
        reported = driver.execute_script("return window.__cspViolations || []")
        logged = [entry["message"] for entry in driver.get_log("browser") if "Content Security Policy" in entry["message"]]
        return reported + logged

    def visit(self, seen, screen):
        """Records the violations of the screen on show (a navigation resets the page's own list)."""
        for violation in self.violations():
            seen.append(f"{screen}: {violation}")
        self.driver.execute_script("window.__cspViolations = []")

    def arrange(self):
        """A board with everything the screens draw: avatars, labels, due dates, Markdown with links, a comment."""
        api = self.api
        pic = api.call("POST", "/users", {"email": f"csp.{STAMP}@pier.test", "name": "Hana Choi", "role": "pic"})["user"]
        board = api.call("POST", "/boards", {"name": f"Policy board {STAMP}"})
        api.call("POST", f"/boards/{board['id']}/members", {"user_id": pic["id"]})
        due = (datetime.now(timezone.utc) + timedelta(hours=30)).isoformat().replace("+00:00", "Z")
        content = ("## Plan\n**Bold**, *em*, `code`, ~~old~~\n- [x] done\n- [ ] open\n> quoted\n\n"
                   "See https://pier.test/docs, <https://pier.test/a>, [https://pier.test/b](https://pier.test/b), "
                   "[home](/) and [x](javascript:alert(1)) <img src=x onerror=alert(1)>")
        task = api.call("POST", f"/boards/{board['id']}/tasks", {
            "title": "Policy task", "assignee_id": pic["id"], "labels": ["csp", "web"], "due_at": due, "content": content})
        api.call("POST", f"/boards/{board['id']}/tasks", {"title": "Second task", "assignee_id": api.user["id"]})
        api.call("POST", f"/tasks/{task['id']}/comments", {"body": "A comment with https://pier.test/c"})
        return board, task

    def test_main_screens_cause_no_violations(self):
        driver = self.driver
        board, task = self.arrange()
        base = self.proxy.base_url
        seen = []

        driver.get(base + "/sign-in")
        wait_for(driver, "input[name=email]")
        # The policy is in force (a style attribute is refused and reported), so a silent walk means something.
        driver.execute_script("document.body.setAttribute('style', 'outline: 1px solid red')")
        wait(driver, lambda d: d.execute_script("return window.__cspViolations.length") > 0,
             message="the proxy's policy is not enforced: a style attribute went unreported")
        self.assertIn("style-src-attr", driver.execute_script("return window.__cspViolations[0]"))
        driver.execute_script("document.body.removeAttribute('style'); window.__cspViolations = []")
        driver.get_log("browser")

        driver.find_element(By.NAME, "email").send_keys(self.server.email)
        driver.find_element(By.NAME, "password").send_keys("wrong password", Keys.ENTER)
        wait_text(driver, ".form-message", "The email or password is wrong.")
        password = driver.find_element(By.NAME, "password")
        password.clear()
        password.send_keys(self.server.password, Keys.ENTER)
        wait_text(driver, "main h1", "Boards")
        wait_for(driver, ".board-item")
        self.visit(seen, "boards")

        driver.find_element(By.LINK_TEXT, board["name"]).click()
        wait_text(driver, "main h1", board["name"])
        wait_for(driver, ".card .avatar")
        self.visit(seen, "board")

        driver.find_element(By.XPATH, "//h3[text()='Policy task']").click()
        wait_for(driver, "dialog[open] .markdown a")
        wait_text(driver, "dialog[open] .comments", "A comment with")
        wait_for(driver, "dialog[open] .history li")
        self.visit(seen, "task dialog")
        driver.find_element(By.XPATH, "//dialog[@open]//button[text()='Close']").click()
        wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))

        driver.find_element(By.XPATH, "//button[text()='New task']").click()
        wait_for(driver, "dialog[open] input[name=due_at]")
        self.visit(seen, "new task dialog")
        driver.find_element(By.XPATH, "//dialog[@open]//button[text()='Cancel']").click()

        for name, selector in (
            ("members dialog", "dialog[open] .member-list .avatar"),
            ("columns dialog", "dialog[open] .column-item"),
            ("webhooks dialog", "dialog[open] .webhook-kinds"),
        ):
            label = name.split()[0].capitalize()
            driver.find_element(By.XPATH, f"//button[normalize-space()='{label}' or @title='{label}']").click()
            wait_for(driver, selector)
            self.visit(seen, name)
            driver.find_element(By.XPATH, "//dialog[@open]//button[text()='Close']").click()
            wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))

        driver.find_element(By.TAG_NAME, "body").send_keys("?")
        wait_text(driver, "dialog[open]", "Keyboard shortcuts")
        self.visit(seen, "shortcuts")
        driver.find_element(By.XPATH, "//dialog[@open]//button[text()='Close']").click()

        # A drag: the card that follows the pointer is positioned through the CSSOM, which the policy allows.
        card = driver.find_element(By.XPATH, "//li[contains(@class,'card')][.//h3[text()='Second task']]")
        target = driver.find_elements(By.CSS_SELECTOR, ".column .cards")[1]
        ActionChains(driver, duration=100).click_and_hold(card).move_by_offset(12, 12).move_to_element(target) \
            .move_by_offset(0, 5).release().perform()
        in_progress = next(c["id"] for c in board["columns"] if c["name"] == "In progress")
        wait(driver, lambda d: next(t for t in self.api.call("GET", f"/boards/{board['id']}/tasks")["tasks"]
                                    if t["title"] == "Second task")["column_id"] == in_progress,
             message="the dragged card reached In progress")
        self.visit(seen, "drag")

        Select(driver.find_element(By.ID, "language-select")).select_by_value("ko")
        wait_text(driver, ".toolbar", "새 작업")
        self.visit(seen, "board in Korean")
        Select(driver.find_element(By.ID, "language-select")).select_by_value("en")
        wait_text(driver, ".toolbar", "New task")

        driver.find_element(By.LINK_TEXT, "Users").click()
        wait_for(driver, ".users-table tbody tr")
        self.visit(seen, "users")

        driver.get(f"{base}/boards/{uuid.uuid4()}")
        wait_text(driver, "main h1", "Board not found")
        self.visit(seen, "board not found")
        driver.get(f"{base}/no/such/page")
        wait_text(driver, "main h1", "Page not found")
        self.visit(seen, "page not found")
        screenshot(driver, "csp-walk-end")

        driver.find_element(By.CSS_SELECTOR, ".account-menu summary").click()
        wait_for(driver, "#sign-out").click()
        wait_text(driver, ".signin-panel", "You have signed out.")
        self.visit(seen, "signed out")

        self.assertEqual(seen, [])

    def test_sources_use_nothing_the_policy_forbids(self):
        """What the policy would refuse, found in the sources: a screen the walk does not reach is covered too."""
        forbidden_js = {
            "a style attribute (h(…, { style }))": re.compile(r"""(?:^\s*|[{,]\s*)["']?style["']?\s*:"""),
            "setAttribute('style')": re.compile(r"""setAttribute\(\s*["']style["']"""),
            "an on* attribute": re.compile(r"""setAttribute\(\s*["']on\w+["']"""),
            "HTML parsed from a string": re.compile(r"\b(?:innerHTML|outerHTML|insertAdjacentHTML|document\.write)\b"),
            "eval": re.compile(r"\beval\s*\(|\bnew\s+Function\s*\(|\bFunction\s*\(\s*[\"']"),
            "code in a string for a timer": re.compile(r"\bset(?:Timeout|Interval)\s*\(\s*[\"'`]"),
            "a javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
        }
        problems = []
        for path in sorted(SOURCES.rglob("*.js")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                # Comments are not code (a "//" after a colon is a URL, not a comment).
                code = "" if line.lstrip().startswith("*") else re.sub(r"(?:^|\s)//.*$", "", line)
                for what, pattern in forbidden_js.items():
                    if pattern.search(code):
                        problems.append(f"{path.relative_to(SOURCES)}:{number}: {what}: {line.strip()}")
        for path in sorted(SOURCES.rglob("*.html")):
            text = path.read_text()
            for match in re.finditer(r"<script\b([^>]*)>", text, re.IGNORECASE):
                if "src=" not in match.group(1):
                    problems.append(f"{path.name}: an inline script")
            for what, pattern in (("a style attribute", r"<[^>]+\sstyle\s*="), ("an on* attribute", r"<[^>]+\son\w+\s*="),
                                  ("a style element", r"<style\b"), ("a javascript: URL", r"javascript:")):
                if re.search(pattern, text, re.IGNORECASE):
                    problems.append(f"{path.name}: {what}")
        self.assertEqual(problems, [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
