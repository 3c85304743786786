import type { QueryClient, QueryKey } from "@tanstack/react-query";
import { api, call } from "../api/client";

export const alertKeys = {
  all: ["alerts"] as const,
  unread: ["alerts", "unread-count"] as const,
};

export function fetchUnreadCount() {
  return call(api.GET("/api/v1/alerts/unread-count"));
}

/** What a new alert may have changed: the alert lists and badge, and what alerts follow (a failed payment, an
 * agent gone offline). */
const LIVE_KEYS: readonly QueryKey[] = [alertKeys.all, ["billing"], ["agents"]];

/**
 * Refetches everything an alert may have changed, including fetches already in flight: those may have read
 * the database before the change. `invalidateQueries` restarts an in-flight fetch only when the query already
 * has data (query-core's `Query.fetch` honours `cancelRefetch` only then); a query's first fetch is joined
 * instead, its older answer then lands and clears the invalidation, and the new alert never shows. So
 * in-flight fetches are cancelled first, silently and back to the state before them, and then refetched.
 */
export function refreshAfterAlert(queryClient: QueryClient): void {
  for (const queryKey of LIVE_KEYS) {
    void queryClient.cancelQueries({ queryKey, fetchStatus: "fetching" }, { silent: true });
    void queryClient.invalidateQueries({ queryKey });
  }
}
