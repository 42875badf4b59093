// API keys per environment: created keys are shown once with a copy button; revoking asks first.
import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ApiError, getAll, request } from "../../lib/api";
import { useCurrentEnvironment, useEnvironments } from "../../lib/queries";
import type { ApiKey } from "../../lib/types";
import { Confirm, Empty, Field, Loading, ProblemNotice, ago } from "../../components/ui";

export function KeysPage() {
  const environments = useEnvironments();
  const { environment: current } = useCurrentEnvironment();
  const [env, setEnv] = useState(current);
  const keys = useQuery({ queryKey: ["keys", env], queryFn: () => getAll<ApiKey & { created_at: string }>(`/environments/${encodeURIComponent(env)}/api-keys`), enabled: !!env });
  const [kind, setKind] = useState("client");
  const [name, setName] = useState("");
  const [created, setCreated] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const queryClient = useQueryClient();
  const create = useMutation({
    mutationFn: () => request<{ key: string }>(`/environments/${encodeURIComponent(env)}/api-keys`, { method: "POST", body: { kind, name } }),
    onSuccess: ({ body }) => {
      setCreated(body.key);
      setCopied(false);
      setName("");
      void queryClient.invalidateQueries({ queryKey: ["keys", env] });
    },
  });
  const revoke = useMutation({
    mutationFn: (k: ApiKey) => request(`/api-keys/${encodeURIComponent(k.id)}`, { method: "DELETE", ifMatch: `"${(k as unknown as { version: number }).version}"` }),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["keys", env] }),
  });
  const error = create.error as ApiError | null;
  return (
    <section>
      <header className="page-head">
        <h1>API keys</h1>
        <label>
          Environment
          <select value={env} onChange={(e) => setEnv(e.target.value)}>
            {(environments.data ?? []).map((e) => (
              <option key={e.key}>{e.key}</option>
            ))}
          </select>
        </label>
      </header>
      <form
        className="card inline"
        aria-label="New API key"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <Field label="Kind" error={error} errors={["kind"]}>
          {(p) => (
            <select {...p} value={kind} onChange={(e) => setKind(e.target.value)}>
              <option value="client">client (browser, apps: evaluate and send events)</option>
              <option value="server">server (snapshots: sync, edges, server SDKs)</option>
              <option value="admin">admin (automation)</option>
            </select>
          )}
        </Field>
        <Field label="Name" error={error} errors={["name"]}>
          {(p) => <input {...p} value={name} onChange={(e) => setName(e.target.value)} required />}
        </Field>
        <button type="submit" className="primary" disabled={create.isPending}>
          Create key
        </button>
      </form>
      <ProblemNotice error={error} claimed={["kind", "name"]} />
      {created && (
        <div className="notice secret" role="status">
          <p>
            <strong>Your new key, shown only now:</strong> store it somewhere safe.
          </p>
          <code data-testid="new-key">{created}</code>{" "}
          <button
            type="button"
            onClick={() => {
              void navigator.clipboard?.writeText(created).then(() => setCopied(true));
            }}
          >
            {copied ? "Copied" : "Copy"}
          </button>{" "}
          <button type="button" className="link" onClick={() => setCreated(null)}>
            I stored it
          </button>
        </div>
      )}
      <ProblemNotice error={revoke.error as ApiError | null} />
      {keys.isPending ? (
        <Loading what="keys" />
      ) : (keys.data ?? []).length === 0 ? (
        <Empty>No keys in {env}.</Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Prefix</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(keys.data ?? []).map((k) => (
              <tr key={k.id}>
                <th scope="row">{k.name}</th>
                <td>{k.kind}</td>
                <td>
                  <code>{k.prefix}…</code>
                </td>
                <td>{ago(k.created_at)}</td>
                <td>
                  <button type="button" className="link danger" onClick={() => setRevoking(k)}>
                    Revoke<span className="visually-hidden"> {k.name}</span>
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {revoking && (
        <Confirm
          title={`Revoke ${revoking.name}?`}
          consequence={<p>Everything using this {revoking.kind} key is refused from now on (401). This cannot be undone.</p>}
          confirmLabel="Revoke"
          danger
          onCancel={() => setRevoking(null)}
          onConfirm={() => {
            revoke.mutate(revoking);
            setRevoking(null);
          }}
        />
      )}
    </section>
  );
}
