// The targeting rule builder's model: a condition document (GrowthBook semantics) as groups of
// attribute / operator / value rows, and back. Conditions the builder cannot show exactly
// (for example $elemMatch or $not) are reported with the reason, and the editor opens them in
// JSON mode instead.

export type Operator =
  | "="
  | "$eq"
  | "$ne"
  | "$gt"
  | "$gte"
  | "$lt"
  | "$lte"
  | "$in"
  | "$nin"
  | "$regex"
  | "$exists"
  | "$veq"
  | "$vne"
  | "$vgt"
  | "$vgte"
  | "$vlt"
  | "$vlte"
  | "$inGroup"
  | "$notInGroup";

export const OPERATORS: { value: Operator; label: string }[] = [
  { value: "=", label: "is" },
  { value: "$eq", label: "equals ($eq)" },
  { value: "$ne", label: "is not" },
  { value: "$gt", label: ">" },
  { value: "$gte", label: "≥" },
  { value: "$lt", label: "<" },
  { value: "$lte", label: "≤" },
  { value: "$in", label: "is one of" },
  { value: "$nin", label: "is none of" },
  { value: "$regex", label: "matches regex" },
  { value: "$exists", label: "exists" },
  { value: "$veq", label: "version =" },
  { value: "$vne", label: "version ≠" },
  { value: "$vgt", label: "version >" },
  { value: "$vgte", label: "version ≥" },
  { value: "$vlt", label: "version <" },
  { value: "$vlte", label: "version ≤" },
  { value: "$inGroup", label: "in segment" },
  { value: "$notInGroup", label: "not in segment" },
];

const OPERATOR_SET = new Set<string>(OPERATORS.map((o) => o.value).filter((o) => o !== "="));

export interface Row {
  type: "row";
  attribute: string;
  operator: Operator;
  value: unknown;
}

/** `all`: every item (an object's keys, or `$and` when `explicit`); `any`: `$or`; `none`: `$nor`. */
export interface Group {
  type: "group";
  kind: "all" | "any" | "none";
  explicit: boolean;
  items: Node[];
}

export type Node = Row | Group;

export type Parsed = { ok: true; group: Group } | { ok: false; reason: string };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

class Unsupported extends Error {}

/** The builder form of `condition`, or why there is none. */
export function fromCondition(condition: unknown): Parsed {
  try {
    if (!isObject(condition)) throw new Unsupported("the condition is not an object");
    return { ok: true, group: objectGroup(condition) };
  } catch (e) {
    if (e instanceof Unsupported) return { ok: false, reason: e.message };
    throw e;
  }
}

function objectGroup(condition: Record<string, unknown>): Group {
  const items: Node[] = [];
  for (const [key, value] of Object.entries(condition)) {
    if (key === "$and" || key === "$or" || key === "$nor") {
      if (!Array.isArray(value)) throw new Unsupported(`${key} is not a list`);
      const kind = key === "$and" ? "all" : key === "$or" ? "any" : "none";
      items.push({
        type: "group",
        kind,
        explicit: true,
        items: value.map((part) => {
          if (!isObject(part)) throw new Unsupported(`an item of ${key} is not an object`);
          return objectGroup(part);
        }),
      });
    } else if (key.startsWith("$")) {
      throw new Unsupported(`the builder has no row for a top-level ${key}`);
    } else {
      items.push(...attributeRows(key, value));
    }
  }
  return { type: "group", kind: "all", explicit: false, items };
}

function attributeRows(attribute: string, value: unknown): Row[] {
  if (!isObject(value)) return [{ type: "row", attribute, operator: "=", value }];
  const keys = Object.keys(value);
  const operators = keys.filter((k) => k.startsWith("$"));
  if (operators.length === 0) return [{ type: "row", attribute, operator: "=", value }];
  if (operators.length !== keys.length)
    throw new Unsupported(`\`${attribute}\` mixes operators and plain fields`);
  return operators.map((op) => {
    if (!OPERATOR_SET.has(op)) throw new Unsupported(`\`${attribute}\` uses ${op}, which the builder cannot show`);
    const operand = value[op];
    checkOperand(attribute, op as Operator, operand);
    return { type: "row", attribute, operator: op as Operator, value: operand };
  });
}

