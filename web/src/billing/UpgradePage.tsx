import { useState } from "react";
import {
  Accordion,
  Alert,
  Badge,
  Button,
  Card,
  Group,
  List,
  Loader,
  Modal,
  SimpleGrid,
  Stack,
  Table,
  Text,
  ThemeIcon,
  Title,
} from "@mantine/core";
import { IconCheck, IconX } from "@tabler/icons-react";
import { notifications } from "@mantine/notifications";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router";
import { api, call } from "../api/client";
import { PAYMENT_REQUIRED, asProblem } from "../api/problem";
import type { PlanChangePreview, Tier, TierCode } from "../api/types";
import { useIsAdmin } from "../auth/AuthContext";
import { PageHeader } from "../components/PageHeader";
import { ProblemAlert } from "../components/ProblemAlert";
import { QueryState } from "../components/QueryState";
import { formatDate, formatMoney, humanize } from "../lib/format";
import { FEATURE_LABELS, hasLivePaidPlan, limitText } from "./presentation";
import { billingKeys, useBilling, usePlanPreview, useTiers } from "./queries";

/** Where the browser goes for Stripe Checkout; a function so tests can observe it. */
export const redirect = { to: (url: string) => window.location.assign(url) };

const FAQ = [
  {
    q: "How does paying work?",
    a: "Choosing a paid plan takes you to Stripe Checkout, Stripe's secure payment page. Vigil never sees your card number.",
  },
  {
    q: "What happens when I switch between paid plans?",
    a: "Stripe prorates: you get credit for the unused part of your current plan and pay the new plan's price for the rest of the period. Before you confirm, you see the exact amount; it is charged at once, and the new plan applies as soon as that payment goes through. If it fails, you stay on your plan and can pay the invoice on Stripe's page to complete the change.",
  },
  {
    q: "Can I cancel at any time?",
    a: "Yes. In Billing settings, turn off auto-renewal or cancel: your plan keeps working until the end of the period you paid for, then the Free plan's limits apply.",
  },
  {
    q: "What if a payment fails?",
    a: "Your admins get an alert, and the plan keeps its limits during a grace period while Stripe retries. Update the card in Billing settings to settle it.",
  },
  {
    q: "Do you keep my data when I downgrade?",
    a: "A downgrade takes effect at the end of the period you paid for: until then you keep your plan, and from then on you pay the smaller plan's price. Data is kept within the retention period of the plan you move to. A downgrade is refused while you use more than the smaller plan allows.",
  },
];

/**
 * What a switch to `tier` costs, as Stripe computes it: the exact amount charged now with its proration lines,
 * or, for a downgrade that waits for the end of the period, when it takes effect.
 */
