// The audit log, filtered by entity, actor and time, with each change's diff.
import { useState } from "react";
import { useInfiniteQuery } from "@tanstack/react-query";
import { get } from "../../lib/api";
import { Empty, Loading, ProblemNotice } from "../../components/ui";

interface Entry {
  id: number;
  at: string;
  actor: string;
  entity_type: string;
  entity_key: string;
  action: string;
  diff: { path: string; before?: unknown; after?: unknown }[];
  request_id?: string;
}

const ENTITY_TYPES = ["flag", "experiment", "segment", "layer", "holdout", "metric", "environment", "user", "api_key"];

export function AuditPage() {
  const [filters, setFilters] = useState({ entity_type: "", entity_key: "", actor: "", since: "", until: "" });
  const [applied, setApplied] = useState(filters);
  const query = Object.entries(applied)
    .filter(([, v]) => v)
    .map(([k, v]) => `${k}=${encodeURIComponent(k === "since" || k === "until" ? new Date(v).toISOString() : v)}`)
    .join("&");
  const entries = useInfiniteQuery({
    queryKey: ["audit", query],
    queryFn: ({ pageParam }) => get<{ items: Entry[]; next_cursor?: string }>(`/audit?limit=50${query ? `&${query}` : ""}${pageParam ? `&cursor=${encodeURIComponent(pageParam)}` : ""}`),
    initialPageParam: "",
    getNextPageParam: (last) => last.next_cursor,
  });
  const items = entries.data?.pages.flatMap((p) => p.items) ?? [];
  const set = (k: keyof typeof filters) => (e: React.ChangeEvent<HTMLInputElement | HTMLSelectElement>) => setFilters({ ...filters, [k]: e.target.value });
  return (
    <section>
      <header className="page-head">
        <h1>Audit log</h1>
      </header>
      <form
        className="filters"
        aria-label="Audit filters"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(filters);
        }}
      >
        <label>
          Entity
          <select value={filters.entity_type} onChange={set("entity_type")}>
            <option value="">any</option>
            {ENTITY_TYPES.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
        <label>
          Key
          <input value={filters.entity_key} onChange={set("entity_key")} />
        </label>
        <label>
          Actor
          <input value={filters.actor} onChange={set("actor")} placeholder="user:pm@example.com" />
        </label>
        <label>
          From
          <input type="datetime-local" value={filters.since} onChange={set("since")} />
        </label>
        <label>
          To
          <input type="datetime-local" value={filters.until} onChange={set("until")} />
        </label>
        <button type="submit">Filter</button>
      </form>
      <ProblemNotice error={entries.error} />
      {entries.isPending ? (
        <Loading what="the audit log" />
      ) : items.length === 0 ? (
        <Empty>No changes match.</Empty>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">What</th>
              <th scope="col">Changes</th>
            </tr>
          </thead>
          <tbody>
            {items.map((e) => (
              <tr key={e.id}>
                <td>{new Date(e.at).toLocaleString()}</td>
                <td>{e.actor}</td>
                <td>
                  {e.action} {e.entity_type} <strong>{e.entity_key}</strong>
                </td>
                <td>
                  {e.diff.length === 0 ? (
                    "–"
                  ) : (
                    <details>
                      <summary>{e.diff.length} field{e.diff.length > 1 ? "s" : ""}</summary>
                      <ul className="diff">
                        {e.diff.map((d, i) => (
                          <li key={i}>
                            <code>{d.path}</code>: <del>{JSON.stringify(d.before) ?? "–"}</del> → <ins>{JSON.stringify(d.after) ?? "–"}</ins>
                          </li>
                        ))}
                      </ul>
                    </details>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {entries.hasNextPage && (
        <button type="button" onClick={() => void entries.fetchNextPage()} disabled={entries.isFetchingNextPage}>
          Older changes
        </button>
      )}
    </section>
  );
}
