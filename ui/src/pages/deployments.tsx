// Deployments: their status and the version serving each role; a deployment's live request
// rate, error rate and latency quantiles per role (GET /api/v1/deployments/{name}/stats,
// refreshed every few seconds), its recent payload samples; creating, changing and deleting
// one, offered only to whom the server would allow it (creating: the deploy scope; changing:
// EDIT on the deployment; deleting and changing its inference policy: MANAGE).
import { Fragment } from "preact";
import { useEffect, useState } from "preact/hooks";
import { call, message } from "../api";
import { forget, useCan } from "../can";
import { DeploymentForm, type Spec } from "./deployment-form";
import { formatTime, formatValue } from "../format";
import { href, navigate } from "../router";
import { type Bucket, Sparkline } from "../sparkline";
import "./registry.css";

type RoleStatus = { role: string; ref?: string; model?: string; version?: string; runtime?: string; loaded_at?: string; error?: string; loading?: string };
export type Deployment = {
  name: string;
  spec: Spec;
  status: { state: string; error?: string; models?: RoleStatus[] };
  endpoints?: Record<string, string>;
};
export type RoleStats = {
  role: string;
  requests: number;
  failures: number;
  client_errors: number;
  request_rate: number;
  error_rate: number;
  latency_seconds?: { p50: number; p90: number; p99: number };
};
type Payload = { id: number; version: string; role: string; request_id: string; time_ms: number; latency_us: number; request?: unknown; response?: unknown; error?: string };

const REFRESH_MS = 3000;
const LOADING_REFRESH_MS = 1000; // while a version loads: its status, soon

function dep(name: string): string {
  return `/api/v1/deployments/${encodeURIComponent(name)}`;
}

function Roles({ d }: { d: Deployment }) {
  return (
    <>
      {(d.status.models ?? []).map((m) => (
        <div key={m.role}>
          <span class="muted">{m.role}:</span>{" "}
          {m.model ? <a href={href("models", m.model, "versions", m.version ?? "")}>{m.model} v{m.version}</a> : <code>{m.ref}</code>}
          {m.loading && <span class="muted"> ({m.loading})</span>}
          {m.error && <span class="error"> {m.error}</span>}
        </div>
      ))}
    </>
  );
}

