// Segments (condition or id list, pasted lists imported), layers, holdouts, metrics and
// environments: each a configuration of the shared resource screen.
import { JsonInput } from "../components/ui";
import { ResourceScreen, textField, type ResourceConfig } from "../components/ResourceScreen";
import { useSegments } from "../lib/queries";
import { RuleBuilder } from "./rules/RuleBuilder";

type Obj = Record<string, unknown>;
const str = (v: unknown) => (v === undefined || v === null ? "" : String(v));

interface SegmentDraft {
  key?: string;
  name: string;
  description: string;
  condition?: Obj;
  id_list?: { attribute: string; ids: unknown[] };
}

/** Ids pasted one per line or comma separated; numbers stay numbers. */
export function parseIdList(text: string): unknown[] {
  return text
    .split(/[\n,;\t]+/)
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => (/^-?\d+(\.\d+)?$/.test(s) ? Number(s) : s));
}

function SegmentKind({ draft, set, id }: { draft: SegmentDraft; set: (d: SegmentDraft) => void; id: string }) {
  const segments = useSegments();
  const isList = draft.id_list !== undefined;
  return (
    <div id={id}>
      <div role="radiogroup" aria-label="Segment kind" className="inline">
        <label className="check">
          <input type="radio" checked={!isList} onChange={() => set({ ...draft, id_list: undefined, condition: draft.condition ?? {} })} /> by condition
        </label>
        <label className="check">
          <input type="radio" checked={isList} onChange={() => set({ ...draft, condition: undefined, id_list: { attribute: "user_id", ids: [] } })} /> a list of ids
        </label>
      </div>
      {isList ? (
        <>
          <label>
            Attribute
            <input value={draft.id_list!.attribute} onChange={(e) => set({ ...draft, id_list: { ...draft.id_list!, attribute: e.target.value } })} />
          </label>
          <label>
            Ids (paste one per line or comma separated)
            <textarea
              rows={5}
              defaultValue={draft.id_list!.ids.join("\n")}
              onChange={(e) => set({ ...draft, id_list: { ...draft.id_list!, ids: parseIdList(e.target.value) } })}
            />
          </label>
          <small className="hint">{draft.id_list!.ids.length} ids</small>
        </>
      ) : (
        <RuleBuilder label="Segment condition" value={draft.condition} onChange={(condition) => set({ ...draft, condition: condition ?? {} })} segments={(segments.data ?? []).map((s) => s.key).filter((k) => k !== draft.key)} />
      )}
    </div>
  );
}

const segments: ResourceConfig<SegmentDraft> = {
  title: "Segments",
  singular: "segment",
  path: "/segments",
  entity: "segment",
  writeRole: "editor",
  blank: () => ({ key: "", name: "", description: "", condition: {} }),
  toDraft: (i) => ({ name: str(i.name), description: str(i.description), condition: i.condition as Obj | undefined, id_list: i.id_list as SegmentDraft["id_list"] }),
  fields: [
    textField("name", "Name"),
    textField("description", "Description"),
    { name: "definition", label: "Definition", paths: ["condition", "id_list"], render: (d, set, p) => <SegmentKind draft={d} set={set} id={p.id} /> },
  ],
  columns: [
    { label: "Name", cell: (i) => str(i.name) },
    { label: "Kind", cell: (i) => (i.id_list ? `${(i.id_list as { ids: unknown[] }).ids.length} ids` : "condition") },
  ],
};

interface LayerDraft {
  key?: string;
  name: string;
  description: string;
  salt?: string;
  unit_attribute: string;
}
const layers: ResourceConfig<LayerDraft> = {
  title: "Layers",
  singular: "layer",
  path: "/layers",
  entity: "layer",
  writeRole: "editor",
  intro: <p className="hint">Experiments in one layer are mutually exclusive: each takes its own range of the layer's buckets.</p>,
  blank: () => ({ key: "", name: "", description: "", unit_attribute: "user_id" }),
  toDraft: (i) => ({ name: str(i.name), description: str(i.description), salt: i.salt as string | undefined, unit_attribute: str(i.unit_attribute) || "user_id" }),
  fields: [textField("name", "Name"), textField("description", "Description"), textField("unit_attribute", "Unit attribute")],
  columns: [
    { label: "Name", cell: (i) => str(i.name) },
    { label: "Unit attribute", cell: (i) => str(i.unit_attribute) },
  ],
};

