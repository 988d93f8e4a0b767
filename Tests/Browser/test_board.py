"""The board in a real browser against a real Pier: a Supervisor and a PIC, each in their own browser, work on one
board; every change is checked through the API as well as on the page.

The steps share state and run in order (unittest sorts test methods by name); after a failure the remaining steps
are skipped, and every open browser is photographed into test-artifacts/browser/."""

import functools
import itertools
import math
import os
import re
import time
import unittest
import urllib.parse
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from harness import (
    API,
    APIError,
    PierServer,
    browser,
    console_errors,
    screenshot,
    set_viewport,
    wait,
    wait_for,
    wait_text,
)

SOURCES = Path(__file__).resolve().parents[2] / "web"
STAMP = time.strftime("%H%M%S")
PIC_EMAIL = f"mina.{STAMP}@pier.test"
OTHER_EMAIL = f"jun.{STAMP}@pier.test"
BOARD = f"Launch plan {STAMP}"
MINE = "Write release notes"
OTHERS = "Fix sign-in bug"
THIRD = "Plan the retrospective"
# Links the description of MINE holds: URLs shown as links, and a path that the browser reads as another site.
LINKS = ("Docs: https://pier.test/docs, <https://pier.test/a> and [https://pier.test/b](https://pier.test/b).\n"
         "[x](/\\evil.test/p)")


def escape(driver):
    """Presses Escape wherever the focus is (a dialog closes on it)."""
    ActionChains(driver).send_keys(Keys.ESCAPE).perform()


# Bordered boxes in the page with nothing in them: no text and no control, image or icon.
EMPTY_BOXES = """
const boxes = [];
for (const element of document.querySelectorAll("main *")) {
    if (!element.getClientRects().length) continue;
    const style = getComputedStyle(element);
    const bordered = ["Top", "Right", "Bottom", "Left"].some(
        (side) => parseFloat(style[`border${side}Width`]) > 0 && style[`border${side}Style`] !== "none");
    if (!bordered || element.textContent.trim()) continue;
    const content = "input, select, textarea, button, img, svg, hr";
    if (element.matches(content) || element.querySelector(content)) continue;
    boxes.push(`${element.tagName.toLowerCase()}.${element.className}`);
}
return boxes;
"""

# The words (runs without spaces) of the given elements' text whose letters are not all on one line.
BROKEN_WORDS = """
const broken = [];
for (const element of arguments[0]) {
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        for (const match of node.data.matchAll(/\\S+/g)) {
            const lines = new Set();
            for (let index = match.index; index < match.index + match[0].length; index += 1) {
                const range = document.createRange();
                range.setStart(node, index);
                range.setEnd(node, index + 1);
                const rect = range.getClientRects()[0];
                if (rect && rect.width > 0) lines.add(Math.round(rect.top));
            }
            if (lines.size > 1) broken.push(match[0]);
        }
    }
}
return broken;
"""

# A toolbar's children: each button's label (without its icon), and any stray text between them.
TOOLBAR_CHILDREN = """
return [...arguments[0].childNodes].map((node) => node.nodeType === Node.TEXT_NODE
    ? `text: ${node.data}` : (node.querySelector(".button-text") ?? node).textContent.trim());
"""

# Words that only a bug puts on screen.
STRAY_WORDS = """
return document.querySelector("main").innerText.match(/\\b(?:null|undefined|NaN)\\b/g) ?? [];
"""

# Every attribute that is text for people: placeholders, accessible names and descriptions, tooltips (but an
# avatar's tooltip, which is the person's name).
LABEL_ATTRIBUTES = """
const names = ["placeholder", "aria-label", "aria-description", "title", "alt"];
return [...document.querySelectorAll("*:not(.avatar)")].flatMap(
    (element) => names.filter((name) => element.hasAttribute(name)).map((name) => [name, element.getAttribute(name)]));
"""


def english_only_strings():
    """The English catalogue's strings that Korean says differently, as patterns ({parameters} match anything)."""
    text = (SOURCES / "i18n.js").read_text()
    english = text[text.index("    en: {"):text.index("    ko: {")]
    korean = text[text.index("    ko: {"):]
    values = lambda block: set(re.findall(r':\s*"((?:[^"\\]|\\.)*)"', block))
    patterns = []
    for value in sorted(values(english) - values(korean)):
        if len(re.findall(r"[A-Za-z]", re.sub(r"\{\w+\}", "", value))) < 2:
            continue
        patterns.append(re.compile(re.sub(r"\\\{\w+\\\}", ".+", re.escape(value))))
    return patterns


def english_leftovers(driver, patterns):
    """Label attributes of the page that are still an English string of the catalogue."""
    return [f"{name}={value}" for name, value in driver.execute_script(LABEL_ATTRIBUTES)
            if any(pattern.fullmatch(value) for pattern in patterns)]


def local_due(task):
    """A task's due date in this machine's time zone (the browser's), to the minute."""
    return datetime.fromisoformat(task["due_at"].replace("Z", "+00:00")).astimezone().strftime("%Y-%m-%d %H:%M")


def step(method):
    """Skips a step after an earlier failure; on failure photographs every browser and records the failure."""

    @functools.wraps(method)
    def run(self):
        cls = type(self)
        if cls.failed:
            self.skipTest(f"an earlier step failed ({cls.failed})")
        try:
            method(self)
        except BaseException:
            cls.failed = method.__name__
            for name, driver in cls.drivers.items():
                try:
                    screenshot(driver, f"failure-{method.__name__}-{name}")
                    print(f"\n[{name}] {driver.current_url}\nconsole: {console_errors(driver)}")
                except Exception:
                    pass
            raise

    return run


