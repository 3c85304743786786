import { useState } from "react";
import {
  Alert,
  Anchor,
  Button,
  Center,
  Paper,
  PasswordInput,
  Stack,
  Text,
  TextInput,
  Title,
} from "@mantine/core";
import { useForm } from "@mantine/form";
import { useMutation } from "@tanstack/react-query";
import { Link, Navigate, useLocation, useNavigate } from "react-router";
import { api, call } from "../api/client";
import { ApiProblem } from "../api/problem";
import { useAuth } from "../auth/AuthContext";
import { safeNext } from "../auth/RequireAuth";
import { ProblemAlert } from "../components/ProblemAlert";
import type { Session } from "../api/types";

function AuthCard({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <Center mih="100vh" p="md" bg="gray.0">
      <Paper withBorder shadow="sm" radius="md" p="xl" w="100%" maw={420} component="main">
        <Text fw={800} fz="xl" c="blue.7" mb={4}>
          Vigil
        </Text>
        <Title order={1} fz="h3" mb="lg">
          {title}
        </Title>
        {children}
      </Paper>
    </Center>
  );
}

/** Applies a problem's per-field messages to the form; returns whether any field took one. */
function showFieldErrors(
  error: unknown,
  setFieldError: (field: string, message: string) => void,
  fields: string[],
) {
  if (!(error instanceof ApiProblem)) return;
  for (const [field, messages] of Object.entries(error.fieldErrors)) {
    if (fields.includes(field)) setFieldError(field, messages.join("; "));
  }
}

function useSignedIn() {
  const { signedIn } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  return (session: Session) => {
    signedIn(session);
    void navigate(safeNext(location.search), { replace: true });
  };
}

export function LoginPage() {
  const { me, expired } = useAuth();
  const location = useLocation();
  const done = useSignedIn();
  const form = useForm({ initialValues: { email: "", password: "" } });
  const login = useMutation({
    mutationFn: (values: typeof form.values) => call(api.POST("/api/v1/auth/login", { body: values })),
    onSuccess: done,
    onError: (error) => showFieldErrors(error, form.setFieldError, ["email", "password"]),
  });
  if (me) return <Navigate to={safeNext(location.search)} replace />;
  return (
    <AuthCard title="Sign in">
      <form onSubmit={form.onSubmit((values) => login.mutate(values))} noValidate>
        <Stack>
          {expired && !login.isError && (
            <Alert color="yellow" role="status">
              Your session has ended. Sign in again to continue where you were.
            </Alert>
          )}
          {login.isError && <ProblemAlert error={login.error} fieldsShown={["email", "password"]} />}
          <TextInput
            label="Email"
            type="email"
            autoComplete="email"
            required
            {...form.getInputProps("email")}
          />
          <PasswordInput
            label="Password"
            autoComplete="current-password"
            required
            {...form.getInputProps("password")}
          />
          <Button type="submit" loading={login.isPending} fullWidth>
            Sign in
          </Button>
          <Text size="sm" ta="center">
            New to Vigil?{" "}
            <Anchor component={Link} to={`/signup${location.search}`}>
              Create a company account
            </Anchor>
          </Text>
        </Stack>
      </form>
    </AuthCard>
  );
}

const SIGNUP_FIELDS = ["company_name", "name", "email", "password"];

export function SignupPage() {
  const { me } = useAuth();
  const location = useLocation();
  const done = useSignedIn();
  const [submitted, setSubmitted] = useState(false);
  const form = useForm({ initialValues: { company_name: "", name: "", email: "", password: "" } });
  const signup = useMutation({
    mutationFn: (values: typeof form.values) => call(api.POST("/api/v1/auth/signup", { body: values })),
    onSuccess: done,
    onError: (error) => showFieldErrors(error, form.setFieldError, SIGNUP_FIELDS),
  });
  if (me && !submitted) return <Navigate to="/" replace />;
  return (
    <AuthCard title="Create your company account">
      <form
        onSubmit={form.onSubmit((values) => {
          setSubmitted(true);
          signup.mutate(values);
        })}
        noValidate
      >
        <Stack>
          {signup.isError && <ProblemAlert error={signup.error} fieldsShown={SIGNUP_FIELDS} />}
          <TextInput
            label="Company name"
            required
            autoComplete="organization"
            {...form.getInputProps("company_name")}
          />
          <TextInput label="Your name" required autoComplete="name" {...form.getInputProps("name")} />
          <TextInput
            label="Work email"
            type="email"
            required
            autoComplete="email"
            {...form.getInputProps("email")}
          />
          <PasswordInput
            label="Password"
            description="At least 10 characters; a passphrase works well."
            required
            autoComplete="new-password"
            {...form.getInputProps("password")}
          />
          <Button type="submit" loading={signup.isPending} fullWidth>
            Create account
          </Button>
          <Text size="sm" ta="center">
            Already have an account?{" "}
            <Anchor component={Link} to={`/login${location.search}`}>
              Sign in
            </Anchor>
          </Text>
        </Stack>
      </form>
    </AuthCard>
  );
}
