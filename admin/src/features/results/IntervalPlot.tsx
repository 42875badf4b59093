// A relative lift's interval drawn against zero.
export function IntervalPlot({
  ci,
  expected,
  extent,
  label,
}: {
  ci?: [number | null, number | null];
  expected?: number;
  extent: number;
  label: string;
}) {
  const w = 160;
  const x = (v: number) => w / 2 + (Math.max(-extent, Math.min(extent, v)) / extent) * (w / 2 - 6);
  const lo = ci?.[0];
  const hi = ci?.[1];
  return (
    <svg className="interval-plot" width={w} height={18} viewBox={`0 0 ${w} 18`} role="img" aria-label={label}>
      <line x1={w / 2} x2={w / 2} y1={0} y2={18} className="zero" />
      {typeof lo === "number" && typeof hi === "number" && (
        <rect x={x(lo)} width={Math.max(1, x(hi) - x(lo))} y={5} height={8} className={lo > 0 ? "up" : hi < 0 ? "down" : "flat"} />
      )}
      {typeof expected === "number" && <circle cx={x(expected)} cy={9} r={3} className="point" />}
    </svg>
  );
}
