// A model's gate: the benchmark in force (GET /api/v1/models/{name}/benchmark), every
// evaluation with its metrics and per-slice metrics (…/evaluations), the leaderboard as
// `mlship gate history --rank METRIC` ranks it, and the protected aliases' audit trail
// (…/alias-audit).
import { useEffect, useState } from "preact/hooks";
import { ApiError, call, message } from "../api";
import { formatTime, formatValue } from "../format";
import { href } from "../router";
import "./registry.css";

type Threshold = { threshold?: number; min_absolute_change?: number; min_relative_change?: number; greater_is_better: boolean };
type Benchmark = {
  model: string;
  revision: string;
  updated_at?: number;
  definition: {
    dataset: string;
    dataset_digest?: string;
    target: string;
    features?: string[];
    spec: { task: string; classes?: string[]; positive?: string; average?: string; slice_by?: string; metrics?: string[] };
    gate: { thresholds: Record<string, Threshold>; no_baseline?: string };
    protected_aliases?: string[];
  };
};
type Metrics = Record<string, number>;
type Slice = { column: string; value: string; metrics: Metrics; undefined?: Record<string, string> };
export type GateEvaluation = {
  id: number;
  version: string;
  revision: string;
  alias?: string;
  status: string;
  dataset: string;
  runtime?: string;
  result?: { metrics: Metrics; undefined?: Record<string, string>; slices?: Slice[] };
  baseline_version?: string;
  passed?: boolean;
  error?: string;
  verdict?: { summary?: string };
  created_at: number;
  finished_at?: number;
};
type AuditEntry = { id: number; alias: string; version?: string; previous?: string; action: string; reason?: string; evaluation_id?: number; actor?: string; created_at: number };

// The metrics with a better direction (internal/gate's GreaterIsBetter): true when higher is better.
const direction: Record<string, boolean> = {
  accuracy_score: true, precision_score: true, recall_score: true, f1_score: true, roc_auc: true, r2_score: true,
  log_loss: false, mean_absolute_error: false, mean_squared_error: false, root_mean_squared_error: false,
  max_error: false, mean_absolute_percentage_error: false,
};

/** A metric's direction; a slice metric ("f1_score/region:EU") has its base metric's. */
function greaterIsBetter(metric: string): boolean | undefined {
  return direction[metric.split("/", 1)[0]];
}

/** Every metric of a result, slice metrics named as thresholds name them ("f1_score/region:EU"). */
function allMetrics(r: GateEvaluation["result"]): Metrics {
  const out: Metrics = { ...(r?.metrics ?? {}) };
  for (const s of r?.slices ?? []) for (const [k, v] of Object.entries(s.metrics ?? {})) out[`${k}/${s.column}:${s.value}`] = v;
  return out;
}

/** The leaderboard: each version's newest succeeded evaluation on the benchmark's revision
 * (evaluations are newest first), best first by metric; versions without it go last. */
export function leaderboard(evaluations: GateEvaluation[], revision: string, metric: string): GateEvaluation[] {
  const greater = greaterIsBetter(metric);
  const seen = new Set<string>();
  const out = evaluations.filter((e) => {
    if (e.revision !== revision || e.status !== "succeeded" || !e.result || seen.has(e.version)) return false;
    seen.add(e.version);
    return true;
  });
  const value = (e: GateEvaluation) => allMetrics(e.result)[metric];
  return out.sort((a, b) => {
    const va = value(a), vb = value(b);
    if ((va === undefined) !== (vb === undefined)) return va === undefined ? 1 : -1;
    if (va === undefined || va === vb) return 0;
    return (va > vb) === greater ? -1 : 1;
  });
}

export function GatePage({ name }: { name: string }) {
  const [benchmark, setBenchmark] = useState<Benchmark | null | undefined>(undefined);
  const [evaluations, setEvaluations] = useState<GateEvaluation[] | null>(null);
  const [audit, setAudit] = useState<AuditEntry[] | null>(null);
  const [error, setError] = useState("");
  const base = `/api/v1/models/${encodeURIComponent(name)}`;
  useEffect(() => {
    call<Benchmark>(`${base}/benchmark`).then(setBenchmark, (err) => {
      if (err instanceof ApiError && err.status === 404) setBenchmark(null);
      else setError(message(err));
    });
    call<{ evaluations?: GateEvaluation[] }>(`${base}/evaluations`).then((r) => setEvaluations(r.evaluations ?? []), (err) => setError(message(err)));
    call<{ entries?: AuditEntry[] }>(`${base}/alias-audit`).then((r) => setAudit(r.entries ?? []), (err) => setError(message(err)));
  }, [name]);

  const crumbs = <p class="breadcrumb"><a href={href("models")}>Models</a> / <a href={href("models", name)}>{name}</a> /</p>;
  const title = <h1>{name}: benchmark and gate</h1>;
  if (error) return <section>{crumbs}{title}<p role="alert" class="error">{error}</p></section>;
  if (benchmark === undefined || evaluations === null) return <section>{crumbs}{title}<p>Loading…</p></section>;
  return (
    <section>
      {crumbs}
      {title}
      <h2>Benchmark</h2>
      {benchmark ? <BenchmarkFacts b={benchmark} /> : <p class="muted">No benchmark (<code>mlship gate set {name} --dataset … --target …</code>).</p>}
      <h2>Evaluations</h2>
      <EvaluationTable name={name} evaluations={evaluations} benchmark={benchmark} />
      <h2>Leaderboard</h2>
      {benchmark ? <Leaderboard evaluations={evaluations} benchmark={benchmark} /> : <p class="muted">Ranks versions on the benchmark in force: none is set.</p>}
      <h2>Protected aliases: audit trail</h2>
      <Audit entries={audit} name={name} />
    </section>
  );
}

