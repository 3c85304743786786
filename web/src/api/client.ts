import createClient from "openapi-fetch";
import type { paths } from "./schema";
import { toProblem } from "./problem";
import { expireSession, getAccessToken, refreshSession } from "./session";

/** Auth endpoints answer 401 for wrong credentials: those must reach the form, not trigger a refresh. */
function isAuthEndpoint(url: string): boolean {
  return new URL(url).pathname.startsWith("/api/v1/auth/");
}

function withToken(request: Request, token: string | null): Request {
  const authorised = new Request(request);
  if (token) authorised.headers.set("Authorization", `Bearer ${token}`);
  return authorised;
}

/**
 * fetch with the access token; a 401 is retried once after a refresh through the cookie, and a 401 that a
 * refresh cannot cure ends the session (the app then sends the user to sign in and back).
 */
export async function authFetch(request: Request): Promise<Response> {
  const retry = request.clone();
  const response = await globalThis.fetch(withToken(request, getAccessToken()));
  if (response.status !== 401 || isAuthEndpoint(request.url)) return response;
  const session = await refreshSession();
  if (!session) {
    expireSession();
    return response;
  }
  return globalThis.fetch(withToken(retry, session.access_token));
}

export const api = createClient<paths>({
  baseUrl: typeof window === "undefined" ? "" : window.location.origin,
  credentials: "same-origin",
  fetch: authFetch,
});

type Pending<D> = Promise<{ data?: D; error?: unknown; response: Response }>;

async function settle<D>(pending: Pending<D>): Promise<{ data: D; response: Response }> {
  let result: Awaited<Pending<D>>;
  try {
    result = await pending;
  } catch {
    throw toProblem(undefined, undefined);
  }
  if (result.error !== undefined || !result.response.ok) {
    throw toProblem(result.error, result.response);
  }
  return { data: result.data as D, response: result.response };
}

/**
 * Awaits an openapi-fetch call and returns its data, or throws the problem+json as an `ApiProblem` (a network
 * failure becomes a `network_error` problem). Made for TanStack Query's queryFn and mutationFn.
 */
export async function call<D>(pending: Pending<D>): Promise<D> {
  return (await settle(pending)).data;
}

/** A resource as read, with the `ETag` of that version (null when the server sent none). */
export interface Versioned<T> {
  value: T;
  etag: string | null;
}

/** `call` for the resources that are edited under `If-Match`: the data together with the response's `ETag`. */
export async function callVersioned<D>(pending: Pending<D>): Promise<Versioned<D>> {
  const { data, response } = await settle(pending);
  return { value: data, etag: response.headers.get("ETag") };
}

/**
 * The header params that make a write apply only to the version `etag` names; none when it is unknown, so the
 * write is not refused for want of a tag.
 */
export function ifMatch(etag: string | null): { "If-Match"?: string } {
  return etag === null ? {} : { "If-Match": etag };
}
