import { Badge } from "@mantine/core";
import type { InvoiceStatus, Subscription, Tier } from "../api/types";
import { humanize } from "../lib/format";

const INVOICE_COLOR: Record<InvoiceStatus, string> = {
  PAID: "teal",
  OPEN: "yellow",
  VOID: "gray",
  DRAFT: "blue",
  UNCOLLECTIBLE: "red",
};

export function InvoiceStatusBadge({ status }: { status: InvoiceStatus }) {
  return (
    <Badge color={INVOICE_COLOR[status]} variant="light">
      {humanize(status)}
    </Badge>
  );
}

const SUBSCRIPTION_COLOR: Record<Subscription["status"], string> = {
  ACTIVE: "teal",
  PAST_DUE: "red",
  INACTIVE: "gray",
  CANCELLED: "gray",
};

export function SubscriptionStatusBadge({ status }: { status: Subscription["status"] }) {
  return (
    <Badge color={SUBSCRIPTION_COLOR[status]} variant="light" data-testid="subscription-status">
      {humanize(status)}
    </Badge>
  );
}

export const FEATURE_LABELS: Record<keyof Tier["features"], string> = {
  activity_tracking: "Activity tracking",
  screenshots: "Screenshots",
  website_tracking: "Website tracking",
  api_access: "API access",
  priority_support: "Priority support",
};

export function limitText(value: number | null | undefined, unit = ""): string {
  return value === null || value === undefined ? "Unlimited" : `${value.toLocaleString("en-US")}${unit}`;
}

/**
 * Whether the company pays for a plan that is still running at Stripe (ACTIVE, or PAST_DUE while Stripe
 * retries): what the settings and upgrade pages offer to change or cancel. The server's counterpart is
 * `SubscriptionStatus::is_live` (api/src/billing/model.rs).
 */
export function hasLivePaidPlan(subscription: Subscription): boolean {
  return (
    subscription.tier !== "FREE" && (subscription.status === "ACTIVE" || subscription.status === "PAST_DUE")
  );
}
