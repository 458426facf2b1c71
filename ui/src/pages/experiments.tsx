// Experiments: MLflow's experiments/search a page at a time, searched by name; create,
// rename and delete through MLflow's own endpoints, offered only to whom the server would
// allow them (creating: the write scope; renaming and deleting: MANAGE on the experiment).
import { useEffect, useState } from "preact/hooks";
import { message, mlflow } from "../api";
import { forget, useCan, type Can } from "../can";
import { usePaged } from "../paged";
import { href, navigate } from "../router";
import { formatTime } from "../format";

export type Experiment = {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage?: string;
  creation_time?: number;
  last_update_time?: number;
  tags?: { key: string; value: string }[];
};

type Page = { experiments?: Experiment[]; next_page_token?: string };

const PAGE = 50;

/** An MLflow filter matching names containing text (quotes escaped as the grammar wants). */
function nameFilter(text: string): string {
  return text ? `name ILIKE '%${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}%'` : "";
}

export function Experiments({ query }: { query: URLSearchParams }) {
  const search = query.get("q") ?? "";
  const [text, setText] = useState(search);
  const [status, setStatus] = useState("");
  const [version, setVersion] = useState(0);
  useEffect(() => setText(search), [search]);
  const { rows, next, error, setError, loading, more } = usePaged<Experiment>(async (token) => {
    const page = await mlflow<Page>("experiments/search", {
      max_results: PAGE, page_token: token, filter: nameFilter(search), order_by: ["last_update_time DESC"],
    });
    return { rows: page.experiments ?? [], next: page.next_page_token };
  }, [search, version]);

  const can = useCan("experiment", rows.map((e) => e.experiment_id));
  const managed = rows.some((e) => can.on(e.experiment_id).manage);
  const act = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
      forget();
      setStatus(what);
      setError("");
      setVersion((v) => v + 1);
    } catch (err) {
      setError(message(err));
    }
  };

  return (
    <section>
      <h1>Experiments</h1>
      <div class="toolbar">
        <form
          role="search"
          class="grow"
          onSubmit={(e) => {
            e.preventDefault();
            navigate(text ? `#/experiments?q=${encodeURIComponent(text)}` : "#/experiments", true);
          }}
        >
          <label>
            Search by name
            <input type="search" value={text} onInput={(e) => setText(e.currentTarget.value)} placeholder="part of a name" />
          </label>
        </form>
        {can.create && <CreateExperiment onCreated={(id, name) => act(`Created ${name}.`, async () => navigate(href("experiments", id)))} />}
      </div>
      {error && <p role="alert" class="error">{error}</p>}
      <p role="status" class="muted">{status}</p>
      <table class="list">
        <caption class="muted" style="text-align:left">
          {loading ? "Loading…" : `${rows.length}${next ? "+" : ""} experiment${rows.length === 1 ? "" : "s"}${search ? ` matching “${search}”` : ""}`}
        </caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">ID</th>
            <th scope="col">Last updated</th>
            {managed && <th scope="col">Actions</th>}
          </tr>
        </thead>
        <tbody>
          {rows.map((e) => (
            <ExperimentRow key={e.experiment_id} experiment={e} can={can.on(e.experiment_id)} actions={managed}
              rename={(name) => act(`Renamed to ${name}.`, () => mlflow("experiments/update", { experiment_id: e.experiment_id, new_name: name }))}
              remove={() => act(`Deleted ${e.name}.`, () => mlflow("experiments/delete", { experiment_id: e.experiment_id }))} />
          ))}
        </tbody>
      </table>
      {next && (
        <p>
          <button type="button" disabled={loading} onClick={more}>Show more</button>
        </p>
      )}
    </section>
  );
}

function ExperimentRow({ experiment: e, can, actions, rename, remove }: {
  experiment: Experiment; can: Can; actions: boolean; rename: (name: string) => void; remove: () => void;
}) {
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(e.name);
  return (
    <tr>
      <td>
        {editing ? (
          <form onSubmit={(ev) => { ev.preventDefault(); setEditing(false); if (name !== e.name) rename(name); }}>
            <label>
              <span class="muted">New name of {e.name}</span>
              <input value={name} required autoFocus onInput={(ev) => setName(ev.currentTarget.value)} />
            </label>
            <button type="submit">Save</button>{" "}
            <button type="button" onClick={() => { setEditing(false); setName(e.name); }}>Cancel</button>
          </form>
        ) : (
          <a href={href("experiments", e.experiment_id)}>{e.name}</a>
        )}
      </td>
      <td class="num">{e.experiment_id}</td>
      <td>{formatTime(e.last_update_time)}</td>
      {actions && (
        <td>
          {can.manage && (
            <>
              <button type="button" onClick={() => setEditing(true)} aria-label={`Rename ${e.name}`}>Rename</button>{" "}
              <button type="button" class="danger" aria-label={`Delete ${e.name}`}
                onClick={() => confirm(`Delete the experiment “${e.name}” and its runs?`) && remove()}>Delete</button>
            </>
          )}
        </td>
      )}
    </tr>
  );
}

function CreateExperiment({ onCreated }: { onCreated: (id: string, name: string) => void }) {
  const [name, setName] = useState("");
  const [error, setError] = useState("");
  return (
    <form
      class="toolbar"
      style="margin:0"
      onSubmit={async (e) => {
        e.preventDefault();
        try {
          const res = await mlflow<{ experiment_id: string }>("experiments/create", { name });
          setName("");
          setError("");
          onCreated(res.experiment_id, name);
        } catch (err) {
          setError(message(err));
        }
      }}
    >
      <label>
        New experiment
        <input value={name} required onInput={(e) => setName(e.currentTarget.value)} placeholder="name" />
      </label>
      <button type="submit" class="primary">Create</button>
      {error && <span role="alert" class="error">{error}</span>}
    </form>
  );
}
