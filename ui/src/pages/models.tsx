// The model registry: registered models (MLflow's registered-models/search, searched by
// name, a page at a time), a model's versions, aliases and gate verdicts, and a version's
// files, lineage graph and gate evaluations. Moving an alias goes through the same API as
// `mlship models alias`, so a protected alias moves only past the gate.
import { useEffect, useState } from "preact/hooks";
import { call, message, mlflow } from "../api";
import { useCan } from "../can";
import { usePaged } from "../paged";
import { formatCount, formatTime, formatValue } from "../format";
import { href, navigate } from "../router";
import { LineageGraph, type Graph } from "./lineage";
import "./registry.css";

type Tag = { key: string; value: string };
type Alias = { alias: string; version: string };
export type ModelVersion = {
  name: string;
  version: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  source?: string;
  run_id?: string;
  status?: string;
  description?: string;
  user_id?: string;
  tags?: Tag[];
  aliases?: string[];
};
type RegisteredModel = {
  name: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  description?: string;
  latest_versions?: ModelVersion[];
  tags?: Tag[];
  aliases?: Alias[];
};
type Evaluation = {
  id: number;
  version: string;
  alias?: string;
  status: string;
  dataset?: string;
  runtime?: string;
  baseline_version?: string;
  passed?: boolean;
  error?: string;
  finished_at?: number;
  created_at?: number;
  result?: { metrics?: Record<string, number> };
  verdict?: { passed?: boolean; summary?: string; results?: { metric: string; check: string; candidate?: number; baseline?: number; bound?: number; passed: boolean; reason?: string }[] };
};

const PAGE = 50;

function quoted(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/'/g, "\\'");
}

function tagOf(tags: Tag[] | undefined, key: string): string | undefined {
  return tags?.find((t) => t.key === key)?.value;
}

/** The gate verdicts a version carries: mlship.gate.<alias> = passed | failed. */
function gateVerdicts(tags: Tag[] | undefined): { alias: string; verdict: string }[] {
  return (tags ?? [])
    .filter((t) => /^mlship\.gate\.[^.]+$/.test(t.key))
    .map((t) => ({ alias: t.key.slice("mlship.gate.".length), verdict: t.value }));
}

function Verdicts({ tags }: { tags?: Tag[] }) {
  const v = gateVerdicts(tags);
  if (!v.length) return <span class="muted">—</span>;
  return (
    <>
      {v.map((g) => (
        <span key={g.alias} class={`badge verdict-${g.verdict}`}>{g.alias}: {g.verdict}</span>
      ))}
    </>
  );
}

