// A layer's bucket space as a bar: this experiment's range beside the others of the layer.
import type { Experiment } from "../../lib/types";

interface Slot {
  key: string;
  start: number;
  end: number;
}

/** The keys of the experiments whose ranges overlap `slot`. */
export function overlaps(slot: { start: number; end: number }, others: Experiment[]): string[] {
  return others.filter((e) => e.layer && e.layer.start < slot.end && slot.start < e.layer.end).map((e) => e.key);
}

export function AllocationBar({ self, others }: { self: Slot; others: Experiment[] }) {
  const slots: (Slot & { mine: boolean })[] = [
    ...others.map((e) => ({ key: e.key, start: e.layer!.start, end: e.layer!.end, mine: false })),
    { ...self, mine: true },
  ];
  return (
    <figure className="allocation">
      <svg viewBox="0 0 1000 36" role="img" aria-label={`Layer ${self.key}: ${slots.map((s) => `${s.key} ${Math.round(s.start * 100)}–${Math.round(s.end * 100)}%`).join(", ")}`}>
        <rect x="0" y="4" width="1000" height="28" className="free" />
        {slots.map((s) => (
          <g key={s.key + String(s.mine)}>
            <rect x={s.start * 1000} y={s.mine ? 4 : 8} width={Math.max(0, (s.end - s.start) * 1000)} height={s.mine ? 28 : 20} className={s.mine ? "mine" : "other"} />
            <text x={s.start * 1000 + 4} y="23">
              {s.key}
            </text>
          </g>
        ))}
      </svg>
      <figcaption>Layer bucket range: 0% to 100%; this experiment is highlighted.</figcaption>
    </figure>
  );
}
