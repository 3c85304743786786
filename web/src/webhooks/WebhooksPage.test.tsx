import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import dayjs from "dayjs";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { setSession } from "../api/session";
import type { WebhookAttempt, WebhookEndpoint } from "../api/types";
import { alert, session } from "../test/fixtures";
import { renderApp } from "../test/render";
import { FakeEventSource, json, problem, stubApi } from "../test/server";

const signedIn = {
  "POST /api/v1/auth/refresh": () => json(session),
  "POST /api/v1/alerts/stream-tickets": () => ({ ticket: "t", expires_in: 30 }),
  "GET /api/v1/alerts/unread-count": () => ({ unread: 0 }),
};

function endpoint(overrides: Partial<WebhookEndpoint> = {}): WebhookEndpoint {
  return {
    id: "we1",
    url: "https://hooks.acme.test/vigil",
    description: "Payroll sync",
    event_types: [],
    enabled: true,
    disabled_reason: null,
    failing_since: null,
    previous_secret_expires_at: null,
    created_at: "2026-11-20T10:00:00Z",
    updated_at: "2026-11-20T10:00:00Z",
    ...overrides,
  };
}

function attempt(overrides: Partial<WebhookAttempt> = {}): WebhookAttempt {
  return {
    id: "wa1",
    event_id: "ev-ping",
    attempted_at: "2026-11-25T12:00:00Z",
    status_code: 200,
    latency_ms: 42,
    succeeded: true,
    response_body: '{"ok":true}',
    error: null,
    ...overrides,
  };
}

const noAttempts = { "GET /api/v1/webhook-endpoints/we1/attempts": () => ({ data: [], has_more: false }) };

beforeEach(() => {
  setSession(null);
  FakeEventSource.instances = [];
  vi.stubGlobal("EventSource", FakeEventSource);
});

