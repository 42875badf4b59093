// The targeting rule builder: attribute / operator / value rows in AND, OR and NOR groups,
// segments and version and regex operators, beside a live JSON view editable either way.
import { useEffect, useId, useState } from "react";
import { JsonInput } from "../../components/ui";
import type { Condition } from "../../lib/types";
import {
  OPERATORS,
  emptyGroup,
  fromCondition,
  jsonEqual,
  newRow,
  parseValueText,
  rowProblem,
  toCondition,
  valueText,
  type Group,
  type Node,
  type Operator,
  type Row,
} from "./model";

export function RuleBuilder({
  value,
  onChange,
  segments,
  readOnly = false,
  label = "Condition",
}: {
  value: Condition | undefined;
  onChange: (c: Condition | undefined) => void;
  segments: string[];
  readOnly?: boolean;
  label?: string;
}) {
  const parsed = fromCondition(value ?? {});
  const [group, setGroup] = useState<Group>(parsed.ok ? parsed.group : emptyGroup());
  const [mode, setMode] = useState<"builder" | "json">(parsed.ok ? "builder" : "json");
  const reason = parsed.ok ? null : parsed.reason;
  const id = useId();

  // Follow outside changes (the JSON view, a reload) when they differ from what the rows say.
  useEffect(() => {
    const p = fromCondition(value ?? {});
    if (p.ok && !jsonEqual(toCondition(group), value ?? {})) setGroup(p.group);
    if (!p.ok) setMode("json");
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value]);

  const update = (g: Group) => {
    setGroup(g);
    const c = toCondition(g);
    onChange(Object.keys(c).length === 0 ? undefined : c);
  };

  return (
    <fieldset className="rule-builder" disabled={readOnly}>
      <legend>{label}</legend>
      <div className="mode" role="group" aria-label={`${label} editor mode`}>
        <button type="button" aria-pressed={mode === "builder"} disabled={!!reason} onClick={() => setMode("builder")}>
          Builder
        </button>
        <button type="button" aria-pressed={mode === "json"} onClick={() => setMode("json")}>
          JSON
        </button>
      </div>
      {reason && (
        <p className="hint" id={`${id}-why`}>
          Shown as JSON: {reason}.
        </p>
      )}
      {mode === "builder" && !reason ? (
        <GroupEditor group={group} onChange={update} segments={segments} depth={0} />
      ) : null}
      <details open={mode === "json"}>
        <summary>JSON</summary>
        <JsonInput
          label={`${label} as JSON`}
          value={value ?? {}}
          describedBy={reason ? `${id}-why` : undefined}
          onChange={(v, valid) => {
            if (!valid) return;
            const c = v as Condition | undefined;
            onChange(c && Object.keys(c).length > 0 ? c : undefined);
          }}
        />
      </details>
    </fieldset>
  );
}

function GroupEditor({
  group,
  onChange,
  segments,
  depth,
  onRemove,
}: {
  group: Group;
  onChange: (g: Group) => void;
  segments: string[];
  depth: number;
  onRemove?: () => void;
}) {
  const set = (i: number, node: Node) => onChange({ ...group, items: group.items.map((n, j) => (j === i ? node : n)) });
  const remove = (i: number) => onChange({ ...group, items: group.items.filter((_, j) => j !== i) });
  return (
    <div className={`group depth-${depth}`}>
      <div className="group-head">
        <label>
          Match
          <select
            value={group.kind}
            onChange={(e) => onChange({ ...group, kind: e.target.value as Group["kind"], explicit: group.explicit })}
          >
            <option value="all">all of (AND)</option>
            <option value="any">any of (OR)</option>
            <option value="none">none of (NOR)</option>
          </select>
        </label>
        {onRemove && (
          <button type="button" className="link" onClick={onRemove}>
            Remove group
          </button>
        )}
      </div>
      {group.items.length === 0 && <p className="hint">No conditions: everyone matches.</p>}
      {group.items.map((node, i) =>
        node.type === "row" ? (
          <RowEditor key={i} row={node} onChange={(r) => set(i, r)} onRemove={() => remove(i)} segments={segments} />
        ) : (
          <GroupEditor
            key={i}
            group={node}
            onChange={(g) => set(i, g)}
            onRemove={() => remove(i)}
            segments={segments}
            depth={depth + 1}
          />
        ),
      )}
      <div className="group-actions">
        <button type="button" onClick={() => onChange({ ...group, items: [...group.items, newRow()] })}>
          + Condition
        </button>
        {depth < 3 && (
          <button
            type="button"
            onClick={() =>
              onChange({ ...group, items: [...group.items, { type: "group", kind: "any", explicit: true, items: [newRow()] }] })
            }
          >
            + Group
          </button>
        )}
      </div>
    </div>
  );
}

function RowEditor({
  row,
  onChange,
  onRemove,
  segments,
}: {
  row: Row;
  onChange: (r: Row) => void;
  onRemove: () => void;
  segments: string[];
}) {
  const [text, setText] = useState(valueText(row.value));
  useEffect(() => {
    if (!jsonEqual(parseValueText(text), row.value)) setText(valueText(row.value));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [row.value]);
  const problem = rowProblem(row);
  const id = useId();
  const isSegment = row.operator === "$inGroup" || row.operator === "$notInGroup";
  return (
    <div className={"row" + (problem ? " invalid" : "")}>
      <input
        aria-label="Attribute"
        placeholder="attribute, e.g. country"
        value={row.attribute}
        onChange={(e) => onChange({ ...row, attribute: e.target.value })}
        aria-describedby={problem ? `${id}-p` : undefined}
      />
      <select
        aria-label="Operator"
        value={row.operator}
        onChange={(e) => {
          const operator = e.target.value as Operator;
          const value =
            operator === "$exists" ? true : operator === "$in" || operator === "$nin" ? (Array.isArray(row.value) ? row.value : []) : row.value;
          setText(valueText(value));
          onChange({ ...row, operator, value });
        }}
      >
        {OPERATORS.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      {isSegment ? (
        <select aria-label="Segment" value={String(row.value)} onChange={(e) => onChange({ ...row, value: e.target.value })}>
          <option value="">choose a segment</option>
          {segments.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      ) : (
        <input
          aria-label="Value"
          placeholder={row.operator === "$in" || row.operator === "$nin" ? '["DE", "FR"]' : "value"}
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            onChange({ ...row, value: parseValueText(e.target.value) });
          }}
          aria-describedby={problem ? `${id}-p` : undefined}
        />
      )}
      <button type="button" className="link" aria-label="Remove condition" onClick={onRemove}>
        ✕
      </button>
      {problem && (
        <small id={`${id}-p`} className="field-error">
          {problem}
        </small>
      )}
    </div>
  );
}
