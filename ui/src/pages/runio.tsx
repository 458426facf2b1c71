// What a run read and wrote besides params and metrics: the datasets it logged as inputs
// (MLflow's dataset inputs, with their context: training, eval…) and the models it
// logged (MLflow 3 logged models whose source run it is, and its model outputs), with
// the registered versions made from them.
import { useEffect, useState } from "preact/hooks";
import { message, mlflow } from "../api";
import { formatCount, formatTime } from "../format";
import { href } from "../router";
import type { KV, Run } from "./runs";
import { artifactURL, mlmodelFlavors, readPrefix } from "./run";

type Dataset = { name: string; digest: string; source_type: string; source: string; schema?: string; profile?: string };
export type RunIO = Run & {
  inputs?: { dataset_inputs?: { tags?: KV[]; dataset: Dataset }[]; model_inputs?: { model_id: string }[] };
  outputs?: { model_outputs?: { model_id: string; step?: number | string }[] };
};

type LoggedModel = {
  info: {
    model_id: string; name: string; artifact_uri?: string; status?: string; model_type?: string; source_run_id?: string;
    creation_timestamp_ms?: number | string; tags?: KV[];
  };
};
type Version = { name: string; version: string; source: string; run_id?: string; aliases?: string[] };

function parse(json: string | undefined): Record<string, unknown> | null {
  try {
    const v = json ? JSON.parse(json) : null;
    return v && typeof v === "object" ? v : null;
  } catch {
    return null;
  }
}

/** Where a dataset came from, in a few words: its URI, path, table or URL. */
function sourceText(d: Dataset): string {
  const s = parse(d.source);
  if (!s) return d.source ?? "";
  for (const k of ["uri", "url", "path", "table_name", "file_path", "source"]) if (typeof s[k] === "string") return s[k] as string;
  return Object.keys(s).length ? JSON.stringify(s) : "";
}

/** Rows and columns, from the profile and the schema MLflow records. */
function shapeText(d: Dataset): string {
  const p = parse(d.profile);
  const schema = parse(d.schema);
  const cols = Array.isArray((schema?.mlflow_colspec as unknown[]) ?? null) ? (schema!.mlflow_colspec as unknown[]).length : undefined;
  const rows = p && (p.num_rows ?? p.num_elements);
  return [rows !== undefined && rows !== null ? `${formatCount(Number(rows))} rows` : "", cols !== undefined ? `${cols} columns` : ""].filter(Boolean).join(", ");
}

