import { describe, expect, it } from "vitest";
import { decisionSummary, interval, mean, pct, pValue, verdict, type MetricResult } from "./format";

const metric = (ci: [number, number], expected: number, inverse = false): MetricResult => ({
  key: "purchase-rate",
  type: "conversion",
  inverse,
  variants: [
    { name: "control", n: 1000, mean: 0.2 },
    { name: "urgent", n: 1010, mean: 0.215, relative: { status: "ok", expected, ci, p_value: 0.01 } },
  ],
});

describe("result formatting", () => {
  it("writes lifts and intervals with signs", () => {
    expect(pct(0.0743)).toBe("+7.4%");
    expect(pct(-0.012)).toBe("-1.2%");
    expect(pct(0)).toBe("±0.0%");
    expect(pct(undefined)).toBe("–");
    expect(interval([0.017, 0.132])).toBe("[+1.7%, +13.2%]");
  });

  it("writes small p-values as a bound", () => {
    expect(pValue(0.0004)).toBe("< 0.001");
    expect(pValue(0.02843)).toBe("0.028");
  });

  it("writes conversion means as percentages", () => {
    expect(mean(0.2034, "conversion")).toBe("20.34%");
    expect(mean(25.1234, "mean")).toBe("25.1");
  });

  it("summarises a winner, a loser and a tie in one line", () => {
    expect(decisionSummary(metric([0.017, 0.132], 0.074))).toBe(
      "urgent beats control on purchase-rate: +7.4% [+1.7%, +13.2%]",
    );
    expect(decisionSummary(metric([-0.2, -0.01], -0.1))).toMatch(/^urgent is worse than control/);
    expect(decisionSummary(metric([-0.02, 0.05], 0.015))).toMatch(/no clear difference/);
  });

  it("turns the verdict around for inverse metrics", () => {
    expect(verdict({ status: "ok", ci: [0.01, 0.05] }, true)).toBe("worse");
    expect(verdict({ status: "ok", chance_to_win: 0.97 })).toBe("better");
    expect(verdict({ status: "zero_baseline" })).toBe("unknown");
  });
});
