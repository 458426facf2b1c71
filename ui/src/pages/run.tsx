// A run: its overview, params, tags, metric histories as charts, the datasets it used and
// the models it logged (runio.tsx), and its artifacts
// with previews that read only a bounded prefix of a file.
import { useEffect, useState } from "preact/hooks";
import { fetchRaw, message, mlflow } from "../api";
import { ChartOptions, HistoryChart, type Options } from "../history";
import { formatDuration, formatTime } from "../format";
import { href } from "../router";
import type { KV, Run } from "./runs";
import { RunDatasets, RunModels, type RunIO } from "./runio";

export function RunPage({ experimentId, runId }: { experimentId: string; runId: string }) {
  const [run, setRun] = useState<RunIO | null>(null);
  const [experimentName, setExperimentName] = useState("");
  const [error, setError] = useState("");
  useEffect(() => {
    mlflow<{ run: RunIO }>("runs/get", { run_id: runId }, "GET").then((r) => setRun(r.run), (err) => setError(message(err)));
    mlflow<{ experiment: { name: string } }>("experiments/get", { experiment_id: experimentId }, "GET")
      .then((r) => setExperimentName(r.experiment.name), () => {});
  }, [experimentId, runId]);

  const crumbs = (
    <p class="breadcrumb">
      <a href={href("experiments")}>Experiments</a> / <a href={href("experiments", experimentId)}>{experimentName || experimentId}</a> /
    </p>
  );
  if (error) return <section>{crumbs}<h1>Run {runId}</h1><p role="alert" class="error">{error}</p></section>;
  if (!run) return <section>{crumbs}<p>Loading…</p></section>;
  const i = run.info;
  const tags = run.data.tags ?? [];
  const tag = (k: string) => tags.find((t) => t.key === k)?.value;
  return (
    <section>
      {crumbs}
      <h1>{i.run_name || i.run_id}</h1>
      <h2>Overview</h2>
      <dl class="facts">
        <dt>Status</dt><dd class={`status-${i.status}`}>{i.status}</dd>
        <dt>Run ID</dt><dd><code>{i.run_id}</code></dd>
        <dt>Started</dt><dd>{formatTime(i.start_time)}</dd>
        <dt>Ended</dt><dd>{formatTime(i.end_time)}</dd>
        <dt>Duration</dt><dd>{formatDuration(i.start_time, i.end_time)}</dd>
        <dt>User</dt><dd>{i.user_id || tag("mlflow.user")}</dd>
        <dt>Source</dt><dd>{[tag("mlflow.source.type"), tag("mlflow.source.name")].filter(Boolean).join(": ")}{tag("mlflow.source.git.commit") ? ` @ ${tag("mlflow.source.git.commit")!.slice(0, 10)}` : ""}</dd>
        <dt>Artifacts</dt><dd><code>{i.artifact_uri}</code></dd>
        {i.lifecycle_stage === "deleted" && <><dt>Lifecycle</dt><dd>deleted</dd></>}
      </dl>
      <h2>Parameters</h2>
      <KVTable rows={run.data.params ?? []} caption="Parameters" empty="No parameters." />
      <Metrics run={run} />
      <RunDatasets run={run} />
      <RunModels run={run} />
      <h2>Tags</h2>
      <KVTable rows={tags.filter((t) => !t.key.startsWith("mlflow."))} caption="Tags" empty="No tags." />
      <Artifacts run={run} />
    </section>
  );
}

function KVTable({ rows, caption, empty }: { rows: KV[]; caption: string; empty: string }) {
  if (!rows.length) return <p class="muted">{empty}</p>;
  return (
    <table class="list">
      <caption class="skip">{caption}</caption>
      <thead><tr><th scope="col">Key</th><th scope="col">Value</th></tr></thead>
      <tbody>
        {[...rows].sort((a, b) => a.key.localeCompare(b.key)).map((r) => (
          <tr key={r.key}><td><code>{r.key}</code></td><td>{r.value}</td></tr>
        ))}
      </tbody>
    </table>
  );
}

