import { useState } from "react";
import {
  Alert,
  Button,
  Card,
  Group,
  Modal,
  Select,
  Stack,
  Switch,
  Text,
  TextInput,
  Title,
} from "@mantine/core";
import { useForm } from "@mantine/form";
import { notifications } from "@mantine/notifications";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, call, callVersioned, type Versioned } from "../api/client";
import { fieldError } from "../api/problem";
import type { BillingDashboard, BillingSettings } from "../api/types";
import { PageHeader } from "../components/PageHeader";
import { ProblemAlert } from "../components/ProblemAlert";
import { QueryState } from "../components/QueryState";
import { useEditVersion } from "../lib/editVersion";
import { formatDate } from "../lib/format";
import { CardOnFileLine } from "./CardOnFile";
import { hasLivePaidPlan } from "./presentation";
import { billingKeys, billingSettingsQuery, useBilling } from "./queries";
import { redirect } from "./UpgradePage";

const TAX_ID_TYPES = [
  { value: "eu_vat", label: "EU VAT" },
  { value: "gb_vat", label: "UK VAT" },
  { value: "us_ein", label: "US EIN" },
  { value: "ca_bn", label: "Canadian BN" },
  { value: "au_abn", label: "Australian ABN" },
  { value: "ch_vat", label: "Swiss VAT" },
  { value: "no_vat", label: "Norwegian VAT" },
  { value: "in_gst", label: "Indian GST" },
];

function useRefresh() {
  const queryClient = useQueryClient();
  return () => queryClient.invalidateQueries({ queryKey: billingKeys.dashboard });
}

/** The version of the billing settings this page edits; both cards write it, so they share it. */
type SettingsVersion = ReturnType<typeof useEditVersion<BillingSettings>>;

function AutoRenewal({ billing, edit }: { billing: BillingDashboard; edit: SettingsVersion }) {
  const refresh = useRefresh();
  const toggle = useMutation({
    mutationFn: (autoRenewal: boolean) =>
      callVersioned(
        api.PATCH("/api/v1/billing/settings", {
          params: { header: edit.header },
          body: { auto_renewal: autoRenewal },
        }),
      ),
    onSuccess: (saved) => {
      edit.saved(saved);
      void refresh();
      notifications.show({
        color: "teal",
        message: saved.value.subscription.auto_renew ? "Auto-renewal is on." : "Auto-renewal is off.",
      });
    },
  });
  const reload = async () => {
    await edit.reloadLatest();
    toggle.reset();
    await refresh();
  };
  const live = hasLivePaidPlan(billing.subscription);
  return (
    <Card withBorder radius="md" padding="lg">
      <Title order={2} fz="h4" mb="xs">
        Auto-renewal
      </Title>
      <Switch
        label="Renew my plan automatically"
        checked={billing.subscription.auto_renew && live}
        disabled={!live || toggle.isPending}
        onChange={(event) => toggle.mutate(event.currentTarget.checked)}
      />
      <Text size="sm" c="dimmed" mt="xs">
        {!live
          ? "You are on the Free plan: there is nothing to renew."
          : billing.subscription.auto_renew
            ? `Your plan renews on ${formatDate(billing.renews_at)} and Stripe charges your payment method. Turn this off to end the plan at the end of the period instead; you keep everything until then.`
            : `Your plan ends on ${formatDate(billing.ends_at)}, after which the Free plan's limits apply. Turn this on to keep it.`}
      </Text>
      {toggle.isError && <ProblemAlert error={toggle.error} onReload={() => void reload()} />}
    </Card>
  );
}

