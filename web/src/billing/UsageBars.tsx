import { Card, Group, Progress, SimpleGrid, Text } from "@mantine/core";
import type { BillingDashboard, UsageItem } from "../api/types";
import { formatBytes } from "../lib/format";

function color(percent: number | null | undefined): string {
  if (percent === null || percent === undefined) return "blue";
  return percent >= 100 ? "red" : percent >= 80 ? "orange" : "blue";
}

function UsageBar({
  label,
  item,
  format,
}: {
  label: string;
  item: UsageItem;
  format: (n: number) => string;
}) {
  const percent = item.percent ?? null;
  const limit = item.limit ?? null;
  const of = `${format(item.used)} of ${limit === null ? "unlimited" : format(limit)}`;
  return (
    <Card withBorder radius="md" padding="md">
      <Group justify="space-between" mb={6}>
        <Text size="sm" fw={600}>
          {label}
        </Text>
        <Text size="sm" c="dimmed">
          {of}
        </Text>
      </Group>
      <Progress
        value={percent === null ? 0 : Math.min(percent, 100)}
        color={color(percent)}
        size="lg"
        radius="xl"
        aria-label={`${label}: ${of}`}
      />
    </Card>
  );
}

/** Usage against the plan's limits, as bars that turn orange at 80% and red at the limit. */
export function UsageBars({ usage }: { usage: BillingDashboard["usage"] }) {
  return (
    <SimpleGrid cols={{ base: 1, sm: 3 }}>
      <UsageBar label="Employees" item={usage.active_employees} format={String} />
      <UsageBar label="Agents" item={usage.agents} format={String} />
      <UsageBar label="Storage" item={usage.storage_bytes} format={formatBytes} />
    </SimpleGrid>
  );
}
