import { useState } from "react";
import {
  ActionIcon,
  Anchor,
  Badge,
  Button,
  Card,
  Group,
  Menu,
  Modal,
  SegmentedControl,
  Stack,
  Table,
  Text,
  TextInput,
} from "@mantine/core";
import { useForm } from "@mantine/form";
import { useDebouncedValue } from "@mantine/hooks";
import { notifications } from "@mantine/notifications";
import { IconDots, IconPlus, IconSearch } from "@tabler/icons-react";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, call, callVersioned, type Versioned } from "../api/client";
import { ApiProblem } from "../api/problem";
import type { Employee } from "../api/types";
import { ListPagination } from "../components/ListPagination";
import { PageHeader } from "../components/PageHeader";
import { ProblemAlert } from "../components/ProblemAlert";
import { QueryState } from "../components/QueryState";
import { useEditVersion, type VersionedQuery } from "../lib/editVersion";
import { formatDate } from "../lib/format";

const PER_PAGE = 20;
const FIELDS = ["name", "email", "department", "job_title"];
type Status = "ACTIVE" | "INACTIVE" | "ALL";

export const employeeKeys = { all: ["employees"] as const };

/** One employee with its `ETag`: what the detail page shows and the edit form is opened from. */
export function employeeQuery(employeeId: string): VersionedQuery<Employee> {
  return {
    queryKey: [...employeeKeys.all, "detail", employeeId],
    queryFn: () =>
      callVersioned(
        api.GET("/api/v1/employees/{employee_id}", { params: { path: { employee_id: employeeId } } }),
      ),
  };
}

interface Values {
  name: string;
  email: string;
  department: string;
  job_title: string;
}

function toValues(employee: Employee | undefined): Values {
  return {
    name: employee?.name ?? "",
    email: employee?.email ?? "",
    department: employee?.department ?? "",
    job_title: employee?.job_title ?? "",
  };
}

function toBody(values: Values) {
  return {
    name: values.name,
    email: values.email,
    department: values.department.trim() === "" ? null : values.department,
    job_title: values.job_title.trim() === "" ? null : values.job_title,
  };
}

/** The form's state and its write; field errors go under their fields. */
function useEmployeeForm(initial: Values, write: (values: Values) => Promise<Employee>, onDone: () => void) {
  const queryClient = useQueryClient();
  const form = useForm<Values>({ initialValues: initial });
  const save = useMutation({
    mutationFn: write,
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: employeeKeys.all });
      void queryClient.invalidateQueries({ queryKey: ["billing"] });
      onDone();
    },
    onError: (error) => {
      if (!(error instanceof ApiProblem)) return;
      for (const [field, messages] of Object.entries(error.fieldErrors)) {
        if (FIELDS.includes(field)) form.setFieldError(field, messages.join("; "));
      }
    },
  });
  return { form, save };
}

interface FieldsProps extends ReturnType<typeof useEmployeeForm> {
  submitLabel: string;
  onDone: () => void;
  onReload?: () => void;
}

