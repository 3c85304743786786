import { Card, Group, Progress, SimpleGrid, Text } from "@mantine/core";
import type { BillingDashboard, UsageItem } from "../api/types";
import { formatBytes } from "../lib/format";

function color(percent: number | null | undefined): string {
  if (percent === null || percent === undefined) return "blue";
  return percent >= 100 ? "red" : percent >= 80 ? "orange" : "blue";
}

interface Measure {
  key: string;
  label: string;
  format: (n: number) => string;
}

/**
 * The measures a usage may hold. Read tolerantly, by key: storage is reported in GB today and in bytes by
 * newer servers, and a measure the server does not send is not shown.
 */
const MEASURES: Measure[] = [
  { key: "active_employees", label: "Employees", format: String },
  { key: "agents", label: "Agents", format: String },
  { key: "storage_gb", label: "Storage", format: (n) => `${n} GB` },
  { key: "storage_bytes", label: "Storage", format: formatBytes },
];

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
  const items = usage as unknown as Record<string, UsageItem | undefined>;
  return (
    <SimpleGrid cols={{ base: 1, sm: 3 }}>
      {MEASURES.map((measure) => {
        const item = items[measure.key];
        return item ? (
          <UsageBar key={measure.key} label={measure.label} item={item} format={measure.format} />
        ) : null;
      })}
    </SimpleGrid>
  );
}