function bound(t: Threshold): string {
  const parts: string[] = [];
  const op = t.greater_is_better ? "≥" : "≤";
  if (t.threshold !== undefined && t.threshold !== null) parts.push(`${op} ${formatValue(t.threshold)}`);
  if (t.min_absolute_change !== undefined && t.min_absolute_change !== null) parts.push(`better than the baseline by ${formatValue(t.min_absolute_change)}`);
  if (t.min_relative_change !== undefined && t.min_relative_change !== null) parts.push(`better than the baseline by ${formatValue(t.min_relative_change * 100)}%`);
  return parts.join("; ");
}

function BenchmarkFacts({ b }: { b: Benchmark }) {
  const d = b.definition;
  const thresholds = Object.entries(d.gate.thresholds ?? {}).sort(([a], [c]) => a.localeCompare(c));
  return (
    <>
      <dl class="facts" data-benchmark={b.revision}>
        <dt>Dataset</dt><dd data-fact="dataset"><code>{d.dataset}</code>{d.dataset_digest && <span class="muted digest"> {d.dataset_digest}</span>}</dd>
        <dt>Target</dt><dd data-fact="target"><code>{d.target}</code></dd>
        <dt>Task</dt><dd data-fact="task">{d.spec.task}{d.spec.positive ? ` (positive class ${d.spec.positive})` : ""}{d.spec.average ? `, ${d.spec.average} average` : ""}</dd>
        {d.spec.slice_by && <><dt>Sliced by</dt><dd><code>{d.spec.slice_by}</code></dd></>}
        {d.features?.length ? <><dt>Features</dt><dd>{d.features.join(", ")}</dd></> : null}
        <dt>Protected aliases</dt>
        <dd data-fact="protected">{(d.protected_aliases ?? []).length ? d.protected_aliases!.map((a) => <span key={a} class="badge">@{a}</span>) : <span class="muted">none</span>}</dd>
        <dt>Without a baseline</dt><dd>{d.gate.no_baseline || "fail"}</dd>
        <dt>Revision</dt><dd><code class="digest">{b.revision.slice(0, 12)}</code>{b.updated_at ? `, set ${formatTime(b.updated_at)}` : ""}</dd>
      </dl>
      {thresholds.length ? (
        <table class="list">
          <caption class="caption">Thresholds</caption>
          <thead><tr><th scope="col">Metric</th><th scope="col">Better</th><th scope="col">Passes when</th></tr></thead>
          <tbody>
            {thresholds.map(([m, t]) => (
              <tr key={m} data-threshold={m}><td><code>{m}</code></td><td>{t.greater_is_better ? "higher" : "lower"}</td><td>{bound(t)}</td></tr>
            ))}
          </tbody>
        </table>
      ) : <p class="muted">No thresholds: no version passes.</p>}
    </>
  );
}

