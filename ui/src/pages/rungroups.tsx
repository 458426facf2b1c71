// The runs table grouped by a param's value. The groups, their run counts and the
// aggregates of the metric columns come from the server, computed over every run that
// matches the filter (GET /api/v1/experiments/{id}/groups); an expanded group's runs are
// read a page at a time from runs/search with the group's value added to the filter.
// Headers and runs are one flat list of rows, of which only those in view are drawn.
import { useEffect, useRef, useState } from "preact/hooks";
import type { ComponentChildren } from "preact";
import { call, message, mlflow } from "../api";
import { formatCount, formatValue } from "../format";
import type { Run } from "./runs";

export type Aggregate = { key: string; mean?: number | string; min?: number | string; max?: number | string; runs: number };
export type RunGroup = { value: string | null; runs: number; metrics: Aggregate[] };
export type RunGroups = { param: string; runs: number; groups: RunGroup[]; truncated: boolean };

const GROUP_PAGE = 100;

/** The groups of the runs matching filter by param, with the aggregates of metrics. */
export function useRunGroups(experimentId: string, param: string, filter: string, metrics: string[]) {
  const [groups, setGroups] = useState<RunGroups | null>(null);
  const [error, setError] = useState("");
  const want = metrics.slice(0, 50).join(",");
  useEffect(() => {
    setGroups(null);
    setError("");
    if (!param) return;
    let live = true;
    call<RunGroups>(`/api/v1/experiments/${encodeURIComponent(experimentId)}/groups`, { query: { param, filter, metrics: want || undefined } })
      .then((g) => live && setGroups(g), (err) => live && setError(message(err)));
    return () => { live = false; };
  }, [experimentId, param, filter, want]);
  return { groups, error };
}

/** v as a string of the search grammar, which (as MLflow's) only strips the quotes: in
 * quotes that v does not hold, and not ending in a backslash, which would escape the closing
 * quote. null: no literal says v. */
function literal(v: string): string | null {
  if (v.endsWith("\\")) return null;
  const q = ["'", '"'].find((c) => !v.includes(c));
  return q ? q + v + q : null;
}

/** The filter that finds a group's runs: the group's value and the user's filter; null
 * when no filter can name the value. */
export function groupFilter(param: string, value: string, filter: string): string | null {
  const lit = literal(value);
  if (lit === null) return null;
  const own = `params.\`${param}\` = ${lit}`;
  return filter.trim() ? `${own} and ${filter.trim()}` : own;
}

type Loaded = { runs: Run[]; next?: string; loading: boolean; error?: string };

type Row =
  | { kind: "group"; group: RunGroup; id: string }
  | { kind: "run"; run: Run; id: string }
  | { kind: "more"; id: string; group: string; state: Loaded };

function num(v: number | string | undefined): number | undefined {
  return v === undefined ? undefined : Number(v);
}

/** A group header's cell for a metric: the mean over the range, smaller. */
function aggregateText(a: Aggregate | undefined): { text: ComponentChildren; title: string } {
  if (!a || a.mean === undefined) return { text: "", title: "no values" };
  const [mean, lo, hi] = [num(a.mean), num(a.min), num(a.max)].map(formatValue);
  const text = (
    <span style={{ display: "flex", flexDirection: "column", lineHeight: 1.15 }}>
      <span>{mean}</span>
      <span class="muted" style={{ fontSize: "0.75em", fontWeight: 400 }}>{lo} – {hi}</span>
    </span>
  );
  return { text, title: `mean ${mean}, min ${lo}, max ${hi} over ${a.runs} run${a.runs === 1 ? "" : "s"}` };
}

export type GroupColumn = { kind: string; key: string };

/** The columns a view of the runs table shows: from..to of those after the run's name, and
 * the widths of those left out before and after them, in px (runs.tsx's columnWindow). */
export type ColumnWindow = { from: number; to: number; before: number; after: number };

/** The room of the columns left out of a row, so that those drawn stay in their place. */
export function Gap({ width }: { width: number }) {
  return width > 0 ? <div class="gap" aria-hidden="true" style={{ width: `${width}px` }} /> : null;
}


