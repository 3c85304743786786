import { Button, Card, PasswordInput, Stack, Text } from "@mantine/core";
import { useForm } from "@mantine/form";
import { notifications } from "@mantine/notifications";
import { useMutation } from "@tanstack/react-query";
import { api, call } from "../api/client";
import { ApiProblem } from "../api/problem";
import { useAuth } from "../auth/AuthContext";
import { PageHeader } from "../components/PageHeader";
import { ProblemAlert } from "../components/ProblemAlert";

const FIELDS = ["current_password", "new_password"];

/** The signed-in user changes their own password; every other session of theirs ends. */
export function ChangePasswordPage() {
  const { signedIn } = useAuth();
  const form = useForm({
    initialValues: { current_password: "", new_password: "", confirm: "" },
    validate: {
      confirm: (value, values) => (value === values.new_password ? null : "does not match the new password"),
    },
  });
  const change = useMutation({
    mutationFn: ({ current_password, new_password }: typeof form.values) =>
      call(api.POST("/api/v1/me/password", { body: { current_password, new_password } })),
    onSuccess: (session) => {
      signedIn(session);
      form.reset();
      notifications.show({
        color: "teal",
        message: "Password changed. Your other sessions have been signed out.",
      });
    },
    onError: (error) => {
      if (!(error instanceof ApiProblem)) return;
      for (const [field, messages] of Object.entries(error.fieldErrors)) {
        if (FIELDS.includes(field)) form.setFieldError(field, messages.join("; "));
      }
    },
  });

  return (
    <>
      <PageHeader title="Change password" description="Other devices signed in as you are signed out." />
      <Card withBorder radius="md" padding="lg" maw={480}>
        <form onSubmit={form.onSubmit((values) => change.mutate(values))} noValidate>
          <Stack>
            {change.isError && <ProblemAlert error={change.error} fieldsShown={FIELDS} />}
            <PasswordInput
              label="Current password"
              autoComplete="current-password"
              required
              {...form.getInputProps("current_password")}
            />
            <PasswordInput
              label="New password"
              description="At least 10 characters; a passphrase works well."
              autoComplete="new-password"
              required
              {...form.getInputProps("new_password")}
            />
            <PasswordInput
              label="Repeat the new password"
              autoComplete="new-password"
              required
              {...form.getInputProps("confirm")}
            />
            <Button type="submit" loading={change.isPending}>
              Change password
            </Button>
            {change.isSuccess && (
              <Text size="sm" c="teal" role="status">
                Your password has been changed.
              </Text>
            )}
          </Stack>
        </form>
      </Card>
    </>
  );
}
