import { useState } from "react";
import {
  Badge,
  Button,
  Card,
  Group,
  Modal,
  PasswordInput,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
} from "@mantine/core";
import { useForm } from "@mantine/form";
import { notifications } from "@mantine/notifications";
import { IconPlus } from "@tabler/icons-react";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call, callVersioned, ifMatch } from "../api/client";
import { ApiProblem, staleVersion } from "../api/problem";
import type { Role, User } from "../api/types";
import { useMe } from "../auth/AuthContext";
import { ListPagination } from "../components/ListPagination";
import { PageHeader } from "../components/PageHeader";
import { ProblemAlert } from "../components/ProblemAlert";
import { QueryState } from "../components/QueryState";
import { SecretOnce } from "../components/SecretOnce";
import type { VersionedQuery } from "../lib/editVersion";
import { fromNow, humanize } from "../lib/format";

const ROLES: { value: Role; label: string }[] = [
  { value: "OWNER", label: "Owner: everything, including billing" },
  { value: "ADMIN", label: "Admin: manage users, keys, billing, policy" },
  { value: "MANAGER", label: "Manager: manage employees and agents" },
  { value: "VIEWER", label: "Viewer: read only" },
];
const PER_PAGE = 20;
const FIELDS = ["name", "email", "role", "password"];

/** One user with their `ETag`, read before a change made from the list. */
function userQuery(userId: string): VersionedQuery<User> {
  return {
    queryKey: ["users", "detail", userId],
    queryFn: () =>
      callVersioned(api.GET("/api/v1/users/{user_id}", { params: { path: { user_id: userId } } })),
  };
}

/** Whether a row still shows the user as they are: what a change from that row was decided on. */
function showsTheSame(current: User, shown: User): boolean {
  return (
    current.role === shown.role &&
    current.active === shown.active &&
    current.name === shown.name &&
    current.email === shown.email
  );
}