function EmployeeFields({ form, save, submitLabel, onDone, onReload }: FieldsProps) {
  return (
    <form onSubmit={form.onSubmit((values) => save.mutate(values))} noValidate>
      <Stack gap="sm">
        {save.isError && <ProblemAlert error={save.error} fieldsShown={FIELDS} onReload={onReload} />}
        <TextInput label="Name" required data-autofocus {...form.getInputProps("name")} />
        <TextInput label="Email" type="email" required {...form.getInputProps("email")} />
        <TextInput label="Department" {...form.getInputProps("department")} />
        <TextInput label="Job title" {...form.getInputProps("job_title")} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onDone}>
            Cancel
          </Button>
          <Button type="submit" loading={save.isPending}>
            {submitLabel}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

/** Adds an employee; a plan limit offers the upgrade. */
export function NewEmployeeForm({ onDone }: { onDone: () => void }) {
  const state = useEmployeeForm(
    toValues(undefined),
    async (values) => {
      const added = await call(api.POST("/api/v1/employees", { body: toBody(values) }));
      notifications.show({ color: "teal", message: `${added.name} added.` });
      return added;
    },
    onDone,
  );
  return <EmployeeFields {...state} submitLabel="Add employee" onDone={onDone} />;
}

/**
 * Edits the version of the employee it was opened with: if someone else changed them meanwhile, nothing is
 * saved and the form keeps what was typed, offering to reload the latest.
 */
export function EditEmployeeForm({
  employee,
  onDone,
}: {
  employee: Versioned<Employee>;
  onDone: () => void;
}) {
  const queryClient = useQueryClient();
  const query = employeeQuery(employee.value.id);
  const edit = useEditVersion(query, employee);
  const state = useEmployeeForm(
    toValues(employee.value),
    async (values) => {
      const saved = await callVersioned(
        api.PATCH("/api/v1/employees/{employee_id}", {
          params: { path: { employee_id: employee.value.id }, header: edit.header },
          body: toBody(values),
        }),
      );
      edit.saved(saved);
      queryClient.setQueryData(query.queryKey, saved);
      notifications.show({ color: "teal", message: `${saved.value.name} saved.` });
      return saved.value;
    },
    onDone,
  );
  const reload = async () => {
    state.form.setValues(toValues(await edit.reloadLatest()));
    state.save.reset();
  };
  return <EmployeeFields {...state} submitLabel="Save" onDone={onDone} onReload={() => void reload()} />;
}

/** The edit form for a listed employee: the list has no versions, so the employee is read with its `ETag` first. */
function EditListedEmployee({ employeeId, onDone }: { employeeId: string; onDone: () => void }) {
  const employee = useQuery(employeeQuery(employeeId));
  return (
    <QueryState query={employee} label="the employee">
      {(data) => <EditEmployeeForm employee={data} onDone={onDone} />}
    </QueryState>
  );
}

export function useEmployeeStatusChange() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ employee, active }: { employee: Employee; active: boolean }) =>
      call(
        api.POST(
          active
            ? "/api/v1/employees/{employee_id}/reactivate"
            : "/api/v1/employees/{employee_id}/deactivate",
          { params: { path: { employee_id: employee.id } } },
        ),
      ),
    onSuccess: (saved) => {
      void queryClient.invalidateQueries({ queryKey: employeeKeys.all });
      void queryClient.invalidateQueries({ queryKey: ["billing"] });
      notifications.show({
        color: "teal",
        message: saved.status === "ACTIVE" ? `${saved.name} reactivated.` : `${saved.name} deactivated.`,
      });
    },
  });
}

export function EmployeeStatusBadge({ status }: { status: Employee["status"] }) {
  return (
    <Badge color={status === "ACTIVE" ? "teal" : "gray"} variant="light">
      {status === "ACTIVE" ? "Active" : "Inactive"}
    </Badge>
  );
}

