// Hash routes (#/experiments/1/runs/abc), so that every page is a link that can be shared
// and the MLflow client's "View run" links land where they point.
import { useEffect, useState } from "preact/hooks";
import { current, type Route } from "./route";

export { current, type Route };

export function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const on = () => setRoute(current());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}

/** The href of a route: its segments escaped. */
export function href(...segments: (string | number)[]): string {
  return "#/" + segments.map((s) => encodeURIComponent(String(s))).join("/");
}

export function navigate(to: string, replace = false) {
  if (replace) history.replaceState(null, "", to);
  else location.hash = to.replace(/^#/, "");
  if (replace) dispatchEvent(new HashChangeEvent("hashchange"));
}
