// Metric histories for charts from the server's downsampling endpoint: however long a
// history is, the page receives at most `points` buckets (each with its first x, min, max
// and last value, so a spike is never lost), draws the line with a min/max band, and asks
// again for the range a zoom shows, so that detail appears.
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { call } from "./api";
import { formatCount, formatValue } from "./format";

/** Buckets asked for per chart. */
/** What a chart's x axis shows: the step, the wall-clock time, or seconds since the first point. */
export type XAxis = "step" | "time" | "relative";

export const POINTS = 1000;

type Bucket = { x: number; x_end: number; first: unknown; min: unknown; max: unknown; last: unknown; count: number };
type Answer = {
  key: string; x: "step" | "time"; total_points: number; downsampled: boolean; method: string;
  points?: { step: number | string; timestamp: number | string; value: unknown }[]; buckets?: Bucket[];
};

/** A history as arrays: x (the server's axis: step, or milliseconds), the line, and the band. */
export type Series = { xs: number[]; ys: number[]; lo: number[]; hi: number[]; total: number; downsampled: boolean };

const num = (v: unknown) => (v === undefined || v === null ? NaN : Number(v));

export async function fetchHistory(runId: string, key: string, x: "step" | "time", range?: [number, number], points = POINTS, signal?: AbortSignal): Promise<Series> {
  const a = await call<Answer>(`/api/v1/runs/${encodeURIComponent(runId)}/metrics/${encodeURIComponent(key)}/history`, {
    query: { points, x, from: range ? Math.floor(range[0]) : undefined, to: range ? Math.ceil(range[1]) : undefined }, signal,
  });
  const s: Series = { xs: [], ys: [], lo: [], hi: [], total: Number(a.total_points ?? 0), downsampled: !!a.downsampled };
  if (a.buckets) {
    for (const b of a.buckets) {
      s.xs.push(Number(b.x));
      s.ys.push(num(b.last));
      s.lo.push(num(b.min));
      s.hi.push(num(b.max));
    }
  } else {
    for (const p of a.points ?? []) {
      const v = num(p.value);
      s.xs.push(Number(x === "step" ? p.step : p.timestamp));
      s.ys.push(v);
      s.lo.push(v);
      s.hi.push(v);
    }
  }
  return s;
}

/** An exponential moving average (TensorBoard's debiased one); weight 0 leaves the values. */
export function smooth(ys: number[], weight: number): number[] {
  if (weight <= 0) return ys;
  const out: number[] = [];
  let last = 0, n = 0;
  for (const y of ys) {
    if (!Number.isFinite(y)) { out.push(y); continue; }
    last = last * weight + (1 - weight) * y;
    n++;
    out.push(last / (1 - Math.pow(weight, n)));
  }
  return out;
}

export function color(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

export function useDark(): boolean {
  const query = matchMedia("(prefers-color-scheme: dark)");
  const [dark, setDark] = useState(query.matches);
  useEffect(() => {
    const on = () => setDark(query.matches);
    query.addEventListener("change", on);
    return () => query.removeEventListener("change", on);
  }, []);
  return dark;
}

/** The chart's x values from the server's: seconds for uPlot's time axis, seconds since t0 for relative. */
export function toAxis(xs: number[], x: XAxis, t0: number): number[] {
  if (x === "step") return xs;
  return xs.map((v) => (x === "time" ? v / 1000 : (v - t0) / 1000));
}

/** The server's x from the chart's. */
export function fromAxis(v: number, x: XAxis, t0: number): number {
  return x === "step" ? v : x === "time" ? v * 1000 : v * 1000 + t0;
}

export type Options = { x: XAxis; log: boolean; smoothing: number };

/** The chart of one metric of one run, refetched for the range a zoom shows. */
export function HistoryChart({ runId, metric, opts }: { runId: string; metric: string; opts: Options }) {
  const serverX = opts.x === "step" ? "step" : "time";
  const [range, setRange] = useState<[number, number] | null>(null);
  const [s, setS] = useState<(Series & { range: [number, number] | null }) | null>(null);
  const [whole, setWhole] = useState<{ total: number; t0: number } | null>(null);
  const [error, setError] = useState("");
  const [loading, setLoading] = useState(false);
  useEffect(() => setRange(null), [serverX]);
  useEffect(() => {
    const ctl = new AbortController();
    setLoading(true);
    fetchHistory(runId, metric, serverX, range ?? undefined, POINTS, ctl.signal).then((r) => {
      setS({ ...r, range });
      if (!range) setWhole({ total: r.total, t0: r.xs[0] ?? 0 });
      setError("");
      setLoading(false);
    }, (err) => { if (!ctl.signal.aborted) { setError(err.message ?? String(err)); setLoading(false); } });
    return () => ctl.abort();
  }, [runId, metric, serverX, range?.[0], range?.[1]]);
  const t0 = whole?.t0 ?? 0;
  const positive = s ? s.lo.every((v) => !Number.isFinite(v) || v > 0) : true;
  return (
    <figure class="chart" style="margin:0" data-history={metric} data-total={s?.total} data-downsampled={s ? String(s.downsampled) : undefined}>
      <h3>{metric}</h3>
      {error && <p role="alert" class="error">{error}</p>}
      {s && (
        <p class="note" data-role="sampling">
          {s.downsampled
            ? `${formatCount(s.total)} points${s.range ? " in view" : ""}, shown as ${formatCount(s.xs.length)} buckets, min/max kept`
            : `${formatCount(s.total)} point${s.total === 1 ? "" : "s"}${s.range ? " in view" : ""}`}
          {loading ? " · loading…" : ""}
          {range && <> · <button type="button" class="link" onClick={() => setRange(null)}>Show all{whole ? ` ${formatCount(whole.total)}` : ""}</button></>}
        </p>
      )}
      {!s && !error && <p class="note">Loading…</p>}
      {s && (
        <Plot label={metric} s={s} opts={{ ...opts, log: opts.log && positive }} t0={t0}
          onZoom={(a, b) => setRange([fromAxis(a, opts.x, t0), fromAxis(b, opts.x, t0)])} />
      )}
      {opts.log && !positive && <p class="note">Linear scale: the history has values ≤ 0.</p>}
      {s?.downsampled && <p class="note">Drag across the chart to zoom: the range is read again in more detail.</p>}
    </figure>
  );
}

/** uPlot options that turn a drag across the x axis into a zoom: the chart keeps its scale
 * and hands the range (in x units) to zoom, which reads it again from the server. */
export function dragToZoom(zoom: (a: number, b: number) => void): Pick<uPlot.Options, "cursor" | "hooks"> {
  return {
    cursor: { drag: { x: true, y: false, setScale: false } },
    hooks: {
      setSelect: [(u) => {
        if (u.select.width < 4) return;
        const a = u.posToVal(u.select.left, "x"), b = u.posToVal(u.select.left + u.select.width, "x");
        u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
        zoom(a, b);
      }],
    },
  };
}

function axes(x: XAxis) {
  const fg = color("--fg", "#1b1f24"), line = color("--line", "#d0d7de");
  const axis = { stroke: fg, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 } };
  return [{ ...axis, label: x === "relative" ? "seconds since the first point" : x === "step" ? "step" : undefined }, { ...axis }];
}