function BillingEmail({ settings, edit }: { settings: BillingSettings; edit: SettingsVersion }) {
  const refresh = useRefresh();
  const form = useForm({ initialValues: { billing_email: settings.billing_email ?? "" } });
  const save = useMutation({
    mutationFn: (email: string) =>
      callVersioned(
        api.PATCH("/api/v1/billing/settings", {
          params: { header: edit.header },
          body: { billing_email: email },
        }),
      ),
    onSuccess: (saved) => {
      edit.saved(saved);
      void refresh();
      notifications.show({ color: "teal", message: "Billing email saved." });
    },
  });
  const reload = async () => {
    const latest = await edit.reloadLatest();
    form.setValues({ billing_email: latest.billing_email ?? "" });
    save.reset();
    await refresh();
  };
  return (
    <Card withBorder radius="md" padding="lg">
      <Title order={2} fz="h4" mb="xs">
        Billing email
      </Title>
      <form onSubmit={form.onSubmit((values) => save.mutate(values.billing_email))}>
        <Stack gap="sm">
          <TextInput
            label="Invoices and receipts go to"
            type="email"
            {...form.getInputProps("billing_email")}
            error={fieldError(save.error, "billing_email")}
          />
          {save.isError && !fieldError(save.error, "billing_email") && (
            <ProblemAlert error={save.error} onReload={() => void reload()} />
          )}
          <Group>
            <Button type="submit" loading={save.isPending}>
              Save email
            </Button>
          </Group>
        </Stack>
      </form>
    </Card>
  );
}

/** The two cards that change the billing settings, editing the version read when the page opened. */
function SettingsCards({
  billing,
  settings,
}: {
  billing: BillingDashboard;
  settings: Versioned<BillingSettings>;
}) {
  const edit = useEditVersion(billingSettingsQuery, settings);
  return (
    <>
      <AutoRenewal billing={billing} edit={edit} />
      <BillingEmail settings={settings.value} edit={edit} />
    </>
  );
}

function PaymentMethod({ billing }: { billing: BillingDashboard }) {
  const portal = useMutation({
    mutationFn: () => call(api.POST("/api/v1/billing/portal-session")),
    onSuccess: ({ url }) => redirect.to(url),
  });
  return (
    <Card withBorder radius="md" padding="lg" id="payment-method">
      <Title order={2} fz="h4" mb="xs">
        Payment method
      </Title>
      <CardOnFileLine card={billing.card} />
      <Text size="sm" mt="xs" mb="sm">
        {billing.card
          ? "Your card is kept by Stripe. Change it, or download past receipts, in Stripe's billing portal."
          : "Stripe keeps your cards. Add or change one in Stripe's billing portal."}
      </Text>
      <Group>
        <Button
          variant="light"
          loading={portal.isPending}
          disabled={!billing.billing_configured}
          onClick={() => portal.mutate()}
        >
          Manage payment method
        </Button>
      </Group>
      {portal.isError && <ProblemAlert error={portal.error} />}
    </Card>
  );
}

function TaxIdCard({ billing }: { billing: BillingDashboard }) {
  const refresh = useRefresh();
  const form = useForm({
    initialValues: { type: billing.tax_id?.type ?? "eu_vat", value: billing.tax_id?.value ?? "" },
  });
  const save = useMutation({
    mutationFn: (values: { type: string; value: string }) =>
      call(api.PUT("/api/v1/billing/tax-id", { body: values })),
    onSuccess: () => {
      void refresh();
      notifications.show({ color: "teal", message: "Tax id saved." });
    },
  });
  const remove = useMutation({
    mutationFn: () => call(api.DELETE("/api/v1/billing/tax-id")),
    onSuccess: () => {
      form.setFieldValue("value", "");
      void refresh();
      notifications.show({ color: "teal", message: "Tax id removed." });
    },
  });
  const shown = ["type", "value"];
  return (
    <Card withBorder radius="md" padding="lg">
      <Title order={2} fz="h4" mb="xs">
        Tax id
      </Title>
      <Text size="sm" c="dimmed" mb="sm">
        Printed on your invoices.
      </Text>
      <form onSubmit={form.onSubmit((values) => save.mutate(values))}>
        <Stack gap="sm">
          <Group grow align="flex-start" wrap="wrap">
            <Select
              label="Type"
              data={TAX_ID_TYPES}
              allowDeselect={false}
              {...form.getInputProps("type")}
              error={fieldError(save.error, "type")}
            />
            <TextInput
              label="Number"
              placeholder="DE123456789"
              {...form.getInputProps("value")}
              error={fieldError(save.error, "value")}
            />
          </Group>
          {save.isError && <ProblemAlert error={save.error} fieldsShown={shown} />}
          {remove.isError && <ProblemAlert error={remove.error} />}
          <Group>
            <Button type="submit" loading={save.isPending}>
              Save tax id
            </Button>
            {billing.tax_id && (
              <Button variant="subtle" color="red" loading={remove.isPending} onClick={() => remove.mutate()}>
                Remove
              </Button>
            )}
          </Group>
        </Stack>
      </form>
    </Card>
  );
}

