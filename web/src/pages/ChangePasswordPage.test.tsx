import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { setSession } from "../api/session";
import { session } from "../test/fixtures";
import { renderApp } from "../test/render";
import { FakeEventSource, json, problem, stubApi } from "../test/server";

beforeEach(() => {
  setSession(null);
  vi.stubGlobal("EventSource", FakeEventSource);
});

/** The menu opens with a transition and the page is a lazy chunk: allow a loaded machine time for both. */
const SLOW = { timeout: 10_000 };

const signedIn = {
  "POST /api/v1/auth/refresh": () => json(session),
  "POST /api/v1/alerts/stream-tickets": () => ({ ticket: "t", expires_in: 30 }),
  "GET /api/v1/alerts/unread-count": () => ({ unread: 0 }),
  "GET /api/v1/billing": () => problem(403, "forbidden"),
};

describe("changing one's password", () => {
  it("shows the server's field errors next to the fields", async () => {
    const requests = stubApi({
      ...signedIn,
      "POST /api/v1/me/password": () =>
        problem(422, "validation_failed", {
          errors: { current_password: ["is not your current password"] },
        }),
    });
    const user = userEvent.setup();
    renderApp("/account/password");
    expect(await screen.findByRole("heading", { name: "Change password" }, SLOW)).toBeInTheDocument();

    await user.type(screen.getByLabelText(/^Current password/), "wrong password");
    await user.type(screen.getByLabelText(/^New password/), "a much better passphrase");
    await user.type(screen.getByLabelText(/^Repeat the new password/), "a much better passphrase");
    await user.click(screen.getByRole("button", { name: "Change password" }));

    expect(await screen.findByText("is not your current password")).toBeInTheDocument();
    const sent = requests.find((r) => r.url.pathname === "/api/v1/me/password");
    expect(await sent?.request.clone().json()).toEqual({
      current_password: "wrong password",
      new_password: "a much better passphrase",
    });
    expect(within(screen.getByRole("alert")).queryByText(/is not your current password/)).toBeNull();
  });

  it("refuses a repeat that does not match without asking the server, and confirms a change", async () => {
    const requests = stubApi({
      ...signedIn,
      "POST /api/v1/me/password": () => json({ ...session, access_token: "token-2" }),
    });
    const user = userEvent.setup();
    renderApp("/account/password");
    await user.type(await screen.findByLabelText(/^Current password/), "correct horse battery staple");
    await user.type(screen.getByLabelText(/^New password/), "a much better passphrase");
    await user.type(screen.getByLabelText(/^Repeat the new password/), "a typo in it");
    await user.click(screen.getByRole("button", { name: "Change password" }));
    expect(await screen.findByText("does not match the new password")).toBeInTheDocument();
    expect(requests.some((r) => r.url.pathname === "/api/v1/me/password")).toBe(false);

    await user.clear(screen.getByLabelText(/^Repeat the new password/));
    await user.type(screen.getByLabelText(/^Repeat the new password/), "a much better passphrase");
    await user.click(screen.getByRole("button", { name: "Change password" }));
    expect(await screen.findByText("Your password has been changed.")).toBeInTheDocument();
  });
});
