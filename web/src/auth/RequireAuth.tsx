import type { ReactNode } from "react";
import { Navigate, useLocation } from "react-router";
import { Center, Loader } from "@mantine/core";
import { useAuth } from "./AuthContext";

/** Pages behind a session: without one, the login page, which sends the user back here afterwards. */
export function RequireAuth({ children }: { children: ReactNode }) {
  const { me, restoring } = useAuth();
  const location = useLocation();
  if (restoring) {
    return (
      <Center h="100vh">
        <Loader aria-label="Loading your session" />
      </Center>
    );
  }
  if (!me) {
    const next = location.pathname + location.search;
    return <Navigate to={`/login?next=${encodeURIComponent(next)}`} replace />;
  }
  return children;
}

/** Where to go after signing in: the `next` parameter when it is a path of this app, else the dashboard. */
export function safeNext(search: string): string {
  const next = new URLSearchParams(search).get("next");
  return next?.startsWith("/") && !next.startsWith("//") ? next : "/";
}
