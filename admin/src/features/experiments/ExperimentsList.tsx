// Experiments: status, search, owner and tag filters, per environment.
import { useMemo, useState } from "react";
import { Link } from "react-router";
import { useCurrentEnvironment, useExperiments } from "../../lib/queries";
import { useSession } from "../../lib/session";
import { Empty, Loading, ProblemNotice, StatusBadge, ago } from "../../components/ui";

const STATUSES = ["draft", "scheduled", "running", "stopped", "concluded"];

export function ExperimentsList() {
  const experiments = useExperiments();
  const { environment } = useCurrentEnvironment();
  const { can } = useSession();
  const [search, setSearch] = useState("");
  const [status, setStatus] = useState("");
  const [owner, setOwner] = useState("");
  const [tag, setTag] = useState("");
  const [allEnvironments, setAllEnvironments] = useState(false);

  const inEnv = useMemo(
    () => (experiments.data ?? []).filter((e) => allEnvironments || !environment || e.environment === environment),
    [experiments.data, environment, allEnvironments],
  );
  const owners = useMemo(() => [...new Set(inEnv.map((e) => e.owner).filter(Boolean))].sort(), [inEnv]);
  const tags = useMemo(() => [...new Set(inEnv.flatMap((e) => e.tags ?? []))].sort(), [inEnv]);
  const shown = useMemo(() => {
    const q = search.trim().toLowerCase();
    return inEnv.filter(
      (e) =>
        (!q || e.key.toLowerCase().includes(q) || e.name.toLowerCase().includes(q) || e.hypothesis.toLowerCase().includes(q)) &&
        (!status || e.status === status) &&
        (!owner || e.owner === owner) &&
        (!tag || (e.tags ?? []).includes(tag)),
    );
  }, [inEnv, search, status, owner, tag]);

  if (experiments.isPending) return <Loading what="experiments" />;
  if (experiments.error) return <ProblemNotice error={experiments.error} />;
  return (
    <section>
      <header className="page-head">
        <h1>Experiments</h1>
        <div>
          <Link to="/compare">Compare</Link>{" "}
          {can("editor") && (
            <Link className="button primary" to="/experiments/new">
              New experiment
            </Link>
          )}
        </div>
      </header>
      <div className="filters">
        <label>
          Search
          <input type="search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="key, name or hypothesis" />
        </label>
        <label>
          Status
          <select value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Owner
          <select value={owner} onChange={(e) => setOwner(e.target.value)}>
            <option value="">anyone</option>
            {owners.map((o) => (
              <option key={o}>{o}</option>
            ))}
          </select>
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
        <label className="check">
          <input type="checkbox" checked={allEnvironments} onChange={(e) => setAllEnvironments(e.target.checked)} />
          all environments
        </label>
        <span className="count" aria-live="polite">
          {shown.length} of {inEnv.length}
        </span>
      </div>
      {shown.length === 0 ? (
        <Empty>{inEnv.length ? "No experiment matches." : `No experiments in ${environment || "any environment"} yet.`}</Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Experiment</th>
              <th scope="col">Status</th>
              <th scope="col">Environment</th>
              <th scope="col">Owner</th>
              <th scope="col">Variants</th>
              <th scope="col">Updated</th>
              <th scope="col">
                <span className="visually-hidden">Results</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {shown.map((e) => (
              <tr key={e.key}>
                <td>
                  <Link to={`/experiments/${encodeURIComponent(e.key)}`}>{e.name || e.key}</Link>
                  <div className="sub">
                    {e.key}
                    {(e.tags ?? []).map((t) => (
                      <span key={t} className="tag">
                        {t}
                      </span>
                    ))}
                  </div>
                </td>
                <td>
                  <StatusBadge status={e.status} />
                </td>
                <td>{e.environment}</td>
                <td>{e.owner || "–"}</td>
                <td>{e.variants.map((v) => v.key).join(", ")}</td>
                <td>{ago(e.updated_at)}</td>
                <td>
                  {e.status !== "draft" && (
                    <Link to={`/experiments/${encodeURIComponent(e.key)}/results`} aria-label={`Results of ${e.key}`}>
                      Results
                    </Link>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
