import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { BillingSettings } from "../api/types";
import { setSession } from "../api/session";
import { billing, session } from "../test/fixtures";
import { renderApp } from "../test/render";
import { FakeEventSource, json, problem, stubApi, tagged } from "../test/server";

beforeEach(() => {
  setSession(null);
  vi.stubGlobal("EventSource", FakeEventSource);
});

describe("the billing settings page", () => {
  it("refuses to overwrite a billing email changed meanwhile, keeps the one typed, and reloads on request", async () => {
    let current: BillingSettings = { auto_renewal: false, billing_email: "old@acme.test" };
    let version = 3;
    const requests = stubApi({
      "POST /api/v1/auth/refresh": () => json(session),
      "POST /api/v1/alerts/stream-tickets": () => ({ ticket: "t", expires_in: 30 }),
      "GET /api/v1/alerts/unread-count": () => ({ unread: 0 }),
      "GET /api/v1/billing": () => billing({ billing_email: current.billing_email }),
      "GET /api/v1/billing/settings": () => tagged(current, `"v${version}"`),
      "PATCH /api/v1/billing/settings": async (request) => {
        if (request.headers.get("if-match") !== `"v${version}"`) return problem(412, "precondition_failed");
        const body = (await request.json()) as Partial<BillingSettings>;
        current = { ...current, ...body };
        version += 1;
        return tagged(billing({ billing_email: current.billing_email }), `"v${version}"`);
      },
    });
    const user = userEvent.setup();
    renderApp("/billing/settings");
    const email = await screen.findByLabelText("Invoices and receipts go to");
    expect(email).toHaveValue("old@acme.test");
    current = { ...current, billing_email: "theirs@acme.test" }; // a colleague saves meanwhile
    version = 4;
    await user.clear(email);
    await user.type(email, "mine@acme.test");
    await user.click(screen.getByRole("button", { name: "Save email" }));

    const conflict = await screen.findByRole("alert");
    expect(conflict).toHaveTextContent("This was changed by someone else since you opened it");
    expect(email).toHaveValue("mine@acme.test");
    expect(current.billing_email).toBe("theirs@acme.test");

    await user.click(within(conflict).getByRole("button", { name: "Reload latest" }));
    expect(await screen.findByDisplayValue("theirs@acme.test")).toBeInTheDocument();
    await user.clear(email);
    await user.type(email, "mine@acme.test");
    await user.click(screen.getByRole("button", { name: "Save email" }));
    expect(await screen.findByText("Billing email saved.")).toBeInTheDocument();

    const patches = requests.filter((r) => r.method === "PATCH");
    expect(patches.map((r) => r.request.headers.get("if-match"))).toEqual(['"v3"', '"v4"']);
    expect(current.billing_email).toBe("mine@acme.test");
  });
});
