// The runs of an experiment: a table that holds in the DOM only the rows in view, fed
// by MLflow's runs/search a page at a time as the user scrolls. The server filters (in
// MLflow's search grammar, which it validates) and sorts; the page never loads all runs.
// Grouped by a param, the rows are the server's groups of all matching runs (rungroups.tsx).
import { Component, type ComponentChildren } from "preact";
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { call, message, mlflow } from "../api";
import { formatCount, formatDuration, formatTime, formatValue } from "../format";
import { href, navigate } from "../router";
import type { Experiment } from "./experiments";
import { Gap, GroupedRows, useRunGroups, type ColumnWindow } from "./rungroups";
import { DEFAULT_ORDER, searchBody } from "./runsearch";

export type KV = { key: string; value: string };
export type Metric = { key: string; value: number; timestamp: number; step: number };
export type Run = {
  info: {
    run_id: string; run_name?: string; experiment_id: string; status: string; user_id?: string;
    start_time?: number; end_time?: number; artifact_uri?: string; lifecycle_stage?: string;
  };
  data: { metrics?: Metric[]; params?: KV[]; tags?: KV[] };
};
type Page = { runs?: Run[]; next_page_token?: string };

const ROW = 32; // px, as .grid [role="row"]
const OVERSCAN = 3; // rows drawn beyond the view, above and below

/** A column: an attribute, or a param, metric or tag by key. */
/** min and max: the smallest and largest value of a metric's whole history, per run. */
type Column = { kind: "attr" | "params" | "metrics" | "tags" | "min" | "max"; key: string; label: string };

const attributes: Column[] = [
  { kind: "attr", key: "run_name", label: "Run" },
  { kind: "attr", key: "status", label: "Status" },
  { kind: "attr", key: "start_time", label: "Started" },
  { kind: "attr", key: "duration", label: "Duration" },
  { kind: "attr", key: "user_id", label: "User" },
];

let remPx = 0;
const rem = () => (remPx ||= parseFloat(getComputedStyle(document.documentElement).fontSize) || 16);

/** The table's view before it is laid out: as tall as style.css makes .grid (100vh - 15rem, at
 * least 18rem), as wide as the window; scroll bars and margins make the real one a little smaller. */
const estimatedView = () => ({ top: 0, left: 0, height: Math.max(innerHeight - 15 * rem(), 18 * rem()), width: innerWidth });

/** A column's width in px, as style.css sets it: 16rem for the run's name (.wide), else 10rem. */
const columnWidth = (c: Column) => (c.key === "run_name" ? 16 : 10) * rem();

/** The columns seen from left, over width px, of those after the run's name (which start px
 * in: the select column, 2.25rem, and the name), one more either side, and the widths of those
 * left out. Like the rows, only the columns in view are in the DOM, so a table of many
 * metrics draws as fast as one of a few. The select column and the run's name are always
 * drawn, so that every row names its run; they scroll with the rest (pinned with position:
 * sticky, a cold load of 100,000 runs answered its first click about a tenth later in
 * bench/ui). */
function columnWindow(rest: Column[], start: number, left: number, width: number): ColumnWindow {
  const ws = rest.map(columnWidth);
  let x = start, from = 0;
  while (from < ws.length - 1 && x + ws[from] <= left) x += ws[from++];
  let to = from, end = x;
  while (to < ws.length && end < left + width) end += ws[to++];
  if (from > 0) x -= ws[--from];
  if (to < ws.length) end += ws[to++];
  return { from, to, before: x - start, after: ws.reduce((a, b) => a + b, start) - end };
}

function columnId(c: Column) {
  return `${c.kind}.${c.key}`;
}

function parseColumn(id: string): Column | null {
  const dot = id.indexOf(".");
  const kind = id.slice(0, dot) as Column["kind"];
  const key = id.slice(dot + 1);
  if (!["params", "metrics", "tags", "min", "max"].includes(kind) || !key) return null;
  return { kind, key, label: kind === "min" || kind === "max" ? `${key} (${kind})` : key };
}

