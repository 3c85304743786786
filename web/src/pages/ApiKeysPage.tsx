import { useState } from "react";
import { Badge, Button, Card, Group, Modal, Select, Stack, Table, Text, TextInput } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconPlus } from "@tabler/icons-react";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../api/client";
import { fieldError } from "../api/problem";
import type { ApiKey } from "../api/types";
import { ListPagination } from "../components/ListPagination";
import { PageHeader } from "../components/PageHeader";
import { ProblemAlert } from "../components/ProblemAlert";
import { QueryState } from "../components/QueryState";
import { SecretOnce } from "../components/SecretOnce";
import { formatDate, formatDateTime, fromNow } from "../lib/format";

const PER_PAGE = 20;

function NewKey({ onDone }: { onDone: () => void }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [scope, setScope] = useState<ApiKey["scope"]>("read");
  const create = useMutation({
    mutationFn: () => call(api.POST("/api/v1/api-keys", { body: { name, scope } })),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["api-keys"] }),
  });
  if (create.data) {
    return (
      <Stack>
        <SecretOnce label={`API key "${create.data.name}"`} secret={create.data.key} />
        <Button onClick={onDone}>Done</Button>
      </Stack>
    );
  }
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        create.mutate();
      }}
      noValidate
    >
      <Stack gap="sm">
        {create.isError && <ProblemAlert error={create.error} fieldsShown={["name", "scope"]} />}
        <TextInput
          label="Name"
          description="What the key is for, e.g. Payroll sync."
          required
          value={name}
          onChange={(event) => setName(event.currentTarget.value)}
          error={fieldError(create.error, "name")}
        />
        <Select
          label="Scope"
          data={[
            { value: "read", label: "Read only" },
            { value: "read_write", label: "Read and write" },
          ]}
          value={scope}
          allowDeselect={false}
          onChange={(value) => setScope(value ?? "read")}
          error={fieldError(create.error, "scope")}
        />
        <Group justify="flex-end">
          <Button type="submit" loading={create.isPending}>
            Create key
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

export function ApiKeysPage() {
  const queryClient = useQueryClient();
  const [page, setPage] = useState(1);
  const [adding, setAdding] = useState(false);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const keys = useQuery({
    queryKey: ["api-keys", page],
    queryFn: () => call(api.GET("/api/v1/api-keys", { params: { query: { page, per_page: PER_PAGE } } })),
    placeholderData: keepPreviousData,
  });
  const revoke = useMutation({
    mutationFn: (key: ApiKey) =>
      call(api.DELETE("/api/v1/api-keys/{api_key_id}", { params: { path: { api_key_id: key.id } } })),
    onSuccess: () => {
      setRevoking(null);
      void queryClient.invalidateQueries({ queryKey: ["api-keys"] });
      notifications.show({ color: "teal", message: "API key revoked." });
    },
  });
  return (
    <>
      <PageHeader
        title="API keys"
        description="Keys let your own systems call the Vigil API for your company. A key stops working when the person who created it is disabled, removed, or given a role that cannot do what the key does."
        actions={
          <Button leftSection={<IconPlus size={16} />} onClick={() => setAdding(true)}>
            Create key
          </Button>
        }
      />
      <QueryState query={keys} label="API keys" isEmpty={(d) => d.total === 0} empty="No API keys yet.">
        {(data) => (
          <Card withBorder radius="md" padding="sm">
            <Table.ScrollContainer minWidth={600}>
              <Table verticalSpacing="sm" aria-label="API keys">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Name</Table.Th>
                    <Table.Th>Key</Table.Th>
                    <Table.Th>Scope</Table.Th>
                    <Table.Th>Created</Table.Th>
                    <Table.Th>Created by</Table.Th>
                    <Table.Th>Last used</Table.Th>
                    <Table.Th />
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {data.data.map((key) => (
                    <Table.Tr key={key.id}>
                      <Table.Td>{key.name}</Table.Td>
                      <Table.Td>
                        <Text size="sm" ff="monospace">
                          {key.prefix}…
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        <Badge variant="light" color={key.scope === "read" ? "blue" : "grape"}>
                          {key.scope === "read" ? "Read" : "Read & write"}
                        </Badge>
                      </Table.Td>
                      <Table.Td>{formatDate(key.created_at)}</Table.Td>
                      <Table.Td>
                        {key.created_by ? (
                          <Text size="sm" title={key.created_by.email}>
                            {key.created_by.name}
                          </Text>
                        ) : (
                          <Text size="sm" c="dimmed" title="The user who created this key was removed.">
                            Unknown
                          </Text>
                        )}
                      </Table.Td>
                      <Table.Td title={formatDateTime(key.last_used_at)}>
                        {fromNow(key.last_used_at)}
                      </Table.Td>
                      <Table.Td>
                        {key.revoked_at ? (
                          <Badge color="gray">Revoked</Badge>
                        ) : (
                          <Button
                            size="compact-xs"
                            variant="subtle"
                            color="red"
                            onClick={() => setRevoking(key)}
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
              noun="keys"
            />
          </Card>
        )}
      </QueryState>
      <Modal opened={adding} onClose={() => setAdding(false)} title="Create an API key" centered>
        {adding && <NewKey onDone={() => setAdding(false)} />}
      </Modal>
      <Modal opened={revoking !== null} onClose={() => setRevoking(null)} title="Revoke this key?" centered>
        {revoking && (
          <Stack>
            <Text size="sm">Anything using “{revoking.name}” stops working at once.</Text>
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
