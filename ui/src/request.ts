// How the UI asks the server, shared by the app (api.ts) and the first page's calls that
// start before it loads (early.ts): nothing here may import the app.

/** Where a password given at sign-in is kept, for this tab only. */
export const BASIC_KEY = "mlship.basic";

export type Query = Record<string, string | number | undefined>;

export type Request = {
  method?: string;
  path: string;
  query?: Query;
  body?: unknown;
  basic?: string | null; // a password (base64 of user:password), or the session cookie when none
  csrf?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
};

export function url(path: string, query?: Query): string {
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

export function requestInit(r: Request): RequestInit {
  // X-Requested-With: the server answers the UI's 401s without a Basic challenge,
  // which would open the browser's own password dialog.
  const headers: Record<string, string> = { Accept: "application/json", "X-Requested-With": "XMLHttpRequest", ...r.headers };
  if (r.basic) headers.Authorization = "Basic " + r.basic;
  if (r.csrf) headers["X-CSRF-Token"] = r.csrf;
  const init: RequestInit = {
    method: r.method ?? "GET",
    // With a password the session cookie is not needed; without it, the cookie is the identity.
    credentials: r.basic ? "omit" : "same-origin",
    headers,
    signal: r.signal,
  };
  if (r.body !== undefined) {
    init.body = JSON.stringify(r.body);
    headers["Content-Type"] = "application/json";
  }
  return init;
}

/** Names a request by what it asks: two requests with the same key get the same answer. */
export function requestKey(r: Request): string {
  return `${r.method ?? "GET"} ${url(r.path, r.query)} ${r.body === undefined ? "" : JSON.stringify(r.body)}`;
}

/** A server's answer, read whole. */
export type Answer = { status: number; statusText: string; body: string };

/** The first page's calls, started as the page was parsed (early.ts), by requestKey: each
 * answer is undefined when none came. */
export type Early = Record<string, { at: number; answer: Promise<Answer | undefined> }>;

declare global {
  interface Window {
    mlshipEarly?: Early;
  }
}
