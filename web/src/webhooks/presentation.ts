import type { EventType, WebhookEndpoint } from "../api/types";

/** The types an endpoint may ask for: `ping` is sent by "Send test" only. */
export type SubscribableEventType = Exclude<EventType, "ping">;

/** What each event type tells the receiver, in the order the pickers list them. */
export const EVENT_TYPES: Record<SubscribableEventType, string> = {
  "alert.created": "An alert was raised.",
  "alert.resolved": "An alert was resolved.",
  "subscription.updated": "The plan or its status changed.",
  "invoice.paid": "An invoice was paid.",
  "invoice.payment_failed": "A payment of an invoice failed.",
  "employee.created": "An employee was added.",
  "employee.updated": "An employee's details changed.",
  "employee.deactivated": "An employee was deactivated.",
  "agent.enrolled": "An agent was enrolled.",
  "agent.offline": "An agent stopped reporting.",
  "usage.high": "Usage is close to a plan limit.",
};

export const EVENT_TYPE_OPTIONS = (Object.keys(EVENT_TYPES) as SubscribableEventType[]).map((type) => ({
  value: type,
  label: type,
}));

/** The endpoint's types as the pickers hold them (an endpoint never lists `ping`). */
export function subscribedTypes(endpoint: Pick<WebhookEndpoint, "event_types">): SubscribableEventType[] {
  return endpoint.event_types.filter((type): type is SubscribableEventType => type !== "ping");
}

/** "Enabled", "Failing" or "Disabled", with its colour. */
export function endpointStatus(endpoint: WebhookEndpoint): { label: string; color: string } {
  if (!endpoint.enabled) return { label: "Disabled", color: "gray" };
  if (endpoint.failing_since) return { label: "Failing", color: "orange" };
  return { label: "Enabled", color: "teal" };
}
