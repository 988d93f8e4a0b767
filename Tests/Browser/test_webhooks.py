"""Webhooks as a Supervisor sets one up: added in the board's Webhooks dialog (in Korean), its secret shown once, a
test call sent to a real receiver that checks the Standard Webhooks signature, and the delivery shown as delivered."""

import json
import re
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

from selenium.webdriver.common.by import By

from harness import API, PierServer, browser, console_errors, screenshot, wait, wait_for, wait_text

PROBES = Path(__file__).resolve().parents[1] / "Probes"
STAMP = time.strftime("%H%M%S")


class Receiver:
    def __init__(self):
        self.directory = tempfile.mkdtemp(prefix="pier-hooks-")
        self.process = subprocess.Popen(
            [sys.executable, str(PROBES / "webhook_receiver.py"), "--out", self.directory],
            stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        match = re.match(r"listening on (\d+)", line)
        if not match:
            self.process.kill()
            raise RuntimeError(f"the webhook receiver did not start: {line!r}")
        self.port = int(match.group(1))

    def received(self):
        path = Path(self.directory) / "requests.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


class Webhooks(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.receiver = Receiver()
        cls.server = PierServer(["--webhooks-allow-private"]).start()
        cls.api = API(cls.server.base_url, cls.server.email, cls.server.password)
        cls.board = cls.api.call("POST", "/boards", {"name": f"Hooks {STAMP}"})
        cls.driver = browser(language="ko-KR")

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()
        status = cls.server.stop()
        cls.receiver.stop()
        if status not in (None, 0):
            raise AssertionError(f"pier up exited with status {status} after SIGTERM:\n" + "".join(cls.server.output[-40:]))

    def test_add_a_webhook_and_send_a_test(self):
        driver = self.driver
        driver.get(self.server.base_url + "/sign-in")
        wait_for(driver, "input[name=email]").send_keys(self.server.email)
        driver.find_element(By.CSS_SELECTOR, "input[name=password]").send_keys(self.server.password)
        driver.find_element(By.CSS_SELECTOR, ".signin-panel button[type=submit]").click()
        wait_for(driver, "header nav")
        driver.get(f"{self.server.base_url}/boards/{self.board['id']}")
        button = wait(driver, lambda d: next((b for b in d.find_elements(By.CSS_SELECTOR, ".toolbar button") if b.text == "웹훅"), False))
        button.click()
        dialog = wait_for(driver, "dialog[open]")
        wait_text(driver, "dialog[open] .webhook-list", "아직 웹훅이 없습니다.")
        url = f"http://127.0.0.1:{self.receiver.port}/hooks/ops"
        dialog.find_element(By.CSS_SELECTOR, "input[name=url]").send_keys(url)
        for label in dialog.find_elements(By.CSS_SELECTOR, ".webhook-kinds label"):
            if label.text in ("상태 변경", "담당 지정"):
                label.click()
        dialog.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        secret_input = wait_for(driver, "dialog[open] .webhook-secret input")
        secret = secret_input.get_attribute("value")
        self.assertTrue(secret.startswith("whsec_"), secret)
        (Path(self.receiver.directory) / "ops.secret").write_text(secret)
        item = wait_text(driver, "dialog[open] .webhook", url)
        self.assertIn("상태 변경", item.text)
        self.assertIn("담당 지정", item.text)
        screenshot(driver, "webhooks-added-ko")

        next(b for b in item.find_elements(By.CSS_SELECTOR, "button") if b.text == "테스트 보내기").click()
        wait(driver, lambda d: len(self.receiver.received()) == 1, timeout=15, message="the test call never arrived")
        call = self.receiver.received()[0]
        self.assertTrue(call["verified"], call["error"])
        self.assertEqual(call["body"]["type"], "webhook.test")
        row = wait_text(driver, "dialog[open] .webhook-deliveries tbody tr", "전달됨", timeout=15)
        self.assertIn("HTTP 204", row.text)
        self.assertIn("테스트", row.text)
        screenshot(driver, "webhooks-delivered-ko")

        # The secret is not shown again once the dialog is opened anew.
        close = [b for b in driver.find_elements(By.CSS_SELECTOR, "dialog[open] .actions button") if b.text == "닫기"]
        close[-1].click()
        wait(driver, lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"), message="the dialog did not close")
        button.click()
        wait_text(driver, "dialog[open] .webhook-list", url)
        self.assertFalse(driver.find_element(By.CSS_SELECTOR, "dialog[open] .webhook-secret").is_displayed())
        self.assertNotIn(secret, driver.page_source)
        self.assertEqual(console_errors(driver), [])


if __name__ == "__main__":
    unittest.main()
