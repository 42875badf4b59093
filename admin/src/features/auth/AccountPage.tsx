// Change your password (core ends every session of yours afterwards: sign in again).
import { useState } from "react";
import { useMutation } from "@tanstack/react-query";
import { ApiError, request } from "../../lib/api";
import { useSession } from "../../lib/session";
import { Field, ProblemNotice } from "../../components/ui";

export function AccountPage() {
  const { session, signOut } = useSession();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const change = useMutation({
    mutationFn: () => request("/auth/password", { method: "PUT", body: { current_password: current, new_password: next } }),
  });
  const error = change.error as ApiError | null;
  return (
    <section>
      <header className="page-head">
        <h1>Your account</h1>
      </header>
      <p>
        Signed in as <strong>{session.user.email}</strong> ({session.user.role}); this session ends {new Date(session.expires_at).toLocaleString()}.
      </p>
      {change.isSuccess ? (
        <div className="notice" role="status">
          <p>Password changed. Every session of yours has ended: sign in with the new password.</p>
          <button type="button" className="primary" onClick={() => void signOut()}>
            Sign in again
          </button>
        </div>
      ) : (
        <form
          className="card"
          aria-label="Change password"
          onSubmit={(e) => {
            e.preventDefault();
            change.mutate();
          }}
        >
          <input type="text" autoComplete="username" value={session.user.email} readOnly hidden />
          <Field label="Current password" error={error} errors={["current_password"]}>
            {(p) => <input {...p} type="password" autoComplete="current-password" required value={current} onChange={(e) => setCurrent(e.target.value)} />}
          </Field>
          <Field label="New password" error={error} errors={["new_password"]} hint="at least 12 characters">
            {(p) => <input {...p} type="password" autoComplete="new-password" required value={next} onChange={(e) => setNext(e.target.value)} />}
          </Field>
          <ProblemNotice error={error} claimed={["current_password", "new_password"]} />
          <button type="submit" className="primary" disabled={change.isPending}>
            Change password
          </button>
        </form>
      )}
    </section>
  );
}