function ProrationPreview({ tier, current }: { tier: Tier; current: string }) {
  const preview = usePlanPreview(tier.code);
  const price = formatMoney(tier.monthly_price_minor, tier.currency);
  if (preview.isPending) {
    return (
      <Group gap="xs">
        <Loader size="xs" />
        <Text size="sm">Asking Stripe for the exact amount…</Text>
      </Group>
    );
  }
  if (preview.isError) {
    return <ProblemAlert error={preview.error} title="Stripe could not compute the amount" />;
  }
  const { amount_due: due, currency, lines, period_end: end, takes_effect_at: from } = preview.data;
  if (from !== preview.data.proration_date) {
    return (
      <Text size="sm" data-testid="amount-due">
        Your plan changes to {tier.name} ({price} a month) on {formatDate(from)}, at the end of the period you
        paid for. Until then you keep {current}; nothing is charged or credited now.
      </Text>
    );
  }
  return (
    <Stack gap="xs">
      <Text size="sm">
        Your plan changes to {tier.name} ({price} a month) as soon as Stripe has the payment for the rest of
        this period.
      </Text>
      <Text size="sm" data-testid="amount-due">
        {due > 0
          ? `You pay ${formatMoney(due, currency)} now for the rest of this period, until ${formatDate(end)}.`
          : `Nothing to pay now: the unused time of your current plan covers the rest of this period, until ${formatDate(end)}.`}
      </Text>
      <Table withTableBorder fz="sm" aria-label="Proration">
        <Table.Tbody>
          {lines.map((line, index) => (
            <Table.Tr key={index}>
              <Table.Td>{line.description}</Table.Td>
              <Table.Td ta="right">
                {line.amount < 0 ? "−" : ""}
                {formatMoney(Math.abs(line.amount), currency)}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}

function PricingCard({ tier, current, action }: { tier: Tier; current: boolean; action: React.ReactNode }) {
  return (
    <Card
      withBorder
      radius="md"
      padding="lg"
      shadow={tier.code === "PRO" ? "md" : undefined}
      style={tier.code === "PRO" ? { borderColor: "var(--mantine-color-blue-5)" } : undefined}
      aria-label={`${tier.name} plan`}
      component="section"
    >
      <Group justify="space-between">
        <Title order={2} fz="h3">
          {tier.name}
        </Title>
        {current ? (
          <Badge color="teal">Current plan</Badge>
        ) : tier.code === "PRO" ? (
          <Badge variant="light">Most popular</Badge>
        ) : null}
      </Group>
      <Group gap={4} align="baseline" mt="sm">
        <Text fz={32} fw={800}>
          {formatMoney(tier.monthly_price_minor, tier.currency)}
        </Text>
        <Text c="dimmed">/ month</Text>
      </Group>
      <List spacing={4} size="sm" mt="md" mb="lg">
        <List.Item>{limitText(tier.max_employees)} employees</List.Item>
        <List.Item>{limitText(tier.max_agents)} agents</List.Item>
        <List.Item>{limitText(tier.max_storage_gb, " GB")} storage</List.Item>
        <List.Item>{tier.retention_days} days of history</List.Item>
      </List>
      {action}
    </Card>
  );
}

function ComparisonTable({ tiers }: { tiers: Tier[] }) {
  const rows: { label: string; value: (tier: Tier) => React.ReactNode }[] = [
    { label: "Price per month", value: (t) => formatMoney(t.monthly_price_minor, t.currency) },
    { label: "Employees", value: (t) => limitText(t.max_employees) },
    { label: "Agents", value: (t) => limitText(t.max_agents) },
    { label: "Storage", value: (t) => limitText(t.max_storage_gb, " GB") },
    { label: "History kept", value: (t) => `${t.retention_days} days` },
    ...(Object.entries(FEATURE_LABELS) as [keyof Tier["features"], string][]).map(([key, label]) => ({
      label,
      value: (t: Tier) =>
        t.features[key] ? (
          <ThemeIcon size={20} radius="xl" color="teal" variant="light" aria-label="Included">
            <IconCheck size={14} />
          </ThemeIcon>
        ) : (
          <ThemeIcon size={20} radius="xl" color="gray" variant="light" aria-label="Not included">
            <IconX size={14} />
          </ThemeIcon>
        ),
    })),
  ];
  return (
    <Table.ScrollContainer minWidth={520}>
      <Table striped withTableBorder verticalSpacing="sm" aria-label="Plan comparison">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Compare plans</Table.Th>
            {tiers.map((tier) => (
              <Table.Th key={tier.code} ta="center">
                {tier.name}
              </Table.Th>
            ))}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.map((row) => (
            <Table.Tr key={row.label}>
              <Table.Th scope="row" fw={500}>
                {row.label}
              </Table.Th>
              {tiers.map((tier) => (
                <Table.Td key={tier.code} ta="center">
                  <Group justify="center">{row.value(tier)}</Group>
                </Table.Td>
              ))}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

export function UpgradePage() {
  const [params] = useSearchParams();
  const billing = useBilling();
  const tiers = useTiers();
  const admin = useIsAdmin();
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState<Tier | null>(null);

  const checkout = useMutation({
    mutationFn: (tier: TierCode) => call(api.POST("/api/v1/billing/checkout-session", { body: { tier } })),
    onSuccess: ({ url }) => redirect.to(url),
  });
  const change = useMutation({
    // The preview's proration date, with the quote the server signed it with, so that Stripe invoices
    // exactly the amount shown.
    mutationFn: (tier: TierCode) => {
      const quoted = queryClient.getQueryData<PlanChangePreview>(billingKeys.preview(tier));
      const body = quoted ? { tier, proration_date: quoted.proration_date, quote: quoted.quote } : { tier };
      return call(api.PUT("/api/v1/billing/subscription", { body }));
    },
    // A change waiting for its payment leaves the plan as it was, with an open invoice to show.
    onError: () => queryClient.invalidateQueries({ queryKey: billingKeys.dashboard }),
    onSuccess: async (subscription) => {
      setConfirming(null);
      await queryClient.invalidateQueries({ queryKey: billingKeys.dashboard });
      const scheduled = subscription.scheduled_change;
      notifications.show(
        scheduled
          ? {
              color: "blue",
              title: "Plan change scheduled",
              message: `You move to ${humanize(scheduled.tier)} on ${formatDate(scheduled.at)}.`,
            }
          : {
              color: "teal",
              title: "Plan changed",
              message: `You are now on ${humanize(subscription.tier)}.`,
            },
      );
    },
  });
  // The change's own errors show in its dialog.
  const error = checkout.error;

  return (
    <>
      <PageHeader
        title="Plans"
        description="Pick the plan that fits your team. Change or cancel at any time."
      />
      <Stack gap="xl">
        {params.get("checkout") === "cancelled" && (
          <Alert color="yellow" title="Checkout cancelled" role="status">
            Nothing was charged and your plan has not changed. Pick a plan whenever you are ready.
          </Alert>
        )}
        {!admin && (
          <Alert color="gray">Only owners and admins can change the plan; ask one of them to upgrade.</Alert>
        )}
        {error && <ProblemAlert error={error} />}
        <QueryState query={tiers} label="plans">
          {(tierList) => (
            <QueryState query={billing} label="your plan">
              {(data) => {
                const paid = hasLivePaidPlan(data.subscription);
                const currentCode = paid ? data.subscription.tier : "FREE";
                const actionFor = (tier: Tier) => {
                  const scheduled = data.subscription.scheduled_change;
                  if (tier.code === currentCode && scheduled) {
                    // Choosing the current plan again undoes the downgrade scheduled for the period's end.
                    return (
                      <Button
                        fullWidth
                        variant="light"
                        loading={change.isPending && change.variables === tier.code}
                        disabled={!admin}
                        onClick={() => change.mutate(tier.code)}
                      >
                        Keep {tier.name}
                      </Button>
                    );
                  }
                  if (tier.code === currentCode) {
                    return (
                      <Button fullWidth variant="light" disabled>
                        Your plan
                      </Button>
                    );
                  }
                  if (scheduled?.tier === tier.code) {
                    return (
                      <Button fullWidth variant="light" disabled>
                        From {formatDate(scheduled.at)}
                      </Button>
                    );
                  }
                  if (tier.code === "FREE") {
                    return (
                      <Button fullWidth variant="default" component={Link} to="/billing/settings#danger-zone">
                        Cancel to move to Free
                      </Button>
                    );
                  }
                  const busy =
                    (checkout.isPending && checkout.variables === tier.code) ||
                    (change.isPending && change.variables === tier.code);
                  return (
                    <Button
                      fullWidth
                      loading={busy}
                      disabled={!admin || !data.billing_configured}
                      onClick={() => (paid ? setConfirming(tier) : checkout.mutate(tier.code))}
                    >
                      {paid ? `Switch to ${tier.name}` : `Choose ${tier.name}`}
                    </Button>
                  );
                };
                return (
                  <>
                    <SimpleGrid cols={{ base: 1, md: 3 }}>
                      {tierList.map((tier) => (
                        <PricingCard
                          key={tier.code}
                          tier={tier}
                          current={tier.code === currentCode}
                          action={actionFor(tier)}
                        />
                      ))}
                    </SimpleGrid>
                    <Modal
                      opened={confirming !== null}
                      onClose={() => setConfirming(null)}
                      title={confirming ? `Switch to ${confirming.name}?` : ""}
                      centered
                    >
                      {confirming && (
                        <Stack>
                          <ProrationPreview tier={confirming} current={data.tier.name} />
                          {data.renews_at && (
                            <Text size="sm" c="dimmed">
                              From {formatDate(data.renews_at)} you pay the full{" "}
                              {formatMoney(confirming.monthly_price_minor, confirming.currency)} a month.
                            </Text>
                          )}
                          {change.isError && (
                            <ProblemAlert
                              error={change.error}
                              title={
                                asProblem(change.error).code === PAYMENT_REQUIRED
                                  ? `Your plan is still ${data.tier.name}: the payment did not go through`
                                  : undefined
                              }
                            />
                          )}
                          <Group justify="flex-end">
                            <Button variant="default" onClick={() => setConfirming(null)}>
                              Keep {data.tier.name}
                            </Button>
                            <Button loading={change.isPending} onClick={() => change.mutate(confirming.code)}>
                              Confirm the change
                            </Button>
                          </Group>
                        </Stack>
                      )}
                    </Modal>
                  </>
                );
              }}
            </QueryState>
          )}
        </QueryState>
        {tiers.data && (
          <Card withBorder radius="md" padding="lg">
            <Title order={2} fz="h4" mb="sm">
              Compare the plans
            </Title>
            <ComparisonTable tiers={tiers.data} />
          </Card>
        )}
        <div>
          <Title order={2} fz="h4" mb="sm">
            Frequently asked questions
          </Title>
          <Accordion variant="separated">
            {FAQ.map((item) => (
              <Accordion.Item key={item.q} value={item.q}>
                <Accordion.Control>{item.q}</Accordion.Control>
                <Accordion.Panel>
                  <Text size="sm">{item.a}</Text>
                </Accordion.Panel>
              </Accordion.Item>
            ))}
          </Accordion>
        </div>
      </Stack>
    </>
  );
}