export function Models({ query }: { query: URLSearchParams }) {
  const search = query.get("q") ?? "";
  const [text, setText] = useState(search);
  useEffect(() => setText(search), [search]);
  const { rows, next, error, loading, more } = usePaged<RegisteredModel>(async (token) => {
    const page = await mlflow<{ registered_models?: RegisteredModel[]; next_page_token?: string }>("registered-models/search", {
      max_results: PAGE, page_token: token, filter: search ? `name ILIKE '%${quoted(search)}%'` : "", order_by: ["name ASC"],
    }, "GET");
    return { rows: page.registered_models ?? [], next: page.next_page_token };
  }, [search]);

  return (
    <section>
      <h1>Models</h1>
      <div class="toolbar">
        <form role="search" class="grow" onSubmit={(e) => { e.preventDefault(); navigate(text ? `#/models?q=${encodeURIComponent(text)}` : "#/models", true); }}>
          <label>
            Search by name
            <input type="search" value={text} onInput={(e) => setText(e.currentTarget.value)} placeholder="part of a name" />
          </label>
        </form>
      </div>
      {error && <p role="alert" class="error">{error}</p>}
      <table class="list">
        <caption class="muted caption">
          {loading ? "Loading…" : `${rows.length}${next ? "+" : ""} model${rows.length === 1 ? "" : "s"}${search ? ` matching “${search}”` : ""}`}
        </caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Latest version</th>
            <th scope="col">Aliases</th>
            <th scope="col">Owner</th>
            <th scope="col">Last updated</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((m) => (
            <tr key={m.name}>
              <td><a href={href("models", m.name)}>{m.name}</a></td>
              <td class="num">{m.latest_versions?.map((v) => v.version).sort((a, b) => Number(b) - Number(a))[0] ?? ""}</td>
              <td>{(m.aliases ?? []).map((a) => <span key={a.alias} class="badge">@{a.alias} → v{a.version}</span>)}</td>
              <td>{tagOf(m.tags, "mlship.owner") ?? ""}</td>
              <td>{formatTime(m.last_updated_timestamp)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {next && <p><button type="button" disabled={loading} onClick={more}>Show more</button></p>}
    </section>
  );
}

export function ModelPage({ name }: { name: string }) {
  const [model, setModel] = useState<RegisteredModel | null>(null);
  const [versions, setVersions] = useState<ModelVersion[]>([]);
  const [next, setNext] = useState<string | undefined>();
  const [error, setError] = useState("");

  const loadVersions = async (token?: string) => {
    const page = await mlflow<{ model_versions?: ModelVersion[]; next_page_token?: string }>("model-versions/search", {
      filter: `name = '${quoted(name)}'`, max_results: PAGE, page_token: token, order_by: ["version_number DESC"],
    }, "GET");
    setVersions((old) => (token ? [...old, ...(page.model_versions ?? [])] : page.model_versions ?? []));
    setNext(page.next_page_token || undefined);
  };
  useEffect(() => {
    setModel(null);
    mlflow<{ registered_model: RegisteredModel }>("registered-models/get", { name }, "GET")
      .then((r) => setModel(r.registered_model), (err) => setError(message(err)));
    loadVersions().catch((err) => setError(message(err)));
  }, [name]);

  const crumbs = <p class="breadcrumb"><a href={href("models")}>Models</a> /</p>;
  if (error) return <section>{crumbs}<h1>{name}</h1><p role="alert" class="error">{error}</p></section>;
  if (!model) return <section>{crumbs}<h1>{name}</h1><p>Loading…</p></section>;
  const aliasesOf = (v: string) => (model.aliases ?? []).filter((a) => a.version === v).map((a) => a.alias);
  const otherTags = (model.tags ?? []).filter((t) => !t.key.startsWith("mlship.owner") && !t.key.startsWith("mlship.contact"));
  return (
    <section>
      {crumbs}
      <h1>{model.name}</h1>
      <dl class="facts">
        <dt>Description</dt><dd class="pre">{model.description || <span class="muted">none</span>}</dd>
        <dt>Owner</dt><dd>{tagOf(model.tags, "mlship.owner") ?? <span class="muted">not set (tag mlship.owner)</span>}</dd>
        <dt>Contact</dt><dd>{tagOf(model.tags, "mlship.contact") ?? <span class="muted">not set (tag mlship.contact)</span>}</dd>
        <dt>Aliases</dt>
        <dd>{(model.aliases ?? []).length ? model.aliases!.map((a) => (
          <span key={a.alias} class="badge"><a href={href("models", name, "versions", a.version)}>@{a.alias} → v{a.version}</a></span>
        )) : <span class="muted">none</span>}</dd>
        <dt>Registered</dt><dd>{formatTime(model.creation_timestamp)}</dd>
        <dt>Last updated</dt><dd>{formatTime(model.last_updated_timestamp)}</dd>
      </dl>
      <p><a href={href("models", name, "gate")}>Benchmark, evaluations, leaderboard and alias audit</a></p>
      {otherTags.length > 0 && (
        <>
          <h2>Tags</h2>
          <TagTable tags={otherTags} caption="Tags of the model" />
        </>
      )}
      <h2>Versions</h2>
      <table class="list">
        <caption class="skip">Versions of {model.name}</caption>
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Aliases</th>
            <th scope="col">Gate</th>
            <th scope="col">Tags</th>
            <th scope="col">Status</th>
            <th scope="col">Registered</th>
          </tr>
        </thead>
        <tbody>
          {versions.map((v) => (
            <tr key={v.version}>
              <td><a href={href("models", name, "versions", v.version)}>Version {v.version}</a></td>
              <td>{aliasesOf(v.version).map((a) => <span key={a} class="badge">@{a}</span>)}</td>
              <td><Verdicts tags={v.tags} /></td>
              <td>{(v.tags ?? []).filter((t) => !t.key.startsWith("mlship.gate.")).map((t) => <span key={t.key} class="badge">{t.key}={t.value}</span>)}</td>
              <td>{v.status}</td>
              <td>{formatTime(v.creation_timestamp)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {next && <p><button type="button" onClick={() => loadVersions(next).catch((err) => setError(message(err)))}>Show more</button></p>}
    </section>
  );
}

function TagTable({ tags, caption }: { tags: Tag[]; caption: string }) {
  return (
    <table class="list">
      <caption class="skip">{caption}</caption>
      <thead><tr><th scope="col">Key</th><th scope="col">Value</th></tr></thead>
      <tbody>{tags.map((t) => <tr key={t.key}><td><code>{t.key}</code></td><td>{t.value}</td></tr>)}</tbody>
    </table>
  );
}

type Lineage = {
  version: { version: string; aliases?: string[]; tags?: Record<string, string>; manifest_digest?: string; source?: string; run_id?: string; user_id?: string; creation_timestamp?: number };
  run?: { run_id: string; experiment_id: string; run_name?: string } | null;
  files: { path: string; size: number; digest: string }[];
  graph: Graph;
};

export function VersionPage({ name, version }: { name: string; version: string }) {
  const [lineage, setLineage] = useState<Lineage | null>(null);
  const [evaluations, setEvaluations] = useState<Evaluation[]>([]);
  const [error, setError] = useState("");
  const [reload, setReload] = useState(0);
  const base = `/api/v1/models/${encodeURIComponent(name)}`;

  useEffect(() => {
    call<Lineage>(`${base}/versions/${encodeURIComponent(version)}/lineage`).then(setLineage, (err) => setError(message(err)));
    call<{ evaluations?: Evaluation[] }>(`${base}/evaluations`, { query: { version } })
      .then((r) => setEvaluations(r.evaluations ?? []), () => setEvaluations([]));
  }, [name, version, reload]);

  const crumbs = <p class="breadcrumb"><a href={href("models")}>Models</a> / <a href={href("models", name)}>{name}</a> /</p>;
  const title = <h1>{name} version {version}</h1>;
  if (error) return <section>{crumbs}{title}<p role="alert" class="error">{error}</p></section>;
  if (!lineage) return <section>{crumbs}{title}<p>Loading…</p></section>;
  const v = lineage.version;
  const tags = Object.entries(v.tags ?? {}).map(([key, value]) => ({ key, value }));
  return (
    <section>
      {crumbs}
      {title}
      <dl class="facts">
        <dt>Aliases</dt><dd>{(v.aliases ?? []).length ? v.aliases!.map((a) => <span key={a} class="badge">@{a}</span>) : <span class="muted">none</span>}</dd>
        <dt>Gate</dt><dd><Verdicts tags={tags} /></dd>
        <dt>Source</dt><dd><code>{v.source}</code></dd>
        <dt>Run</dt><dd>{lineage.run ? <a href={href("experiments", lineage.run.experiment_id, "runs", lineage.run.run_id)}>{lineage.run.run_name || lineage.run.run_id}</a> : <span class="muted">none</span>}</dd>
        <dt>Registered</dt><dd>{formatTime(v.creation_timestamp)}{v.user_id ? ` by ${v.user_id}` : ""}</dd>
        <dt>Manifest</dt><dd><code>{v.manifest_digest || "files not stored here"}</code></dd>
      </dl>
      <MoveAlias name={name} version={version} evaluations={evaluations} moved={() => setReload((n) => n + 1)} />
      <h2>Lineage</h2>
      <LineageGraph graph={lineage.graph} />
      <h2>Gate evaluations</h2>
      <Evaluations evaluations={evaluations} />
      <h2>Files</h2>
      {lineage.files.length ? (
        <table class="list">
          <caption class="skip">Files of version {version}</caption>
          <thead><tr><th scope="col">Path</th><th scope="col" class="num">Size</th><th scope="col">SHA-256</th></tr></thead>
          <tbody>
            {lineage.files.map((f) => (
              <tr key={f.path}><td><code>{f.path}</code></td><td class="num">{formatCount(f.size)} B</td><td><code class="digest">{f.digest.replace(/^sha256:/, "")}</code></td></tr>
            ))}
          </tbody>
        </table>
      ) : <p class="muted">The version's files are not stored by this server.</p>}
      {tags.length > 0 && <><h2>Tags</h2><TagTable tags={tags} caption={`Tags of version ${version}`} /></>}
    </section>
  );
}

function Evaluations({ evaluations }: { evaluations: Evaluation[] }) {
  if (!evaluations.length) return <p class="muted">Never evaluated (<code>mlship gate evaluate</code>).</p>;
  return (
    <table class="list">
      <caption class="skip">Gate evaluations</caption>
      <thead>
        <tr><th scope="col">ID</th><th scope="col">Alias</th><th scope="col">Status</th><th scope="col">Verdict</th><th scope="col">Against</th><th scope="col">Dataset</th><th scope="col">Finished</th></tr>
      </thead>
      <tbody>
        {evaluations.map((e) => (
          <tr key={e.id}>
            <td class="num">{e.id}</td>
            <td>{e.alias}</td>
            <td>{e.status}</td>
            <td>
              {e.passed === undefined ? <span class="muted">{e.error ?? "—"}</span> : <span class={`badge verdict-${e.passed ? "passed" : "failed"}`}>{e.passed ? "passed" : "failed"}</span>}
              {e.verdict?.summary && <div class="muted small">{e.verdict.summary}</div>}
            </td>
            <td>{e.baseline_version ? `version ${e.baseline_version}` : "threshold only"}</td>
            <td>{e.dataset}</td>
            <td>{formatTime(e.finished_at)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function MoveAlias({ name, version, evaluations, moved }: { name: string; version: string; evaluations: Evaluation[]; moved: () => void }) {
  const [alias, setAlias] = useState("production");
  const [override, setOverride] = useState("");
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState("");
  const [refusal, setRefusal] = useState<{ message: string; evaluation?: Evaluation } | null>(null);
  // Moving an alias needs EDIT on the model; a protected one (the benchmark's) MANAGE.
  const can = useCan("registered_model", [name]).on(name);
  const [guarded, setGuarded] = useState<string[]>([]);
  useEffect(() => {
    call<{ definition?: { protected_aliases?: string[] } }>(`/api/v1/models/${encodeURIComponent(name)}/benchmark`)
      .then((b) => setGuarded(b.definition?.protected_aliases ?? []), () => setGuarded([]));
  }, [name]);
  if (!can.edit) return null;
  const needsManage = guarded.includes(alias) && !can.manage;
  return (
    <form
      class="move-alias"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setStatus("");
        setRefusal(null);
        try {
          await call(`/api/v1/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`, {
            method: "PUT", body: override ? { version, override } : { version },
          });
          setStatus(`@${alias} now points at version ${version}.`);
          moved();
        } catch (err) {
          const evaluation = evaluations.find((ev) => ev.alias === alias && ev.verdict);
          setRefusal({ message: message(err), evaluation });
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2>Move an alias here</h2>
      <div class="toolbar">
        <label>Alias <input value={alias} required onInput={(e) => setAlias(e.currentTarget.value)} /></label>
        <label class="grow">Override reason (optional) <input value={override} onInput={(e) => setOverride(e.currentTarget.value)} placeholder="only to bypass the gate" /></label>
        {!needsManage && <button type="submit" class="primary" disabled={busy}>Move alias</button>}
      </div>
      {needsManage && <p class="muted">@{alias} is protected by {name}'s gate: moving it needs MANAGE on {name}.</p>}
      <p role="status" class="muted">{status}</p>
      {refusal && (
        <div role="alert" class="refusal">
          <p class="error">{refusal.message}</p>
          {refusal.evaluation?.verdict?.results && (
            <table class="list">
              <caption>Evaluation {refusal.evaluation.id}: {refusal.evaluation.verdict.passed ? "passed" : "failed"}</caption>
              <thead><tr><th scope="col">Metric</th><th scope="col">Check</th><th scope="col" class="num">This version</th><th scope="col" class="num">Baseline</th><th scope="col" class="num">Bound</th><th scope="col">Result</th></tr></thead>
              <tbody>
                {refusal.evaluation.verdict.results.map((r, i) => (
                  <tr key={i}>
                    <td>{r.metric}</td><td>{r.check}</td>
                    <td class="num">{formatValue(r.candidate)}</td><td class="num">{formatValue(r.baseline)}</td><td class="num">{formatValue(r.bound)}</td>
                    <td>{r.passed ? "passed" : r.reason ?? "failed"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      )}
    </form>
  );
}
