import { useState } from "react";
import { Anchor, Button, Card, Modal, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import { api, call } from "../api/client";
import { PageHeader } from "../components/PageHeader";
import { ProblemAlert } from "../components/ProblemAlert";
import { QueryState } from "../components/QueryState";
import { formatDate, formatDateTime, fromNow } from "../lib/format";
import { AgentStatusBadge } from "./AgentsPage";
import { ActivityCard, ScreenshotsCard } from "./EmployeeActivity";
import {
  EditEmployeeForm,
  EmployeeStatusBadge,
  employeeQuery,
  useEmployeeStatusChange,
} from "./EmployeesPage";

function Field({ label, value }: { label: string; value: React.ReactNode }) {
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

export function EmployeeDetailPage() {
  const { employeeId = "" } = useParams();
  const [editing, setEditing] = useState(false);
  const statusChange = useEmployeeStatusChange();
  const employee = useQuery(employeeQuery(employeeId));
  const agents = useQuery({
    queryKey: ["agents", "of", employeeId],
    queryFn: () =>
      call(
        api.GET("/api/v1/agents", { params: { query: { employee_id: employeeId, page: 1, per_page: 100 } } }),
      ),
  });
  return (
    <>
      <Anchor component={Link} to="/employees" size="sm">
        ← Employees
      </Anchor>
      <QueryState query={employee} label="the employee">
        {({ value: data, etag }) => (
          <>
            <PageHeader
              title={data.name}
              description={data.email}
              actions={
                <>
                  <Button variant="light" onClick={() => setEditing(true)}>
                    Edit
                  </Button>
                  <Button
                    variant="light"
                    color={data.status === "ACTIVE" ? "red" : undefined}
                    loading={statusChange.isPending}
                    onClick={() => statusChange.mutate({ employee: data, active: data.status !== "ACTIVE" })}
                  >
                    {data.status === "ACTIVE" ? "Deactivate" : "Reactivate"}
                  </Button>
                </>
              }
            />
            <Stack gap="lg">
              {statusChange.isError && <ProblemAlert error={statusChange.error} />}
              <Card withBorder radius="md" padding="lg">
                <SimpleGrid cols={{ base: 2, sm: 4 }}>
                  <Field label="Status" value={<EmployeeStatusBadge status={data.status} />} />
                  <Field label="Department" value={data.department ?? "—"} />
                  <Field label="Job title" value={data.job_title ?? "—"} />
                  <Field label="Added" value={formatDate(data.created_at)} />
                </SimpleGrid>
              </Card>
              <Card withBorder radius="md" padding="lg">
                <Title order={2} fz="h4" mb="sm">
                  Agents
                </Title>
                <QueryState
                  query={agents}
                  label="agents"
                  isEmpty={(page) => page.total === 0}
                  empty="No agent is linked to this employee yet."
                >
                  {(page) => (
                    <Table aria-label="Agents of this employee">
                      <Table.Thead>
                        <Table.Tr>
                          <Table.Th>Host</Table.Th>
                          <Table.Th>Status</Table.Th>
                          <Table.Th>Last seen</Table.Th>
                        </Table.Tr>
                      </Table.Thead>
                      <Table.Tbody>
                        {page.data.map((agent) => (
                          <Table.Tr key={agent.id}>
                            <Table.Td>
                              {agent.hostname}
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
                          </Table.Tr>
                        ))}
                      </Table.Tbody>
                    </Table>
                  )}
                </QueryState>
              </Card>
              <ActivityCard employeeId={data.id} />
              <ScreenshotsCard employeeId={data.id} />
            </Stack>
            <Modal opened={editing} onClose={() => setEditing(false)} title="Edit employee" centered>
              {editing && (
                <EditEmployeeForm employee={{ value: data, etag }} onDone={() => setEditing(false)} />
              )}
            </Modal>
          </>
        )}
      </QueryState>
    </>
  );
}
