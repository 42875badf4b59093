// Users and roles (admins only).
import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ApiError, getAll, request } from "../../lib/api";
import { useSession } from "../../lib/session";
import type { Role, User } from "../../lib/types";
import { Confirm, Field, Loading, ProblemNotice, ago } from "../../components/ui";

export function UsersPage() {
  const users = useQuery({ queryKey: ["users"], queryFn: () => getAll<User>("/users") });
  const { session } = useSession();
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState({ email: "", name: "", role: "viewer" as Role, password: "" });
  const [deleting, setDeleting] = useState<User | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["users"] });
  const create = useMutation({
    mutationFn: () => request<User>("/users", { method: "POST", body: draft }),
    onSuccess: () => {
      setDraft({ email: "", name: "", role: "viewer", password: "" });
      void refresh();
    },
  });
  const changeRole = useMutation({
    mutationFn: ({ user, role }: { user: User; role: Role }) => request(`/users/${encodeURIComponent(user.id)}`, { method: "PUT", ifMatch: `"${user.version}"`, body: { name: user.name, role } }),
    onSettled: () => void refresh(),
  });
  const remove = useMutation({
    mutationFn: (user: User) => request(`/users/${encodeURIComponent(user.id)}`, { method: "DELETE", ifMatch: `"${user.version}"` }),
    onSettled: () => void refresh(),
  });
  const error = create.error as ApiError | null;
  return (
    <section>
      <header className="page-head">
        <h1>Users</h1>
      </header>
      <p className="hint">Viewers read everything; editors change flags, experiments and the catalog; admins also manage environments, users and keys.</p>
      <form
        className="card inline"
        aria-label="New user"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <Field label="Email" error={error} errors={["email"]}>
          {(p) => <input {...p} type="email" required value={draft.email} onChange={(e) => setDraft({ ...draft, email: e.target.value })} />}
        </Field>
        <Field label="Name" error={error} errors={["name"]}>
          {(p) => <input {...p} value={draft.name} onChange={(e) => setDraft({ ...draft, name: e.target.value })} />}
        </Field>
        <Field label="Role" error={error} errors={["role"]}>
          {(p) => (
            <select {...p} value={draft.role} onChange={(e) => setDraft({ ...draft, role: e.target.value as Role })}>
              <option value="viewer">viewer</option>
              <option value="editor">editor</option>
              <option value="admin">admin</option>
            </select>
          )}
        </Field>
        <Field label="Initial password" error={error} errors={["password"]} hint="at least 12 characters">
          {(p) => <input {...p} type="password" autoComplete="new-password" required value={draft.password} onChange={(e) => setDraft({ ...draft, password: e.target.value })} />}
        </Field>
        <button type="submit" className="primary" disabled={create.isPending}>
          Add user
        </button>
      </form>
      <ProblemNotice error={error} claimed={["email", "name", "role", "password"]} />
      <ProblemNotice error={(changeRole.error ?? remove.error) as ApiError | null} />
      {users.isPending ? (
        <Loading what="users" />
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Email</th>
              <th scope="col">Name</th>
              <th scope="col">Role</th>
              <th scope="col">Since</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(users.data ?? []).map((u) => (
              <tr key={u.id}>
                <th scope="row">{u.email}</th>
                <td>{u.name}</td>
                <td>
                  <select aria-label={`Role of ${u.email}`} value={u.role} onChange={(e) => changeRole.mutate({ user: u, role: e.target.value as Role })}>
                    <option value="viewer">viewer</option>
                    <option value="editor">editor</option>
                    <option value="admin">admin</option>
                  </select>
                </td>
                <td>{ago(u.created_at)}</td>
                <td>
                  {u.id !== session.user.id && (
                    <button type="button" className="link danger" onClick={() => setDeleting(u)}>
                      Delete<span className="visually-hidden"> {u.email}</span>
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {deleting && (
        <Confirm
          title={`Delete ${deleting.email}?`}
          consequence={<p>They are signed out at once and can no longer sign in. Their changes stay in the audit log.</p>}
          confirmLabel="Delete user"
          danger
          onCancel={() => setDeleting(null)}
          onConfirm={() => {
            remove.mutate(deleting);
            setDeleting(null);
          }}
        />
      )}
    </section>
  );
}
