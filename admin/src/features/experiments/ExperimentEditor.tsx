// The experiment editor: texts, variants with weights and JSON payloads, targeting (the rule
// builder and segments), coverage, layer range on an allocation bar (overlaps refused),
// holdouts, QA overrides, metrics and schedule; lifecycle actions with a confirmation that
// names the consequence. What core refuses while running is explained in place.
import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ApiError, getTagged, request } from "../../lib/api";
import { useCurrentEnvironment, useEnvironments, useExperiments, useHoldouts, useLayers, useMetrics, useSegments } from "../../lib/queries";
import { useSession } from "../../lib/session";
import type { Experiment, ExperimentSpec } from "../../lib/types";
import { Confirm, Field, JsonInput, Loading, ProblemNotice, StatusBadge, TagsInput } from "../../components/ui";
import { RuleBuilder } from "../rules/RuleBuilder";
import { AllocationBar, overlaps } from "./AllocationBar";

const blank = (environment: string): ExperimentSpec => ({
  key: "",
  environment,
  name: "",
  description: "",
  hypothesis: "",
  owner: "",
  tags: [],
  variants: [
    { key: "control", name: "Control", weight: 0.5 },
    { key: "treatment", name: "Treatment", weight: 0.5 },
  ],
  coverage: 1,
  segments: [],
  unit_attribute: "user_id",
  holdouts: [],
  overrides: {},
  metrics: { primary: [], secondary: [], guardrail: [] },
});

function specOf(e: Experiment): ExperimentSpec {
  const { key: _k, environment: _e, status: _s, salt: _salt, decision: _d, winner: _w, conclusion: _c, restarts: _r, started_at: _st, version: _v, created_at: _ca, updated_at: _u, ...spec } = e;
  const m = spec.metrics ?? {};
  return { ...spec, tags: spec.tags ?? [], metrics: { primary: m.primary ?? [], secondary: m.secondary ?? [], guardrail: m.guardrail ?? [] } };
}

export function ExperimentEditor() {
  const { key } = useParams();
  const { environment } = useCurrentEnvironment();
  const loaded = useQuery({
    queryKey: ["experiment", key],
    queryFn: () => getTagged<Experiment>(`/experiments/${encodeURIComponent(key!)}`),
    enabled: key !== undefined,
  });
  if (key && loaded.isPending) return <Loading what="the experiment" />;
  if (key && loaded.error) return <ProblemNotice error={loaded.error} />;
  return (
    <ExperimentForm
      key={key ?? "new"}
      experiment={loaded.data?.body}
      etag={loaded.data?.etag}
      initial={loaded.data ? specOf(loaded.data.body) : blank(environment)}
      reload={() => loaded.refetch()}
    />
  );
}

type Action = "start" | "stop" | "conclude" | "restart";

const CONSEQUENCES: Record<Action, string> = {
  start: "Edges start assigning units to its variants within seconds, and exposures start counting.",
  stop: "Edges stop assigning: every unit gets the default experience again. Results stay readable; you can conclude it afterwards.",
  conclude: "The experiment becomes read-only and leaves the snapshot for good.",
  restart: "Every unit is re-randomized with a new salt: units may change variant, and results start over from now.",
};

