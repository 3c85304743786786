import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { setSession } from "../api/session";
import { redirect } from "../billing/UpgradePage";
import type { Subscription } from "../api/types";
import { formatDate } from "../lib/format";
import { alert, billing, invoiceNumbered, session, tiers } from "./fixtures";
import { renderApp } from "./render";
import { FakeEventSource, json, problem, stubApi } from "./server";

const signedIn = {
  "POST /api/v1/auth/refresh": () => json(session),
  "POST /api/v1/alerts/stream-tickets": () => ({ ticket: "t", expires_in: 30 }),
};

beforeEach(() => {
  setSession(null);
  FakeEventSource.instances = [];
  vi.stubGlobal("EventSource", FakeEventSource);
});

describe("the app", () => {
  it("sends a signed-out visitor to sign in and back to the page asked for", async () => {
    let signed = false;
    stubApi({
      ...signedIn,
      "POST /api/v1/auth/refresh": () => (signed ? json(session) : problem(401, "unauthenticated")),
      "POST /api/v1/auth/login": async (request) => {
        const body = (await request.json()) as { password: string };
        if (body.password !== "correct horse battery") return problem(401, "invalid_credentials");
        signed = true;
        return json(session);
      },
      "GET /api/v1/alerts/unread-count": () => ({ unread: 0 }),
      "GET /api/v1/billing": () => billing(),
      "GET /api/v1/billing/invoices": () => ({
        data: [],
        page: 1,
        per_page: 10,
        total: 0,
        summary: { total: 0, paid: 0, outstanding: 0, currency: "usd" },
      }),
    });
    const user = userEvent.setup();
    renderApp("/billing/payment-history");
    await user.type(await screen.findByLabelText(/Email/), "ada@acme.test");
    await user.type(screen.getByLabelText(/^Password/, { selector: "input" }), "wrong password!");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("detail of invalid_credentials");
    await user.clear(screen.getByLabelText(/^Password/, { selector: "input" }));
    await user.type(screen.getByLabelText(/^Password/, { selector: "input" }), "correct horse battery");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("heading", { name: "Payment history" })).toBeInTheDocument();
    expect(await screen.findByText("No invoices yet.")).toBeInTheDocument();
  });

  it("sends the user to sign in when the session ends mid-use, and back afterwards", async () => {
    let sessionValid = true;
    stubApi({
      ...signedIn,
      "POST /api/v1/auth/refresh": () => (sessionValid ? json(session) : problem(401, "unauthenticated")),
      "POST /api/v1/auth/login": () => {
        sessionValid = true;
        return json(session);
      },
      "GET /api/v1/alerts/unread-count": () => ({ unread: 0 }),
      "GET /api/v1/alerts": (request) =>
        sessionValid && request.headers.get("authorization") === "Bearer token-1"
          ? { data: [], page: 1, per_page: 20, total: 0 }
          : problem(401, "unauthenticated"),
      "POST /api/v1/alerts/read-all": () => problem(401, "unauthenticated"),
    });
    const user = userEvent.setup();
    renderApp("/alerts");
    expect(await screen.findByText("No alerts. All is quiet.")).toBeInTheDocument();
    sessionValid = false;
    await user.click(screen.getByRole("button", { name: "Mark all as read" }));
    expect(await screen.findByText(/Your session has ended/)).toBeInTheDocument();
    await user.type(screen.getByLabelText(/Email/), "ada@acme.test");
    await user.type(screen.getByLabelText(/^Password/, { selector: "input" }), "correct horse battery");
    await user.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("heading", { name: "Alerts" })).toBeInTheDocument();
    expect(await screen.findByText("No alerts. All is quiet.")).toBeInTheDocument();
  });

  it("updates the unread badge in the navigation when an alert arrives on the stream", async () => {
    let unread = 2;
    stubApi({
      ...signedIn,
      "GET /api/v1/alerts/unread-count": () => ({ unread }),
      "GET /api/v1/billing": () => billing(),
      "GET /api/v1/alerts": () => ({ data: [], page: 1, per_page: 5, total: 0 }),
    });
    renderApp("/");
    const nav = await screen.findByRole("navigation", { name: "Main navigation" });
    expect(await within(nav).findByLabelText("2 unread alerts")).toBeInTheDocument();
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    FakeEventSource.instances[0]?.open();
    unread = 3;
    FakeEventSource.instances[0]?.emit("alert", alert(), "a1");
    expect(await within(nav).findByLabelText("3 unread alerts")).toBeInTheDocument();
    // The alert also shows as a notification.
    expect(await screen.findAllByText("A payment failed")).not.toHaveLength(0);
  });

  it("pages the payment history 10 at a time with a status filter and summary cards", async () => {
    const all = Array.from({ length: 23 }, (_, i) => invoiceNumbered(i + 1, i % 5 === 0 ? "OPEN" : "PAID"));
    const requests = stubApi({
      ...signedIn,
      "GET /api/v1/alerts/unread-count": () => ({ unread: 0 }),
      "GET /api/v1/billing/invoices": (_, url) => {
        const status = url.searchParams.get("status");
        const page = Number(url.searchParams.get("page"));
        const matching = all.filter((invoice) => !status || invoice.status === status);
        return {
          data: matching.slice((page - 1) * 10, page * 10),
          page,
          per_page: 10,
          total: matching.length,
          summary: { total: 66700, paid: 52200, outstanding: 14500, currency: "usd" },
        };
      },
    });
    const user = userEvent.setup();
    renderApp("/billing/payment-history");
    expect(await screen.findByText("1–10 of 23 invoices")).toBeInTheDocument();
    expect(screen.getByText("$667.00")).toBeInTheDocument();
    expect(screen.getByText("$145.00")).toBeInTheDocument();
    expect(screen.getByText("ACME-0001")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Page 3" }));
    expect(await screen.findByText("21–23 of 23 invoices")).toBeInTheDocument();
    expect(screen.getByText("ACME-0021")).toBeInTheDocument();
    expect(screen.queryByText("ACME-0001")).not.toBeInTheDocument();
    await user.click(screen.getByRole("radio", { name: "Open" }));
    expect(await screen.findByText("1–5 of 5 invoices")).toBeInTheDocument();
    const last = requests.filter((r) => r.url.pathname === "/api/v1/billing/invoices").at(-1);
    expect(last?.url.searchParams.get("status")).toBe("OPEN");
    expect(last?.url.searchParams.get("page")).toBe("1");
    const row = screen.getByText("ACME-0006").closest("tr");
    expect(row).not.toBeNull();
    expect(within(row as HTMLElement).getByText("Open")).toBeInTheDocument();
    expect(within(row as HTMLElement).getByRole("link", { name: "Pay" })).toHaveAttribute(
      "href",
      "https://invoice.stripe.test/6",
    );
    expect(within(row as HTMLElement).getByRole("link", { name: "PDF" })).toHaveAttribute(
      "href",
      "https://invoice.stripe.test/6.pdf",
    );
  });

  it("shows field errors next to their fields and a plan limit with the upgrade link when adding an employee", async () => {
    let attempt = 0;
    stubApi({
      ...signedIn,
      "GET /api/v1/alerts/unread-count": () => ({ unread: 0 }),
      "GET /api/v1/employees": () => ({ data: [], page: 1, per_page: 20, total: 0 }),
      "POST /api/v1/employees": () =>
        ++attempt === 1
          ? problem(422, "validation_failed", { errors: { email: ["must be a valid email address"] } })
          : problem(403, "plan_limit_reached", {
              plan_limit: {
                limit: "max_employees",
                max: 5,
                current_usage: 5,
                tier: "FREE",
                upgrade_tier: "PRO",
              },
            }),
    });
    const user = userEvent.setup();
    renderApp("/employees");
    await user.click(await screen.findByRole("button", { name: "Add employee" }));
    const dialog = await screen.findByRole("dialog");
    await user.type(within(dialog).getByLabelText(/Name/), "Grace Hopper");
    await user.type(within(dialog).getByLabelText(/Email/), "grace");
    await user.click(within(dialog).getByRole("button", { name: "Add employee" }));
    const email = within(dialog).getByLabelText(/Email/);
    await waitFor(() => expect(email).toHaveAccessibleDescription(/must be a valid email address/));
    await user.clear(email);
    await user.type(email, "grace@acme.test");
    await user.click(within(dialog).getByRole("button", { name: "Add employee" }));
    const problemAlert = await within(dialog).findByRole("alert");
    expect(problemAlert).toHaveTextContent("Employees: 5 of 5 on the FREE plan.");
    expect(within(problemAlert).getByRole("link", { name: "Upgrade to Pro" })).toHaveAttribute(
      "href",
      "/billing/upgrade",
    );
  });

  it("sends a Free company choosing Pro to Stripe Checkout", async () => {
    const go = vi.spyOn(redirect, "to").mockImplementation(() => {});
    stubApi({
      ...signedIn,
      "GET /api/v1/alerts/unread-count": () => ({ unread: 0 }),
      "GET /api/v1/billing": () => billing(),
      "GET /api/v1/tiers": () => tiers,
      "POST /api/v1/billing/checkout-session": async (request) => {
        expect(await request.json()).toEqual({ tier: "PRO" });
        return { url: "https://checkout.stripe.test/c/pay/cs_1" };
      },
    });
    const user = userEvent.setup();
    renderApp("/billing/upgrade?checkout=cancelled");
    expect(await screen.findByText("Checkout cancelled")).toBeInTheDocument();
    await user.click(await screen.findByRole("button", { name: "Choose Pro" }));
    await waitFor(() => expect(go).toHaveBeenCalledWith("https://checkout.stripe.test/c/pay/cs_1"));
    expect(screen.getByRole("table", { name: "Plan comparison" })).toBeInTheDocument();
  });

  const onPro = () =>
    billing({
      tier: tiers[1]!,
      price_minor: 2900,
      renews_at: "2099-01-01T00:00:00Z",
      subscription: {
        tier: "PRO",
        effective_tier: "PRO",
        status: "ACTIVE",
        auto_renew: true,
        current_period_start: "2000-01-01T00:00:00Z",
        current_period_end: "2099-01-01T00:00:00Z",
      },
    });
  const preview = {
    tier: "ENTERPRISE",
    amount_due: 4667,
    currency: "usd",
    lines: [
      { description: "Unused time on Pro after 03 Dec 2026", amount: -1933 },
      { description: "Remaining time on Enterprise after 03 Dec 2026", amount: 6600 },
    ],
    period_start: "2026-12-03T14:00:00Z",
    period_end: "2027-01-01T00:00:00Z",
    proration_date: "2026-12-03T14:00:00Z",
    quote: "4f3c2a9e0d6b8c1f7a5e3d2b9c0f1e4a6b8d7c5e3f2a1b0c9d8e7f6a5b4c3d2e1f",
    takes_effect_at: "2026-12-03T14:00:00Z",
  };

  it("shows Stripe's exact proration before switching a paid plan, and is invoiced for that quote", async () => {
    const pro = onPro();
    const change = vi.fn(async (request: Request) => {
      expect(await request.json()).toEqual({
        tier: "ENTERPRISE",
        proration_date: preview.proration_date,
        quote: preview.quote,
      });
      return { ...pro.subscription, tier: "ENTERPRISE", effective_tier: "ENTERPRISE" };
    });
    const requests = stubApi({
      ...signedIn,
      "GET /api/v1/alerts/unread-count": () => ({ unread: 0 }),
      "GET /api/v1/billing": () => pro,
      "GET /api/v1/tiers": () => tiers,
      "GET /api/v1/billing/subscription/preview": () => preview,
      "PUT /api/v1/billing/subscription": change,
    });
    const user = userEvent.setup();
    renderApp("/billing/upgrade");
    await user.click(await screen.findByRole("button", { name: "Switch to Enterprise" }));
    const dialog = await screen.findByRole("dialog", { name: "Switch to Enterprise?" });

    expect(await within(dialog).findByTestId("amount-due")).toHaveTextContent("You pay $46.67 now");
    const lines = within(dialog).getByRole("table", { name: "Proration" });
    expect(lines).toHaveTextContent("Unused time on Pro after 03 Dec 2026−$19.33");
    expect(lines).toHaveTextContent("Remaining time on Enterprise after 03 Dec 2026$66.00");
    expect(dialog).not.toHaveTextContent("about");
    const asked = requests.find((r) => r.url.pathname === "/api/v1/billing/subscription/preview");
    expect(asked?.url.searchParams.get("tier")).toBe("ENTERPRISE");
    expect(change).not.toHaveBeenCalled();
    await user.click(within(dialog).getByRole("button", { name: "Confirm the change" }));
    await waitFor(() => expect(change).toHaveBeenCalledOnce());
  });

  it("says the plan is unchanged and links to the invoice when the payment for a switch fails", async () => {
    stubApi({
      ...signedIn,
      "GET /api/v1/alerts/unread-count": () => ({ unread: 0 }),
      "GET /api/v1/billing": () => onPro(),
      "GET /api/v1/tiers": () => tiers,
      "GET /api/v1/billing/subscription/preview": () => preview,
      "PUT /api/v1/billing/subscription": () =>
        problem(402, "payment_required", {
          detail: "The payment for the change to ENTERPRISE did not go through, so the company stays on PRO.",
          hosted_invoice_url: "https://invoice.stripe.com/i/acct_1/test_in_1",
        }),
    });
    const user = userEvent.setup();
    renderApp("/billing/upgrade");
    await user.click(await screen.findByRole("button", { name: "Switch to Enterprise" }));
    const dialog = await screen.findByRole("dialog", { name: "Switch to Enterprise?" });
    await within(dialog).findByTestId("amount-due");
    await user.click(within(dialog).getByRole("button", { name: "Confirm the change" }));

    const refused = await within(dialog).findByRole("alert");
    expect(refused).toHaveTextContent("Your plan is still Pro: the payment did not go through");
    expect(refused).toHaveTextContent("stays on PRO");
    const pay = within(refused).getByRole("link", { name: "Pay the invoice on Stripe" });
    expect(pay).toHaveAttribute("href", "https://invoice.stripe.com/i/acct_1/test_in_1");
    expect(pay).toHaveAttribute("target", "_blank");
  });

  it("shows why Stripe could not compute the amount of a switch", async () => {
    stubApi({
      ...signedIn,
      "GET /api/v1/alerts/unread-count": () => ({ unread: 0 }),
      "GET /api/v1/billing": () => onPro(),
      "GET /api/v1/tiers": () => tiers,
      "GET /api/v1/billing/subscription/preview": () => problem(503, "stripe_unavailable"),
    });
    const user = userEvent.setup();
    renderApp("/billing/upgrade");
    await user.click(await screen.findByRole("button", { name: "Switch to Enterprise" }));
    const dialog = await screen.findByRole("dialog", { name: "Switch to Enterprise?" });

    const failed = await within(dialog).findByRole("alert");
    expect(failed).toHaveTextContent("Stripe could not compute the amount");
    expect(failed).toHaveTextContent("detail of stripe_unavailable");
  });

  const onEnterprise = (overrides: Partial<Subscription> = {}) =>
    billing({
      tier: tiers[2]!,
      price_minor: 9900,
      renews_at: "2027-01-01T00:00:00Z",
      subscription: {
        tier: "ENTERPRISE",
        effective_tier: "ENTERPRISE",
        status: "ACTIVE",
        auto_renew: true,
        current_period_start: "2026-12-01T00:00:00Z",
        current_period_end: "2027-01-01T00:00:00Z",
        ...overrides,
      },
    });

  it("tells that a downgrade waits for the end of the paid-for period, and says it is scheduled", async () => {
    const enterprise = onEnterprise();
    const scheduled = { tier: "PRO" as const, at: "2027-01-01T00:00:00Z" };
    const change = vi.fn(() => ({ ...enterprise.subscription, scheduled_change: scheduled }));
    stubApi({
      ...signedIn,
      "GET /api/v1/alerts/unread-count": () => ({ unread: 0 }),
      "GET /api/v1/billing": () => enterprise,
      "GET /api/v1/tiers": () => tiers,
      "GET /api/v1/billing/subscription/preview": () => ({
        ...preview,
        tier: "PRO",
        amount_due: 0,
        lines: [],
        period_start: scheduled.at,
        period_end: scheduled.at,
        takes_effect_at: scheduled.at,
      }),
      "PUT /api/v1/billing/subscription": change,
    });
    const user = userEvent.setup();
    renderApp("/billing/upgrade");
    await user.click(await screen.findByRole("button", { name: "Switch to Pro" }));
    const dialog = await screen.findByRole("dialog", { name: "Switch to Pro?" });

    const told = await within(dialog).findByTestId("amount-due");
    expect(told).toHaveTextContent(`on ${formatDate(scheduled.at)}, at the end of the period you paid for`);
    expect(told).toHaveTextContent("Until then you keep Enterprise; nothing is charged or credited now.");
    expect(within(dialog).queryByRole("table", { name: "Proration" })).not.toBeInTheDocument();
    await user.click(within(dialog).getByRole("button", { name: "Confirm the change" }));
    expect(await screen.findByText("Plan change scheduled")).toBeInTheDocument();
    expect(screen.getByText(`You move to Pro on ${formatDate(scheduled.at)}.`)).toBeInTheDocument();
  });

  it("shows a scheduled downgrade on the billing page and undoes it when the current plan is kept", async () => {
    let scheduled: Subscription["scheduled_change"] = { tier: "PRO", at: "2027-01-01T00:00:00Z" };
    const keep = vi.fn(async (request: Request) => {
      expect(await request.json()).toEqual({ tier: "ENTERPRISE" });
      scheduled = null;
      return onEnterprise().subscription;
    });
    stubApi({
      ...signedIn,
      "GET /api/v1/alerts/unread-count": () => ({ unread: 0 }),
      "GET /api/v1/billing": () => onEnterprise({ scheduled_change: scheduled }),
      "GET /api/v1/tiers": () => tiers,
      "PUT /api/v1/billing/subscription": keep,
    });
    const user = userEvent.setup();
    renderApp("/billing");
    expect(await screen.findByTestId("scheduled-change")).toHaveTextContent(
      `Your plan changes to Pro on ${formatDate("2027-01-01T00:00:00Z")}, at the end of the period you paid for`,
    );

    await user.click(await screen.findByRole("link", { name: "Change plan" }));
    expect(
      await screen.findByRole("button", { name: `From ${formatDate("2027-01-01T00:00:00Z")}` }),
    ).toBeDisabled();
    await user.click(screen.getByRole("button", { name: "Keep Enterprise" }));
    await waitFor(() => expect(keep).toHaveBeenCalledOnce());
    expect(await screen.findByRole("button", { name: "Your plan" })).toBeDisabled();
  });

  it("waits on the success page until the webhook has made the plan paid", async () => {
    let polls = 0;
    stubApi({
      ...signedIn,
      "GET /api/v1/alerts/unread-count": () => ({ unread: 0 }),
      "GET /api/v1/billing": () =>
        ++polls < 3
          ? billing()
          : billing({
              tier: tiers[1]!,
              price_minor: 2900,
              renews_at: "2026-12-25T00:00:00Z",
              subscription: { tier: "PRO", effective_tier: "PRO", status: "ACTIVE", auto_renew: true },
            }),
    });
    renderApp("/billing/success?session_id=cs_1");
    expect(await screen.findByText("Confirming your payment with Stripe…")).toBeInTheDocument();
    expect(await screen.findByText("Your plan is active", {}, { timeout: 6000 })).toBeInTheDocument();
    expect(screen.getByTestId("plan-name")).toHaveTextContent("Pro");
    expect(polls).toBe(3);
  });

  it("shows the cancellation date set in the billing portal instead of a renewal", async () => {
    stubApi({
      ...signedIn,
      "GET /api/v1/alerts/unread-count": () => ({ unread: 0 }),
      "GET /api/v1/tiers": () => tiers,
      "GET /api/v1/billing": () =>
        billing({
          tier: tiers[1]!,
          price_minor: 2900,
          renews_at: null,
          ends_at: "2099-03-10T00:00:00Z",
          subscription: {
            tier: "PRO",
            effective_tier: "PRO",
            status: "ACTIVE",
            auto_renew: false,
            cancel_at: "2099-03-10T00:00:00Z",
            current_period_end: "2099-04-01T00:00:00Z",
          },
        }),
    });
    renderApp("/billing");
    expect(
      await screen.findByText(/the cancellation date set in the billing portal; it will not renew/),
    ).toBeInTheDocument();
    expect(screen.queryByText(/Renews on/)).not.toBeInTheDocument();
  });
});