class BoardScenario(unittest.TestCase):
    failed = None
    drivers = {}

    @classmethod
    def setUpClass(cls):
        cls.server = PierServer().start()
        cls.base = cls.server.base_url
        cls.api = API(cls.base, cls.server.email, cls.server.password)
        cls.supervisor = browser()
        cls.drivers = {"supervisor": cls.supervisor}

    @classmethod
    def tearDownClass(cls):
        for driver in cls.drivers.values():
            driver.quit()
        status = cls.server.stop()
        if status not in (None, 0):
            raise AssertionError(f"pier up exited with status {status} after SIGTERM:\n" + "".join(cls.server.output[-40:]))

    # MARK: Helpers

    def open(self, driver, path="/"):
        driver.get(self.base + path)

    def sign_in(self, driver, email, password):
        self.open(driver, "/sign-in")
        email_input = wait_for(driver, "input[name=email]")
        email_input.clear()
        email_input.send_keys(email)
        password_input = driver.find_element(By.CSS_SELECTOR, "input[name=password]")
        password_input.clear()
        password_input.send_keys(password)
        driver.find_element(By.CSS_SELECTOR, ".signin-panel button[type=submit]").click()

    def card(self, driver, title):
        return wait(
            driver,
            lambda d: next((c for c in d.find_elements(By.CSS_SELECTOR, ".card") if c.find_element(By.CSS_SELECTOR, ".card-title").text == title), False),
            message=f"no card titled {title!r}",
        )

    def column_of(self, driver, title):
        card = self.card(driver, title)
        return card.find_element(By.XPATH, "ancestor::section[contains(@class,'column')]")

    def column_named(self, driver, name):
        return wait(
            driver,
            lambda d: next((c for c in d.find_elements(By.CSS_SELECTOR, ".column") if c.find_element(By.CSS_SELECTOR, ".column-name").text == name), False),
            message=f"no column {name!r}",
        )

    def column_id(self, name):
        return next(column["id"] for column in self.board["columns"] if column["name"] == name)

    def wait_for_column(self, title, column_name, api=None):
        """Waits until the API reports the task in that column (the browser's request may still be in flight)."""
        api = api or self.api
        wanted = self.column_id(column_name)
        wait(self.supervisor, lambda _: api.task_by_title(self.board["id"], title)["column_id"] == wanted,
             message=f"{title!r} never reached {column_name!r}")

    def drag(self, driver, title, column_name):
        card = self.card(driver, title)
        target = self.column_named(driver, column_name).find_element(By.CSS_SELECTOR, ".cards")
        ActionChains(driver, duration=100).click_and_hold(card).move_by_offset(12, 12).move_to_element(target) \
            .move_by_offset(0, 5).release().perform()

    def dismiss_notices(self, driver):
        driver.execute_script("document.querySelectorAll('.notice').forEach(n => n.remove())")

    def assert_toolbar_on_one_row(self, driver):
        """The board's toolbar buttons share one row; on a phone the shortcuts button is a small square."""
        buttons = wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".toolbar > button") or False)
        rows = {round(button.rect["y"]) for button in buttons}
        self.assertEqual(len(rows), 1, f"the toolbar wraps: {[(b.text, b.rect) for b in buttons]}")
        if driver.execute_script("return innerWidth") < 600:
            self.assertLessEqual(driver.find_element(By.CSS_SELECTOR, ".toolbar .shortcuts-button").rect["width"], 48)

    # MARK: Steps

    @step
    def test_01_sign_in_errors_and_success(self):
        driver = self.supervisor
        self.sign_in(driver, self.server.email, "not the password")
        wait_text(driver, ".signin-panel .form-message", "The email or password is wrong.")
        self.sign_in(driver, self.server.email, self.server.password)
        wait_text(driver, "main h1", "Boards")
        # The session lives in HttpOnly cookies: the page has no token, and a reload keeps the user signed in.
        self.assertNotIn("pier_", driver.execute_script("return document.cookie"))
        driver.refresh()
        wait_text(driver, "main h1", "Boards")
        wait_text(driver, ".account-menu summary", self.api.user["name"])

    @step
    def test_02_create_accounts(self):
        driver = self.supervisor
        driver.find_element(By.LINK_TEXT, "Users").click()
        wait_text(driver, "main h1", "Users")
        cls = type(self)
        cls.passwords = {}
        for email, name in ((PIC_EMAIL, "Mina Park"), (OTHER_EMAIL, "Jun Lee")):
            form = wait_for(driver, "form[aria-labelledby=users-new-title]")
            form.find_element(By.NAME, "email").send_keys(email)
            form.find_element(By.NAME, "name").send_keys(name)
            Select(form.find_element(By.NAME, "role")).select_by_value("pic")
            form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            secret = wait_for(driver, "dialog[open] [data-testid=generated-password]")
            self.assertEqual(len(secret.text), 20)
            cls.passwords[email] = secret.text
            wait_text(driver, "dialog[open]", "shown only this once")
            driver.find_element(By.CSS_SELECTOR, "dialog[open] button.primary").click()
            wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))
            wait_text(driver, ".users-table", email)
        # Creating the same email again is refused with a clear message.
        form = driver.find_element(By.CSS_SELECTOR, "form[aria-labelledby=users-new-title]")
        form.find_element(By.NAME, "email").send_keys(PIC_EMAIL)
        form.find_element(By.NAME, "name").send_keys("Duplicate")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_text(driver, "form[aria-labelledby=users-new-title] .form-message", "already exists")
        users = {user["email"]: user for user in self.api.call("GET", "/users")}
        cls.pic = users[PIC_EMAIL]
        cls.other = users[OTHER_EMAIL]
        self.assertEqual(cls.pic["role"], "pic")

    @step
    def test_03_create_board_and_add_members(self):
        driver = self.supervisor
        driver.find_element(By.LINK_TEXT, "Boards").click()
        form = wait_for(driver, "form.inline-form")
        form.find_element(By.NAME, "name").send_keys(BOARD)
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_text(driver, "main h1", BOARD)
        wait(driver, lambda d: [c.text for c in d.find_elements(By.CSS_SELECTOR, ".column-name")]
             == ["To do", "In progress", "Review", "Done"], message="the board's four default columns")
        board = next(b for b in self.api.call("GET", "/boards") if b["name"] == BOARD)
        type(self).board = board
        self.assertIn(f"/boards/{board['id']}", driver.current_url)

        driver.find_element(By.XPATH, "//button[text()='Members']").click()
        dialog = wait_for(driver, "dialog[open]")
        for email in (PIC_EMAIL, OTHER_EMAIL):
            user_id = self.pic["id"] if email == PIC_EMAIL else self.other["id"]
            option = wait_for(driver, f'dialog[open] select[name=user_id] option[value="{user_id}"]', visible=False)
            Select(driver.find_element(By.CSS_SELECTOR, "dialog[open] select[name=user_id]")).select_by_value(user_id)
            self.assertTrue(option.is_selected())
            dialog.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            wait_text(driver, "dialog[open] .member-list", email)
        dialog.find_element(By.XPATH, ".//button[text()='Close']").click()
        members = {m["email"] for m in self.api.call("GET", f"/boards/{board['id']}/members")}
        self.assertTrue({PIC_EMAIL, OTHER_EMAIL} <= members)

    def create_task_in_ui(self, title, assignee_name, labels="", due=None, content=""):
        driver = self.supervisor
        driver.find_element(By.XPATH, "//button[text()='New task']").click()
        dialog = wait_for(driver, "dialog[open]")
        dialog.find_element(By.NAME, "title").send_keys(title)
        Select(dialog.find_element(By.NAME, "assignee_id")).select_by_visible_text(assignee_name)
        if labels:
            dialog.find_element(By.NAME, "labels").send_keys(labels)
        if due:
            # Typed as a person types it, in the one format the field shows in both languages.
            dialog.find_element(By.NAME, "due_at").send_keys(due.strftime("%Y-%m-%d %H:%M"))
        if content:
            dialog.find_element(By.TAG_NAME, "textarea").send_keys(content)
        dialog.find_element(By.XPATH, ".//button[text()='Create task']").click()
        wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))
        return self.card(driver, title)

    @step
    def test_04_create_and_assign_tasks(self):
        driver = self.supervisor
        now = datetime.now()
        mine_due, others_due = now + timedelta(hours=20), now - timedelta(days=1)
        self.create_task_in_ui(MINE, "Mina Park", labels="docs, release", due=mine_due,
                               content="## Notes\nCover **sign-in** and `pier up`.\n- [x] draft\n- [ ] review\n<script>alert(1)</script>\n" + LINKS)
        self.create_task_in_ui(OTHERS, "Jun Lee", labels="bug", due=others_due)
        # One more through the API, so the board also shows changes it did not make itself.
        self.api.call("POST", f"/boards/{self.board['id']}/tasks", {"title": THIRD, "labels": ["team"]})
        driver.refresh()
        mine = self.card(driver, MINE)
        self.assertEqual(mine.find_element(By.CSS_SELECTOR, ".avatar").text, "MP")
        self.assertEqual([l.text for l in mine.find_elements(By.CSS_SELECTOR, ".label")], ["docs", "release"])
        self.assertIn("Due soon", mine.find_element(By.CSS_SELECTOR, ".due").text)
        others = self.card(driver, OTHERS)
        self.assertIn("Overdue", others.find_element(By.CSS_SELECTOR, ".due").text)
        self.assertEqual(others.find_element(By.CSS_SELECTOR, ".avatar").text, "JL")
        todo = self.column_named(driver, "To do")
        self.assertEqual(todo.find_element(By.CSS_SELECTOR, ".count").text, "3")
        task = self.api.task_by_title(self.board["id"], MINE)
        self.assertEqual(task["assignee_id"], self.pic["id"])
        self.assertEqual(task["labels"], ["docs", "release"])
        self.assertEqual(local_due(task), mine_due.strftime("%Y-%m-%d %H:%M"))
        self.assertEqual(local_due(self.api.task_by_title(self.board["id"], OTHERS)), others_due.strftime("%Y-%m-%d %H:%M"))

    @step
    def test_04b_messages_go_away_with_their_cause(self):
        driver = self.supervisor
        driver.find_element(By.XPATH, "//button[text()='New task']").click()
        dialog = wait_for(driver, "dialog[open]")
        create = dialog.find_element(By.XPATH, ".//button[text()='Create task']")
        create.click()
        message = wait_text(driver, "dialog[open] .form-message", "Enter a title.")
        title = dialog.find_element(By.NAME, "title")
        self.assertEqual(title.get_attribute("aria-invalid"), "true")
        # Typing the title answers the message: it goes at once, not at the next submit.
        title.send_keys("Half a thought")
        wait(driver, lambda d: not message.is_displayed(), message="'Enter a title.' stayed after a title was typed")
        self.assertIsNone(title.get_attribute("aria-invalid"))
        # A due date that cannot be read is refused with the format, and the message goes once it is edited.
        due = dialog.find_element(By.NAME, "due_at")
        self.assertEqual((due.get_attribute("type"), due.get_attribute("placeholder")), ("text", "yyyy-mm-dd hh:mm"))
        due.send_keys("next friday")
        create.click()
        wait_text(driver, "dialog[open] .form-message", "for example 2025-12-24 18:00")
        self.assertEqual(driver.switch_to.active_element, due)
        screenshot(driver, "task-new-error-1280-en")
        due.send_keys(Keys.CONTROL, "a")
        due.send_keys("2031-02-03 04:05")
        wait(driver, lambda d: not message.is_displayed(), message="the due-date message stayed after the date was corrected")
        # The browser's picker writes into the same field (its choice is simulated: headless Chromium shows none).
        button = dialog.find_element(By.CSS_SELECTOR, ".picker-button")
        self.assertEqual(button.get_attribute("aria-label"), "Choose a date and time")
        driver.execute_script("arguments[0].value = '2031-03-04T05:06'; arguments[0].dispatchEvent(new Event('change'))",
                              dialog.find_element(By.CSS_SELECTOR, ".picker-source"))
        self.assertEqual(due.get_attribute("value"), "2031-03-04 05:06")
        dialog.find_element(By.XPATH, ".//button[text()='Cancel']").click()
        wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))

        # The columns dialog has one message: each outcome replaces the one before instead of piling up.
        driver.find_element(By.XPATH, "//button[normalize-space()='Columns' or @title='Columns']").click()
        dialog = wait_for(driver, "dialog[open]")
        shown = lambda: [m.text for m in dialog.find_elements(By.CSS_SELECTOR, ".form-message") if m.is_displayed()]
        name = dialog.find_element(By.NAME, "name")
        name.send_keys("review")
        dialog.find_element(By.XPATH, ".//button[text()='Add']").click()
        wait(driver, lambda d: shown() == ["This already exists."], message="a duplicate column name is refused")
        wait_for(driver, 'dialog[open] button[aria-label="Delete the column To do"]').click()
        wait_text(driver, "dialog.dialog-small[open]", "Delete this column?").find_element(By.XPATH, ".//button[text()='Delete']").click()
        wait(driver, lambda d: shown() == ["This column still has tasks. Move or delete them first."],
             message="the second refusal replaced the first")
        dialog.find_element(By.XPATH, ".//button[text()='Add']").click()
        wait(driver, lambda d: shown() == ["This already exists."], message="the third refusal replaced the second")
        # The refusal was about the name: editing the name takes it away.
        name.send_keys("d")
        wait(driver, lambda d: shown() == [], message="'This already exists.' stayed after the name was edited")
        dialog.find_element(By.XPATH, ".//button[text()='Close']").click()
        wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))
        self.assertEqual([c["name"] for c in self.api.call("GET", f"/boards/{self.board['id']}")["columns"]],
                         ["To do", "In progress", "Review", "Done"])

    @step
    def test_05_markdown_is_rendered_safely(self):
        driver = self.supervisor
        self.card(driver, MINE).click()
        dialog = wait_for(driver, "dialog[open] .markdown")
        self.assertEqual(dialog.find_element(By.CSS_SELECTOR, "h4").text, "Notes")
        self.assertEqual(dialog.find_element(By.CSS_SELECTOR, "strong").text, "sign-in")
        self.assertEqual(len(dialog.find_elements(By.CSS_SELECTOR, "input[type=checkbox]")), 2)
        self.assertIn("<script>alert(1)</script>", dialog.text)
        self.assertEqual(driver.find_elements(By.CSS_SELECTOR, ".markdown script"), [])
        # URLs become links (they used to overflow the stack and leave the dialog on "Loading…"). Every link off
        # this site opens apart from it; "/\evil.test/p" is such a link, since the browser reads "\" as "/".
        links = {a.text: a for a in dialog.find_elements(By.CSS_SELECTOR, "a")}
        self.assertEqual(sorted(links), ["https://pier.test/a", "https://pier.test/b", "https://pier.test/docs", "x"])
        self.assertEqual(links["https://pier.test/docs"].get_attribute("href"), "https://pier.test/docs")
        self.assertEqual(urllib.parse.urlsplit(links["x"].get_attribute("href")).hostname, "evil.test")
        for anchor in links.values():
            self.assertEqual(anchor.get_attribute("target"), "_blank")
            self.assertTrue({"noopener", "noreferrer"} <= set(anchor.get_attribute("rel").split()), anchor.get_attribute("rel"))
        self.assertRegex(driver.current_url, r"/boards/[^/]+/tasks/[^/]+$")
        escape(driver)
        wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))
        self.assertRegex(driver.current_url, r"/boards/[^/]+$")

    @step
    def test_06_drag_a_card_to_another_column(self):
        driver = self.supervisor
        self.drag(driver, MINE, "In progress")
        wait(driver, lambda d: self.column_of(d, MINE).find_element(By.CSS_SELECTOR, ".column-name").text == "In progress")
        self.wait_for_column(MINE, "In progress")
        driver.refresh()
        self.assertEqual(self.column_of(driver, MINE).find_element(By.CSS_SELECTOR, ".column-name").text, "In progress")
        self.assertEqual(self.column_named(driver, "In progress").find_element(By.CSS_SELECTOR, ".count").text, "1")
        self.assertEqual(self.column_named(driver, "To do").find_element(By.CSS_SELECTOR, ".count").text, "2")
        # A move the server refuses snaps back with a message: here someone else changed the task meanwhile. The live
        # stream would bring their change at once, so it is cut first (the board then says it is reconnecting).
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/events*"]})
        driver.refresh()
        self.card(driver, THIRD)
        wait_text(driver, ".live-status", "Offline — reconnecting…")
        task = self.api.task_by_title(self.board["id"], THIRD)
        self.api.call("PATCH", f"/tasks/{task['id']}", {"content": "Changed elsewhere.", "version": task["version"]})
        self.drag(driver, THIRD, "Done")
        wait_text(driver, ".notice-error", "Someone else changed this task meanwhile.")
        wait(driver, lambda d: self.column_of(d, THIRD).find_element(By.CSS_SELECTOR, ".column-name").text == "To do")
        self.assertEqual(self.api.task_by_title(self.board["id"], THIRD)["column_id"], self.column_id("To do"))
        self.dismiss_notices(driver)
        # Back online, the stream reconnects by itself and the notice goes.
        driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
        wait(driver, lambda d: not d.find_element(By.CSS_SELECTOR, ".live-status").is_displayed(), timeout=40,
             message="the live stream did not reconnect")

    @step
    def test_07_move_cards_from_the_keyboard(self):
        driver = self.supervisor
        card = self.card(driver, OTHERS)
        driver.execute_script("arguments[0].focus()", card)
        card.send_keys(Keys.ALT, Keys.ARROW_RIGHT)
        self.wait_for_column(OTHERS, "In progress")
        wait(driver, lambda d: d.switch_to.active_element.get_attribute("data-task-id") == self.api.task_by_title(self.board["id"], OTHERS)["id"])
        driver.switch_to.active_element.send_keys("]")
        self.wait_for_column(OTHERS, "Review")
        driver.switch_to.active_element.send_keys("[")
        self.wait_for_column(OTHERS, "In progress")
        # Reorder within the column: OTHERS went to the position it had, above MINE? Move it down then up.
        before = [c.text for c in self.column_named(driver, "In progress").find_elements(By.CSS_SELECTOR, ".card-title")]
        driver.switch_to.active_element.send_keys(Keys.ALT, Keys.ARROW_DOWN if before[0] == OTHERS else Keys.ARROW_UP)
        wait(driver, lambda d: [c.text for c in self.column_named(d, "In progress").find_elements(By.CSS_SELECTOR, ".card-title")] == list(reversed(before)))
        ordered = [t["title"] for t in self.api.tasks(self.board["id"], column=self.column_id("In progress"))]
        self.assertEqual(ordered, list(reversed(before)))
        # The shortcuts are documented in a dialog.
        driver.find_element(By.TAG_NAME, "body").send_keys("?")
        help_dialog = wait_for(driver, "dialog[open]")
        self.assertIn("Move the task to the previous or next column", help_dialog.text)
        escape(driver)
        wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))

    @step
    def test_08_pic_moves_their_own_card(self):
        cls = type(self)
        cls.pic_driver = browser()
        cls.drivers["pic"] = cls.pic_driver
        driver = cls.pic_driver
        self.sign_in(driver, PIC_EMAIL, self.passwords[PIC_EMAIL])
        # The Supervisor's generated password must be replaced first: a welcome form with the name to show, and
        # nothing else of the board until it is done.
        wait_text(driver, "main h1", "Welcome to Pier")
        self.assertEqual(driver.find_elements(By.CSS_SELECTOR, "header nav"), [])
        self.assertEqual(driver.find_elements(By.CSS_SELECTOR, ".account-menu"), [])
        form = driver.find_element(By.CSS_SELECTOR, ".signin-panel form")
        self.assertEqual(form.find_element(By.NAME, "name").get_attribute("value"), "Mina Park")
        self.assertEqual(form.find_elements(By.NAME, "current-password"), [], "the password just typed is not asked again")
        form.find_element(By.NAME, "new-password").send_keys("Mina's own password")
        form.find_element(By.NAME, "repeat-password").send_keys("Mina's own passwore")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_text(driver, ".signin-panel .form-message", "The new passwords do not match.")
        repeat = form.find_element(By.NAME, "repeat-password")
        repeat.clear()
        repeat.send_keys("Mina's own password")
        name = form.find_element(By.NAME, "name")
        name.clear()
        name.send_keys("Mina Park")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_text(driver, "main h1", "Boards")
        type(self).passwords[PIC_EMAIL] = "Mina's own password"
        self.assertFalse(API(self.base, PIC_EMAIL, "Mina's own password").user["password_change_required"])
        self.assertEqual(driver.find_elements(By.LINK_TEXT, "Users"), [])
        wait(driver, lambda d: d.find_element(By.LINK_TEXT, BOARD)).click()
        wait_text(driver, "main h1", BOARD)
        self.assertEqual(driver.find_elements(By.XPATH, "//button[text()='New task']"), [])
        mine = self.card(driver, MINE)
        self.assertIn("movable", mine.get_attribute("class"))
        self.drag(driver, MINE, "Review")
        cls.pic_api = API(self.base, PIC_EMAIL, self.passwords[PIC_EMAIL])
        self.wait_for_column(MINE, "Review", api=cls.pic_api)
        wait(driver, lambda d: self.column_of(d, MINE).find_element(By.CSS_SELECTOR, ".column-name").text == "Review")

    @step
    def test_08b_pic_toolbar_has_only_their_buttons(self):
        driver = self.pic_driver
        # A PIC has neither "New task" nor "Columns"; their places used to read "null".
        for language, labels in (("en", ["Members", "Keyboard shortcuts"]), ("ko", ["구성원", "단축키"])):
            Select(driver.find_element(By.ID, "language-select")).select_by_value(language)
            wait_text(driver, ".toolbar", labels[0])
            self.card(driver, MINE)
            self.assertEqual(driver.execute_script(TOOLBAR_CHILDREN, driver.find_element(By.CSS_SELECTOR, ".toolbar")), labels)
            self.assertEqual(driver.execute_script(STRAY_WORDS), [])
            for width in (1280, 375):
                set_viewport(driver, width)
                self.assert_toolbar_on_one_row(driver)
                screenshot(driver, f"board-pic-{width}-{language}")
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        Select(driver.find_element(By.ID, "language-select")).select_by_value("en")
        wait_text(driver, ".toolbar", "Members")

    @step
    def test_09_pic_cannot_change_another_persons_card(self):
        driver = self.pic_driver
        others = self.card(driver, OTHERS)
        self.assertNotIn("movable", others.get_attribute("class"))
        self.assertEqual(others.find_elements(By.CSS_SELECTOR, ".grip"), [])
        # A drag does not start, and the keyboard move is refused on the page.
        self.drag(driver, OTHERS, "Done")
        time.sleep(0.3)
        self.assertEqual(self.column_of(driver, OTHERS).find_element(By.CSS_SELECTOR, ".column-name").text, "In progress")
        driver.execute_script("arguments[0].focus()", others)
        driver.switch_to.active_element.send_keys("]")
        wait_text(driver, ".notice-error", "You can move only tasks assigned to you.")
        self.dismiss_notices(driver)
        # The task opens read-only: no field to edit, no save button.
        driver.switch_to.active_element.send_keys(Keys.ENTER)
        dialog = wait_for(driver, "dialog[open] form.task-form")
        self.assertIn("Only its assignee or a supervisor can change it.", dialog.text)
        title = dialog.find_element(By.NAME, "title")
        self.assertFalse(title.is_enabled())
        self.assertFalse(dialog.find_element(By.XPATH, ".//button[text()='Save changes']").is_displayed())
        # Forcing the form open anyway: the server refuses and the page says why.
        driver.execute_script(
            "const f = arguments[0]; f.querySelectorAll('input,select,textarea,button').forEach(e => { e.disabled = false; e.hidden = false; });",
            dialog)
        title.clear()
        title.send_keys("Taken over")
        dialog.find_element(By.XPATH, ".//button[text()='Save changes']").click()
        wait_text(driver, "dialog[open] .form-message", "You are not allowed to make this change.")
        self.assertEqual(self.api.task_by_title(self.board["id"], OTHERS)["title"], OTHERS)
        with self.assertRaises(APIError) as refused:
            task = self.api.task_by_title(self.board["id"], OTHERS)
            self.pic_api.call("POST", f"/tasks/{task['id']}/move", {"column_id": self.column_id("Done")})
        self.assertEqual(refused.exception.status, 403)
        # Leave without saving: the dialog asks first.
        escape(driver)
        confirm = wait(driver, lambda d: next((x for x in d.find_elements(By.CSS_SELECTOR, "dialog[open]") if "Discard your changes?" in x.text), False))
        confirm.find_element(By.XPATH, ".//button[text()='Discard']").click()
        wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))

    @step
    def test_10_pic_comments_and_edits_description(self):
        driver = self.pic_driver
        self.card(driver, MINE).click()
        dialog = wait_for(driver, "dialog[open] form.task-form")
        self.assertFalse(dialog.find_element(By.NAME, "title").is_enabled())
        self.assertTrue(dialog.find_element(By.NAME, "column_id").is_enabled())
        dialog.find_element(By.XPATH, ".//button[text()='Write']").click()
        area = dialog.find_element(By.CSS_SELECTOR, ".md-editor textarea")
        area.send_keys("\nUpdated by the assignee.")
        dialog.find_element(By.XPATH, ".//button[text()='Save changes']").click()
        wait_text(driver, "dialog[open] .form-message", "Saved.")
        box = driver.find_element(By.CSS_SELECTOR, "dialog[open] textarea[name=comment]")
        box.send_keys("Draft is ready for review.")
        driver.find_element(By.XPATH, "//dialog[@open]//button[text()='Comment']").click()
        wait_text(driver, "dialog[open] .comments", "Draft is ready for review.")
        wait_text(driver, "dialog[open] .history", "commented")
        self.assertIn("Updated by the assignee.", self.api.task_by_title(self.board["id"], MINE)["content"])
        escape(driver)
        wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))

    @step
    def test_11_history_shows_who_changed_what(self):
        driver = self.supervisor
        driver.refresh()
        self.card(driver, MINE).click()
        history = wait_text(driver, "dialog[open] .history", "Mina Park moved it from In progress to Review")
        text = history.text
        supervisor_name = self.api.user["name"]
        self.assertIn(f"{supervisor_name} moved it from To do to In progress", text)
        self.assertIn(f"{supervisor_name} created the task", text)
        self.assertIn("Mina Park edited the description", text)
        self.assertIn("Mina Park commented", text)
        comments = driver.find_element(By.CSS_SELECTOR, "dialog[open] .comments").text
        self.assertIn("Draft is ready for review.", comments)
        escape(driver)
        wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))

    @step
    def test_12_conflicting_edit_shows_the_other_change(self):
        driver = self.supervisor
        self.card(driver, THIRD).click()
        dialog = wait_for(driver, "dialog[open] form.task-form")
        labels = dialog.find_element(By.NAME, "labels")
        labels.clear()
        labels.send_keys("team, planning")
        # Meanwhile someone else renames it.
        task = self.api.task_by_title(self.board["id"], THIRD)
        self.api.call("PATCH", f"/tasks/{task['id']}", {"title": "Plan the retro", "version": task["version"]})
        dialog.find_element(By.XPATH, ".//button[text()='Save changes']").click()
        conflict = wait_for(driver, "dialog[open] .conflict")
        wait_text(driver, "dialog[open] .conflict", "Plan the retro")
        self.assertIn("planning, team", conflict.text)
        conflict.find_element(By.XPATH, ".//button[text()='Save my changes over theirs']").click()
        wait_text(driver, "dialog[open] .form-message", "Saved.")
        saved = self.api.call("GET", f"/tasks/{task['id']}")
        self.assertEqual(saved["title"], "Plan the retro")
        self.assertEqual(saved["labels"], ["planning", "team"])
        escape(driver)
        wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))
        self.card(driver, "Plan the retro")

    @step
    def test_13_filters(self):
        driver = self.pic_driver
        driver.refresh()
        Select(wait_for(driver, "#filter-assignee")).select_by_value("me")
        wait(driver, lambda d: [c.text for c in d.find_elements(By.CSS_SELECTOR, ".card-title")] == [MINE])
        self.assertIn("assignee=me", driver.current_url)
        driver = self.supervisor
        driver.find_element(By.ID, "filter-overdue").click()
        wait(driver, lambda d: [c.text for c in d.find_elements(By.CSS_SELECTOR, ".card-title")] == [OTHERS])
        driver.find_element(By.ID, "filter-overdue").click()
        search = driver.find_element(By.ID, "filter-q")
        search.send_keys("release notes")
        wait(driver, lambda d: [c.text for c in d.find_elements(By.CSS_SELECTOR, ".card-title")] == [MINE])
        search.send_keys(Keys.CONTROL, "a")
        search.send_keys(Keys.BACKSPACE)
        wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".card")) == 3)
        label = driver.find_element(By.ID, "filter-label")
        label.send_keys("bug", Keys.ENTER)
        wait(driver, lambda d: [c.text for c in d.find_elements(By.CSS_SELECTOR, ".card-title")] == [OTHERS])
        # One task is one task (Intl.PluralRules), in the summary and in the column's count.
        wait_text(driver, ".filter-summary", "Showing 1 matching task.")
        self.assertEqual(self.column_of(driver, OTHERS).find_element(By.CSS_SELECTOR, ".count").get_attribute("aria-label"), "1 task")
        driver.find_element(By.XPATH, "//button[text()='Clear filters']").click()
        wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".card")) == 3)

    @step
    def test_14_session_refresh_keeps_work(self):
        driver = self.supervisor
        self.card(driver, MINE).click()
        box = wait_for(driver, "dialog[open] textarea[name=comment]")
        box.send_keys("Written before the access token went away.")
        # The access cookie expires (as it does after 15 minutes); the next change refreshes and goes through.
        driver.execute_cdp_cmd("Network.deleteCookies", {"name": "pier_access", "url": self.base + "/api/"})
        driver.find_element(By.XPATH, "//dialog[@open]//button[text()='Comment']").click()
        wait_text(driver, "dialog[open] .comments", "Written before the access token went away.")
        # Now the whole session ends: the page asks to sign in again, over the dialog, and then sends the comment.
        driver.find_element(By.CSS_SELECTOR, "dialog[open] textarea[name=comment]").send_keys("Written after the session ended.")
        for name, path in (("pier_access", "/api/"), ("pier_refresh", "/api/v1/auth/")):
            driver.execute_cdp_cmd("Network.deleteCookies", {"name": name, "url": self.base + path})
        driver.find_element(By.XPATH, "//dialog[@open]//button[text()='Comment']").click()
        reauth = wait(driver, lambda d: next((x for x in d.find_elements(By.CSS_SELECTOR, "dialog[open]") if "Sign in again" in x.text), False))
        reauth.find_element(By.NAME, "password").send_keys(self.server.password)
        reauth.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_text(driver, "dialog[open] .comments", "Written after the session ended.")
        escape(driver)
        wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))

    @step
    def test_15_network_loss_shows_a_banner_and_recovers(self):
        driver = self.supervisor
        driver.execute_cdp_cmd("Network.enable", {})
        offline = {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", offline)
        try:
            driver.find_element(By.ID, "filter-overdue").click()
            wait_text(driver, "#connection-banner", "The server cannot be reached.")
        finally:
            driver.execute_cdp_cmd("Network.emulateNetworkConditions", {**offline, "offline": False})
        wait_text(driver, "#connection-banner", "Connected again.", timeout=20)
        wait(driver, lambda d: [c.text for c in d.find_elements(By.CSS_SELECTOR, ".card-title")] == [OTHERS])
        driver.find_element(By.ID, "filter-overdue").click()
        wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".card")) == 3)

    @step
    def test_16_korean_and_back(self):
        driver = self.supervisor
        Select(driver.find_element(By.ID, "language-select")).select_by_value("ko")
        wait_text(driver, "header nav", "보드")
        self.assertEqual(driver.find_element(By.TAG_NAME, "html").get_attribute("lang"), "ko")
        self.assertEqual([c.text for c in driver.find_elements(By.CSS_SELECTOR, ".filters label")][:3], ["담당자", "라벨", "검색"])
        wait_text(driver, ".card .due", "기한 지남")
        wait_text(driver, ".toolbar", "새 작업")
        self.assertEqual([c.text for c in driver.find_elements(By.CSS_SELECTOR, ".column-name")], ["할 일", "진행 중", "검토", "완료"])
        # The account keeps it too, so that its email is written in Korean.
        wait(driver, lambda d: self.api.call("GET", "/me")["language"] == "ko", message="the account's language is not ko")
        # The choice survives a reload.
        driver.refresh()
        wait_text(driver, "header nav", "사용자")
        self.take_screenshots("ko")
        Select(driver.find_element(By.ID, "language-select")).select_by_value("en")
        wait_text(driver, "header nav", "Boards")
        wait_text(driver, ".toolbar", "New task")
        self.assertEqual(driver.find_element(By.TAG_NAME, "html").get_attribute("lang"), "en")
        wait(driver, lambda d: self.api.call("GET", "/me")["language"] == "en", message="the account's language is not en")

    @step
    def test_16a_korean_wording_and_line_breaks(self):
        driver = self.supervisor
        api = self.api
        # A board of cards whose Korean text wraps: a long title, an overdue date with its year beside
        # "담당자 없음", and strings too long for any line.
        board = api.call("POST", "/boards", {"name": f"줄바꿈 확인 {STAMP}"})
        long_ago = (datetime.now(timezone.utc) - timedelta(days=400)).isoformat().replace("+00:00", "Z")
        wrapped = "배포 전에 릴리스 노트와 변경 기록을 꼼꼼하게 정리하고 검토하기"
        unbroken = ["띄어쓰기없이아주길게이어지는제목" * 5, "https://example.com/" + "a" * 150]
        api.call("POST", f"/boards/{board['id']}/tasks", {"title": wrapped, "due_at": long_ago, "labels": ["문서화 작업", "검토 요청"]})
        api.call("POST", f"/boards/{board['id']}/tasks", {"title": "발표 자료 만들기", "assignee_id": api.user["id"], "due_at": long_ago})
        for title in unbroken:
            api.call("POST", f"/boards/{board['id']}/tasks", {"title": title})
        driver.get(f"{self.base}/boards/{board['id']}")

        def check_lines(language):
            """Korean wraps between words, in either language of the page; an unbroken string still wraps."""
            for width in (1280, 375):
                set_viewport(driver, width)
                driver.refresh()
                self.card(driver, wrapped)
                wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".card")) == 4)
                cards = {c.find_element(By.CSS_SELECTOR, ".card-title").text: c for c in driver.find_elements(By.CSS_SELECTOR, ".card")}
                worded = [card for title, card in cards.items() if title not in unbroken]
                self.assertEqual(driver.execute_script(BROKEN_WORDS, worded), [], f"a word breaks across lines at {width} px in {language}")
                self.assertEqual(cards[wrapped].find_element(By.CSS_SELECTOR, ".card-title").value_of_css_property("word-break"), "keep-all")
                for title in unbroken:
                    self.assertLessEqual(driver.execute_script("return arguments[0].scrollWidth - arguments[0].clientWidth", cards[title]), 0,
                                         f"{title[:20]}… overflows its card at {width} px")
                overflow = driver.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
                self.assertLessEqual(overflow, 0, f"the page scrolls sideways at {width} px")
                screenshot(driver, f"korean-lines-{width}-{language}")
            driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
            driver.refresh()
            self.card(driver, wrapped)

        check_lines("en")
        Select(wait_for(driver, "#language-select")).select_by_value("ko")
        wait_text(driver, ".toolbar", "새 작업")
        self.assertIn("담당자 없음", self.card(driver, wrapped).text)
        check_lines("ko")

        # After switching, no placeholder, accessible name or tooltip is left in English, wherever it is drawn.
        english = english_only_strings()
        self.assertEqual(english_leftovers(driver, english), [])
        driver.find_element(By.XPATH, "//button[text()='새 작업']").click()
        dialog = wait_for(driver, "dialog[open]")
        due = dialog.find_element(By.NAME, "due_at")
        self.assertEqual((due.get_attribute("type"), due.get_attribute("placeholder")), ("text", "연도-월-일 시:분"))
        self.assertEqual(english_leftovers(driver, english), [])
        screenshot(driver, "task-new-1280-ko")
        dialog.find_element(By.NAME, "title").send_keys("마감일 확인")
        due.send_keys("2031-01-15 09:30")
        dialog.find_element(By.XPATH, ".//button[text()='작업 만들기']").click()
        wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))
        self.assertEqual(local_due(api.task_by_title(board["id"], "마감일 확인")), "2031-01-15 09:30")
        self.card(driver, "마감일 확인").click()
        dialog = wait_for(driver, "dialog[open] form.task-form")
        self.assertEqual(dialog.find_element(By.NAME, "due_at").get_attribute("value"), "2031-01-15 09:30")
        self.assertEqual(english_leftovers(driver, english), [])
        dialog.find_element(By.XPATH, ".//button[text()='닫기']").click()
        wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))
        for button, ready in (("구성원", "dialog[open] .member"), ("열 관리", "dialog[open] .column-item")):
            driver.find_element(By.XPATH, f"//button[normalize-space()='{button}' or @title='{button}']").click()
            wait_for(driver, ready)
            self.assertEqual(english_leftovers(driver, english), [], button)
            driver.find_element(By.XPATH, "//dialog[@open]//button[text()='닫기']").click()
            wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))
        driver.find_element(By.TAG_NAME, "body").send_keys("?")
        wait_text(driver, "dialog[open]", "단축키")
        self.assertEqual(english_leftovers(driver, english), [])
        escape(driver)
        wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))
        Select(driver.find_element(By.ID, "language-select")).select_by_value("en")
        wait_text(driver, ".toolbar", "New task")
        driver.get(f"{self.base}/boards/{self.board['id']}")
        self.card(driver, MINE)

    @step
    def test_17_screenshots(self):
        self.take_screenshots("en")
        self.assertEqual(console_errors(self.supervisor), [])
        self.assertEqual(console_errors(self.pic_driver), [])

    @step
    def test_17a_board_not_found_has_no_empty_box(self):
        driver = self.supervisor
        driver.get(f"{self.base}/boards/{uuid.uuid4()}")
        for language, heading in (("en", "Board not found"), ("ko", "보드를 찾을 수 없습니다")):
            Select(wait_for(driver, "#language-select")).select_by_value(language)
            wait_text(driver, "main h1", heading)
            for width in (1280, 375):
                set_viewport(driver, width)
                wait_for(driver, "main [role=alert]")
                self.assertEqual(driver.execute_script(EMPTY_BOXES), [], f"an empty box at {width} px in {language}")
                # Nothing to filter on a board that is not there.
                self.assertFalse(any(e.is_displayed() for e in driver.find_elements(By.CSS_SELECTOR, ".filters, .filter-toggle")))
                screenshot(driver, f"board-not-found-{width}-{language}")
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        Select(driver.find_element(By.ID, "language-select")).select_by_value("en")
        wait_text(driver, "main h1", "Board not found")
        driver.get(f"{self.base}/boards/{self.board['id']}")
        self.card(driver, MINE)

    @step
    def test_18_supervisor_resets_and_disables_an_account(self):
        driver = self.supervisor
        driver.find_element(By.LINK_TEXT, "Users").click()
        row = wait_for(driver, f'tr[data-email="{OTHER_EMAIL}"]')
        row.find_element(By.XPATH, ".//button[text()='Reset password']").click()
        confirm = wait_for(driver, "dialog[open]")
        confirm.find_element(By.XPATH, ".//button[text()='Reset password']").click()
        secret = wait_for(driver, "dialog[open] [data-testid=generated-password]")
        password = secret.text
        self.assertNotEqual(password, self.passwords[OTHER_EMAIL])
        driver.find_element(By.XPATH, "//dialog[@open]//button[text()='Done']").click()
        API(self.base, OTHER_EMAIL, password)
        row = wait_for(driver, f'tr[data-email="{OTHER_EMAIL}"]')
        row.find_element(By.XPATH, ".//button[text()='Disable']").click()
        confirm = wait_for(driver, "dialog[open]")
        self.assertIn("Disable Jun Lee?", confirm.text)
        confirm.find_element(By.XPATH, ".//button[text()='Disable']").click()
        wait_text(driver, f'tr[data-email="{OTHER_EMAIL}"]', "Disabled")
        with self.assertRaises(APIError) as refused:
            API(self.base, OTHER_EMAIL, password)
        self.assertEqual(refused.exception.status, 401)
        # Your own account cannot be disabled from here.
        own = driver.find_element(By.CSS_SELECTOR, f'tr[data-email="{self.server.email}"]')
        self.assertFalse(own.find_element(By.XPATH, ".//button[text()='Disable']").is_displayed())

    @step
    def test_18b_supervisor_removes_a_member(self):
        driver = self.supervisor
        board_id = self.board["id"]
        leaving_email = f"leaving.{STAMP}@pier.test"
        leaving = self.api.call("POST", "/users", {"email": leaving_email, "name": "Leaving Kim", "role": "pic"})["user"]
        self.api.call("POST", f"/boards/{board_id}/members", {"user_id": leaving["id"]})
        driver.get(f"{self.base}/boards/{board_id}")
        wait_text(driver, "main h1", BOARD)
        driver.find_element(By.XPATH, "//button[text()='Members']").click()
        wait_text(driver, "dialog[open] .member-list", leaving_email)
        screenshot(driver, "members-dialog")
        # Members of one board never share an avatar colour (there are more colours than members here).
        colours = [a.value_of_css_property("background-color") for a in driver.find_elements(By.CSS_SELECTOR, "dialog[open] .member .avatar")]
        self.assertEqual(len(set(colours)), len(colours), colours)

        def remove(email):
            row = wait_text(driver, "dialog[open] .member-list li", email)
            button = row.find_element(By.CSS_SELECTOR, ".member-remove")
            self.assertEqual(button.get_attribute("aria-label"), f"Remove {row.find_element(By.CSS_SELECTOR, '.member-name').text} from this board")
            button.click()
            confirm = wait_text(driver, "dialog.dialog-small[open]", "Remove this member?")
            confirm.find_element(By.XPATH, ".//button[text()='Remove']").click()

        # The PIC still has tasks on this board: refused with the reason, and still a member.
        remove(PIC_EMAIL)
        wait_text(driver, "dialog[open] .form-message", "Assign them to someone else first.")
        members = {m["email"] for m in self.api.call("GET", f"/boards/{board_id}/members")}
        self.assertIn(PIC_EMAIL, members)

        remove(leaving_email)
        wait(driver, lambda d: leaving_email not in d.find_element(By.CSS_SELECTOR, "dialog[open] .member-list").text,
             message="the removed member left the list")
        members = {m["email"] for m in self.api.call("GET", f"/boards/{board_id}/members")}
        self.assertNotIn(leaving_email, members)
        self.assertIn(PIC_EMAIL, members)
        # The account itself stays; only its place on this board is gone.
        self.assertIn(leaving_email, {u["email"] for u in self.api.call("GET", "/users")})
        driver.find_element(By.XPATH, "//dialog[@open]//button[text()='Close']").click()

    @step
    def test_18c_supervisor_manages_columns(self):
        driver = self.supervisor
        board_id = self.board["id"]

        def api_names():
            return [c["name"] for c in sorted(self.api.call("GET", f"/boards/{board_id}")["columns"], key=lambda c: c["position"])]

        def board_names():
            return [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".columns .column-name")]

        before = api_names()
        driver.get(f"{self.base}/boards/{board_id}")
        wait_text(driver, "main h1", BOARD)
        driver.find_element(By.XPATH, "//button[normalize-space()='Columns' or @title='Columns']").click()
        dialog = wait_for(driver, "dialog[open]")
        dialog.find_element(By.NAME, "name").send_keys("Blocked")
        dialog.find_element(By.XPATH, ".//button[text()='Add']").click()
        wait(driver, lambda d: api_names() == before + ["Blocked"], message="the column was added at the end")
        wait(driver, lambda d: board_names() == before + ["Blocked"], message="the board shows the new column")

        name = wait_for(driver, 'dialog[open] input[aria-label="Name of the column Blocked"]')
        # (WebDriver's clear() fires a change of its own; select and type over the name as a person does.)
        name.send_keys(Keys.CONTROL, "a")
        name.send_keys("On hold", Keys.ENTER)
        wait(driver, lambda d: api_names() == before + ["On hold"], message="the column was renamed")
        wait_for(driver, 'dialog[open] button[aria-label="Move On hold one place to the left"]').click()
        expected = before[:-1] + ["On hold", before[-1]]
        wait(driver, lambda d: api_names() == expected, message="the column moved one place to the left")
        wait(driver, lambda d: board_names() == expected, message="the board shows the new order")
        # The focus stays on the control that was used, on the moved column, ready for the next move.
        wait(driver, lambda d: d.switch_to.active_element.get_attribute("aria-label") == "Move On hold one place to the left",
             message="the focus follows the moved column")
        screenshot(driver, "columns-dialog")

        # A column with tasks cannot go; an empty one can, after confirming.
        occupied = next(c for c in self.api.call("GET", f"/boards/{board_id}")["columns"]
                        if any(t["column_id"] == c["id"] for t in self.api.call("GET", f"/boards/{board_id}/tasks")["tasks"]))
        wait_for(driver, f'dialog[open] button[aria-label="Delete the column {occupied["name"]}"]').click()
        wait_text(driver, "dialog.dialog-small[open]", "Delete this column?").find_element(
            By.XPATH, ".//button[text()='Delete']").click()
        wait_text(driver, "dialog[open] .form-message", "This column still has tasks.")
        wait_for(driver, 'dialog[open] button[aria-label="Delete the column On hold"]').click()
        wait_text(driver, "dialog.dialog-small[open]", "Delete this column?").find_element(
            By.XPATH, ".//button[text()='Delete']").click()
        wait(driver, lambda d: api_names() == before, message="the empty column was deleted")
        wait(driver, lambda d: board_names() == before, message="the board no longer shows it")
        driver.find_element(By.XPATH, "//dialog[@open]//button[text()='Close']").click()

    @step
    def test_18d_supervisor_leaves_a_board(self):
        driver = self.supervisor
        board_id = self.board["id"]
        # Another Supervisor first: the last one cannot leave.
        created = self.api.call("POST", "/users", {"email": f"deputy.{STAMP}@pier.test", "name": "Deputy Han", "role": "supervisor"})
        # The generated password must be replaced before the deputy can act.
        deputy_password = API.replace_generated_password(
            self.base, f"deputy.{STAMP}@pier.test", created["password"], "the deputy's own password")
        deputy = API(self.base, f"deputy.{STAMP}@pier.test", deputy_password)
        self.api.call("POST", f"/boards/{board_id}/members", {"user_id": created["user"]["id"]})
        me = self.api.call("GET", "/me")

        driver.get(f"{self.base}/boards/{board_id}")
        wait_text(driver, "main h1", BOARD)
        driver.find_element(By.XPATH, "//button[text()='Members']").click()
        row = wait_text(driver, "dialog[open] .member-list li", me["email"])
        row.find_element(By.CSS_SELECTOR, ".member-remove").click()
        wait_text(driver, "dialog.dialog-small[open]", "Remove this member?").find_element(
            By.XPATH, ".//button[text()='Remove']").click()
        wait_text(driver, "#notices-status .notice", f"You left the board “{BOARD}”.")
        wait(driver, lambda d: d.current_url.rstrip("/") == self.base.rstrip("/"), message="back on the list of boards")
        self.assertFalse(driver.find_elements(By.CSS_SELECTOR, "dialog[open]"))
        with self.assertRaises(APIError) as gone:
            self.api.call("GET", f"/boards/{board_id}")
        self.assertEqual(gone.exception.status, 404)
        # The deputy brings the first Supervisor back for the steps after this one.
        deputy.call("POST", f"/boards/{board_id}/members", {"user_id": me["id"]})

    @step
    def test_19_sign_out(self):
        driver = self.pic_driver
        driver.find_element(By.CSS_SELECTOR, ".account-menu summary").click()
        wait_for(driver, "#sign-out").click()
        wait_text(driver, ".signin-panel", "You have signed out.")
        driver.refresh()
        wait_text(driver, "main h1", "Sign in")
        self.assertTrue(driver.current_url.endswith("/sign-in"))

    def take_screenshots(self, language):
        driver = self.supervisor
        for width in (1280, 375):
            set_viewport(driver, width)
            driver.refresh()
            self.card(driver, MINE)
            wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "[aria-busy=true]"))
            overflow = driver.execute_script("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            self.assertLessEqual(overflow, 0, f"the page scrolls sideways at {width} px")
            self.assert_toolbar_on_one_row(driver)
            self.assertEqual(driver.execute_script(EMPTY_BOXES), [])
            screenshot(driver, f"board-{width}-{language}")
            self.card(driver, MINE).click()
            history = wait_for(driver, "dialog[open] .history li").find_element(By.XPATH, "..")
            if language == "ko":
                # 로 or 으로 as the column's name is read: 진행 중으로, 검토로; never the "(으)로" of a form.
                wait(driver, lambda d: "진행 중에서 검토로 옮겼습니다" in history.text,
                     message=f"the history does not say 검토로: {history.text!r}")
                self.assertIn("할 일에서 진행 중으로 옮겼습니다", history.text)
                self.assertNotIn("(으)로", history.text)
            screenshot(driver, f"task-{width}-{language}")
            escape(driver)
            wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        driver.refresh()
        self.card(driver, MINE)


# Renders generated Markdown: seeded, so a failure can be replayed with its seed. Each input is a few hundred
# pieces of Markdown syntax, URLs, hostile HTML, link targets and unusual Unicode (and random code points); each
# output is checked against what the renderer may make: these elements, these attributes, links only to http,
# https and mailto with every off-site one opened apart, and nesting no deeper than its cap.
MARKDOWN_FUZZ = r"""
const [seed, iterations, huge, done] = arguments;
import("/markdown.js").then((markdown) => {
    let state = seed >>> 0;
    const random = () => {
        state = (state + 0x6d2b79f5) >>> 0;
        let value = state;
        value = Math.imul(value ^ (value >>> 15), value | 1);
        value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
        return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
    };
    const pick = (list) => list[Math.floor(random() * list.length)];
    const PIECES = [
        "*", "**", "***", "_", "__", "~~", "`", "``", "```", "~~~", "[", "]", "(", ")", "](", "<", ">", "\\", "\\\\",
        "#", "# ", "###### ", "> ", ">", "- ", "* ", "+ ", "1. ", "2) ", "- [ ] ", "- [x] ", "---", "    ", "\t", " ",
        "  ", "\n", "\n\n", "\r\n", "\r", "!", ".", ",", ":", ";", "?", "'", '"', "&", "&amp;", "&lt;", "&#x6A;",
        "http://", "https://", "https://a.b", "https://pier.test/x?y=1#z", "http://x.y/p_(q)", "mailto:a@b.c",
        "javascript:alert(1)", "JaVaScRiPt:alert(1)", "java\tscript:", " javascript:", "javascript:alert%281%29",
        "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)", "//evil.test", "/\\evil.test",
        "\\\\evil.test", "https:evil.test", "/ok/path", "#frag", "<img src=x onerror=alert(1)>",
        "<script>alert(1)</script>", '<a href="javascript:alert(1)">x</a>', "<svg onload=alert(1)>", "onmouseover=",
        'style="color:red"', "<style>", "</p>", "한국어", "담당자 없음", "é", "ß", "𝔘", "😀", "\u200b", "\u2028", "\u2029",
        "\u202e", "\u0000", "\u00a0", "\ufeff", "\ud800", "a", "b", "word", "x_y_z", "1", "42",
    ];
    const generate = () => {
        const count = Math.floor(random() ** 2 * 400);
        let text = "";
        for (let index = 0; index < count; index += 1) {
            text += random() < 0.9 ? pick(PIECES) : String.fromCodePoint(Math.floor(random() * 0x30000));
        }
        return text;
    };
    const ELEMENTS = new Set(["P", "BR", "H3", "H4", "H5", "H6", "PRE", "CODE", "BLOCKQUOTE", "UL", "OL", "LI", "INPUT", "HR", "A", "STRONG", "EM", "DEL"]);
    const VALUES = {
        "A href": null,
        "A target": /^_blank$/,
        "A rel": /^noopener noreferrer nofollow$/,
        "INPUT type": /^checkbox$/,
        "INPUT disabled": /^$/,
        "INPUT checked": /^$/,
        "OL start": /^\d+$/,
        "CODE data-language": /^[\w+-]+$/,
        "LI class": /^task-item$/,
    };
    const deepestAllowed = 3 * markdown.MAX_DEPTH + 6;
    const result = { inputs: 0, characters: 0, slowest: 0, slowestLength: 0, slowestGenerated: 0, total: 0, deepest: 0, links: 0, problems: [] };
    const check = (source, kind) => {
        const problem = (what) => result.problems.length < 10 && result.problems.push({ kind, what, source: source.slice(0, 300) });
        const started = performance.now();
        let fragment;
        try {
            fragment = markdown.renderMarkdown(source);
        } catch (error) {
            problem(`threw ${error}`);
            return;
        }
        const elapsed = performance.now() - started;
        result.inputs += 1;
        result.characters += source.length;
        result.total += elapsed;
        if (elapsed > result.slowest) [result.slowest, result.slowestLength] = [elapsed, source.length];
        if (kind === "generated") result.slowestGenerated = Math.max(result.slowestGenerated, elapsed);
        if (!(fragment instanceof DocumentFragment)) return problem("did not return a DocumentFragment");
        const root = document.createElement("div");
        root.append(fragment);
        for (const element of root.querySelectorAll("*")) {
            if (!ELEMENTS.has(element.tagName)) problem(`made a ${element.tagName}`);
            let depth = 0;
            for (let node = element; node !== root; node = node.parentElement) depth += 1;
            result.deepest = Math.max(result.deepest, depth);
            if (depth > deepestAllowed) problem(`nested ${depth} deep`);
            for (const attribute of element.attributes) {
                const key = `${element.tagName} ${attribute.name}`;
                if (!(key in VALUES)) problem(`made the attribute ${key}="${attribute.value}"`);
                else if (VALUES[key] && !VALUES[key].test(attribute.value)) problem(`${key}="${attribute.value}"`);
            }
            if (element.tagName === "A") {
                result.links += 1;
                let url = null;
                try {
                    url = new URL(element.getAttribute("href"));
                } catch {
                    problem(`a link to an unreadable ${element.getAttribute("href")}`);
                    continue;
                }
                if (!["http:", "https:", "mailto:"].includes(url.protocol)) problem(`a link to ${url.href}`);
                const apart = element.target === "_blank" && element.relList.contains("noopener") && element.relList.contains("noreferrer");
                if (url.origin !== location.origin && !apart) problem(`an off-site link opened in place: ${url.href}`);
            }
            if (element.tagName === "INPUT" && !element.disabled) problem("an enabled input");
        }
    };
    for (let index = 0; index < iterations; index += 1) check(generate(), "generated");
    for (const [unit, length] of huge) check(unit.repeat(Math.ceil(length / unit.length)).slice(0, length), `huge ${JSON.stringify(unit)}`);
    done(result);
}).catch((error) => done({ problems: [{ what: String(error) }] }));
"""

# Inputs of 50 000 characters (the longest description the API takes) that make naive renderers recurse without
# end or backtrack quadratically: each must render, quickly.
HUGE_MARKDOWN = [
    "https://a.b ", "<https://a.b> ", "[https://a.b](https://a.b) ", "**a ", "__a ", "~~a ", "[", "[a](", "> ",
    "**", "*_", "_a", "*", "`", "```", "https://", "\\*", "**`[<https://", "- [ ] ", "1. ", "# #", "#" + " " * 40,
]


def delta_e_2000(lab1, lab2):
    """CIEDE2000 colour difference: about 2 is barely visible, 10 and more clearly different colours."""
    (l1, a1, b1), (l2, a2, b2) = lab1, lab2
    mean_c = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(mean_c ** 7 / (mean_c ** 7 + 25 ** 7)))
    a1, a2 = a1 * (1 + g), a2 * (1 + g)
    c1, c2 = math.hypot(a1, b1), math.hypot(a2, b2)
    h1 = math.degrees(math.atan2(b1, a1)) % 360 if c1 else 0
    h2 = math.degrees(math.atan2(b2, a2)) % 360 if c2 else 0
    dl, dc = l2 - l1, c2 - c1
    dh = 0 if c1 * c2 == 0 else (h2 - h1 + 180) % 360 - 180
    dH = 2 * math.sqrt(c1 * c2) * math.sin(math.radians(dh / 2))
    mean_l, mean_c = (l1 + l2) / 2, (c1 + c2) / 2
    if c1 * c2 == 0:
        mean_h = h1 + h2
    elif abs(h1 - h2) <= 180:
        mean_h = (h1 + h2) / 2
    else:
        mean_h = (h1 + h2 + 360) / 2 if h1 + h2 < 360 else (h1 + h2 - 360) / 2
    t = (1 - 0.17 * math.cos(math.radians(mean_h - 30)) + 0.24 * math.cos(math.radians(2 * mean_h))
         + 0.32 * math.cos(math.radians(3 * mean_h + 6)) - 0.20 * math.cos(math.radians(4 * mean_h - 63)))
    rotation = 30 * math.exp(-(((mean_h - 275) / 25) ** 2))
    rc = 2 * math.sqrt(mean_c ** 7 / (mean_c ** 7 + 25 ** 7))
    sl = 1 + 0.015 * (mean_l - 50) ** 2 / math.sqrt(20 + (mean_l - 50) ** 2)
    sc, sh = 1 + 0.045 * mean_c, 1 + 0.015 * mean_c * t
    rt = -math.sin(math.radians(2 * rotation)) * rc
    return math.sqrt((dl / sl) ** 2 + (dc / sc) ** 2 + (dH / sh) ** 2 + rt * (dc / sc) * (dH / sh))


