#!/usr/bin/env python3
"""Fuzz the whole API from its OpenAPI document with Schemathesis, against the real `vigil` binary.

Starts `vigil serve` on a fresh SQLite database and a free port, seeds a company through the API (an owner,
a manager, employees, an enrollment token, an enrolled agent, an API key), then runs Schemathesis twice:
authenticated as the owner, and with no credentials. Any failed check, or a panic in the server's log,
fails the run. `make test` runs a bounded pass with a fixed seed; `make fuzz` runs many more examples.

Usage: tools/fuzz.py --binary target/debug/vigil [--examples 15] [--seed 1] [--report-dir DIR]
"""

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
        "vigil_problems",
    ]
)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(base, method, path, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    if body is not None:
        request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        raise SystemExit(f"seeding failed: {method} {path} answered {error.code}: {error.read()!r}") from None


def wait_ready(base, server, deadline=60):
    started = time.monotonic()
    while time.monotonic() - started < deadline:
        if server.poll() is not None:
            raise SystemExit(f"vigil exited early with {server.returncode}")
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.2)
    raise SystemExit("vigil did not become ready")


def seed(base):
    """A company with something in every list, so that reads return real rows."""
    password = "fuzz password " + secrets.token_hex(8)
    _, owner = call(
        base,
        "POST",
        "/api/v1/auth/signup",
        {"company_name": "Fuzz Co", "name": "Owner", "email": "owner@fuzz.test", "password": password},
    )
    token = owner["access_token"]
    call(base, "POST", "/api/v1/users", {"email": "m@fuzz.test", "name": "M", "role": "MANAGER", "password": password}, token)
    for index in range(3):
        call(base, "POST", "/api/v1/employees", {"email": f"e{index}@fuzz.test", "name": f"Employee {index}"}, token)
    _, enrollment = call(base, "POST", "/api/v1/enrollment-tokens", {"max_uses": 5}, token)
    _, agent = call(
        base,
        "POST",
        "/api/v1/agent/enroll",
        {"enrollment_token": enrollment["token"], "hostname": "fuzz-1", "os": "Linux", "agent_version": "1.0.0"},
    )
    call(base, "POST", "/api/v1/agent/heartbeat", {}, agent["agent_secret"])
    call(base, "POST", "/api/v1/api-keys", {"name": "fuzz", "scope": "read"}, token)
    return token


def schemathesis(base, spec, args, label, headers):
    report_dir = Path(args.report_dir) / label
    command = [
        str(Path(sys.executable).parent / "st"),
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "--no-color",
        "run",
        str(spec),
        "--url",
        base,
        "--checks",
        CHECKS,
        "--seed",
        str(args.seed),
        "--max-examples",
        str(args.examples),
        "--workers",
        str(args.workers),
        "--request-timeout",
        "10",
        "--report",
        "junit",
        "--report-dir",
        str(report_dir),
        "--warnings",
        "off",
    ]
    for header in headers:
        command += ["--header", header]
    env = dict(os.environ, SCHEMATHESIS_HOOKS="fuzz_hooks", PYTHONPATH=str(HERE))
    print(f"==> schemathesis ({label}): {args.examples} examples per operation, seed {args.seed}", flush=True)
    # Schemathesis keeps its replay cache in the working directory: keep it with the reports.
    report_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.run(command, env=env, cwd=report_dir, check=False).returncode


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=str(ROOT / "target/debug/vigil"))
    parser.add_argument("--spec", default=str(ROOT / "openapi/openapi.json"))
    parser.add_argument("--examples", type=int, default=15)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--report-dir", default=str(ROOT / "target/schemathesis"))
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="vigil-fuzz-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = Path(work) / "vigil.log"
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite://{work}/vigil.db",
        BIND=f"127.0.0.1:{port}",
        DATA_DIR=work,
        JWT_SECRET=secrets.token_hex(32),
        # Webhooks are reachable (and refuse bad signatures); the rest of billing has no Stripe keys.
        STRIPE_WEBHOOK_SECRET="whsec_" + secrets.token_hex(16),
        SIGNUPS_PER_ADDRESS_PER_HOUR="100000",
        # Thousands of requests a minute from one owner: the general limit is off (it has its own test).
        RATE_LIMIT_PER_MINUTE="0",
        ALERT_SWEEP_INTERVAL_SECS="0",
        WORKERS="2",
        RUST_LOG="warn,vigil=info",
    )
    with open(log_path, "wb") as log:
        server = subprocess.Popen([args.binary, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    failures = []
    try:
        wait_ready(base, server)
        token = seed(base)
        if schemathesis(base, args.spec, args, "owner", [f"Authorization: Bearer {token}"]) != 0:
            failures.append("authenticated as the owner")
        if schemathesis(base, args.spec, args, "anonymous", []) != 0:
            failures.append("without credentials")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.kill()
            failures.append("vigil did not stop on SIGTERM")
    log_text = log_path.read_text(errors="replace")
    if "panicked" in log_text:
        failures.append("the server panicked (see its log)")
    if server.returncode != 0:
        failures.append(f"vigil exited with {server.returncode} after SIGTERM")
    if failures:
        print(f"Schemathesis found failures ({'; '.join(failures)}). Server log: {log_path}", file=sys.stderr)
        return 1
    print("Schemathesis: no failures.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
