import { Anchor, Card, Group, SimpleGrid, Stack, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { AlertBadges } from "../alerts/AlertBadges";
import { alertKeys } from "../alerts/queries";
import { api, call } from "../api/client";
import { useMe } from "../auth/AuthContext";
import { SubscriptionStatusBadge } from "../billing/presentation";
import { useBilling } from "../billing/queries";
import { UsageBars } from "../billing/UsageBars";
import { PageHeader } from "../components/PageHeader";
import { QueryState } from "../components/QueryState";
import { formatDate, fromNow } from "../lib/format";

function LatestAlerts() {
  const alerts = useQuery({
    queryKey: [...alertKeys.all, "latest"],
    queryFn: () => call(api.GET("/api/v1/alerts", { params: { query: { page: 1, per_page: 5 } } })),
  });
  return (
    <Card withBorder radius="md" padding="lg">
      <Group justify="space-between" mb="sm">
        <Title order={2} fz="h4">
          Latest alerts
        </Title>
        <Anchor component={Link} to="/alerts" size="sm">
          All alerts
        </Anchor>
      </Group>
      <QueryState
        query={alerts}
        label="alerts"
        isEmpty={(data) => data.total === 0}
        empty="No alerts. All is quiet."
      >
        {(data) => (
          <Stack gap="sm">
            {data.data.map((alert) => (
              <Group key={alert.id} justify="space-between" wrap="nowrap" align="flex-start">
                <div>
                  <Text size="sm" fw={alert.read ? 400 : 700}>
                    {alert.title}
                  </Text>
                  <Text size="xs" c="dimmed">
                    {fromNow(alert.created_at)}
                  </Text>
                </div>
                <AlertBadges alert={alert} />
              </Group>
            ))}
          </Stack>
        )}
      </QueryState>
    </Card>
  );
}

export function DashboardPage() {
  const me = useMe();
  const billing = useBilling();
  return (
    <>
      <PageHeader
        title={`Welcome, ${me.user.name.split(" ")[0] ?? me.user.name}`}
        description={me.company.name}
      />
      <Stack gap="lg">
        <QueryState query={billing} label="usage">
          {(data) => (
            <Stack gap="lg">
              <Card withBorder radius="md" padding="lg">
                <Group justify="space-between" wrap="wrap">
                  <div>
                    <Text size="sm" c="dimmed">
                      Plan
                    </Text>
                    <Group gap="xs">
                      <Title order={2} fz="h3" data-testid="dashboard-plan">
                        {data.tier.name}
                      </Title>
                      <SubscriptionStatusBadge status={data.subscription.status} />
                    </Group>
                    <Text size="sm" c="dimmed">
                      {data.renews_at
                        ? `Renews ${formatDate(data.renews_at)}`
                        : data.ends_at
                          ? `Ends ${formatDate(data.ends_at)}`
                          : "Free forever"}
                    </Text>
                  </div>
                  <Anchor
                    component={Link}
                    to={data.subscription.effective_tier === "FREE" ? "/billing/upgrade" : "/billing"}
                  >
                    {data.subscription.effective_tier === "FREE" ? "Upgrade for more" : "Manage billing"}
                  </Anchor>
                </Group>
              </Card>
              <UsageBars usage={data.usage} />
            </Stack>
          )}
        </QueryState>
        <SimpleGrid cols={{ base: 1, md: 2 }}>
          <LatestAlerts />
          <Card withBorder radius="md" padding="lg">
            <Title order={2} fz="h4" mb="sm">
              Get going
            </Title>
            <Stack gap={6}>
              <Anchor component={Link} to="/employees">
                Add the employees you monitor
              </Anchor>
              <Anchor component={Link} to="/agents">
                Create an enrollment token and install agents
              </Anchor>
              <Anchor component={Link} to="/policy">
                Decide what agents record
              </Anchor>
              <Anchor component={Link} to="/users">
                Invite your admins and managers
              </Anchor>
            </Stack>
          </Card>
        </SimpleGrid>
      </Stack>
    </>
  );
}