interface HoldoutDraft {
  key?: string;
  name: string;
  description: string;
  share: number;
  salt?: string;
  unit_attribute: string;
}
const holdouts: ResourceConfig<HoldoutDraft> = {
  title: "Holdouts",
  singular: "holdout",
  path: "/holdouts",
  entity: "holdout",
  writeRole: "editor",
  blank: () => ({ key: "", name: "", description: "", share: 0.05, unit_attribute: "user_id" }),
  toDraft: (i) => ({ name: str(i.name), description: str(i.description), share: Number(i.share), salt: i.salt as string | undefined, unit_attribute: str(i.unit_attribute) || "user_id" }),
  fields: [
    textField("name", "Name"),
    textField("description", "Description"),
    {
      name: "share",
      label: "Share held out %",
      render: (d, set, p) => <input {...p} type="number" min={0} max={100} step="any" value={+(d.share * 100).toFixed(4)} onChange={(e) => set({ ...d, share: Number(e.target.value) / 100 })} />,
    },
    textField("unit_attribute", "Unit attribute"),
  ],
  columns: [
    { label: "Name", cell: (i) => str(i.name) },
    { label: "Share", cell: (i) => `${(Number(i.share) * 100).toFixed(1)}%` },
  ],
};

interface MetricDraft {
  key?: string;
  name: string;
  description: string;
  event_name: string;
  type: string;
  denominator_event?: string;
  window_hours?: number;
  capping?: { type: string; value: number };
}
const metrics: ResourceConfig<MetricDraft> = {
  title: "Metrics",
  singular: "metric",
  path: "/metrics",
  entity: "metric",
  writeRole: "editor",
  blank: () => ({ key: "", name: "", description: "", event_name: "", type: "conversion" }),
  toDraft: (i) => ({
    name: str(i.name),
    description: str(i.description),
    event_name: str(i.event_name),
    type: str(i.type),
    denominator_event: i.denominator_event as string | undefined,
    window_hours: i.window_hours as number | undefined,
    capping: i.capping as MetricDraft["capping"],
  }),
  fields: [
    textField("name", "Name"),
    textField("description", "Description"),
    textField("event_name", "Event name", "the `event` of track events"),
    {
      name: "type",
      label: "Type",
      render: (d, set, p) => (
        <select {...p} value={d.type} onChange={(e) => set({ ...d, type: e.target.value })}>
          {["conversion", "count", "sum", "mean", "ratio"].map((t) => (
            <option key={t}>{t}</option>
          ))}
        </select>
      ),
    },
    {
      name: "denominator_event",
      label: "Denominator event (ratio)",
      render: (d, set, p) => <input {...p} value={d.denominator_event ?? ""} onChange={(e) => set({ ...d, denominator_event: e.target.value || undefined })} />,
    },
    {
      name: "window_hours",
      label: "Window after exposure (hours)",
      render: (d, set, p) => <input {...p} type="number" min={0} step="any" value={d.window_hours ?? ""} onChange={(e) => set({ ...d, window_hours: e.target.value === "" ? undefined : Number(e.target.value) })} />,
    },
    {
      name: "capping",
      label: "Capping (JSON, e.g. {\"type\": \"absolute\", \"value\": 500})",
      render: (d, set, p) => <JsonInput id={p.id} rows={1} value={d.capping ?? null} onChange={(v, ok) => ok && set({ ...d, capping: (v ?? undefined) as MetricDraft["capping"] })} />,
    },
  ],
  columns: [
    { label: "Event", cell: (i) => str(i.event_name) },
    { label: "Type", cell: (i) => str(i.type) },
  ],
};

interface EnvironmentDraft {
  key?: string;
  name: string;
  description: string;
}
const environments: ResourceConfig<EnvironmentDraft> = {
  title: "Environments",
  singular: "environment",
  path: "/environments",
  entity: "environment",
  writeRole: "admin",
  blank: () => ({ key: "", name: "", description: "" }),
  toDraft: (i) => ({ name: str(i.name), description: str(i.description) }),
  fields: [textField("name", "Name"), textField("description", "Description")],
  columns: [{ label: "Name", cell: (i) => str(i.name) }],
};

export const SegmentsPage = () => <ResourceScreen config={segments} />;
export const LayersPage = () => <ResourceScreen config={layers} />;
export const HoldoutsPage = () => <ResourceScreen config={holdouts} />;
export const MetricsPage = () => <ResourceScreen config={metrics} />;
export const EnvironmentsPage = () => <ResourceScreen config={environments} />;
