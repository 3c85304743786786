import { screen } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { setSession } from "../api/session";
import { billing, session } from "../test/fixtures";
import { renderApp } from "../test/render";
import { FakeEventSource, json, stubApi } from "../test/server";
import { cardStanding } from "./CardOnFile";

const signedIn = {
  "POST /api/v1/auth/refresh": () => json(session),
  "POST /api/v1/alerts/stream-tickets": () => ({ ticket: "t", expires_in: 30 }),
  "GET /api/v1/alerts/unread-count": () => ({ unread: 0 }),
};

beforeEach(() => {
  setSession(null);
  vi.stubGlobal("EventSource", FakeEventSource);
});

describe("the card on file", () => {
  it("shows its brand, last four digits and expiry on the billing page and in the settings", async () => {
    stubApi({
      ...signedIn,
      "GET /api/v1/billing": () =>
        billing({ card: { brand: "visa", last4: "4242", exp_month: 3, exp_year: 2099 } }),
      "GET /api/v1/billing/settings": () => ({ auto_renewal: false, billing_email: "billing@acme.test" }),
    });
    renderApp("/billing");
    expect(await screen.findByTestId("card-on-file")).toHaveTextContent("Visa •••• 4242, expires 03/2099");

    renderApp("/billing/settings");
    const cards = await screen.findAllByTestId("card-on-file");
    expect(cards.at(-1)).toHaveTextContent("Visa •••• 4242, expires 03/2099");
  });

  it("says when there is none", async () => {
    stubApi({ ...signedIn, "GET /api/v1/billing": () => billing({ card: null }) });
    renderApp("/billing");
    expect(await screen.findByTestId("card-on-file")).toHaveTextContent("No card on file.");
  });

  it("flags a card that has expired or expires before the next renewal", () => {
    const today = new Date(Date.UTC(2026, 11, 3));
    const card = (exp_month: number, exp_year: number) => ({
      brand: "visa",
      last4: "4242",
      exp_month,
      exp_year,
    });
    expect(cardStanding(card(11, 2026), today)).toBe("expired");
    expect(cardStanding(card(12, 2026), today)).toBe("expiring");
    expect(cardStanding(card(1, 2027), today)).toBe("expiring");
    expect(cardStanding(card(2, 2027), today)).toBe("valid");
  });
});