export function Deployments() {
  const [rows, setRows] = useState<Deployment[] | null>(null);
  const [error, setError] = useState("");
  const [creating, setCreating] = useState(false);
  const can = useCan("deployment");
  useEffect(() => {
    call<{ deployments?: Deployment[] }>("/api/v1/deployments").then((r) => setRows(r.deployments ?? []), (err) => setError(message(err)));
  }, []);
  return (
    <section>
      <h1>Deployments</h1>
      {can.create && !creating && (
        <div class="toolbar"><button type="button" class="primary" onClick={() => setCreating(true)}>New deployment</button></div>
      )}
      {creating && (
        <DeploymentForm mayChangePolicy cancel={() => setCreating(false)}
          done={(name) => { forget(); navigate(href("deployments", name)); }} />
      )}
      {error && <p role="alert" class="error">{error}</p>}
      {!rows ? !error && <p>Loading…</p> : (
        <table class="list">
          <caption class="muted caption">{rows.length} deployment{rows.length === 1 ? "" : "s"}</caption>
          <thead>
            <tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Model</th><th scope="col">Serving</th></tr>
          </thead>
          <tbody>
            {rows.map((d) => (
              <tr key={d.name}>
                <td><a href={href("deployments", d.name)}>{d.name}</a></td>
                <td><span class={`state state-${d.status.state}`}>{d.status.state}</span></td>
                <td><code>{d.spec.model}</code></td>
                <td><Roles d={d} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function ms(seconds?: number): string {
  if (seconds === undefined) return "—";
  const v = seconds * 1000;
  return `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)} ms`;
}

type HourStats = { role: string; start: number; requests: number; failures: number };

/** Each role's requests per hour over a long window (from the traffic history), hours
 * without a request counted as 0. */
function HourlyLines({ hours }: { hours: HourStats[] }) {
  const first = Math.min(...hours.map((h) => h.start));
  const last = Math.max(...hours.map((h) => h.start));
  const n = Math.round((last - first) / 3_600_000) + 1;
  const roles = [...new Set(hours.map((h) => h.role))].sort();
  return (
    <table class="list hourly">
      <caption class="muted caption">Requests per hour since {formatTime(first)} (failures in the error colour)</caption>
      <tbody>
        {roles.map((role) => {
          const buckets: Bucket[] = Array.from({ length: n }, (_, i) => ({ start: first + i * 3_600_000, requests: 0, failures: 0 }));
          for (const h of hours) {
            if (h.role !== role) continue;
            const b = buckets[Math.round((h.start - first) / 3_600_000)];
            b.requests += h.requests;
            b.failures += h.failures;
          }
          return <tr key={role} data-role={role}><th scope="row">{role}</th><td><Sparkline buckets={buckets} unit="hour" width={480} /></td></tr>;
        })}
      </tbody>
    </table>
  );
}

export function DeploymentPage({ name }: { name: string }) {
  const [d, setD] = useState<Deployment | null>(null);
  const [stats, setStats] = useState<RoleStats[] | null>(null);
  const [hourly, setHourly] = useState<HourStats[]>([]); // windows over an hour: the history's hours
  const [window, setWindow] = useState("5m");
  const [updated, setUpdated] = useState(0);
  const [payloads, setPayloads] = useState<Payload[]>([]);
  const [error, setError] = useState("");
  const [statsError, setStatsError] = useState("");
  const [editing, setEditing] = useState(false);
  const [changed, setChanged] = useState(0);
  const can = useCan("deployment", [name]).on(name);

  // The deployment, again every second while a version loads (after creating or changing it).
  useEffect(() => {
    let stop = false;
    let timer = 0;
    const load = async () => {
      try {
        const got = await call<Deployment>(dep(name));
        if (stop) return;
        setD(got);
        if (loading(got)) timer = setTimeout(load, LOADING_REFRESH_MS) as unknown as number;
      } catch (err) {
        if (!stop) setError(message(err));
      }
    };
    load();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [name, changed]);

  useEffect(() => {
    call<{ payloads?: Payload[] }>(`${dep(name)}/payloads`, { query: { since_ms: Date.now() - 10 * 60_000, limit: 1000 } })
      .then((r) => setPayloads((r.payloads ?? []).slice(-10).reverse()), () => {});
  }, [name]);

  useEffect(() => {
    let stop = false;
    let timer = 0;
    const tick = async () => {
      try {
        const s = await call<{ roles?: RoleStats[]; hourly?: HourStats[] }>(`${dep(name)}/stats`, { query: { window } });
        if (stop) return;
        setStats(s.roles ?? []);
        setHourly(s.hourly ?? []);
        setUpdated(Date.now());
        setStatsError("");
      } catch (err) {
        if (!stop) setStatsError(message(err));
      }
      if (!stop) timer = setTimeout(tick, REFRESH_MS) as unknown as number;
    };
    tick();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [name, window]);

  const crumbs = <p class="breadcrumb"><a href={href("deployments")}>Deployments</a> /</p>;
  if (error) return <section>{crumbs}<h1>{name}</h1><p role="alert" class="error">{error}</p></section>;
  if (!d) return <section>{crumbs}<h1>{name}</h1><p>Loading…</p></section>;
  return (
    <section>
      {crumbs}
      <h1>{d.name}</h1>
      <dl class="facts">
        <dt>Status</dt><dd><span class={`state state-${d.status.state}`}>{d.status.state}</span>{d.status.error && <span class="error"> {d.status.error}</span>}</dd>
        <dt>Model</dt><dd><code>{d.spec.model}</code></dd>
        <dt>Inference</dt><dd>{d.spec.inference ?? "authenticated"}</dd>
        {d.spec.canary && <><dt>Canary</dt><dd><code>{d.spec.canary.model}</code> ({Math.round(d.spec.canary.weight * 100)}% of requests)</dd></>}
        {d.spec.shadow && <><dt>Shadow</dt><dd><code>{d.spec.shadow.model}</code> ({Math.round(d.spec.shadow.share * 100)}% copied)</dd></>}
        <dt>Serving</dt><dd><Roles d={d} /></dd>
        <dt>Drift</dt><dd><a href={href("deployments", d.name, "drift")}>drift of its traffic, window by window</a></dd>
        {d.spec.monitoring && <><dt>Monitoring</dt><dd>against {d.spec.monitoring.reference ? <code>{d.spec.monitoring.reference}</code> : "the model's training data"}</dd></>}
        {Object.entries(d.endpoints ?? {}).map(([k, v]) => <Fragment key={k}><dt>{k}</dt><dd><code>{v}</code></dd></Fragment>)}
      </dl>
      {can.edit && !editing && <p><button type="button" onClick={() => setEditing(true)}>Edit</button></p>}
      {editing && (
        <DeploymentForm current={d.spec} mayChangePolicy={can.manage} cancel={() => setEditing(false)}
          done={() => { setEditing(false); setChanged((n) => n + 1); }} />
      )}

      <h2>Live traffic</h2>
      <div class="toolbar">
        <label>
          Window
          <select value={window} onChange={(e) => setWindow(e.currentTarget.value)}>
            <option value="1m">last minute</option>
            <option value="5m">last 5 minutes</option>
            <option value="1h">last hour</option>
            <option value="24h">last 24 hours</option>
            <option value="168h">last 7 days</option>
            <option value="720h">last 30 days</option>
          </select>
        </label>
        <span class="muted" aria-live="off">{updated ? `updated ${new Date(updated).toLocaleTimeString()}, every ${REFRESH_MS / 1000} s` : ""}</span>
      </div>
      {statsError && <p role="alert" class="error">{statsError}</p>}
      {stats && (stats.length ? (
        <table class="list stats">
          <caption class="skip">Live traffic per role</caption>
          <thead>
            <tr>
              <th scope="col">Role</th><th scope="col" class="num">Requests</th><th scope="col" class="num">Requests/s</th>
              <th scope="col" class="num">Failures</th><th scope="col" class="num">Error rate</th>
              <th scope="col" class="num">p50</th><th scope="col" class="num">p90</th><th scope="col" class="num">p99</th>
            </tr>
          </thead>
          <tbody>
            {stats.map((r) => (
              <tr key={r.role} data-role={r.role}>
                <th scope="row">{r.role}</th>
                <td class="num" data-stat="requests" data-value={r.requests}>{r.requests}</td>
                <td class="num" data-stat="request_rate" data-value={r.request_rate}>{r.request_rate.toFixed(2)}</td>
                <td class="num" data-stat="failures" data-value={r.failures}>{r.failures}</td>
                <td class="num" data-stat="error_rate" data-value={r.error_rate}>{(r.error_rate * 100).toFixed(1)}%</td>
                <td class="num" data-stat="p50" data-value={r.latency_seconds?.p50}>{ms(r.latency_seconds?.p50)}</td>
                <td class="num" data-stat="p90" data-value={r.latency_seconds?.p90}>{ms(r.latency_seconds?.p90)}</td>
                <td class="num" data-stat="p99" data-value={r.latency_seconds?.p99}>{ms(r.latency_seconds?.p99)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : <p class="muted">No request in this window.</p>)}
      {hourly.length > 0 && <HourlyLines hours={hourly} />}

      <h2>Recent payloads</h2>
      {payloads.length ? (
        <table class="list">
          <caption class="muted caption">The newest {payloads.length} sampled requests of the last 10 minutes</caption>
          <thead><tr><th scope="col">Time</th><th scope="col">Role</th><th scope="col">Version</th><th scope="col" class="num">Latency</th><th scope="col">Request</th><th scope="col">Answer</th></tr></thead>
          <tbody>
            {payloads.map((p) => (
              <tr key={p.id}>
                <td>{formatTime(p.time_ms)}</td>
                <td>{p.role}</td>
                <td>{p.version}</td>
                <td class="num">{formatValue(p.latency_us / 1000)} ms</td>
                <td><code class="payload">{short(JSON.stringify(p.request))}</code></td>
                <td>{p.error ? <span class="error">{p.error}</span> : <code class="payload">{short(JSON.stringify(p.response))}</code>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : <p class="muted">No payload sampled in the last 10 minutes (the deployment's <code>payload_log.sample_rate</code> sets how many are kept).</p>}

      {can.manage && (
        <>
          <h2>Delete</h2>
          <p>
            <button type="button" class="danger" onClick={async () => {
              if (!confirm(`Delete the deployment “${d.name}”? It stops serving at once.`)) return;
              try {
                await call(dep(d.name), { method: "DELETE" });
                forget();
                navigate(href("deployments"));
              } catch (err) {
                setError(message(err));
              }
            }}>Delete {d.name}</button>
          </p>
        </>
      )}
    </section>
  );
}

/** Whether a version of the deployment is still loading: nothing serves yet, or a new version comes. */
function loading(d: Deployment): boolean {
  return d.status.state === "loading" || (d.status.models ?? []).some((m) => !!m.loading || (!m.model && !m.error));
}

function short(s: string | undefined, n = 160): string {
  if (!s) return "";
  return s.length > n ? s.slice(0, n - 1) + "…" : s;
}
