import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { setSession } from "../api/session";
import { alert, session } from "../test/fixtures";
import { renderApp } from "../test/render";
import { FakeEventSource, json, stubApi } from "../test/server";

beforeEach(() => {
  setSession(null);
  vi.stubGlobal("EventSource", FakeEventSource);
});

describe("the alerts page", () => {
  it("shows type and severity badges, opens an alert with its related data, and marks it read", async () => {
    let current = alert();
    const requests = stubApi({
      "POST /api/v1/auth/refresh": () => json(session),
      "POST /api/v1/alerts/stream-tickets": () => ({ ticket: "t", expires_in: 30 }),
      "GET /api/v1/alerts/unread-count": () => ({ unread: current.read ? 0 : 1 }),
      "GET /api/v1/alerts": () => ({ data: [current], page: 1, per_page: 20, total: 1 }),
      "POST /api/v1/alerts/a1/read": () => {
        current = { ...current, read: true, read_at: "2026-11-25T12:05:00Z" };
        return current;
      },
    });
    const user = userEvent.setup();
    renderApp("/alerts");
    const row = (await screen.findAllByTestId("alert-row"))[0]!;
    expect(within(row).getByText("Payment failed")).toBeInTheDocument();
    expect(within(row).getByText("Critical")).toBeInTheDocument();
    expect(await screen.findByLabelText("1 unread alerts")).toBeInTheDocument();

    await user.click(within(row).getByRole("button", { name: "Open alert: A payment failed" }));
    const dialog = await screen.findByRole("dialog", { name: "A payment failed" });
    const related = within(dialog).getByRole("table", { name: "Related data" });
    expect(within(related).getByText("Amount due")).toBeInTheDocument();
    expect(within(related).getByText("in_2")).toBeInTheDocument();
    await waitFor(() => expect(screen.queryByLabelText("1 unread alerts")).not.toBeInTheDocument());
    expect(requests.some((r) => r.method === "POST" && r.url.pathname === "/api/v1/alerts/a1/read")).toBe(
      true,
    );
  });

  it("filters to unread alerts and says so when there are none", async () => {
    const requests = stubApi({
      "POST /api/v1/auth/refresh": () => json(session),
      "POST /api/v1/alerts/stream-tickets": () => ({ ticket: "t", expires_in: 30 }),
      "GET /api/v1/alerts/unread-count": () => ({ unread: 0 }),
      "GET /api/v1/alerts": (_, url) =>
        url.searchParams.get("unread") === "true"
          ? { data: [], page: 1, per_page: 20, total: 0 }
          : { data: [alert({ read: true })], page: 1, per_page: 20, total: 1 },
    });
    const user = userEvent.setup();
    renderApp("/alerts");
    await screen.findAllByTestId("alert-row");
    await user.click(screen.getByRole("radio", { name: "Unread" }));
    expect(await screen.findByText("You have read every alert.")).toBeInTheDocument();
    expect(requests.at(-1)?.url.searchParams.get("unread")).toBe("true");
  });

  it("filters to resolved or unresolved alerts", async () => {
    const open = alert({ id: "a1", title: "Still open", resolved: false });
    const closed = alert({
      id: "a2",
      title: "Dealt with",
      resolved: true,
      resolved_at: "2026-11-25T13:00:00Z",
    });
    const requests = stubApi({
      "POST /api/v1/auth/refresh": () => json(session),
      "POST /api/v1/alerts/stream-tickets": () => ({ ticket: "t", expires_in: 30 }),
      "GET /api/v1/alerts/unread-count": () => ({ unread: 0 }),
      "GET /api/v1/alerts": (_, url) => {
        const resolved = url.searchParams.get("resolved");
        const data = resolved === null ? [open, closed] : resolved === "true" ? [closed] : [open];
        return { data, page: 1, per_page: 20, total: data.length };
      },
    });
    const user = userEvent.setup();
    renderApp("/alerts");
    expect(await screen.findAllByTestId("alert-row")).toHaveLength(2);

    await user.click(screen.getByRole("radio", { name: "Resolved" }));
    expect(await screen.findByText("Dealt with")).toBeInTheDocument();
    await waitFor(() => expect(screen.queryByText("Still open")).not.toBeInTheDocument());
    expect(requests.at(-1)?.url.searchParams.get("resolved")).toBe("true");

    await user.click(screen.getByRole("radio", { name: "Unresolved" }));
    expect(await screen.findByText("Still open")).toBeInTheDocument();
    await waitFor(() => expect(screen.queryByText("Dealt with")).not.toBeInTheDocument());
    expect(requests.at(-1)?.url.searchParams.get("resolved")).toBe("false");
  });
});
