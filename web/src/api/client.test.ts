import { afterEach, describe, expect, it, vi } from "vitest";
import { session } from "../test/fixtures";
import { json, problem, stubApi, tagged } from "../test/server";
import { api, call, callVersioned, ifMatch } from "./client";
import { ApiProblem } from "./problem";
import { getAccessToken, onSessionExpired, setSession } from "./session";

afterEach(() => setSession(null));

describe("the API client", () => {
  it("sends the access token, renews it once on a 401 through the cookie, and retries", async () => {
    setSession({ ...session, access_token: "old" });
    const requests = stubApi({
      "GET /api/v1/me": (request) =>
        request.headers.get("authorization") === "Bearer new"
          ? { user: session.user, company: session.company }
          : problem(401, "unauthenticated"),
      "POST /api/v1/auth/refresh": () => json({ ...session, access_token: "new" }),
    });
    const me = await call(api.GET("/api/v1/me"));
    expect(me.user.email).toBe("ada@acme.test");
    expect(getAccessToken()).toBe("new");
    expect(requests.map((r) => `${r.method} ${r.url.pathname}`)).toEqual([
      "GET /api/v1/me",
      "POST /api/v1/auth/refresh",
      "GET /api/v1/me",
    ]);
    expect(requests[0]?.request.headers.get("authorization")).toBe("Bearer old");
  });

  it("ends the session when the refresh is refused, and throws the problem", async () => {
    setSession(session);
    const expired = vi.fn();
    const unsubscribe = onSessionExpired(expired);
    stubApi({
      "GET /api/v1/billing": () => problem(401, "unauthenticated"),
      "POST /api/v1/auth/refresh": () => problem(401, "unauthenticated"),
    });
    await expect(call(api.GET("/api/v1/billing"))).rejects.toMatchObject({ code: "unauthenticated" });
    expect(expired).toHaveBeenCalledOnce();
    expect(getAccessToken()).toBeNull();
    unsubscribe();
  });

  it("does not refresh when a sign-in is refused: the form shows the problem", async () => {
    const requests = stubApi({
      "POST /api/v1/auth/login": () => problem(401, "invalid_credentials"),
    });
    const error = await call(
      api.POST("/api/v1/auth/login", { body: { email: "a@b.c", password: "x" } }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiProblem);
    expect((error as ApiProblem).code).toBe("invalid_credentials");
    expect(requests).toHaveLength(1);
  });

  it("shares one refresh between concurrent 401s", async () => {
    setSession({ ...session, access_token: "old" });
    const requests = stubApi({
      "GET /api/v1/tiers": (request) =>
        request.headers.get("authorization") === "Bearer new" ? [] : problem(401, "unauthenticated"),
      "POST /api/v1/auth/refresh": () => json({ ...session, access_token: "new" }),
    });
    await Promise.all([call(api.GET("/api/v1/tiers")), call(api.GET("/api/v1/tiers"))]);
    expect(requests.filter((r) => r.url.pathname === "/api/v1/auth/refresh")).toHaveLength(1);
  });

  it("reads a resource with its ETag, and sends it back as If-Match", async () => {
    setSession(session);
    const requests = stubApi({
      "GET /api/v1/billing/settings": () => tagged({ auto_renewal: true }, '"v3"'),
      "PATCH /api/v1/billing/settings": () => problem(412, "precondition_failed"),
    });
    const read = await callVersioned(api.GET("/api/v1/billing/settings"));
    expect(read).toEqual({ value: { auto_renewal: true }, etag: '"v3"' });
    const write = api.PATCH("/api/v1/billing/settings", {
      params: { header: ifMatch(read.etag) },
      body: { auto_renewal: false },
    });
    const error = await callVersioned(write).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "precondition_failed", isStaleVersion: true });
    expect(requests[1]?.request.headers.get("if-match")).toBe('"v3"');
    expect(ifMatch(null)).toEqual({});
  });
});
