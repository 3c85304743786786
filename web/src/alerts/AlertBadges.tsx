import { Badge, Group } from "@mantine/core";
import type { Alert } from "../api/types";
import { humanize } from "../lib/format";
import { ALERT_TYPES, severityColor } from "./presentation";

/** A type badge in the type's colour, and the severity beside it. */
export function AlertBadges({ alert }: { alert: Pick<Alert, "type" | "severity"> }) {
  const type = ALERT_TYPES[alert.type];
  return (
    <Group gap={6} wrap="wrap">
      <Badge color={type.color} variant="light" data-testid="alert-type">
        {type.label}
      </Badge>
      <Badge
        color={severityColor(alert.severity)}
        variant={alert.severity === "critical" ? "filled" : "outline"}
      >
        {humanize(alert.severity)}
      </Badge>
    </Group>
  );
}
