"""Verifying a Vigil webhook in Python with the `standardwebhooks` package (pip install standardwebhooks).

In a web framework, pass the raw body bytes and the request headers to `verify` before parsing anything:

    event = verify(os.environ["VIGIL_WEBHOOK_SECRET"], request.headers, request.get_data())

Run as a script it checks one delivery: the body on stdin, the headers in WEBHOOK_ID, WEBHOOK_TIMESTAMP and
WEBHOOK_SIGNATURE, the endpoint's secret in VIGIL_WEBHOOK_SECRET; it prints the event type, or exits 1.
"""

import json
import os
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def verify(secret, headers, body):
    """The event, if `body` was signed with `secret` within the last five minutes; raises otherwise."""
    Webhook(secret).verify(body, {name.lower(): value for name, value in dict(headers).items()})
    return json.loads(body)


if __name__ == "__main__":
    headers = {
        "webhook-id": os.environ["WEBHOOK_ID"],
        "webhook-timestamp": os.environ["WEBHOOK_TIMESTAMP"],
        "webhook-signature": os.environ["WEBHOOK_SIGNATURE"],
    }
    try:
        event = verify(os.environ["VIGIL_WEBHOOK_SECRET"], headers, sys.stdin.buffer.read())
    except WebhookVerificationError as error:
        print(f"refused: {error}", file=sys.stderr)
        sys.exit(1)
    # Deliveries are at least once: remember headers["webhook-id"] and skip one seen before.
    print(event["type"])
