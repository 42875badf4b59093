// Flags: per-environment on/off toggles (a kill switch: one click, confirmed in production),
// search and tag filters, and a hint on flags unchanged for long.
import { useMemo, useState } from "react";
import { Link } from "react-router";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { ApiError, request } from "../../lib/api";
import { useEnvironments, useFlags } from "../../lib/queries";
import { useSession } from "../../lib/session";
import type { Flag, FlagEnvironment } from "../../lib/types";
import { Confirm, Empty, Loading, ProblemNotice, ago } from "../../components/ui";

const STALE_DAYS = 90;
export const isProduction = (env: string) => /prod/i.test(env);

export const defaultFlagEnvironment = (): FlagEnvironment => ({
  enabled: false,
  off_variation: 0,
  default_variation: 0,
  rules: [],
  holdouts: [],
});

export function FlagsList() {
  const flags = useFlags();
  const environments = useEnvironments();
  const { can } = useSession();
  const [search, setSearch] = useState("");
  const [tag, setTag] = useState("");
  const [pending, setPending] = useState<{ flag: Flag; env: string; on: boolean } | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const queryClient = useQueryClient();

  const toggle = useMutation({
    mutationFn: ({ flag, env, on }: { flag: Flag; env: string; on: boolean }) =>
      request<Flag>(`/flags/${encodeURIComponent(flag.key)}/environments/${encodeURIComponent(env)}`, {
        method: "PUT",
        ifMatch: `"${flag.version}"`,
        body: { ...(flag.environments[env] ?? defaultFlagEnvironment()), enabled: on },
      }),
    onSuccess: () => {
      setError(null);
      void queryClient.invalidateQueries({ queryKey: ["flags"] });
    },
    onError: (e) => setError(e as ApiError),
  });

  const tags = useMemo(() => [...new Set((flags.data ?? []).flatMap((f) => f.tags))].sort(), [flags.data]);
  const shown = useMemo(() => {
    const q = search.trim().toLowerCase();
    return (flags.data ?? []).filter(
      (f) =>
        (!q || f.key.toLowerCase().includes(q) || f.description.toLowerCase().includes(q)) && (!tag || f.tags.includes(tag)),
    );
  }, [flags.data, search, tag]);

  if (flags.isPending || environments.isPending) return <Loading what="flags" />;
  if (flags.error) return <ProblemNotice error={flags.error} />;
  const envs = environments.data ?? [];

  function ask(flag: Flag, env: string, on: boolean) {
    if (isProduction(env)) setPending({ flag, env, on });
    else toggle.mutate({ flag, env, on });
  }

  return (
    <section>
      <header className="page-head">
        <h1>Flags</h1>
        {can("editor") && (
          <Link className="button primary" to="/flags/new">
            New flag
          </Link>
        )}
      </header>
      <div className="filters">
        <label>
          Search
          <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="key or description" />
        </label>
        <label>
          Tag
          <select value={tag} onChange={(e) => setTag(e.target.value)}>
            <option value="">any</option>
            {tags.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
        <span className="count" aria-live="polite">
          {shown.length} of {flags.data?.length ?? 0}
        </span>
      </div>
      <ProblemNotice error={error} />
      {shown.length === 0 ? (
        <Empty>{flags.data?.length ? "No flag matches." : "No flags yet."}</Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Flag</th>
              <th scope="col">Type</th>
              <th scope="col">Tags</th>
              {envs.map((e) => (
                <th scope="col" key={e.key}>
                  {e.key}
                </th>
              ))}
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((f) => {
              const stale = Date.now() - new Date(f.updated_at).getTime() > STALE_DAYS * 86_400_000;
              return (
                <tr key={f.key}>
                  <td>
                    <Link to={`/flags/${encodeURIComponent(f.key)}`}>{f.key}</Link>
                    {f.description && <div className="sub">{f.description}</div>}
                  </td>
                  <td>{f.type}</td>
                  <td>{f.tags.map((t) => <span key={t} className="tag">{t}</span>)}</td>
                  {envs.map((e) => {
                    const on = f.environments[e.key]?.enabled ?? false;
                    return (
                      <td key={e.key}>
                        <label className="switch">
                          <input
                            type="checkbox"
                            role="switch"
                            checked={on}
                            disabled={!can("editor") || toggle.isPending}
                            aria-label={`${f.key} in ${e.key}`}
                            onChange={() => ask(f, e.key, !on)}
                          />
                          <span>{on ? "on" : "off"}</span>
                        </label>
                      </td>
                    );
                  })}
                  <td>
                    {ago(f.updated_at)}
                    {stale && (
                      <span className="hint-badge" title={`Unchanged for more than ${STALE_DAYS} days: still needed?`}>
                        stale?
                      </span>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {pending && (
        <Confirm
          title={`Turn ${pending.flag.key} ${pending.on ? "on" : "off"} in ${pending.env}?`}
          consequence={
            <p>
              Every edge serving <strong>{pending.env}</strong> will{" "}
              {pending.on ? "start evaluating its rules" : "serve its off variation to everyone"} within seconds.
            </p>
          }
          confirmLabel={pending.on ? "Turn on" : "Turn off"}
          danger={!pending.on}
          onCancel={() => setPending(null)}
          onConfirm={() => {
            toggle.mutate(pending);
            setPending(null);
          }}
        />
      )}
    </section>
  );
}
