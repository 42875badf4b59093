// Several experiments' primary metrics side by side.
import { useQueries } from "@tanstack/react-query";
import { useSearchParams } from "react-router";
import { get } from "../../lib/api";
import { useExperiments } from "../../lib/queries";
import { Empty, Loading } from "../../components/ui";
import { decisionSummary, interval, metricKey, pct, type ResultsEnvelope } from "./format";
import { IntervalPlot } from "./IntervalPlot";

export default function ComparePage() {
  const experiments = useExperiments();
  const [params, setParams] = useSearchParams();
  const keys = (params.get("keys") ?? "").split(",").filter(Boolean);
  const results = useQueries({
    queries: keys.map((key) => ({
      queryKey: ["results", key],
      queryFn: () => get<ResultsEnvelope>(`/experiments/${encodeURIComponent(key)}/results`),
    })),
  });
  const candidates = (experiments.data ?? []).filter((e) => e.status !== "draft");
  if (experiments.isPending) return <Loading what="experiments" />;
  return (
    <section>
      <header className="page-head">
        <h1>Compare experiments</h1>
      </header>
      <label>
        Experiments to compare
        <select
          multiple
          value={keys}
          onChange={(e) => setParams({ keys: [...e.target.selectedOptions].map((o) => o.value).join(",") })}
        >
          {candidates.map((e) => (
            <option key={e.key} value={e.key}>
              {e.name || e.key} ({e.status})
            </option>
          ))}
        </select>
      </label>
      {keys.length === 0 ? (
        <Empty>Choose one or more experiments that have started.</Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Experiment</th>
              <th scope="col">Primary metric</th>
              <th scope="col">Best treatment</th>
              <th scope="col">Relative lift</th>
              <th scope="col">Decision</th>
            </tr>
          </thead>
          <tbody>
            {keys.map((key, i) => {
              const r = results[i];
              const exp = candidates.find((e) => e.key === key);
              const primaryKey = exp?.metrics.primary[0];
              const metric = r.data?.results.metrics.find((m) => metricKey(m) === primaryKey) ?? r.data?.results.metrics[0];
              const best = metric?.variants.slice(1).sort((a, b) => (b.relative?.expected ?? -Infinity) - (a.relative?.expected ?? -Infinity))[0];
              return (
                <tr key={key}>
                  <th scope="row">{exp?.name || key}</th>
                  <td>{metric ? metricKey(metric) : r.isPending ? "loading…" : "–"}</td>
                  <td>{best?.name ?? "–"}</td>
                  <td>
                    {best && <IntervalPlot ci={best.relative?.ci} expected={best.relative?.expected} extent={0.3} label={`${best.name} ${interval(best.relative?.ci)}`} />}
                    {best ? ` ${pct(best.relative?.expected)} ${interval(best.relative?.ci)}` : ""}
                  </td>
                  <td>{metric ? decisionSummary(metric) : r.error ? String(r.error.message) : ""}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
