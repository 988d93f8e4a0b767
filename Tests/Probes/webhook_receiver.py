"""A webhook receiver for the notifier's tests: takes POSTs on 127.0.0.1, answers 500 to the first N (--fail-first)
or always a given status (--status), and writes every request, with the Standard Webhooks verification of its
signature by the `standardwebhooks` package, to OUT/requests.jsonl. The secret is given per path:
POST /hooks/NAME is verified with the secret in OUT/NAME.secret, which the test writes once it knows it.

    python webhook_receiver.py --out DIR [--fail-first N] [--status CODE]
"""
import argparse
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

parser = argparse.ArgumentParser()
parser.add_argument("--out", required=True)
parser.add_argument("--fail-first", type=int, default=0)
parser.add_argument("--status", type=int, default=204)
args = parser.parse_args()
lock = threading.Lock()
count = 0


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *arguments):
        pass

    def do_POST(self):
        global count
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        name = self.path.rsplit("/", 1)[-1]
        verified, error = False, None
        try:
            with open(os.path.join(args.out, f"{name}.secret")) as secret_file:
                secret = secret_file.read().strip()
            Webhook(secret).verify(body, {key.lower(): value for key, value in self.headers.items()})
            verified = True
        except FileNotFoundError:
            error = "no secret for this path"
        except WebhookVerificationError as failure:
            error = str(failure)
        with lock:
            count += 1
            attempt = count
            status = 500 if attempt <= args.fail_first else args.status
            record = {
                "attempt": attempt, "path": self.path, "status": status, "verified": verified, "error": error,
                "headers": {key.lower(): value for key, value in self.headers.items()},
                "body": json.loads(body) if body else None,
            }
            with open(os.path.join(args.out, "requests.jsonl"), "a") as out:
                out.write(json.dumps(record) + "\n")
        self.send_response(status)
        answer = b"not yet" if status == 500 else b""
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"listening on {server.server_address[1]}", flush=True)
server.serve_forever()
