// Formatting of experiment results: lifts, intervals, p-values and the one-line decision.

export interface Comparison {
  status?: string;
  expected?: number;
  ci?: [number | null, number | null];
  p_value?: number;
  p_value_adjusted?: number;
  chance_to_win?: number;
}

export interface VariantResult {
  name: string;
  n: number;
  mean: number;
  stddev?: number;
  relative?: Comparison;
  absolute?: Comparison;
}

export interface MetricResult {
  key?: string;
  name?: string;
  type?: string;
  inverse?: boolean;
  cuped?: boolean;
  variants: VariantResult[];
}

export interface SeriesPoint {
  date?: string;
  day?: string;
  variants?: { name: string; units?: number; mean?: number; lift?: number; ci?: [number, number] }[];
}

export interface Results {
  experiment?: string;
  method?: string;
  alpha?: number;
  correction?: string;
  units?: Record<string, number> | number[];
  srm?: { p_value?: number; mismatch?: boolean; threshold?: number; units?: number[]; traffic_weights?: number[] };
  metrics: MetricResult[];
  series?: { metric?: string; key?: string; points?: SeriesPoint[] }[];
}

export interface ResultsEnvelope {
  computed_at: string;
  results: Results;
}

export const metricKey = (m: MetricResult) => m.key ?? m.name ?? "?";

/** `+7.4%` (relative lifts are fractions). */
export function pct(x: number | null | undefined, digits = 1): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  const v = x * 100;
  const s = v.toFixed(digits);
  return (v > 0 ? "+" : v < 0 ? "" : "±") + (s === "-0.0" ? "0.0" : s) + "%";
}

/** `[1.7%, 13.2%]`. */
export function interval(ci: Comparison["ci"], digits = 1): string {
  if (!ci) return "–";
  return `[${pct(ci[0], digits)}, ${pct(ci[1], digits)}]`;
}

/** `0.028`, `< 0.001`. */
export function pValue(p: number | undefined): string {
  if (p === undefined || !Number.isFinite(p)) return "–";
  if (p < 0.001) return "< 0.001";
  return p.toFixed(3);
}

/** A mean: conversion rates as percentages, other values with 3 significant digits. */
export function mean(x: number, type?: string): string {
  if (!Number.isFinite(x)) return "–";
  if (type === "conversion" || type === "proportion") return (x * 100).toFixed(2) + "%";
  return Math.abs(x) >= 1000 ? x.toFixed(0) : x.toPrecision(3);
}

/** Whether the interval excludes zero, and on which side (`better` honours inverse metrics). */
export function verdict(c: Comparison | undefined, inverse = false): "better" | "worse" | "flat" | "unknown" {
  if (!c || c.status !== undefined && c.status !== "ok") return "unknown";
  if (!c.ci || c.ci[0] === null || c.ci[1] === null) {
    if (c.chance_to_win === undefined) return "unknown";
    const win = inverse ? 1 - c.chance_to_win : c.chance_to_win;
    return win >= 0.95 ? "better" : win <= 0.05 ? "worse" : "flat";
  }
  const [lo, hi] = c.ci as [number, number];
  if (lo > 0) return inverse ? "worse" : "better";
  if (hi < 0) return inverse ? "better" : "worse";
  return "flat";
}

/** "urgent beats control on purchase-rate: +7.4% [1.7%, 13.2%]". */
export function decisionSummary(metric: MetricResult): string {
  const [control, ...treatments] = metric.variants;
  if (!control || treatments.length === 0) return `${metricKey(metric)}: no comparison yet`;
  const key = metricKey(metric);
  const parts = treatments.map((t) => {
    const c = t.relative;
    const figures = `${pct(c?.expected)} ${interval(c?.ci)}`;
    switch (verdict(c, metric.inverse)) {
      case "better":
        return `${t.name} beats ${control.name} on ${key}: ${figures}`;
      case "worse":
        return `${t.name} is worse than ${control.name} on ${key}: ${figures}`;
      case "flat":
        return `${t.name} vs ${control.name} on ${key}: no clear difference, ${figures}`;
      default:
        return `${t.name} vs ${control.name} on ${key}: not enough data (${c?.status ?? "no comparison"})`;
    }
  });
  return parts.join("; ");
}
