import { Alert, Badge, Card, Group, List, Stack, Text, ThemeIcon, Title } from "@mantine/core";
import { IconCheck, IconX } from "@tabler/icons-react";
import type { BillingDashboard } from "../api/types";
import { formatDate, formatMoney, humanize } from "../lib/format";
import { FEATURE_LABELS, SubscriptionStatusBadge, limitText } from "./presentation";

/** The current plan: name, price, renewal or end, status, and what it includes. */
export function PlanCard({ billing }: { billing: BillingDashboard }) {
  const { tier, subscription } = billing;
  const features = Object.entries(FEATURE_LABELS) as [keyof typeof FEATURE_LABELS, string][];
  return (
    <Card withBorder radius="md" padding="lg" data-testid="plan-card">
      <Group justify="space-between" align="flex-start" wrap="wrap">
        <Stack gap={4}>
          <Text size="sm" c="dimmed">
            Current plan
          </Text>
          <Group gap="xs">
            <Title order={2} data-testid="plan-name">
              {tier.name}
            </Title>
            <SubscriptionStatusBadge status={subscription.status} />
            {subscription.tier !== subscription.effective_tier && (
              <Badge color="gray" variant="outline">
                Subscribed: {subscription.tier}
              </Badge>
            )}
          </Group>
        </Stack>
        <Stack gap={0} align="flex-end">
          <Text fz={28} fw={700}>
            {formatMoney(billing.price_minor, billing.currency)}
          </Text>
          <Text size="sm" c="dimmed">
            per month
          </Text>
        </Stack>
      </Group>
      <Text size="sm" mt="sm">
        {billing.ends_at
          ? subscription.cancel_at
            ? `Ends on ${formatDate(billing.ends_at)}, the cancellation date set in the billing portal; it will not renew.`
            : `Ends on ${formatDate(billing.ends_at)}; it will not renew.`
          : billing.renews_at
            ? `Renews on ${formatDate(billing.renews_at)}.`
            : "No renewal: the Free plan costs nothing."}
      </Text>
      {subscription.scheduled_change && (
        <Alert color="blue" mt="sm" title="Plan change scheduled" data-testid="scheduled-change">
          Your plan changes to {humanize(subscription.scheduled_change.tier)} on{" "}
          {formatDate(subscription.scheduled_change.at)}, at the end of the period you paid for; until then
          you keep {tier.name}.
        </Alert>
      )}
      {billing.grace_period && (
        <Alert color="red" mt="sm" title="Payment overdue">
          Update your payment method: your plan's limits hold until {formatDate(billing.grace_period.ends_at)}{" "}
          ({billing.grace_period.days_left} days left).
        </Alert>
      )}
      <Group mt="md" gap="xl" align="flex-start" wrap="wrap">
        <Stack gap={4}>
          <Text size="sm" fw={600}>
            Limits
          </Text>
          <Text size="sm">Employees: {limitText(tier.max_employees)}</Text>
          <Text size="sm">Agents: {limitText(tier.max_agents)}</Text>
          <Text size="sm">Storage: {limitText(tier.max_storage_gb, " GB")}</Text>
          <Text size="sm">Data kept {tier.retention_days} days</Text>
        </Stack>
        <Stack gap={4}>
          <Text size="sm" fw={600}>
            Features
          </Text>
          <List spacing={2} size="sm" center>
            {features.map(([key, label]) => (
              <List.Item
                key={key}
                icon={
                  <ThemeIcon
                    size={18}
                    radius="xl"
                    color={tier.features[key] ? "teal" : "gray"}
                    variant="light"
                  >
                    {tier.features[key] ? <IconCheck size={12} /> : <IconX size={12} />}
                  </ThemeIcon>
                }
              >
                <Text size="sm" c={tier.features[key] ? undefined : "dimmed"}>
                  {label}
                  <span className="visually-hidden">
                    {tier.features[key] ? " (included)" : " (not included)"}
                  </span>
                </Text>
              </List.Item>
            ))}
          </List>
        </Stack>
      </Group>
    </Card>
  );
}
