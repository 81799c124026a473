#!/usr/bin/env python3
"""Verifies captcha tokens with flask-turnstile, a third-party Cloudflare
Turnstile client from PyPI, set up as a Flask app would set it up for
Cloudflare, except for one line: its verify URL points at Rampart.

Usage: turnstile_verify.py VERIFY_URL < steps.json

steps.json is a list of {"call": "verify" | "get_response", "secret",
"token", "remote_ip"}. Each step runs inside a request to the app's form
handler, the way a site's view calls the library: the token travels as the
form's cf-turnstile-response field and the client address as REMOTE_ADDR,
and the library reads both from the request by itself. Prints one JSON list
with what the library returned for each step: the bool of verify(), or the
dict of get_response() (the raw siteverify answer).

Needs flask-turnstile on PYTHONPATH (scripts/test.sh installs it into
target/pydeps).
"""

import json
import sys

from flask import Flask
from flask_turnstile import Turnstile


def main() -> int:
    verify_url = sys.argv[1]
    steps = json.load(sys.stdin)
    results = []
    for step in steps:
        app = Flask(__name__)
        app.config.update(
            TURNSTILE_SITE_KEY="unused-by-verification",
            TURNSTILE_SECRET_KEY=step["secret"],
            TURNSTILE_ENABLED=True,
        )
        turnstile = Turnstile(app=app)
        # The one change from a Cloudflare deployment.
        turnstile.VERIFY_URL = verify_url
        with app.test_request_context(
            "/contact",
            method="POST",
            data={"cf-turnstile-response": step["token"], "message": "hi"},
            environ_base={"REMOTE_ADDR": step.get("remote_ip", "127.0.0.1")},
        ):
            if step["call"] == "verify":
                results.append(turnstile.verify())
            else:
                results.append(turnstile.get_response())
    json.dump(results, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
