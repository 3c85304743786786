#!/usr/bin/env python3
"""Vigil's benchmark: the hot paths of the API under load, as ratios that hold on a noisy machine.

`make bench` runs this against the release binary; `make bench-smoke` runs it with `--smoke` (tiny data, one
second per scenario) against the debug binary, so that `make test` notices when a scenario breaks.

For each backend (PostgreSQL, then SQLite) it creates a fresh database, migrates it, starts `vigil serve`,
signs up the two measured tenants through the API (so their owners, tokens and policies are the app's own),
seeds the rest in bulk, then drives every scenario of SCENARIOS with wrk. The heartbeat and the alerts page
also run their SQL directly through pgbench at the same concurrency, which is the database's own ceiling;
the report divides the API's figure by it. The read paths run against a small and a large tenant (ten times
the rows) and the report divides the large figure by the small one.

Only the standard library is used: wrk and pgbench do the load, psql loads PostgreSQL, sqlite3 loads SQLite.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as dt
import hashlib
import hmac
import io
import json
import os
import platform
import random
import re
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
WEBHOOK_SECRET = "whsec_bench_secret"
JWT_SECRET = "bench-jwt-secret-that-is-long-enough-0123456789"
AGENT_SECRET = "vigil_ag_bench{:026d}"  # bench/wrk/scenario.lua and bench/pgbench/heartbeat.sql derive the same


# --------------------------------------------------------------------------------------------------------------
# The scenarios: one row each. A new hot path (e.g. issue 12's activity ingest) is one more row here, plus a
# wrk driver in bench/wrk/scenario.lua if its requests vary, plus a pgbench script if it has a SQL twin.


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    path: str
    # "static" (the same request each time), "agent" (each request from the next seeded agent, with `body`)
    # or "replay" (each request once, from a file of requests signed in advance; see webhook_requests).
    driver: str = "static"
    body: str | None = None
    # "user": the measured tenant's owner's access token; None: the driver authenticates each request.
    auth: str | None = "user"
    # Read paths run against both measured tenants; the others once.
    tenants: tuple[str, ...] = ("large",)
    # A pgbench script in bench/pgbench/ running the same SQL, on PostgreSQL.
    pgbench: str | None = None
    # What the first answer must contain, checked before the load starts (fails loudly).
    expect_key: str = "data"


def activity_batch(records: int) -> str:
    """What an agent sends after a while at work: `records` spans of the last hour, ids with the %N% that the
    wrk driver replaces by the request's number."""
    start = int(time.time()) - 3600
    spans = [{"id": f"b%N%-{i}", "state": "ACTIVE" if i % 4 else "IDLE", "application": "Firefox",
              "window_title": "Quarterly report - Docs", "url": "https://docs.example.com/q3",
              "started_at": dt.datetime.fromtimestamp(start + 30 * i, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "ended_at": dt.datetime.fromtimestamp(start + 30 * i + 29, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
             for i in range(records)]
    return json.dumps({"records": spans}, separators=(",", ":"))


ACTIVITY_BATCH = activity_batch(100)

SCENARIOS = [
    # An agent whose policy is current: the common case, every 30 to 60 seconds per agent.
    Scenario("heartbeat", "POST", "/api/v1/agent/heartbeat", driver="agent", body='{"policy_version":1}',
             auth=None, pgbench="heartbeat.sql", expect_key="policy_version"),
    Scenario("alerts_unread_page", "GET", "/api/v1/alerts?unread=true", tenants=("small", "large"),
             pgbench="alerts_page.sql"),
    Scenario("billing_dashboard", "GET", "/api/v1/billing", tenants=("small", "large"), expect_key="usage"),
    Scenario("invoices_paid", "GET", "/api/v1/billing/invoices?status=PAID", tenants=("small", "large"),
             expect_key="summary"),
    # A batch of 100 spans (issue 12), with record ids fresh for every request: each batch is stored.
    Scenario("activity_ingest", "POST", "/api/v1/agent/activity", driver="agent", body=ACTIVITY_BATCH,
             auth=None, pgbench="activity_ingest.sql", expect_key='"stored":100'),
    Scenario("webhook_invoice_events", "POST", "/api/v1/stripe/webhook", driver="replay", auth=None,
             expect_key="outcome"),
]


# --------------------------------------------------------------------------------------------------------------
# The data set.


@dataclasses.dataclass(frozen=True)
class Sizes:
    companies: int  # including the two measured tenants
    agents_per_company: int
    employees_per_company: int
    alerts: dict  # per tenant kind: "small", "large", "other"
    invoices: dict
    duration_s: int
    warmup_s: int
    connections: int
    webhook_events: int


FULL = Sizes(companies=100, agents_per_company=100, employees_per_company=50,
             alerts={"small": 10_000, "large": 100_000, "other": 1_000},
             invoices={"small": 1_000, "large": 10_000, "other": 100},
             duration_s=10, warmup_s=2, connections=16, webhook_events=30_000)
SMOKE = Sizes(companies=4, agents_per_company=5, employees_per_company=3,
              alerts={"small": 10, "large": 100, "other": 5},
              invoices={"small": 3, "large": 30, "other": 2},
              duration_s=1, warmup_s=0, connections=2, webhook_events=300)

POLICY = ('{"screenshots_enabled":false,"screenshot_interval_secs":300,"website_tracking_enabled":false,'
          '"activity_tracking_enabled":true,"idle_threshold_secs":300,"offline_threshold_secs":600,'
          '"heartbeat_interval_secs":60}')
# A stand-in for background owners, who never sign in: not a hash any password matches.
NO_PASSWORD = "$argon2id$v=19$m=19456,t=2,p=1$YmVuY2hiZW5jaA$bm8tcGFzc3dvcmQtZm9yLWJlbmNoLXVzZXJz"


def uuid7(at: dt.datetime) -> str:
    """A UUIDv7 for `at`, as the API makes them (ids are time-ordered; the alert stream relies on it)."""
    ms = int(at.timestamp() * 1000)
    rand = random.getrandbits(74)
    value = (ms << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def ts(at: dt.datetime) -> str:
    """Timestamps as diesel writes them on SQLite (and as PostgreSQL reads them): UTC, no zone."""
    return at.strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclasses.dataclass
class Tenant:
    kind: str  # "small", "large" or "other"
    index: int
    company_id: str
    owner_id: str
    token: str | None = None


def dataset(sizes: Sizes, tenants: list[Tenant], now: dt.datetime) -> dict[str, tuple[list[str], list[tuple]]]:
    """Rows per table, respecting the schema and the app's rules: every company is on an ACTIVE PRO plan
    with a Stripe customer and subscription, and within its limits (100 agents, 50 employees); an agent's
    secret hash is the SHA-256 of a known secret; alerts are one row per recipient, resolved (so the partial
    unique index on open conditions holds), four in five read; invoices mostly PAID."""
    tables: dict[str, tuple[list[str], list[tuple]]] = {
        "companies": (["id", "name", "billing_email", "created_at", "updated_at", "stripe_customer_id"], []),
        "users": (["id", "company_id", "email", "name", "password_hash", "role", "created_at", "updated_at"], []),
        "subscriptions": (["id", "company_id", "tier_code", "status", "created_at", "updated_at",
                           "stripe_subscription_id", "stripe_item_id", "stripe_price_id", "current_period_start",
                           "current_period_end", "auto_renew", "stripe_updated_at"], []),
        "policies": (["company_id", "version", "settings", "updated_at"], []),
        "employees": (["id", "company_id", "email", "name", "department", "status", "created_at",
                       "updated_at"], []),
        "agents": (["id", "company_id", "employee_id", "hostname", "os", "agent_version", "secret_hash",
                    "enrolled_at", "last_seen_at", "offline_alerted"], []),
        "alerts": (["id", "company_id", "recipient_user_id", "alert_type", "severity", "title", "message",
                    "related_data", "dedup_key", "read_at", "resolved_at", "created_at"], []),
        "invoices": (["id", "company_id", "stripe_invoice_id", "stripe_subscription_id", "number", "status",
                      "amount_due", "amount_paid", "currency", "issued_at", "due_at", "paid_at",
                      "stripe_updated_at", "created_at", "updated_at"], []),
    }
    rows = {name: table[1] for name, table in tables.items()}
    start = now - dt.timedelta(days=400)
    agent_number = 0
    for tenant in tenants:
        c, company = tenant.index, tenant.company_id
        if tenant.kind == "other":
            rows["companies"].append((company, f"Company {c}", f"billing@c{c}.test", ts(start), ts(start),
                                      f"cus_bench_{c}"))
            rows["users"].append((tenant.owner_id, company, f"owner@c{c}.test", f"Owner {c}", NO_PASSWORD,
                                  "OWNER", ts(start), ts(start)))
            rows["subscriptions"].append((uuid7(start), company, "PRO", "ACTIVE", ts(start), ts(start),
                                          f"sub_bench_{c}", f"si_bench_{c}", "price_bench_pro",
                                          ts(now - dt.timedelta(days=10)), ts(now + dt.timedelta(days=20)),
                                          True, int(now.timestamp()) - 864000))
            rows["policies"].append((company, 1, POLICY, ts(start)))
        employees = []
        for e in range(sizes.employees_per_company):
            employees.append(uuid7(start))
            rows["employees"].append((employees[-1], company, f"e{e}@c{c}.test", f"Employee {e}", "Engineering",
                                      "ACTIVE", ts(start), ts(start)))
        agent_ids = []
        for a in range(sizes.agents_per_company):
            secret = AGENT_SECRET.format(agent_number)
            agent_number += 1
            agent_ids.append(uuid7(start))
            rows["agents"].append((agent_ids[-1], company, employees[a] if a < len(employees) else None,
                                   f"host-{c}-{a}", "Windows 11", "2.4.0",
                                   hashlib.sha256(secret.encode()).hexdigest(), ts(start), ts(now), False))
        count = sizes.alerts[tenant.kind]
        for i in range(count):
            at = now - dt.timedelta(minutes=2 * (count - i))
            agent = agent_ids[i % len(agent_ids)]
            host = f"host-{c}-{i % len(agent_ids)}"
            data = json.dumps({"agent_id": agent, "hostname": host, "last_seen_at": at.isoformat() + "Z"})
            rows["alerts"].append((uuid7(at), company, tenant.owner_id, "AGENT_OFFLINE", "warning",
                                   f"Agent {host} is offline", f"{host} has not been heard from since "
                                   f"{at:%Y-%m-%d %H:%M} UTC.", data, f"agent_offline:{agent}",
                                   None if i % 5 == 0 else ts(at + dt.timedelta(minutes=1)),
                                   ts(at + dt.timedelta(minutes=1)), ts(at)))
        count = sizes.invoices[tenant.kind]
        for i in range(count):
            at = now - dt.timedelta(hours=count - i)
            status = {0: "OPEN", 1: "VOID", 2: "UNCOLLECTIBLE"}.get(i % 20, "PAID")
            paid = 2900 if status == "PAID" else 0
            rows["invoices"].append((uuid7(at), company, f"in_seed_{c}_{i}", f"sub_bench_{c}", f"B{c}-{i:06d}",
                                     status, 2900, paid, "usd", ts(at), ts(at + dt.timedelta(days=30)),
                                     ts(at) if status == "PAID" else None, int(at.timestamp()), ts(at), ts(at)))
    return tables


def webhook_requests(sizes: Sizes, tenants: list[Tenant], path: Path, now: dt.datetime) -> None:
    """Signed Stripe events with fresh ids, as a billing run sends them: for each new invoice of a background
    company, invoice.created, invoice.finalized and invoice.paid. One `header<TAB>body` line per event."""
    others = [t for t in tenants if t.kind == "other"]
    run = secrets.token_hex(4)
    stamp = int(now.timestamp())
    with path.open("w") as out:
        for n in range(sizes.webhook_events):
            invoice, step = divmod(n, 3)
            tenant = others[invoice % len(others)]
            kind, status, paid = [("invoice.created", "draft", 0), ("invoice.finalized", "open", 0),
                                  ("invoice.paid", "paid", 2900)][step]
            body = json.dumps({
                "id": f"evt_bench_{run}_{n}", "object": "event", "type": kind, "api_version": "2024-06-20",
                "created": stamp, "livemode": False,
                "data": {"object": {
                    "id": f"in_bench_{run}_{invoice}", "object": "invoice", "customer": f"cus_bench_{tenant.index}",
                    "subscription": f"sub_bench_{tenant.index}", "number": f"BR-{run}-{invoice}", "status": status,
                    "amount_due": 2900, "amount_paid": paid, "currency": "usd", "created": stamp,
                    "due_date": stamp + 30 * 86400, "status_transitions": {"paid_at": stamp if paid else None},
                    "hosted_invoice_url": None, "invoice_pdf": None}},
            }, separators=(",", ":"))
            signature = hmac.new(WEBHOOK_SECRET.encode(), f"{stamp}.{body}".encode(), hashlib.sha256).hexdigest()
            out.write(f"t={stamp},v1={signature}\t{body}\n")


# --------------------------------------------------------------------------------------------------------------
# The two backends: create, load, query, drop.


class Postgres:
    name = "postgres"

    def __init__(self, admin_url: str):
        self.admin_url = admin_url
        self.db = f"vigil_bench_{secrets.token_hex(4)}"
        self.url = re.sub(r"/[^/]*$", f"/{self.db}", admin_url)

    def create(self) -> None:
        psql(self.admin_url, f'CREATE DATABASE "{self.db}"')

    def drop(self) -> None:
        psql(self.admin_url, f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')

    def execute(self, sql: str) -> str:
        return psql(self.url, sql)

    def load(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        """COPY through psql: the fastest way in, without a driver."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in rows:
            writer.writerow(["t" if v is True else "f" if v is False else "" if v is None else v for v in row])
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", self.url, "-c",
                        f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)"],
                       input=buffer.getvalue(), text=True, check=True, capture_output=True)

    def analyze(self) -> None:
        self.execute("VACUUM ANALYZE")


class Sqlite:
    name = "sqlite"

    def __init__(self, directory: Path):
        self.path = directory / "bench.db"
        self.url = f"sqlite://{self.path}"

    def create(self) -> None:
        pass  # `vigil migrate` creates the file

    def drop(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def execute(self, sql: str) -> str:
        with sqlite3.connect(self.path, timeout=30) as conn:
            return "\n".join("|".join(str(v) for v in row) for row in conn.execute(sql).fetchall())

    def load(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        with sqlite3.connect(self.path, timeout=30) as conn:
            conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                             rows)

    def analyze(self) -> None:
        self.execute("ANALYZE")


def psql(url: str, sql: str) -> str:
    done = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                          text=True, capture_output=True)
    if done.returncode != 0:
        sys.exit(f"psql failed: {done.stderr.strip()}\n  SQL: {sql[:300]}")
    return done.stdout.strip()


# --------------------------------------------------------------------------------------------------------------
# The server.


class Server:
    def __init__(self, binary: Path, database_url: str, workdir: Path):
        self.binary, self.workdir = binary, workdir
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url, "BIND": f"127.0.0.1:{self.port}", "DATA_DIR": str(workdir),
            "JWT_SECRET": JWT_SECRET, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            # Webhook requests are signed before the run starts.
            "STRIPE_WEBHOOK_TOLERANCE_SECS": "3600",
            "SIGNUPS_PER_ADDRESS_PER_HOUR": "1000",
            # The offline sweep would mark agents and raise alerts in the middle of a measurement.
            "ALERT_SWEEP_INTERVAL_SECS": "0",
            # One measured owner sends thousands of requests a second: the per-client limit (600 a minute by
            # default) would measure its 429s, so the limiter is off and its cost is not in these figures.
            "RATE_LIMIT_PER_MINUTE": "0",
            "RETENTION_SWEEP_INTERVAL_SECS": "0",
            # The access log of every request would measure the terminal; warnings and errors still show.
            "RUST_LOG": "warn",
        }
        self.process: subprocess.Popen | None = None
        self.log = workdir / "server.log"

    def migrate(self) -> None:
        done = subprocess.run([str(self.binary), "migrate"], env=self.env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"vigil migrate failed:\n{done.stderr}")

    def start(self) -> None:
        self.process = subprocess.Popen([str(self.binary), "serve"], env=self.env, stdout=self.log.open("w"),
                                        stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"vigil serve exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if call(self.base + "/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        sys.exit("vigil serve did not become ready within 30 s")

    def peak_memory_kb(self) -> int:
        """VmHWM: the most resident memory the server had at any time."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def call(url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def sign_up(server: Server, kind: str, index: int) -> Tenant:
    body = json.dumps({"company_name": f"Measured {kind}", "name": f"Owner {kind}",
                       "email": f"owner-{kind}@bench.test", "password": "correct horse battery staple"})
    status, answer = call(server.base + "/api/v1/auth/signup", "POST", body.encode(),
                          {"Content-Type": "application/json"})
    if status != 201:
        sys.exit(f"sign-up failed: {status} {answer[:500]!r}")
    session = json.loads(answer)
    return Tenant(kind, index, session["company"]["id"], session["user"]["id"], session["access_token"])


def seed(db, server: Server, sizes: Sizes, now: dt.datetime) -> list[Tenant]:
    """The measured tenants through the API, then everything else in bulk."""
    tenants = [sign_up(server, "small", 0), sign_up(server, "large", 1)]
    for tenant in tenants:
        # What the Stripe mirror would hold after a checkout: an ACTIVE PRO subscription and its customer.
        c = tenant.index
        db.execute(f"UPDATE companies SET stripe_customer_id = 'cus_bench_{c}' WHERE id = '{tenant.company_id}'")
        db.execute(f"UPDATE subscriptions SET tier_code = 'PRO', stripe_subscription_id = 'sub_bench_{c}', "
                   f"stripe_item_id = 'si_bench_{c}', stripe_price_id = 'price_bench_pro', "
                   f"current_period_start = '{ts(now - dt.timedelta(days=10))}', "
                   f"current_period_end = '{ts(now + dt.timedelta(days=20))}', "
                   f"stripe_updated_at = {int(now.timestamp()) - 864000} WHERE company_id = '{tenant.company_id}'")
    start = now - dt.timedelta(days=400)
    for c in range(2, sizes.companies):
        tenants.append(Tenant("other", c, uuid7(start), uuid7(start)))
    tables = dataset(sizes, tenants, now)
    for table in ["companies", "users", "subscriptions", "policies", "employees", "agents", "alerts", "invoices"]:
        columns, rows = tables[table]
        db.load(table, columns, rows)
    db.analyze()
    return tenants


# --------------------------------------------------------------------------------------------------------------
# Load.


@dataclasses.dataclass
class Figure:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def run_wrk(server: Server, scenario: Scenario, tenant: Tenant | None, sizes: Sizes, duration: int,
            requests_file: Path | None) -> Figure:
    # One wrk thread: the machine has two cores and the server needs them more than the load generator.
    command = ["wrk", "-t1", f"-c{sizes.connections}", f"-d{duration}s", "--timeout", "10s",
               "-s", str(BENCH / "wrk" / "scenario.lua")]
    if scenario.auth == "user":
        command += ["-H", f"Authorization: Bearer {tenant.token}"]
    if scenario.method != "GET" and scenario.driver == "static":
        command += ["-H", "Content-Type: application/json"]
    env = {**os.environ, "BENCH_DRIVER": scenario.driver, "BENCH_METHOD": scenario.method,
           "BENCH_BODY": scenario.body or "",
           "BENCH_AGENTS": str(sizes.companies * sizes.agents_per_company),
           # The replay driver's file holds Stripe-Signature values (see webhook_requests).
           "BENCH_HEADER": "Stripe-Signature", "BENCH_REQUESTS": str(requests_file or "")}
    done = subprocess.run(command + [server.base + scenario.path], env=env, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        sys.exit(f"wrk failed for {scenario.name}:\n{done.stdout}\n{done.stderr}")
    out = json.loads(lines[-1])
    seconds = out["duration_us"] / 1e6
    return Figure(out["requests"], round(out["requests"] / seconds, 1), round(out["p50_us"] / 1000, 2),
                  round(out["p99_us"] / 1000, 2), sum(out["errors"].values()))


def run_pgbench(db: Postgres, script: str, variables: dict, sizes: Sizes, duration: int, workdir: Path) -> Figure:
    """The same SQL straight to PostgreSQL, prepared (as diesel does), at the API's concurrency."""
    logs = workdir / f"pgbench-{script}-{secrets.token_hex(3)}"
    logs.mkdir()
    command = ["pgbench", "-n", "-M", "prepared", "-c", str(sizes.connections), "-j", "1", "-T", str(duration),
               "-f", str(BENCH / "pgbench" / script), "-l", "--log-prefix", str(logs / "tx")]
    for key, value in variables.items():
        command += ["-D", f"{key}={value}"]
    done = subprocess.run(command + [db.url], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"pgbench failed for {script}:\n{done.stdout}\n{done.stderr}")
    # Per-transaction log lines: client, transaction, latency in µs, script, epoch s, epoch µs.
    latencies = sorted(int(line.split()[2]) for log in logs.iterdir() for line in log.read_text().splitlines())
    failed = int(re.search(r"number of failed transactions: (\d+)", done.stdout).group(1)) \
        if "failed transactions" in done.stdout else 0
    tps = float(re.search(r"tps = ([\d.]+)", done.stdout).group(1))
    return Figure(len(latencies), round(tps, 1), round(percentile(latencies, 50) / 1000, 2),
                  round(percentile(latencies, 99) / 1000, 2), failed)


def percentile(values: list[int], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p / 100))] if values else 0.0


def check_once(server: Server, scenario: Scenario, tenant: Tenant | None, requests_file: Path | None) -> None:
    """One request before the load, so a broken scenario fails with its answer rather than as a count."""
    headers = {"Content-Type": "application/json"}
    body = None
    if scenario.auth == "user":
        headers["Authorization"] = f"Bearer {tenant.token}"
    if scenario.driver == "agent":
        headers["Authorization"] = f"Bearer {AGENT_SECRET.format(0)}"
        body = scenario.body.replace("%N%", "check").encode() if scenario.body else None
    if scenario.driver == "replay":
        # A throwaway event of the same shape: the prepared ones are each sent once, by wrk.
        header, payload = requests_file.open().readline().rstrip("\n").split("\t", 1)
        payload = payload.replace('"evt_bench_', '"evt_check_').replace('"in_bench_', '"in_check_')
        stamp = header.split(",")[0][2:]
        signature = hmac.new(WEBHOOK_SECRET.encode(), f"{stamp}.{payload}".encode(), hashlib.sha256).hexdigest()
        headers["Stripe-Signature"] = f"t={stamp},v1={signature}"
        body = payload.encode()
    status, answer = call(server.base + scenario.path, scenario.method, body, headers)
    if status != 200 or scenario.expect_key.encode() not in answer:
        sys.exit(f"scenario {scenario.name} answered {status}: {answer[:500]!r}")


def run_backend(db, binary: Path, sizes: Sizes, workdir: Path) -> dict:
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    server = Server(binary, db.url, workdir)
    db.create()
    try:
        server.migrate()
        server.start()
        started = time.time()
        tenants = seed(db, server, sizes, now)
        print(f"  seeded in {time.time() - started:.1f} s", flush=True)
        by_kind = {t.kind: t for t in tenants}
        requests_file = workdir / "webhooks.tsv"
        webhook_requests(sizes, tenants, requests_file, now)
        results = {}
        for scenario in SCENARIOS:
            for kind in scenario.tenants:
                tenant = by_kind[kind]
                label = scenario.name if len(scenario.tenants) == 1 else f"{scenario.name}@{kind}"
                check_once(server, scenario, tenant, requests_file)
                if sizes.warmup_s and scenario.driver != "replay":
                    run_wrk(server, scenario, tenant, sizes, sizes.warmup_s, None)
                figure = run_wrk(server, scenario, tenant, sizes, sizes.duration_s, requests_file)
                entry = {"api": figure.as_dict()}
                if scenario.pgbench and isinstance(db, Postgres):
                    variables = {"agents": sizes.companies * sizes.agents_per_company,
                                 "company": tenant.company_id, "user": tenant.owner_id}
                    ceiling = run_pgbench(db, scenario.pgbench, variables, sizes, sizes.duration_s, workdir)
                    entry["pgbench"] = ceiling.as_dict()
                    entry["ratio_of_ceiling"] = round(figure.rps / ceiling.rps, 3) if ceiling.rps else None
                results[label] = entry
                print(f"  {label:34} {line(entry)}", flush=True)
        memory = server.peak_memory_kb()
        # Every delivered event should have been applied (a duplicate is answered 200 and applies nothing).
        processed = db.execute("SELECT COUNT(*) FROM stripe_events WHERE event_id LIKE 'evt_bench_%' "
                               "AND outcome = 'processed'")
        print(f"  webhook events processed: {processed}; API peak memory {memory / 1024:.0f} MiB", flush=True)
        return {"scenarios": results, "peak_memory_kb": memory, "webhook_events_processed": int(processed or 0),
                "rows": {t: int(db.execute(f"SELECT COUNT(*) FROM {t}"))
                         for t in ("companies", "agents", "alerts", "invoices", "activity_records")}}
    finally:
        server.stop()
        db.drop()


def line(entry: dict) -> str:
    api = entry["api"]
    text = f"{api['rps']:>9.1f} rps  p50 {api['p50_ms']:>7.2f} ms  p99 {api['p99_ms']:>7.2f} ms  errors {api['errors']}"
    if "pgbench" in entry:
        text += f"  | pgbench {entry['pgbench']['rps']:.1f} tps, API/pgbench {entry['ratio_of_ceiling']}"
    return text


# --------------------------------------------------------------------------------------------------------------
# The report.


def scaling(results: dict) -> dict:
    """Large tenant over small one, per read path (rps and p50): near 1 when the queries use their indexes."""
    out = {}
    for backend, result in results.items():
        for scenario in SCENARIOS:
            if len(scenario.tenants) < 2:
                continue
            small = result["scenarios"][f"{scenario.name}@small"]["api"]
            large = result["scenarios"][f"{scenario.name}@large"]["api"]
            out.setdefault(backend, {})[scenario.name] = {
                "rps_large_over_small": round(large["rps"] / small["rps"], 3) if small["rps"] else None,
                "p50_large_over_small": round(large["p50_ms"] / small["p50_ms"], 2) if small["p50_ms"] else None,
            }
    return out


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "api", "migrations"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "git_commit": commit + ("+dirty" if dirty else "")}


def markdown(report: dict) -> str:
    m, s = report["machine"], report["settings"]
    out = [f"Run {m['date']} at commit `{m['git_commit']}` on {m['cores']} × {m['cpu']} (Linux {m['kernel']}); "
           f"{s['connections']} connections, {s['duration_s']} s per scenario, wrk and pgbench on the same machine.",
           "", "| Scenario | Backend | rps | p50 ms | p99 ms | errors | pgbench tps | API / pgbench |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
    for backend, result in report["results"].items():
        for label, entry in result["scenarios"].items():
            api, ceiling = entry["api"], entry.get("pgbench")
            out.append(f"| {label} | {backend} | {api['rps']:.0f} | {api['p50_ms']} | {api['p99_ms']} | "
                       f"{api['errors']} | {ceiling['rps']:.0f} | {entry['ratio_of_ceiling']} |" if ceiling else
                       f"| {label} | {backend} | {api['rps']:.0f} | {api['p50_ms']} | {api['p99_ms']} | "
                       f"{api['errors']} | | |")
    out += ["", "Read paths, large tenant (10× the rows) over small tenant:", "",
            "| Read path | Backend | rps large/small | p50 large/small |", "|---|---|---:|---:|"]
    for backend, paths in report["scaling"].items():
        for name, ratio in paths.items():
            out.append(f"| {name} | {backend} | {ratio['rps_large_over_small']} | {ratio['p50_large_over_small']} |")
    out += ["", "API peak memory (VmHWM): " + ", ".join(
        f"{backend} {result['peak_memory_kb'] / 1024:.0f} MiB" for backend, result in report["results"].items())
        + ". Rows: " + "; ".join(f"{backend} " + ", ".join(f"{n} {t}" for t, n in result["rows"].items())
                                 for backend, result in report["results"].items()) + "."]
    return "\n".join(out)


def refresh_benchmarks_md(table: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text()
    start, end = "<!-- bench:results:start -->", "<!-- bench:results:end -->"
    if start not in text or end not in text:
        sys.exit(f"{path} lacks the {start} … {end} markers")
    head, rest = text.split(start, 1)
    path.write_text(f"{head}{start}\n{table}\n{end}{rest.split(end, 1)[1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", type=Path, required=True, help="the vigil binary to measure")
    parser.add_argument("--smoke", action="store_true", help="tiny data, 1 s per scenario, no report files")
    parser.add_argument("--postgres-url", default=os.environ.get("TEST_DATABASE_URL",
                                                                 "postgres://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--skip-postgres", action="store_true", default=os.environ.get("VIGIL_SKIP_POSTGRES") == "1")
    args = parser.parse_args()
    sizes = SMOKE if args.smoke else FULL
    started = time.time()
    results = {}
    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as tmp:
        backends = [] if args.skip_postgres else [Postgres(args.postgres_url)]
        backends.append(Sqlite(Path(tmp)))
        for db in backends:
            print(f"{db.name}:", flush=True)
            workdir = Path(tmp) / db.name
            workdir.mkdir()
            results[db.name] = run_backend(db, args.binary.resolve(), sizes, workdir)
    failures = [f"{backend} {label}: {entry['api']['errors']} errors, {entry['api']['requests']} requests"
                for backend, result in results.items() for label, entry in result["scenarios"].items()
                if entry["api"]["errors"] or not entry["api"]["requests"]]
    failures += [f"{backend}: no webhook event was processed" for backend, result in results.items()
                 if not result["webhook_events_processed"]]
    report = {"machine": machine(), "settings": {k: v for k, v in dataclasses.asdict(sizes).items()},
              "results": results, "scaling": scaling(results), "elapsed_s": round(time.time() - started)}
    table = markdown(report)
    print("\n" + table + f"\n\nFinished in {report['elapsed_s']} s.")
    if failures:
        sys.exit("Scenarios with errors:\n  " + "\n  ".join(failures))
    if not args.smoke:
        (BENCH / "results").mkdir(exist_ok=True)
        (BENCH / "results" / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
        refresh_benchmarks_md(table)


if __name__ == "__main__":
    main()