function Metrics({ run }: { run: Run }) {
  const keys = (run.data.metrics ?? []).map((m) => m.key).sort();
  const [opts, setOpts] = useState<Options>({ x: "step", log: false, smoothing: 0 });
  return (
    <>
      <h2>Metrics</h2>
      {keys.length === 0 ? <p class="muted">No metrics.</p> : (
        <>
          <ChartOptions opts={opts} set={setOpts} />
          <div class="charts">
            {keys.map((k) => <HistoryChart key={k} runId={run.info.run_id} metric={k} opts={opts} />)}
          </div>
        </>
      )}
    </>
  );
}

type FileInfo = { path: string; is_dir?: boolean; file_size?: number | string };

/** The artifact proxy's URL of path under a run's artifact root, when this server stores it. */
export function artifactURL(root: string | undefined, path: string): string | null {
  if (!root?.startsWith("mlflow-artifacts:")) return null;
  let key = root.slice("mlflow-artifacts:".length);
  if (key.startsWith("//")) key = new URL(root).pathname;
  key = key.replace(/^\/+|\/+$/g, "");
  const parts = [...key.split("/"), ...path.split("/")].filter(Boolean).map(encodeURIComponent);
  return "/api/2.0/mlflow-artifacts/artifacts/" + parts.join("/");
}

function Artifacts({ run }: { run: Run }) {
  const [dir, setDir] = useState("");
  const [files, setFiles] = useState<FileInfo[] | null>(null);
  const [error, setError] = useState("");
  const [selected, setSelected] = useState<FileInfo | null>(null);
  useEffect(() => {
    setFiles(null);
    mlflow<{ files?: FileInfo[] }>("artifacts/list", { run_id: run.info.run_id, path: dir }, "GET").then(
      (r) => { setFiles(r.files ?? []); setError(""); }, (err) => setError(message(err)));
  }, [run.info.run_id, dir]);
  const up = dir.includes("/") ? dir.slice(0, dir.lastIndexOf("/")) : "";
  return (
    <>
      <h2>Artifacts</h2>
      {error && <p role="alert" class="error">{error}</p>}
      <div class="artifacts">
        <nav aria-label="Artifact files">
          {dir && <p><button type="button" class="link" onClick={() => setDir(up)}>↑ {up || "(root)"}</button> <span class="muted">/{dir}</span></p>}
          {files === null ? <p>Loading…</p> : files.length === 0 ? <p class="muted">No artifacts here.</p> : (
            <ul>
              {files.map((f) => (
                <li key={f.path}>
                  <button type="button" aria-current={selected?.path === f.path ? "true" : undefined}
                    onClick={() => (f.is_dir ? setDir(f.path) : setSelected(f))}>
                    {f.is_dir ? "📁 " : ""}{f.path.slice(f.path.lastIndexOf("/") + 1)}
                  </button>
                  {!f.is_dir && f.file_size !== undefined && <span class="muted"> {size(Number(f.file_size))}</span>}
                </li>
              ))}
            </ul>
          )}
        </nav>
        <div class="preview" aria-live="polite">
          {selected ? <Preview key={selected.path} file={selected} url={artifactURL(run.info.artifact_uri, selected.path)} /> : <p class="muted">Choose a file to preview it.</p>}
        </div>
      </div>
    </>
  );
}

