// The server's APIs, as the UI calls them: same origin only, the caller's credentials
// (a session cookie after single sign-on, or a password kept for this tab only), and the
// server's own error message when a call fails.
import { BASIC_KEY, requestInit, requestKey, url, type Answer, type Query } from "./request";

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

// The password given at sign-in (base64 of user:password), read from the tab's session
// storage when first needed, not as the app starts: a page's first read of session storage
// waits on the browser's own process, and the first page's calls need no password unless
// the server refuses them (see call).
let basic: string | null | undefined;
const storedPassword = () => (basic === undefined ? (basic = sessionStorage.getItem(BASIC_KEY)) : basic);
let csrf = "";
let onUnauthenticated: (err: ApiError) => void = () => {};

/** Tells the app when the server asks who the caller is (401). */
export function whenUnauthenticated(fn: (err: ApiError) => void) {
  onUnauthenticated = fn;
}

/** Single sign-on is offered when the server put its mark in the page. */
export const singleSignOn = document.querySelector('meta[name="mlship-sso"]') !== null;

export function signedInWithPassword(): boolean {
  return storedPassword() !== null;
}

type Options = { method?: string; body?: unknown; query?: Query; signal?: AbortSignal };

/** Sends a request to the server and returns the raw response (errors thrown as ApiError). */
export async function fetchRaw(path: string, opts: Options & { headers?: Record<string, string> } = {}): Promise<Response> {
  return checked(await fetch(url(path, opts.query), requestInit({ ...opts, path, basic: storedPassword(), csrf })));
}

async function checked(res: Response): Promise<Response> {
  if (!res.ok) throw errorOf({ status: res.status, statusText: res.statusText, body: await res.text().catch(() => "") });
  return res;
}

function errorOf(a: Answer): ApiError {
  let code = "", message = `${a.status} ${a.statusText}`;
  try {
    const body = JSON.parse(a.body);
    code = body.error_code ?? body.code ?? "";
    message = body.message ?? body.error ?? message;
  } catch {
    // not JSON: keep the status line
  }
  const err = new ApiError(a.status, code, message);
  if (a.status === 401) onUnauthenticated(err);
  return err;
}

/** Calls a JSON API and decodes its answer: the answer of the same call started as the page
 * was parsed (early.ts), when there is one. */
export async function call<T>(path: string, opts: Options = {}): Promise<T> {
  let answered = await earlyAnswer(requestKey({ ...opts, path }));
  // The early call went with the session cookie alone, before whoami gave the session's CSRF
  // token: a refusal it met for want of the tab's password (401) or of that token (403) is
  // asked again with them, when the app holds them.
  if ((answered?.status === 401 && storedPassword()) || (answered?.status === 403 && csrf)) answered = undefined;
  if (answered && (answered.status < 200 || answered.status > 299)) throw errorOf(answered);
  const text = answered ? answered.body : await (await fetchRaw(path, opts)).text();
  return (text ? JSON.parse(text) : {}) as T;
}

/** MLflow's REST API: POST with a JSON body, GET with a query. */
export function mlflow<T>(endpoint: string, body?: Record<string, unknown>, method = "POST", signal?: AbortSignal): Promise<T> {
  const path = "/api/2.0/mlflow/" + endpoint;
  if (method === "GET") return call<T>(path, { query: body as Query, signal });
  return call<T>(path, { method, body: body ?? {}, signal });
}

const EARLY_MS = 10_000;
const early = new Map(Object.entries(window.mlshipEarly ?? {}));
delete window.mlshipEarly;

/** The answer to the call of key started as the page was parsed: taken once, only while
 * fresh, and none once the caller signed in or out. Undefined asks the server again. */
async function earlyAnswer(key: string): Promise<Answer | undefined> {
  const got = early.get(key);
  if (!got) return undefined;
  early.delete(key);
  return Date.now() - got.at > EARLY_MS ? undefined : got.answer;
}

/** Asks the server who the caller is, and keeps the session's CSRF token. */
export async function whoami(): Promise<WhoAmI> {
  const me = await call<WhoAmI>("/api/v1/whoami");
  csrf = me.csrf_token ?? "";
  return me;
}

/** Signs in with a password: kept for this tab only (sessionStorage), once the server accepts it. */
export async function signIn(user: string, password: string): Promise<WhoAmI> {
  const previous = storedPassword();
  basic = btoa(String.fromCharCode(...new TextEncoder().encode(`${user}:${password}`)));
  early.clear();
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
  const hadSession = !storedPassword();
  basic = null;
  early.clear();
  sessionStorage.removeItem(BASIC_KEY);
  if (hadSession && csrf) await fetchRaw("/auth/logout", { method: "POST", body: {} }).catch(() => {});
  csrf = "";
}

export function message(err: unknown): string {
  if (err instanceof ApiError) return err.code ? `${err.message} (${err.code})` : err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