/** The order_by clause sorting by c, or "" where the server cannot sort (duration). */
function orderKey(c: Column): string {
  if (c.kind === "attr") return c.key === "duration" ? "" : `attributes.${c.key}`;
  if (c.kind === "min" || c.kind === "max") return "";
  return `${c.kind}.\`${c.key.replace(/`/g, "")}\``;
}

/** Per run, each metric's smallest and largest value, read for the rows in view. */
type Ranges = Map<string, Record<string, { min: number; max: number }>>;

/** Draws its render again only when one of deps changed (Object.is): a row of the table is
 * drawn again when its run, its selection or the columns in view change, not at each click
 * or scroll elsewhere in the table. */
class Memo extends Component<{ deps: unknown[]; render: () => ComponentChildren }> {
  shouldComponentUpdate(next: { deps: unknown[] }) {
    const was = this.props.deps;
    return was.length !== next.deps.length || next.deps.some((d, i) => !Object.is(d, was[i]));
  }
  render() {
    return this.props.render();
  }
}

type RangeAnswer = { metrics: { key: string; points?: { value: unknown }[]; buckets?: { min: unknown; max: unknown }[] }[] };

/** The ranges of keys' histories in a run: one bucket each (points=1), its min and max. */
async function rangesOf(runId: string, keys: string[]): Promise<Record<string, { min: number; max: number }>> {
  const a = await call<RangeAnswer>(`/api/v1/runs/${encodeURIComponent(runId)}/metric-history`, { query: { keys: keys.join(","), points: 1 } });
  const out: Record<string, { min: number; max: number }> = {};
  for (const m of a.metrics ?? []) {
    const b = m.buckets?.[0];
    const p = m.points?.[0];
    if (b) out[m.key] = { min: Number(b.min), max: Number(b.max) };
    else if (p) out[m.key] = { min: Number(p.value), max: Number(p.value) };
  }
  return out;
}

function cell(run: Run, c: Column, ranges: Ranges): string {
  const i = run.info;
  switch (c.kind) {
    case "min":
    case "max":
      return formatValue(ranges.get(run.info.run_id)?.[c.key]?.[c.kind]);
    case "attr":
      if (c.key === "start_time") return formatTime(i.start_time);
      if (c.key === "duration") return formatDuration(i.start_time, i.end_time);
      return String((i as Record<string, unknown>)[c.key] ?? "");
    case "metrics":
      return formatValue(run.data.metrics?.find((m) => m.key === c.key)?.value);
    default:
      return run.data[c.kind]?.find((p) => p.key === c.key)?.value ?? "";
  }
}

const ATTRIBUTE_KEYS = ["attributes.status", "attributes.run_name", "attributes.start_time", "attributes.end_time", "attributes.user_id", "attributes.run_id"];

/** Completions of the filter's last word: the keys of the loaded runs' params, metrics and
 * tags, and the attributes, each as the whole filter with that word completed. */
