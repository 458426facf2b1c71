// The executive overview: GET /api/v1/overview as a table to read or print, the models
// in production and the stalled ones, and the same as CSV (?format=csv).
import { useEffect, useState } from "preact/hooks";
import { call, fetchRaw, message, signedInWithPassword } from "../api";
import { formatTime } from "../format";
import { href } from "../router";
import { Sparkline } from "../sparkline";
import "./registry.css";

type OverviewModel = {
  name: string;
  owner?: string;
  owner_from?: string;
  contact?: string;
  registered_at?: number;
  version?: string;
  since?: number;
  since_from?: string;
  first_production_at?: number;
  time_to_production_ms?: number;
  gate?: { evaluation_id: number; version: string; status: string; passed?: boolean | null; finished_at?: number } | null;
  deployments?: { name: string; roles?: string[]; drift: string; drift_checked_at?: number; drifted_columns?: string[] }[];
  traffic?: { requests: number; failures: number; client_errors?: number; error_rate: number; daily?: Day[] };
  stalled_reason?: string;
};
type Day = { start: number; requests: number; failures: number };
type Overview = {
  alias: string; generated_at: number; traffic_window: string; traffic_since: number;
  production?: OverviewModel[]; stalled?: OverviewModel[];
};

const CSV = "/api/v1/overview?format=csv";

export function days(ms?: number): string {
  if (ms === undefined) return "";
  const d = ms / 86_400_000;
  if (d >= 1) return `${d.toFixed(1)} days`;
  const h = ms / 3_600_000;
  return h >= 1 ? `${h.toFixed(1)} h` : `${Math.max(1, Math.round(ms / 60_000))} min`;
}

function gate(m: OverviewModel) {
  const g = m.gate;
  if (!g) return <span class="muted">never evaluated</span>;
  const verdict = g.passed === true ? "passed" : g.passed === false ? "failed" : g.status;
  return <span class={`badge verdict-${verdict}`}>v{g.version} {verdict}</span>;
}

function drift(m: OverviewModel) {
  const ds = m.deployments ?? [];
  if (!ds.length) return <span class="muted">not deployed</span>;
  return ds.map((d) => (
    <div key={d.name}>
      <a href={href("deployments", d.name)}>{d.name}</a>: <span class={`drift-${d.drift}`}>{d.drift.replace("_", " ")}</span>
      {d.drifted_columns?.length ? <span class="muted"> ({d.drifted_columns.join(", ")})</span> : null}
    </div>
  ));
}

/** Downloads the CSV: a plain link when the browser holds the identity (cookie or none),
 * through fetch when it is a password kept in this tab. */
async function download(e: MouseEvent) {
  if (!signedInWithPassword()) return;
  e.preventDefault();
  const res = await fetchRaw(CSV, { headers: { Accept: "text/csv" } });
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = "mlship-overview.csv";
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function OverviewPage() {
  const [o, setO] = useState<Overview | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    call<Overview>("/api/v1/overview").then(setO, (err) => setError(message(err)));
  }, []);
  return (
    <section class="overview">
      <h1>Executive overview</h1>
      <div class="toolbar no-print">
        <a class="button" href={CSV} download="mlship-overview.csv" onClick={(e) => download(e).catch((err) => setError(message(err)))}>Export CSV</a>
        <button type="button" onClick={() => print()}>Print</button>
      </div>
      {error && <p role="alert" class="error">{error}</p>}
      {!o ? !error && <p>Loading…</p> : (
        <>
          <p class="muted">
            As of {formatTime(o.generated_at)}. Production is the alias <code>@{o.alias}</code>; traffic counts the last 30 days
            (since {formatTime(o.traffic_since)}) of the deployments serving each model, shadow copies left out.
          </p>
          <h2>In production</h2>
          {o.production?.length ? (
            <table class="list overview-table" id="production">
              <caption class="skip">Models in production</caption>
              <thead>
                <tr>
                  <th scope="col">Model</th><th scope="col">Owner</th><th scope="col">Version</th><th scope="col">Since</th>
                  <th scope="col">Time to production</th><th scope="col">Latest gate verdict</th><th scope="col">Drift</th>
                  <th scope="col" class="num">Requests</th><th scope="col" class="num">Error rate</th>
                  <th scope="col">Requests per day</th>
                </tr>
              </thead>
              <tbody>
                {o.production.map((m) => (
                  <tr key={m.name} data-model={m.name}>
                    <th scope="row"><a href={href("models", m.name)}>{m.name}</a></th>
                    <td data-col="owner">{m.owner}{m.owner_from === "creator" && <span class="muted"> (registered it)</span>}{m.contact && <div class="muted small">{m.contact}</div>}</td>
                    <td data-col="version"><a href={href("models", m.name, "versions", m.version ?? "")}>v{m.version}</a></td>
                    <td data-col="since">{m.since ? formatTime(m.since) : <span class="muted">unknown</span>}</td>
                    <td data-col="time_to_production">{m.time_to_production_ms !== undefined ? days(m.time_to_production_ms) : <span class="muted">unknown</span>}</td>
                    <td data-col="gate">{gate(m)}</td>
                    <td data-col="drift">{drift(m)}</td>
                    <td class="num" data-col="requests">{m.traffic?.requests ?? 0}</td>
                    <td class="num" data-col="error_rate">{((m.traffic?.error_rate ?? 0) * 100).toFixed(1)}%</td>
                    <td data-col="daily">{m.traffic?.daily?.length ? <Sparkline buckets={m.traffic.daily} /> : null}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : <p class="muted">No model holds <code>@{o.alias}</code>.</p>}
          <h2>Stalled</h2>
          {o.stalled?.length ? (
            <table class="list overview-table" id="stalled">
              <caption class="skip">Stalled models</caption>
              <thead>
                <tr><th scope="col">Model</th><th scope="col">Owner</th><th scope="col">Why</th><th scope="col">Latest gate verdict</th><th scope="col">Registered</th></tr>
              </thead>
              <tbody>
                {o.stalled.map((m) => (
                  <tr key={m.name} data-model={m.name}>
                    <th scope="row"><a href={href("models", m.name)}>{m.name}</a></th>
                    <td>{m.owner}</td>
                    <td data-col="reason">{m.stalled_reason === "gate_failing" ? "its newest evaluation failed the gate" : "never promoted"}</td>
                    <td>{gate(m)}</td>
                    <td>{formatTime(m.registered_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : <p class="muted">No stalled model.</p>}
        </>
      )}
    </section>
  );
}
