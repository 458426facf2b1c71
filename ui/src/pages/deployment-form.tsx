// The form that creates a deployment (POST /api/v1/deployments) or changes one (PUT
// /api/v1/deployments/{name}), the same calls `mlship deploy create` and `mlship deploy
// update` make: the model to serve with completion from the registry (models:/NAME@ALIAS,
// followed as the alias moves, or models:/NAME/VERSION), a canary taking a share of the
// traffic, a shadow receiving a copy, the runtime, the inference policy, payload sampling
// and drift monitoring. The server validates the spec; its message is shown by the form.
import { useEffect, useState } from "preact/hooks";
import { call, message, mlflow } from "../api";
import "./deployment-form.css";

export type Spec = {
  name: string;
  model: string;
  runtime?: string;
  workers?: number;
  canary?: { model: string; weight: number };
  shadow?: { model: string; share: number };
  payload_log?: { sample_rate: number };
  monitoring?: { window?: string; min_rows?: number; reference?: string; webhook?: string };
  inference?: string;
  [other: string]: unknown; // batching, timeout: kept as they are when the form changes the rest
};

type Fields = {
  name: string;
  model: string;
  runtime: string;
  workers: string;
  canary: boolean;
  canaryModel: string;
  canaryPercent: string;
  shadow: boolean;
  shadowModel: string;
  shadowPercent: string;
  inference: string;
  samplePercent: string;
  monitor: boolean;
  reference: string;
  window: string;
  minRows: string;
  webhook: string;
};

const percent = (share: number | undefined, def: number) => String(Math.round((share ?? def) * 1000) / 10);

function fieldsOf(s?: Spec): Fields {
  return {
    name: s?.name ?? "",
    model: s?.model ?? "",
    runtime: s?.runtime ?? "auto",
    workers: s?.workers ? String(s.workers) : "",
    canary: !!s?.canary,
    canaryModel: s?.canary?.model ?? "",
    canaryPercent: percent(s?.canary?.weight, 0.1),
    shadow: !!s?.shadow,
    shadowModel: s?.shadow?.model ?? "",
    shadowPercent: percent(s?.shadow?.share, 1),
    inference: s?.inference ?? "authenticated",
    samplePercent: percent(s?.payload_log?.sample_rate, 0.1),
    monitor: !!s?.monitoring,
    reference: s?.monitoring?.reference ?? "",
    window: s?.monitoring?.window ?? "",
    minRows: s?.monitoring?.min_rows ? String(s.monitoring.min_rows) : "",
    webhook: s?.monitoring?.webhook ?? "",
  };
}

/** The spec the fields say, over base (the deployment's current spec when changing one). */
function specOf(f: Fields, base?: Spec): Spec {
  const s: Spec = { ...(base ?? {}), name: f.name.trim(), model: f.model.trim(), runtime: f.runtime.trim() || "auto" };
  if (f.workers.trim()) s.workers = Number(f.workers);
  else if (!base) delete s.workers;
  s.inference = f.inference;
  if (f.samplePercent.trim()) s.payload_log = { sample_rate: Number(f.samplePercent) / 100 };
  else delete s.payload_log; // the server's default
  if (f.canary) s.canary = { model: f.canaryModel.trim(), weight: Number(f.canaryPercent) / 100 };
  else delete s.canary;
  if (f.shadow) s.shadow = { model: f.shadowModel.trim(), share: Number(f.shadowPercent) / 100 };
  else delete s.shadow;
  if (f.monitor) {
    const m: NonNullable<Spec["monitoring"]> = {};
    if (f.reference.trim()) m.reference = f.reference.trim();
    if (f.window.trim()) m.window = f.window.trim();
    if (f.minRows.trim()) m.min_rows = Number(f.minRows);
    if (f.webhook.trim()) m.webhook = f.webhook.trim();
    s.monitoring = m;
  } else delete s.monitoring;
  return s;
}

type RegisteredModel = { name: string; aliases?: { alias: string; version: string }[]; latest_versions?: { version: string }[] };