function NewUser({ onDone }: { onDone: () => void }) {
  const queryClient = useQueryClient();
  const [temporary, setTemporary] = useState<string | null>(null);
  const form = useForm({ initialValues: { name: "", email: "", role: "MANAGER" as Role, password: "" } });
  const create = useMutation({
    mutationFn: (values: typeof form.values) =>
      call(api.POST("/api/v1/users", { body: { ...values, password: values.password || null } })),
    onSuccess: (created) => {
      void queryClient.invalidateQueries({ queryKey: ["users"] });
      notifications.show({ color: "teal", message: `${created.user.name} added.` });
      if (created.temporary_password) setTemporary(created.temporary_password);
      else onDone();
    },
    onError: (error) => {
      if (!(error instanceof ApiProblem)) return;
      for (const [field, messages] of Object.entries(error.fieldErrors)) {
        if (FIELDS.includes(field)) form.setFieldError(field, messages.join("; "));
      }
    },
  });
  if (temporary) {
    return (
      <Stack>
        <SecretOnce label="Temporary password" secret={temporary} />
        <Text size="sm">Hand it to the user; they should change it after signing in.</Text>
        <Button onClick={onDone}>Done</Button>
      </Stack>
    );
  }
  return (
    <form onSubmit={form.onSubmit((values) => create.mutate(values))} noValidate>
      <Stack gap="sm">
        {create.isError && <ProblemAlert error={create.error} fieldsShown={FIELDS} />}
        <TextInput label="Name" required {...form.getInputProps("name")} />
        <TextInput label="Email" type="email" required {...form.getInputProps("email")} />
        <Select label="Role" data={ROLES} allowDeselect={false} {...form.getInputProps("role")} />
        <PasswordInput
          label="Initial password"
          description="Leave empty to generate a temporary one."
          {...form.getInputProps("password")}
        />
        <Group justify="flex-end">
          <Button type="submit" loading={create.isPending}>
            Add user
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

export function UsersPage() {
  const me = useMe();
  const queryClient = useQueryClient();
  const [page, setPage] = useState(1);
  const [adding, setAdding] = useState(false);
  const [removing, setRemoving] = useState<User | null>(null);
  const users = useQuery({
    queryKey: ["users", page],
    queryFn: () => call(api.GET("/api/v1/users", { params: { query: { page, per_page: PER_PAGE } } })),
    placeholderData: keepPreviousData,
  });
  const update = useMutation({
    mutationFn: async ({ user, role, active }: { user: User; role?: Role; active?: boolean }) => {
      // The list carries no versions: read the user's, and write only if it is still what the row shows.
      const current = await queryClient.query({ ...userQuery(user.id), staleTime: 0 });
      if (!showsTheSame(current.value, user)) throw staleVersion();
      return call(
        api.PATCH("/api/v1/users/{user_id}", {
          params: { path: { user_id: user.id }, header: ifMatch(current.etag) },
          body: { role, active },
        }),
      );
    },
    onSuccess: (user) => {
      void queryClient.invalidateQueries({ queryKey: ["users"] });
      notifications.show({ color: "teal", message: `${user.name} updated.` });
    },
  });
  const remove = useMutation({
    mutationFn: (user: User) =>
      call(api.DELETE("/api/v1/users/{user_id}", { params: { path: { user_id: user.id } } })),
    onSuccess: (_, user) => {
      setRemoving(null);
      void queryClient.invalidateQueries({ queryKey: ["users"] });
      void queryClient.invalidateQueries({ queryKey: ["api-keys"] });
      notifications.show({ color: "teal", message: `${user.name} removed.` });
    },
  });
  return (
    <>
      <PageHeader
        title="Users & roles"
        description="Who can sign in to your company's Vigil, and what they may do."
        actions={
          <Button leftSection={<IconPlus size={16} />} onClick={() => setAdding(true)}>
            Add user
          </Button>
        }
      />
      {update.isError && (
        <ProblemAlert
          error={update.error}
          onReload={() => {
            update.reset();
            void queryClient.invalidateQueries({ queryKey: ["users"] });
          }}
        />
      )}
      <QueryState query={users} label="users">
        {(data) => (
          <Card withBorder radius="md" padding="sm" mt="md">
            <Table.ScrollContainer minWidth={640}>
              <Table verticalSpacing="sm" aria-label="Users">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>User</Table.Th>
                    <Table.Th>Role</Table.Th>
                    <Table.Th>Last sign-in</Table.Th>
                    <Table.Th>Status</Table.Th>
                    <Table.Th />
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {data.data.map((user) => (
                    <Table.Tr key={user.id}>
                      <Table.Td>
                        <Text size="sm" fw={500} component="div">
                          {user.name} {user.id === me.user.id && <Badge size="xs">You</Badge>}
                        </Text>
                        <Text size="xs" c="dimmed">
                          {user.email}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        <Select
                          aria-label={`Role of ${user.name}`}
                          data={ROLES.map((role) => ({ value: role.value, label: humanize(role.value) }))}
                          value={user.role}
                          allowDeselect={false}
                          disabled={user.id === me.user.id}
                          onChange={(role) => role && update.mutate({ user, role: role })}
                          w={140}
                          size="xs"
                        />
                      </Table.Td>
                      <Table.Td>{fromNow(user.last_login_at)}</Table.Td>
                      <Table.Td>
                        <Badge color={user.active ? "teal" : "gray"} variant="light">
                          {user.active ? "Active" : "Disabled"}
                        </Badge>
                      </Table.Td>
                      <Table.Td>
                        {user.id !== me.user.id && (
                          <Group gap={4} wrap="nowrap">
                            <Button
                              size="compact-xs"
                              variant="subtle"
                              color={user.active ? "red" : undefined}
                              onClick={() => update.mutate({ user, active: !user.active })}
                            >
                              {user.active ? "Disable" : "Enable"}
                            </Button>
                            <Button
                              size="compact-xs"
                              variant="subtle"
                              color="red"
                              onClick={() => setRemoving(user)}
                            >
                              Remove
                            </Button>
                          </Group>
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
              noun="users"
            />
          </Card>
        )}
      </QueryState>
      <Modal opened={adding} onClose={() => setAdding(false)} title="Add a user" centered>
        {adding && <NewUser onDone={() => setAdding(false)} />}
      </Modal>
      <Modal opened={removing !== null} onClose={() => setRemoving(null)} title="Remove this user?" centered>
        {removing && (
          <Stack>
            <Text size="sm">
              {removing.name} can no longer sign in, and the API keys they created stop working at once. The
              audit log keeps what they did.
            </Text>
            {remove.isError && <ProblemAlert error={remove.error} />}
            <Group justify="flex-end">
              <Button variant="default" onClick={() => setRemoving(null)}>
                Keep them
              </Button>
              <Button color="red" loading={remove.isPending} onClick={() => remove.mutate(removing)}>
                Remove
              </Button>
            </Group>
          </Stack>
        )}
      </Modal>
    </>
  );
}
