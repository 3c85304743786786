import { Fragment, useState, type ReactNode } from "react";
import {
  Alert,
  Anchor,
  Badge,
  Button,
  Card,
  Center,
  Code,
  Group,
  Loader,
  Modal,
  SimpleGrid,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
  Title,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconAlertTriangle, IconSend } from "@tabler/icons-react";
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import dayjs from "dayjs";
import { Link, useNavigate, useParams } from "react-router";
import { api, call } from "../api/client";
import { fieldError } from "../api/problem";
import type { WebhookAttempt, WebhookEndpoint } from "../api/types";
import { PageHeader } from "../components/PageHeader";
import { ProblemAlert } from "../components/ProblemAlert";
import { QueryState } from "../components/QueryState";
import { SecretOnce } from "../components/SecretOnce";
import { formatDate, formatDateTime, fromNow } from "../lib/format";
import { EndpointForm, type EndpointValues } from "./EndpointForm";
import { subscribedTypes } from "./presentation";
import { webhookKeys } from "./queries";
import { EndpointStatusBadge, EventTypeList } from "./WebhooksPage";

const ATTEMPTS_PER_PAGE = 20;
/** How often the delivery log is read again while it is shown, so that a test ping appears by itself. */
const POLL_MS = 3_000;
/** A `datetime-local` input's value. */
const LOCAL_MINUTE = "YYYY-MM-DDTHH:mm";

function Field({ label, value }: { label: string; value: ReactNode }) {
  return (
    <div>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text size="sm" component="div">
        {value}
      </Text>
    </div>
  );
}

/** Keeps the page and the list in step with an endpoint as the API answered it. */
function useSaved() {
  const queryClient = useQueryClient();
  return (saved: WebhookEndpoint) => {
    queryClient.setQueryData(webhookKeys.endpoint(saved.id), saved);
    void queryClient.invalidateQueries({ queryKey: webhookKeys.list });
  };
}

function EditEndpoint({ endpoint, onDone }: { endpoint: WebhookEndpoint; onDone: () => void }) {
  const saved = useSaved();
  const update = useMutation({
    mutationFn: (values: EndpointValues) =>
      call(
        api.PATCH("/api/v1/webhook-endpoints/{endpoint_id}", {
          params: { path: { endpoint_id: endpoint.id } },
          body: { url: values.url, description: values.description, event_types: values.event_types },
        }),
      ),
    onSuccess: (endpoint) => {
      saved(endpoint);
      notifications.show({ color: "teal", message: "Endpoint saved." });
      onDone();
    },
  });
  return (
    <EndpointForm
      initial={{
        url: endpoint.url,
        description: endpoint.description,
        event_types: subscribedTypes(endpoint),
      }}
      submitLabel="Save endpoint"
      pending={update.isPending}
      error={update.error}
      onSubmit={(values) => update.mutate(values)}
    />
  );
}

function RotateSecret({ endpoint, onDone }: { endpoint: WebhookEndpoint; onDone: () => void }) {
  const queryClient = useQueryClient();
  const rotate = useMutation({
    mutationFn: () =>
      call(
        api.POST("/api/v1/webhook-endpoints/{endpoint_id}/rotate-secret", {
          params: { path: { endpoint_id: endpoint.id } },
        }),
      ),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: webhookKeys.endpoint(endpoint.id) }),
  });
  if (rotate.data) {
    return (
      <Stack>
        <SecretOnce label="New signing secret" secret={rotate.data.secret} />
        <Text size="sm" data-testid="previous-secret-expires-at">
          Until {formatDateTime(rotate.data.previous_secret_expires_at)} every delivery also carries a
          signature of the old secret: switch your receiver to the new one before then.
        </Text>
        <Button onClick={onDone}>Done</Button>
      </Stack>
    );
  }
  const overlapping = dayjs(endpoint.previous_secret_expires_at ?? null).isAfter(dayjs());
  return (
    <Stack>
      <Text size="sm">
        Vigil makes a new signing secret and shows it once. For 24 hours deliveries are signed with both the
        new and the current secret, so your receiver can switch without missing one.
      </Text>
      {overlapping && (
        <Text size="sm" c="orange">
          The secret before the current one, which still signs until{" "}
          {formatDateTime(endpoint.previous_secret_expires_at)}, stops signing at once.
        </Text>
      )}
      {rotate.isError && <ProblemAlert error={rotate.error} />}
      <Group justify="flex-end">
        <Button variant="default" onClick={onDone}>
          Keep the current one
        </Button>
        <Button loading={rotate.isPending} onClick={() => rotate.mutate()}>
          Rotate secret
        </Button>
      </Group>
    </Stack>
  );
}

