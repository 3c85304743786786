import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { User } from "../api/types";
import { setSession } from "../api/session";
import { session } from "../test/fixtures";
import { renderApp } from "../test/render";
import { FakeEventSource, json, stubApi, tagged } from "../test/server";

const grace: User = {
  id: "u2",
  email: "grace@acme.test",
  name: "Grace Hopper",
  role: "MANAGER",
  active: true,
  created_at: "2026-11-01T00:00:00Z",
};

function usersApi(listed: User, current: () => User) {
  return stubApi({
    "POST /api/v1/auth/refresh": () => json(session),
    "POST /api/v1/alerts/stream-tickets": () => ({ ticket: "t", expires_in: 30 }),
    "GET /api/v1/alerts/unread-count": () => ({ unread: 0 }),
    "GET /api/v1/users": () => ({ data: [session.user, listed], page: 1, per_page: 20, total: 2 }),
    "GET /api/v1/users/u2": () => tagged(current(), '"v7"'),
    "PATCH /api/v1/users/u2": () => tagged({ ...current(), active: false }, '"v8"'),
  });
}

beforeEach(() => {
  setSession(null);
  vi.stubGlobal("EventSource", FakeEventSource);
});

describe("the users page", () => {
  it("changes a user with If-Match set to the version the row shows", async () => {
    const requests = usersApi(grace, () => grace);
    const user = userEvent.setup();
    renderApp("/users");
    await user.click(await screen.findByRole("button", { name: "Disable" }));
    expect(await screen.findByText("Grace Hopper updated.")).toBeInTheDocument();
    const patch = requests.find((r) => r.method === "PATCH");
    expect(patch?.request.headers.get("if-match")).toBe('"v7"');
  });

  it("changes nothing when someone else changed the user since the list was shown", async () => {
    let current = grace;
    const requests = usersApi(grace, () => current);
    const user = userEvent.setup();
    renderApp("/users");
    const disable = await screen.findByRole("button", { name: "Disable" });
    current = { ...grace, role: "ADMIN" };
    await user.click(disable);
    const conflict = await screen.findByRole("alert");
    expect(conflict).toHaveTextContent("This was changed by someone else since you opened it");
    expect(requests.some((r) => r.method === "PATCH")).toBe(false);
    await user.click(within(conflict).getByRole("button", { name: "Reload latest" }));
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });
});