/** uPlot with the series [x, value, min, max, smoothed]: the band fills between max and min.
 * The container keeps the instance (el.uplot) so that tests and tools can read the data. */
function Plot({ label, s, opts, t0, onZoom }: { label: string; s: Series; opts: Options; t0: number; onZoom: (a: number, b: number) => void }) {
  const el = useRef<HTMLDivElement>(null);
  const dark = useDark();
  const zoom = useRef(onZoom);
  zoom.current = onZoom;
  useEffect(() => {
    const node = el.current;
    if (!node) return;
    const accent = color("--accent", "#0b5cad");
    const xs = toAxis(s.xs, opts.x, t0);
    const smoothed = smooth(s.ys, opts.smoothing);
    const data: uPlot.AlignedData = [xs, s.ys, s.lo, s.hi, smoothed];
    const band = dark ? "rgba(88,166,255,0.25)" : "rgba(11,92,173,0.18)";
    const edge = dark ? "rgba(88,166,255,0.6)" : "rgba(11,92,173,0.45)"; // the band's edges: a lone spike shows as a line
    const chart = new uPlot({
      width: Math.max(280, node.clientWidth),
      height: 220,
      scales: { x: { time: opts.x === "time" }, y: opts.log ? { distr: 3 } : {} },
      series: [
        { label: opts.x === "step" ? "step" : opts.x === "time" ? "time" : "seconds" },
        { label, stroke: opts.smoothing > 0 ? band : accent, width: opts.smoothing > 0 ? 1 : 1.5, points: { show: xs.length < 60 }, value: (_u, v) => formatValue(v) },
        { label: "min", stroke: edge, width: 1, points: { show: false }, value: (_u, v) => formatValue(v) },
        { label: "max", stroke: edge, width: 1, points: { show: false }, value: (_u, v) => formatValue(v) },
        { label: "smoothed", stroke: accent, width: 1.5, show: opts.smoothing > 0, points: { show: false }, value: (_u, v) => formatValue(v) },
      ],
      bands: [{ series: [3, 2], fill: band }],
      axes: axes(opts.x),
      ...dragToZoom((a, b) => zoom.current(a, b)),
    }, data, node);
    (node as HTMLDivElement & { uplot?: uPlot }).uplot = chart;
    const ro = new ResizeObserver(() => chart.setSize({ width: Math.max(280, node.clientWidth), height: 220 }));
    ro.observe(node);
    return () => { ro.disconnect(); chart.destroy(); };
  }, [s, opts.x, opts.log, opts.smoothing, t0, dark, label]);
  return <div ref={el} class="plot" role="img" data-metric={label}
    aria-label={`${label}: ${s.total} points by ${opts.x}${s.downsampled ? `, shown as ${s.xs.length} buckets with their minimum and maximum` : ""}`} />;
}

/** The shared chart options' controls: x axis, log scale, smoothing. */
export function ChartOptions({ opts, set }: { opts: Options; set: (o: Options) => void }) {
  return (
    <div class="toolbar" role="group" aria-label="Chart options">
      <label>
        X axis
        <select value={opts.x} onChange={(e) => set({ ...opts, x: e.currentTarget.value as XAxis })}>
          <option value="step">Step</option>
          <option value="time">Time</option>
          <option value="relative">Relative time</option>
        </select>
      </label>
      <label><input type="checkbox" checked={opts.log} onChange={(e) => set({ ...opts, log: e.currentTarget.checked })} /> Log scale</label>
      <label>
        Smoothing
        <input type="range" min={0} max={0.99} step={0.01} value={opts.smoothing}
          onInput={(e) => set({ ...opts, smoothing: Number(e.currentTarget.value) })} />
        <output>{opts.smoothing.toFixed(2)}</output>
      </label>
    </div>
  );
}
