"""The board in a real browser against a real Pier: a Supervisor and a PIC, each in their own browser, work on one
board; every change is checked through the API as well as on the page.

The steps share state and run in order (unittest sorts test methods by name); after a failure the remaining steps
are skipped, and every open browser is photographed into test-artifacts/browser/."""

import functools
import re
import time
import unittest
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


def escape(driver):
    """Presses Escape wherever the focus is (a dialog closes on it)."""
    ActionChains(driver).send_keys(Keys.ESCAPE).perform()


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
            driver.execute_script(
                "arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('input', {bubbles: true}))",
                dialog.find_element(By.NAME, "due_at"), due.strftime("%Y-%m-%dT%H:%M"))
        if content:
            dialog.find_element(By.TAG_NAME, "textarea").send_keys(content)
        dialog.find_element(By.XPATH, ".//button[text()='Create task']").click()
        wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))
        return self.card(driver, title)

    @step
    def test_04_create_and_assign_tasks(self):
        driver = self.supervisor
        now = datetime.now()
        self.create_task_in_ui(MINE, "Mina Park", labels="docs, release", due=now + timedelta(hours=20),
                               content="## Notes\nCover **sign-in** and `pier up`.\n- [x] draft\n- [ ] review\n<script>alert(1)</script>")
        self.create_task_in_ui(OTHERS, "Jun Lee", labels="bug", due=now - timedelta(days=1))
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
        self.assertIsNotNone(task["due_at"])

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
        # A move the server refuses snaps back with a message: here someone else changed the task meanwhile.
        task = self.api.task_by_title(self.board["id"], THIRD)
        self.api.call("PATCH", f"/tasks/{task['id']}", {"content": "Changed elsewhere.", "version": task["version"]})
        self.drag(driver, THIRD, "Done")
        wait_text(driver, ".notice-error", "Someone else changed this task meanwhile.")
        wait(driver, lambda d: self.column_of(d, THIRD).find_element(By.CSS_SELECTOR, ".column-name").text == "To do")
        self.assertEqual(self.api.task_by_title(self.board["id"], THIRD)["column_id"], self.column_id("To do"))
        self.dismiss_notices(driver)

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
        wait_text(driver, "main h1", "Boards")
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
        # The choice survives a reload.
        driver.refresh()
        wait_text(driver, "header nav", "사용자")
        self.take_screenshots("ko")
        Select(driver.find_element(By.ID, "language-select")).select_by_value("en")
        wait_text(driver, "header nav", "Boards")
        wait_text(driver, ".toolbar", "New task")
        self.assertEqual(driver.find_element(By.TAG_NAME, "html").get_attribute("lang"), "en")

    @step
    def test_17_screenshots(self):
        self.take_screenshots("en")
        self.assertEqual(console_errors(self.supervisor), [])
        self.assertEqual(console_errors(self.pic_driver), [])

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
        driver.find_element(By.XPATH, "//button[text()='Columns']").click()
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
        deputy = API(self.base, f"deputy.{STAMP}@pier.test", created["password"])
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
            screenshot(driver, f"board-{width}-{language}")
            if width == 375:
                self.card(driver, MINE).click()
                wait_for(driver, "dialog[open] .history li")
                screenshot(driver, f"task-{width}-{language}")
                escape(driver)
                wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"))
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        driver.refresh()
        self.card(driver, MINE)


class Catalogue(unittest.TestCase):
    """Every string exists in both languages, and every key the sources use exists."""

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
        for path in list(SOURCES.glob("*.js")) + list(SOURCES.glob("views/*.js")):
            if path.name == "i18n.js":
                continue
            text = path.read_text()
            for literal in re.findall(r'(?<!case )"([a-z_]+\.[a-z_.]+)"', text):
                if literal.split(".")[0] in sections:
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
