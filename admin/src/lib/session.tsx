// Who is signed in, what their role allows, and the sign-in that comes back when a session
// expires: the app stays mounted under the dialog, so no form loses what was typed.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { ApiError, request, setCsrfToken, setUnauthenticatedHandler } from "./api";
import type { BrowserSession, Role } from "./types";

interface SessionValue {
  session: BrowserSession;
  can: (role: Role) => boolean;
  signOut: () => Promise<void>;
}

const SessionContext = createContext<SessionValue | null>(null);

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error("useSession outside SessionProvider");
  return value;
}

const RANK: Record<Role, number> = { viewer: 0, editor: 1, admin: 2 };

export async function signIn(email: string, password: string): Promise<BrowserSession> {
  const { body } = await request<BrowserSession>("/auth/session", {
    method: "POST",
    body: { email, password },
    quiet401: true,
  });
  setCsrfToken(body.csrf_token);
  return body;
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<BrowserSession | null | undefined>(undefined);
  const [expired, setExpired] = useState(false);
  const queryClient = useQueryClient();

  useEffect(() => {
    request<BrowserSession>("/auth/session", { quiet401: true })
      .then(({ body }) => {
        setCsrfToken(body.csrf_token);
        setSession(body);
      })
      .catch(() => setSession(null));
  }, []);

  useEffect(() => {
    setUnauthenticatedHandler(session ? () => setExpired(true) : null);
    return () => setUnauthenticatedHandler(null);
  }, [session]);

  const signOut = useCallback(async () => {
    try {
      await request("/auth/session", { method: "DELETE" });
    } catch {
      // Signed out either way.
    }
    setCsrfToken("");
    queryClient.clear();
    setSession(null);
  }, [queryClient]);

  const value = useMemo<SessionValue | null>(
    () =>
      session
        ? { session, can: (role: Role) => RANK[session.user.role] >= RANK[role], signOut }
        : null,
    [session, signOut],
  );

  if (session === undefined) return <p className="loading" role="status">Loading…</p>;
  if (!value) return <SignIn onSignedIn={setSession} />;
  return (
    <SessionContext.Provider value={value}>
      {children}
      {expired && (
        <div className="overlay" role="dialog" aria-modal="true" aria-labelledby="expired-title">
          <div className="dialog">
            <h2 id="expired-title">Your session expired</h2>
            <p>Sign in again to continue; what you typed is still here.</p>
            <SignIn
              embedded
              email={session?.user.email}
              onSignedIn={(s) => {
                setSession(s);
                setExpired(false);
                void queryClient.invalidateQueries();
              }}
            />
          </div>
        </div>
      )}
    </SessionContext.Provider>
  );
}

function SignIn({
  onSignedIn,
  embedded = false,
  email: initialEmail = "",
}: {
  onSignedIn: (s: BrowserSession) => void;
  embedded?: boolean;
  email?: string;
}) {
  const [email, setEmail] = useState(initialEmail);
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await signIn(email, password));
    } catch (err) {
      const api = err instanceof ApiError ? err : null;
      setError(
        api?.status === 401
          ? "Wrong email or password."
          : api?.status === 429
            ? `Too many failed sign-ins. Try again in ${api.retryAfter ?? 60} seconds.`
            : (api?.message ?? String(err)),
      );
    } finally {
      setBusy(false);
    }
  }

  const form = (
    <form onSubmit={submit} className="signin" aria-label="Sign in">
      <label>
        Email
        <input type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} required />
      </label>
      <label>
        Password
        <input
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          required
        />
      </label>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" disabled={busy}>
        {busy ? "Signing in…" : "Sign in"}
      </button>
    </form>
  );
  if (embedded) return form;
  return (
    <main className="signin-page">
      <h1>Vane</h1>
      <p>Sign in to manage experiments and flags.</p>
      {form}
    </main>
  );
}
