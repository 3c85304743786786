import { useState } from "react";
import {
  Box,
  Button,
  Card,
  Group,
  Image,
  Modal,
  Progress,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
  Tooltip,
  UnstyledButton,
} from "@mantine/core";
import dayjs from "dayjs";
import { notifications } from "@mantine/notifications";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../api/client";
import type { components } from "../api/schema";
import { ListPagination } from "../components/ListPagination";
import { ProblemAlert } from "../components/ProblemAlert";
import { QueryState } from "../components/QueryState";
import { formatBytes, formatDateTime } from "../lib/format";

type DayActivity = components["schemas"]["DayActivity"];
type Screenshot = components["schemas"]["Screenshot"];

/** 3725 → "1 h 2 min". */
export function formatDuration(secs: number): string {
  const hours = Math.floor(secs / 3600);
  const minutes = Math.floor((secs % 3600) / 60);
  if (hours === 0) return minutes === 0 && secs > 0 ? "< 1 min" : `${minutes} min`;
  return `${hours} h ${minutes} min`;
}

function Timeline({ day }: { day: DayActivity }) {
  const start = Date.parse(day.from);
  const length = Date.parse(day.to) - start;
  return (
    <Box
      pos="relative"
      h={28}
      bg="gray.1"
      style={{ borderRadius: 6, overflow: "hidden" }}
      role="img"
      aria-label={`Timeline: ${formatDuration(day.active_secs)} active, ${formatDuration(day.idle_secs)} idle`}
    >
      {day.records.map((span, index) => {
        const left = ((Date.parse(span.started_at) - start) / length) * 100;
        const width = Math.max(
          ((Date.parse(span.ended_at) - Date.parse(span.started_at)) / length) * 100,
          0.15,
        );
        return (
          <Tooltip
            key={`${span.started_at}-${String(index)}`}
            label={`${dayjs(span.started_at).format("HH:mm")}–${dayjs(span.ended_at).format("HH:mm")} · ${span.application}${span.state === "IDLE" ? " (idle)" : ""}`}
          >
            <Box
              pos="absolute"
              top={0}
              h="100%"
              style={{ left: `${String(left)}%`, width: `${String(width)}%` }}
              bg={span.state === "ACTIVE" ? "teal.5" : "yellow.4"}
            />
          </Tooltip>
        );
      })}
    </Box>
  );
}

function TopList({ title, items, total }: { title: string; items: DayActivity["top_sites"]; total: number }) {
  return (
    <Stack gap={6}>
      <Text size="sm" fw={600}>
        {title}
      </Text>
      {items.length === 0 ? (
        <Text size="sm" c="dimmed">
          Nothing recorded.
        </Text>
      ) : (
        items.map((item) => (
          <div key={item.name}>
            <Group justify="space-between" gap="xs" wrap="nowrap">
              <Text size="sm" truncate>
                {item.name}
              </Text>
              <Text size="xs" c="dimmed">
                {formatDuration(item.active_secs)}
              </Text>
            </Group>
            <Progress value={total > 0 ? (item.active_secs / total) * 100 : 0} size="sm" aria-hidden />
          </div>
        ))
      )}
    </Stack>
  );
}