describe("the webhooks page", () => {
  it("lists the endpoints a page at a time, with their events and status", async () => {
    const first = endpoint();
    const second = endpoint({
      id: "we2",
      url: "https://crm.acme.test/hooks",
      description: "",
      event_types: ["employee.created", "invoice.paid"],
      enabled: false,
      disabled_reason: "It answered 410 Gone.",
    });
    const third = endpoint({ id: "we3", url: "https://old.acme.test/hooks", description: "Old" });
    const requests = stubApi({
      ...signedIn,
      "GET /api/v1/webhook-endpoints": (_, url) =>
        url.searchParams.get("starting_after") === "we2"
          ? { data: [third], has_more: false }
          : { data: [first, second], has_more: true },
    });
    const user = userEvent.setup();
    renderApp("/webhooks");
    const table = await screen.findByRole("table", { name: "Webhook endpoints" });
    expect(screen.getByRole("link", { name: "Webhooks" })).toHaveAttribute("aria-current", "page");
    const rows = within(table).getAllByTestId("webhook-endpoint-row");
    expect(rows).toHaveLength(2);
    expect(within(rows[0]!).getByRole("link", { name: first.url })).toHaveAttribute("href", "/webhooks/we1");
    expect(within(rows[0]!).getByText("Payroll sync")).toBeInTheDocument();
    expect(within(rows[0]!).getByText("All events")).toBeInTheDocument();
    expect(within(rows[0]!).getByTestId("webhook-endpoint-status")).toHaveTextContent("Enabled");
    expect(within(rows[1]!).getByText("employee.created")).toBeInTheDocument();
    expect(within(rows[1]!).getByText("invoice.paid")).toBeInTheDocument();
    expect(within(rows[1]!).getByTestId("webhook-endpoint-status")).toHaveTextContent("Disabled");
    expect(within(rows[1]!).getByText("It answered 410 Gone.")).toBeInTheDocument();
    expect(
      requests.find((r) => r.url.pathname === "/api/v1/webhook-endpoints")?.url.searchParams.get("limit"),
    ).toBe("20");

    await user.click(screen.getByRole("button", { name: "Load more" }));
    expect(await within(table).findByRole("link", { name: third.url })).toBeInTheDocument();
    expect(within(table).getAllByTestId("webhook-endpoint-row")).toHaveLength(3);
    expect(screen.queryByRole("button", { name: "Load more" })).not.toBeInTheDocument();
  });

  it("creates an endpoint, shows its secret once, and opens it", async () => {
    let created: WebhookEndpoint | null = null;
    let posted: unknown = null;
    stubApi({
      ...signedIn,
      ...noAttempts,
      "GET /api/v1/webhook-endpoints": () => ({ data: created ? [created] : [], has_more: false }),
      "POST /api/v1/webhook-endpoints": async (request) => {
        const body = (await request.json()) as Pick<WebhookEndpoint, "url" | "description" | "event_types">;
        posted = body;
        created = endpoint(body);
        return json({ ...created, secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }, 201);
      },
      "GET /api/v1/webhook-endpoints/we1": () => created,
    });
    const user = userEvent.setup();
    renderApp("/webhooks");
    expect(await screen.findByText("No webhook endpoints yet.")).toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "Add endpoint" }));
    const dialog = await screen.findByRole("dialog", { name: "Add a webhook endpoint" });
    await user.type(within(dialog).getByLabelText(/^URL/), "https://hooks.acme.test/vigil");
    await user.type(within(dialog).getByLabelText(/^Description/), "Payroll sync");
    await user.click(within(dialog).getByRole("combobox", { name: /^Event types/ }));
    // jsdom never ends the dropdown's opening transition: its options stay "hidden" to queries.
    await user.click(await screen.findByRole("option", { name: /employee\.created/, hidden: true }));
    await user.click(within(dialog).getByRole("button", { name: "Create endpoint" }));

    expect(await within(dialog).findByTestId("secret")).toHaveTextContent(
      "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    );
    expect(within(dialog).getByText("Copy it now: it cannot be shown again.")).toBeInTheDocument();
    expect(posted).toEqual({
      url: "https://hooks.acme.test/vigil",
      description: "Payroll sync",
      event_types: ["employee.created"],
    });

    await user.click(within(dialog).getByRole("button", { name: "Done" }));
    expect(await screen.findByRole("heading", { name: "Payroll sync" })).toBeInTheDocument();
    expect(screen.getByTestId("webhook-endpoint-url")).toHaveTextContent("https://hooks.acme.test/vigil");
    expect(screen.queryByTestId("secret")).not.toBeInTheDocument();
    expect(screen.queryByText(/whsec_/)).not.toBeInTheDocument();
  });

  it("shows the API's objection to the URL next to the URL, and a refusal's detail", async () => {
    let calls = 0;
    stubApi({
      ...signedIn,
      "GET /api/v1/webhook-endpoints": () => ({ data: [], has_more: false }),
      "POST /api/v1/webhook-endpoints": () =>
        ++calls === 1
          ? problem(422, "validation_failed", { errors: { url: ["must use https"] } })
          : problem(409, "too_many_webhook_endpoints", {
              detail: "A company can have 20 webhook endpoints; delete one first.",
            }),
    });
    const user = userEvent.setup();
    renderApp("/webhooks");
    await user.click(await screen.findByRole("button", { name: "Add endpoint" }));
    const dialog = await screen.findByRole("dialog", { name: "Add a webhook endpoint" });
    const url = within(dialog).getByLabelText(/^URL/);
    await user.type(url, "http://hooks.acme.test/vigil");
    await user.click(within(dialog).getByRole("button", { name: "Create endpoint" }));

    expect(await within(dialog).findByText("must use https")).toBeInTheDocument();
    expect(url).toHaveAttribute("aria-invalid", "true");
    expect(within(dialog).getByRole("alert")).toHaveTextContent("detail of validation_failed");
    // The field's message is next to the field only, not repeated in the alert.
    expect(within(dialog).getAllByText("must use https")).toHaveLength(1);

    await user.click(within(dialog).getByRole("button", { name: "Create endpoint" }));
    expect(await within(dialog).findByRole("alert")).toHaveTextContent(
      "A company can have 20 webhook endpoints; delete one first.",
    );
    expect(within(dialog).queryByText("must use https")).not.toBeInTheDocument();
  });

  it("sends a test ping, shows its attempt with the answer, and retries the event", async () => {
    let tested = false;
    const requests = stubApi({
      ...signedIn,
      "GET /api/v1/webhook-endpoints/we1": () => endpoint(),
      "GET /api/v1/webhook-endpoints/we1/attempts": () => ({
        data: tested ? [attempt()] : [],
        has_more: false,
      }),
      "POST /api/v1/webhook-endpoints/we1/test": () => {
        tested = true;
        return json({ event_id: "ev-ping" }, 202);
      },
      "POST /api/v1/webhook-endpoints/we1/messages/ev-ping/retry": () => json({ queued: 1 }, 202),
    });
    const user = userEvent.setup();
    renderApp("/webhooks/we1");
    expect(await screen.findByText(/No delivery attempts in the last 30 days/)).toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "Send test" }));
    expect(await screen.findByText("Test ping queued")).toBeInTheDocument();
    const table = await screen.findByRole("table", { name: "Delivery attempts" });
    const row = within(table).getByTestId("webhook-attempt-row");
    expect(within(row).getByTestId("webhook-attempt-status")).toHaveTextContent("200");
    expect(within(row).getByText("Succeeded")).toBeInTheDocument();
    expect(within(row).getByText("42 ms")).toBeInTheDocument();
    expect(within(row).getByText("ev-ping")).toBeInTheDocument();

    await user.click(within(row).getByRole("button", { name: "Response" }));
    expect(screen.getByTestId("webhook-attempt-response")).toHaveTextContent('{"ok":true}');

    await user.click(within(row).getByRole("button", { name: "Retry event ev-ping" }));
    expect(await screen.findByText("Event ev-ping queued to be sent again.")).toBeInTheDocument();
    expect(requests.some((r) => r.method === "POST" && r.url.pathname.endsWith("/ev-ping/retry"))).toBe(true);
  });

  it("shows an attempt that got no answer", async () => {
    stubApi({
      ...signedIn,
      "GET /api/v1/webhook-endpoints/we1": () => endpoint(),
      "GET /api/v1/webhook-endpoints/we1/attempts": () => ({
        data: [
          attempt({ status_code: null, succeeded: false, response_body: null, error: "connection refused" }),
        ],
        has_more: false,
      }),
    });
    renderApp("/webhooks/we1");
    const row = await screen.findByTestId("webhook-attempt-row");
    expect(within(row).getByTestId("webhook-attempt-status")).toHaveTextContent("no answer");
    expect(within(row).getByText("Failed")).toBeInTheDocument();
    expect(within(row).getByText("connection refused")).toBeInTheDocument();
    expect(within(row).queryByRole("button", { name: "Response" })).not.toBeInTheDocument();
  });

  it("disables a failing endpoint, after which a test is refused with the API's reason", async () => {
    let current = endpoint({ failing_since: "2026-11-24T08:00:00Z" });
    const patched: unknown[] = [];
    stubApi({
      ...signedIn,
      ...noAttempts,
      "GET /api/v1/webhook-endpoints": () => ({ data: [current], has_more: false }),
      "GET /api/v1/webhook-endpoints/we1": () => current,
      "PATCH /api/v1/webhook-endpoints/we1": async (request) => {
        const body = (await request.json()) as { enabled: boolean };
        patched.push(body);
        current = { ...current, enabled: body.enabled };
        return current;
      },
      "POST /api/v1/webhook-endpoints/we1/test": () =>
        problem(409, "webhook_endpoint_disabled", { detail: "The endpoint is disabled; enable it first." }),
    });
    const user = userEvent.setup();
    renderApp("/webhooks/we1");
    expect(await screen.findByTestId("webhook-failing-since")).toHaveTextContent("Deliveries are failing");
    const toggle = screen.getByRole("switch", { name: /^Send events to this endpoint/ });
    expect(toggle).toBeChecked();

    await user.click(toggle);
    expect(
      await screen.findByText("The endpoint is disabled: no events are sent to it."),
    ).toBeInTheDocument();
    await waitFor(() => expect(toggle).not.toBeChecked());
    expect(screen.getByTestId("webhook-endpoint-status")).toHaveTextContent("Disabled");
    expect(patched).toEqual([{ enabled: false }]);

    await user.click(screen.getByRole("button", { name: "Send test" }));
    const refusal = (await screen.findByText("The test was not sent")).closest("[role=alert]");
    expect(refusal).toHaveTextContent("The endpoint is disabled; enable it first.");
  });

  it("says why Vigil disabled an endpoint until it is enabled again", async () => {
    let current = endpoint({
      enabled: false,
      disabled_reason: "The endpoint answered 410 Gone.",
      failing_since: "2026-11-20T08:00:00Z",
    });
    stubApi({
      ...signedIn,
      ...noAttempts,
      "GET /api/v1/webhook-endpoints": () => ({ data: [current], has_more: false }),
      "GET /api/v1/webhook-endpoints/we1": () => current,
      "PATCH /api/v1/webhook-endpoints/we1": () => {
        current = { ...current, enabled: true, disabled_reason: null, failing_since: null };
        return current;
      },
    });
    const user = userEvent.setup();
    renderApp("/webhooks/we1");
    const reason = await screen.findByTestId("webhook-disabled-reason");
    expect(reason).toHaveTextContent("The endpoint answered 410 Gone.");
    expect(screen.queryByTestId("webhook-failing-since")).not.toBeInTheDocument();
    await user.click(screen.getByRole("switch", { name: /^Send events to this endpoint/ }));
    await waitFor(() => expect(screen.queryByTestId("webhook-disabled-reason")).not.toBeInTheDocument());
    expect(screen.getByTestId("webhook-endpoint-status")).toHaveTextContent("Enabled");
  });

  it("edits an endpoint, with the API's objections next to the fields", async () => {
    let current = endpoint({ event_types: ["alert.created"] });
    const patched: unknown[] = [];
    stubApi({
      ...signedIn,
      ...noAttempts,
      "GET /api/v1/webhook-endpoints": () => ({ data: [current], has_more: false }),
      "GET /api/v1/webhook-endpoints/we1": () => current,
      "PATCH /api/v1/webhook-endpoints/we1": async (request) => {
        const body = (await request.json()) as Partial<WebhookEndpoint>;
        patched.push(body);
        if (patched.length === 1) {
          return problem(422, "validation_failed", { errors: { url: ["points inside"] } });
        }
        current = { ...current, ...body };
        return current;
      },
    });
    const user = userEvent.setup();
    renderApp("/webhooks/we1");
    await user.click(await screen.findByRole("button", { name: "Edit" }));
    const dialog = await screen.findByRole("dialog", { name: "Edit webhook endpoint" });
    const url = within(dialog).getByLabelText(/^URL/);
    expect(url).toHaveValue("https://hooks.acme.test/vigil");
    await user.clear(url);
    await user.type(url, "https://10.0.0.1/hooks");
    await user.click(within(dialog).getByRole("button", { name: "Save endpoint" }));
    expect(await within(dialog).findByText("points inside")).toBeInTheDocument();

    await user.clear(url);
    await user.type(url, "https://new.acme.test/hooks");
    await user.clear(within(dialog).getByLabelText(/^Description/));
    await user.type(within(dialog).getByLabelText(/^Description/), "CRM");
    await user.click(within(dialog).getByRole("button", { name: "Save endpoint" }));
    expect(await screen.findByText("Endpoint saved.")).toBeInTheDocument();
    expect(await screen.findByRole("heading", { name: "CRM" })).toBeInTheDocument();
    expect(screen.getByTestId("webhook-endpoint-url")).toHaveTextContent("https://new.acme.test/hooks");
    expect(patched.at(-1)).toEqual({
      url: "https://new.acme.test/hooks",
      description: "CRM",
      event_types: ["alert.created"],
    });
  });

  it("rotates the secret, showing the new one once and how long the old one still signs", async () => {
    stubApi({
      ...signedIn,
      ...noAttempts,
      "GET /api/v1/webhook-endpoints/we1": () => endpoint(),
      "POST /api/v1/webhook-endpoints/we1/rotate-secret": () => ({
        secret: "whsec_new",
        previous_secret_expires_at: "2026-11-26T12:00:00Z",
      }),
    });
    const user = userEvent.setup();
    renderApp("/webhooks/we1");
    await user.click(await screen.findByRole("button", { name: "Rotate secret" }));
    const dialog = await screen.findByRole("dialog", { name: "Rotate the signing secret" });
    await user.click(within(dialog).getByRole("button", { name: "Rotate secret" }));
    expect(await within(dialog).findByTestId("secret")).toHaveTextContent("whsec_new");
    expect(within(dialog).getByTestId("previous-secret-expires-at")).toHaveTextContent(
      dayjs("2026-11-26T12:00:00Z").format("MMM D, YYYY HH:mm"),
    );
  });

  it("recovers the events missed since a time, and shows a time too far back next to it", async () => {
    let calls = 0;
    const requests = stubApi({
      ...signedIn,
      ...noAttempts,
      "GET /api/v1/webhook-endpoints/we1": () => endpoint(),
      "POST /api/v1/webhook-endpoints/we1/recover": () =>
        ++calls === 1
          ? problem(422, "validation_failed", {
              errors: { since: ["must be within the last 30 days: older events are not kept"] },
            })
          : json({ queued: 3 }, 202),
    });
    const user = userEvent.setup();
    renderApp("/webhooks/we1");
    const since = await screen.findByLabelText(/^Recover since/);
    expect(since).toHaveValue(dayjs().subtract(24, "hour").format("YYYY-MM-DDTHH:mm"));

    fireEvent.change(since, { target: { value: "2026-01-01T00:00" } });
    await user.click(screen.getByRole("button", { name: "Recover" }));
    expect(await screen.findByText(/must be within the last 30 days/)).toBeInTheDocument();
    expect(since).toHaveAttribute("aria-invalid", "true");

    fireEvent.change(since, { target: { value: "2026-11-25T10:00" } });
    await user.click(screen.getByRole("button", { name: "Recover" }));
    expect(await screen.findByText("3 events queued to be sent again.")).toBeInTheDocument();
    const recover = requests.filter((r) => r.url.pathname.endsWith("/recover")).at(-1);
    expect(recover?.url.searchParams.get("since")).toBe(
      dayjs("2026-11-25T10:00").toISOString().replace(".000Z", "Z"),
    );
  });

  it("deletes an endpoint only once confirmed", async () => {
    let deleted = false;
    stubApi({
      ...signedIn,
      ...noAttempts,
      "GET /api/v1/webhook-endpoints": () => ({ data: deleted ? [] : [endpoint()], has_more: false }),
      "GET /api/v1/webhook-endpoints/we1": () => endpoint(),
      "DELETE /api/v1/webhook-endpoints/we1": () => {
        deleted = true;
        return new Response(null, { status: 204 });
      },
    });
    const user = userEvent.setup();
    renderApp("/webhooks/we1");
    await user.click(await screen.findByRole("button", { name: "Delete" }));
    let dialog = await screen.findByRole("dialog", { name: "Delete this endpoint?" });
    await user.click(within(dialog).getByRole("button", { name: "Keep it" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).not.toBeInTheDocument());
    expect(deleted).toBe(false);

    await user.click(screen.getByRole("button", { name: "Delete" }));
    dialog = await screen.findByRole("dialog", { name: "Delete this endpoint?" });
    await user.click(within(dialog).getByRole("button", { name: "Delete endpoint" }));
    expect(await screen.findByText("Webhook endpoint deleted.")).toBeInTheDocument();
    expect(await screen.findByText("No webhook endpoints yet.")).toBeInTheDocument();
    expect(deleted).toBe(true);
  });

  it("is not in the navigation of a manager", async () => {
    stubApi({
      ...signedIn,
      "POST /api/v1/auth/refresh": () => json({ ...session, user: { ...session.user, role: "MANAGER" } }),
      "GET /api/v1/alerts": () => ({ data: [], page: 1, per_page: 20, total: 0 }),
    });
    renderApp("/alerts");
    expect(await screen.findByRole("link", { name: "Alerts" })).toBeInTheDocument();
    expect(screen.queryByRole("link", { name: "Webhooks" })).not.toBeInTheDocument();
    expect(screen.queryByRole("link", { name: "API keys" })).not.toBeInTheDocument();
  });

  it("is where a webhook-endpoint-disabled alert leads", async () => {
    const disabledAlert = alert({
      type: "WEBHOOK_ENDPOINT_DISABLED",
      severity: "warning",
      title: "A webhook endpoint was disabled",
      message: "The endpoint answered 410 Gone.",
      related_data: { endpoint_id: "we1", url: "https://hooks.acme.test/vigil", reason: "Gone" },
    });
    stubApi({
      ...signedIn,
      ...noAttempts,
      "GET /api/v1/alerts": () => ({ data: [disabledAlert], page: 1, per_page: 20, total: 1 }),
      "POST /api/v1/alerts/a1/read": () => ({ ...disabledAlert, read: true }),
      "GET /api/v1/webhook-endpoints/we1": () =>
        endpoint({ enabled: false, disabled_reason: "The endpoint answered 410 Gone." }),
    });
    const user = userEvent.setup();
    renderApp("/alerts");
    const row = await screen.findByTestId("alert-row");
    expect(within(row).getByTestId("alert-type")).toHaveTextContent("Webhook endpoint disabled");
    await user.click(
      within(row).getByRole("button", { name: "Open alert: A webhook endpoint was disabled" }),
    );
    const dialog = await screen.findByRole("dialog", { name: "A webhook endpoint was disabled" });
    await user.click(within(dialog).getByRole("link", { name: "Open the endpoint" }));
    expect(await screen.findByTestId("webhook-disabled-reason")).toHaveTextContent("410 Gone");
  });
});
