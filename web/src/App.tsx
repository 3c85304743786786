import { MantineProvider } from "@mantine/core";
import { Notifications } from "@mantine/notifications";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { BrowserRouter, Route, Routes } from "react-router";
import { AlertStreamProvider } from "./alerts/AlertStreamProvider";
import { AlertsPage } from "./alerts/AlertsPage";
import { ApiProblem } from "./api/problem";
import { AuthProvider } from "./auth/AuthProvider";
import { RequireAuth } from "./auth/RequireAuth";
import { BillingPage } from "./billing/BillingPage";
import { BillingSettingsPage } from "./billing/BillingSettingsPage";
import { BillingSuccessPage } from "./billing/BillingSuccessPage";
import { PaymentHistoryPage } from "./billing/PaymentHistoryPage";
import { UpgradePage } from "./billing/UpgradePage";
import { Layout } from "./components/Layout";
import { AgentsPage } from "./pages/AgentsPage";
import { ApiKeysPage } from "./pages/ApiKeysPage";
import { AuditLogPage } from "./pages/AuditLogPage";
import { LoginPage, SignupPage } from "./pages/AuthPages";
import { DashboardPage } from "./pages/DashboardPage";
import { EmployeeDetailPage } from "./pages/EmployeeDetailPage";
import { EmployeesPage } from "./pages/EmployeesPage";
import { NotFoundPage } from "./pages/NotFoundPage";
import { PolicyPage } from "./pages/PolicyPage";
import { UsersPage } from "./pages/UsersPage";
import { theme } from "./theme";

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
        <Route path="users" element={<UsersPage />} />
        <Route path="api-keys" element={<ApiKeysPage />} />
        <Route path="audit-log" element={<AuditLogPage />} />
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