function DeleteEndpoint({ endpoint, onCancel }: { endpoint: WebhookEndpoint; onCancel: () => void }) {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const remove = useMutation({
    mutationFn: () =>
      call(
        api.DELETE("/api/v1/webhook-endpoints/{endpoint_id}", {
          params: { path: { endpoint_id: endpoint.id } },
        }),
      ),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: webhookKeys.list });
      notifications.show({ color: "teal", message: "Webhook endpoint deleted." });
      void navigate("/webhooks");
    },
  });
  return (
    <Stack>
      <Text size="sm">
        Vigil stops sending events to{" "}
        <Text span ff="monospace" size="sm" style={{ wordBreak: "break-all" }}>
          {endpoint.url}
        </Text>{" "}
        at once, and its delivery log is deleted.
      </Text>
      {remove.isError && <ProblemAlert error={remove.error} />}
      <Group justify="flex-end">
        <Button variant="default" onClick={onCancel}>
          Keep it
        </Button>
        <Button color="red" loading={remove.isPending} onClick={() => remove.mutate()}>
          Delete endpoint
        </Button>
      </Group>
    </Stack>
  );
}

/** "Recover since…": sends again what the endpoint missed since a time (within the 30 days kept). */
function Recover({ endpoint }: { endpoint: WebhookEndpoint }) {
  const queryClient = useQueryClient();
  const [since, setSince] = useState(() => dayjs().subtract(24, "hour").format(LOCAL_MINUTE));
  const [unreadable, setUnreadable] = useState(false);
  const recover = useMutation({
    mutationFn: (at: string) =>
      call(
        api.POST("/api/v1/webhook-endpoints/{endpoint_id}/recover", {
          params: { path: { endpoint_id: endpoint.id }, query: { since: at } },
        }),
      ),
    onSuccess: ({ queued }) => {
      void queryClient.invalidateQueries({ queryKey: webhookKeys.attempts(endpoint.id) });
      notifications.show({
        color: "teal",
        message:
          queued === 0
            ? "Nothing to send again: the endpoint missed no event since then."
            : `${queued} ${queued === 1 ? "event" : "events"} queued to be sent again.`,
      });
    },
  });
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        const at = dayjs(since);
        setUnreadable(!since || !at.isValid());
        if (!since || !at.isValid()) return;
        // RFC 3339 in UTC, to the second.
        recover.mutate(at.toISOString().replace(/\.\d{3}Z$/, "Z"));
      }}
      noValidate
    >
      <Stack gap="xs">
        <Group align="flex-end" gap="sm" wrap="wrap">
          <TextInput
            id="webhook-recover-since"
            label="Recover since"
            description="Sends again every event since then that did not reach the endpoint (30 days at most)."
            type="datetime-local"
            value={since}
            onChange={(event) => setSince(event.currentTarget.value)}
            error={unreadable ? "Enter a date and time." : fieldError(recover.error, "since")}
            maw={420}
          />
          <Button type="submit" variant="light" loading={recover.isPending}>
            Recover
          </Button>
        </Group>
        {recover.isError && <ProblemAlert error={recover.error} fieldsShown={["since"]} />}
      </Stack>
    </form>
  );
}

function AttemptStatus({ attempt }: { attempt: WebhookAttempt }) {
  const answered = attempt.status_code !== null && attempt.status_code !== undefined;
  return (
    <Badge
      variant="light"
      color={attempt.succeeded ? "teal" : answered ? "red" : "gray"}
      tt="none"
      data-testid="webhook-attempt-status"
    >
      {answered ? attempt.status_code : "no answer"}
    </Badge>
  );
}

