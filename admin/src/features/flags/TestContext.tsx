// "Test a context": core's evaluation preview of the environment's current snapshot, showing
// each value and its reason.
import { useState } from "react";
import { useMutation } from "@tanstack/react-query";
import { ApiError, request } from "../../lib/api";
import { JsonInput, ProblemNotice } from "../../components/ui";

interface Evaluation {
  value?: unknown;
  variant?: unknown;
  variation?: unknown;
  reason?: unknown;
}

export function TestContext({ environment, flagKey }: { environment: string; flagKey: string }) {
  const [context, setContext] = useState<unknown>({ user_id: "user-1", country: "DE" });
  const [valid, setValid] = useState(true);
  const run = useMutation({
    mutationFn: () =>
      request<Record<string, unknown>>(`/environments/${encodeURIComponent(environment)}/evaluate`, {
        method: "POST",
        body: { context },
      }).then((r) => r.body),
  });
  const flags = (run.data?.flags ?? {}) as Record<string, Evaluation> | Evaluation[];
  const entries: [string, Evaluation][] = Array.isArray(flags)
    ? flags.map((f) => [String((f as { key?: string }).key ?? "?"), f])
    : Object.entries(flags);
  entries.sort(([a], [b]) => (a === flagKey ? -1 : b === flagKey ? 1 : a.localeCompare(b)));
  return (
    <aside className="panel" aria-labelledby="test-context">
      <h2 id="test-context">Test a context in {environment}</h2>
      <p className="hint">Evaluates the published snapshot (save first to test your changes).</p>
      <JsonInput label="Context attributes" value={context} rows={5} onChange={(v, ok) => { setValid(ok); if (ok) setContext(v ?? {}); }} />
      <button type="button" onClick={() => run.mutate()} disabled={!valid || run.isPending}>
        Evaluate
      </button>
      <ProblemNotice error={run.error as ApiError | null} />
      {run.data && (
        <table className="compact">
          <thead>
            <tr>
              <th scope="col">Flag</th>
              <th scope="col">Value</th>
              <th scope="col">Reason</th>
            </tr>
          </thead>
          <tbody>
            {entries.map(([key, e]) => (
              <tr key={key} className={key === flagKey ? "highlight" : undefined}>
                <td>{key}</td>
                <td>
                  <code>{JSON.stringify(e.value)}</code>
                </td>
                <td>
                  <code>{typeof e.reason === "string" ? e.reason : JSON.stringify(e.reason)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </aside>
  );
}
