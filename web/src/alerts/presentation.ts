import type { Alert, AlertType, Severity } from "../api/types";

export const SEVERITY_COLOR: Record<Severity, string> = {
  critical: "red",
  warning: "orange",
  info: "blue",
};

export function severityColor(severity: Severity): string {
  return SEVERITY_COLOR[severity];
}

/** Each type's colour, and what it means, for the badges and the legend. */
export const ALERT_TYPES: Record<AlertType, { label: string; color: string; meaning: string }> = {
  AGENT_OFFLINE: { label: "Agent offline", color: "gray", meaning: "An agent stopped reporting." },
  PAYMENT_FAILED: { label: "Payment failed", color: "red", meaning: "Stripe could not collect a payment." },
  PAYMENT_RECOVERED: { label: "Payment recovered", color: "teal", meaning: "A failed payment went through." },
  SUBSCRIPTION_EXPIRING: {
    label: "Subscription expiring",
    color: "yellow",
    meaning: "The plan ends soon and will not renew.",
  },
  SUBSCRIPTION_CANCELLED: {
    label: "Subscription cancelled",
    color: "pink",
    meaning: "The paid plan ended; Free limits apply.",
  },
  USAGE_HIGH: { label: "Usage high", color: "orange", meaning: "Usage is close to a plan limit." },
  POLICY_CHANGED: { label: "Policy changed", color: "indigo", meaning: "The monitoring policy was edited." },
  OVER_PLAN_LIMIT: {
    label: "Over plan limit",
    color: "red",
    meaning: "Usage exceeds the plan's limits; agents past the limit are suspended.",
  },
  DATA_DELETION_SCHEDULED: {
    label: "Deletion scheduled",
    color: "grape",
    meaning: "Data kept past a shortened retention will be deleted on the date given.",
  },
  API_KEYS_REVOKED: {
    label: "API keys revoked",
    color: "red",
    meaning: "A user was disabled, removed or demoted, so the API keys they created stopped working.",
  },
  DUPLICATE_SUBSCRIPTION_CANCELLED: {
    label: "Duplicate subscription cancelled",
    color: "yellow",
    meaning:
      "A second paid subscription was found; the newest one was kept and the other cancelled with a credit.",
  },
  WEBHOOK_ENDPOINT_DISABLED: {
    label: "Webhook endpoint disabled",
    color: "orange",
    meaning: "Vigil stopped sending events to an endpoint that answered 410 Gone or failed for 5 days.",
  },
};

/** Where the user deals with an alert, for the types whose cure is on another page; null for the others. */
export function alertAction(
  alert: Pick<Alert, "type" | "related_data">,
): { to: string; label: string } | null {
  if (alert.type === "WEBHOOK_ENDPOINT_DISABLED") {
    const data = alert.related_data;
    const endpointId =
      typeof data === "object" && data !== null && "endpoint_id" in data ? data.endpoint_id : undefined;
    return typeof endpointId === "string"
      ? { to: `/webhooks/${encodeURIComponent(endpointId)}`, label: "Open the endpoint" }
      : { to: "/webhooks", label: "Open webhooks" };
  }
  return null;
}
