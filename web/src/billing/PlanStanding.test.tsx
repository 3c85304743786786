import { screen, within } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { setSession } from "../api/session";
import { billing, session } from "../test/fixtures";
import { renderApp } from "../test/render";
import { FakeEventSource, json, stubApi } from "../test/server";

const signedIn = {
  "POST /api/v1/auth/refresh": () => json(session),
  "POST /api/v1/alerts/stream-tickets": () => ({ ticket: "t", expires_in: 30 }),
  "GET /api/v1/alerts/unread-count": () => ({ unread: 0 }),
};

const agent = (id: string, hostname: string, suspended: boolean) => ({
  id,
  hostname,
  os: "Linux",
  agent_version: "1.0.0",
  status: "ONLINE",
  last_seen_at: "2026-11-25T12:00:00Z",
  enrolled_at: "2026-11-01T00:00:00Z",
  suspended,
});

beforeEach(() => {
  setSession(null);
  vi.stubGlobal("EventSource", FakeEventSource);
});

describe("a company whose plan no longer covers it", () => {
  it("is told on the billing page what to remove, how many agents are suspended and when old data goes", async () => {
    stubApi({
      ...signedIn,
      "GET /api/v1/billing": () =>
        billing({
          over_limit: {
            summary: "3 employees and 2 agents over the Free plan's limits",
            tier: "FREE",
            excess: [
              { limit: "max_employees", used: 8, max: 5, over_by: 3 },
              { limit: "max_agents", used: 7, max: 5, over_by: 2 },
            ],
            suspended_agents: 2,
          },
          retention: { plan_days: 30, kept_days: 180, deletion_scheduled_at: "2027-01-01T12:00:00Z" },
        }),
    });
    renderApp("/billing");
    const over = await screen.findByRole("alert", { name: /Over the plan's limits/ });
    expect(over).toHaveTextContent("3 employees and 2 agents over the Free plan's limits");
    expect(over).toHaveTextContent("2 agents are suspended");
    expect(within(over).getByRole("link", { name: "upgrade" })).toHaveAttribute("href", "/billing/upgrade");
    const deletion = screen.getByRole("alert", { name: /Deletion scheduled/ });
    expect(deletion).toHaveTextContent("will be deleted on Jan 1, 2027");
    expect(deletion).toHaveTextContent("keeps 30 days");
  });

  it("is told that an invoice must be paid, with a link to Stripe's payment page", async () => {
    stubApi({
      ...signedIn,
      "GET /api/v1/billing": () =>
        billing({
          recent_invoices: [
            {
              id: "inv-1",
              stripe_invoice_id: "in_1",
              number: "VIG-0001",
              status: "OPEN",
              amount_due: 7000,
              amount_paid: 0,
              currency: "usd",
              issued_at: "2026-12-01T00:00:00Z",
              hosted_invoice_url: "https://invoice.stripe.com/i/acct_1/in_1",
            },
          ],
        }),
    });
    renderApp("/billing");
    const required = await screen.findByRole("alert", { name: /Payment required/ });
    expect(required).toHaveTextContent("An invoice of $70.00");
    expect(within(required).getByRole("link", { name: "Pay it on Stripe" })).toHaveAttribute(
      "href",
      "https://invoice.stripe.com/i/acct_1/in_1",
    );
  });

  it("sees the suspended agents marked in the agents list", async () => {
    stubApi({
      ...signedIn,
      "GET /api/v1/agents": () => ({
        data: [agent("a1", "first-laptop", false), agent("a2", "last-laptop", true)],
        page: 1,
        per_page: 20,
        total: 2,
      }),
      "GET /api/v1/enrollment-tokens": () => ({ data: [], page: 1, per_page: 50, total: 0 }),
    });
    renderApp("/agents");
    const last = (await screen.findByText("last-laptop")).closest("tr");
    const first = screen.getByText("first-laptop").closest("tr");
    expect(within(last as HTMLElement).getByText("Suspended")).toBeInTheDocument();
    expect(within(first as HTMLElement).queryByText("Suspended")).not.toBeInTheDocument();
  });
});
