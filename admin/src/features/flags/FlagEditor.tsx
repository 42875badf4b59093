// The flag editor: type, variations, prerequisites, and per environment the kill switch,
// rules (the rule builder, segments, fixed variation or rollout %), holdouts and schedule;
// beside it the "test a context" panel on core's evaluation preview.
import { useEffect, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ApiError, getTagged, request } from "../../lib/api";
import { useCurrentEnvironment, useEnvironments, useFlags, useHoldouts, useSegments } from "../../lib/queries";
import { useSession } from "../../lib/session";
import type { Flag, FlagEnvironment, FlagSpec, FlagType, Rule } from "../../lib/types";
import { Field, JsonInput, Loading, ProblemNotice, TagsInput } from "../../components/ui";
import { RuleBuilder } from "../rules/RuleBuilder";
import { TestContext } from "./TestContext";
import { defaultFlagEnvironment } from "./FlagsList";

const blank = (): FlagSpec => ({
  key: "",
  type: "bool",
  description: "",
  tags: [],
  variations: [false, true],
  prerequisites: [],
  environments: {},
});

function specOf(flag: Flag): FlagSpec {
  return {
    type: flag.type,
    description: flag.description,
    tags: flag.tags,
    variations: flag.variations,
    prerequisites: flag.prerequisites,
    environments: flag.environments,
  };
}

export function FlagEditor() {
  const { key } = useParams();
  const isNew = key === undefined;
  const loaded = useQuery({
    queryKey: ["flag", key],
    queryFn: () => getTagged<Flag>(`/flags/${encodeURIComponent(key!)}`),
    enabled: !isNew,
  });
  if (!isNew && loaded.isPending) return <Loading what="the flag" />;
  if (!isNew && loaded.error) return <ProblemNotice error={loaded.error} />;
  return (
    <FlagForm
      key={key ?? "new"}
      initial={isNew ? blank() : specOf(loaded.data!.body)}
      flagKey={key}
      etag={loaded.data?.etag}
      onReload={() => loaded.refetch()}
    />
  );
}

