// Registered datasets: their versions, a version's profile (per column its kind, missing
// values, distinct count and a small chart of its values), the drift from one version to
// another as the server reports it (POST /api/v1/drift), and a deployment's drift windows.
import { useEffect, useState } from "preact/hooks";
import { call, message } from "../api";
import { formatCount, formatTime, formatValue } from "../format";
import { href, navigate } from "../router";
import "./registry.css";
import "./datasets.css";

type Field = { name: string; type: string; kind: string; nullable?: boolean };
export type DatasetVersion = {
  name: string;
  version: number;
  digest: string;
  file?: string;
  format?: string;
  size?: number;
  rows?: number;
  schema?: { fields?: Field[] };
  description?: string;
  created_at?: number;
};
type Top = { value: string | number; count: number };
type ColumnProfile = {
  name: string;
  type: string;
  kind: string;
  count: number;
  nulls: number;
  distinct: number;
  distinct_exact?: boolean;
  numbers?: { min: number; max: number; mean: number; std: number; quantiles?: Record<string, number> };
  top?: Top[];
  values?: { exact?: boolean; items?: [string | number, number][] };
};
type Profile = { version: number; rows: number; columns: ColumnProfile[] };
type DriftColumn = {
  name: string;
  type: string;
  kind: string;
  method: string;
  method_name: string;
  score: number;
  statistic?: number;
  score_is_p_value?: boolean;
  threshold: number;
  drifted: boolean;
  approximate?: boolean;
  histogram?: { edges?: number[]; labels?: string[]; reference: number[]; current: number[] };
};
export type DriftReport = {
  source: string;
  reference_rows: number;
  current_rows: number;
  drift_share: number;
  number_of_columns: number;
  number_of_drifted_columns: number;
  share_of_drifted_columns: number;
  dataset_drift: boolean;
  columns?: DriftColumn[];
  skipped?: { name: string; reason: string }[];
};
type DriftWindow = {
  id: number;
  model?: string;
  version?: string;
  reference?: string;
  start_ms: number;
  end_ms: number;
  rows: number;
  dataset_drift: boolean;
  drifted_columns?: string[];
};

const enc = encodeURIComponent;

function bytes(n?: number): string {
  if (n === undefined) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0, v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i ? `${v.toFixed(1)} ${units[i]}` : `${n} B`;
}

function percent(share: number): string {
  return `${Math.round(share * 1000) / 10}%`;
}

function useLoad<T>(load: () => Promise<T>, deps: unknown[]): [T | undefined, string] {
  const [value, setValue] = useState<T | undefined>();
  const [error, setError] = useState("");
  useEffect(() => {
    let live = true;
    setValue(undefined);
    setError("");
    load().then((v) => live && setValue(v), (err) => live && setError(message(err)));
    return () => { live = false; };
  }, deps);
  return [value, error];
}

