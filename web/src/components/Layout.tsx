import { Suspense } from "react";
import {
  AppShell,
  Center,
  Loader,
  Badge,
  Burger,
  Group,
  Menu,
  NavLink,
  ScrollArea,
  Text,
  Tooltip,
  UnstyledButton,
} from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import {
  IconAlertCircle,
  IconBell,
  IconChevronDown,
  IconCreditCard,
  IconDeviceDesktop,
  IconFileText,
  IconGauge,
  IconKey,
  IconListDetails,
  IconLock,
  IconLogout,
  IconReceipt,
  IconPlugConnected,
  IconRocket,
  IconSettings,
  IconShieldCheck,
  IconUsers,
  IconUsersGroup,
  IconWebhook,
} from "@tabler/icons-react";
import { useQuery } from "@tanstack/react-query";
import { Link, Outlet, useLocation, useNavigate } from "react-router";
import { useAlertStreamStatus } from "../alerts/AlertStreamContext";
import { alertKeys, fetchUnreadCount } from "../alerts/queries";
import { useAuth, useIsAdmin, useMe } from "../auth/AuthContext";

interface Item {
  to: string;
  label: string;
  icon: typeof IconGauge;
  adminOnly?: boolean;
}

const SECTIONS: { title: string; items: Item[] }[] = [
  {
    title: "Overview",
    items: [
      { to: "/", label: "Dashboard", icon: IconGauge },
      { to: "/alerts", label: "Alerts", icon: IconBell },
    ],
  },
  {
    title: "Workforce",
    items: [
      { to: "/employees", label: "Employees", icon: IconUsersGroup },
      { to: "/agents", label: "Agents", icon: IconDeviceDesktop },
      { to: "/policy", label: "Policy", icon: IconShieldCheck },
    ],
  },
  {
    title: "Billing",
    items: [
      { to: "/billing", label: "Billing", icon: IconCreditCard },
      { to: "/billing/upgrade", label: "Plans", icon: IconRocket },
      { to: "/billing/payment-history", label: "Payment history", icon: IconReceipt },
      { to: "/billing/settings", label: "Billing settings", icon: IconSettings, adminOnly: true },
      { to: "/billing/events", label: "Stripe events", icon: IconPlugConnected, adminOnly: true },
    ],
  },
  {
    title: "Company",
    items: [
      { to: "/users", label: "Users & roles", icon: IconUsers, adminOnly: true },
      { to: "/api-keys", label: "API keys", icon: IconKey, adminOnly: true },
      { to: "/webhooks", label: "Webhooks", icon: IconWebhook, adminOnly: true },
      { to: "/audit-log", label: "Audit log", icon: IconListDetails, adminOnly: true },
    ],
  },
];

function UnreadBadge() {
  const unread = useQuery({ queryKey: alertKeys.unread, queryFn: fetchUnreadCount, refetchInterval: 60_000 });
  const count = unread.data?.unread ?? 0;
  if (count === 0) return null;
  return (
    <Badge
      size="sm"
      color="red"
      circle={count < 10}
      data-testid="unread-badge"
      aria-label={`${count} unread alerts`}
    >
      {count > 99 ? "99+" : count}
    </Badge>
  );
}

function StreamIndicator() {
  const status = useAlertStreamStatus();
  const label =
    status === "live" ? "Live alerts on" : status === "connecting" ? "Connecting…" : "Reconnecting…";
  return (
    <Tooltip label={label}>
      <Group gap={6} aria-label={label} role="status">
        <IconAlertCircle
          size={14}
          color={status === "live" ? "var(--mantine-color-teal-6)" : "var(--mantine-color-gray-5)"}
        />
        <Text size="xs" c="dimmed" visibleFrom="sm">
          {status === "live" ? "Live" : label}
        </Text>
      </Group>
    </Tooltip>
  );
}

function isActive(pathname: string, to: string): boolean {
  if (to === "/" || to === "/billing")
    return pathname === to || (to === "/billing" && pathname === "/billing/success");
  return pathname === to || pathname.startsWith(`${to}/`);
}

export function Layout() {
  const [opened, { toggle, close }] = useDisclosure();
  const { pathname } = useLocation();
  const navigate = useNavigate();
  const me = useMe();
  const { logout } = useAuth();
  const admin = useIsAdmin();

  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 250, breakpoint: "sm", collapsed: { mobile: !opened } }}
      padding={{ base: "sm", sm: "lg" }}
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger
              opened={opened}
              onClick={toggle}
              hiddenFrom="sm"
              size="sm"
              aria-label="Toggle navigation"
            />
            <Text component={Link} to="/" fw={800} fz="lg" c="blue.7" style={{ textDecoration: "none" }}>
              Vigil
            </Text>
            <Text size="sm" c="dimmed" visibleFrom="xs" truncate>
              {me.company.name}
            </Text>
          </Group>
          <Group gap="md" wrap="nowrap">
            <StreamIndicator />
            <Menu position="bottom-end" withinPortal>
              <Menu.Target>
                <UnstyledButton aria-label="Account menu">
                  <Group gap={4} wrap="nowrap">
                    <Text size="sm" fw={500} truncate maw={160}>
                      {me.user.name}
                    </Text>
                    <IconChevronDown size={14} />
                  </Group>
                </UnstyledButton>
              </Menu.Target>
              <Menu.Dropdown>
                <Menu.Label>
                  {me.user.email} · {me.user.role}
                </Menu.Label>
                <Menu.Item component={Link} to="/account/password" leftSection={<IconLock size={14} />}>
                  Change password
                </Menu.Item>
                <Menu.Item
                  leftSection={<IconLogout size={14} />}
                  onClick={() => void logout().then(() => navigate("/login"))}
                >
                  Sign out
                </Menu.Item>
              </Menu.Dropdown>
            </Menu>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main navigation">
        <ScrollArea>
          {SECTIONS.map((section) => {
            const items = section.items.filter((item) => admin || !item.adminOnly);
            if (items.length === 0) return null;
            return (
              <div key={section.title}>
                <Text size="xs" fw={700} c="dimmed" tt="uppercase" px="sm" pt="md" pb={4}>
                  {section.title}
                </Text>
                {items.map((item) => (
                  <NavLink
                    key={item.to}
                    component={Link}
                    to={item.to}
                    label={item.label}
                    leftSection={<item.icon size={18} stroke={1.6} />}
                    rightSection={item.to === "/alerts" ? <UnreadBadge /> : undefined}
                    active={isActive(pathname, item.to)}
                    aria-current={isActive(pathname, item.to) ? "page" : undefined}
                    onClick={close}
                  />
                ))}
              </div>
            );
          })}
          <NavLink
            component="a"
            href="/api/docs/"
            label="API documentation"
            leftSection={<IconFileText size={18} stroke={1.6} />}
            mt="md"
          />
        </ScrollArea>
      </AppShell.Navbar>
      <AppShell.Main>
        <Suspense
          fallback={
            <Center py="xl">
              <Loader aria-label="Loading the page" />
            </Center>
          }
        >
          <Outlet />
        </Suspense>
      </AppShell.Main>
    </AppShell>
  );
}