/** The delivery log, read again every few seconds while shown, with a retry per event and recovery. */
function Attempts({ endpoint, ping }: { endpoint: WebhookEndpoint; ping: string | null }) {
  const queryClient = useQueryClient();
  const [expanded, setExpanded] = useState<string[]>([]);
  const attempts = useInfiniteQuery({
    queryKey: webhookKeys.attempts(endpoint.id),
    queryFn: ({ pageParam }) =>
      call(
        api.GET("/api/v1/webhook-endpoints/{endpoint_id}/attempts", {
          params: {
            path: { endpoint_id: endpoint.id },
            query: { limit: ATTEMPTS_PER_PAGE, starting_after: pageParam },
          },
        }),
      ),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => (last.has_more ? last.data.at(-1)?.id : undefined),
    refetchInterval: POLL_MS,
  });
  const retry = useMutation({
    mutationFn: (attempt: WebhookAttempt) =>
      call(
        api.POST("/api/v1/webhook-endpoints/{endpoint_id}/messages/{message_id}/retry", {
          params: { path: { endpoint_id: endpoint.id, message_id: attempt.event_id } },
        }),
      ),
    onSuccess: (_, attempt) => {
      void queryClient.invalidateQueries({ queryKey: webhookKeys.attempts(endpoint.id) });
      notifications.show({ color: "teal", message: `Event ${attempt.event_id} queued to be sent again.` });
    },
  });
  const rows = attempts.data?.pages.flatMap((page) => page.data) ?? [];
  const waitingForPing = ping !== null && attempts.isSuccess && !rows.some((row) => row.event_id === ping);
  const toggle = (id: string) =>
    setExpanded((open) => (open.includes(id) ? open.filter((other) => other !== id) : [...open, id]));
  return (
    <Card withBorder radius="md" padding="lg">
      <Stack gap="md">
        <div>
          <Title order={2} fz="h4">
            Delivery attempts
          </Title>
          <Text size="sm" c="dimmed">
            Every attempt of the last 30 days, newest first. This list refreshes every few seconds.
          </Text>
        </div>
        <Recover endpoint={endpoint} />
        {waitingForPing && (
          <Group gap="xs" role="status" data-testid="webhook-ping-pending">
            <Loader size="xs" />
            <Text size="sm" c="dimmed">
              Test ping {ping} is queued; its attempt shows here once Vigil has sent it.
            </Text>
          </Group>
        )}
        {retry.isError && <ProblemAlert error={retry.error} title="The retry was refused" />}
        <QueryState
          query={attempts}
          label="delivery attempts"
          isEmpty={(data) => data.pages.every((page) => page.data.length === 0)}
          empty="No delivery attempts in the last 30 days. Send a test to see one."
        >
          {() => (
            <>
              <Table.ScrollContainer minWidth={820}>
                <Table verticalSpacing="xs" aria-label="Delivery attempts">
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Attempted</Table.Th>
                      <Table.Th>Event</Table.Th>
                      <Table.Th>Status</Table.Th>
                      <Table.Th>Result</Table.Th>
                      <Table.Th>Latency</Table.Th>
                      <Table.Th>Error</Table.Th>
                      <Table.Th />
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {rows.map((attempt) => {
                      const open = expanded.includes(attempt.id);
                      const body = attempt.response_body ?? "";
                      return (
                        <Fragment key={attempt.id}>
                          <Table.Tr
                            data-testid="webhook-attempt-row"
                            data-event-id={attempt.event_id}
                            data-status-code={attempt.status_code ?? "none"}
                            data-succeeded={attempt.succeeded}
                          >
                            <Table.Td title={fromNow(attempt.attempted_at)}>
                              {formatDateTime(attempt.attempted_at)}
                            </Table.Td>
                            <Table.Td>
                              <Code>{attempt.event_id}</Code>
                            </Table.Td>
                            <Table.Td>
                              <AttemptStatus attempt={attempt} />
                            </Table.Td>
                            <Table.Td>
                              <Text size="sm" c={attempt.succeeded ? "teal" : "red"}>
                                {attempt.succeeded ? "Succeeded" : "Failed"}
                              </Text>
                            </Table.Td>
                            <Table.Td>{attempt.latency_ms} ms</Table.Td>
                            <Table.Td>
                              <Text size="sm" c={attempt.error ? "red" : "dimmed"}>
                                {attempt.error ?? "—"}
                              </Text>
                            </Table.Td>
                            <Table.Td>
                              <Group gap={4} wrap="nowrap">
                                {body !== "" && (
                                  <Button
                                    size="compact-xs"
                                    variant="subtle"
                                    aria-expanded={open}
                                    aria-controls={`webhook-attempt-response-${attempt.id}`}
                                    onClick={() => toggle(attempt.id)}
                                  >
                                    {open ? "Hide response" : "Response"}
                                  </Button>
                                )}
                                <Button
                                  size="compact-xs"
                                  variant="light"
                                  loading={retry.isPending && retry.variables.id === attempt.id}
                                  onClick={() => retry.mutate(attempt)}
                                  aria-label={`Retry event ${attempt.event_id}`}
                                >
                                  Retry
                                </Button>
                              </Group>
                            </Table.Td>
                          </Table.Tr>
                          {open && (
                            <Table.Tr>
                              <Table.Td colSpan={7}>
                                <Code
                                  block
                                  id={`webhook-attempt-response-${attempt.id}`}
                                  data-testid="webhook-attempt-response"
                                  style={{ whiteSpace: "pre-wrap", wordBreak: "break-all" }}
                                >
                                  {body}
                                </Code>
                              </Table.Td>
                            </Table.Tr>
                          )}
                        </Fragment>
                      );
                    })}
                  </Table.Tbody>
                </Table>
              </Table.ScrollContainer>
              {attempts.hasNextPage && (
                <Center>
                  <Button
                    variant="default"
                    size="xs"
                    loading={attempts.isFetchingNextPage}
                    onClick={() => void attempts.fetchNextPage()}
                  >
                    Load older attempts
                  </Button>
                </Center>
              )}
            </>
          )}
        </QueryState>
      </Stack>
    </Card>
  );
}

