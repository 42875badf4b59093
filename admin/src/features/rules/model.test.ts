import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { fromCondition, jsonEqual, parseValueText, rowProblem, toCondition, valueText } from "./model";

interface Case {
  name: string;
  condition: unknown;
}

const spec = JSON.parse(readFileSync(new URL("../../../../spec/conditions.json", import.meta.url), "utf8")) as {
  cases: Case[];
};

describe("the rule builder and spec/conditions.json", () => {
  const expressible = spec.cases.filter((c) => fromCondition(c.condition).ok);
  const refused = spec.cases.filter((c) => !fromCondition(c.condition).ok);

  it.each(expressible.map((c) => [c.name, c.condition] as const))("round-trips: %s", (_name, condition) => {
    const parsed = fromCondition(condition);
    if (!parsed.ok) throw new Error("not expressible");
    expect(jsonEqual(toCondition(parsed.group), condition)).toBe(true);
    // And the JSON of the round trip parses to the same builder form again.
    const again = fromCondition(JSON.parse(JSON.stringify(toCondition(parsed.group))));
    expect(again).toEqual(parsed);
  });

  it.each(refused.map((c) => [c.name, c.condition] as const))("opens in JSON mode with a reason: %s", (_n, condition) => {
    const parsed = fromCondition(condition);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason.length).toBeGreaterThan(5);
  });

  it("expresses most of the vectors", () => {
    expect(expressible.length).toBeGreaterThan(spec.cases.length * 0.6);
  });
});

describe("builder details", () => {
  it("keeps several operators on one attribute in one object", () => {
    const condition = { age: { $gte: 18, $lt: 65 }, country: { $in: ["DE", "FR"] } };
    const parsed = fromCondition(condition);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) {
      expect(parsed.group.items).toHaveLength(3);
      expect(toCondition(parsed.group)).toEqual(condition);
    }
  });

  it("refuses $elemMatch and $not with the operator named", () => {
    const a = fromCondition({ tags: { $elemMatch: { $eq: "x" } } });
    const b = fromCondition({ $not: { a: 1 } });
    expect(a.ok || a.reason).toContain("$elemMatch");
    expect(b.ok || b.reason).toContain("$not");
  });

  it("types values as a person would write them", () => {
    expect(parseValueText("DE")).toBe("DE");
    expect(parseValueText("18")).toBe(18);
    expect(parseValueText('["DE","FR"]')).toEqual(["DE", "FR"]);
    expect(valueText("18")).toBe('"18"');
    expect(valueText("DE")).toBe("DE");
    expect(parseValueText(valueText("true"))).toBe("true");
  });

  it("flags rows core would refuse", () => {
    expect(rowProblem({ type: "row", attribute: "x", operator: "$in", value: "DE" })).toMatch(/list/);
    expect(rowProblem({ type: "row", attribute: "x", operator: "$regex", value: "(" })).toMatch(/regex/);
    expect(rowProblem({ type: "row", attribute: "", operator: "=", value: 1 })).toMatch(/attribute/);
    expect(rowProblem({ type: "row", attribute: "v", operator: "$vgte", value: "2.5.0" })).toBeNull();
  });
});
