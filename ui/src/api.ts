// The server's APIs, as the UI calls them: same origin only, the caller's credentials
// (a session cookie after single sign-on, or a password kept for this tab only), and the
// server's own error message when a call fails.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export type WhoAmI = {
  auth: boolean;
  name?: string;
  kind?: string;
  admin?: boolean;
  scopes: string[];
  csrf_token?: string;
};

const BASIC_KEY = "mlship.basic";
let basic: string | null = sessionStorage.getItem(BASIC_KEY);
let csrf = "";
let onUnauthenticated: (err: ApiError) => void = () => {};

/** Tells the app when the server asks who the caller is (401). */
export function whenUnauthenticated(fn: (err: ApiError) => void) {
  onUnauthenticated = fn;
}

/** Single sign-on is offered when the server put its mark in the page. */
export const singleSignOn = document.querySelector('meta[name="mlship-sso"]') !== null;

export function signedInWithPassword(): boolean {
  return basic !== null;
}

type Options = { method?: string; body?: unknown; query?: Record<string, string | number | undefined>; signal?: AbortSignal };

function url(path: string, query?: Options["query"]): string {
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  // X-Requested-With: the server answers the UI's 401s without a Basic challenge,
  // which would open the browser's own password dialog.
  const h: Record<string, string> = { Accept: "application/json", "X-Requested-With": "XMLHttpRequest", ...extra };
  if (basic) h.Authorization = "Basic " + basic;
  if (csrf) h["X-CSRF-Token"] = csrf;
  return h;
}

/** Sends a request to the server and returns the raw response (errors thrown as ApiError). */
export async function fetchRaw(path: string, opts: Options & { headers?: Record<string, string> } = {}): Promise<Response> {
  const init: RequestInit = {
    method: opts.method ?? "GET",
    // With a password the session cookie is not needed; without it, the cookie is the identity.
    credentials: basic ? "omit" : "same-origin",
    headers: headers(opts.headers),
    signal: opts.signal,
  };
  if (opts.body !== undefined) {
    init.body = JSON.stringify(opts.body);
    (init.headers as Record<string, string>)["Content-Type"] = "application/json";
  }
  const res = await fetch(url(path, opts.query), init);
  if (!res.ok) throw await errorOf(res);
  return res;
}

async function errorOf(res: Response): Promise<ApiError> {
  let code = "", message = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    code = body.error_code ?? body.code ?? "";
    message = body.message ?? body.error ?? message;
  } catch {
    // not JSON: keep the status line
  }
  const err = new ApiError(res.status, code, message);
  if (res.status === 401) onUnauthenticated(err);
  return err;
}

/** Calls a JSON API and decodes its answer. */
export async function call<T>(path: string, opts: Options = {}): Promise<T> {
  const res = await fetchRaw(path, opts);
  const text = await res.text();
  return (text ? JSON.parse(text) : {}) as T;
}

/** MLflow's REST API: POST with a JSON body, GET with a query. */
export function mlflow<T>(endpoint: string, body?: Record<string, unknown>, method = "POST", signal?: AbortSignal): Promise<T> {
  const send = () => {
    const path = "/api/2.0/mlflow/" + endpoint;
    if (method === "GET") return call<T>(path, { query: body as Options["query"], signal });
    return call<T>(path, { method, body: body ?? {}, signal });
  };
  const k = earlyKey(endpoint, body, method);
  const got = early.get(k);
  if (!got) return send();
  early.delete(k);
  // Taken once, and only while fresh; asked again if the early call failed.
  return Date.now() - got.at > EARLY_MS ? send() : got.answer.then((v) => (v === undefined ? send() : (v as T)));
}

// Answers asked for with the app's code, before the page that needs them has mounted and
// while the app asks who the caller is (main.tsx): the page's own call with the same
// request takes the answer. A failed early call is not reported; the page's call asks again.
const EARLY_MS = 10_000;
const early = new Map<string, { at: number; answer: Promise<unknown> }>();
const earlyKey = (endpoint: string, body: unknown, method: string) => `${method} ${endpoint} ${JSON.stringify(body ?? {})}`;

/** Starts an MLflow call that a page about to mount will make (same endpoint, body and method). */
export function prefetch(endpoint: string, body: Record<string, unknown>, method = "POST") {
  const answer = mlflow(endpoint, body, method).catch(() => undefined);
  early.set(earlyKey(endpoint, body, method), { at: Date.now(), answer });
}

/** Asks the server who the caller is, and keeps the session's CSRF token. */
export async function whoami(): Promise<WhoAmI> {
  const me = await call<WhoAmI>("/api/v1/whoami");
  csrf = me.csrf_token ?? "";
  return me;
}

/** Signs in with a password: kept for this tab only (sessionStorage), once the server accepts it. */
export async function signIn(user: string, password: string): Promise<WhoAmI> {
  const previous = basic;
  basic = btoa(String.fromCharCode(...new TextEncoder().encode(`${user}:${password}`)));
  try {
    const me = await whoami();
    sessionStorage.setItem(BASIC_KEY, basic);
    return me;
  } catch (err) {
    basic = previous;
    throw err;
  }
}

/** Signs out: forgets the password, and ends a single sign-on session. */
export async function signOut() {
  const hadSession = !basic;
  basic = null;
  sessionStorage.removeItem(BASIC_KEY);
  if (hadSession && csrf) await fetchRaw("/auth/logout", { method: "POST", body: {} }).catch(() => {});
  csrf = "";
}

export function message(err: unknown): string {
  if (err instanceof ApiError) return err.code ? `${err.message} (${err.code})` : err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
