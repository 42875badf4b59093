// Edges, for SREs: runtime, environment, served version, lag, status and last error; stuck and
// stale edges stand out. Refreshes every 5 s.
import { useQuery } from "@tanstack/react-query";
import { getAll } from "../../lib/api";
import { Empty, Loading, ProblemNotice, ago } from "../../components/ui";

interface EdgeRow {
  id: string;
  url: string;
  environment?: string | null;
  served_version?: number | null;
  latest_version?: number | null;
  lag_seconds: number;
  stuck: boolean;
  stuck_after_seconds: number;
  last_error?: string | null;
  checked_at?: string | null;
  reported_by: string;
  reported_at: string;
}

const STALE_AFTER_MS = 5 * 60_000;

function runtimeOf(e: EdgeRow): string {
  if (/workers\.dev|cloudflare/i.test(e.url) || /^cf|worker/i.test(e.id)) return "Cloudflare worker";
  if (/spin|fermyon/i.test(e.url + e.id)) return "Spin";
  return "native";
}

export function EdgesPage() {
  const edges = useQuery({ queryKey: ["edges"], queryFn: () => getAll<EdgeRow>("/edges"), refetchInterval: 5000 });
  if (edges.isPending) return <Loading what="edges" />;
  if (edges.error) return <ProblemNotice error={edges.error} />;
  const rows = [...(edges.data ?? [])].sort((a, b) => Number(b.stuck) - Number(a.stuck) || b.lag_seconds - a.lag_seconds);
  const stale = (e: EdgeRow) => Date.now() - new Date(e.checked_at ?? e.reported_at).getTime() > STALE_AFTER_MS;
  const bad = rows.filter((e) => e.stuck || stale(e)).length;
  return (
    <section>
      <header className="page-head">
        <h1>Edges</h1>
        <span role="status">{bad === 0 ? `${rows.length} edges, all current` : `${bad} of ${rows.length} edges need attention`}</span>
      </header>
      {rows.length === 0 ? (
        <Empty>No edge has been reported yet (sync reports the edges it watches).</Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Edge</th>
              <th scope="col">Runtime</th>
              <th scope="col">Environment</th>
              <th scope="col">Serves</th>
              <th scope="col">Lag</th>
              <th scope="col">Status</th>
              <th scope="col">Last error</th>
              <th scope="col">Checked</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((e) => {
              const status = e.stuck ? "stuck" : stale(e) ? "stale" : e.served_version === e.latest_version ? "current" : "catching up";
              return (
                <tr key={e.id} className={e.stuck ? "row-bad" : stale(e) ? "row-warn" : undefined}>
                  <th scope="row">
                    {e.id}
                    <div className="sub">{e.url}</div>
                  </th>
                  <td>{runtimeOf(e)}</td>
                  <td>{e.environment ?? "?"}</td>
                  <td>
                    v{e.served_version ?? "?"} of v{e.latest_version ?? "?"}
                  </td>
                  <td>{e.lag_seconds.toFixed(1)} s</td>
                  <td>
                    <span className={`badge edge-${status.replace(" ", "-")}`}>{status}</span>
                  </td>
                  <td>{e.last_error ?? "–"}</td>
                  <td>{ago(e.checked_at ?? e.reported_at)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