function checkOperand(attribute: string, op: Operator, operand: unknown) {
  if ((op === "$in" || op === "$nin") && !Array.isArray(operand))
    throw new Unsupported(`\`${attribute}\` ${op} takes a list`);
  if (op === "$regex" && typeof operand !== "string")
    throw new Unsupported(`\`${attribute}\` $regex takes a string`);
  if ((op === "$inGroup" || op === "$notInGroup") && typeof operand !== "string")
    throw new Unsupported(`\`${attribute}\` ${op} takes a segment key`);
  if (op.startsWith("$v") && typeof operand !== "string")
    throw new Unsupported(`\`${attribute}\` ${op} takes a version string`);
}

/** The condition document of a builder group. */
export function toCondition(group: Group): Record<string, unknown> {
  if (group.kind !== "all" || group.explicit) {
    const key = group.kind === "all" ? "$and" : group.kind === "any" ? "$or" : "$nor";
    return { [key]: group.items.map(nodeAsObject) };
  }
  const out: Record<string, unknown> = {};
  const conflicts = () => ({ $and: group.items.map(nodeAsObject) });
  for (const item of group.items) {
    if (item.type === "group") {
      const part = toCondition(item);
      for (const [k, v] of Object.entries(part)) {
        if (k in out) return conflicts();
        out[k] = v;
      }
    } else if (item.operator === "=") {
      if (item.attribute in out) return conflicts();
      out[item.attribute] = item.value;
    } else {
      const existing = out[item.attribute];
      if (existing === undefined) out[item.attribute] = { [item.operator]: item.value };
      else if (isOperatorObject(existing) && !(item.operator in existing))
        existing[item.operator] = item.value;
      else return conflicts();
    }
  }
  return out;
}

function isOperatorObject(v: unknown): v is Record<string, unknown> {
  return isObject(v) && Object.keys(v).length > 0 && Object.keys(v).every((k) => k.startsWith("$"));
}

function nodeAsObject(node: Node): Record<string, unknown> {
  if (node.type === "group") return toCondition(node);
  return toCondition({ type: "group", kind: "all", explicit: false, items: [node] });
}

/** Order-insensitive deep equality of JSON values. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => k in b && jsonEqual(a[k], b[k]));
  }
  return a === b;
}

/** How a row's value is typed in its text box: strings bare unless they would read as JSON. */
export function valueText(value: unknown): string {
  if (typeof value === "string") {
    try {
      JSON.parse(value);
      return JSON.stringify(value);
    } catch {
      return value;
    }
  }
  return JSON.stringify(value);
}

/** The value of a row's text box: JSON when it parses, else the text itself. */
export function parseValueText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Problems of a row that would make core refuse it, to show in place. */
export function rowProblem(row: Row): string | null {
  if (!row.attribute.trim()) return "name an attribute";
  if ((row.operator === "$in" || row.operator === "$nin") && !Array.isArray(row.value))
    return 'a list, e.g. ["DE", "FR"]';
  if (row.operator === "$regex") {
    if (typeof row.value !== "string") return "a regular expression";
    try {
      new RegExp(row.value);
    } catch (e) {
      return `not a valid regex: ${(e as Error).message}`;
    }
  }
  if (row.operator.startsWith("$v") && typeof row.value !== "string") return "a version, e.g. 2.5.0";
  if (row.operator === "$exists" && typeof row.value !== "boolean") return "true or false";
  return null;
}

export const emptyGroup = (): Group => ({ type: "group", kind: "all", explicit: false, items: [] });
export const newRow = (): Row => ({ type: "row", attribute: "", operator: "=", value: "" });
