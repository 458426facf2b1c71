// The route in the address's hash (#/experiments/1/runs/abc?filter=…), read without the app:
// early.ts reads it too, as the page is parsed.

export type Route = { path: string[]; query: URLSearchParams };

export function current(): Route {
  const raw = location.hash.replace(/^#\/?/, "");
  const [p, q] = raw.split("?", 2);
  const path = p.split("/").filter(Boolean).map(decode);
  return { path, query: new URLSearchParams(q ?? "") };
}

/** A segment's text; a malformed escape (%E0) is kept as written rather than failing the page. */
function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