export function Datasets() {
  const [list, error] = useLoad(() => call<{ datasets?: DatasetVersion[] }>("/api/v1/datasets"), []);
  return (
    <section>
      <h1>Datasets</h1>
      {error && <p role="alert" class="error">{error}</p>}
      {!list && !error && <p>Loading…</p>}
      {list && (list.datasets?.length ? (
        <table class="list datasets">
          <caption class="caption muted">{list.datasets.length} dataset{list.datasets.length === 1 ? "" : "s"}, newest version of each</caption>
          <thead>
            <tr><th scope="col">Name</th><th scope="col" class="num">Versions</th><th scope="col" class="num">Rows</th><th scope="col" class="num">Columns</th><th scope="col">Format</th><th scope="col">Registered</th></tr>
          </thead>
          <tbody>
            {list.datasets.map((d) => (
              <tr key={d.name}>
                <td><a href={href("datasets", d.name)}>{d.name}</a></td>
                <td class="num">{d.version}</td>
                <td class="num">{d.rows != null && formatCount(d.rows)}</td>
                <td class="num">{d.schema?.fields?.length ?? ""}</td>
                <td>{d.format}</td>
                <td>{formatTime(d.created_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : <p>No dataset is registered yet: <code>mlship data add NAME FILE</code> registers one.</p>)}
    </section>
  );
}

function Crumbs({ name }: { name?: string }) {
  return (
    <p class="breadcrumb">
      <a href={href("datasets")}>Datasets</a> /{name && <> <a href={href("datasets", name)}>{name}</a> /</>}
    </p>
  );
}

function versionsOf(name: string) {
  return call<{ datasets?: DatasetVersion[] }>(`/api/v1/datasets/${enc(name)}/versions`).then((r) => r.datasets ?? []);
}

export function DatasetPage({ name }: { name: string }) {
  const [versions, error] = useLoad(() => versionsOf(name), [name]);
  return (
    <section>
      <Crumbs />
      <h1>{name}</h1>
      {error && <p role="alert" class="error">{error}</p>}
      {!versions && !error && <p>Loading…</p>}
      {versions && (
        <>
          <DriftPicker name={name} versions={versions} reference={versions[1]?.version ?? versions[0]?.version} current={versions[0]?.version} />
          <table class="list">
            <caption class="caption muted">{versions.length} version{versions.length === 1 ? "" : "s"}, newest first</caption>
            <thead>
              <tr><th scope="col" class="num">Version</th><th scope="col">Digest</th><th scope="col" class="num">Rows</th><th scope="col">Format</th><th scope="col" class="num">Size</th><th scope="col">File</th><th scope="col">Registered</th></tr>
            </thead>
            <tbody>
              {versions.map((v) => (
                <tr key={v.version}>
                  <td class="num"><a href={href("datasets", name, "versions", v.version)} aria-label={`version ${v.version}`}>{v.version}</a></td>
                  <td><code class="digest">{v.digest}</code></td>
                  <td class="num">{v.rows != null && formatCount(v.rows)}</td>
                  <td>{v.format}</td>
                  <td class="num">{bytes(v.size)}</td>
                  <td>{v.file}</td>
                  <td>{formatTime(v.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

function DriftPicker({ name, versions, reference, current }: { name: string; versions: DatasetVersion[]; reference?: number | string; current?: number | string }) {
  const [ref, setRef] = useState(String(reference ?? ""));
  const [cur, setCur] = useState(String(current ?? ""));
  useEffect(() => { setRef(String(reference ?? "")); setCur(String(current ?? "")); }, [reference, current]);
  if (versions.length < 1) return null;
  return (
    <form class="toolbar" onSubmit={(e) => { e.preventDefault(); navigate(`${href("datasets", name, "drift")}?reference=${enc(ref)}&current=${enc(cur)}`); }}>
      <label>
        Reference
        <select value={ref} onChange={(e) => setRef(e.currentTarget.value)}>
          {versions.map((v) => <option key={v.version} value={String(v.version)}>version {v.version}</option>)}
        </select>
      </label>
      <label>
        Current
        <select value={cur} onChange={(e) => setCur(e.currentTarget.value)}>
          {versions.map((v) => <option key={v.version} value={String(v.version)}>version {v.version}</option>)}
        </select>
      </label>
      <button type="submit" class="primary">Compare for drift</button>
    </form>
  );
}

/** Equal-width bins over a column's exact values (value, count); null when they are not exact. */
function bins(c: ColumnProfile, n = 12): { labels: string[]; counts: number[] } | null {
  const items = c.values?.items;
  if (!c.numbers || !c.values?.exact || !items?.length) return null;
  const { min, max } = c.numbers;
  if (max === min) return { labels: [formatValue(min)], counts: [items.reduce((s, [, k]) => s + k, 0)] };
  const w = (max - min) / n;
  const counts = new Array(n).fill(0);
  for (const [v, k] of items) counts[Math.min(n - 1, Math.floor((Number(v) - min) / w))] += k;
  return { labels: counts.map((_, i) => `${formatValue(min + i * w)} to ${formatValue(min + (i + 1) * w)}`), counts };
}

/** Vertical bars: one series (a profile) or two side by side (reference and current). */
function Bars({ label, labels, series, width = 260, height = 70 }: { label: string; labels: string[]; series: number[][]; width?: number; height?: number }) {
  const top = Math.max(...series.flat(), 0) || 1;
  const slot = width / labels.length;
  const bar = Math.max(1, (slot - 2) / series.length);
  return (
    <svg class="bars" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label}>
      <title>{label}</title>
      {labels.map((l, i) => series.map((s, j) => {
        const h = (s[i] / top) * (height - 2);
        return (
          <rect key={`${i}-${j}`} class={`series-${series.length === 1 ? "one" : j === 0 ? "reference" : "current"}`}
            x={i * slot + 1 + j * bar} y={height - h} width={bar} height={h}>
            <title>{`${l}: ${formatValue(s[i])}`}</title>
          </rect>
        );
      }))}
      <line class="base" x1={0} x2={width} y1={height - 0.5} y2={height - 0.5} />
    </svg>
  );
}

function ColumnChart({ c }: { c: ColumnProfile }) {
  const b = bins(c);
  if (b) return <Bars label={`${c.name}: histogram of ${c.count} values from ${formatValue(c.numbers!.min)} to ${formatValue(c.numbers!.max)}`} labels={b.labels} series={[b.counts]} />;
  const top = (c.top ?? []).slice(0, 8);
  if (!top.length) return <span class="muted">—</span>;
  const most = top[0].count || 1;
  return (
    <ul class="topvalues" aria-label={`${c.name}: most frequent values`}>
      {top.map((t) => (
        <li key={String(t.value)}>
          <span class="value">{String(t.value)}</span>
          <span class="meter" aria-hidden="true"><span style={{ width: `${(t.count / most) * 100}%` }} /></span>
          <span class="num">{formatCount(t.count)}</span>
        </li>
      ))}
    </ul>
  );
}

export function ProfilePage({ name, version }: { name: string; version: string }) {
  const [data, error] = useLoad(() => Promise.all([
    call<DatasetVersion>(`/api/v1/datasets/${enc(name)}/versions/${enc(version)}`),
    call<Profile>(`/api/v1/datasets/${enc(name)}/versions/${enc(version)}/profile`),
  ]), [name, version]);
  const [v, profile] = data ?? [];
  return (
    <section>
      <Crumbs name={name} />
      <h1>{name} version {version}</h1>
      {error && <p role="alert" class="error">{error}</p>}
      {!data && !error && <p>Loading…</p>}
      {v && profile && (
        <>
          <dl class="facts">
            <dt>Digest</dt><dd><code class="digest">{v.digest}</code></dd>
            <dt>File</dt><dd>{v.file} ({v.format}, {bytes(v.size)})</dd>
            <dt>Rows</dt><dd>{v.rows != null && formatCount(v.rows)}</dd>
            <dt>Registered</dt><dd>{formatTime(v.created_at)}</dd>
            {v.description && <><dt>Description</dt><dd>{v.description}</dd></>}
          </dl>
          <h2>Profile</h2>
          <table class="list profile">
            <caption class="caption muted">{profile.columns.length} columns</caption>
            <thead>
              <tr>
                <th scope="col">Column</th><th scope="col">Kind</th><th scope="col" class="num">Missing</th><th scope="col" class="num">Distinct</th>
                <th scope="col" class="num">Min</th><th scope="col" class="num">Mean</th><th scope="col" class="num">Max</th><th scope="col">Values</th>
              </tr>
            </thead>
            <tbody>
              {profile.columns.map((c) => (
                <tr key={c.name} data-column={c.name}>
                  <th scope="row">{c.name}</th>
                  <td>{c.kind} <span class="muted">({c.type})</span></td>
                  <td class="num" data-field="missing">{formatCount(c.nulls)}{c.nulls > 0 && <span class="muted"> ({percent(c.nulls / (profile.rows || 1))})</span>}</td>
                  <td class="num" data-field="distinct">{c.distinct_exact === false ? "≈ " : ""}{formatCount(c.distinct)}</td>
                  <td class="num">{c.numbers ? formatValue(c.numbers.min) : ""}</td>
                  <td class="num">{c.numbers ? formatValue(c.numbers.mean) : ""}</td>
                  <td class="num">{c.numbers ? formatValue(c.numbers.max) : ""}</td>
                  <td><ColumnChart c={c} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

function Legend() {
  return (
    <p class="legend small">
      <span><span class="swatch series-reference" aria-hidden="true" /> reference</span>{" "}
      <span><span class="swatch series-current" aria-hidden="true" /> current</span>
    </p>
  );
}

function DriftTable({ report }: { report: DriftReport }) {
  return (
    <>
      <p class={`verdict ${report.dataset_drift ? "drift-drifted" : "drift-ok"}`} data-verdict={report.dataset_drift ? "drifted" : "ok"}>
        <strong>{report.dataset_drift ? "Dataset drift detected" : "No dataset drift"}</strong>
        {": "}{report.number_of_drifted_columns} of {report.number_of_columns} columns drifted ({percent(report.share_of_drifted_columns)});
        the dataset drifts from {percent(report.drift_share)} of its columns. Reference {formatCount(report.reference_rows)} rows,
        current {formatCount(report.current_rows)} rows, compared from their {report.source === "profiles" ? "stored profiles" : "data"}.
      </p>
      <Legend />
      <table class="list drift">
        <caption class="skip">Drift per column</caption>
        <thead>
          <tr>
            <th scope="col">Column</th><th scope="col">Kind</th><th scope="col">Method</th><th scope="col" class="num">Statistic</th>
            <th scope="col" class="num">Score</th><th scope="col" class="num">Threshold</th><th scope="col">Drifted</th><th scope="col">Reference and current</th>
          </tr>
        </thead>
        <tbody>
          {(report.columns ?? []).map((c) => {
            const h = c.histogram;
            const labels = h ? (h.labels ?? (h.edges ?? []).slice(0, -1).map((e, i) => `${formatValue(e)} to ${formatValue(h.edges![i + 1])}`)) : [];
            return (
              <tr key={c.name} data-column={c.name} data-drifted={String(c.drifted)}>
                <th scope="row">{c.name}</th>
                <td>{c.kind}</td>
                <td>{c.method_name}</td>
                <td class="num">{c.statistic === undefined ? "" : formatValue(c.statistic)}</td>
                <td class="num">{formatValue(c.score)} <span class="muted small">{c.score_is_p_value ? "p-value" : "distance"}{c.approximate ? ", approximate" : ""}</span></td>
                <td class="num">{formatValue(c.threshold)}</td>
                <td class={c.drifted ? "drift-drifted" : "drift-ok"}>{c.drifted ? "drifted" : "no"}</td>
                <td>{h && labels.length > 0 && <Bars label={`${c.name}: share of rows per ${h.labels ? "value" : "bin"}, reference and current`} labels={labels} series={[h.reference, h.current]} />}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {report.skipped?.length ? (
        <p class="muted">Not compared: {report.skipped.map((s) => `${s.name} (${s.reason})`).join("; ")}</p>
      ) : null}
    </>
  );
}

export function DriftPage({ name, query }: { name: string; query: URLSearchParams }) {
  const reference = query.get("reference") ?? "";
  const current = query.get("current") ?? "latest";
  const [versions] = useLoad(() => versionsOf(name), [name]);
  const [report, error] = useLoad(() => call<DriftReport>("/api/v1/drift", {
    method: "POST",
    body: { reference: { dataset: name, version: reference || "latest" }, current: { dataset: name, version: current } },
  }), [name, reference, current]);
  return (
    <section>
      <Crumbs name={name} />
      <h1>Drift of {name}: version {reference || "latest"} to {current}</h1>
      {versions && <DriftPicker name={name} versions={versions} reference={reference} current={current === "latest" ? versions[0]?.version : current} />}
      {error && <p role="alert" class="error">{error}</p>}
      {!report && !error && <p>Comparing…</p>}
      {report && <DriftTable report={report} />}
    </section>
  );
}

export function DeploymentDriftPage({ name }: { name: string }) {
  const [data, error] = useLoad(() => call<{ windows?: DriftWindow[] }>(`/api/v1/deployments/${enc(name)}/drift`, { query: { limit: 50 } }), [name]);
  const windows = data?.windows ?? [];
  return (
    <section>
      <p class="breadcrumb"><a href={href("deployments")}>Deployments</a> / <a href={href("deployments", name)}>{name}</a> /</p>
      <h1>Drift of {name}'s traffic</h1>
      {error && <p role="alert" class="error">{error}</p>}
      {!data && !error && <p>Loading…</p>}
      {data && (windows.length ? (
        <table class="list">
          <caption class="caption muted">{windows.length} window{windows.length === 1 ? "" : "s"}, newest first, each compared with its reference (the served model's training data unless the deployment names one)</caption>
          <thead>
            <tr><th scope="col">Window</th><th scope="col" class="num">Rows</th><th scope="col">Model</th><th scope="col">Reference</th><th scope="col">Drift</th><th scope="col">Drifted columns</th></tr>
          </thead>
          <tbody>
            {windows.map((w) => (
              <tr key={w.id}>
                <td>{formatTime(w.start_ms)} – {formatTime(w.end_ms)}</td>
                <td class="num">{formatCount(w.rows)}</td>
                <td>{w.model && <a href={href("models", w.model, "versions", w.version ?? "")}>{w.model} v{w.version}</a>}</td>
                <td>{w.reference && <code>{w.reference}</code>}</td>
                <td class={w.dataset_drift ? "drift-drifted" : "drift-ok"}>{w.dataset_drift ? "drifted" : "no drift"}</td>
                <td>{(w.drifted_columns ?? []).join(", ")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : <p>No window has been compared yet: a deployment with monitoring (<code>spec.monitoring</code>) has its traffic compared window by window.</p>)}
    </section>
  );
}