/** References to registered models the caller may read: their aliases, then their versions (all of them
 * for the models named in the form's fields, the latest otherwise). */
function useModelRefs(named: string[]): string[] {
  const [models, setModels] = useState<RegisteredModel[]>([]);
  const [versions, setVersions] = useState<Record<string, string[]>>({});
  useEffect(() => {
    mlflow<{ registered_models?: RegisteredModel[] }>("registered-models/search", { max_results: 200, order_by: ["name ASC"] }, "GET")
      .then((r) => setModels(r.registered_models ?? []), () => {});
  }, []);
  const wanted = named.map((ref) => /^models:\/([^@/]+)/.exec(ref)?.[1]).filter((n): n is string => !!n && models.some((m) => m.name === n) && !versions[n]);
  useEffect(() => {
    for (const name of new Set(wanted)) {
      setVersions((v) => ({ ...v, [name]: [] }));
      mlflow<{ model_versions?: { version: string }[] }>("model-versions/search", { filter: `name='${name.replace(/'/g, "\\'")}'`, max_results: 200 }, "GET")
        .then((r) => setVersions((v) => ({ ...v, [name]: (r.model_versions ?? []).map((x) => x.version) })), () => {});
    }
  }, [wanted.join("\0")]);
  const refs: string[] = [];
  for (const m of models) {
    for (const a of m.aliases ?? []) refs.push(`models:/${m.name}@${a.alias}`);
    const vs = versions[m.name]?.length ? versions[m.name] : (m.latest_versions ?? []).map((v) => v.version);
    for (const v of [...new Set(vs)].sort((a, b) => Number(b) - Number(a))) refs.push(`models:/${m.name}/${v}`);
  }
  return refs;
}

/** Dataset versions (NAME/VERSION) a deployment's drift can be measured against. */
function useDatasetRefs(): string[] {
  const [refs, setRefs] = useState<string[]>([]);
  useEffect(() => {
    call<{ datasets?: { name: string; version: number }[] }>("/api/v1/datasets").then((r) => {
      const out: string[] = [];
      for (const d of r.datasets ?? []) for (let v = d.version; v >= 1; v--) out.push(`${d.name}/${v}`);
      setRefs(out);
    }, () => {});
  }, []);
  return refs;
}

type Props = {
  /** The deployment to change; absent: a new one. */
  current?: Spec;
  /** Whether the caller may change the inference policy (MANAGE on the deployment; the creator has it). */
  mayChangePolicy: boolean;
  done: (name: string) => void;
  cancel?: () => void;
};

