import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { setSession } from "../api/session";
import { session } from "../test/fixtures";
import { renderApp } from "../test/render";
import { FakeEventSource, json, stubApi } from "../test/server";

const failed = {
  event_id: "evt_failed",
  type: "customer.subscription.created",
  api_version: "2024-06-20",
  created: "2026-12-01T10:00:00Z",
  received_at: "2026-12-01T10:00:01Z",
  processed_at: null,
  outcome: "failed",
  error: "internal_error: An unexpected error occurred.",
  attempts: 1,
};
const processed = { ...failed, event_id: "evt_ok", type: "invoice.paid", outcome: "processed", error: null };

beforeEach(() => {
  setSession(null);
  FakeEventSource.instances = [];
  vi.stubGlobal("EventSource", FakeEventSource);
});

describe("the Stripe events page", () => {
  it("shows why an event failed and replays it on request", async () => {
    let replayed = false;
    const requests = stubApi({
      "POST /api/v1/auth/refresh": () => json(session),
      "POST /api/v1/alerts/stream-tickets": () => ({ ticket: "t", expires_in: 30 }),
      "GET /api/v1/alerts/unread-count": () => ({ unread: 0 }),
      "GET /api/v1/stripe/events": () => ({
        data: [replayed ? { ...failed, outcome: "processed", error: null, attempts: 2 } : failed, processed],
        page: 1,
        per_page: 25,
        total: 2,
      }),
      "POST /api/v1/stripe/events/evt_failed/replay": () => {
        replayed = true;
        return { ...failed, outcome: "processed", error: null, attempts: 2 };
      },
    });
    const user = userEvent.setup();
    renderApp("/billing/events");
    const table = await screen.findByRole("table", { name: "Stripe events" });
    const failedRow = within(table).getByText("evt_failed").closest("tr") as HTMLElement;
    expect(within(failedRow).getByText("failed")).toBeInTheDocument();
    expect(within(failedRow).getByText(/An unexpected error occurred/)).toBeInTheDocument();
    const okRow = within(table).getByText("evt_ok").closest("tr") as HTMLElement;
    expect(within(okRow).queryByRole("button", { name: /Replay/ })).not.toBeInTheDocument();

    await user.click(within(failedRow).getByRole("button", { name: "Replay evt_failed" }));

    expect(await screen.findByText("Event evt_failed was processed.")).toBeInTheDocument();
    expect(requests.some((r) => r.method === "POST" && r.url.pathname.endsWith("/evt_failed/replay"))).toBe(
      true,
    );
    const after = (await screen.findAllByText("processed")).length;
    expect(after).toBe(2);
  });
});
