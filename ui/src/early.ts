// The first page's calls, started while the page is parsed: the build inlines this script in
// index.html (vite.config.ts), ahead of the app's code, and the server allows it by its hash.
// The app's own calls take the answers (api.ts), so the app is drawn with its data as soon as
// its code has run, not a round trip later. It must not import the app: only the shared
// pieces the app asks with too.
import { requestInit, requestKey, url, type Early, type Request } from "./request";
import { current } from "./route";
import { DEFAULT_ORDER, searchBody } from "./pages/runsearch";

const early: Early = {};

// With the session cookie alone: the tab's password, if any, is in session storage, whose
// first read waits on the browser's own process. A call it refuses is asked again with it.
function ask(r: Request) {
  // Read whole as it arrives, so that the app takes it without waiting for another task; an
  // error answer too, so that a 401 is not asked twice.
  const answer = fetch(url(r.path, r.query), requestInit(r))
    .then((res) => res.text().then((body) => ({ status: res.status, statusText: res.statusText, body })))
    .catch(() => undefined);
  early[requestKey(r)] = { at: Date.now(), answer };
}

ask({ path: "/api/v1/whoami" });
const { path, query } = current();
const [section, id, sub] = path;
if (section === "experiments" && id && !sub) {
  ask({ path: "/api/2.0/mlflow/experiments/get", query: { experiment_id: id } });
  ask({ method: "POST", path: "/api/2.0/mlflow/runs/search", body: searchBody(id, query.get("filter") ?? "", query.get("order") ?? DEFAULT_ORDER) });
}
window.mlshipEarly = early;
