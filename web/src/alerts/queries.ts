import { api, call } from "../api/client";

export const alertKeys = {
  all: ["alerts"] as const,
  unread: ["alerts", "unread-count"] as const,
};

export function fetchUnreadCount() {
  return call(api.GET("/api/v1/alerts/unread-count"));
}