function ExperimentForm({
  experiment,
  etag,
  initial,
  reload,
}: {
  experiment?: Experiment;
  etag?: string;
  initial: ExperimentSpec;
  reload: () => Promise<unknown>;
}) {
  const [draft, setDraft] = useState<ExperimentSpec>(initial);
  const [baseEtag, setBaseEtag] = useState(etag);
  const [confirm, setConfirm] = useState<Action | null>(null);
  const [decision, setDecision] = useState({ decision: "ship", winner: "", conclusion: "" });
  const { can } = useSession();
  const status = experiment?.status ?? "draft";
  const readOnly = !can("editor") || status === "concluded";
  const running = status === "running" || status === "scheduled";
  const environments = useEnvironments();
  const segments = useSegments();
  const layers = useLayers();
  const holdouts = useHoldouts();
  const metrics = useMetrics();
  const all = useExperiments();
  const navigate = useNavigate();
  const queryClient = useQueryClient();

  const applied = ({ body, etag: next }: { body: Experiment; etag: string }) => {
    setBaseEtag(next);
    setDraft(specOf(body));
    queryClient.setQueryData(["experiment", body.key], { body, etag: next });
    void queryClient.invalidateQueries({ queryKey: ["experiments"] });
  };
  const save = useMutation({
    mutationFn: () =>
      experiment
        ? request<Experiment>(`/experiments/${encodeURIComponent(experiment.key)}`, { method: "PUT", ifMatch: baseEtag, body: draft })
        : request<Experiment>("/experiments", { method: "POST", body: draft }),
    onSuccess: (r) => {
      applied(r);
      if (!experiment) navigate(`/experiments/${encodeURIComponent(r.body.key)}`, { replace: true });
    },
  });
  const act = useMutation({
    mutationFn: (action: Action) =>
      request<Experiment>(`/experiments/${encodeURIComponent(experiment!.key)}/${action}`, {
        method: "POST",
        ifMatch: baseEtag,
        body:
          action === "conclude"
            ? { decision: decision.decision, ...(decision.winner ? { winner: decision.winner } : {}), ...(decision.conclusion ? { conclusion: decision.conclusion } : {}) }
            : action === "restart"
              ? {}
              : undefined,
      }),
    onSuccess: applied,
  });
  const error = (save.error ?? act.error) as ApiError | null;
  const weightSum = draft.variants.reduce((s, v) => s + v.weight, 0);
  const layerSiblings = (all.data ?? []).filter(
    (e) => e.layer && draft.layer && e.layer.key === draft.layer.key && e.key !== experiment?.key && e.status !== "concluded",
  );
  const overlap = draft.layer ? overlaps(draft.layer, layerSiblings) : [];
  const metricKeys = (metrics.data ?? []).map((m) => m.key);
  const frozenWhileRunning = running ? "Variants and weights cannot change while it runs: restart it to change them (re-randomizes every unit)." : undefined;

  return (
    <section>
      <header className="page-head">
        <h1>
          {experiment ? experiment.name || experiment.key : "New experiment"} {experiment && <StatusBadge status={status} />}
        </h1>
        <div>
          {experiment && status !== "draft" && <Link to={`/experiments/${encodeURIComponent(experiment.key)}/results`}>Results</Link>}{" "}
          <Link to="/experiments">All experiments</Link>
        </div>
      </header>
      {!can("editor") && <p className="notice">You have the viewer role: you can read this experiment but not change it.</p>}
      {status === "concluded" && (
        <p className="notice">
          Concluded ({experiment?.decision}
          {experiment?.winner ? `: ${experiment.winner}` : ""}). Concluded experiments are read-only.
        </p>
      )}
      {experiment && can("editor") && (
        <div className="lifecycle" role="group" aria-label="Lifecycle">
          {(status === "draft" || status === "scheduled") && (
            <button type="button" className="primary" onClick={() => setConfirm("start")}>
              Start
            </button>
          )}
          {status === "running" && (
            <>
              <button type="button" className="danger" onClick={() => setConfirm("stop")}>
                Stop
              </button>
              <button type="button" onClick={() => setConfirm("restart")}>
                Restart (re-randomize)
              </button>
            </>
          )}
          {status === "stopped" && (
            <button type="button" onClick={() => setConfirm("conclude")}>
              Conclude
            </button>
          )}
        </div>
      )}
      <form
        className="editor"
        onSubmit={(e) => {
          e.preventDefault();
          if (overlap.length === 0) save.mutate();
        }}
      >
        <fieldset disabled={readOnly}>
          <legend>About</legend>
          {!experiment && (
            <div className="inline">
              <Field label="Key" error={error} errors={["key"]} hint="cannot change later">
                {(p) => <input {...p} required value={draft.key ?? ""} onChange={(e) => setDraft({ ...draft, key: e.target.value })} />}
              </Field>
              <Field label="Environment" error={error} errors={["environment"]}>
                {(p) => (
                  <select {...p} value={draft.environment} onChange={(e) => setDraft({ ...draft, environment: e.target.value })}>
                    {(environments.data ?? []).map((e) => (
                      <option key={e.key}>{e.key}</option>
                    ))}
                  </select>
                )}
              </Field>
            </div>
          )}
          <Field label="Name" error={error} errors={["name"]}>
            {(p) => <input {...p} required value={draft.name} onChange={(e) => setDraft({ ...draft, name: e.target.value })} />}
          </Field>
          <Field label="Hypothesis" error={error} errors={["hypothesis"]}>
            {(p) => <textarea {...p} rows={2} value={draft.hypothesis} onChange={(e) => setDraft({ ...draft, hypothesis: e.target.value })} />}
          </Field>
          <div className="inline">
            <Field label="Owner" error={error} errors={["owner"]}>
              {(p) => <input {...p} value={draft.owner} onChange={(e) => setDraft({ ...draft, owner: e.target.value })} />}
            </Field>
            <Field label="Tags" error={error} errors={["tags"]} hint="comma separated">
              {(p) => <TagsInput {...p} value={draft.tags ?? []} onChange={(tags) => setDraft({ ...draft, tags })} />}
            </Field>
          </div>
        </fieldset>

        <fieldset disabled={readOnly} aria-describedby={frozenWhileRunning ? "frozen" : undefined}>
          <legend>Variants</legend>
          {frozenWhileRunning && (
            <p className="hint" id="frozen">
              {frozenWhileRunning}
            </p>
          )}
          {draft.variants.map((v, i) => {
            const set = (nv: typeof v) => setDraft({ ...draft, variants: draft.variants.map((x, j) => (j === i ? nv : x)) });
            return (
              <div className="inline variant" key={i}>
                <Field label={`Variant ${i + 1} key`} error={error} errors={[`variants[${i}].key`]}>
                  {(p) => <input {...p} value={v.key} onChange={(e) => set({ ...v, key: e.target.value })} />}
                </Field>
                <Field label="Name" error={error} errors={[`variants[${i}].name`]}>
                  {(p) => <input {...p} value={v.name} onChange={(e) => set({ ...v, name: e.target.value })} />}
                </Field>
                <Field label="Weight %" error={error} errors={[`variants[${i}].weight`]}>
                  {(p) => (
                    <input {...p} type="number" min={0} max={100} step="any" value={+(v.weight * 100).toFixed(4)} onChange={(e) => set({ ...v, weight: Number(e.target.value) / 100 })} />
                  )}
                </Field>
                <Field label="Payload (JSON)" error={error} errors={[`variants[${i}].payload`]}>
                  {(p) => <JsonInput id={p.id} rows={1} value={v.payload ?? null} onChange={(val, ok) => ok && set({ ...v, payload: val === null ? undefined : val })} />}
                </Field>
                {draft.variants.length > 2 && (
                  <button type="button" className="link" onClick={() => setDraft({ ...draft, variants: draft.variants.filter((_, j) => j !== i) })}>
                    Remove
                  </button>
                )}
              </div>
            );
          })}
          {Math.abs(weightSum - 1) > 1e-9 && (
            <p className="field-error" role="alert">
              The weights add up to {(weightSum * 100).toFixed(2)}%, not 100%.
            </p>
          )}
          {error?.fieldMessages("variants").length && !error.problem.errors?.some((e) => e.path.startsWith("variants[")) ? (
            <p className="field-error" role="alert">{error.fieldMessages("variants").join("; ")}</p>
          ) : null}
          <button type="button" onClick={() => setDraft({ ...draft, variants: [...draft.variants, { key: `variant-${draft.variants.length}`, name: "", weight: 0 }] })}>
            + Variant
          </button>
        </fieldset>

        <fieldset disabled={readOnly}>
          <legend>Who enters</legend>
          <RuleBuilder label="Targeting" value={draft.condition} onChange={(condition) => setDraft({ ...draft, condition })} segments={(segments.data ?? []).map((s) => s.key)} />
          {error?.fieldMessages("condition").map((m) => (
            <small key={m} className="field-error" role="alert">
              {m}
            </small>
          ))}
          <div className="inline">
            <Field label="Segments (all of)" error={error} errors={["segments"]}>
              {(p) => (
                <select {...p} multiple value={draft.segments} onChange={(e) => setDraft({ ...draft, segments: [...e.target.selectedOptions].map((o) => o.value) })}>
                  {(segments.data ?? []).map((s) => (
                    <option key={s.key}>{s.key}</option>
                  ))}
                </select>
              )}
            </Field>
            <Field label="Coverage %" error={error} errors={["coverage"]} hint="raising it never moves assigned units">
              {(p) => <input {...p} type="number" min={0} max={100} step="any" value={+(draft.coverage * 100).toFixed(4)} onChange={(e) => setDraft({ ...draft, coverage: Number(e.target.value) / 100 })} />}
            </Field>
            <Field label="Unit attribute" error={error} errors={["unit_attribute"]}>
              {(p) => <input {...p} value={draft.unit_attribute} onChange={(e) => setDraft({ ...draft, unit_attribute: e.target.value })} />}
            </Field>
            <Field label="Holdouts" error={error} errors={["holdouts"]}>
              {(p) => (
                <select {...p} multiple value={draft.holdouts} onChange={(e) => setDraft({ ...draft, holdouts: [...e.target.selectedOptions].map((o) => o.value) })}>
                  {(holdouts.data ?? []).map((h) => (
                    <option key={h.key}>{h.key}</option>
                  ))}
                </select>
              )}
            </Field>
          </div>
          <div className="inline">
            <Field label="Layer" error={error} errors={["layer"]}>
              {(p) => (
                <select
                  {...p}
                  value={draft.layer?.key ?? ""}
                  onChange={(e) => setDraft({ ...draft, layer: e.target.value ? { key: e.target.value, start: draft.layer?.start ?? 0, end: draft.layer?.end ?? 1 } : undefined })}
                >
                  <option value="">none</option>
                  {(layers.data ?? []).map((l) => (
                    <option key={l.key}>{l.key}</option>
                  ))}
                </select>
              )}
            </Field>
            {draft.layer && (
              <>
                <Field label="Range start %" error={error} errors={["layer.start"]}>
                  {(p) => <input {...p} type="number" min={0} max={100} step="any" value={+(draft.layer!.start * 100).toFixed(4)} onChange={(e) => setDraft({ ...draft, layer: { ...draft.layer!, start: Number(e.target.value) / 100 } })} />}
                </Field>
                <Field label="Range end %" error={error} errors={["layer.end"]}>
                  {(p) => <input {...p} type="number" min={0} max={100} step="any" value={+(draft.layer!.end * 100).toFixed(4)} onChange={(e) => setDraft({ ...draft, layer: { ...draft.layer!, end: Number(e.target.value) / 100 } })} />}
                </Field>
              </>
            )}
          </div>
          {draft.layer && <AllocationBar self={{ start: draft.layer.start, end: draft.layer.end, key: experiment?.key ?? (draft.key || "this experiment") }} others={layerSiblings} />}
          {overlap.length > 0 && (
            <p className="field-error" role="alert">
              This range overlaps {overlap.join(", ")} in layer {draft.layer?.key}: experiments of one layer must not share buckets.
            </p>
          )}
          <Field label="QA overrides (unit id → variant key, JSON)" error={error} errors={["overrides"]}>
            {(p) => <JsonInput id={p.id} rows={2} value={draft.overrides} onChange={(v, ok) => ok && setDraft({ ...draft, overrides: (v ?? {}) as Record<string, string> })} />}
          </Field>
        </fieldset>

        <fieldset disabled={readOnly}>
          <legend>Metrics and schedule</legend>
          <div className="inline">
            {(["primary", "secondary", "guardrail"] as const).map((kind) => (
              <Field key={kind} label={kind === "guardrail" ? "Guardrails" : `${kind[0].toUpperCase()}${kind.slice(1)} metrics`} error={error} errors={[`metrics.${kind}`]}>
                {(p) => (
                  <select
                    {...p}
                    multiple
                    value={draft.metrics[kind]}
                    onChange={(e) => setDraft({ ...draft, metrics: { ...draft.metrics, [kind]: [...e.target.selectedOptions].map((o) => o.value) } })}
                  >
                    {metricKeys.map((m) => (
                      <option key={m}>{m}</option>
                    ))}
                  </select>
                )}
              </Field>
            ))}
          </div>
          <div className="inline">
            <Field label="Start (RFC 3339)" error={error} errors={["schedule.start", "schedule"]} hint="set by Start; or schedule a start">
              {(p) => <input {...p} placeholder="now" value={draft.schedule?.start ?? ""} onChange={(e) => setDraft({ ...draft, schedule: { ...draft.schedule, start: e.target.value || undefined } })} />}
            </Field>
            <Field label="End (RFC 3339)" error={error} errors={["schedule.end"]}>
              {(p) => <input {...p} placeholder="open" value={draft.schedule?.end ?? ""} onChange={(e) => setDraft({ ...draft, schedule: { ...draft.schedule, end: e.target.value || undefined } })} />}
            </Field>
          </div>
        </fieldset>
        <ProblemNotice
          error={error}
          claimed={["key", "environment", "name", "hypothesis", "owner", "tags", "variants", "condition", "segments", "coverage", "unit_attribute", "holdouts", "layer", "overrides", "metrics", "schedule"]}
          entity={experiment ? { type: "experiment", key: experiment.key } : undefined}
          onReload={async () => {
            const fresh = (await reload()) as { data?: { body: Experiment; etag: string } };
            if (fresh.data) {
              setDraft(specOf(fresh.data.body));
              setBaseEtag(fresh.data.etag);
              save.reset();
              act.reset();
            }
          }}
        />
        {!readOnly && (
          <div className="actions sticky">
            <button type="submit" className="primary" disabled={save.isPending || overlap.length > 0}>
              {save.isPending ? "Saving…" : experiment ? "Save experiment" : "Create experiment"}
            </button>
            {save.isSuccess && <span role="status">Saved.</span>}
          </div>
        )}
      </form>
      {confirm && experiment && (
        <Confirm
          title={`${confirm[0].toUpperCase()}${confirm.slice(1)} ${experiment.key}?`}
          consequence={
            <>
              <p>{CONSEQUENCES[confirm]}</p>
              {confirm === "conclude" && (
                <div className="inline">
                  <label>
                    Decision
                    <select value={decision.decision} onChange={(e) => setDecision({ ...decision, decision: e.target.value })}>
                      <option value="ship">ship a variant</option>
                      <option value="rollback">roll back</option>
                      <option value="inconclusive">inconclusive</option>
                    </select>
                  </label>
                  {decision.decision === "ship" && (
                    <label>
                      Winner
                      <select value={decision.winner} onChange={(e) => setDecision({ ...decision, winner: e.target.value })}>
                        <option value="">choose</option>
                        {experiment.variants.map((v) => (
                          <option key={v.key}>{v.key}</option>
                        ))}
                      </select>
                    </label>
                  )}
                  <label>
                    Conclusion
                    <input value={decision.conclusion} onChange={(e) => setDecision({ ...decision, conclusion: e.target.value })} />
                  </label>
                </div>
              )}
            </>
          }
          confirmLabel={confirm[0].toUpperCase() + confirm.slice(1)}
          danger={confirm === "stop" || confirm === "restart"}
          onCancel={() => setConfirm(null)}
          onConfirm={() => {
            act.mutate(confirm);
            setConfirm(null);
          }}
        />
      )}
    </section>
  );
}
