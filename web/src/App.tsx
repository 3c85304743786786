import { lazy } from "react";
import { MantineProvider } from "@mantine/core";
import { Notifications } from "@mantine/notifications";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { BrowserRouter, Route, Routes } from "react-router";
import { AlertStreamProvider } from "./alerts/AlertStreamProvider";
import { ApiProblem } from "./api/problem";
import { AuthProvider } from "./auth/AuthProvider";
import { RequireAuth } from "./auth/RequireAuth";
import { Layout } from "./components/Layout";
import { LoginPage, SignupPage } from "./pages/AuthPages";
import { NotFoundPage } from "./pages/NotFoundPage";
import { theme } from "./theme";

// Each page is its own chunk, loaded when first visited: the first load carries only the shell.
const AlertsPage = lazy(() => import("./alerts/AlertsPage").then((m) => ({ default: m.AlertsPage })));
const ChangePasswordPage = lazy(() =>
  import("./pages/ChangePasswordPage").then((m) => ({ default: m.ChangePasswordPage })),
);
const BillingPage = lazy(() => import("./billing/BillingPage").then((m) => ({ default: m.BillingPage })));
const StripeEventsPage = lazy(() =>
  import("./billing/StripeEventsPage").then((m) => ({ default: m.StripeEventsPage })),
);
const BillingSettingsPage = lazy(() =>
  import("./billing/BillingSettingsPage").then((m) => ({ default: m.BillingSettingsPage })),
);
const BillingSuccessPage = lazy(() =>
  import("./billing/BillingSuccessPage").then((m) => ({ default: m.BillingSuccessPage })),
);
const PaymentHistoryPage = lazy(() =>
  import("./billing/PaymentHistoryPage").then((m) => ({ default: m.PaymentHistoryPage })),
);
const UpgradePage = lazy(() => import("./billing/UpgradePage").then((m) => ({ default: m.UpgradePage })));
const AgentsPage = lazy(() => import("./pages/AgentsPage").then((m) => ({ default: m.AgentsPage })));
const ApiKeysPage = lazy(() => import("./pages/ApiKeysPage").then((m) => ({ default: m.ApiKeysPage })));
const AuditLogPage = lazy(() => import("./pages/AuditLogPage").then((m) => ({ default: m.AuditLogPage })));
const DashboardPage = lazy(() => import("./pages/DashboardPage").then((m) => ({ default: m.DashboardPage })));
const EmployeeDetailPage = lazy(() =>
  import("./pages/EmployeeDetailPage").then((m) => ({ default: m.EmployeeDetailPage })),
);
const EmployeesPage = lazy(() => import("./pages/EmployeesPage").then((m) => ({ default: m.EmployeesPage })));
const PolicyPage = lazy(() => import("./pages/PolicyPage").then((m) => ({ default: m.PolicyPage })));
const UsersPage = lazy(() => import("./pages/UsersPage").then((m) => ({ default: m.UsersPage })));
const WebhooksPage = lazy(() => import("./webhooks/WebhooksPage").then((m) => ({ default: m.WebhooksPage })));
const WebhookEndpointPage = lazy(() =>
  import("./webhooks/WebhookEndpointPage").then((m) => ({ default: m.WebhookEndpointPage })),
);

export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 10_000,
        // A problem the server reported (4xx) will not go away by asking again; outages and 5xx may.
        retry: (failures, error) =>
          failures < 2 && !(error instanceof ApiProblem && error.status >= 400 && error.status < 500),
      },
    },
  });
}

/** The signed-in part of the app. */
export function AppRoutes() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route path="/signup" element={<SignupPage />} />
      <Route
        element={
          <RequireAuth>
            <AlertStreamProvider>
              <Layout />
            </AlertStreamProvider>
          </RequireAuth>
        }
      >
        <Route index element={<DashboardPage />} />
        <Route path="alerts" element={<AlertsPage />} />
        <Route path="employees" element={<EmployeesPage />} />
        <Route path="employees/:employeeId" element={<EmployeeDetailPage />} />
        <Route path="agents" element={<AgentsPage />} />
        <Route path="policy" element={<PolicyPage />} />
        <Route path="billing" element={<BillingPage />} />
        <Route path="billing/upgrade" element={<UpgradePage />} />
        <Route path="billing/success" element={<BillingSuccessPage />} />
        <Route path="billing/payment-history" element={<PaymentHistoryPage />} />
        <Route path="billing/settings" element={<BillingSettingsPage />} />
        <Route path="billing/events" element={<StripeEventsPage />} />
        <Route path="users" element={<UsersPage />} />
        <Route path="api-keys" element={<ApiKeysPage />} />
        <Route path="webhooks" element={<WebhooksPage />} />
        <Route path="webhooks/:endpointId" element={<WebhookEndpointPage />} />
        <Route path="audit-log" element={<AuditLogPage />} />
        <Route path="account/password" element={<ChangePasswordPage />} />
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}

export function App({ queryClient = createQueryClient() }: { queryClient?: QueryClient }) {
  return (
    <MantineProvider theme={theme}>
      <Notifications position="top-right" />
      <QueryClientProvider client={queryClient}>
        <BrowserRouter>
          <AuthProvider>
            <AppRoutes />
          </AuthProvider>
        </BrowserRouter>
      </QueryClientProvider>
    </MantineProvider>
  );
}