function EvaluationTable({ name, evaluations, benchmark }: { name: string; evaluations: GateEvaluation[]; benchmark: Benchmark | null }) {
  if (!evaluations.length) return <p class="muted">Never evaluated (<code>mlship gate evaluate</code>).</p>;
  const metrics = [...new Set(evaluations.flatMap((e) => Object.keys(e.result?.metrics ?? {})))].sort();
  const sliced = evaluations.filter((e) => e.result?.slices?.length);
  return (
    <>
      <div class="scroll-x" tabIndex={0} role="region" aria-label="Evaluations">
        <table class="list" id="evaluations">
          <caption class="skip">Evaluations, newest first</caption>
          <thead>
            <tr>
              <th scope="col">ID</th><th scope="col">Version</th><th scope="col">Status</th><th scope="col">Verdict</th>
              {metrics.map((m) => <th key={m} scope="col" class="num">{m}</th>)}
              <th scope="col">Against</th><th scope="col">Benchmark</th><th scope="col">Finished</th>
            </tr>
          </thead>
          <tbody>
            {evaluations.map((e) => (
              <tr key={e.id} data-evaluation={e.id} data-version={e.version}>
                <td class="num">{e.id}</td>
                <td><a href={href("models", name, "versions", e.version)}>v{e.version}</a></td>
                <td>{e.status}</td>
                <td>
                  {e.passed === undefined ? <span class="muted">{e.error ?? "—"}</span> : <span class={`badge verdict-${e.passed ? "passed" : "failed"}`}>{e.passed ? "passed" : "failed"}</span>}
                  {e.verdict?.summary && <div class="muted small">{e.verdict.summary}</div>}
                </td>
                {metrics.map((m) => {
                  const v = e.result?.metrics?.[m];
                  return <td key={m} class="num" data-metric={m} data-value={v ?? ""} title={v === undefined ? e.result?.undefined?.[m] : undefined}>{formatValue(v)}</td>;
                })}
                <td>{e.alias ? `@${e.alias}${e.baseline_version ? ` (v${e.baseline_version})` : " (none)"}` : "threshold only"}</td>
                <td><code class="digest">{e.revision.slice(0, 12)}</code>{benchmark && e.revision === benchmark.revision ? " (current)" : ""}</td>
                <td>{formatTime(e.finished_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {sliced.map((e) => <Slices key={e.id} e={e} />)}
    </>
  );
}

function Slices({ e }: { e: GateEvaluation }) {
  const slices = e.result!.slices!;
  const metrics = [...new Set(slices.flatMap((s) => Object.keys(s.metrics ?? {})))].sort();
  return (
    <details class="slices" data-evaluation={e.id}>
      <summary>Evaluation {e.id} (v{e.version}) by slice: {slices.length} slice{slices.length === 1 ? "" : "s"}</summary>
      <div class="scroll-x" tabIndex={0} role="region" aria-label={`Evaluation ${e.id} by slice`}>
        <table class="list">
          <caption class="skip">Evaluation {e.id} by slice</caption>
          <thead><tr><th scope="col">Slice</th>{metrics.map((m) => <th key={m} scope="col" class="num">{m}</th>)}</tr></thead>
          <tbody>
            {slices.map((s) => (
              <tr key={`${s.column}:${s.value}`} data-slice={`${s.column}:${s.value}`}>
                <th scope="row"><code>{s.column}</code> = {s.value}</th>
                {metrics.map((m) => <td key={m} class="num" data-metric={m} data-value={s.metrics?.[m] ?? ""}>{formatValue(s.metrics?.[m])}</td>)}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}

function Leaderboard({ evaluations, benchmark }: { evaluations: GateEvaluation[]; benchmark: Benchmark }) {
  const available = [...new Set(evaluations.flatMap((e) => Object.keys(allMetrics(e.result))))].filter((m) => greaterIsBetter(m) !== undefined).sort();
  const preferred = Object.keys(benchmark.definition.gate.thresholds ?? {}).find((m) => available.includes(m)) ?? available[0] ?? "";
  const [metric, setMetric] = useState(preferred);
  const m = available.includes(metric) ? metric : preferred;
  if (!m) return <p class="muted">No evaluation on the benchmark in force has a metric to rank by.</p>;
  const ranked = leaderboard(evaluations, benchmark.revision, m);
  return (
    <>
      <div class="toolbar">
        <label>
          Rank by
          <select value={m} onChange={(e) => setMetric(e.currentTarget.value)}>
            {available.map((x) => <option key={x} value={x}>{x}</option>)}
          </select>
        </label>
        <span class="muted">{greaterIsBetter(m) ? "higher" : "lower"} is better; each version's newest result on the benchmark in force</span>
      </div>
      <table class="list" id="leaderboard">
        <caption class="skip">Leaderboard by {m}</caption>
        <thead><tr><th scope="col" class="num">Rank</th><th scope="col">Version</th><th scope="col" class="num">{m}</th><th scope="col">Verdict</th><th scope="col">Evaluation</th></tr></thead>
        <tbody>
          {ranked.map((e, i) => {
            const v = allMetrics(e.result)[m];
            return (
              <tr key={e.id} data-version={e.version}>
                <td class="num">{i + 1}</td>
                <td><a href={href("models", benchmark.model, "versions", e.version)}>v{e.version}</a></td>
                <td class="num" data-value={v ?? ""}>{formatValue(v)}</td>
                <td>{e.passed === undefined ? "—" : e.passed ? "passed" : "failed"}</td>
                <td class="num">{e.id}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </>
  );
}

function Audit({ entries, name }: { entries: AuditEntry[] | null; name: string }) {
  if (entries === null) return <p>Loading…</p>;
  if (!entries.length) return <p class="muted">No protected alias has moved.</p>;
  return (
    <table class="list" id="audit">
      <caption class="skip">Moves of the protected aliases, newest first</caption>
      <thead><tr><th scope="col">When</th><th scope="col">Alias</th><th scope="col">Move</th><th scope="col">How</th><th scope="col">Reason</th><th scope="col">By</th></tr></thead>
      <tbody>
        {entries.map((a) => (
          <tr key={a.id} data-audit={a.id} data-action={a.action}>
            <td>{formatTime(a.created_at)}</td>
            <td>@{a.alias}</td>
            <td>{a.previous ? `v${a.previous}` : "none"} → {a.version ? <a href={href("models", name, "versions", a.version)}>v{a.version}</a> : "deleted"}</td>
            <td><span class={`badge action-${a.action}`}>{a.action}</span>{a.evaluation_id ? <span class="muted small"> evaluation {a.evaluation_id}</span> : null}</td>
            <td>{a.reason ?? ""}</td>
            <td>{a.actor ?? ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