function FlagForm({
  initial,
  flagKey,
  etag,
  onReload,
}: {
  initial: FlagSpec;
  flagKey?: string;
  etag?: string;
  onReload: () => Promise<unknown>;
}) {
  const [draft, setDraft] = useState<FlagSpec>(initial);
  const [baseEtag, setBaseEtag] = useState(etag);
  const [invalidJson, setInvalidJson] = useState(false);
  const { can } = useSession();
  const readOnly = !can("editor");
  const environments = useEnvironments();
  const { environment: current } = useCurrentEnvironment();
  const [env, setEnv] = useState(current);
  const segments = useSegments();
  const holdouts = useHoldouts();
  const flags = useFlags();
  const navigate = useNavigate();
  const queryClient = useQueryClient();

  useEffect(() => {
    if (!env && environments.data?.[0]) setEnv(environments.data[0].key);
  }, [env, environments.data]);

  const save = useMutation({
    mutationFn: () =>
      flagKey
        ? request<Flag>(`/flags/${encodeURIComponent(flagKey)}`, { method: "PUT", ifMatch: baseEtag, body: draft })
        : request<Flag>("/flags", { method: "POST", body: draft }),
    onSuccess: ({ body, etag: next }) => {
      setBaseEtag(next);
      void queryClient.invalidateQueries({ queryKey: ["flags"] });
      queryClient.setQueryData(["flag", body.key], { body, etag: next });
      if (!flagKey) navigate(`/flags/${encodeURIComponent(body.key)}`, { replace: true });
    },
  });
  const error = save.error as ApiError | null;

  const state: FlagEnvironment = draft.environments[env] ?? defaultFlagEnvironment();
  const setState = (s: FlagEnvironment) => setDraft({ ...draft, environments: { ...draft.environments, [env]: s } });
  const p = `environments.${env}`;
  const variationLabel = (i: number) => `${i}: ${JSON.stringify(draft.variations[i])}`;
  const segmentKeys = (segments.data ?? []).map((s) => s.key);

  return (
    <section>
      <header className="page-head">
        <h1>{flagKey ? `Flag ${flagKey}` : "New flag"}</h1>
        <Link to="/flags">All flags</Link>
      </header>
      {readOnly && <p className="notice">You have the viewer role: you can read this flag but not change it.</p>}
      <div className="two-columns">
        <form
          className="editor"
          onSubmit={(e) => {
            e.preventDefault();
            save.mutate();
          }}
        >
          <fieldset disabled={readOnly}>
            <legend>Definition</legend>
            {!flagKey && (
              <Field label="Key" error={error} errors={["key"]} hint="A-Z a-z 0-9 _ - . : (cannot change later)">
                {(props) => (
                  <input {...props} value={draft.key ?? ""} onChange={(e) => setDraft({ ...draft, key: e.target.value })} required />
                )}
              </Field>
            )}
            <Field label="Type" error={error} errors={["type"]}>
              {(props) => (
                <select {...props} value={draft.type} onChange={(e) => setDraft({ ...draft, type: e.target.value as FlagType })}>
                  <option value="bool">bool</option>
                  <option value="string">string</option>
                  <option value="number">number</option>
                  <option value="json">json</option>
                </select>
              )}
            </Field>
            <Field label="Description" error={error} errors={["description"]}>
              {(props) => (
                <input {...props} value={draft.description} onChange={(e) => setDraft({ ...draft, description: e.target.value })} />
              )}
            </Field>
            <Field label="Tags" error={error} errors={["tags"]} hint="comma separated">
              {(props) => <TagsInput {...props} value={draft.tags} onChange={(tags) => setDraft({ ...draft, tags })} />}
            </Field>
            <Field label="Variations (JSON list)" error={error} errors={["variations"]} hint='e.g. [false, true] or ["a", "b"]'>
              {(props) => (
                <JsonInput
                  id={props.id}
                  describedBy={props["aria-describedby"]}
                  rows={3}
                  value={draft.variations}
                  onChange={(v, ok) => {
                    setInvalidJson(!ok);
                    if (ok && Array.isArray(v)) setDraft({ ...draft, variations: v });
                  }}
                />
              )}
            </Field>
            <Prerequisites draft={draft} setDraft={setDraft} flags={(flags.data ?? []).map((f) => f.key).filter((k) => k !== flagKey)} error={error} />
          </fieldset>

          <fieldset disabled={readOnly}>
            <legend>Per environment</legend>
            <div className="tabs" role="tablist" aria-label="Environment">
              {(environments.data ?? []).map((e) => (
                <button
                  type="button"
                  role="tab"
                  key={e.key}
                  aria-selected={e.key === env}
                  onClick={() => setEnv(e.key)}
                >
                  {e.key} {draft.environments[e.key]?.enabled ? "●" : "○"}
                </button>
              ))}
            </div>
            <label className="switch">
              <input
                type="checkbox"
                role="switch"
                checked={state.enabled}
                onChange={(e) => setState({ ...state, enabled: e.target.checked })}
                aria-label={`Enabled in ${env}`}
              />
              <span>{state.enabled ? `On in ${env}` : `Off in ${env}: everyone gets the off variation`}</span>
            </label>
            <div className="inline">
              <Field label="Default variation (no rule matches)" error={error} errors={[`${p}.default_variation`]}>
                {(props) => (
                  <select {...props} value={state.default_variation} onChange={(e) => setState({ ...state, default_variation: Number(e.target.value) })}>
                    {draft.variations.map((_, i) => (
                      <option key={i} value={i}>
                        {variationLabel(i)}
                      </option>
                    ))}
                  </select>
                )}
              </Field>
              <Field label="Off variation" error={error} errors={[`${p}.off_variation`]}>
                {(props) => (
                  <select {...props} value={state.off_variation} onChange={(e) => setState({ ...state, off_variation: Number(e.target.value) })}>
                    {draft.variations.map((_, i) => (
                      <option key={i} value={i}>
                        {variationLabel(i)}
                      </option>
                    ))}
                  </select>
                )}
              </Field>
            </div>
            <h3>Rules</h3>
            {state.rules.length === 0 && <p className="hint">No rules: everyone gets the default variation.</p>}
            {state.rules.map((rule, i) => (
              <RuleEditor
                key={i}
                index={i}
                rule={rule}
                variations={draft.variations}
                segments={segmentKeys}
                error={error}
                path={`${p}.rules[${i}]`}
                onChange={(r) => setState({ ...state, rules: state.rules.map((x, j) => (j === i ? r : x)) })}
                onRemove={() => setState({ ...state, rules: state.rules.filter((_, j) => j !== i) })}
              />
            ))}
            <button type="button" onClick={() => setState({ ...state, rules: [...state.rules, { condition: undefined, segments: [], serve: { variation: Math.min(1, draft.variations.length - 1) } }] })}>
              + Rule
            </button>
            <Field label="Holdouts" error={error} errors={[`${p}.holdouts`]} hint="units in these holdouts skip the rules">
              {(props) => (
                <select
                  {...props}
                  multiple
                  value={state.holdouts}
                  onChange={(e) => setState({ ...state, holdouts: [...e.target.selectedOptions].map((o) => o.value) })}
                >
                  {(holdouts.data ?? []).map((h) => (
                    <option key={h.key}>{h.key}</option>
                  ))}
                </select>
              )}
            </Field>
            <div className="inline">
              <Field label="Active from (RFC 3339)" error={error} errors={[`${p}.schedule`]}>
                {(props) => (
                  <input
                    {...props}
                    placeholder="2026-12-24T00:00:00Z"
                    value={state.schedule?.start ?? ""}
                    onChange={(e) => setState({ ...state, schedule: windowOf(e.target.value, state.schedule?.end) })}
                  />
                )}
              </Field>
              <Field label="Active until" error={error} errors={[`${p}.schedule.end`]}>
                {(props) => (
                  <input
                    {...props}
                    placeholder="open"
                    value={state.schedule?.end ?? ""}
                    onChange={(e) => setState({ ...state, schedule: windowOf(state.schedule?.start, e.target.value) })}
                  />
                )}
              </Field>
            </div>
          </fieldset>
          <ProblemNotice
            error={error}
            claimed={["key", "type", "description", "tags", "variations", "prerequisites", p]}
            entity={flagKey ? { type: "flag", key: flagKey } : undefined}
            onReload={async () => {
              const fresh = (await onReload()) as { data?: { body: Flag; etag: string } };
              if (fresh.data) {
                setDraft(specOf(fresh.data.body));
                setBaseEtag(fresh.data.etag);
                save.reset();
              }
            }}
          />
          {!readOnly && (
            <div className="actions sticky">
              <button type="submit" className="primary" disabled={save.isPending || invalidJson}>
                {save.isPending ? "Saving…" : flagKey ? "Save flag" : "Create flag"}
              </button>
              {save.isSuccess && <span role="status">Saved.</span>}
            </div>
          )}
        </form>
        {flagKey && env && <TestContext environment={env} flagKey={flagKey} />}
      </div>
    </section>
  );
}