export function EmployeesPage() {
  const [search, setSearch] = useState("");
  const [department, setDepartment] = useState("");
  const [status, setStatus] = useState<Status>("ACTIVE");
  const [page, setPage] = useState(1);
  const [editing, setEditing] = useState<Employee | "new" | null>(null);
  const [q] = useDebouncedValue(search.trim(), 250);
  const [dept] = useDebouncedValue(department.trim(), 250);
  const statusChange = useEmployeeStatusChange();

  const query = {
    page,
    per_page: PER_PAGE,
    ...(q ? { q } : {}),
    ...(dept ? { department: dept } : {}),
    ...(status !== "ALL" ? { status } : {}),
  };
  const employees = useQuery({
    queryKey: [...employeeKeys.all, query],
    queryFn: () => call(api.GET("/api/v1/employees", { params: { query } })),
    placeholderData: keepPreviousData,
  });

  return (
    <>
      <PageHeader
        title="Employees"
        description="The people whose computers run Vigil's agent. Active employees count against your plan."
        actions={
          <Button leftSection={<IconPlus size={16} />} onClick={() => setEditing("new")}>
            Add employee
          </Button>
        }
      />
      <Stack gap="md">
        <Group gap="sm" wrap="wrap">
          <TextInput
            aria-label="Search employees"
            placeholder="Search name or email"
            leftSection={<IconSearch size={16} />}
            value={search}
            onChange={(event) => {
              setSearch(event.currentTarget.value);
              setPage(1);
            }}
            w={{ base: "100%", sm: 260 }}
          />
          <TextInput
            aria-label="Department"
            placeholder="Department"
            value={department}
            onChange={(event) => {
              setDepartment(event.currentTarget.value);
              setPage(1);
            }}
            w={{ base: "100%", sm: 180 }}
          />
          <SegmentedControl
            aria-label="Status"
            data={[
              { value: "ACTIVE", label: "Active" },
              { value: "INACTIVE", label: "Inactive" },
              { value: "ALL", label: "All" },
            ]}
            value={status}
            onChange={(value) => {
              setStatus(value);
              setPage(1);
            }}
          />
        </Group>
        {statusChange.isError && <ProblemAlert error={statusChange.error} />}
        <QueryState
          query={employees}
          label="employees"
          isEmpty={(data) => data.total === 0}
          empty={q || dept ? "No employee matches." : "No employees yet. Add the first one."}
        >
          {(data) => (
            <Card withBorder radius="md" padding="sm">
              <Table.ScrollContainer minWidth={640}>
                <Table highlightOnHover verticalSpacing="sm" aria-label="Employees">
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Name</Table.Th>
                      <Table.Th>Department</Table.Th>
                      <Table.Th>Job title</Table.Th>
                      <Table.Th>Status</Table.Th>
                      <Table.Th>Added</Table.Th>
                      <Table.Th>
                        <span className="visually-hidden">Actions</span>
                      </Table.Th>
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {data.data.map((employee) => (
                      <Table.Tr key={employee.id}>
                        <Table.Td>
                          <Anchor component={Link} to={`/employees/${employee.id}`} size="sm" fw={500}>
                            {employee.name}
                          </Anchor>
                          <Text size="xs" c="dimmed">
                            {employee.email}
                          </Text>
                        </Table.Td>
                        <Table.Td>{employee.department ?? "—"}</Table.Td>
                        <Table.Td>{employee.job_title ?? "—"}</Table.Td>
                        <Table.Td>
                          <EmployeeStatusBadge status={employee.status} />
                        </Table.Td>
                        <Table.Td>{formatDate(employee.created_at)}</Table.Td>
                        <Table.Td>
                          <Menu position="bottom-end" withinPortal>
                            <Menu.Target>
                              <ActionIcon variant="subtle" aria-label={`Actions for ${employee.name}`}>
                                <IconDots size={16} />
                              </ActionIcon>
                            </Menu.Target>
                            <Menu.Dropdown>
                              <Menu.Item onClick={() => setEditing(employee)}>Edit</Menu.Item>
                              <Menu.Item
                                color={employee.status === "ACTIVE" ? "red" : undefined}
                                onClick={() =>
                                  statusChange.mutate({ employee, active: employee.status !== "ACTIVE" })
                                }
                              >
                                {employee.status === "ACTIVE" ? "Deactivate" : "Reactivate"}
                              </Menu.Item>
                            </Menu.Dropdown>
                          </Menu>
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
                noun="employees"
              />
            </Card>
          )}
        </QueryState>
      </Stack>
      <Modal
        opened={editing !== null}
        onClose={() => setEditing(null)}
        title={editing === "new" ? "Add an employee" : "Edit employee"}
        centered
      >
        {editing === "new" && <NewEmployeeForm onDone={() => setEditing(null)} />}
        {editing !== null && editing !== "new" && (
          <EditListedEmployee employeeId={editing.id} onDone={() => setEditing(null)} />
        )}
      </Modal>
    </>
  );
}