/** One day of an employee's activity: totals, a timeline of active and idle spans, top applications and sites. */
export function ActivityCard({ employeeId }: { employeeId: string }) {
  const [date, setDate] = useState(() => dayjs().format("YYYY-MM-DD"));
  const offset = -new Date().getTimezoneOffset();
  const activity = useQuery({
    queryKey: ["employees", employeeId, "activity", date, offset],
    queryFn: () =>
      call(
        api.GET("/api/v1/employees/{employee_id}/activity", {
          params: { path: { employee_id: employeeId }, query: { date, utc_offset_minutes: offset } },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  return (
    <Card withBorder radius="md" padding="lg">
      <Group justify="space-between" mb="sm" wrap="wrap">
        <Title order={2} fz="h4">
          Activity
        </Title>
        <TextInput
          type="date"
          aria-label="Day"
          value={date}
          max={dayjs().format("YYYY-MM-DD")}
          onChange={(event) => event.currentTarget.value && setDate(event.currentTarget.value)}
        />
      </Group>
      <QueryState
        query={activity}
        label="activity"
        isEmpty={(day) => day.records.length === 0}
        empty="No activity recorded on this day."
      >
        {(day) => (
          <Stack gap="md">
            <Group gap="xl">
              <div>
                <Text size="xs" c="dimmed">
                  Active
                </Text>
                <Text fw={700}>{formatDuration(day.active_secs)}</Text>
              </div>
              <div>
                <Text size="xs" c="dimmed">
                  Idle
                </Text>
                <Text fw={700}>{formatDuration(day.idle_secs)}</Text>
              </div>
            </Group>
            <Timeline day={day} />
            <Group justify="space-between">
              <Text size="xs" c="dimmed">
                {dayjs(day.from).format("HH:mm")}
              </Text>
              <Text size="xs" c="dimmed">
                {dayjs(day.to).format("HH:mm")}
              </Text>
            </Group>
            {day.truncated && (
              <Text size="xs" c="dimmed">
                The timeline shows the first {day.records.length} spans; the totals count them all.
              </Text>
            )}
            <SimpleGrid cols={{ base: 1, sm: 2 }}>
              <TopList title="Top applications" items={day.top_applications} total={day.active_secs} />
              <TopList title="Top sites" items={day.top_sites} total={day.active_secs} />
            </SimpleGrid>
            <Table.ScrollContainer minWidth={560} mah={320}>
              <Table verticalSpacing={4} aria-label="Activity spans" stickyHeader>
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>When</Table.Th>
                    <Table.Th>Application</Table.Th>
                    <Table.Th>Window or site</Table.Th>
                    <Table.Th>State</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {day.records.map((span, index) => (
                    <Table.Tr key={`${span.started_at}-${String(index)}`}>
                      <Table.Td>
                        {dayjs(span.started_at).format("HH:mm")}–{dayjs(span.ended_at).format("HH:mm")}
                      </Table.Td>
                      <Table.Td>{span.application}</Table.Td>
                      <Table.Td>
                        <Text size="sm" truncate maw={280}>
                          {span.url ?? span.window_title ?? "—"}
                        </Text>
                      </Table.Td>
                      <Table.Td>{span.state === "ACTIVE" ? "Active" : "Idle"}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          </Stack>
        )}
      </QueryState>
    </Card>
  );
}

const SHOTS_PER_PAGE = 12;

/** The employee's screenshots, newest first, as thumbnails; each opens large. Links are signed and short-lived. */
export function ScreenshotsCard({ employeeId }: { employeeId: string }) {
  const [page, setPage] = useState(1);
  const [date, setDate] = useState("");
  const [open, setOpen] = useState<Screenshot | null>(null);
  const queryClient = useQueryClient();
  const remove = useMutation({
    mutationFn: (shot: Screenshot) =>
      call(
        api.DELETE("/api/v1/screenshots/{screenshot_id}", { params: { path: { screenshot_id: shot.id } } }),
      ),
    onSuccess: () => {
      setOpen(null);
      void queryClient.invalidateQueries({ queryKey: ["employees", employeeId, "screenshots"] });
      void queryClient.invalidateQueries({ queryKey: ["billing"] });
      notifications.show({ color: "teal", message: "Screenshot deleted." });
    },
  });
  const shots = useQuery({
    queryKey: ["employees", employeeId, "screenshots", date, page],
    queryFn: () =>
      call(
        api.GET("/api/v1/employees/{employee_id}/screenshots", {
          params: {
            path: { employee_id: employeeId },
            query: { page, per_page: SHOTS_PER_PAGE, ...(date ? { date } : {}) },
          },
        }),
      ),
    placeholderData: keepPreviousData,
    // The image links expire after a few minutes: fetch fresh ones before they do.
    refetchInterval: 4 * 60_000,
  });
  return (
    <Card withBorder radius="md" padding="lg">
      <Group justify="space-between" mb="sm" wrap="wrap">
        <Title order={2} fz="h4">
          Screenshots
        </Title>
        <TextInput
          type="date"
          aria-label="Screenshots of day"
          value={date}
          onChange={(event) => {
            setDate(event.currentTarget.value);
            setPage(1);
          }}
        />
      </Group>
      <QueryState
        query={shots}
        label="screenshots"
        isEmpty={(data) => data.total === 0}
        empty="No screenshots. They appear here when the policy turns screenshots on."
      >
        {(data) => (
          <>
            <SimpleGrid cols={{ base: 2, sm: 3, md: 4 }}>
              {data.data.map((shot) => (
                <UnstyledButton
                  key={shot.id}
                  onClick={() => setOpen(shot)}
                  aria-label={`Screenshot taken ${formatDateTime(shot.taken_at)}`}
                >
                  <Image src={shot.url} alt="" radius="sm" h={110} fit="cover" bg="gray.1" />
                  <Text size="xs" c="dimmed" mt={4}>
                    {formatDateTime(shot.taken_at)}
                  </Text>
                </UnstyledButton>
              ))}
            </SimpleGrid>
            <ListPagination
              page={page}
              perPage={SHOTS_PER_PAGE}
              total={data.total ?? 0}
              onChange={setPage}
              noun="screenshots"
            />
          </>
        )}
      </QueryState>
      <Modal
        opened={open !== null}
        onClose={() => {
          setOpen(null);
          remove.reset();
        }}
        size="xl"
        title={open ? `Screenshot, ${formatDateTime(open.taken_at)}` : ""}
      >
        {open && (
          <Stack gap="xs">
            <Image src={open.url} alt={`Screenshot taken ${formatDateTime(open.taken_at)}`} />
            <Group justify="space-between">
              <Text size="xs" c="dimmed">
                {open.content_type} · {formatBytes(open.size_bytes)}
              </Text>
              <Button
                color="red"
                variant="light"
                size="xs"
                loading={remove.isPending}
                onClick={() => remove.mutate(open)}
              >
                Delete screenshot
              </Button>
            </Group>
            {remove.isError && <ProblemAlert error={remove.error} />}
          </Stack>
        )}
      </Modal>
    </Card>
  );
}
