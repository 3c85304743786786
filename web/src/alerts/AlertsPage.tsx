import { useState } from "react";
import {
  Badge,
  Button,
  Card,
  Code,
  Group,
  Modal,
  SegmentedControl,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Text,
  UnstyledButton,
} from "@mantine/core";
import { IconChecks } from "@tabler/icons-react";
import { notifications } from "@mantine/notifications";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, call } from "../api/client";
import type { Alert, AlertType, Severity } from "../api/types";
import { ListPagination } from "../components/ListPagination";
import { PageHeader } from "../components/PageHeader";
import { ProblemAlert } from "../components/ProblemAlert";
import { QueryState } from "../components/QueryState";
import { formatDateTime, fromNow, humanize } from "../lib/format";
import { AlertBadges } from "./AlertBadges";
import { ALERT_TYPES, SEVERITY_COLOR, alertAction } from "./presentation";
import { alertKeys } from "./queries";

const PER_PAGE = 20;

function RelatedData({ data }: { data: unknown }) {
  if (typeof data !== "object" || data === null || Object.keys(data).length === 0) {
    return (
      <Text size="sm" c="dimmed">
        No related data.
      </Text>
    );
  }
  return (
    <Table withTableBorder verticalSpacing={4} aria-label="Related data">
      <Table.Tbody>
        {Object.entries(data as Record<string, unknown>).map(([key, value]) => (
          <Table.Tr key={key}>
            <Table.Th scope="row" fw={500} w="40%">
              {humanize(key)}
            </Table.Th>
            <Table.Td>
              {typeof value === "object" && value !== null ? (
                <Code block>{JSON.stringify(value, null, 2)}</Code>
              ) : (
                <Text
                  size="sm"
                  ff={typeof value === "string" && /^[a-z]+_/.test(value) ? "monospace" : undefined}
                >
                  {String(value)}
                </Text>
              )}
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

function Legend() {
  return (
    <Card withBorder radius="md" padding="md" component="aside" aria-label="Alert types">
      <Text fw={600} size="sm" mb="xs">
        Alert types
      </Text>
      <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }} spacing="sm">
        {(Object.entries(ALERT_TYPES) as [AlertType, (typeof ALERT_TYPES)[AlertType]][]).map(
          ([code, type]) => (
            <Stack key={code} gap={2} align="flex-start">
              <Badge color={type.color} variant="light">
                {type.label}
              </Badge>
              <Text size="xs" c="dimmed">
                {type.meaning}
              </Text>
            </Stack>
          ),
        )}
      </SimpleGrid>
      <Group gap="xs" mt="sm">
        <Text size="xs" c="dimmed">
          Severity:
        </Text>
        {(Object.keys(SEVERITY_COLOR) as Severity[]).map((severity) => (
          <Badge key={severity} size="xs" color={SEVERITY_COLOR[severity]} variant="outline">
            {humanize(severity)}
          </Badge>
        ))}
      </Group>
    </Card>
  );
}

export function AlertsPage() {
  const queryClient = useQueryClient();
  const [show, setShow] = useState<"all" | "unread">("all");
  const [status, setStatus] = useState<"any" | "unresolved" | "resolved">("any");
  const [type, setType] = useState<AlertType | null>(null);
  const [severity, setSeverity] = useState<Severity | null>(null);
  const [page, setPage] = useState(1);
  const [openId, setOpenId] = useState<string | null>(null);

  const query = {
    page,
    per_page: PER_PAGE,
    unread: show === "unread" ? true : undefined,
    resolved: status === "any" ? undefined : status === "resolved",
    type: type ?? undefined,
    severity: severity ?? undefined,
  };
  const alerts = useQuery({
    queryKey: [...alertKeys.all, "list", query],
    queryFn: () => call(api.GET("/api/v1/alerts", { params: { query } })),
    placeholderData: keepPreviousData,
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: alertKeys.all });
  const markRead = useMutation({
    mutationFn: (id: string) =>
      call(api.POST("/api/v1/alerts/{alert_id}/read", { params: { path: { alert_id: id } } })),
    onSuccess: refresh,
  });
  const resolve = useMutation({
    mutationFn: (id: string) =>
      call(api.POST("/api/v1/alerts/{alert_id}/resolve", { params: { path: { alert_id: id } } })),
    onSuccess: refresh,
  });
  const markAll = useMutation({
    mutationFn: () => call(api.POST("/api/v1/alerts/read-all")),
    onSuccess: (result) => {
      void refresh();
      notifications.show({ color: "teal", message: `${result.marked} alerts marked as read.` });
    },
  });
  const open: Alert | undefined = alerts.data?.data.find((alert) => alert.id === openId);
  const action = open ? alertAction(open) : null;

  const openAlert = (alert: Alert) => {
    setOpenId(alert.id);
    if (!alert.read) markRead.mutate(alert.id);
  };

  return (
    <>
      <PageHeader
        title="Alerts"
        description="What needs your attention. New alerts arrive here live."
        actions={
          <Button
            variant="light"
            leftSection={<IconChecks size={16} />}
            loading={markAll.isPending}
            onClick={() => markAll.mutate()}
          >
            Mark all as read
          </Button>
        }
      />
      <Stack gap="md">
        <Group gap="sm" wrap="wrap">
          <SegmentedControl
            aria-label="Show"
            data={[
              { value: "all", label: "All" },
              { value: "unread", label: "Unread" },
            ]}
            value={show}
            onChange={(value) => {
              setShow(value);
              setPage(1);
            }}
          />
          <SegmentedControl
            aria-label="Status"
            data={[
              { value: "any", label: "Any status" },
              { value: "unresolved", label: "Unresolved" },
              { value: "resolved", label: "Resolved" },
            ]}
            value={status}
            onChange={(value) => {
              setStatus(value);
              setPage(1);
            }}
          />
          <Select
            aria-label="Type"
            placeholder="Any type"
            clearable
            data={(Object.keys(ALERT_TYPES) as AlertType[]).map((code) => ({
              value: code,
              label: ALERT_TYPES[code].label,
            }))}
            value={type}
            onChange={(value) => {
              setType(value);
              setPage(1);
            }}
            w={220}
          />
          <Select
            aria-label="Severity"
            placeholder="Any severity"
            clearable
            data={(Object.keys(SEVERITY_COLOR) as Severity[]).map((code) => ({
              value: code,
              label: humanize(code),
            }))}
            value={severity}
            onChange={(value) => {
              setSeverity(value);
              setPage(1);
            }}
            w={170}
          />
        </Group>
        {(markRead.isError || resolve.isError || markAll.isError) && (
          <ProblemAlert error={markRead.error ?? resolve.error ?? markAll.error} />
        )}
        <QueryState
          query={alerts}
          label="alerts"
          isEmpty={(data) => data.total === 0}
          empty={
            show === "unread"
              ? "You have read every alert."
              : status === "resolved"
                ? "No resolved alerts."
                : status === "unresolved"
                  ? "Nothing left to resolve."
                  : "No alerts. All is quiet."
          }
        >
          {(data) => (
            <Card withBorder radius="md" padding="sm">
              <Table.ScrollContainer minWidth={760}>
                <Table highlightOnHover verticalSpacing="sm" aria-label="Alerts">
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Alert</Table.Th>
                      <Table.Th w={230}>Type</Table.Th>
                      <Table.Th>When</Table.Th>
                      <Table.Th>Actions</Table.Th>
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {data.data.map((alert) => (
                      <Table.Tr key={alert.id} data-testid="alert-row" data-unread={!alert.read}>
                        <Table.Td>
                          <UnstyledButton
                            onClick={() => openAlert(alert)}
                            aria-label={`Open alert: ${alert.title}`}
                          >
                            <Group gap={6} wrap="nowrap">
                              {!alert.read && (
                                <Badge size="xs" circle color="blue" aria-label="Unread">
                                  {" "}
                                </Badge>
                              )}
                              <Text size="sm" fw={alert.read ? 400 : 700}>
                                {alert.title}
                              </Text>
                            </Group>
                            <Text size="xs" c="dimmed" lineClamp={1}>
                              {alert.message}
                            </Text>
                          </UnstyledButton>
                        </Table.Td>
                        <Table.Td>
                          <AlertBadges alert={alert} />
                        </Table.Td>
                        <Table.Td>
                          <Text size="sm" title={formatDateTime(alert.created_at)}>
                            {fromNow(alert.created_at)}
                          </Text>
                          {alert.resolved && (
                            <Badge size="xs" color="teal" variant="light">
                              Resolved
                            </Badge>
                          )}
                        </Table.Td>
                        <Table.Td>
                          <Group gap="xs" wrap="nowrap">
                            {!alert.read && (
                              <Button
                                size="compact-xs"
                                variant="light"
                                onClick={() => markRead.mutate(alert.id)}
                                loading={markRead.isPending && markRead.variables === alert.id}
                              >
                                Mark as read
                              </Button>
                            )}
                            {!alert.resolved && (
                              <Button
                                size="compact-xs"
                                variant="subtle"
                                color="teal"
                                onClick={() => resolve.mutate(alert.id)}
                                loading={resolve.isPending && resolve.variables === alert.id}
                              >
                                Resolve
                              </Button>
                            )}
                          </Group>
                        </Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              </Table.ScrollContainer>
              <ListPagination
                page={page}
                perPage={PER_PAGE}
                total={data.total ?? 0}
                onChange={setPage}
                noun="alerts"
              />
            </Card>
          )}
        </QueryState>
        <Legend />
      </Stack>
      <Modal
        opened={open !== undefined}
        onClose={() => setOpenId(null)}
        title={open?.title}
        size="lg"
        centered
      >
        {open && (
          <Stack gap="sm">
            <AlertBadges alert={open} />
            <Text size="sm">{open.message}</Text>
            <Text size="xs" c="dimmed">
              Raised {formatDateTime(open.created_at)}
              {open.read_at ? ` · read ${formatDateTime(open.read_at)}` : ""}
              {open.resolved_at ? ` · resolved ${formatDateTime(open.resolved_at)}` : ""}
            </Text>
            <RelatedData data={open.related_data} />
            <Group justify="flex-end">
              {action && (
                <Button component={Link} to={action.to} variant="light" onClick={() => setOpenId(null)}>
                  {action.label}
                </Button>
              )}
              {!open.resolved && (
                <Button
                  color="teal"
                  variant="light"
                  loading={resolve.isPending}
                  onClick={() => resolve.mutate(open.id)}
                >
                  Resolve
                </Button>
              )}
              <Button variant="default" onClick={() => setOpenId(null)}>
                Close
              </Button>
            </Group>
          </Stack>
        )}
      </Modal>
    </>
  );
}
