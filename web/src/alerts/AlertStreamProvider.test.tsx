import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { setSession } from "../api/session";
import type { Alert } from "../api/types";
import { alert, session } from "../test/fixtures";
import { renderApp } from "../test/render";
import { FakeEventSource, json, stubApi } from "../test/server";

beforeEach(() => {
  setSession(null);
  FakeEventSource.instances = [];
  vi.stubGlobal("EventSource", FakeEventSource);
});

/** The server's alerts; each list request reads them when it arrives, like a database snapshot. */
function alertsApi() {
  const state = { committed: [] as Alert[], listCalls: 0, hold: null as Promise<void> | null };
  stubApi({
    "POST /api/v1/auth/refresh": () => json(session),
    "POST /api/v1/alerts/stream-tickets": () => ({ ticket: "t", expires_in: 30 }),
    "GET /api/v1/alerts/unread-count": () => ({ unread: state.committed.filter((a) => !a.read).length }),
    "GET /api/v1/alerts": async () => {
      const data = [...state.committed];
      state.listCalls += 1;
      const hold = state.hold;
      state.hold = null;
      if (hold) await hold;
      return { data, page: 1, per_page: 20, total: data.length };
    },
  });
  return state;
}

/** The titles of the alert rows shown, once there are some. */
async function rowTitles(): Promise<string[]> {
  const rows = await screen.findAllByTestId("alert-row");
  return rows.map((row) =>
    (
      within(row)
        .getByRole("button", { name: /^Open alert:/ })
        .getAttribute("aria-label") ?? ""
    ).replace("Open alert: ", ""),
  );
}

describe("the live alert stream", () => {
  it("shows an alert that arrives while the list's first fetch is still in flight", async () => {
    const server = alertsApi();
    const user = userEvent.setup();
    renderApp("/no-such-page");
    // The stream is live before the Alerts page is opened, as in the app.
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));
    FakeEventSource.instances[0]!.open();
    await screen.findByRole("status", { name: "Live alerts on" });

    let answer!: () => void;
    server.hold = new Promise((resolve) => (answer = resolve));
    await user.click(screen.getByRole("link", { name: /^Alerts/ }));
    // The list has read the database (no alert yet) and its answer is on the way...
    await waitFor(() => expect(server.listCalls).toBe(1));
    // ...when the alert commits and arrives on the stream...
    const failed = alert({ id: "a9", title: "Payment failed for ACME-0002" });
    server.committed.push(failed);
    FakeEventSource.instances[0]!.emit("alert", failed, "a9");
    // ...and only then does the older answer land.
    answer();

    await waitFor(async () => expect(await rowTitles()).toEqual(["Payment failed for ACME-0002"]));
    expect(server.listCalls).toBe(2);
    expect(screen.queryByText("No alerts. All is quiet.")).not.toBeInTheDocument();
  });

  it("reads the list again on every (re)connection, for alerts raised before the stream subscribed", async () => {
    const server = alertsApi();
    renderApp("/alerts");
    expect(await screen.findByText("No alerts. All is quiet.")).toBeInTheDocument();
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(1));

    // Raised after the list was read but before the stream subscribed: the stream never sends it.
    server.committed.push(alert({ id: "a1", title: "Before the stream" }));
    FakeEventSource.instances[0]!.open();
    await waitFor(async () => expect(await rowTitles()).toEqual(["Before the stream"]));

    // Dropped before any event, so the new stream starts after the newest alert, not after a last event id.
    FakeEventSource.instances[0]!.fail();
    server.committed.unshift(alert({ id: "a2", title: "During the gap" }));
    await waitFor(() => expect(FakeEventSource.instances).toHaveLength(2), { timeout: 5000 });
    expect(FakeEventSource.instances[1]!.url).not.toContain("last_event_id");
    FakeEventSource.instances[1]!.open();
    await waitFor(async () => expect(await rowTitles()).toEqual(["During the gap", "Before the stream"]));
  });
});