function windowOf(start?: string, end?: string) {
  const w = { ...(start ? { start } : {}), ...(end ? { end } : {}) };
  return Object.keys(w).length ? w : undefined;
}

function Prerequisites({
  draft,
  setDraft,
  flags,
  error,
}: {
  draft: FlagSpec;
  setDraft: (s: FlagSpec) => void;
  flags: string[];
  error: ApiError | null;
}) {
  const set = (i: number, v: FlagSpec["prerequisites"][number]) =>
    setDraft({ ...draft, prerequisites: draft.prerequisites.map((x, j) => (j === i ? v : x)) });
  return (
    <div className="prerequisites">
      <h3>Prerequisites</h3>
      {draft.prerequisites.map((pr, i) => (
        <div className="inline" key={i}>
          <Field label="Flag" error={error} errors={[`prerequisites[${i}].flag`]}>
            {(props) => (
              <select {...props} value={pr.flag} onChange={(e) => set(i, { ...pr, flag: e.target.value })}>
                <option value="">choose</option>
                {flags.map((f) => (
                  <option key={f}>{f}</option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Its value must match" error={error} errors={[`prerequisites[${i}].condition`]}>
            {(props) => (
              <JsonInput id={props.id} rows={1} value={pr.condition} onChange={(v, ok) => ok && set(i, { ...pr, condition: (v ?? {}) as Record<string, unknown> })} />
            )}
          </Field>
          <button type="button" className="link" onClick={() => setDraft({ ...draft, prerequisites: draft.prerequisites.filter((_, j) => j !== i) })}>
            Remove
          </button>
        </div>
      ))}
      <button type="button" onClick={() => setDraft({ ...draft, prerequisites: [...draft.prerequisites, { flag: "", condition: { value: true } }] })}>
        + Prerequisite
      </button>
    </div>
  );
}

function RuleEditor({
  index,
  rule,
  variations,
  segments,
  error,
  path,
  onChange,
  onRemove,
}: {
  index: number;
  rule: Rule;
  variations: unknown[];
  segments: string[];
  error: ApiError | null;
  path: string;
  onChange: (r: Rule) => void;
  onRemove: () => void;
}) {
  const rollout = "rollout" in rule.serve ? rule.serve.rollout : null;
  return (
    <div className="rule">
      <div className="group-head">
        <strong>Rule {index + 1}</strong>
        <input aria-label={`Rule ${index + 1} id`} placeholder="id (optional)" value={rule.id ?? ""} onChange={(e) => onChange({ ...rule, id: e.target.value || undefined })} />
        <button type="button" className="link" onClick={onRemove}>
          Remove rule
        </button>
      </div>
      <RuleBuilder label={`Rule ${index + 1} condition`} value={rule.condition} onChange={(condition) => onChange({ ...rule, condition })} segments={segments} />
      {error?.fieldMessages(`${path}.condition`).map((m) => (
        <small key={m} className="field-error" role="alert">
          {m}
        </small>
      ))}
      <Field label="Also in all of these segments" error={error} errors={[`${path}.segments`]}>
        {(props) => (
          <select {...props} multiple value={rule.segments ?? []} onChange={(e) => onChange({ ...rule, segments: [...e.target.selectedOptions].map((o) => o.value) })}>
            {segments.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        )}
      </Field>
      <Field label="Serve" error={error} errors={[`${path}.serve`]}>
        {(props) => (
          <select
            {...props}
            value={rollout ? "rollout" : String((rule.serve as { variation: number }).variation)}
            onChange={(e) =>
              onChange({
                ...rule,
                serve:
                  e.target.value === "rollout"
                    ? { rollout: { weights: variations.map(() => 1 / variations.length), coverage: 1 } }
                    : { variation: Number(e.target.value) },
              })
            }
          >
            {variations.map((v, i) => (
              <option key={i} value={i}>
                {JSON.stringify(v)}
              </option>
            ))}
            <option value="rollout">a percentage rollout</option>
          </select>
        )}
      </Field>
      {rollout && (
        <div className="inline">
          {variations.map((v, i) => (
            <Field key={i} label={`% ${JSON.stringify(v)}`} error={error} errors={[`${path}.serve.rollout.weights[${i}]`]}>
              {(props) => (
                <input
                  {...props}
                  type="number"
                  min={0}
                  max={100}
                  step="any"
                  value={+(rollout.weights[i] * 100).toFixed(4)}
                  onChange={(e) =>
                    onChange({ ...rule, serve: { rollout: { ...rollout, weights: rollout.weights.map((w, j) => (j === i ? Number(e.target.value) / 100 : w)) } } })
                  }
                />
              )}
            </Field>
          ))}
          <Field label="Coverage %" error={error} errors={[`${path}.serve.rollout.coverage`]}>
            {(props) => (
              <input
                {...props}
                type="number"
                min={0}
                max={100}
                step="any"
                value={+((rollout.coverage ?? 1) * 100).toFixed(4)}
                onChange={(e) => onChange({ ...rule, serve: { rollout: { ...rollout, coverage: Number(e.target.value) / 100 } } })}
              />
            )}
          </Field>
        </div>
      )}
      {error && error.fieldMessages(`${path}.serve.rollout`).length > 0 && rollout === null && null}
    </div>
  );
}