function size(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
  return `${n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

const TEXT_LIMIT = 64 * 1024;
const IMAGE_LIMIT = 8 * 1024 * 1024;
const textLike = /(^|\/)(MLmodel|LICENSE|README|Dockerfile|requirements[^/]*)$|\.(txt|log|json|jsonl|yaml|yml|csv|tsv|md|py|r|sql|toml|ini|cfg|xml|html|sh|js|ts)$/i;
const imageType: Record<string, string> = { png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", gif: "image/gif", webp: "image/webp", svg: "image/svg+xml", bmp: "image/bmp" };

/** Reads at most limit bytes of url: asks for a Range, and stops the stream there either way. */
export async function readPrefix(url: string, limit: number): Promise<{ bytes: Uint8Array; complete: boolean }> {
  const res = await fetchRaw(url, { headers: { Accept: "*/*", Range: `bytes=0-${limit - 1}` } });
  const total = Number(res.headers.get("Content-Range")?.split("/")[1] ?? res.headers.get("Content-Length") ?? NaN);
  const reader = res.body!.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  while (n < limit) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    n += value.length;
  }
  if (n >= limit) await reader.cancel();
  const bytes = new Uint8Array(Math.min(n, limit));
  let off = 0;
  for (const c of chunks) {
    const part = c.subarray(0, bytes.length - off);
    bytes.set(part, off);
    off += part.length;
  }
  const complete = Number.isFinite(total) ? bytes.length >= total : n < limit;
  return { bytes, complete };
}

const CSV_ROWS = 200;

/** Parses CSV (RFC 4180: quoted fields, doubled quotes, newlines inside quotes) or, with
 * sep "\t", TSV; stops after limit rows. A final row cut off by the prefix is left out. */
export function parseCSV(text: string, complete: boolean, limit: number, sep = ","): string[][] {
  const rows: string[][] = [];
  let row: string[] = [], field = "", quoted = false, i = 0, rowStart = 0;
  const n = text.length;
  while (i < n && rows.length < limit) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
        quoted = false;
      } else field += c;
      i++;
      continue;
    }
    if (c === '"' && field === "") { quoted = true; i++; continue; }
    if (c === sep) { row.push(field); field = ""; i++; continue; }
    if (c === "\n" || c === "\r") {
      row.push(field);
      rows.push(row);
      row = []; field = "";
      i += c === "\r" && text[i + 1] === "\n" ? 2 : 1;
      rowStart = i;
      continue;
    }
    field += c;
    i++;
  }
  if (rows.length < limit && rowStart < n && (complete || false)) { row.push(field); rows.push(row); }
  return rows;
}

/** YAML as spans: comments, keys, and the list dashes, for highlighting (no evaluation). */
function highlightYAML(text: string) {
  const lines = text.split("\n");
  return lines.map((line, i) => {
    const nl = i < lines.length - 1 ? "\n" : "";
    const comment = /^(\s*)(#.*)$/.exec(line);
    if (comment) return <span key={i}>{comment[1]}<span class="y-comment">{comment[2]}</span>{nl}</span>;
    const m = /^(\s*(?:- )?)([^\s:#][^:]*?)(:)(\s.*|)$/.exec(line);
    if (m) return <span key={i}>{m[1]}<span class="y-key">{m[2]}</span>{m[3]}<span class="y-value">{m[4]}</span>{nl}</span>;
    return <span key={i}>{line}{nl}</span>;
  });
}

type Flavor = { name: string; fields: [string, string][] };

/** The flavors of an MLmodel file: the keys under "flavors:", each with its scalar fields. */
export function mlmodelFlavors(text: string): Flavor[] {
  const lines = text.split(/\r?\n/);
  const start = lines.findIndex((l) => /^flavors:\s*$/.test(l));
  if (start < 0) return [];
  const flavors: Flavor[] = [];
  let indent = -1;
  for (const line of lines.slice(start + 1)) {
    if (!line.trim() || line.trim().startsWith("#")) continue;
    const depth = line.length - line.trimStart().length;
    if (depth === 0) break;
    if (indent < 0) indent = depth;
    const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    if (depth === indent) flavors.push({ name: m[1].trim(), fields: [] });
    else if (flavors.length && m[2] !== "" && depth <= indent * 2) flavors[flavors.length - 1].fields.push([m[1].trim(), m[2].replace(/^['"]|['"]$/g, "")]);
  }
  return flavors;
}

function Preview({ file, url }: { file: FileInfo; url: string | null }) {
  const [state, setState] = useState<{ text?: string; image?: string; note?: string; error?: string; complete?: boolean }>({});
  const name = file.path.slice(file.path.lastIndexOf("/") + 1);
  const ext = name.includes(".") ? name.slice(name.lastIndexOf(".") + 1).toLowerCase() : "";
  const fileSize = Number(file.file_size ?? NaN);
  useEffect(() => {
    if (!url) { setState({ note: "This run's artifacts are not stored by this server: no preview." }); return; }
    let objectURL = "";
    (async () => {
      if (imageType[ext]) {
        if (fileSize > IMAGE_LIMIT) return setState({ note: `Too large to preview (${size(fileSize)}).` });
        const { bytes, complete } = await readPrefix(url, IMAGE_LIMIT);
        if (!complete) return setState({ note: "Too large to preview." });
        objectURL = URL.createObjectURL(new Blob([bytes as BlobPart], { type: imageType[ext] }));
        return setState({ image: objectURL });
      }
      if (!textLike.test(name) && ext !== "") return setState({ note: "No preview for this type of file." });
      const { bytes, complete } = await readPrefix(url, TEXT_LIMIT);
      let text = new TextDecoder().decode(bytes);
      if (complete && ext === "json") {
        try { text = JSON.stringify(JSON.parse(text), null, 2); } catch { /* shown as it is */ }
      }
      setState({ text, complete, note: complete ? "" : `The first ${size(bytes.length)}${Number.isFinite(fileSize) ? ` of ${size(fileSize)}` : ""}.` });
    })().catch((err) => setState({ error: message(err) }));
    return () => { if (objectURL) URL.revokeObjectURL(objectURL); };
  }, [url]);
  return (
    <div>
      <h3 style="margin-top:0">{file.path}</h3>
      {state.error && <p role="alert" class="error">{state.error}</p>}
      {state.note && <p class="muted">{state.note}</p>}
      {state.text !== undefined && <TextPreview name={name} ext={ext} text={state.text} complete={!!state.complete} />}
      {state.image && <img src={state.image} alt={`The image ${name}`} />}
    </div>
  );
}

function TextPreview({ name, ext, text, complete }: { name: string; ext: string; text: string; complete: boolean }) {
  const label = `Contents of ${name}`;
  if (ext === "csv" || ext === "tsv") {
    const rows = parseCSV(text, complete, CSV_ROWS + 1, ext === "tsv" ? "\t" : ",");
    if (rows.length) {
      const [head, ...body] = rows;
      const shown = body.slice(0, CSV_ROWS);
      return (
        <>
          <p class="muted">{shown.length} row{shown.length === 1 ? "" : "s"}{body.length > CSV_ROWS || !complete ? " shown: the file has more" : ""}.</p>
          <div class="scroll-x csv" tabIndex={0} role="region" aria-label={label}>
            <table class="list">
              <caption class="skip">{name}</caption>
              <thead><tr>{head.map((h, i) => <th key={i} scope="col">{h}</th>)}</tr></thead>
              <tbody>{shown.map((r, i) => <tr key={i}>{head.map((_, j) => <td key={j}>{r[j] ?? ""}</td>)}</tr>)}</tbody>
            </table>
          </div>
        </>
      );
    }
  }
  if (ext === "html" || ext === "htm") {
    // No script runs (sandbox without allow-scripts) and the frame's origin is opaque:
    // it cannot read the app, its cookies or its storage.
    return (
      <>
        <p class="muted">Shown in a sandbox: no scripts, no access to this page.</p>
        <iframe class="html-preview" sandbox="" srcdoc={text} title={`Preview of ${name}`} referrerpolicy="no-referrer" />
      </>
    );
  }
  if (name === "MLmodel" || ext === "yaml" || ext === "yml") {
    const flavors = name === "MLmodel" ? mlmodelFlavors(text) : [];
    return (
      <>
        {flavors.length > 0 && (
          <table class="list flavors">
            <caption>Flavors</caption>
            <thead><tr><th scope="col">Flavor</th><th scope="col">Details</th></tr></thead>
            <tbody>
              {flavors.map((f) => (
                <tr key={f.name} data-flavor={f.name}>
                  <td><code>{f.name}</code></td>
                  <td>{f.fields.map(([k, v]) => `${k}: ${v}`).join("; ")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <pre tabIndex={0} aria-label={label} class="yaml">{highlightYAML(text)}</pre>
      </>
    );
  }
  return <pre tabIndex={0} aria-label={label}>{text}</pre>;
}
