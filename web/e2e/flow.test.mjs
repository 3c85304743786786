// The product end to end in a real browser: the SPA served by the real API on a fresh SQLite database, with
// Stripe played by localstripe behind a small double. One story, step by step, as an admin lives it.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { launchBrowser } from "./support/browser.mjs";
import { ARTIFACTS, freePort, startStack, startWebhookReceiver } from "./support/stack.mjs";
import { deliver, event, invoice, payAtCheckout, stripeCall } from "./support/stripe.mjs";

const OWNER = {
  company: "Acme Monitoring",
  name: "Ada Lovelace",
  email: `ada+${Date.now()}@acme.test`,
  password: "correct horse battery staple",
};

let stack;
let browser;
let page;
const problems = [];
const shots = join(ARTIFACTS, "screenshots");

async function screenshot(name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** Waits until the text is visible on the page. */
async function see(text, scope = page) {
  await scope.getByText(text, { exact: false }).first().waitFor({ state: "visible" });
}

let broken = null;

/** One step of the story: after a failed step the rest fail at once (saying why), with a screenshot. */
function step(name, body) {
  it(name, async () => {
    if (broken) throw new Error(`not run: the step "${broken}" failed`);
    try {
      await body();
    } catch (error) {
      broken = name;
      if (problems.length > 0) console.error(`browser errors:\n${problems.join("\n")}`);
      await screenshot(`failed-${name.replace(/[^a-z]+/gi, "-").slice(0, 60)}`).catch(() => {});
      throw error;
    }
  });
}

async function badgeCount() {
  const badge = page.getByTestId("unread-badge");
  if ((await badge.count()) === 0) return 0;
  return Number(await badge.textContent());
}

describe("Vigil in the browser", { concurrency: false }, () => {
  before(async () => {
    mkdirSync(shots, { recursive: true });
    stack = await startStack();
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(message.text());
    });
    page.on("pageerror", (error) => problems.push(String(error)));
  });

  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  step("sends a visitor to sign in, and after signing up back to the page asked for", async () => {
    const response = await page.goto(`${stack.base}/billing`);
    // The app works under the API's Content-Security-Policy (checked for violations at the end).
    assert.match(response.headers()["content-security-policy"] ?? "", /script-src 'self'/);
    await page.waitForURL(/\/login\?next=%2Fbilling$/);
    await screenshot("login");
    await page.getByRole("link", { name: "Create a company account" }).click();
    await page.waitForURL(/\/signup/);
    await page.getByLabel("Company name").fill(OWNER.company);
    await page.getByLabel("Your name").fill(OWNER.name);
    await page.getByLabel("Work email").fill(OWNER.email);
    await page.getByRole("textbox", { name: "Password" }).fill("short");
    await page.getByRole("button", { name: "Create account" }).click();
    // The API's field message appears under the password field.
    await see("must be between 10 and 256 characters long");
    await screenshot("signup-field-error");
    await page.getByRole("textbox", { name: "Password" }).fill(OWNER.password);
    await page.getByRole("button", { name: "Create account" }).click();
    await page.waitForURL(`${stack.base}/billing`);
    await see("Current plan");
    assert.equal(await page.getByTestId("plan-name").innerText(), "Free");
  });

  step("adds employees until the plan limit, which shows with a link to upgrade", async () => {
    const tiers = await (await fetch(`${stack.base}/api/v1/tiers`)).json();
    const free = tiers.find((tier) => tier.code === "FREE");
    assert.ok(free.max_employees > 0, "the Free tier has an employee limit");
    await page.getByRole("link", { name: "Employees" }).click();
    await page.waitForURL(/\/employees$/);
    await see("No employees yet");
    for (let n = 1; n <= free.max_employees + 1; n++) {
      await page.getByRole("button", { name: "Add employee" }).first().click();
      const dialog = page.getByRole("dialog");
      await dialog.getByLabel("Name").fill(`Employee ${n}`);
      await dialog.getByLabel("Email").fill(`employee${n}@acme.test`);
      await dialog.getByRole("button", { name: "Add employee" }).click();
      if (n <= free.max_employees) {
        await dialog.waitFor({ state: "hidden" });
        await see(`Employee ${n}`);
      }
    }
    const dialog = page.getByRole("dialog");
    const problem = dialog.getByRole("alert");
    await problem.waitFor();
    const text = await problem.innerText();
    assert.match(text, new RegExp(`${free.max_employees} of ${free.max_employees} on the FREE plan`));
    const upgrade = problem.getByRole("link", { name: /Upgrade to Pro/ });
    assert.equal(await upgrade.getAttribute("href"), "/billing/upgrade");
    await screenshot("employees-plan-limit");
    await upgrade.click();
    await page.waitForURL(/\/billing\/upgrade$/);
  });

  step("chooses Pro and lands on Stripe Checkout", async () => {
    await see("Compare the plans");
    await screenshot("upgrade");
    await page.getByRole("button", { name: "Choose Pro" }).click();
    await page.waitForURL(new RegExp(`^${stack.double.base}/checkout/cs_test_`));
    await see("Test checkout");
    const session = stack.double.checkoutSessions.at(-1);
    assert.equal(session.price, "price_pro_test");
    assert.equal(session.success_url, `${stack.base}/billing/success?session_id={CHECKOUT_SESSION_ID}`);
    assert.equal(session.cancel_url, `${stack.base}/billing/upgrade?checkout=cancelled`);
    await screenshot("stripe-checkout-double");
  });

  step("shows Pro on the success page and the dashboard once Stripe's webhooks arrive", async () => {
    const session = stack.double.checkoutSessions.at(-1);
    const subscription = await payAtCheckout(stack.localstripeBase, session);
    // Back from Checkout before the webhooks: the page waits for them.
    await page.getByRole("link", { name: "Pay and subscribe" }).click();
    await page.waitForURL(new RegExp(`/billing/success\\?session_id=${session.id}$`));
    await see("Confirming your payment with Stripe");
    const completed = {
      ...session,
      status: "complete",
      payment_status: "paid",
      subscription: subscription.id,
    };
    assert.equal((await deliver(stack.base, event("checkout.session.completed", completed))).received, true);
    assert.equal(
      (await deliver(stack.base, event("customer.subscription.created", subscription))).received,
      true,
    );
    await see("Your plan is active");
    assert.equal(await page.getByTestId("plan-name").innerText(), "Pro");
    await screenshot("billing-success");
    await page.getByRole("link", { name: "Go to billing" }).click();
    await page.waitForURL(`${stack.base}/billing`);
    await see("Renews on");
    assert.equal(await page.getByTestId("plan-name").innerText(), "Pro");
    assert.equal(await page.getByTestId("subscription-status").textContent(), "Active");
    stack.subscription = subscription;
  });

  step(
    "shows a failed payment live as a PAYMENT_FAILED alert, and marking it read drops the badge",
    async () => {
      const subscription = stack.subscription;
      const paid = invoice(subscription, { status: "paid", amountPaid: 2900, number: "ACME-0001" });
      await deliver(stack.base, event("invoice.paid", paid));

      await page.getByRole("link", { name: "Alerts" }).click();
      await page.waitForURL(`${stack.base}/alerts`);
      await page.getByRole("status", { name: "Live alerts on" }).waitFor();
      await page.evaluate(() => {
        window.__sameDocument = true;
      });
      const before = await badgeCount();
      const rowsBefore = await page.getByTestId("alert-row").filter({ hasText: "Payment failed" }).count();

      const failed = invoice(subscription, { status: "open", amountPaid: 0, number: "ACME-0002" });
      await deliver(stack.base, event("invoice.payment_failed", failed));

      const row = page.getByTestId("alert-row").filter({ hasText: "Payment failed" });
      await row.nth(rowsBefore).waitFor();
      await page.waitForFunction(
        (expected) =>
          Number(document.querySelector('[data-testid="unread-badge"]')?.textContent ?? 0) === expected,
        before + 1,
      );
      assert.equal(await page.evaluate(() => window.__sameDocument), true, "the page was not reloaded");
      await screenshot("alerts-payment-failed-live");

      await row.first().getByRole("button", { name: "Mark as read" }).click();
      await page.waitForFunction(
        (expected) =>
          Number(document.querySelector('[data-testid="unread-badge"]')?.textContent ?? 0) === expected,
        before,
      );
      assert.equal(await badgeCount(), before);
      // The billing page now shows the company past due, with the grace period.
      await page.getByRole("link", { name: "Billing", exact: true }).click();
      await see("Payment overdue");
    },
  );

  step(
    "enrolls an agent with a token made on the Agents page, and shows it online with the day's activity",
    async () => {
      await page.goto(`${stack.base}/agents`);
      await see("No agents yet");
      await page.getByRole("button", { name: "New token" }).click();
      const dialog = page.getByRole("dialog");
      await dialog.getByRole("button", { name: "Create token" }).click();
      const token = (await dialog.getByTestId("secret").textContent())?.trim();
      assert.match(token ?? "", /^vigil_enr_/);
      await screenshot("agents-enrollment-token");
      await dialog.getByRole("button", { name: "Done" }).click();

      // What the desktop agent does with the token.
      const enrolled = await fetch(`${stack.base}/api/v1/agent/enroll`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          enrollment_token: token,
          hostname: "ada-laptop",
          os: "Debian 12",
          agent_version: "2.4.0",
          employee_email: "employee1@acme.test",
        }),
      });
      assert.equal(enrolled.status, 201);
      const { agent_secret: secret } = await enrolled.json();
      const midnight = new Date();
      midnight.setHours(0, 1, 0, 0);
      const start = Math.max(midnight.getTime(), Date.now() - 30 * 60_000);
      const at = (minutes) => new Date(Math.min(start + minutes * 60_000, Date.now())).toISOString();
      const upload = await fetch(`${stack.base}/api/v1/agent/activity`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
        body: JSON.stringify({
          records: [
            {
              id: "r1",
              state: "ACTIVE",
              application: "Visual Studio Code",
              window_title: "main.rs",
              started_at: at(0),
              ended_at: at(15),
            },
            {
              id: "r2",
              state: "IDLE",
              application: "Visual Studio Code",
              started_at: at(15),
              ended_at: at(20),
            },
          ],
        }),
      });
      assert.equal(upload.status, 200, await upload.text());

      await page.reload();
      const row = page.getByRole("row").filter({ hasText: "ada-laptop" });
      await row.waitFor();
      assert.match(await row.innerText(), /Online/i);
      await page.goto(`${stack.base}/employees`);
      await page.getByRole("link", { name: "Employee 1", exact: true }).click();
      await see("ada-laptop");
      await page.getByRole("table", { name: "Activity spans" }).getByText("main.rs").waitFor();
      await screenshot("employee-activity");
    },
  );

  step("creates a webhook endpoint, sees its secret once, and watches a test event arrive", async () => {
    const receiverPort = await freePort();
    const url = `http://127.0.0.1:${receiverPort}/hooks/vigil`;
    await page.goto(`${stack.base}/webhooks`);
    await page.getByRole("button", { name: "Add endpoint" }).first().click();
    const dialog = page.getByRole("dialog", { name: "Add a webhook endpoint" });
    await dialog.getByLabel("URL").fill(url);
    await dialog.getByLabel("Description").fill("Payroll sync");
    await dialog.getByRole("button", { name: "Create endpoint" }).click();
    const secret = (await page.getByTestId("secret").innerText()).trim();
    assert.match(secret, /^whsec_/);
    await screenshot("webhook-secret");
    // The receiver verifies every delivery with PyPI's standardwebhooks, using the secret the page showed.
    const receiver = await startWebhookReceiver(receiverPort, secret);
    try {
      await page.getByRole("button", { name: "Done" }).click();
      await page.getByTestId("webhook-endpoint-url").waitFor();
      assert.equal(await page.getByTestId("webhook-endpoint-url").innerText(), url);
      await page.locator("#webhook-send-test").click();
      const row = page.locator('[data-testid="webhook-attempt-row"][data-status-code="200"]');
      await row.first().waitFor({ state: "visible", timeout: 30_000 });
      assert.equal(await row.first().getAttribute("data-succeeded"), "true");
      await screenshot("webhook-attempt");
      const deliveries = receiver.deliveries();
      const ping = deliveries.find((delivery) => delivery.type === "ping");
      assert.ok(ping, `the receiver got the ping: ${JSON.stringify(deliveries)}`);
      assert.equal(ping.verified, true, "and its signature verified");
      assert.equal(ping.webhook_id, await row.first().getAttribute("data-event-id"));
    } finally {
      await receiver.stop();
    }
  });

  step("opens every page, filled and without errors, and saves a screenshot of each", async () => {
    const employees = await page.evaluate(async () => {
      const response = await fetch("/api/v1/employees?per_page=1");
      return response.status;
    });
    // Without the in-memory token a plain fetch is refused: the token is not in cookies or storage.
    assert.equal(employees, 401);
    const pages = [
      ["dashboard", "/", "Latest alerts"],
      ["alerts", "/alerts", "Alert types"],
      ["employees", "/employees", "Employee 1"],
      ["agents", "/agents", "ada-laptop"],
      ["policy", "/policy", "Save policy"],
      ["billing", "/billing", "Recent invoices"],
      ["upgrade", "/billing/upgrade", "Frequently asked questions"],
      ["upgrade-cancelled", "/billing/upgrade?checkout=cancelled", "Checkout cancelled"],
      ["payment-history", "/billing/payment-history", "ACME-0002"],
      ["billing-settings", "/billing/settings", "Danger zone"],
      ["users", "/users", OWNER.email],
      ["api-keys", "/api-keys", "No API keys yet"],
      ["audit-log", "/audit-log", "company.signed_up"],
      ["not-found", "/no-such-page", "Page not found"],
    ];
    for (const [name, path, text] of pages) {
      await page.goto(`${stack.base}${path}`);
      await see(text);
      await screenshot(name);
    }
    await page.goto(`${stack.base}/employees`);
    await page.getByRole("link", { name: "Employee 1", exact: true }).click();
    await see("Top applications");
    await screenshot("employee-detail");
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${stack.base}/billing`);
    await see("Recent invoices");
    await screenshot("billing-phone");
    await page.setViewportSize({ width: 1280, height: 860 });
    assert.deepEqual(
      problems.filter((text) => /Content.Security.Policy|Refused to/i.test(text)),
      [],
      "no Content-Security-Policy violations",
    );
  });

  step(
    "lists invoices by status, visits the billing portal and back, and cancels at period end",
    async () => {
      await page.goto(`${stack.base}/billing/payment-history`);
      await see("ACME-0001");
      await page.getByRole("radiogroup", { name: "Filter by status" }).getByText("Open").click();
      await page.getByText("ACME-0001").waitFor({ state: "detached" });
      await see("ACME-0002");
      await page.goto(`${stack.base}/billing/settings`);
      await page.getByRole("button", { name: "Manage payment method" }).click();
      await page.waitForURL(new RegExp(`^${stack.double.base}/portal/bps_test_`));
      assert.equal(stack.double.portalSessions.at(-1).return_url, `${stack.base}/billing/settings`);
      await page.getByRole("link", { name: "Return" }).click();
      await page.waitForURL(`${stack.base}/billing/settings`);
      await page.getByRole("button", { name: "Cancel subscription" }).click();
      await page.getByRole("dialog").getByRole("button", { name: "Yes, cancel" }).click();
      await see("Your subscription is set to end on");
      await screenshot("billing-settings-cancelled");
      const subscription = await stripeCall(
        stack.localstripeBase,
        "GET",
        `/subscriptions/${stack.subscription.id}`,
      );
      assert.equal(subscription.cancel_at_period_end, true);
    },
  );

  step("signs out, and signing in again returns to the page asked for", async () => {
    await page.getByRole("button", { name: "Account menu" }).click();
    await page.getByRole("menuitem", { name: "Sign out" }).click();
    await page.waitForURL(/\/login/);
    await page.goto(`${stack.base}/alerts`);
    await page.waitForURL(/\/login\?next=%2Falerts$/);
    await page.getByLabel("Email").fill(OWNER.email);
    await page.getByRole("textbox", { name: "Password" }).fill("wrong password here");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").waitFor();
    await page.getByRole("textbox", { name: "Password" }).fill(OWNER.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${stack.base}/alerts`);
    await see("Alert types");
  });
});
