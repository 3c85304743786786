import { Alert, Anchor, Button, Card, Group, SimpleGrid, Stack, Text, Title } from "@mantine/core";
import { IconCreditCard, IconReceipt, IconRocket, IconSettings } from "@tabler/icons-react";
import { Link } from "react-router";
import { PageHeader } from "../components/PageHeader";
import { QueryState } from "../components/QueryState";
import { CardOnFileLine } from "./CardOnFile";
import { InvoiceTable } from "./InvoiceTable";
import { PlanCard } from "./PlanCard";
import { PlanStanding } from "./PlanStanding";
import { useBilling } from "./queries";
import { UsageBars } from "./UsageBars";
import { useIsAdmin } from "../auth/AuthContext";

export function BillingPage() {
  const billing = useBilling();
  const admin = useIsAdmin();
  return (
    <>
      <PageHeader title="Billing" description="Your plan, what you use of it, and your latest invoices." />
      <QueryState query={billing} label="billing">
        {(data) => (
          <Stack gap="lg">
            {!data.billing_configured && (
              <Alert color="gray" title="Billing is not connected">
                This server has no Stripe keys, so plans cannot be changed here. Everything else works on the
                Free plan.
              </Alert>
            )}
            <PlanStanding billing={data} />
            <SimpleGrid cols={{ base: 1, md: 3 }}>
              <div style={{ gridColumn: "span 2" }}>
                <PlanCard billing={data} />
              </div>
              <Card withBorder radius="md" padding="lg">
                <Title order={2} fz="h4" mb="sm">
                  Quick actions
                </Title>
                <Stack gap="xs">
                  <CardOnFileLine card={data.card} />
                  <Button component={Link} to="/billing/upgrade" leftSection={<IconRocket size={16} />}>
                    {data.subscription.effective_tier === "FREE" ? "Upgrade" : "Change plan"}
                  </Button>
                  <Button
                    component={Link}
                    to="/billing/payment-history"
                    variant="light"
                    leftSection={<IconReceipt size={16} />}
                  >
                    Payment history
                  </Button>
                  {admin && (
                    <>
                      <Button
                        component={Link}
                        to="/billing/settings"
                        variant="light"
                        leftSection={<IconSettings size={16} />}
                      >
                        Billing settings
                      </Button>
                      <Button
                        component={Link}
                        to="/billing/settings#payment-method"
                        variant="subtle"
                        leftSection={<IconCreditCard size={16} />}
                      >
                        Payment method
                      </Button>
                    </>
                  )}
                </Stack>
              </Card>
            </SimpleGrid>
            <div>
              <Title order={2} fz="h4" mb="sm">
                Usage
              </Title>
              <UsageBars usage={data.usage} />
            </div>
            <Card withBorder radius="md" padding="lg">
              <Group justify="space-between" mb="sm">
                <Title order={2} fz="h4">
                  Recent invoices
                </Title>
                <Anchor component={Link} to="/billing/payment-history" size="sm">
                  All invoices
                </Anchor>
              </Group>
              {data.recent_invoices.length === 0 ? (
                <Text c="dimmed" size="sm">
                  No invoices yet. They appear here once a paid plan starts.
                </Text>
              ) : (
                <InvoiceTable invoices={data.recent_invoices} />
              )}
            </Card>
          </Stack>
        )}
      </QueryState>
    </>
  );
}
