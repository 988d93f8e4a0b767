"""The live board in two browsers: a Supervisor (English) and a PIC (Korean) have the same board open. What one does
appears on the other's screen without a reload, naming who did it; a task dialog that is open when someone else
changes the task says so and keeps what is being typed."""

import time
import unittest

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from harness import API, PierServer, browser, console_errors, screenshot, wait, wait_for, wait_text

STAMP = time.strftime("%H%M%S")
PIC_EMAIL = f"minji.{STAMP}@pier.test"
PIC_PASSWORD = "live board passphrase"
TASK = "Draft the release notes"
OTHER = "Book the demo room"


def sign_in(server, driver, email, password):
    driver.get(server.base_url + "/sign-in")
    wait_for(driver, "input[name=email]").send_keys(email)
    driver.find_element(By.CSS_SELECTOR, "input[name=password]").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, ".signin-panel button[type=submit]").click()
    wait_for(driver, "header nav")


def card(driver, title):
    def find(d):
        for element in d.find_elements(By.CSS_SELECTOR, ".card"):
            if element.find_element(By.CSS_SELECTOR, ".card-title").text == title:
                return element
        return False

    return wait(driver, find, message=f"no card titled {title!r}")


def column_of(driver, title):
    element = card(driver, title)
    return element.find_element(By.XPATH, "ancestor::section[contains(@class, 'column')]").get_attribute("data-column-id")


class LiveBoard(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = PierServer().start()
        cls.api = API(cls.server.base_url, cls.server.email, cls.server.password)
        api = cls.api
        cls.pic = api.call("POST", "/users", {"email": PIC_EMAIL, "name": "민지 Choi", "role": "pic", "password": PIC_PASSWORD})["user"]
        cls.board = api.call("POST", "/boards", {"name": f"Live {STAMP}"})
        api.call("POST", f"/boards/{cls.board['id']}/members", {"user_id": cls.pic["id"]})
        cls.task = api.call("POST", f"/boards/{cls.board['id']}/tasks", {"title": TASK, "assignee_id": cls.pic["id"]})
        cls.supervisor_browser = browser()
        cls.pic_browser = browser(language="ko-KR")

    @classmethod
    def tearDownClass(cls):
        for driver, name in ((cls.supervisor_browser, "live-supervisor-end"), (cls.pic_browser, "live-pic-end")):
            try:
                screenshot(driver, name)
            finally:
                driver.quit()
        status = cls.server.stop()
        if status not in (None, 0):
            raise AssertionError(f"pier up exited with status {status} after SIGTERM:\n" + "".join(cls.server.output[-40:]))

    def open_board(self, driver):
        driver.get(f"{self.server.base_url}/boards/{self.board['id']}")
        card(driver, TASK)
        # A page that reloads loses this; the live updates must not need one.
        driver.execute_script("window.__notReloaded = true")

    def assert_not_reloaded(self, driver):
        self.assertTrue(driver.execute_script("return window.__notReloaded === true"), "the page was reloaded")

    def test_1_a_move_in_one_browser_appears_in_the_other_with_the_actor(self):
        supervisor, pic = self.supervisor_browser, self.pic_browser
        sign_in(self.server, supervisor, self.server.email, self.server.password)
        sign_in(self.server, pic, PIC_EMAIL, PIC_PASSWORD)
        self.open_board(supervisor)
        self.open_board(pic)
        columns = self.board["columns"]
        self.assertEqual(column_of(supervisor, TASK), columns[0]["id"])

        # The PIC moves their card to the next column with the keyboard.
        own = card(pic, TASK)
        own.send_keys(Keys.ALT, Keys.ARROW_RIGHT)
        wait(pic, lambda d: column_of(d, TASK) == columns[1]["id"], message="the PIC's move was not shown")
        wait(supervisor, lambda d: column_of(d, TASK) == columns[1]["id"], timeout=5,
             message="the move did not reach the other browser")
        moved = card(supervisor, TASK)
        note = moved.find_element(By.CSS_SELECTOR, ".card-live").text
        self.assertEqual(note, "민지 Choi moved this to In progress")
        self.assertIn("card-changed", moved.get_attribute("class"))
        counts = [element.text for element in supervisor.find_elements(By.CSS_SELECTOR, ".column .count")]
        self.assertEqual(counts[:2], ["0", "1"])
        screenshot(supervisor, "live-moved-by-other")
        # The mover's own card carries no "someone changed this" note.
        self.assertEqual(card(pic, TASK).find_elements(By.CSS_SELECTOR, ".card-live"), [])
        self.assert_not_reloaded(supervisor)

    def test_2_a_task_created_through_the_api_appears_in_korean(self):
        pic = self.pic_browser
        self.api.call("POST", f"/boards/{self.board['id']}/tasks", {"title": OTHER})
        created = card(pic, OTHER)
        wait(pic, lambda d: created.find_element(By.CSS_SELECTOR, ".card-live").text != "")
        self.assertEqual(created.find_element(By.CSS_SELECTOR, ".card-live").text, "Supervisor 님이 추가했습니다")
        self.assert_not_reloaded(pic)

    def test_3_an_open_dialog_is_told_and_keeps_what_is_typed(self):
        pic = self.pic_browser
        card(pic, TASK).click()
        dialog = wait_for(pic, "dialog[open] .task-dialog-body form")
        description = wait_for(pic, "dialog[open] textarea")
        description.send_keys("Half-written thought")
        current = self.api.call("GET", f"/tasks/{self.task['id']}")
        self.api.call("PATCH", f"/tasks/{self.task['id']}", {"title": "Draft the release notes v2"},
                      headers={"If-Match": f"\"{current['version']}\""})
        notice = wait_text(pic, "dialog[open] .live-notice", "Supervisor 님이 이 작업을 수정했습니다")
        self.assertIn("Half-written thought", wait_for(pic, "dialog[open] textarea").get_attribute("value"))
        screenshot(pic, "live-dialog-notice-ko")
        # The card behind the dialog has the new title already.
        wait(pic, lambda d: any(
            element.text == "Draft the release notes v2" for element in d.find_elements(By.CSS_SELECTOR, ".card-title")))
        notice.find_element(By.CSS_SELECTOR, "button").click()
        wait(pic, lambda d: d.find_element(By.CSS_SELECTOR, "dialog[open] input[name=title]").get_attribute("value")
             == "Draft the release notes v2", message="the dialog did not load the new version")
        self.assertEqual(pic.find_elements(By.CSS_SELECTOR, "dialog[open] .live-notice"), [])
        self.assertIsNotNone(dialog)

    def test_4_no_console_errors(self):
        for driver in (self.supervisor_browser, self.pic_browser):
            self.assertEqual(console_errors(driver), [])


if __name__ == "__main__":
    unittest.main()
