"""A webhook receiver for Vigil's tests: it verifies every delivery with the `standardwebhooks` package
(PyPI; an implementation of the Standard Webhooks specification independent of Vigil's), and appends what
it received to a JSON-lines log that outlives the process, so that a test can kill it and start it again.

Each delivery becomes one line: {"webhook_id", "webhook_timestamp", "verified", "status", "type", "body"}.
`status` is what the receiver answered. A delivery that fails verification is answered 401.

How it answers can be changed while it runs: `POST /_config` with {"status": 503, "retry_after": "2",
"delay_secs": 0.5, "body": "text"} (all optional; status 200 and a small JSON body by default).

Usage: python webhook_receiver.py --port 8500 --secret whsec_... [--secret whsec_...] --log deliveries.jsonl
The process exits when the test process that started it goes away.
"""

import argparse
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", action="append", required=True, help="a secret that may have signed")
    parser.add_argument("--log", required=True)
    args = parser.parse_args()

    verifiers = [Webhook(secret) for secret in args.secret]
    settings = {"status": 200, "retry_after": None, "delay_secs": 0, "body": None}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def _body(self):
            length = int(self.headers.get("content-length") or 0)
            return self.rfile.read(length)

        def _answer(self, status, body=b"", headers=None):
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            body = self._body()
            if self.path == "/_config":
                with lock:
                    settings.update(json.loads(body or b"{}"))
                return self._answer(204)
            headers = {name.lower(): value for name, value in self.headers.items()}
            verified = False
            for verifier in verifiers:
                try:
                    verifier.verify(body, headers)
                    verified = True
                    break
                except Exception:  # noqa: BLE001 - any failure of verification is a refusal
                    continue
            with lock:
                status, retry_after, delay = settings["status"], settings["retry_after"], settings["delay_secs"]
                answer = settings["body"]
            if delay:
                time.sleep(delay)
            if not verified:
                status = 401
            try:
                kind = json.loads(body).get("type")
            except ValueError:
                kind = None
            record = {
                "webhook_id": headers.get("webhook-id"),
                "webhook_timestamp": headers.get("webhook-timestamp"),
                "signatures": headers.get("webhook-signature"),
                "verified": verified,
                "status": status,
                "type": kind,
                "body": body.decode("utf-8", "replace"),
            }
            with lock:
                with open(args.log, "a", encoding="utf-8") as log:
                    log.write(json.dumps(record) + "\n")
                    log.flush()
                    os.fsync(log.fileno())
            extra = {"retry-after": retry_after} if retry_after is not None and status >= 400 else {}
            answer = json.dumps({"received": verified}) if answer is None else answer
            self._answer(status, answer.encode(), extra)

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    parent = os.getppid()

    def exit_with_parent():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=exit_with_parent, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