export function RunDatasets({ run }: { run: RunIO }) {
  const inputs = run.inputs?.dataset_inputs ?? [];
  return (
    <>
      <h2>Datasets</h2>
      {inputs.length === 0 ? <p class="muted">No datasets logged as inputs.</p> : (
        <table class="list">
          <caption class="skip">Datasets the run used</caption>
          <thead>
            <tr><th scope="col">Name</th><th scope="col">Context</th><th scope="col">Digest</th><th scope="col">Source type</th><th scope="col">Source</th><th scope="col">Shape</th></tr>
          </thead>
          <tbody>
            {inputs.map((d, i) => (
              <tr key={i}>
                <td>{d.dataset.name}</td>
                <td>{d.tags?.find((t) => t.key === "mlflow.data.context")?.value ?? ""}</td>
                <td><code>{d.dataset.digest}</code></td>
                <td>{d.dataset.source_type}</td>
                <td style={{ wordBreak: "break-all" }}>{sourceText(d.dataset)}</td>
                <td>{shapeText(d.dataset)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** The flavors a logged model's MLmodel file names (its first 16 KB), python_function last. */
async function flavorsOf(m: LoggedModel): Promise<string> {
  const url = artifactURL(m.info.artifact_uri, "MLmodel");
  if (!url) return m.info.model_type ?? "";
  const { bytes } = await readPrefix(url, 16 * 1024);
  const names = mlmodelFlavors(new TextDecoder().decode(bytes)).map((f) => f.name);
  return names.sort((a, b) => Number(a === "python_function") - Number(b === "python_function")).join(", ");
}

/** The registered versions made from a logged model: registered from models:/ID, or from its artifacts. */
function versionsOf(m: LoggedModel, versions: Version[]): Version[] {
  const uri = m.info.artifact_uri ?? "";
  return versions.filter((v) => v.source === `models:/${m.info.model_id}` || v.source.includes(m.info.model_id) || (uri !== "" && v.source === uri));
}

export function RunModels({ run }: { run: RunIO }) {
  const [models, setModels] = useState<LoggedModel[] | null>(null);
  const [versions, setVersions] = useState<Version[]>([]);
  const [error, setError] = useState("");
  const [flavors, setFlavors] = useState<Record<string, string>>({});
  const runId = run.info.run_id;
  useEffect(() => {
    setModels(null);
    setError("");
    mlflow<{ models?: LoggedModel[] }>("logged-models/search", {
      experiment_ids: [run.info.experiment_id], filter: `source_run_id = '${runId}'`, max_results: 100,
    }).then((r) => {
      setModels(r.models ?? []);
      for (const m of (r.models ?? []).slice(0, 20)) {
        flavorsOf(m).then((f) => setFlavors((old) => ({ ...old, [m.info.model_id]: f })), () => {});
      }
    }, (err) => { setModels([]); setError(message(err)); });
    mlflow<{ model_versions?: Version[] }>("model-versions/search", { filter: `run_id = '${runId}'`, max_results: 200 }, "GET")
      .then((r) => setVersions(r.model_versions ?? []), () => {});
  }, [runId]);

  // Model outputs the search did not find (a model logged in another experiment's run).
  const outputs = (run.outputs?.model_outputs ?? []).filter((o) => !models?.some((m) => m.info.model_id === o.model_id));
  const matched = new Set((models ?? []).flatMap((m) => versionsOf(m, versions)));
  const others = versions.filter((v) => !matched.has(v));
  return (
    <>
      <h2>Logged models</h2>
      {error && <p role="alert" class="error">{error}</p>}
      {models === null ? <p class="muted">Loading…</p> : models.length === 0 && outputs.length === 0 ? <p class="muted">No models logged by this run.</p> : (
        <table class="list">
          <caption class="skip">Models the run logged</caption>
          <thead>
            <tr><th scope="col">Name</th><th scope="col">Model ID</th><th scope="col">Flavor</th><th scope="col">Artifacts</th><th scope="col">Status</th><th scope="col">Registered versions</th></tr>
          </thead>
          <tbody>
            {models.map((m) => (
              <tr key={m.info.model_id}>
                <td>{m.info.name}</td>
                <td><code>{m.info.model_id}</code></td>
                <td>{flavors[m.info.model_id] ?? ""}</td>
                <td style={{ wordBreak: "break-all" }}><code>{m.info.artifact_uri}</code></td>
                <td title={formatTime(m.info.creation_timestamp_ms)}>{m.info.status}</td>
                <td><VersionLinks versions={versionsOf(m, versions)} /></td>
              </tr>
            ))}
            {outputs.map((o) => (
              <tr key={o.model_id}>
                <td class="muted">model output</td>
                <td><code>{o.model_id}</code></td>
                <td /><td /><td />
                <td><VersionLinks versions={versions.filter((v) => v.source.includes(o.model_id))} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {others.length > 0 && (
        <p>Registered from this run's artifacts: <VersionLinks versions={others} /></p>
      )}
    </>
  );
}

function VersionLinks({ versions }: { versions: Version[] }) {
  if (!versions.length) return <span class="muted">not registered</span>;
  return (
    <>
      {versions.map((v, i) => (
        <span key={`${v.name}/${v.version}`}>
          {i > 0 && ", "}
          <a href={href("models", v.name, "versions", v.version)}>{v.name} v{v.version}</a>
          {v.aliases?.length ? <span class="muted"> @{v.aliases.join(", @")}</span> : null}
        </span>
      ))}
    </>
  );
}
