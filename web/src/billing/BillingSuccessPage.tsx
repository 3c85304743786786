import { useEffect, useState } from "react";
import { Alert, Button, Group, Loader, Stack, Text } from "@mantine/core";
import { IconCircleCheck } from "@tabler/icons-react";
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, call } from "../api/client";
import type { BillingDashboard } from "../api/types";
import { PageHeader } from "../components/PageHeader";
import { ProblemAlert } from "../components/ProblemAlert";
import { PlanCard } from "./PlanCard";
import { billingKeys } from "./queries";

/** How often, and how long, to look for the webhook's effect before saying it is late. */
export const POLL_MS = 1500;
export const PATIENCE_MS = 90_000;

function isPaid(billing: BillingDashboard | undefined): boolean {
  return (
    !!billing && billing.subscription.effective_tier !== "FREE" && billing.subscription.status === "ACTIVE"
  );
}

/**
 * Stripe Checkout's success_url. Stripe tells Vigil about the payment by webhook, which may arrive a moment
 * after the browser: poll the billing dashboard until the plan is paid, then show it.
 */
export function BillingSuccessPage() {
  const [late, setLate] = useState(false);
  const billing = useQuery({
    queryKey: billingKeys.dashboard,
    queryFn: () => call(api.GET("/api/v1/billing")),
    refetchInterval: (query) => (isPaid(query.state.data) || late ? false : POLL_MS),
  });
  const paid = isPaid(billing.data);

  useEffect(() => {
    if (paid || late) return;
    const timer = setTimeout(() => setLate(true), PATIENCE_MS);
    return () => clearTimeout(timer);
  }, [paid, late]);

  return (
    <>
      <PageHeader title="Thank you!" description="Your Stripe Checkout is complete." />
      <Stack gap="lg" maw={900}>
        {paid && billing.data ? (
          <>
            <Alert color="teal" icon={<IconCircleCheck />} title="Your plan is active" role="status">
              Welcome to {billing.data.tier.name}. Your new limits and features apply now.
            </Alert>
            <PlanCard billing={billing.data} />
            <Group>
              <Button component={Link} to="/billing">
                Go to billing
              </Button>
              <Button component={Link} to="/employees" variant="light">
                Add employees
              </Button>
            </Group>
          </>
        ) : late ? (
          <Alert color="yellow" title="Still waiting for Stripe" role="status">
            Your payment went through at Stripe, but its confirmation has not reached Vigil yet. The billing
            page shows the new plan as soon as it arrives.
            <Group mt="sm">
              <Button size="xs" onClick={() => setLate(false)}>
                Check again
              </Button>
            </Group>
          </Alert>
        ) : (
          <Group gap="sm" role="status">
            <Loader size="sm" />
            <Text>Confirming your payment with Stripe…</Text>
          </Group>
        )}
        {billing.isError && <ProblemAlert error={billing.error} onRetry={() => void billing.refetch()} />}
      </Stack>
    </>
  );
}
