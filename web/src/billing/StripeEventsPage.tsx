import { useState } from "react";
import { Badge, Button, Card, Code, Table, Text } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call } from "../api/client";
import type { components } from "../api/schema";
import { ListPagination } from "../components/ListPagination";
import { PageHeader } from "../components/PageHeader";
import { ProblemAlert } from "../components/ProblemAlert";
import { QueryState } from "../components/QueryState";
import { formatDateTime } from "../lib/format";

type StripeEvent = components["schemas"]["StripeEvent"];
type Outcome = StripeEvent["outcome"];
const PER_PAGE = 25;
const OUTCOME_COLOR: Record<Outcome, string> = { processed: "teal", ignored: "gray", failed: "red" };

/** What Stripe sent about the company, how each event was processed, and why a failed one failed. */
export function StripeEventsPage() {
  const queryClient = useQueryClient();
  const [page, setPage] = useState(1);
  const events = useQuery({
    queryKey: ["stripe-events", page],
    queryFn: () =>
      call(api.GET("/api/v1/stripe/events", { params: { query: { page, per_page: PER_PAGE } } })),
    placeholderData: keepPreviousData,
  });
  const replay = useMutation({
    mutationFn: (event: StripeEvent) =>
      call(
        api.POST("/api/v1/stripe/events/{event_id}/replay", {
          params: { path: { event_id: event.event_id } },
        }),
      ),
    onSuccess: (event) => {
      void queryClient.invalidateQueries({ queryKey: ["stripe-events"] });
      void queryClient.invalidateQueries({ queryKey: ["billing"] });
      notifications.show(
        event.outcome === "failed"
          ? {
              color: "red",
              message: `Event ${event.event_id} failed again: ${event.error ?? "no reason given"}`,
            }
          : { color: "teal", message: `Event ${event.event_id} was ${event.outcome}.` },
      );
    },
  });
  return (
    <>
      <PageHeader
        title="Stripe events"
        description="What Stripe told Vigil about your billing, how each event was processed, and why a failed one failed."
      />
      {replay.error && <ProblemAlert error={replay.error} title="The replay was refused" />}
      <QueryState
        query={events}
        label="Stripe events"
        isEmpty={(d) => d.total === 0}
        empty="No events from Stripe yet."
      >
        {(data) => (
          <Card withBorder radius="md" padding="sm">
            <Table.ScrollContainer minWidth={720}>
              <Table verticalSpacing="xs" aria-label="Stripe events">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Received</Table.Th>
                    <Table.Th>Event</Table.Th>
                    <Table.Th>Outcome</Table.Th>
                    <Table.Th>Attempts</Table.Th>
                    <Table.Th>Reason</Table.Th>
                    <Table.Th />
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {data.data.map((event) => (
                    <Table.Tr key={event.event_id}>
                      <Table.Td>{formatDateTime(event.received_at)}</Table.Td>
                      <Table.Td>
                        <Text size="sm">{event.type}</Text>
                        <Code>{event.event_id}</Code>
                      </Table.Td>
                      <Table.Td>
                        <Badge variant="light" color={OUTCOME_COLOR[event.outcome]}>
                          {event.outcome}
                        </Badge>
                      </Table.Td>
                      <Table.Td>{event.attempts}</Table.Td>
                      <Table.Td>
                        <Text size="sm" c={event.error ? "red" : "dimmed"}>
                          {event.error ?? "—"}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        {event.outcome === "failed" && (
                          <Button
                            size="compact-xs"
                            variant="light"
                            loading={replay.isPending && replay.variables.event_id === event.event_id}
                            onClick={() => replay.mutate(event)}
                            aria-label={`Replay ${event.event_id}`}
                          >
                            Replay
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
              noun="events"
            />
          </Card>
        )}
      </QueryState>
    </>
  );
}