function DangerZone({ billing }: { billing: BillingDashboard }) {
  const refresh = useRefresh();
  const [open, setOpen] = useState(false);
  const cancel = useMutation({
    mutationFn: () => call(api.POST("/api/v1/billing/subscription/cancel")),
    onSuccess: () => {
      setOpen(false);
      void refresh();
      notifications.show({ color: "teal", message: "Your subscription will end at the end of the period." });
    },
  });
  const resume = useMutation({
    mutationFn: () => call(api.POST("/api/v1/billing/subscription/resume")),
    onSuccess: () => {
      void refresh();
      notifications.show({ color: "teal", message: "Your subscription renews again." });
    },
  });
  const live = hasLivePaidPlan(billing.subscription);
  return (
    <Card
      withBorder
      radius="md"
      padding="lg"
      id="danger-zone"
      style={{ borderColor: "var(--mantine-color-red-4)" }}
    >
      <Title order={2} fz="h4" c="red.8" mb="xs">
        Danger zone
      </Title>
      {!live ? (
        <Text size="sm">You are on the Free plan; there is no subscription to cancel.</Text>
      ) : billing.subscription.auto_renew ? (
        <Group justify="space-between" wrap="wrap">
          <Text size="sm" maw={520}>
            Cancel your {billing.tier.name} subscription. You keep it until {formatDate(billing.renews_at)};
            then the Free plan's limits apply.
          </Text>
          <Button color="red" variant="outline" onClick={() => setOpen(true)}>
            Cancel subscription
          </Button>
        </Group>
      ) : (
        <Group justify="space-between" wrap="wrap">
          <Text size="sm">Your subscription is set to end on {formatDate(billing.ends_at)}.</Text>
          <Button variant="light" loading={resume.isPending} onClick={() => resume.mutate()}>
            Keep my subscription
          </Button>
        </Group>
      )}
      {resume.isError && <ProblemAlert error={resume.error} />}
      <Modal opened={open} onClose={() => setOpen(false)} title="Cancel your subscription?" centered>
        <Stack>
          <Text size="sm">
            Your {billing.tier.name} plan stays active until {formatDate(billing.renews_at)}. After that, the
            Free plan's limits apply: employees and agents beyond them can no longer be added or reactivated.
          </Text>
          {cancel.isError && <ProblemAlert error={cancel.error} />}
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setOpen(false)}>
              Keep subscription
            </Button>
            <Button color="red" loading={cancel.isPending} onClick={() => cancel.mutate()}>
              Yes, cancel
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Card>
  );
}

export function BillingSettingsPage() {
  const billing = useBilling();
  const settings = useQuery(billingSettingsQuery);
  return (
    <>
      <PageHeader title="Billing settings" description="Renewal, invoices and payment details." />
      <QueryState query={billing} label="billing settings">
        {(data) => (
          <Stack gap="lg" maw={860}>
            {!data.billing_configured && (
              <Alert color="gray">Billing is not connected on this server; these settings need Stripe.</Alert>
            )}
            <QueryState query={settings} label="the billing settings">
              {(versioned) => <SettingsCards billing={data} settings={versioned} />}
            </QueryState>
            <PaymentMethod billing={data} />
            <TaxIdCard billing={data} />
            <DangerZone billing={data} />
          </Stack>
        )}
      </QueryState>
    </>
  );
}
