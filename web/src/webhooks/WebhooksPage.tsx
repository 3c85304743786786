import { useState } from "react";
import { Anchor, Badge, Button, Card, Center, Group, Modal, Stack, Table, Text } from "@mantine/core";
import { IconPlus } from "@tabler/icons-react";
import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate } from "react-router";
import { api, call } from "../api/client";
import type { WebhookEndpoint } from "../api/types";
import { PageHeader } from "../components/PageHeader";
import { QueryState } from "../components/QueryState";
import { SecretOnce } from "../components/SecretOnce";
import { formatDate, formatDateTime, fromNow } from "../lib/format";
import { EndpointForm, type EndpointValues } from "./EndpointForm";
import { endpointStatus } from "./presentation";
import { webhookKeys } from "./queries";

const PER_PAGE = 20;

/** Which events an endpoint receives: "All events", or their types. */
export function EventTypeList({ endpoint }: { endpoint: Pick<WebhookEndpoint, "event_types"> }) {
  if (endpoint.event_types.length === 0) {
    return (
      <Text size="sm" c="dimmed">
        All events
      </Text>
    );
  }
  return (
    <Group gap={4} wrap="wrap">
      {endpoint.event_types.map((type) => (
        <Badge key={type} variant="outline" color="gray" tt="none" ff="monospace">
          {type}
        </Badge>
      ))}
    </Group>
  );
}

export function EndpointStatusBadge({ endpoint }: { endpoint: WebhookEndpoint }) {
  const status = endpointStatus(endpoint);
  return (
    <Badge variant="light" color={status.color} data-testid="webhook-endpoint-status">
      {status.label}
    </Badge>
  );
}

function NewEndpoint({ onDone }: { onDone: (created: WebhookEndpoint) => void }) {
  const queryClient = useQueryClient();
  const create = useMutation({
    mutationFn: (values: EndpointValues) =>
      call(
        api.POST("/api/v1/webhook-endpoints", {
          body: { url: values.url, description: values.description, event_types: values.event_types },
        }),
      ),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: webhookKeys.all }),
  });
  if (create.data) {
    const created = create.data;
    return (
      <Stack>
        <SecretOnce label={`Signing secret of ${created.url}`} secret={created.secret} />
        <Text size="sm">
          Vigil signs every delivery with it (Standard Webhooks): your receiver verifies the{" "}
          <Text span ff="monospace" size="sm">
            webhook-signature
          </Text>{" "}
          header with this secret.
        </Text>
        <Button onClick={() => onDone(created)}>Done</Button>
      </Stack>
    );
  }
  return (
    <EndpointForm
      initial={{ url: "", description: "", event_types: [] }}
      submitLabel="Create endpoint"
      pending={create.isPending}
      error={create.error}
      onSubmit={(values) => create.mutate(values)}
    />
  );
}

/** The company's webhook endpoints: where its events are sent, and whether they arrive. */
export function WebhooksPage() {
  const navigate = useNavigate();
  const [adding, setAdding] = useState(false);
  const endpoints = useInfiniteQuery({
    queryKey: webhookKeys.list,
    queryFn: ({ pageParam }) =>
      call(
        api.GET("/api/v1/webhook-endpoints", {
          params: { query: { limit: PER_PAGE, starting_after: pageParam } },
        }),
      ),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => (last.has_more ? last.data.at(-1)?.id : undefined),
  });
  return (
    <>
      <PageHeader
        title="Webhooks"
        description="Vigil sends your company's events (alerts, billing, employees, agents) to these URLs as they happen, signed so your systems can trust them."
        actions={
          <Button leftSection={<IconPlus size={16} />} onClick={() => setAdding(true)}>
            Add endpoint
          </Button>
        }
      />
      <QueryState
        query={endpoints}
        label="webhook endpoints"
        isEmpty={(d) => d.pages.every((page) => page.data.length === 0)}
        empty="No webhook endpoints yet."
      >
        {(data) => (
          <Card withBorder radius="md" padding="sm">
            <Table.ScrollContainer minWidth={720}>
              <Table verticalSpacing="sm" aria-label="Webhook endpoints">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Endpoint</Table.Th>
                    <Table.Th>Events</Table.Th>
                    <Table.Th>Status</Table.Th>
                    <Table.Th>Created</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {data.pages
                    .flatMap((page) => page.data)
                    .map((endpoint) => (
                      <Table.Tr key={endpoint.id} data-testid="webhook-endpoint-row">
                        <Table.Td>
                          <Anchor
                            component={Link}
                            to={`/webhooks/${endpoint.id}`}
                            size="sm"
                            fw={500}
                            ff="monospace"
                            style={{ wordBreak: "break-all" }}
                          >
                            {endpoint.url}
                          </Anchor>
                          {endpoint.description && (
                            <Text size="xs" c="dimmed">
                              {endpoint.description}
                            </Text>
                          )}
                        </Table.Td>
                        <Table.Td>
                          <EventTypeList endpoint={endpoint} />
                        </Table.Td>
                        <Table.Td>
                          <EndpointStatusBadge endpoint={endpoint} />
                          {endpoint.enabled && endpoint.failing_since && (
                            <Text size="xs" c="orange" title={formatDateTime(endpoint.failing_since)}>
                              failing since {fromNow(endpoint.failing_since)}
                            </Text>
                          )}
                          {!endpoint.enabled && endpoint.disabled_reason && (
                            <Text size="xs" c="dimmed" lineClamp={2}>
                              {endpoint.disabled_reason}
                            </Text>
                          )}
                        </Table.Td>
                        <Table.Td>{formatDate(endpoint.created_at)}</Table.Td>
                      </Table.Tr>
                    ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
            {endpoints.hasNextPage && (
              <Center mt="md">
                <Button
                  variant="default"
                  size="xs"
                  loading={endpoints.isFetchingNextPage}
                  onClick={() => void endpoints.fetchNextPage()}
                >
                  Load more
                </Button>
              </Center>
            )}
          </Card>
        )}
      </QueryState>
      <Modal opened={adding} onClose={() => setAdding(false)} title="Add a webhook endpoint" centered>
        {adding && (
          <NewEndpoint
            onDone={(created) => {
              setAdding(false);
              void navigate(`/webhooks/${created.id}`);
            }}
          />
        )}
      </Modal>
    </>
  );
}
