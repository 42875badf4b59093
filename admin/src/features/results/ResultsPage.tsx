// Results: per metric and variant the units, mean, absolute and relative lift with its
// interval drawn, p-value or chance to win; the SRM banner; cumulative lift over time; the
// one-line decision; when it was computed, a recompute button and the CSV export.
import { Link, useParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ApiError, get, getText, request } from "../../lib/api";
import { useSession } from "../../lib/session";
import type { Experiment } from "../../lib/types";
import { Loading, ProblemNotice, StatusBadge } from "../../components/ui";
import { decisionSummary, interval, mean, metricKey, pct, pValue, verdict, type MetricResult, type Results, type ResultsEnvelope } from "./format";
import { IntervalPlot } from "./IntervalPlot";
import { LiftChart } from "./LiftChart";

export default function ResultsPage() {
  const { key = "" } = useParams();
  const { can } = useSession();
  const queryClient = useQueryClient();
  const experiment = useQuery({ queryKey: ["experiment", key], queryFn: () => get<Experiment>(`/experiments/${encodeURIComponent(key)}`).then((body) => ({ body, etag: "" })) });
  const results = useQuery({
    queryKey: ["results", key],
    queryFn: () => get<ResultsEnvelope>(`/experiments/${encodeURIComponent(key)}/results`),
    refetchInterval: 15_000,
  });
  const recompute = useMutation({
    mutationFn: () => request<ResultsEnvelope>(`/experiments/${encodeURIComponent(key)}/results`, { method: "POST" }),
    onSuccess: ({ body }) => queryClient.setQueryData(["results", key], body),
  });

  async function exportCsv() {
    const csv = await getText(`/experiments/${encodeURIComponent(key)}/results?format=csv`);
    const url = URL.createObjectURL(new Blob([csv], { type: "text/csv" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = `${key}-results.csv`;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  const exp = experiment.data?.body;
  return (
    <section>
      <header className="page-head">
        <h1>
          Results: {exp?.name || key} {exp && <StatusBadge status={exp.status} />}
        </h1>
        <div>
          <Link to={`/experiments/${encodeURIComponent(key)}`}>Edit experiment</Link> <Link to={`/compare?keys=${encodeURIComponent(key)}`}>Compare</Link>
        </div>
      </header>
      {results.isPending && <Loading what="results" />}
      <ProblemNotice error={(results.error ?? recompute.error) as ApiError | null} />
      {results.data && (
        <>
          <div className="toolbar">
            <span>
              Computed {new Date(results.data.computed_at).toLocaleString()} · {results.data.results.method ?? "frequentist"}
              {results.data.results.correction && results.data.results.correction !== "none" ? ` · ${results.data.results.correction}` : ""}
            </span>
            {can("editor") && (
              <button type="button" onClick={() => recompute.mutate()} disabled={recompute.isPending}>
                {recompute.isPending ? "Computing…" : "Recompute now"}
              </button>
            )}
            <button type="button" onClick={() => void exportCsv()}>
              Export CSV
            </button>
          </div>
          <ResultsView results={results.data.results} experiment={exp} />
        </>
      )}
    </section>
  );
}

function unitsOf(results: Results, name: string, index: number): number | undefined {
  const u = results.units;
  if (Array.isArray(u)) return u[index];
  if (u && typeof u === "object") return (u as Record<string, number>)[name];
  return undefined;
}

export function ResultsView({ results, experiment }: { results: Results; experiment?: Experiment }) {
  const srm = results.srm;
  const primary = new Set(experiment?.metrics.primary ?? []);
  const guardrail = new Set(experiment?.metrics.guardrail ?? []);
  const ordered = [...results.metrics].sort((a, b) => Number(primary.has(metricKey(b))) - Number(primary.has(metricKey(a))));
  const firstPrimary = ordered[0];
  return (
    <>
      {srm?.mismatch ? (
        <div className="notice error srm" role="alert">
          <strong>Sample ratio mismatch.</strong> The variants received units in proportions that differ from their weights (p = {pValue(srm.p_value)}). Something in assignment or tracking is broken: do not trust these
          results until it is explained.
        </div>
      ) : (
        srm && <p className="hint">Traffic split matches the weights (SRM check p = {pValue(srm.p_value)}).</p>
      )}
      {firstPrimary && (
        <p className="decision" data-testid="decision">
          {decisionSummary(firstPrimary)}
        </p>
      )}
      {ordered.length === 0 && <p className="empty">No metrics in these results yet.</p>}
      {ordered.map((m) => (
        <MetricTable key={metricKey(m)} metric={m} results={results} role={primary.has(metricKey(m)) ? "primary" : guardrail.has(metricKey(m)) ? "guardrail" : "secondary"} />
      ))}
    </>
  );
}

function MetricTable({ metric, results, role }: { metric: MetricResult; results: Results; role: string }) {
  const bayesian = results.method === "bayesian";
  const bounds = metric.variants.flatMap((v) => (v.relative?.ci ?? []) as (number | null)[]).filter((x): x is number => typeof x === "number" && Number.isFinite(x));
  const extent = Math.max(0.01, ...bounds.map(Math.abs));
  const series = results.series?.find((s) => (s.metric ?? s.key) === metricKey(metric));
  return (
    <article className="metric">
      <h2>
        {metricKey(metric)} <span className="badge">{role}</span> {metric.inverse && <span className="badge">lower is better</span>}
        {metric.cuped && <span className="badge">CUPED</span>}
      </h2>
      <table>
        <caption className="visually-hidden">Results of {metricKey(metric)} per variant</caption>
        <thead>
          <tr>
            <th scope="col">Variant</th>
            <th scope="col">Units</th>
            <th scope="col">Mean</th>
            <th scope="col">Absolute lift</th>
            <th scope="col">Relative lift</th>
            <th scope="col">Interval {results.method === "sequential" ? "(sequential)" : ""}</th>
            <th scope="col">{bayesian ? "Chance to win" : "p-value"}</th>
          </tr>
        </thead>
        <tbody>
          {metric.variants.map((v, i) => {
            const c = v.relative;
            const verdictClass = i === 0 ? "" : `verdict-${verdict(c, metric.inverse)}`;
            return (
              <tr key={v.name} className={verdictClass}>
                <th scope="row">
                  {v.name}
                  {i === 0 && <span className="sub"> control</span>}
                </th>
                <td>{(unitsOf(results, v.name, i) ?? v.n).toLocaleString()}</td>
                <td>{mean(v.mean, metric.type)}</td>
                <td>{i === 0 ? "–" : v.absolute?.expected !== undefined ? `${v.absolute.expected >= 0 ? "+" : ""}${v.absolute.expected.toPrecision(3)}` : "–"}</td>
                <td>{i === 0 ? "–" : pct(c?.expected)}</td>
                <td className="interval-cell">
                  {i === 0 ? (
                    "–"
                  ) : (
                    <>
                      <IntervalPlot ci={c?.ci} expected={c?.expected} extent={extent} label={`${v.name} relative lift ${interval(c?.ci)}`} />
                      <span className="interval">{interval(c?.ci)}</span>
                    </>
                  )}
                </td>
                <td>{i === 0 ? "–" : bayesian ? pct(c?.chance_to_win).replace("+", "") : pValue(c?.p_value_adjusted ?? c?.p_value)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {series?.points && series.points.length > 1 && <LiftChart metric={metricKey(metric)} points={series.points} />}
    </article>
  );
}
