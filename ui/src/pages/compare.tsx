// Runs side by side: each metric's histories overlaid (one series per run, downsampled by
// the server), a parallel-coordinates view of chosen params and metrics, and a scatter of
// any two of them. Loaded when first opened.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { message, mlflow } from "../api";
import { formatCount, formatValue } from "../format";
import { ChartOptions, color, dragToZoom, fetchHistory, fromAxis, smooth, toAxis, useDark, type Options, type Series } from "../history";
import { href } from "../router";
import type { Run } from "./runs";

/** Buckets per run and metric: several runs share a chart. */
const POINTS = 500;
const MAX_RUNS = 20;
const PALETTE = ["#0b5cad", "#c4432b", "#1a7f37", "#8250df", "#bf8700", "#0a7d8c", "#cf222e", "#57606a"];
const DARK_PALETTE = ["#58a6ff", "#ff7b72", "#3fb950", "#d2a8ff", "#e3b341", "#39c5cf", "#ffa198", "#9da7b3"];

/** A value a run has: a param or a metric's latest. */
type Dim = { kind: "params" | "metrics"; key: string };
const dimId = (d: Dim) => `${d.kind}.${d.key}`;
const dimOf = (id: string): Dim => ({ kind: id.startsWith("params.") ? "params" : "metrics", key: id.slice(id.indexOf(".") + 1) });

function valueOf(run: Run, d: Dim): string | number | undefined {
  if (d.kind === "metrics") {
    const m = run.data.metrics?.find((x) => x.key === d.key);
    return m === undefined ? undefined : Number(m.value);
  }
  return run.data.params?.find((x) => x.key === d.key)?.value;
}

export function ComparePage({ experimentId, query }: { experimentId: string; query: URLSearchParams }) {
  const ids = (query.get("runs") ?? "").split(",").filter(Boolean).slice(0, MAX_RUNS);
  const [runs, setRuns] = useState<Run[] | null>(null);
  const [error, setError] = useState("");
  const [experimentName, setExperimentName] = useState("");
  const [opts, setOpts] = useState<Options>({ x: "step", log: false, smoothing: 0 });
  const dark = useDark();
  useEffect(() => {
    setRuns(null);
    Promise.all(ids.map((id) => mlflow<{ run: Run }>("runs/get", { run_id: id }, "GET").then((r) => r.run)))
      .then(setRuns, (err) => setError(message(err)));
  }, [ids.join(",")]);
  useEffect(() => {
    mlflow<{ experiment: { name: string } }>("experiments/get", { experiment_id: experimentId }, "GET")
      .then((r) => setExperimentName(r.experiment.name), () => {});
  }, [experimentId]);

  const crumbs = (
    <p class="breadcrumb"><a href={href("experiments")}>Experiments</a> / <a href={href("experiments", experimentId)}>{experimentName || `Experiment ${experimentId}`}</a> /</p>
  );
  if (ids.length < 1) return <section>{crumbs}<h1>Compare runs</h1><p>Choose runs in the runs table, then <em>Compare</em>.</p></section>;
  if (error) return <section>{crumbs}<h1>Compare runs</h1><p role="alert" class="error">{error}</p></section>;
  if (!runs) return <section>{crumbs}<h1>Compare runs</h1><p>Loading…</p></section>;

  const palette = dark ? DARK_PALETTE : PALETTE;
  const colorOf = (i: number) => palette[i % palette.length];
  const names = runs.map((r) => r.info.run_name || r.info.run_id);
  const metricKeys = [...new Set(runs.flatMap((r) => (r.data.metrics ?? []).map((m) => m.key)))].sort();
  const paramKeys = [...new Set(runs.flatMap((r) => (r.data.params ?? []).map((p) => p.key)))].sort();
  const dims: Dim[] = [...paramKeys.map((key) => ({ kind: "params" as const, key })), ...metricKeys.map((key) => ({ kind: "metrics" as const, key }))];
  return (
    <section>
      {crumbs}
      <h1>Compare {runs.length} runs</h1>
      <ul class="legend" aria-label="Runs">
        {runs.map((r, i) => (
          <li key={r.info.run_id}>
            <span class="swatch" style={{ background: colorOf(i) }} aria-hidden="true" />
            <a href={href("experiments", experimentId, "runs", r.info.run_id)}>{names[i]}</a>
          </li>
        ))}
      </ul>
      <h2>Metrics</h2>
      {metricKeys.length === 0 ? <p class="muted">No metrics.</p> : (
        <>
          <ChartOptions opts={opts} set={setOpts} />
          <div class="charts">
            {metricKeys.map((k) => <Overlay key={k} metric={k} runs={runs} names={names} colors={runs.map((_, i) => colorOf(i))} opts={opts} />)}
          </div>
        </>
      )}
      {dims.length > 0 && <Parallel runs={runs} names={names} dims={dims} colorOf={colorOf} />}
      {dims.length > 0 && <Scatter runs={runs} names={names} dims={dims} colorOf={colorOf} />}
    </section>
  );
}

