import { createContext, useContext } from "react";
import type { Me, Session } from "../api/types";

export interface AuthState {
  /** Who is signed in; null while signed out. */
  me: Me | null;
  /** True until the first refresh through the cookie has answered. */
  restoring: boolean;
  /** True once a 401 could not be cured: the login page says the session ended. */
  expired: boolean;
  signedIn: (session: Session) => void;
  logout: () => Promise<void>;
}

export const AuthContext = createContext<AuthState | null>(null);

export function useAuth(): AuthState {
  const auth = useContext(AuthContext);
  if (!auth) throw new Error("useAuth outside <AuthProvider>");
  return auth;
}

/** The signed-in user and company; only for pages behind <RequireAuth>. */
export function useMe(): Me {
  const { me } = useAuth();
  if (!me) throw new Error("useMe outside an authenticated page");
  return me;
}

/** Whether the signed-in user may manage the company (users, keys, billing, policy). */
export function useIsAdmin(): boolean {
  const { me } = useAuth();
  return me?.user.role === "OWNER" || me?.user.role === "ADMIN";
}