export function DeploymentForm({ current, mayChangePolicy, done, cancel }: Props) {
  const [f, setF] = useState<Fields>(() => fieldsOf(current));
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const refs = useModelRefs([f.model, f.canaryModel, f.shadowModel]);
  const datasets = useDatasetRefs();
  const set = <K extends keyof Fields>(k: K) => (e: Event) => {
    const t = e.currentTarget as HTMLInputElement;
    setF((old) => ({ ...old, [k]: t.type === "checkbox" ? t.checked : t.value }));
  };
  const id = current ? `edit-${current.name}` : "new-deployment";
  const editing = !!current;
  return (
    <form
      class="deploy-form"
      aria-labelledby={`${id}-title`}
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError("");
        const spec = specOf(f, current);
        try {
          if (editing) await call(`/api/v1/deployments/${encodeURIComponent(spec.name)}`, { method: "PUT", body: spec });
          else await call("/api/v1/deployments", { method: "POST", body: spec });
          done(spec.name);
        } catch (err) {
          setError(message(err));
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2 id={`${id}-title`}>{editing ? `Change ${current!.name}` : "New deployment"}</h2>
      <datalist id={`${id}-models`}>{refs.map((r) => <option key={r} value={r} />)}</datalist>
      <datalist id={`${id}-datasets`}>{datasets.map((r) => <option key={r} value={r} />)}</datalist>
      <datalist id={`${id}-runtimes`}>{["auto", "onnx", "python", "r"].map((r) => <option key={r} value={r} />)}</datalist>
      <div class="fields">
        {!editing && (
          <label>
            Name
            <input name="name" required value={f.name} onInput={set("name")} placeholder="fraud" pattern="[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}"
              title="letters, digits, '_', '.' and '-', starting with a letter or digit" />
          </label>
        )}
        <label class="wide">
          Model
          <input name="model" required value={f.model} onInput={set("model")} list={`${id}-models`} placeholder="models:/NAME@ALIAS or models:/NAME/VERSION"
            autoComplete="off" />
        </label>
        <label>
          Runtime
          <input name="runtime" value={f.runtime} onInput={set("runtime")} list={`${id}-runtimes`} autoComplete="off" />
        </label>
        <label>
          Workers
          <input name="workers" type="number" min={1} max={256} value={f.workers} onInput={set("workers")} placeholder="CPUs, at most 8" />
        </label>
        <label>
          Payloads sampled (%)
          <input name="sample" type="number" min={0} max={100} step="any" value={f.samplePercent} onInput={set("samplePercent")} />
        </label>
        {mayChangePolicy && (
          <label>
            Inference
            <select name="inference" value={f.inference} onChange={set("inference")}>
              <option value="authenticated">authenticated (a credential with READ)</option>
              <option value="public">public (anyone, without credentials)</option>
            </select>
          </label>
        )}
      </div>
      <fieldset class={f.canary ? "open" : ""}>
        <legend><label><input type="checkbox" checked={f.canary} onChange={set("canary")} /> Canary: a second model takes a share of the requests</label></legend>
        {f.canary && (
          <div class="fields">
            <label class="wide">Canary model <input name="canary" required value={f.canaryModel} onInput={set("canaryModel")} list={`${id}-models`} autoComplete="off" /></label>
            <label>Canary weight (%) <input name="canary-weight" type="number" min={0} max={100} step="any" required value={f.canaryPercent} onInput={set("canaryPercent")} /></label>
          </div>
        )}
      </fieldset>
      <fieldset class={f.shadow ? "open" : ""}>
        <legend><label><input type="checkbox" checked={f.shadow} onChange={set("shadow")} /> Shadow: a candidate gets a copy of the requests, its answers recorded and discarded</label></legend>
        {f.shadow && (
          <div class="fields">
            <label class="wide">Shadow model <input name="shadow" required value={f.shadowModel} onInput={set("shadowModel")} list={`${id}-models`} autoComplete="off" /></label>
            <label>Shadow share (%) <input name="shadow-share" type="number" min={0} max={100} step="any" required value={f.shadowPercent} onInput={set("shadowPercent")} /></label>
          </div>
        )}
      </fieldset>
      <fieldset class={f.monitor ? "open" : ""}>
        <legend><label><input type="checkbox" checked={f.monitor} onChange={set("monitor")} /> Monitor drift of the traffic</label></legend>
        {f.monitor && (
          <div class="fields">
            <label class="wide">Reference dataset <input name="reference" value={f.reference} onInput={set("reference")} list={`${id}-datasets`}
              placeholder="NAME/VERSION (default: the model's training data)" autoComplete="off" /></label>
            <label>Window <input name="window" value={f.window} onInput={set("window")} placeholder="1m" /></label>
            <label>Least rows <input name="min-rows" type="number" min={1} value={f.minRows} onInput={set("minRows")} placeholder="100" /></label>
            <label class="wide">Webhook <input name="webhook" type="url" value={f.webhook} onInput={set("webhook")} placeholder="https://… (a POST when drift is found)" /></label>
          </div>
        )}
      </fieldset>
      {error && <p role="alert" class="error">{error}</p>}
      <div class="toolbar">
        <button type="submit" class="primary" disabled={busy}>{editing ? "Save changes" : "Create deployment"}</button>
        {cancel && <button type="button" onClick={cancel}>Cancel</button>}
      </div>
    </form>
  );
}