function Overlay({ metric, runs, names, colors, opts }: { metric: string; runs: Run[]; names: string[]; colors: string[]; opts: Options }) {
  const serverX = opts.x === "step" ? "step" : "time";
  const [series, setSeries] = useState<(Series | null)[] | null>(null);
  // A zoom, in the chart's x units; each run's history is read again over it in more detail.
  const [range, setRange] = useState<[number, number] | null>(null);
  // The range the series shown were read over (the zoom's, once its answers are in).
  const [shown, setShown] = useState<[number, number] | null>(null);
  // Each run's first x (its whole history's), which relative time counts from.
  const [t0s, setT0s] = useState<number[]>([]);
  const [error, setError] = useState("");
  const [loading, setLoading] = useState(false);
  const el = useRef<HTMLDivElement>(null);
  const dark = useDark();
  useEffect(() => setRange(null), [metric, serverX, runs]);
  useEffect(() => {
    const ctl = new AbortController();
    setLoading(true);
    // A run without the metric has no series here.
    Promise.all(runs.map((r, i) => {
      if (!(r.data.metrics ?? []).some((m) => m.key === metric)) return Promise.resolve(null);
      const t0 = t0s[i] ?? 0;
      const within: [number, number] | undefined = range ? [fromAxis(range[0], opts.x, t0), fromAxis(range[1], opts.x, t0)] : undefined;
      return fetchHistory(r.info.run_id, metric, serverX, within, POINTS, ctl.signal);
    })).then((got) => {
      if (!range) setT0s(got.map((s) => s?.xs[0] ?? 0));
      setSeries(got);
      setShown(range);
      setError("");
      setLoading(false);
    }, (err) => { if (!ctl.signal.aborted) { setError(message(err)); setLoading(false); } });
    return () => ctl.abort();
  }, [metric, serverX, runs, range?.[0], range?.[1]]);
  const zoom = useRef((a: number, b: number) => setRange([a, b]));
  useEffect(() => {
    const node = el.current;
    if (!node || !series) return;
    const present = series.map((s, i) => ({ s, i })).filter((e): e is { s: Series; i: number } => e.s !== null);
    const data = uPlot.join(present.map(({ s, i }) => [toAxis(s.xs, opts.x, t0s[i] ?? s.xs[0] ?? 0), smooth(s.ys, opts.smoothing)] as uPlot.AlignedData));
    const positive = present.every(({ s }) => s.lo.every((v) => !Number.isFinite(v) || v > 0));
    const fg = color("--fg", "#1b1f24"), line = color("--line", "#d0d7de");
    const axis = { stroke: fg, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 } };
    const chart = new uPlot({
      width: Math.max(280, node.clientWidth),
      height: 240,
      scales: { x: { time: opts.x === "time" }, y: opts.log && positive ? { distr: 3 } : {} },
      series: [
        { label: opts.x === "step" ? "step" : opts.x === "time" ? "time" : "seconds" },
        ...present.map(({ i }) => ({ label: names[i], stroke: colors[i], width: 1.5, spanGaps: true, points: { show: data[0].length < 60 }, value: (_u: uPlot, v: number) => formatValue(v) })),
      ],
      axes: [{ ...axis, label: opts.x === "relative" ? "seconds since each run's first point" : opts.x === "step" ? "step" : undefined }, { ...axis }],
      ...dragToZoom((a, b) => zoom.current(a, b)),
    }, data, node);
    (node as HTMLDivElement & { uplot?: uPlot }).uplot = chart;
    const ro = new ResizeObserver(() => chart.setSize({ width: Math.max(280, node.clientWidth), height: 240 }));
    ro.observe(node);
    return () => { ro.disconnect(); chart.destroy(); };
  }, [series, opts.x, opts.log, opts.smoothing, dark]);
  const downsampled = series?.some((s) => s?.downsampled);
  const total = series?.reduce((n, s) => n + (s?.total ?? 0), 0) ?? 0;
  return (
    <figure class="chart" style="margin:0" data-overlay={metric} data-total={series ? total : undefined} data-zoomed={String(shown !== null)}>
      <h3>{metric}</h3>
      {error && <p role="alert" class="error">{error}</p>}
      {!series && !error && <p class="note">Loading…</p>}
      {series && (
        <p class="note" data-role="sampling">
          {`${formatCount(total)} point${total === 1 ? "" : "s"}${shown ? " in view" : ""}`}
          {downsampled ? `; long histories shown as ${POINTS} buckets each (their last values)` : ""}
          {loading ? " · loading…" : ""}
          {range && <> · <button type="button" class="link" onClick={() => setRange(null)}>Show all</button></>}
        </p>
      )}
      <div ref={el} class="plot" role="img" data-compare={metric}
        aria-label={`${metric} of ${series ? series.filter(Boolean).length : 0} runs by ${opts.x}`} />
      {downsampled && <p class="note">Drag across the chart to zoom: the range is read again in more detail.</p>}
    </figure>
  );
}