export function GroupedRows(props: {
  experimentId: string; param: string; filter: string; order: string; groups: RunGroups;
  /** The columns after the run's name that are in view (see ColumnWindow). */
  columns: GroupColumn[]; view: ColumnWindow; columnId: (c: GroupColumn) => string; cellClass: (c: GroupColumn) => string;
  row: (run: Run) => ComponentChildren; rowHeight: number; top: number; height: number; overscan: number;
  onRows: (n: number) => void; onView: (runIds: string[]) => void;
}) {
  const { experimentId, param, filter, order, groups, columns, rowHeight: ROW } = props;
  const [open, setOpen] = useState<Record<string, Loaded>>({});
  const generation = useRef(0);
  useEffect(() => { generation.current++; setOpen({}); }, [experimentId, param, filter, order]);

  const load = async (value: string, token?: string) => {
    const own = groupFilter(param, value, filter);
    if (own === null) return;
    const gen = generation.current;
    setOpen((o) => ({ ...o, [value]: { ...(o[value] ?? { runs: [] }), loading: true, error: undefined } }));
    try {
      const page = await mlflow<{ runs?: Run[]; next_page_token?: string }>("runs/search", {
        experiment_ids: [experimentId], filter: own, max_results: GROUP_PAGE, order_by: [order], page_token: token,
      });
      if (gen !== generation.current) return;
      setOpen((o) => o[value] ? { ...o, [value]: { runs: [...(token ? o[value].runs : []), ...(page.runs ?? [])], next: page.next_page_token || undefined, loading: false } } : o);
    } catch (err) {
      if (gen !== generation.current) return;
      setOpen((o) => o[value] ? { ...o, [value]: { ...o[value], loading: false, error: message(err) } } : o);
    }
  };
  const toggle = (value: string) => {
    if (open[value]) setOpen((o) => { const c = { ...o }; delete c[value]; return c; });
    else load(value);
  };

  const rows: Row[] = [];
  for (const g of groups.groups) {
    const id = g.value === null ? "\u0000" : "=" + g.value;
    rows.push({ kind: "group", group: g, id });
    const state = g.value !== null ? open[g.value] : undefined;
    if (!state) continue;
    for (const r of state.runs) rows.push({ kind: "run", run: r, id: id + "/" + r.info.run_id });
    if (state.loading || state.next || state.error) rows.push({ kind: "more", id: id + "/more", group: g.value!, state });
  }
  useEffect(() => props.onRows(rows.length), [rows.length]);

  const first = Math.max(0, Math.floor(props.top / ROW) - props.overscan);
  const last = Math.min(rows.length, Math.ceil((props.top + props.height) / ROW) + props.overscan);
  // A group's next page is read when its last row comes into view.
  useEffect(() => {
    for (const r of rows.slice(first, last)) {
      if (r.kind === "more" && r.state.next && !r.state.loading && !r.state.error) load(r.group, r.state.next);
    }
  }, [first, last, rows.length]);
  const inView = rows.slice(first, last).flatMap((r) => (r.kind === "run" ? [r.run.info.run_id] : [])).join(",");
  useEffect(() => props.onView(inView ? inView.split(",") : []), [inView]);

  const metricOf = (key: string, g: RunGroup) => g.metrics?.find((m) => m.key === key);
  return (
    <div role="rowgroup" style={{ height: `${rows.length * ROW}px`, position: "relative" }}>
      {rows.slice(first, last).map((r, i) => {
        const style = { position: "absolute", top: 0, left: 0, right: 0, transform: `translateY(${(first + i) * ROW}px)` };
        const index = first + i + 2;
        if (r.kind === "run") return <div role="row" key={r.id} aria-rowindex={index} style={style}>{props.row(r.run)}</div>;
        if (r.kind === "more") {
          return (
            <div role="row" key={r.id} aria-rowindex={index} style={style}>
              <div role="cell" class="muted" style={{ width: "auto", paddingLeft: "2.75rem" }}>
                {r.state.error ? <span class="error">{r.state.error}</span> : r.state.loading ? "Loading…" : `${r.state.runs.length} of the group's runs loaded`}
              </div>
            </div>
          );
        }
        const g = r.group;
        const expanded = g.value !== null && open[g.value] !== undefined;
        const opens = g.value !== null && groupFilter(param, g.value, "") !== null;
        const name = g.value === null ? `no ${param}` : `${param} = ${g.value}`;
        return (
          <div role="row" key={r.id} aria-rowindex={index} class="group" style={{ ...style, fontWeight: 600, background: "var(--panel)" }}>
            <div role="cell" class="select" aria-colindex={1}>
              {!opens ? null : (
                <button type="button" aria-expanded={expanded} aria-label={`${expanded ? "Collapse" : "Expand"} ${name}, ${g.runs} runs`}
                  onClick={() => toggle(g.value!)} style={{ border: "none", background: "none", color: "var(--fg)", cursor: "pointer", padding: "0 0.25rem" }}>
                  {expanded ? "▾" : "▸"}
                </button>
              )}
            </div>
            <div role="cell" class="wide" aria-colindex={2}
              title={g.value === null ? `${g.runs} runs without ${param}: MLflow's search grammar cannot find them, so this group does not open`
                : opens ? `${name}: ${g.runs} runs` : `${name}: ${g.runs} runs; no filter of MLflow's grammar names this value, so this group does not open`}>
              {g.value === null ? <em>no {param}</em> : <>{param} = {g.value}</>} <span class="muted">· {formatCount(g.runs)} run{g.runs === 1 ? "" : "s"}</span>
            </div>
            <Gap width={props.view.before} />
            {columns.map((c, i) => {
              const id = props.columnId(c);
              const at = props.view.from + i + 3;
              if (c.kind === "metrics") {
                const a = aggregateText(metricOf(c.key, g));
                return <div role="cell" key={id} class={props.cellClass(c)} aria-colindex={at} title={`${c.key}: ${a.title}`}>{a.text}</div>;
              }
              if (c.kind === "params" && c.key === param) return <div role="cell" key={id} class={props.cellClass(c)} aria-colindex={at}>{g.value ?? ""}</div>;
              return <div role="cell" key={id} class={props.cellClass(c)} aria-colindex={at} />;
            })}
            <Gap width={props.view.after} />
          </div>
        );
      })}
    </div>
  );
}
