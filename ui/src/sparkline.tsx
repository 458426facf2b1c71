import { formatTime } from "./format";

/** A count over time, one point per bucket (a day, an hour). */
export type Bucket = { start: number; requests: number; failures: number };

/** Requests per bucket (and failures, in the error colour) as a small line: an SVG
 * polyline scaled to the busiest bucket, with the figures in its label. */
export function Sparkline({ buckets, unit = "day", width = 120 }: { buckets: Bucket[]; unit?: "day" | "hour"; width?: number }) {
  const w = width, h = 24;
  const peak = Math.max(1, ...buckets.map((d) => d.requests));
  const line = (v: (d: Bucket) => number) =>
    buckets.map((d, i) => `${((i * w) / Math.max(1, buckets.length - 1)).toFixed(1)},${(h - 1 - (v(d) * (h - 2)) / peak).toFixed(1)}`).join(" ");
  const busiest = buckets.reduce((a, d) => (d.requests > a.requests ? d : a), buckets[0]);
  const span = unit === "day" ? "24 hours" : "hour";
  const label = busiest?.requests
    ? `Requests per ${unit} over ${buckets.length} ${unit}s: ${buckets.reduce((n, d) => n + d.requests, 0)} in all, at most ${busiest.requests} in the ${span} from ${formatTime(busiest.start)}`
    : `No requests in ${buckets.length} ${unit}s`;
  return (
    <svg class="sparkline" width={w} height={h} viewBox={`0 0 ${w} ${h}`} role="img" aria-label={label}>
      <title>{label}</title>
      <g class="verdict-failed"><polyline points={line((d) => d.failures)} fill="none" stroke="currentColor" stroke-width="1" /></g>
      <polyline points={line((d) => d.requests)} fill="none" stroke="currentColor" stroke-width="1.5" />
    </svg>
  );
}
