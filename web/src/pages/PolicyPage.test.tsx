import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { Policy } from "../api/types";
import { setSession } from "../api/session";
import { billing, session } from "../test/fixtures";
import { renderApp } from "../test/render";
import { FakeEventSource, json, problem, stubApi, tagged } from "../test/server";

function policy(version: number, heartbeat: number): Policy {
  return {
    version,
    updated_at: "2026-11-25T12:00:00Z",
    settings: {
      activity_tracking_enabled: true,
      screenshots_enabled: false,
      website_tracking_enabled: false,
      screenshot_interval_secs: 300,
      idle_threshold_secs: 300,
      offline_threshold_secs: 600,
      heartbeat_interval_secs: heartbeat,
    },
  };
}

const shell = {
  "POST /api/v1/auth/refresh": () => json(session),
  "POST /api/v1/alerts/stream-tickets": () => ({ ticket: "t", expires_in: 30 }),
  "GET /api/v1/alerts/unread-count": () => ({ unread: 0 }),
  "GET /api/v1/billing": () => billing(),
};

beforeEach(() => {
  setSession(null);
  vi.stubGlobal("EventSource", FakeEventSource);
});

describe("the policy page", () => {
  it("saves with If-Match set to the ETag it read, then to the one its save answered", async () => {
    let current = policy(3, 60);
    const requests = stubApi({
      ...shell,
      "GET /api/v1/policy": () => tagged(current, `"v${current.version}"`),
      "PUT /api/v1/policy": async (request) => {
        const settings = (await request.json()) as Policy["settings"];
        current = { ...current, version: current.version + 1, settings };
        return tagged(current, `"v${current.version}"`);
      },
    });
    const user = userEvent.setup();
    renderApp("/policy");
    const heartbeat = await screen.findByLabelText("Heartbeat (seconds)");
    await user.clear(heartbeat);
    await user.type(heartbeat, "90");
    await user.click(screen.getByRole("button", { name: "Save policy" }));
    expect(await screen.findByText("Version 4")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Save policy" }));
    expect(await screen.findByText("Version 5")).toBeInTheDocument();

    const puts = requests.filter((r) => r.method === "PUT");
    expect(puts.map((r) => r.request.headers.get("if-match"))).toEqual(['"v3"', '"v4"']);
    expect(current.settings.heartbeat_interval_secs).toBe(90);
  });

  it("keeps what was typed when someone else saved first, and reloads the latest on request", async () => {
    let current = policy(3, 60);
    const requests = stubApi({
      ...shell,
      "GET /api/v1/policy": () => tagged(current, `"v${current.version}"`),
      "PUT /api/v1/policy": (request) =>
        request.headers.get("if-match") === `"v${current.version}"`
          ? tagged(current, `"v${current.version}"`)
          : problem(412, "precondition_failed"),
    });
    const user = userEvent.setup();
    renderApp("/policy");
    const heartbeat = await screen.findByLabelText("Heartbeat (seconds)");
    current = policy(4, 30); // another admin saves meanwhile
    await user.clear(heartbeat);
    await user.type(heartbeat, "90");
    await user.click(screen.getByRole("button", { name: "Save policy" }));

    const conflict = await screen.findByRole("alert");
    expect(conflict).toHaveTextContent("This was changed by someone else since you opened it");
    expect(conflict).toHaveTextContent("Nothing was saved");
    expect(heartbeat).toHaveValue("90");
    expect(requests.find((r) => r.method === "PUT")?.request.headers.get("if-match")).toBe('"v3"');

    await user.click(within(conflict).getByRole("button", { name: "Reload latest" }));
    expect(await screen.findByText("Version 4")).toBeInTheDocument();
    expect(screen.getByLabelText("Heartbeat (seconds)")).toHaveValue("30");
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });
});