function completions(text: string, known: { params: string[]; metrics: string[]; tags: string[] }): string[] {
  const m = /([A-Za-z_][\w.`-]*)$/.exec(text);
  const word = m ? m[1].toLowerCase() : "";
  if (!word) return [];
  const before = text.slice(0, text.length - m![1].length);
  const quote = (k: string) => (/^[A-Za-z_][\w]*$/.test(k) ? k : "`" + k + "`");
  const keys = [
    ...known.metrics.map((k) => "metrics." + quote(k)),
    ...known.params.map((k) => "params." + quote(k)),
    ...known.tags.map((k) => "tags." + quote(k)),
    ...ATTRIBUTE_KEYS,
  ];
  return keys.filter((k) => k.toLowerCase().startsWith(word) || k.toLowerCase().split(".")[1]?.startsWith(word))
    .filter((k) => k.toLowerCase() !== word).slice(0, 20).map((k) => before + k);
}

function groupSummary(runs: number, groups: number, param: string, truncated: boolean): string {
  const s = `${formatCount(runs)} run${runs === 1 ? "" : "s"} in ${formatCount(groups)} group${groups === 1 ? "" : "s"} by ${param}`;
  return truncated ? s + " (only the first 1,000 values)" : s;
}

function withQuery(experimentId: string, q: Record<string, string>): string {
  const s = new URLSearchParams(Object.entries(q).filter(([, v]) => v)).toString();
  return href("experiments", experimentId) + (s ? "?" + s : "");
}

export function Runs({ experimentId, query }: { experimentId: string; query: URLSearchParams }) {
  const filter = query.get("filter") ?? "";
  const order = query.get("order") ?? DEFAULT_ORDER;
  const chosen = query.get("columns");
  const group = query.get("group") ?? "";
  const [experiment, setExperiment] = useState<Experiment | null>(null);
  const [runs, setRuns] = useState<Run[]>([]);
  const [next, setNext] = useState<string | undefined>();
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState("");
  const [text, setText] = useState(filter);
  const [scroll, setScroll] = useState(estimatedView);
  const [showColumns, setShowColumns] = useState(false);
  const [selected, setSelected] = useState<string[]>([]);
  const grid = useRef<HTMLDivElement>(null);
  const generation = useRef(0);
  const [paramKeys, setParamKeys] = useState<string[]>([]);
  const [groupRows, setGroupRows] = useState(0);
  const [groupView, setGroupView] = useState<string[]>([]); // the runs in view in the grouped table

  const state = { filter, order, columns: chosen ?? "", group };
  const go = (change: Partial<typeof state>) => navigate(withQuery(experimentId, { ...state, ...change }), true);

  // Layout effects: the first calls leave as soon as the page is drawn, not a frame later.
  useLayoutEffect(() => {
    mlflow<{ experiment: Experiment }>("experiments/get", { experiment_id: experimentId }, "GET").then(
      (r) => setExperiment(r.experiment), (err) => setError(message(err)));
    keysAsked.current = false;
    setParamKeys([]);
  }, [experimentId]);
  // Every param of the experiment's runs can group them, not only those of the loaded runs:
  // asked for when the menu is first reached (over an experiment's newest 10,000 runs it is
  // the costliest question the page asks, and most visits never group).
  const keysAsked = useRef(false);
  const askKeys = () => {
    if (keysAsked.current) return;
    keysAsked.current = true;
    call<{ params?: { key: string }[] }>(`/api/v1/experiments/${encodeURIComponent(experimentId)}/keys`).then(
      (k) => setParamKeys((k.params ?? []).map((p) => p.key).sort()), () => { keysAsked.current = false; });
  };

  const load = async (token?: string) => {
    const gen = generation.current;
    setLoading(true);
    try {
      const page = await mlflow<Page>("runs/search", searchBody(experimentId, filter, order, token));
      if (gen !== generation.current) return; // a newer search replaced this one
      setRuns((old) => (token ? [...old, ...(page.runs ?? [])] : page.runs ?? []));
      setNext(page.next_page_token || undefined);
      setError("");
    } catch (err) {
      if (gen !== generation.current) return;
      setError(message(err));
      if (!token) { setRuns([]); setNext(undefined); }
    } finally {
      if (gen === generation.current) setLoading(false);
    }
  };

  // A new search or grouping starts at the top. Not on the first drawing, which is at the
  // top already: scrolling there would lay the page out once more before it is drawn.
  const drawn = useRef(false);
  const toTop = () => drawn.current && grid.current?.scrollTo(0, 0);
  useLayoutEffect(() => {
    generation.current++;
    setText(filter);
    setRuns([]);
    setNext(undefined);
    toTop();
    load();
  }, [experimentId, filter, order]);

  useEffect(() => { toTop(); drawn.current = true; }, [group]);

  // The table's view, measured once it is laid out (the ResizeObserver's first call comes
  // after the first layout, before its paint), and again when it is resized or scrolled. Its
  // first rows are drawn in the view estimatedView gives: measuring before drawing them would
  // lay the page out twice.
  const measure = (el: HTMLElement) => {
    const now = { top: el.scrollTop, height: el.clientHeight, left: el.scrollLeft, width: el.clientWidth };
    setScroll((old) => (old.top === now.top && old.height === now.height && old.left === now.left && old.width === now.width ? old : now));
  };
  useLayoutEffect(() => {
    const el = grid.current;
    if (!el) return;
    const ro = new ResizeObserver(() => measure(el));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  // The keys seen in the runs loaded so far, for the column chooser.
  const known = useMemo(() => {
    const keys = { params: new Set<string>(), metrics: new Set<string>(), tags: new Set<string>() };
    for (const r of runs.slice(0, 1000)) {
      r.data.params?.forEach((p) => keys.params.add(p.key));
      r.data.metrics?.forEach((m) => keys.metrics.add(m.key));
      r.data.tags?.forEach((t) => !t.key.startsWith("mlflow.") && keys.tags.add(t.key));
    }
    return { params: [...keys.params].sort(), metrics: [...keys.metrics].sort(), tags: [...keys.tags].sort() };
  }, [runs]);

  const extra: Column[] = chosen !== null
    ? chosen.split(",").map(parseColumn).filter((c): c is Column => c !== null)
    : [
        ...known.metrics.slice(0, 6).map((key) => ({ kind: "metrics" as const, key, label: key })),
        ...known.params.slice(0, 6).map((key) => ({ kind: "params" as const, key, label: key })),
      ];
  const columns = [...attributes, ...extra];
  const [named, ...rest] = columns; // the run's name, always drawn
  const view = columnWindow(rest, 2.25 * rem() + columnWidth(named), scroll.left, scroll.width);
  const shown = rest.slice(view.from, view.to);
  const groupChoices = [...new Set([...paramKeys, ...known.params, ...(group ? [group] : [])])].sort();
  const grouped = useRunGroups(experimentId, group, filter, extra.filter((c) => c.kind === "metrics").map((c) => c.key));

  // The min and max columns: read for the runs in view, once per run and set of keys.
  const [ranges, setRanges] = useState<Ranges>(new Map());
  const rangeKeys = [...new Set(extra.filter((c) => c.kind === "min" || c.kind === "max").map((c) => c.key))].slice(0, 20);
  const asked = useRef(new Map<string, string>());

  const first = Math.max(0, Math.floor(scroll.top / ROW) - OVERSCAN);
  const last = Math.min(runs.length, Math.ceil((scroll.top + scroll.height) / ROW) + OVERSCAN);
  useEffect(() => {
    if (!group && next && !loading && !error && last >= runs.length - OVERSCAN * 2) load(next);
  }, [last, next, loading, runs.length]);
  useEffect(() => {
    if (!rangeKeys.length) return;
    const want = rangeKeys.join(",");
    const inView = group ? groupView : runs.slice(first, last).map((r) => r.info.run_id);
    const todo = inView.filter((id) => asked.current.get(id) !== want);
    const timer = setTimeout(() => {
      for (const id of todo) {
        asked.current.set(id, want);
        rangesOf(id, rangeKeys).then((r) => setRanges((old) => new Map(old).set(id, r)), () => asked.current.delete(id));
      }
    }, 150); // not while the table scrolls past
    return () => clearTimeout(timer);
  }, [first, last, runs, rangeKeys.join(","), group, groupView]);

  const cellClass = (c: Column, r?: Run) =>
    (c.key === "run_name" ? "wide " : "") + (c.kind === "metrics" || c.kind === "min" || c.kind === "max" ? "num" : c.key === "status" && r ? `status-${r.info.status}` : "");
  const shownKey = `${columns.map(columnId).join("\n")}\n${view.from}:${view.to}`;
  const runRow = (r: Run) => (
    <Memo deps={[r, selected.includes(r.info.run_id), shownKey, ranges.get(r.info.run_id)]} render={() => runCells(r)} />
  );
  const runCells = (r: Run) => (
    <>
              <div role="cell" class="select" aria-colindex={1}>
                <input type="checkbox" aria-label={`Select ${r.info.run_name || r.info.run_id}`} checked={selected.includes(r.info.run_id)}
                  onChange={() => setSelected((old) => (old.includes(r.info.run_id) ? old.filter((x) => x !== r.info.run_id) : [...old, r.info.run_id]))} />
              </div>
              <div role="cell" class="wide" aria-colindex={2}>
                <a href={href("experiments", experimentId, "runs", r.info.run_id)}>{r.info.run_name || r.info.run_id}</a>
              </div>
              <Gap width={view.before} />
              {shown.map((c, i) => (
                <div role="cell" key={columnId(c)} class={cellClass(c, r)} aria-colindex={view.from + i + 3}>{cell(r, c, ranges)}</div>
              ))}
              <Gap width={view.after} />
    </>
  );

  const [orderCol, orderDir] = order.split(/ (?=(?:ASC|DESC)$)/i);
  const sortBy = (c: Column) => {
    const key = orderKey(c);
    if (!key) return;
    go({ order: `${key} ${key === orderCol && orderDir?.toUpperCase() !== "ASC" ? "ASC" : "DESC"}` });
  };
  const columnHeader = (c: Column, index: number, cls: string) => {
    const key = orderKey(c);
    const sorted = key && key === orderCol ? (orderDir?.toUpperCase() === "ASC" ? "ascending" : "descending") : undefined;
    return (
      <div role="columnheader" key={columnId(c)} aria-colindex={index} aria-sort={sorted ?? "none"} class={cls}
        title={c.kind === "attr" ? c.label : `${c.kind}.${c.key}`}>
        {key ? (
          <button type="button" onClick={() => sortBy(c)}>
            {c.kind !== "attr" && <span class="muted">{c.kind[0]}. </span>}{c.label}{sorted ? (sorted === "ascending" ? " ▲" : " ▼") : ""}
          </button>
        ) : c.label}
      </div>
    );
  };
  const toggleColumn = (c: Column) => {
    const ids = extra.map(columnId);
    const id = columnId(c);
    go({ columns: (ids.includes(id) ? ids.filter((x) => x !== id) : [...ids, id]).join(",") || "-" });
  };

  return (
    <section>
      <p class="breadcrumb"><a href={href("experiments")}>Experiments</a> /</p>
      <h1>{experiment?.name ?? `Experiment ${experimentId}`}</h1>
      <div class="toolbar">
        <form role="search" class="grow" onSubmit={(e) => { e.preventDefault(); go({ filter: text.trim() }); }}>
          <label>
            Filter
            <input type="search" name="filter" value={text} spellcheck={false} onInput={(e) => setText(e.currentTarget.value)}
              placeholder="metrics.rmse < 0.8 and params.model = 'tree'" aria-describedby="filter-help" list="filter-completions"
              autoComplete="off" />
            <datalist id="filter-completions">
              {completions(text, known).map((c) => <option key={c} value={c} />)}
            </datalist>
          </label>
        </form>
        <label>
          Group by
          <select value={group} onFocus={askKeys} onPointerDown={askKeys} onChange={(e) => go({ group: e.currentTarget.value })}>
            <option value="">No grouping</option>
            {groupChoices.map((k) => <option key={k} value={k}>{k}</option>)}
          </select>
        </label>
        <button type="button" aria-expanded={showColumns} onClick={() => setShowColumns(!showColumns)}>Columns</button>
        <button type="button" class="primary" disabled={selected.length < 2}
          onClick={() => navigate(href("experiments", experimentId, "compare") + "?runs=" + selected.map(encodeURIComponent).join(","))}>
          Compare{selected.length ? ` ${selected.length}` : ""}
        </button>
      </div>
      <p id="filter-help" class="muted">MLflow's search grammar: <code>metrics.KEY</code>, <code>params.KEY</code>, <code>tags.KEY</code>, <code>attributes.status</code>… joined with <code>and</code>; Enter applies it.</p>
      {error && <p role="alert" class="error">{error}</p>}
      {grouped.error && <p role="alert" class="error">{grouped.error}</p>}
      {showColumns && (
        <div class="columns">
          {(["metrics", "params", "tags"] as const).map((kind) => known[kind].length > 0 && (
            <fieldset key={kind}>
              <legend>{kind[0].toUpperCase() + kind.slice(1)}</legend>
              {known[kind].map((key) => {
                const c: Column = { kind, key, label: key };
                return (
                  <label key={key}>
                    <input type="checkbox" checked={extra.some((x) => columnId(x) === columnId(c))} onChange={() => toggleColumn(c)} />
                    {key}
                  </label>
                );
              })}
            </fieldset>
          ))}
          {(["min", "max"] as const).map((kind) => known.metrics.length > 0 && (
            <fieldset key={kind}>
              <legend>{kind === "min" ? "Smallest value of a metric's history" : "Largest value of a metric's history"}</legend>
              {known.metrics.map((key) => {
                const c: Column = { kind, key, label: `${key} (${kind})` };
                return (
                  <label key={key}>
                    <input type="checkbox" checked={extra.some((x) => columnId(x) === columnId(c))} onChange={() => toggleColumn(c)} />
                    {c.label}
                  </label>
                );
              })}
            </fieldset>
          ))}
        </div>
      )}
      <p role="status" class="muted">
        {group ? (grouped.groups ? groupSummary(grouped.groups.runs, grouped.groups.groups.length, group, grouped.groups.truncated) : grouped.error ? "" : "Grouping…")
          : loading && runs.length === 0 ? "Loading…" : `${formatCount(runs.length)}${next ? "+" : ""} run${runs.length === 1 ? "" : "s"} loaded${loading ? ", loading more…" : ""}`}
      </p>
      <div class="grid" ref={grid} tabIndex={0} role="table" aria-label={group ? `Runs grouped by ${group}` : "Runs"}
        aria-rowcount={group ? groupRows + 1 : next ? -1 : runs.length + 1} aria-colcount={columns.length + 1}
        onScroll={(e) => measure(e.currentTarget)}>
        <div role="rowgroup" class="head">
          <div role="row" aria-rowindex={1}>
            <div role="columnheader" class="select" aria-colindex={1}><span class="skip">Select</span></div>
            {columnHeader(named, 2, "wide")}
            <Gap width={view.before} />
            {shown.map((c, i) => columnHeader(c, view.from + i + 3, c.key === "run_name" ? "wide" : ""))}
            <Gap width={view.after} />
          </div>
        </div>
        {group ? (grouped.groups && (
          <GroupedRows experimentId={experimentId} param={group} filter={filter} order={order} groups={grouped.groups}
            columns={shown} view={view} columnId={(c) => columnId(c as Column)} cellClass={(c) => cellClass(c as Column)} row={runRow}
            rowHeight={ROW} top={scroll.top} height={scroll.height} overscan={OVERSCAN} onRows={setGroupRows} onView={setGroupView} />
        )) : (
        <div role="rowgroup" style={{ height: `${runs.length * ROW}px`, position: "relative" }}>
          {runs.slice(first, last).map((r, i) => (
            <div role="row" key={r.info.run_id} aria-rowindex={first + i + 2}
              style={{ position: "absolute", top: 0, left: 0, right: 0, transform: `translateY(${(first + i) * ROW}px)` }}>
              {runRow(r)}
            </div>
          ))}
        </div>
        )}
      </div>
    </section>
  );
}
