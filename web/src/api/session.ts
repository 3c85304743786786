import type { Session } from "./types";

/**
 * The access token lives here, in memory only: never in storage, so a script injected elsewhere cannot read a
 * lasting credential. The refresh token is an HttpOnly cookie the browser sends to /api/v1/auth only.
 */
let accessToken: string | null = null;
let refreshing: Promise<Session | null> | null = null;
const expiredListeners = new Set<() => void>();
const sessionListeners = new Set<(session: Session) => void>();

export function getAccessToken(): string | null {
  return accessToken;
}

export function setSession(session: Session | null): void {
  accessToken = session?.access_token ?? null;
  if (session) sessionListeners.forEach((listener) => listener(session));
}

/** Called when a 401 could not be cured by a refresh: the user must sign in again. */
export function onSessionExpired(listener: () => void): () => void {
  expiredListeners.add(listener);
  return () => expiredListeners.delete(listener);
}

/** Called with every new session (sign-in, refresh), e.g. to schedule the next refresh. */
export function onSession(listener: (session: Session) => void): () => void {
  sessionListeners.add(listener);
  return () => sessionListeners.delete(listener);
}

export function expireSession(): void {
  accessToken = null;
  expiredListeners.forEach((listener) => listener());
}

/**
 * Renews the session through the refresh cookie. Concurrent callers share one request: every refresh rotates
 * the cookie, and presenting a used one ends the whole session family.
 */
export function refreshSession(): Promise<Session | null> {
  refreshing ??= (async () => {
    try {
      const response = await globalThis.fetch(`${window.location.origin}/api/v1/auth/refresh`, {
        method: "POST",
        credentials: "same-origin",
        headers: { accept: "application/json" },
      });
      if (!response.ok) return null;
      const session = (await response.json()) as Session;
      setSession(session);
      return session;
    } catch {
      return null;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}
