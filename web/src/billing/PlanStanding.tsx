import { Alert, Anchor, Stack, Text } from "@mantine/core";
import { IconAlertTriangle, IconCreditCardPay, IconTrashX } from "@tabler/icons-react";
import { Link } from "react-router";
import type { BillingDashboard } from "../api/types";
import { formatDate, formatMoney } from "../lib/format";

/**
 * What the company must act on: an invoice to pay (a plan change waiting for its payment, a renewal that
 * failed), usage over the plan's limits, and data whose deletion is scheduled.
 */
export function PlanStanding({ billing }: { billing: BillingDashboard }) {
  const { over_limit: over, retention } = billing;
  const unpaid = billing.recent_invoices.find(
    (invoice) =>
      invoice.status === "OPEN" && invoice.hosted_invoice_url && invoice.amount_due > invoice.amount_paid,
  );
  if (!over && !retention.deletion_scheduled_at && !unpaid) {
    return null;
  }
  return (
    <Stack gap="sm">
      {unpaid && (
        <Alert color="red" icon={<IconCreditCardPay size={18} />} title="Payment required">
          <Text size="sm">
            An invoice of {formatMoney(unpaid.amount_due - unpaid.amount_paid, unpaid.currency)}
            {unpaid.due_at ? `, due ${formatDate(unpaid.due_at)},` : ""} is unpaid. A plan change waiting for
            it takes effect once it is paid.{" "}
            <Anchor href={unpaid.hosted_invoice_url ?? undefined} target="_blank" rel="noreferrer" size="sm">
              Pay it on Stripe
            </Anchor>
          </Text>
        </Alert>
      )}
      {over && (
        <Alert color="red" icon={<IconAlertTriangle size={18} />} title="Over the plan's limits">
          <Text size="sm">
            {over.summary.charAt(0).toUpperCase() + over.summary.slice(1)}. Remove them or{" "}
            <Anchor component={Link} to="/billing/upgrade" size="sm">
              upgrade
            </Anchor>
            ; until then nothing more can be added.
          </Text>
          {over.suspended_agents > 0 && (
            <Text size="sm" mt="xs">
              {over.suspended_agents === 1
                ? "1 agent is suspended and records nothing"
                : `${over.suspended_agents} agents are suspended and record nothing`}{" "}
              (the ones enrolled last; see{" "}
              <Anchor component={Link} to="/agents" size="sm">
                Agents
              </Anchor>
              ).
            </Text>
          )}
        </Alert>
      )}
      {retention.deletion_scheduled_at && (
        <Alert color="orange" icon={<IconTrashX size={18} />} title="Deletion scheduled">
          <Text size="sm">
            The plan that applies now keeps {retention.plan_days} days of activity and screenshots. Older data
            (up to {retention.kept_days} days) will be deleted on{" "}
            {formatDate(retention.deletion_scheduled_at)} unless you upgrade or settle the payment before
            then.
          </Text>
        </Alert>
      )}
    </Stack>
  );
}
