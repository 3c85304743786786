// The real product for the e2e run: localstripe behind the Stripe double, and the API binary on a fresh
// SQLite database serving the built SPA from web/dist.
import { spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PRICE_ENTERPRISE, PRICE_PRO, SECRET_KEY, WEBHOOK_SECRET } from "./stripe.mjs";
import { startStripeDouble } from "./stripe-double.mjs";

const here = dirname(fileURLToPath(import.meta.url));
export const WEB = resolve(here, "../..");
export const ROOT = resolve(WEB, "..");
export const ARTIFACTS = join(WEB, "e2e", "artifacts");

export function freePort() {
  return new Promise((done, fail) => {
    const server = net.createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

async function waitFor(what, check, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${what} did not come up within ${timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function start(name, command, args, env) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const log = createWriteStream(join(ARTIFACTS, `${name}.log`));
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  child.on("exit", (code, signal) => {
    if (code !== 0 && signal === null)
      console.error(`${name} exited with ${code}; see e2e/artifacts/${name}.log`);
  });
  return child;
}

function stop(child) {
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(timer);
      done();
    });
    child.kill("SIGTERM");
  });
}

export async function startStack() {
  const python = process.env.VIGIL_TOOLS_PYTHON ?? join(ROOT, "tools/.venv/bin/python");
  const binary = process.env.VIGIL_BIN ?? join(ROOT, "target/debug/vigil");
  const dist = join(WEB, "dist");
  for (const [path, hint] of [
    [python, "run `make tools` to install localstripe"],
    [binary, "run `cargo build --bin vigil`"],
    [join(dist, "index.html"), "run `npm run build`"],
  ]) {
    if (!existsSync(path)) throw new Error(`${path} is missing: ${hint} (make web-test does all of this)`);
  }

  const stripePort = await freePort();
  const localstripe = start("localstripe", python, [
    join(ROOT, "tools/localstripe_launcher.py"),
    "--port",
    String(stripePort),
    "--plans",
    `${PRICE_PRO}:2900,${PRICE_ENTERPRISE}:9900`,
  ]);
  const localstripeBase = `http://127.0.0.1:${stripePort}`;
  await waitFor(
    "localstripe",
    async () =>
      (
        await fetch(`${localstripeBase}/v1/plans`, {
          headers: { authorization: `Bearer ${SECRET_KEY}`, connection: "close" },
        })
      ).ok,
  );
  const double = await startStripeDouble(localstripeBase);

  const dataDir = mkdtempSync(join(tmpdir(), "vigil-e2e-"));
  const apiPort = await freePort();
  const base = `http://127.0.0.1:${apiPort}`;
  const api = start("api", binary, ["serve"], {
    VIGIL_ENV: "development",
    BIND: `127.0.0.1:${apiPort}`,
    PUBLIC_URL: base,
    DATA_DIR: dataDir,
    DATABASE_URL: `sqlite://${join(dataDir, "vigil.db")}`,
    WEB_DIR: dist,
    STRIPE_SECRET_KEY: SECRET_KEY,
    STRIPE_PUBLISHABLE_KEY: "pk_test_vigil_e2e",
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    STRIPE_PRICE_PRO: PRICE_PRO,
    STRIPE_PRICE_ENTERPRISE: PRICE_ENTERPRISE,
    STRIPE_API_BASE: double.base,
    // The webhook receiver of the browser test listens on loopback over http.
    WEBHOOKS_ALLOW_HTTP: "1",
    WEBHOOKS_ALLOW_PRIVATE: "1",
    OUTBOX_POLL_MS: "200",
    SIGNUPS_PER_ADDRESS_PER_HOUR: "1000",
    WORKERS: "2",
    RUST_LOG: "info",
  });
  await waitFor("the API", async () => (await fetch(`${base}/readyz`)).ok);

  return {
    base,
    localstripeBase,
    double,
    async stop() {
      await stop(api);
      await double.close();
      await stop(localstripe);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A webhook receiver (tools/webhook_receiver.py) on `port` that verifies deliveries signed with `secret`
 * using PyPI's standardwebhooks, and logs what it got. */
export async function startWebhookReceiver(port, secret) {
  const python = process.env.VIGIL_TOOLS_PYTHON ?? join(ROOT, "tools/.venv/bin/python");
  const folder = mkdtempSync(join(tmpdir(), "vigil-e2e-hooks-"));
  const log = join(folder, "deliveries.jsonl");
  const receiver = start("webhook-receiver", python, [
    join(ROOT, "tools/webhook_receiver.py"),
    "--port",
    String(port),
    "--secret",
    secret,
    "--log",
    log,
  ]);
  await waitFor(
    "the webhook receiver",
    () =>
      new Promise((done) => {
        const socket = net.connect(port, "127.0.0.1", () => {
          socket.end();
          done(true);
        });
        socket.on("error", () => done(false));
      }),
  );
  return {
    deliveries() {
      if (!existsSync(log)) return [];
      return readFileSync(log, "utf8")
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => JSON.parse(line));
    },
    async stop() {
      await stop(receiver);
      rmSync(folder, { recursive: true, force: true });
    },
  };
}