function EndpointDetail({ endpoint }: { endpoint: WebhookEndpoint }) {
  const queryClient = useQueryClient();
  const saved = useSaved();
  const [editing, setEditing] = useState(false);
  const [rotating, setRotating] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [ping, setPing] = useState<string | null>(null);
  const test = useMutation({
    mutationFn: () =>
      call(
        api.POST("/api/v1/webhook-endpoints/{endpoint_id}/test", {
          params: { path: { endpoint_id: endpoint.id } },
        }),
      ),
    onSuccess: ({ event_id }) => {
      setPing(event_id);
      void queryClient.invalidateQueries({ queryKey: webhookKeys.attempts(endpoint.id) });
      notifications.show({
        color: "teal",
        title: "Test ping queued",
        message: "Vigil is sending a ping event; its attempt shows below in a few seconds.",
      });
    },
  });
  const toggle = useMutation({
    mutationFn: (enabled: boolean) =>
      call(
        api.PATCH("/api/v1/webhook-endpoints/{endpoint_id}", {
          params: { path: { endpoint_id: endpoint.id } },
          body: { enabled },
        }),
      ),
    onSuccess: (endpoint) => {
      saved(endpoint);
      notifications.show({
        color: "teal",
        message: endpoint.enabled
          ? "The endpoint is enabled: events are sent to it again."
          : "The endpoint is disabled: no events are sent to it.",
      });
    },
  });
  const previousSigns = dayjs(endpoint.previous_secret_expires_at ?? null).isAfter(dayjs());
  return (
    <>
      <PageHeader
        title={endpoint.description || "Webhook endpoint"}
        description={
          <Text
            span
            ff="monospace"
            size="sm"
            style={{ wordBreak: "break-all" }}
            data-testid="webhook-endpoint-url"
          >
            {endpoint.url}
          </Text>
        }
        actions={
          <>
            <Button
              id="webhook-send-test"
              leftSection={<IconSend size={16} />}
              loading={test.isPending}
              onClick={() => test.mutate()}
            >
              Send test
            </Button>
            <Button variant="light" onClick={() => setEditing(true)}>
              Edit
            </Button>
            <Button variant="light" onClick={() => setRotating(true)}>
              Rotate secret
            </Button>
            <Button variant="light" color="red" onClick={() => setDeleting(true)}>
              Delete
            </Button>
          </>
        }
      />
      <Stack gap="lg">
        {test.isError && <ProblemAlert error={test.error} title="The test was not sent" />}
        {endpoint.disabled_reason && (
          <Alert
            color="orange"
            icon={<IconAlertTriangle size={18} />}
            title="Vigil disabled this endpoint"
            data-testid="webhook-disabled-reason"
          >
            <Text size="sm">{endpoint.disabled_reason}</Text>
            <Text size="sm" mt="xs">
              Fix the receiver, then turn the endpoint back on and recover the events it missed.
            </Text>
          </Alert>
        )}
        {endpoint.enabled && endpoint.failing_since && (
          <Alert
            color="yellow"
            icon={<IconAlertTriangle size={18} />}
            title="Deliveries are failing"
            data-testid="webhook-failing-since"
          >
            <Text size="sm">
              Every delivery since {formatDateTime(endpoint.failing_since)} ({fromNow(endpoint.failing_since)}
              ) has failed. Vigil disables an endpoint whose deliveries fail for 5 days.
            </Text>
          </Alert>
        )}
        <Card withBorder radius="md" padding="lg">
          <Stack gap="md">
            <Switch
              id="webhook-endpoint-enabled"
              label="Send events to this endpoint"
              description={
                endpoint.enabled
                  ? "Turn off to pause deliveries; once it is back on, Recover sends what it missed."
                  : endpoint.disabled_reason
                    ? "Turning it on clears Vigil's reason and its record of failures."
                    : "Nothing is sent while it is off."
              }
              checked={endpoint.enabled}
              disabled={toggle.isPending}
              onChange={(event) => toggle.mutate(event.currentTarget.checked)}
            />
            {toggle.isError && <ProblemAlert error={toggle.error} />}
            <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }}>
              <Field label="Status" value={<EndpointStatusBadge endpoint={endpoint} />} />
              <Field label="Events" value={<EventTypeList endpoint={endpoint} />} />
              <Field
                label="Signing secret"
                value={
                  previousSigns
                    ? `Rotated: the previous one also signs until ${formatDateTime(endpoint.previous_secret_expires_at)}`
                    : "Shown only when created or rotated"
                }
              />
              <Field label="Created" value={formatDate(endpoint.created_at)} />
            </SimpleGrid>
          </Stack>
        </Card>
        <Attempts endpoint={endpoint} ping={ping} />
      </Stack>
      <Modal opened={editing} onClose={() => setEditing(false)} title="Edit webhook endpoint" centered>
        {editing && <EditEndpoint endpoint={endpoint} onDone={() => setEditing(false)} />}
      </Modal>
      <Modal opened={rotating} onClose={() => setRotating(false)} title="Rotate the signing secret" centered>
        {rotating && <RotateSecret endpoint={endpoint} onDone={() => setRotating(false)} />}
      </Modal>
      <Modal opened={deleting} onClose={() => setDeleting(false)} title="Delete this endpoint?" centered>
        {deleting && <DeleteEndpoint endpoint={endpoint} onCancel={() => setDeleting(false)} />}
      </Modal>
    </>
  );
}

/** One webhook endpoint: its settings, its secret's rotation, a test ping, and its delivery log. */
export function WebhookEndpointPage() {
  const { endpointId = "" } = useParams();
  const endpoint = useQuery({
    queryKey: webhookKeys.endpoint(endpointId),
    queryFn: () =>
      call(
        api.GET("/api/v1/webhook-endpoints/{endpoint_id}", { params: { path: { endpoint_id: endpointId } } }),
      ),
  });
  return (
    <>
      <Anchor component={Link} to="/webhooks" size="sm">
        ← Webhooks
      </Anchor>
      <QueryState query={endpoint} label="the webhook endpoint">
        {(data) => <EndpointDetail endpoint={data} />}
      </QueryState>
    </>
  );
}
