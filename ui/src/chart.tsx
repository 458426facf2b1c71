// A metric's history as a uPlot line chart. The chart's container keeps the uPlot
// instance (el.uplot), so that tests and tools can read the plotted data.
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { Metric } from "./pages/runs";

export type XAxis = "step" | "time" | "relative";

export function toSeries(points: Metric[], x: XAxis): [number[], number[]] {
  const sorted = [...points].sort((a, b) => (x === "step" ? a.step - b.step || a.timestamp - b.timestamp : a.timestamp - b.timestamp || a.step - b.step));
  const t0 = sorted.length ? sorted[0].timestamp : 0;
  const xs = sorted.map((p) => (x === "step" ? p.step : x === "time" ? p.timestamp / 1000 : (p.timestamp - t0) / 1000));
  return [xs, sorted.map((p) => p.value)];
}

function color(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

/** Whether the system's theme is dark, kept current: charts draw in the theme's colours. */
function useDark(): boolean {
  const query = matchMedia("(prefers-color-scheme: dark)");
  const [dark, setDark] = useState(query.matches);
  useEffect(() => {
    const on = () => setDark(query.matches);
    query.addEventListener("change", on);
    return () => query.removeEventListener("change", on);
  }, []);
  return dark;
}

export function Chart({ title, points, x, log }: { title: string; points: Metric[]; x: XAxis; log: boolean }) {
  const el = useRef<HTMLDivElement>(null);
  const dark = useDark();
  useEffect(() => {
    const node = el.current;
    if (!node) return;
    const data = toSeries(points, x);
    const fg = color("--fg", "#1b1f24"), line = color("--line", "#d0d7de"), accent = color("--accent", "#0b5cad");
    const axis = { stroke: fg, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 } };
    const opts: uPlot.Options = {
      width: Math.max(280, node.clientWidth),
      height: 220,
      scales: { x: { time: x === "time" }, y: log ? { distr: 3 } : {} },
      series: [
        { label: x === "step" ? "step" : x === "time" ? "time" : "seconds" },
        { label: title, stroke: accent, width: 1.5, points: { show: data[0].length < 60 } },
      ],
      axes: [{ ...axis, label: x === "relative" ? "seconds since the first point" : x === "step" ? "step" : undefined }, { ...axis }],
      legend: { live: true },
    };
    const chart = new uPlot(opts, data, node);
    (node as HTMLDivElement & { uplot?: uPlot }).uplot = chart;
    const ro = new ResizeObserver(() => chart.setSize({ width: Math.max(280, node.clientWidth), height: 220 }));
    ro.observe(node);
    return () => {
      ro.disconnect();
      chart.destroy();
    };
  }, [points, x, log, title, dark]);
  return <div ref={el} class="plot" role="img" aria-label={`${title}: ${points.length} points by ${x}`} data-metric={title} />;
}
