import { useState } from "react";
import {
  Badge,
  Button,
  Card,
  Group,
  Modal,
  NumberInput,
  SegmentedControl,
  Stack,
  Table,
  Text,
  Title,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../api/client";
import { fieldError } from "../api/problem";
import type { Agent } from "../api/types";
import { ListPagination } from "../components/ListPagination";
import { PageHeader } from "../components/PageHeader";
import { ProblemAlert } from "../components/ProblemAlert";
import { QueryState } from "../components/QueryState";
import { SecretOnce } from "../components/SecretOnce";
import { formatDateTime, fromNow } from "../lib/format";

const PER_PAGE = 20;

export function AgentStatusBadge({
  status,
  suspended = false,
}: {
  status: Agent["status"];
  suspended?: boolean;
}) {
  const color = status === "ONLINE" ? "teal" : status === "OFFLINE" ? "orange" : "gray";
  return (
    <Group gap={4} wrap="nowrap">
      <Badge color={color} variant={status === "ONLINE" ? "filled" : "light"}>
        {status === "ONLINE" ? "Online" : status === "OFFLINE" ? "Offline" : "Revoked"}
      </Badge>
      {suspended && (
        <Badge color="red" variant="outline" title="Past the plan's agent limit: records nothing">
          Suspended
        </Badge>
      )}
    </Group>
  );
}

function EnrollmentTokens() {
  const queryClient = useQueryClient();
  const [creating, setCreating] = useState(false);
  const [maxUses, setMaxUses] = useState<number | string>(1);
  const [hours, setHours] = useState<number | string>(72);
  const [created, setCreated] = useState<string | null>(null);
  const tokens = useQuery({
    queryKey: ["enrollment-tokens"],
    queryFn: () =>
      call(api.GET("/api/v1/enrollment-tokens", { params: { query: { page: 1, per_page: 50 } } })),
  });
  const create = useMutation({
    mutationFn: () =>
      call(
        api.POST("/api/v1/enrollment-tokens", {
          body: { max_uses: Number(maxUses), expires_in_hours: Number(hours) },
        }),
      ),
    onSuccess: (token) => {
      setCreated(token.token);
      void queryClient.invalidateQueries({ queryKey: ["enrollment-tokens"] });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) =>
      call(
        api.DELETE("/api/v1/enrollment-tokens/{enrollment_token_id}", {
          params: { path: { enrollment_token_id: id } },
        }),
      ),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ["enrollment-tokens"] });
      notifications.show({ color: "teal", message: "Enrollment token revoked." });
    },
  });
  const close = () => {
    setCreating(false);
    setCreated(null);
    create.reset();
  };
  return (
    <Card withBorder radius="md" padding="lg">
      <Group justify="space-between" mb="sm">
        <div>
          <Title order={2} fz="h4">
            Enrollment tokens
          </Title>
          <Text size="sm" c="dimmed">
            The agent installer asks for one; each allows a number of machines to enroll.
          </Text>
        </div>
        <Button variant="light" onClick={() => setCreating(true)}>
          New token
        </Button>
      </Group>
      {revoke.isError && <ProblemAlert error={revoke.error} />}
      <QueryState
        query={tokens}
        label="enrollment tokens"
        isEmpty={(d) => d.total === 0}
        empty="No enrollment tokens."
      >
        {(data) => (
          <Table.ScrollContainer minWidth={560}>
            <Table verticalSpacing="xs" aria-label="Enrollment tokens">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Token</Table.Th>
                  <Table.Th>Uses</Table.Th>
                  <Table.Th>Expires</Table.Th>
                  <Table.Th />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {data.data.map((token) => {
                  const expired = Date.parse(token.expires_at) < Date.now();
                  return (
                    <Table.Tr key={token.id}>
                      <Table.Td>
                        <Text size="sm" ff="monospace">
                          {token.prefix}…
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        {token.uses} / {token.max_uses}
                      </Table.Td>
                      <Table.Td>{formatDateTime(token.expires_at)}</Table.Td>
                      <Table.Td>
                        {token.revoked_at ? (
                          <Badge color="gray">Revoked</Badge>
                        ) : expired ? (
                          <Badge color="gray">Expired</Badge>
                        ) : (
                          <Button
                            size="compact-xs"
                            variant="subtle"
                            color="red"
                            onClick={() => revoke.mutate(token.id)}
                          >
                            Revoke
                          </Button>
                        )}
                      </Table.Td>
                    </Table.Tr>
                  );
                })}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </QueryState>
      <Modal opened={creating} onClose={close} title="New enrollment token" centered>
        {created ? (
          <Stack>
            <SecretOnce label="Your enrollment token" secret={created} />
            <Button onClick={close}>Done</Button>
          </Stack>
        ) : (
          <form
            onSubmit={(event) => {
              event.preventDefault();
              create.mutate();
            }}
          >
            <Stack gap="sm">
              {create.isError && (
                <ProblemAlert error={create.error} fieldsShown={["max_uses", "expires_in_hours"]} />
              )}
              <NumberInput
                label="Machines that may enroll with it"
                min={1}
                value={maxUses}
                onChange={setMaxUses}
                error={fieldError(create.error, "max_uses")}
              />
              <NumberInput
                label="Valid for (hours)"
                min={1}
                value={hours}
                onChange={setHours}
                error={fieldError(create.error, "expires_in_hours")}
              />
              <Group justify="flex-end">
                <Button type="submit" loading={create.isPending}>
                  Create token
                </Button>
              </Group>
            </Stack>
          </form>
        )}
      </Modal>
    </Card>
  );
}

export function AgentsPage() {
  const queryClient = useQueryClient();
  const [status, setStatus] = useState<"ALL" | Agent["status"]>("ALL");
  const [page, setPage] = useState(1);
  const [revoking, setRevoking] = useState<Agent | null>(null);
  const query = { page, per_page: PER_PAGE, ...(status !== "ALL" ? { status } : {}) };
  const agents = useQuery({
    queryKey: ["agents", query],
    queryFn: () => call(api.GET("/api/v1/agents", { params: { query } })),
    placeholderData: keepPreviousData,
  });
  const revoke = useMutation({
    mutationFn: (agent: Agent) =>
      call(api.POST("/api/v1/agents/{agent_id}/revoke", { params: { path: { agent_id: agent.id } } })),
    onSuccess: (agent) => {
      setRevoking(null);
      void queryClient.invalidateQueries({ queryKey: ["agents"] });
      void queryClient.invalidateQueries({ queryKey: ["billing"] });
      notifications.show({ color: "teal", message: `${agent.hostname} can no longer report.` });
    },
  });
  return (
    <>
      <PageHeader title="Agents" description="The desktop agents installed on your employees' machines." />
      <Stack gap="lg">
        <SegmentedControl
          aria-label="Status"
          style={{ alignSelf: "flex-start" }}
          data={[
            { value: "ALL", label: "All" },
            { value: "ONLINE", label: "Online" },
            { value: "OFFLINE", label: "Offline" },
            { value: "REVOKED", label: "Revoked" },
          ]}
          value={status}
          onChange={(value) => {
            setStatus(value);
            setPage(1);
          }}
        />
        <QueryState
          query={agents}
          label="agents"
          isEmpty={(data) => data.total === 0}
          empty="No agents yet. Create an enrollment token below and run the installer with it."
        >
          {(data) => (
            <Card withBorder radius="md" padding="sm">
              <Table.ScrollContainer minWidth={640}>
                <Table highlightOnHover verticalSpacing="sm" aria-label="Agents">
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Host</Table.Th>
                      <Table.Th>Status</Table.Th>
                      <Table.Th>Last seen</Table.Th>
                      <Table.Th>Enrolled</Table.Th>
                      <Table.Th />
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {data.data.map((agent) => (
                      <Table.Tr key={agent.id}>
                        <Table.Td>
                          <Text size="sm" fw={500}>
                            {agent.hostname}
                          </Text>
                          <Text size="xs" c="dimmed">
                            {agent.os} · v{agent.agent_version}
                          </Text>
                        </Table.Td>
                        <Table.Td>
                          <AgentStatusBadge status={agent.status} suspended={agent.suspended} />
                        </Table.Td>
                        <Table.Td title={formatDateTime(agent.last_seen_at)}>
                          {fromNow(agent.last_seen_at)}
                        </Table.Td>
                        <Table.Td>{formatDateTime(agent.enrolled_at)}</Table.Td>
                        <Table.Td>
                          {agent.status !== "REVOKED" && (
                            <Button
                              size="compact-xs"
                              variant="subtle"
                              color="red"
                              onClick={() => setRevoking(agent)}
                            >
                              Revoke
                            </Button>
                          )}
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
                noun="agents"
              />
            </Card>
          )}
        </QueryState>
        <EnrollmentTokens />
      </Stack>
      <Modal opened={revoking !== null} onClose={() => setRevoking(null)} title="Revoke this agent?" centered>
        {revoking && (
          <Stack>
            <Text size="sm">
              {revoking.hostname} will stop reporting at once and must enroll again with a new token.
            </Text>
            {revoke.isError && <ProblemAlert error={revoke.error} />}
            <Group justify="flex-end">
              <Button variant="default" onClick={() => setRevoking(null)}>
                Keep it
              </Button>
              <Button color="red" loading={revoke.isPending} onClick={() => revoke.mutate(revoking)}>
                Revoke
              </Button>
            </Group>
          </Stack>
        )}
      </Modal>
    </>
  );
}
