import { Card, Group, Progress, SimpleGrid, Text } from "@mantine/core";
import type { BillingDashboard, UsageItem } from "../api/types";

function color(percent: number | null | undefined): string {
  if (percent === null || percent === undefined) return "blue";
  return percent >= 100 ? "red" : percent >= 80 ? "orange" : "blue";
}

function UsageBar({ label, item, unit = "" }: { label: string; item: UsageItem; unit?: string }) {
  const percent = item.percent ?? null;
  const limit = item.limit ?? null;
  return (
    <Card withBorder radius="md" padding="md">
      <Group justify="space-between" mb={6}>
        <Text size="sm" fw={600}>
          {label}
        </Text>
        <Text size="sm" c="dimmed">
          {item.used}
          {unit} of {limit === null ? "unlimited" : `${limit}${unit}`}
        </Text>
      </Group>
      <Progress
        value={percent === null ? 0 : Math.min(percent, 100)}
        color={color(percent)}
        size="lg"
        radius="xl"
        aria-label={`${label}: ${item.used} of ${limit === null ? "unlimited" : limit}`}
      />
    </Card>
  );
}

/** Usage against the plan's limits, as bars that turn orange at 80% and red at the limit. */
export function UsageBars({ usage }: { usage: BillingDashboard["usage"] }) {
  return (
    <SimpleGrid cols={{ base: 1, sm: 3 }}>
      <UsageBar label="Employees" item={usage.active_employees} />
      <UsageBar label="Agents" item={usage.agents} />
      <UsageBar label="Storage" item={usage.storage_gb} unit=" GB" />
    </SimpleGrid>
  );
}