/** A scale of a dimension: numbers linearly, text values evenly by their sorted order. */
function scaleOf(values: (string | number | undefined)[]): { at: (v: string | number | undefined) => number | null; ticks: [number, string][] } {
  const present = values.filter((v): v is string | number => v !== undefined && v !== "");
  const nums = present.map((v) => Number(v));
  if (present.length && nums.every((n) => Number.isFinite(n))) {
    const lo = Math.min(...nums), hi = Math.max(...nums);
    const at = (v: string | number | undefined) => (v === undefined || v === "" || !Number.isFinite(Number(v)) ? null : hi === lo ? 0.5 : (Number(v) - lo) / (hi - lo));
    return { at, ticks: hi === lo ? [[0.5, formatValue(lo)]] : [[0, formatValue(lo)], [1, formatValue(hi)]] };
  }
  const cats = [...new Set(present.map(String))].sort();
  const at = (v: string | number | undefined) => (v === undefined || !cats.includes(String(v)) ? null : cats.length === 1 ? 0.5 : cats.indexOf(String(v)) / (cats.length - 1));
  return { at, ticks: cats.map((c, i) => [cats.length === 1 ? 0.5 : i / (cats.length - 1), c]) };
}

function DimChooser({ dims, chosen, set, legend }: { dims: Dim[]; chosen: string[]; set: (ids: string[]) => void; legend: string }) {
  return (
    <fieldset class="dims">
      <legend>{legend}</legend>
      {dims.map((d) => {
        const id = dimId(d);
        return (
          <label key={id}>
            <input type="checkbox" checked={chosen.includes(id)} onChange={() => set(chosen.includes(id) ? chosen.filter((x) => x !== id) : [...chosen, id])} />
            <span class="muted">{d.kind[0]}.</span>{d.key}
          </label>
        );
      })}
    </fieldset>
  );
}

