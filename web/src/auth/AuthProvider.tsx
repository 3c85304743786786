import { useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { api } from "../api/client";
import { onSession, onSessionExpired, refreshSession, setSession } from "../api/session";
import type { Me, Session } from "../api/types";
import { AuthContext, type AuthState } from "./AuthContext";

/** Renew this long before the access token expires, so requests rarely meet a 401. */
const REFRESH_MARGIN_SECS = 60;

export function AuthProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [me, setMe] = useState<Me | null>(null);
  const [restoring, setRestoring] = useState(true);
  const [expired, setExpired] = useState(false);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  // Every new session (sign-in or refresh) schedules the next refresh.
  useEffect(
    () =>
      onSession((session) => {
        clearTimeout(timer.current);
        const delay = Math.max(session.expires_in - REFRESH_MARGIN_SECS, 10) * 1000;
        timer.current = setTimeout(() => void refreshSession(), delay);
        setMe({ user: session.user, company: session.company });
      }),
    [],
  );

  useEffect(
    () =>
      onSessionExpired(() => {
        clearTimeout(timer.current);
        setMe(null);
        setExpired(true);
        queryClient.clear();
      }),
    [queryClient],
  );

  // At start: the refresh cookie, if any, gives a session without asking for the password again.
  useEffect(() => {
    let live = true;
    void refreshSession().finally(() => {
      if (live) setRestoring(false);
    });
    return () => {
      live = false;
      clearTimeout(timer.current);
    };
  }, []);

  const signedIn = useCallback((session: Session) => {
    setExpired(false);
    setSession(session);
  }, []);

  const logout = useCallback(async () => {
    clearTimeout(timer.current);
    try {
      await api.POST("/api/v1/auth/logout", {});
    } finally {
      setSession(null);
      setMe(null);
      setExpired(false);
      queryClient.clear();
    }
  }, [queryClient]);

  const value = useMemo<AuthState>(
    () => ({ me, restoring, expired, signedIn, logout }),
    [me, restoring, expired, signedIn, logout],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}
