import { useState } from "react";
import { Anchor, Badge, Button, Card, Group, NumberInput, Stack, Switch, Text, Tooltip } from "@mantine/core";
import { useForm } from "@mantine/form";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, callVersioned, type Versioned } from "../api/client";
import { ApiProblem } from "../api/problem";
import type { Policy, PolicySettings, Tier } from "../api/types";
import { useIsAdmin } from "../auth/AuthContext";
import { useBilling } from "../billing/queries";
import { PageHeader } from "../components/PageHeader";
import { ProblemAlert } from "../components/ProblemAlert";
import { QueryState } from "../components/QueryState";
import { useEditVersion, type VersionedQuery } from "../lib/editVersion";
import { formatDateTime } from "../lib/format";

type Values = PolicySettings;

const SWITCHES: {
  key: keyof Values;
  label: string;
  description: string;
  feature?: keyof Tier["features"];
}[] = [
  {
    key: "activity_tracking_enabled",
    label: "Activity tracking",
    description: "Record which applications are in use.",
  },
  {
    key: "screenshots_enabled",
    label: "Screenshots",
    description: "Take periodic screenshots.",
    feature: "screenshots",
  },
  {
    key: "website_tracking_enabled",
    label: "Website tracking",
    description: "Record visited websites.",
    feature: "website_tracking",
  },
];

const NUMBERS: { key: keyof Values; label: string; description: string }[] = [
  {
    key: "screenshot_interval_secs",
    label: "Screenshot interval (seconds)",
    description: "How often a screenshot is taken.",
  },
  {
    key: "idle_threshold_secs",
    label: "Idle after (seconds)",
    description: "No input for this long counts as idle.",
  },
  {
    key: "offline_threshold_secs",
    label: "Offline after (seconds)",
    description: "A silent agent is offline and raises an alert.",
  },
  { key: "heartbeat_interval_secs", label: "Heartbeat (seconds)", description: "How often agents check in." },
];

const policyQuery: VersionedQuery<Policy> = {
  queryKey: ["policy"],
  queryFn: () => callVersioned(api.GET("/api/v1/policy")),
};

function PolicyForm({ policy, tier }: { policy: Versioned<Policy>; tier: Tier }) {
  const admin = useIsAdmin();
  const queryClient = useQueryClient();
  const edit = useEditVersion(policyQuery, policy);
  const [version, setVersion] = useState(policy.value.version);
  const form = useForm<Values>({
    initialValues: { ...policy.value.settings },
  });
  const show = (shown: Policy) => {
    setVersion(shown.version);
    form.setValues({ ...shown.settings });
    form.resetDirty({ ...shown.settings });
  };
  const save = useMutation({
    mutationFn: (values: Values) =>
      callVersioned(api.PUT("/api/v1/policy", { params: { header: edit.header }, body: values })),
    onSuccess: (saved) => {
      edit.saved(saved);
      show(saved.value);
      queryClient.setQueryData(policyQuery.queryKey, saved);
      notifications.show({
        color: "teal",
        message: `Policy saved (version ${saved.value.version}). Agents pick it up on their next heartbeat.`,
      });
    },
    onError: (error) => {
      if (!(error instanceof ApiProblem)) return;
      for (const [field, messages] of Object.entries(error.fieldErrors))
        form.setFieldError(field, messages.join("; "));
    },
  });
  const reload = async () => {
    show(await edit.reloadLatest());
    save.reset();
  };
  return (
    <form onSubmit={form.onSubmit((values) => save.mutate(values))}>
      <Stack gap="lg" maw={760}>
        <Text size="sm" c="dimmed">
          Version {version}
        </Text>
        {save.isError && (
          <ProblemAlert
            error={save.error}
            fieldsShown={Object.keys(form.values)}
            onReload={() => void reload()}
          />
        )}
        <Card withBorder radius="md" padding="lg">
          <Stack gap="md">
            {SWITCHES.map((item) => {
              const locked = item.feature !== undefined && !tier.features[item.feature];
              return (
                <Group key={item.key} justify="space-between" wrap="nowrap" align="flex-start">
                  <Switch
                    label={item.label}
                    description={item.description}
                    disabled={!admin || locked}
                    {...form.getInputProps(item.key, { type: "checkbox" })}
                  />
                  {locked && (
                    <Tooltip label={`Not in the ${tier.name} plan`}>
                      <Anchor component={Link} to="/billing/upgrade" size="sm">
                        <Badge color="orange" variant="light" style={{ cursor: "pointer" }}>
                          Upgrade to unlock
                        </Badge>
                      </Anchor>
                    </Tooltip>
                  )}
                </Group>
              );
            })}
          </Stack>
        </Card>
        <Card withBorder radius="md" padding="lg">
          <Stack gap="md">
            {NUMBERS.map((item) => (
              <NumberInput
                key={item.key}
                label={item.label}
                description={item.description}
                min={0}
                disabled={!admin}
                {...form.getInputProps(item.key)}
              />
            ))}
          </Stack>
        </Card>
        {admin ? (
          <Group>
            <Button type="submit" loading={save.isPending}>
              Save policy
            </Button>
          </Group>
        ) : (
          <Text size="sm" c="dimmed">
            Only owners and admins can change the policy.
          </Text>
        )}
      </Stack>
    </form>
  );
}

export function PolicyPage() {
  const policy = useQuery(policyQuery);
  const billing = useBilling();
  return (
    <>
      <PageHeader
        title="Monitoring policy"
        description={
          policy.data
            ? `What agents record. Last changed ${formatDateTime(policy.data.value.updated_at)}.`
            : "What agents record."
        }
      />
      <QueryState query={policy} label="the policy">
        {(data) => (
          <QueryState query={billing} label="your plan">
            {(plan) => <PolicyForm policy={data} tier={plan.tier} />}
          </QueryState>
        )}
      </QueryState>
    </>
  );
}
