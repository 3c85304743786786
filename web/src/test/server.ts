import { vi } from "vitest";

type Handler = (request: Request, url: URL) => unknown;

/** A JSON answer, or a problem+json one when `status` is an error. */
export function json(body: unknown, status = 200): Response {
  const type = status >= 400 ? "application/problem+json" : "application/json";
  return new Response(JSON.stringify(body), { status, headers: { "content-type": type } });
}

/** A 200 JSON answer carrying the `ETag` of the version it shows. */
export function tagged(body: unknown, etag: string): Response {
  const response = json(body);
  response.headers.set("ETag", etag);
  return response;
}

export function problem(status: number, code: string, extra: Record<string, unknown> = {}): Response {
  return json(
    {
      type: `https://docs.vigil.dev/problems/${code}`,
      title: "Problem",
      status,
      code,
      detail: `detail of ${code}`,
      request_id: "req-123",
      ...extra,
    },
    status,
  );
}

/**
 * Stubs fetch with routes keyed "METHOD /path"; a handler returns a Response or a body for 200. Unrouted
 * requests fail the test loudly. Returns the log of requests made.
 */
export function stubApi(routes: Record<string, Handler>) {
  const requests: { method: string; url: URL; request: Request }[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = input instanceof Request ? input : new Request(input, init);
      const url = new URL(request.url);
      requests.push({ method: request.method, url, request });
      const handler = routes[`${request.method} ${url.pathname}`];
      if (!handler) throw new Error(`unexpected ${request.method} ${url.pathname}`);
      const answer = await handler(request, url);
      return answer instanceof Response ? answer : json(answer);
    }),
  );
  return requests;
}

/** An EventSource the test drives. */
export class FakeEventSource {
  static instances: FakeEventSource[] = [];
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  closed = false;
  private listeners = new Map<string, ((event: MessageEvent) => void)[]>();

  constructor(readonly url: string) {
    FakeEventSource.instances.push(this);
  }

  addEventListener(type: string, listener: (event: MessageEvent) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  close() {
    this.closed = true;
  }

  open() {
    this.onopen?.();
  }

  emit(type: string, data: unknown, lastEventId = "") {
    const event = new MessageEvent(type, { data: JSON.stringify(data), lastEventId });
    this.listeners.get(type)?.forEach((listener) => listener(event));
  }

  fail() {
    this.onerror?.();
  }
}
