import { useState } from "react";
import { Badge, Card, Code, Group, Select, Table, Text, TextInput, UnstyledButton } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api, call } from "../api/client";
import type { components } from "../api/schema";
import { ListPagination } from "../components/ListPagination";
import { PageHeader } from "../components/PageHeader";
import { QueryState } from "../components/QueryState";
import { formatDateTime } from "../lib/format";

type ActorType = components["schemas"]["ActorType"];
const ACTOR_TYPES: ActorType[] = ["user", "api_key", "agent", "stripe", "system", "anonymous"];
const PER_PAGE = 25;

/** A date input's value (YYYY-MM-DD) as the RFC 3339 bound the API takes. */
function bound(date: string, end: boolean): string | undefined {
  if (!date) return undefined;
  return end ? `${date}T23:59:59Z` : `${date}T00:00:00Z`;
}

export function AuditLogPage() {
  const [action, setAction] = useState("");
  const [actorType, setActorType] = useState<ActorType | null>(null);
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [page, setPage] = useState(1);
  const [expanded, setExpanded] = useState<string | null>(null);
  const [debouncedAction] = useDebouncedValue(action.trim(), 300);
  const query = {
    page,
    per_page: PER_PAGE,
    action: debouncedAction || undefined,
    actor_type: actorType ?? undefined,
    from: bound(from, false),
    to: bound(to, true),
  };
  const entries = useQuery({
    queryKey: ["audit-logs", query],
    queryFn: () => call(api.GET("/api/v1/audit-logs", { params: { query } })),
    placeholderData: keepPreviousData,
  });
  const reset = () => setPage(1);
  return (
    <>
      <PageHeader
        title="Audit log"
        description="Who did what, and when. Click an entry to see its details."
      />
      <Group gap="sm" mb="md" wrap="wrap" align="flex-end">
        <TextInput
          label="Action"
          placeholder="e.g. user.created"
          value={action}
          onChange={(event) => {
            setAction(event.currentTarget.value);
            reset();
          }}
        />
        <Select
          label="Actor"
          placeholder="Anyone"
          clearable
          data={ACTOR_TYPES}
          value={actorType}
          onChange={(value) => {
            setActorType(value);
            reset();
          }}
          w={150}
        />
        <TextInput
          label="From"
          type="date"
          value={from}
          onChange={(e) => {
            setFrom(e.currentTarget.value);
            reset();
          }}
        />
        <TextInput
          label="To"
          type="date"
          value={to}
          onChange={(e) => {
            setTo(e.currentTarget.value);
            reset();
          }}
        />
      </Group>
      <QueryState
        query={entries}
        label="audit entries"
        isEmpty={(d) => d.total === 0}
        empty="No entries match."
      >
        {(data) => (
          <Card withBorder radius="md" padding="sm">
            <Table.ScrollContainer minWidth={720}>
              <Table verticalSpacing="xs" highlightOnHover aria-label="Audit log">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>When</Table.Th>
                    <Table.Th>Action</Table.Th>
                    <Table.Th>Actor</Table.Th>
                    <Table.Th>Target</Table.Th>
                    <Table.Th>IP</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {data.data.flatMap((entry) => {
                    const open = expanded === entry.id;
                    const rows = [
                      <Table.Tr key={entry.id}>
                        <Table.Td>{formatDateTime(entry.created_at)}</Table.Td>
                        <Table.Td>
                          <UnstyledButton
                            onClick={() => setExpanded(open ? null : entry.id)}
                            aria-expanded={open}
                          >
                            <Text size="sm" ff="monospace" c="blue.7">
                              {entry.action}
                            </Text>
                          </UnstyledButton>
                        </Table.Td>
                        <Table.Td>
                          <Badge variant="light" color="gray" size="sm">
                            {entry.actor_type}
                          </Badge>
                        </Table.Td>
                        <Table.Td>
                          <Text size="xs" c="dimmed">
                            {entry.target_type ? `${entry.target_type} ${entry.target_id ?? ""}` : "—"}
                          </Text>
                        </Table.Td>
                        <Table.Td>{entry.client_ip ?? "—"}</Table.Td>
                      </Table.Tr>,
                    ];
                    if (open) {
                      rows.push(
                        <Table.Tr key={`${entry.id}-details`}>
                          <Table.Td colSpan={5}>
                            <Code block>{JSON.stringify(entry.details, null, 2)}</Code>
                            {entry.request_id && (
                              <Text size="xs" c="dimmed" mt={4}>
                                Request id {entry.request_id}
                              </Text>
                            )}
                          </Table.Td>
                        </Table.Tr>,
                      );
                    }
                    return rows;
                  })}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
            <ListPagination
              page={page}
              perPage={PER_PAGE}
              total={data.total ?? 0}
              onChange={setPage}
              noun="entries"
            />
          </Card>
        )}
      </QueryState>
    </>
  );
}
