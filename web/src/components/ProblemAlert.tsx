import { Alert, Anchor, Button, Group, List, Stack, Text } from "@mantine/core";
import { IconAlertTriangle, IconArrowUpRight } from "@tabler/icons-react";
import { Link } from "react-router";
import { asProblem } from "../api/problem";
import type { components } from "../api/schema";
import { formatBytes, humanize } from "../lib/format";

type PlanLimit = components["schemas"]["PlanLimit"];

/** "Employees: 5 of 5"; storage limits come in bytes. */
function limitUsage(limit: PlanLimit): string {
  if (limit.limit === "max_storage_gb") {
    return `Storage: ${formatBytes(limit.current_usage)} of ${formatBytes(limit.max)}`;
  }
  return `${humanize(limit.limit.replace(/^max_/, ""))}: ${limit.current_usage} of ${limit.max}`;
}

interface Props {
  error: unknown;
  /** Fields shown next to their inputs; their messages are not repeated here. */
  fieldsShown?: string[];
  title?: string;
  onRetry?: () => void;
  /** Offered on a stale `If-Match` (412 `precondition_failed`): loads the latest version into the form. */
  onReload?: () => void;
}

const STALE_TITLE = "This was changed by someone else since you opened it";
const STALE_DETAIL =
  "Nothing was saved, and your edits are still here. Reload the latest version to see what changed " +
  "(it replaces your edits), then make your change again.";

/**
 * An API problem where it happened: its detail, the field messages no input shows, an upgrade link for plan
 * limits and missing features, a reload for an edit of a stale version, and the request id to quote.
 */
export function ProblemAlert({ error, fieldsShown = [], title, onRetry, onReload }: Props) {
  const problem = asProblem(error);
  const stale = problem.isStaleVersion;
  const { plan_limit: limit, request_id: requestId, hosted_invoice_url: invoiceUrl } = problem.problem;
  const otherFields = Object.entries(problem.fieldErrors).filter(([field]) => !fieldsShown.includes(field));
  return (
    <Alert
      color={problem.wantsUpgrade ? "orange" : "red"}
      icon={<IconAlertTriangle size={18} />}
      title={title ?? (stale ? STALE_TITLE : problem.problem.title)}
      role="alert"
    >
      <Stack gap="xs">
        <Text size="sm">{stale ? STALE_DETAIL : problem.problem.detail}</Text>
        {limit && (
          <Text size="sm">
            {limitUsage(limit)} on the {limit.tier} plan.
          </Text>
        )}
        {otherFields.length > 0 && (
          <List size="sm">
            {otherFields.map(([field, messages]) => (
              <List.Item key={field}>
                {humanize(field)}: {messages.join("; ")}
              </List.Item>
            ))}
          </List>
        )}
        {(problem.wantsUpgrade || onRetry || (stale && onReload) || invoiceUrl) && (
          <Group gap="sm">
            {invoiceUrl && (
              <Button
                component="a"
                href={invoiceUrl}
                target="_blank"
                rel="noopener noreferrer"
                size="xs"
                rightSection={<IconArrowUpRight size={14} />}
              >
                Pay the invoice on Stripe
              </Button>
            )}
            {problem.wantsUpgrade && (
              <Button
                component={Link}
                to="/billing/upgrade"
                size="xs"
                color="orange"
                rightSection={<IconArrowUpRight size={14} />}
              >
                {limit?.upgrade_tier ? `Upgrade to ${humanize(limit.upgrade_tier)}` : "Upgrade your plan"}
              </Button>
            )}
            {stale && onReload && (
              <Button size="xs" variant="light" onClick={onReload}>
                Reload latest
              </Button>
            )}
            {onRetry && (
              <Anchor component="button" type="button" size="sm" onClick={onRetry}>
                Try again
              </Anchor>
            )}
          </Group>
        )}
        {requestId && (
          <Text size="xs" c="dimmed">
            Request id: {requestId}
          </Text>
        )}
      </Stack>
    </Alert>
  );
}
