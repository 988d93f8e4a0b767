"""Email notifications seen by a Supervisor: `pier up` sends through a real SMTP server (aiosmtpd, which refuses one
address with a 550); the refused email shows on the Users page in both languages and can be sent again."""

import re
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from harness import API, PierServer, browser, console_errors, screenshot, wait, wait_for, wait_text

PROBES = Path(__file__).resolve().parents[1] / "Probes"
STAMP = time.strftime("%H%M%S")
REFUSED = f"gone.{STAMP}@pier.test"


class SMTPServer:
    def __init__(self, *options):
        self.directory = tempfile.mkdtemp(prefix="pier-smtp-")
        self.process = subprocess.Popen(
            [sys.executable, str(PROBES / "smtp_server.py"), "--out", self.directory, *options],
            stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        match = re.match(r"listening on (\d+)", line)
        if not match:
            self.process.kill()
            raise RuntimeError(f"the SMTP server did not start: {line!r}")
        self.port = int(match.group(1))

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


class EmailDeliveries(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.smtp = SMTPServer("--refuse", REFUSED)
        cls.server = PierServer([
            "--smtp-url", f"smtp://127.0.0.1:{cls.smtp.port}", "--mail-from", "Pier <board@pier.test>",
            "--public-url", "https://board.pier.test",
        ]).start()
        cls.api = API(cls.server.base_url, cls.server.email, cls.server.password)
        cls.driver = browser()

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()
        status = cls.server.stop()
        cls.smtp.stop()
        if status not in (None, 0):
            raise AssertionError(f"pier up exited with status {status} after SIGTERM:\n" + "".join(cls.server.output[-40:]))

    def dead(self):
        return self.api.call("GET", "/deliveries?state=dead")

    def test_a_refused_email_is_shown_and_sent_again(self):
        api = self.api
        pic = api.call("POST", "/users", {"email": REFUSED, "name": "Gone Park", "role": "pic"})["user"]
        board = api.call("POST", "/boards", {"name": f"Mail {STAMP}"})
        api.call("POST", f"/boards/{board['id']}/members", {"user_id": pic["id"]})
        api.call("POST", f"/boards/{board['id']}/tasks", {"title": "Write the report", "assignee_id": pic["id"]})
        driver = self.driver
        wait(driver, lambda d: len(self.dead()) == 1, timeout=20, message="the refused email never became a dead letter")
        delivery = self.dead()[0]
        self.assertEqual(delivery["recipient_id"], pic["id"])
        self.assertIn("550", delivery["last_error"])

        driver.get(self.server.base_url + "/sign-in")
        wait_for(driver, "input[name=email]").send_keys(self.server.email)
        driver.find_element(By.CSS_SELECTOR, "input[name=password]").send_keys(self.server.password)
        driver.find_element(By.CSS_SELECTOR, ".signin-panel button[type=submit]").click()
        wait_for(driver, "header nav")
        driver.get(self.server.base_url + "/users")
        wait_text(driver, ".deliveries-table", "Gone Park")
        row = driver.find_element(By.CSS_SELECTOR, ".deliveries-table tbody tr")
        self.assertIn("Assignment", row.text)
        self.assertIn("Refused", row.text)
        self.assertIn("550", row.text)
        screenshot(driver, "users-deliveries-1280-en")

        Select(driver.find_element(By.ID, "language-select")).select_by_value("ko")
        wait_text(driver, ".deliveries", "전달되지 않은 메일")
        wait_text(driver, ".deliveries-table", "거부됨")
        wait_text(driver, ".deliveries-table", "담당자 배정")
        screenshot(driver, "users-deliveries-1280-ko")
        Select(driver.find_element(By.ID, "language-select")).select_by_value("en")
        wait_text(driver, ".deliveries", "Email that was not delivered")

        button = wait_for(driver, ".deliveries-table button")
        self.assertEqual(button.text, "Send again")
        button.click()
        wait_text(driver, "body", "The email to Gone Park is queued again.")
        # The board sends it again at once; the server refuses it again, on a second attempt.
        wait(driver, lambda d: [x["attempts"] for x in self.dead()] == [2], timeout=20,
             message="the dead letter was not attempted again")
        self.assertEqual(console_errors(driver), [])

    def test_the_bell_counts_unread_notifications_and_opens_the_task(self):
        api = self.api
        password = "a long password for the PIC"
        email = f"bell.{STAMP}@pier.test"
        pic = api.call("POST", "/users", {"email": email, "name": "Bell Kim", "role": "pic", "password": password})["user"]
        board = api.call("POST", "/boards", {"name": f"Bell {STAMP}"})
        api.call("POST", f"/boards/{board['id']}/members", {"user_id": pic["id"]})
        task = api.call("POST", f"/boards/{board['id']}/tasks", {"title": "Check the bell", "assignee_id": pic["id"]})
        pic_api = API(self.server.base_url, email, password)
        wait(self.driver, lambda d: pic_api.call("GET", "/me/notifications")["unread_count"] == 1, timeout=20,
             message="the assignment never reached the PIC's inbox")

        driver = browser()
        try:
            driver.get(self.server.base_url + "/sign-in")
            wait_for(driver, "input[name=email]").send_keys(email)
            driver.find_element(By.CSS_SELECTOR, "input[name=password]").send_keys(password)
            driver.find_element(By.CSS_SELECTOR, ".signin-panel button[type=submit]").click()
            button = wait_for(driver, ".inbox-button")
            wait_text(driver, ".inbox-count", "1")
            self.assertEqual(button.get_attribute("aria-label"), "Notifications, 1 unread")
            button.click()
            wait_text(driver, ".inbox-dialog", "Supervisor assigned “Check the bell” to you")
            screenshot(driver, "inbox-1280-en")
            next(b for b in driver.find_elements(By.CSS_SELECTOR, ".inbox-dialog button") if b.text == "Close").click()
            Select(driver.find_element(By.ID, "language-select")).select_by_value("ko")
            wait_text(driver, "header nav", "보드")
            driver.find_element(By.CSS_SELECTOR, ".inbox-button").click()
            wait_text(driver, ".inbox-dialog", "Supervisor 님이 ‘Check the bell’ 작업을 회원님에게 배정했습니다")
            screenshot(driver, "inbox-1280-ko")
            driver.find_element(By.CSS_SELECTOR, ".inbox-item a").click()
            wait(driver, lambda d: d.current_url.endswith(f"/boards/{board['id']}/tasks/{task['id']}"),
                 message="the notification did not open its task")
            wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, ".inbox-count").get_attribute("hidden") is not None,
                 message="the unread count did not go away")
            self.assertEqual(pic_api.call("GET", "/me/notifications")["unread_count"], 0)
            self.assertEqual(console_errors(driver), [])
        finally:
            driver.quit()


if __name__ == "__main__":
    unittest.main()