def linear(channel):
    channel /= 255
    return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4


def contrast(rgb1, rgb2):
    """WCAG 2 contrast ratio."""
    luminance = lambda rgb: 0.2126 * linear(rgb[0]) + 0.7152 * linear(rgb[1]) + 0.0722 * linear(rgb[2])
    high, low = sorted((luminance(rgb1), luminance(rgb2)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def lab(rgb):
    """sRGB to CIELAB (D65)."""
    r, g, b = (linear(channel) for channel in rgb)
    x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047
    y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b
    z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / 1.08883
    f = lambda v: v ** (1 / 3) if v > 216 / 24389 else (24389 / 27 * v + 16) / 116
    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def top_level_arguments(text, start):
    """The arguments of the call whose "(" is at `start`, split at its own commas, with what is nested in
    brackets or quotes blanked out; and where the call ends."""
    arguments, current, depth, quote, index = [], [], 0, None, start + 1
    while index < len(text):
        character = text[index]
        if quote:
            if character == "\\":
                index += 1
            elif character == quote:
                quote = None
        elif character in "\"'`":
            quote = character
            current.append("S")
        elif character in "([{":
            depth += 1
        elif character in ")]}":
            if depth == 0:
                arguments.append("".join(current).strip())
                return arguments, index
            depth -= 1
        elif character == "," and depth == 0:
            arguments.append("".join(current).strip())
            current = []
        elif depth == 0:
            current.append(character)
        index += 1
    return arguments, index


class Catalogue(unittest.TestCase):
    """Every string exists in both languages, and every key the sources use exists; the modules the views share
    (Markdown, languages, avatars, DOM helpers) do what the views rely on."""

    @classmethod
    def setUpClass(cls):
        cls.server = PierServer().start()
        cls.driver = browser(language="ko-KR")

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()
        cls.server.stop()

    def test_languages_have_the_same_keys_and_sources_use_only_known_keys(self):
        driver = self.driver
        driver.get(self.server.base_url + "/sign-in")
        # A browser that prefers Korean gets Korean without choosing.
        wait_text(driver, "main h1", "로그인")
        self.assertEqual(driver.find_element(By.TAG_NAME, "html").get_attribute("lang"), "ko")
        result = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "import('/i18n.js').then(m => done({problems: m.catalogueProblems(), keys: m.keys('en'), ko: m.keys('ko')}))")
        self.assertEqual(result["problems"], [])
        self.assertEqual(sorted(result["keys"]), sorted(result["ko"]))
        known = set(result["keys"])
        sections = {key.split(".")[0] for key in known}
        used = set()
        # The API's event kinds ("task.moved") look like keys but are names the server sends: the lists of them in
        # live.js and webhooks.js are the only ones allowed.
        kinds = set()
        for path, name in ((SOURCES / "live.js", "LIVE_KINDS"), (SOURCES / "views/webhooks.js", "WEBHOOK_KINDS")):
            block = re.search(name + r" = \[(.*?)\];", path.read_text(), re.S)
            self.assertIsNotNone(block, f"{name} in {path}")
            kinds |= set(re.findall(r'"([a-z_.]+)"', block.group(1)))
        for path in list(SOURCES.glob("*.js")) + list(SOURCES.glob("views/*.js")):
            if path.name == "i18n.js":
                continue
            text = path.read_text()
            for literal in re.findall(r'(?<!case )"([a-z_]+\.[a-z_.]+)"', text):
                if literal.split(".")[0] in sections and literal not in kinds:
                    used.add(literal)
        self.assertEqual(sorted(used - known), [])

    def test_markdown_renderer_never_creates_markup_from_text(self):
        driver = self.driver
        driver.get(self.server.base_url + "/sign-in")
        wait_for(driver, "main h1")
        hostile = "\n".join([
            "<img src=x onerror=alert(1)>",
            "[click](javascript:alert(1)) [ok](https://pier.test/a)",
            "**<b>bold</b>** `<i>code</i>`",
            "> <svg onload=alert(1)>",
            "```",
            "<script>alert(1)</script>",
            "```",
        ])
        result = driver.execute_async_script(
            "const [text, done] = arguments;"
            "import('/markdown.js').then(m => { const div = document.createElement('div');"
            " div.append(m.renderMarkdown(text));"
            " done({tags: [...div.querySelectorAll('*')].map(e => e.tagName.toLowerCase()),"
            " attrs: [...div.querySelectorAll('*')].flatMap(e => [...e.attributes].map(a => a.name + '=' + a.value)),"
            " text: div.textContent}); })",
            hostile)
        self.assertTrue(set(result["tags"]) <= {"p", "a", "strong", "code", "blockquote", "pre", "br"}, result["tags"])
        self.assertIn("href=https://pier.test/a", result["attrs"])
        self.assertFalse(any(a.startswith("on") or "javascript:" in a for a in result["attrs"]), result["attrs"])
        self.assertIn("<img src=x onerror=alert(1)>", result["text"])
        self.assertIn("<script>alert(1)</script>", result["text"])

    def test_markdown_renders_every_input_quickly_and_safely(self):
        driver = self.driver
        driver.get(self.server.base_url + "/sign-in")
        wait_for(driver, "main h1")
        driver.set_script_timeout(300)
        seed = int(os.environ.get("PIER_TEST_FUZZ_SEED", "20261202"))
        iterations = int(os.environ.get("PIER_TEST_FUZZ_ITERATIONS", "5000"))
        huge = [[unit, 50000] for unit in HUGE_MARKDOWN]
        result = driver.execute_async_script(MARKDOWN_FUZZ, seed, iterations, huge)
        self.assertEqual(result["problems"], [], f"seed {seed}")
        self.assertEqual(result["inputs"], iterations + len(huge))
        print(f"\nmarkdown fuzz (seed {seed}): {iterations} generated and {len(huge)} inputs of 50 000 characters, "
              f"{result['characters']} characters in {result['total']:.0f} ms; slowest generated "
              f"{result['slowestGenerated']:.1f} ms, slowest of all {result['slowest']:.1f} ms ({result['slowestLength']} "
              f"characters); {result['links']} links; nesting at most {result['deepest']} deep")
        # Time linear in the length: a generated input (a few thousand characters) takes milliseconds, and 50 000
        # characters well under a second here; the bounds leave room for a slow machine.
        self.assertLess(result["slowestGenerated"], 250)
        self.assertLess(result["slowest"], 2000)

    def test_markdown_link_targets_are_read_as_the_browser_reads_them(self):
        driver = self.driver
        driver.get(self.server.base_url + "/sign-in")
        wait_for(driver, "main h1")
        # What each target is: another site (and which), this site, or refused.
        expected = {
            "/\\evil.test/p": ("off", "evil.test"),
            "\\\\evil.test": ("off", "evil.test"),
            "//evil.test": ("off", "evil.test"),
            "/\\/evil.test": ("off", "evil.test"),
            "https:evil.test": ("off", "evil.test"),
            "https://pier.test/a": ("off", "pier.test"),
            "mailto:a@pier.test": ("off", None),
            "/boards/x?y=1": ("on", None),
            "#notes": ("on", None),
            "/.//evil.test": ("on", None),
            "java\tscript:alert(1)": ("refused", None),
            "java\nscript:alert(1)": ("refused", None),
            " javascript:alert(1)": ("refused", None),
            "\u0001javascript:alert(1)": ("refused", None),
            "JaVaScRiPt:alert(1)": ("refused", None),
            "javascript:alert%281%29": ("refused", None),
            "data:text/html,hello": ("refused", None),
            "vbscript:msgbox": ("refused", None),
            "file:///etc/passwd": ("refused", None),
        }
        results = driver.execute_async_script("""
            const [targets, done] = arguments;
            import("/markdown.js").then((markdown) => done(targets.map((target) => {
                const root = document.createElement("div");
                root.append(markdown.renderMarkdown(`[x](${target})`));
                const anchor = root.querySelector("a");
                return { target, resolved: markdown.linkTarget(target), origin: location.origin,
                         anchor: anchor && { href: anchor.getAttribute("href"), target: anchor.target, rel: anchor.rel } };
            })));""", list(expected))
        for result in results:
            kind, host = expected[result["target"]]
            with self.subTest(target=result["target"]):
                resolved, anchor = result["resolved"], result["anchor"]
                if kind == "refused":
                    self.assertIsNone(resolved)
                    self.assertIsNone(anchor)
                    continue
                self.assertEqual(resolved["external"], kind == "off")
                if host:
                    self.assertEqual(urllib.parse.urlsplit(resolved["href"]).hostname, host)
                if kind == "on":
                    self.assertTrue(resolved["href"].startswith(result["origin"] + "/"), resolved["href"])
                if anchor:
                    # The page links to the resolved URL, not to the string as written.
                    self.assertEqual(anchor["href"], resolved["href"])
                    if kind == "off":
                        self.assertEqual(anchor["target"], "_blank")
                        self.assertTrue({"noopener", "noreferrer"} <= set(anchor["rel"].split()))
                    else:
                        self.assertEqual((anchor["target"], anchor["rel"]), ("", ""))

    def test_korean_particles_and_plural_forms(self):
        driver = self.driver
        driver.get(self.server.base_url + "/sign-in")
        wait_text(driver, "main h1", "로그인")
        self.addCleanup(driver.execute_script, "localStorage.removeItem('pier.language')")
        words = {
            "완료": "로", "검토": "로", "할 일": "로", "출발": "로", "진행 중": "으로", "보류함": "으로", "“보고서”": "로",
            "Doing": "으로", "Done": "으로", "Team": "으로", "PM": "으로", "Review": "로", "QA": "로", "Backlog": "로",
            "Asia/Seoul": "로", "v2": "로", "7": "로", "Sprint 3": "으로", "10": "으로", "2026": "으로",
            "😀": "(으)로", "進行": "(으)로", "": "(으)로",
        }
        result = driver.execute_async_script("""
            const [words, done] = arguments;
            import("/i18n.js").then((i18n) => {
                i18n.setLanguage("ko");
                const ko = {
                    particles: words.map((word) => i18n.particleRo(word)),
                    moved: i18n.t("history.moved", { from: "할 일", to: "Doing" }),
                    renamed: i18n.t("history.title_changed", { from: "초안", to: "검토 중" }),
                    one: i18n.t("filters.showing", { count: 1 }),
                    count: i18n.t("board.count", { count: 1 }),
                };
                i18n.setLanguage("en");
                const en = {
                    one: i18n.t("filters.showing", { count: 1 }), two: i18n.t("filters.showing", { count: 2 }),
                    zero: i18n.t("filters.showing", { count: 0 }), count: i18n.t("board.count", { count: 1 }),
                    moved: i18n.t("history.moved", { from: "To do", to: "Doing" }),
                };
                done({ ko, en });
            });""", list(words))
        self.assertEqual(dict(zip(words, result["ko"]["particles"])), words)
        self.assertEqual(result["ko"]["moved"], "할 일에서 Doing으로 옮겼습니다")
        self.assertEqual(result["ko"]["renamed"], "제목을 “초안”에서 “검토 중”으로 바꿨습니다")
        self.assertEqual((result["ko"]["one"], result["ko"]["count"]), ("조건에 맞는 작업 1개를 표시합니다.", "작업 1개"))
        self.assertEqual(result["en"], {
            "one": "Showing 1 matching task.", "two": "Showing 2 matching tasks.", "zero": "Showing 0 matching tasks.",
            "count": "1 task", "moved": "moved it from To do to Doing"})

    def test_avatar_colours_are_distinct_and_readable(self):
        driver = self.driver
        driver.get(self.server.base_url + "/sign-in")
        wait_for(driver, "main h1")
        result = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            import("/ui.js").then((ui) => {
                const colours = [];
                for (let index = 0; index < ui.AVATAR_COLORS; index += 1) {
                    const avatar = document.createElement("span");
                    avatar.className = `avatar avatar-small avatar-color-${index}`;
                    avatar.textContent = "MP";
                    document.body.append(avatar);
                    const style = getComputedStyle(avatar);
                    colours.push([style.backgroundColor, style.color]);
                    avatar.remove();
                }
                const used = new Set(Array.from({ length: 300 }, (_, index) => ui.avatarColor(crypto.randomUUID())));
                // On a board, as many different colours as members, up to the number of colours.
                const board = (size) => {
                    const members = Array.from({ length: size }, () => ({ id: crypto.randomUUID(), name: "A B" }));
                    ui.assignAvatarColors(members);
                    return new Set(members.map((member) => ui.avatar(member).className)).size;
                };
                done({ colours, used: used.size, count: ui.AVATAR_COLORS, boards: [2, 5, ui.AVATAR_COLORS, 25].map(board) });
            });""")
        rgb = lambda text: tuple(int(part) for part in re.findall(r"\d+", text)[:3])
        backgrounds = [rgb(background) for background, _ in result["colours"]]
        self.assertGreaterEqual(result["count"], 8)
        for background, text in result["colours"]:
            # WCAG AA for the initials.
            self.assertGreaterEqual(contrast(rgb(background), rgb(text)), 4.5, background)
        closest = min((delta_e_2000(lab(a), lab(b)), a, b) for a, b in itertools.combinations(backgrounds, 2))
        # No two colours are hard to tell apart (the old palette had pairs below 3).
        self.assertGreaterEqual(closest[0], 15, f"{closest[1]} and {closest[2]} look alike")
        # People are spread over every colour, and the members of a board get different ones while there are enough.
        self.assertEqual(result["used"], result["count"])
        self.assertEqual(result["boards"], [2, 5, result["count"], result["count"]])

    def test_views_never_hand_the_dom_a_conditional_child(self):
        """The DOM's append and replaceChildren show null as the text "null" (a PIC's toolbar read "null Members
        null Keyboard shortcuts"): a child that may be absent goes through dom.js (h, append, clear)."""
        problems = []
        for path in sorted(SOURCES.rglob("*.js")):
            text = path.read_text()
            for call in re.finditer(r"\.(?:append|prepend|replaceChildren|before|after|replaceWith)\(", text):
                arguments, _ = top_level_arguments(text, call.end() - 1)
                for argument in arguments:
                    if re.search(r"(?:\?|:)\s*(?:null|undefined|false)\b|&&|\|\|", argument):
                        line = text.count("\n", 0, call.start()) + 1
                        problems.append(f"{path.relative_to(SOURCES)}:{line}: {argument}")
        self.assertEqual(problems, [])


class Throttling(unittest.TestCase):
    """Repeated wrong passwords are refused with the wait the server asks for."""

    @classmethod
    def setUpClass(cls):
        cls.server = PierServer().start()
        cls.driver = browser()

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()
        cls.server.stop()

    def test_too_many_attempts_shows_the_wait(self):
        driver = self.driver
        driver.get(self.server.base_url + "/sign-in")
        email = f"nobody.{STAMP}@pier.test"
        for _ in range(6):
            email_input = wait_for(driver, "input[name=email]")
            email_input.clear()
            email_input.send_keys(email)
            password = driver.find_element(By.NAME, "password")
            password.clear()
            password.send_keys("wrong password")
            button = driver.find_element(By.CSS_SELECTOR, ".signin-panel button[type=submit]")
            wait(driver, lambda d: button.is_enabled())
            button.click()
            wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, ".form-message").is_displayed())
            if "Too many failed sign-ins" in driver.find_element(By.CSS_SELECTOR, ".form-message").text:
                break
        message = wait_text(driver, ".form-message", "Too many failed sign-ins")
        self.assertRegex(message.text, r"Try again in \d+ seconds")
        button = driver.find_element(By.CSS_SELECTOR, ".signin-panel button[type=submit]")
        self.assertFalse(button.is_enabled())
        self.assertRegex(button.text, r"Try again in \d+ s")


if __name__ == "__main__":
    unittest.main(verbosity=2)
