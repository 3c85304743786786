import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { setSession } from "../api/session";
import { session } from "../test/fixtures";
import { renderApp } from "../test/render";
import { FakeEventSource, json, problem, stubApi, tagged } from "../test/server";
import { formatDuration } from "./EmployeeActivity";

const employee = {
  id: "e1",
  email: "grace@acme.test",
  name: "Grace Hopper",
  department: "Engineering",
  job_title: "Rear Admiral",
  status: "ACTIVE",
  created_at: "2026-11-01T00:00:00Z",
  updated_at: "2026-11-01T00:00:00Z",
};

beforeEach(() => {
  setSession(null);
  vi.stubGlobal("EventSource", FakeEventSource);
});

describe("the employee page", () => {
  it("shows the day's activity with its totals and top applications, and offers the upgrade for screenshots", async () => {
    stubApi({
      "POST /api/v1/auth/refresh": () => json(session),
      "POST /api/v1/alerts/stream-tickets": () => ({ ticket: "t", expires_in: 30 }),
      "GET /api/v1/alerts/unread-count": () => ({ unread: 0 }),
      "GET /api/v1/employees/e1": () => employee,
      "GET /api/v1/agents": () => ({ data: [], page: 1, per_page: 100, total: 0 }),
      "GET /api/v1/employees/e1/activity": () => ({
        employee_id: "e1",
        date: "2026-11-25",
        from: "2026-11-25T00:00:00Z",
        to: "2026-11-26T00:00:00Z",
        active_secs: 5400,
        idle_secs: 600,
        top_applications: [{ name: "Visual Studio Code", active_secs: 3600 }],
        top_sites: [{ name: "docs.rs", active_secs: 1800 }],
        records: [
          {
            state: "ACTIVE",
            application: "Visual Studio Code",
            window_title: "main.rs",
            agent_id: "ag1",
            started_at: "2026-11-25T09:00:00Z",
            ended_at: "2026-11-25T10:00:00Z",
          },
        ],
        truncated: false,
      }),
      "GET /api/v1/employees/e1/screenshots": () =>
        problem(403, "feature_not_in_plan", { errors: { screenshots: ["needs the PRO plan"] } }),
    });
    renderApp("/employees/e1");
    expect(await screen.findByRole("heading", { name: "Grace Hopper" })).toBeInTheDocument();
    expect(await screen.findByText("1 h 30 min")).toBeInTheDocument();
    expect(screen.getByText("10 min")).toBeInTheDocument();
    expect(screen.getByText("docs.rs")).toBeInTheDocument();
    const spans = screen.getByRole("table", { name: "Activity spans" });
    expect(within(spans).getByText("main.rs")).toBeInTheDocument();
    const screenshots = await screen.findByText("Could not load screenshots");
    const alert = screenshots.closest('[role="alert"]') as HTMLElement;
    expect(within(alert).getByRole("link", { name: "Upgrade your plan" })).toHaveAttribute(
      "href",
      "/billing/upgrade",
    );
  });

  it("shows screenshots as thumbnails, opens one large, and deletes it", async () => {
    let shots = [
      {
        id: "s1",
        employee_id: "e1",
        agent_id: "ag1",
        taken_at: "2026-11-25T09:30:00Z",
        content_type: "image/png",
        size_bytes: 250_000,
        url: "/api/v1/screenshots/s1/content?company=c1&expires=1&signature=ab",
        url_expires_at: "2026-11-25T09:35:00Z",
      },
    ];
    const requests = stubApi({
      "POST /api/v1/auth/refresh": () => json(session),
      "POST /api/v1/alerts/stream-tickets": () => ({ ticket: "t", expires_in: 30 }),
      "GET /api/v1/alerts/unread-count": () => ({ unread: 0 }),
      "GET /api/v1/employees/e1": () => employee,
      "GET /api/v1/agents": () => ({ data: [], page: 1, per_page: 100, total: 0 }),
      "GET /api/v1/employees/e1/activity": () => problem(404, "not_found"),
      "GET /api/v1/employees/e1/screenshots": () => ({
        data: shots,
        page: 1,
        per_page: 12,
        total: shots.length,
      }),
      "DELETE /api/v1/screenshots/s1": () => {
        shots = [];
        return new Response(null, { status: 204 });
      },
    });
    const user = userEvent.setup();
    renderApp("/employees/e1");
    await user.click(await screen.findByRole("button", { name: /^Screenshot taken/ }));
    const dialog = await screen.findByRole("dialog");
    expect(within(dialog).getByRole("img")).toHaveAttribute("src", shots[0]!.url);
    expect(within(dialog).getByText("image/png · 250 KB")).toBeInTheDocument();
    await user.click(within(dialog).getByRole("button", { name: "Delete screenshot" }));
    expect(await screen.findByText(/No screenshots\./)).toBeInTheDocument();
    expect(requests.some((r) => r.method === "DELETE")).toBe(true);
  });

  it("saves an edit with If-Match set to the ETag of the employee it opened", async () => {
    let current = { ...employee };
    const requests = stubApi({
      "POST /api/v1/auth/refresh": () => json(session),
      "POST /api/v1/alerts/stream-tickets": () => ({ ticket: "t", expires_in: 30 }),
      "GET /api/v1/alerts/unread-count": () => ({ unread: 0 }),
      "GET /api/v1/employees/e1": () => tagged(current, '"v3"'),
      "GET /api/v1/agents": () => ({ data: [], page: 1, per_page: 100, total: 0 }),
      "GET /api/v1/employees/e1/activity": () => problem(404, "not_found"),
      "GET /api/v1/employees/e1/screenshots": () => problem(404, "not_found"),
      "PATCH /api/v1/employees/e1": async (request) => {
        current = { ...current, ...((await request.json()) as Partial<typeof employee>) };
        return tagged(current, '"v4"');
      },
    });
    const user = userEvent.setup();
    renderApp("/employees/e1");
    await user.click(await screen.findByRole("button", { name: "Edit" }));
    const dialog = await screen.findByRole("dialog");
    await user.clear(within(dialog).getByLabelText("Job title"));
    await user.type(within(dialog).getByLabelText("Job title"), "Commodore");
    await user.click(within(dialog).getByRole("button", { name: "Save" }));
    expect(await screen.findByText("Commodore")).toBeInTheDocument();
    const patch = requests.find((r) => r.method === "PATCH");
    expect(patch?.request.headers.get("if-match")).toBe('"v3"');
  });

  it("formats durations", () => {
    expect(formatDuration(0)).toBe("0 min");
    expect(formatDuration(30)).toBe("< 1 min");
    expect(formatDuration(3725)).toBe("1 h 2 min");
  });
});