function Parallel({ runs, names, dims, colorOf }: { runs: Run[]; names: string[]; dims: Dim[]; colorOf: (i: number) => string }) {
  const [chosen, setChosen] = useState<string[]>(() => dims.slice(0, 8).map(dimId));
  const axes = chosen.map(dimOf);
  const W = 900, H = 300, top = 30, bottom = 40, left = 40, right = 100;
  const x = (i: number) => (axes.length === 1 ? W / 2 : left + (i * (W - left - right)) / (axes.length - 1));
  const y = (f: number) => top + (1 - f) * (H - top - bottom);
  const scales = useMemo(() => axes.map((d) => scaleOf(runs.map((r) => valueOf(r, d)))), [runs, chosen.join("\n")]);
  return (
    <>
      <h2>Parallel coordinates</h2>
      <DimChooser dims={dims} chosen={chosen} set={setChosen} legend="Axes" />
      {axes.length < 2 ? <p class="muted">Choose two axes or more.</p> : (
        <svg class="parallel" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Parallel coordinates of ${runs.length} runs over ${axes.map(dimId).join(", ")}`}>
          {axes.map((d, i) => (
            <g key={dimId(d)}>
              <line x1={x(i)} x2={x(i)} y1={y(0)} y2={y(1)} class="axis" />
              <text x={x(i)} y={top - 12} text-anchor="middle" class="label">{d.key}</text>
              {scales[i].ticks.map(([f, t]) => <text key={t} x={x(i) + 4} y={y(f) + 4} class="tick">{t}</text>)}
            </g>
          ))}
          {runs.map((r, ri) => {
            const pts = axes.map((d, i) => { const f = scales[i].at(valueOf(r, d)); return f === null ? null : `${x(i)},${y(f)}`; });
            return (
              <polyline key={r.info.run_id} data-run={r.info.run_id} points={pts.filter(Boolean).join(" ")} fill="none" stroke={colorOf(ri)} stroke-width={2}>
                <title>{names[ri]}</title>
              </polyline>
            );
          })}
        </svg>
      )}
    </>
  );
}

function Scatter({ runs, names, dims, colorOf }: { runs: Run[]; names: string[]; dims: Dim[]; colorOf: (i: number) => string }) {
  const numeric = dims.filter((d) => runs.some((r) => { const v = valueOf(r, d); return v !== undefined && Number.isFinite(Number(v)); }));
  const [xId, setX] = useState(numeric[0] ? dimId(numeric[0]) : "");
  const [yId, setY] = useState(numeric[1] ? dimId(numeric[1]) : numeric[0] ? dimId(numeric[0]) : "");
  if (numeric.length === 0) return null;
  const dx = dimOf(xId), dy = dimOf(yId);
  const pts = runs.map((r, i) => ({ i, x: Number(valueOf(r, dx)), y: Number(valueOf(r, dy)) })).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const W = 520, H = 360, m = { l: 70, r: 20, t: 20, b: 50 };
  const ext = (vs: number[]) => { const lo = Math.min(...vs), hi = Math.max(...vs); return lo === hi ? [lo - 1, hi + 1] : [lo, hi]; };
  const [x0, x1] = pts.length ? ext(pts.map((p) => p.x)) : [0, 1];
  const [y0, y1] = pts.length ? ext(pts.map((p) => p.y)) : [0, 1];
  const sx = (v: number) => m.l + ((v - x0) / (x1 - x0)) * (W - m.l - m.r);
  const sy = (v: number) => H - m.b - ((v - y0) / (y1 - y0)) * (H - m.t - m.b);
  const choose = (value: string, set: (v: string) => void, label: string) => (
    <label>
      {label}
      <select value={value} onChange={(e) => set(e.currentTarget.value)}>
        {numeric.map((d) => <option key={dimId(d)} value={dimId(d)}>{dimId(d)}</option>)}
      </select>
    </label>
  );
  return (
    <>
      <h2>Scatter</h2>
      <div class="toolbar" role="group" aria-label="Scatter axes">{choose(xId, setX, "Scatter X")}{choose(yId, setY, "Scatter Y")}</div>
      <svg class="scatter" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${dy.key} against ${dx.key} for ${pts.length} runs`}>
        <line x1={m.l} x2={W - m.r} y1={H - m.b} y2={H - m.b} class="axis" />
        <line x1={m.l} x2={m.l} y1={m.t} y2={H - m.b} class="axis" />
        <text x={(W + m.l) / 2} y={H - 10} text-anchor="middle" class="label">{dx.key}</text>
        <text x={14} y={(H - m.b + m.t) / 2} text-anchor="middle" class="label" transform={`rotate(-90 14 ${(H - m.b + m.t) / 2})`}>{dy.key}</text>
        <text x={m.l} y={H - m.b + 16} class="tick">{formatValue(x0)}</text>
        <text x={W - m.r} y={H - m.b + 16} text-anchor="end" class="tick">{formatValue(x1)}</text>
        <text x={m.l - 6} y={H - m.b} text-anchor="end" class="tick">{formatValue(y0)}</text>
        <text x={m.l - 6} y={m.t + 8} text-anchor="end" class="tick">{formatValue(y1)}</text>
        {pts.map((p) => (
          <circle key={p.i} cx={sx(p.x)} cy={sy(p.y)} r={6} fill={colorOf(p.i)} data-run={runs[p.i].info.run_id} data-x={p.x} data-y={p.y}>
            <title>{`${names[p.i]}: ${dx.key} ${formatValue(p.x)}, ${dy.key} ${formatValue(p.y)}`}</title>
          </circle>
        ))}
      </svg>
    </>
  );
}
