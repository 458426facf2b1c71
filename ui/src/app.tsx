import type { ComponentChildren, FunctionComponent } from "preact";
import { useEffect, useLayoutEffect, useState } from "preact/hooks";
import { ApiError, message, signIn, signOut, singleSignOn, whenUnauthenticated, type WhoAmI } from "./api";
import { href, useRoute, type Route } from "./router";
import { Experiments } from "./pages/experiments";
import { Runs } from "./pages/runs";

/** A page in a chunk of its own, loaded when first shown ("Loading…" until then). Not
 * preact/compat's lazy and Suspense: compat rewrites every element the app draws (about 10 ms
 * of the runs page's first drawing, on 2 cores, in a CPU profile of a cold load). */
function lazy<P extends object>(load: () => Promise<FunctionComponent<P>>): FunctionComponent<P> {
  let Page: FunctionComponent<P> | undefined;
  let loading: Promise<unknown> | undefined;
  return function Lazy(props: P) {
    const [, setLoaded] = useState(false);
    const [failed, setFailed] = useState("");
    useEffect(() => {
      if (Page) return;
      let live = true;
      loading ??= load().then((p) => { Page = p; });
      loading.then(() => live && setLoaded(true), (err) => { loading = undefined; if (live) setFailed(message(err)); });
      return () => { live = false; };
    }, []);
    if (failed) return <p role="alert" class="error">This page could not be loaded: {failed}. Reload to try again.</p>;
    return Page ? <Page {...props} /> : <p>Loading…</p>;
  };
}

// The run page carries the charts (uPlot): loaded when first opened.
const RunPage = lazy(() => import("./pages/run").then((m) => m.RunPage));
// The registry, deployment and overview pages: each its own chunk, loaded when opened.
const Models = lazy(() => import("./pages/models").then((m) => m.Models));
const ModelPage = lazy(() => import("./pages/models").then((m) => m.ModelPage));
const VersionPage = lazy(() => import("./pages/models").then((m) => m.VersionPage));
const GatePage = lazy(() => import("./pages/gates").then((m) => m.GatePage));
const Deployments = lazy(() => import("./pages/deployments").then((m) => m.Deployments));
const DeploymentPage = lazy(() => import("./pages/deployments").then((m) => m.DeploymentPage));
const OverviewPage = lazy(() => import("./pages/overview").then((m) => m.OverviewPage));
// Comparing runs (overlaid charts, parallel coordinates, scatter): its own chunk too.
const ComparePage = lazy(() => import("./pages/compare").then((m) => m.ComparePage));
// The datasets pages (profiles, drift reports) and a deployment's drift windows: one chunk.
const Datasets = lazy(() => import("./pages/datasets").then((m) => m.Datasets));
const DatasetPage = lazy(() => import("./pages/datasets").then((m) => m.DatasetPage));
const ProfilePage = lazy(() => import("./pages/datasets").then((m) => m.ProfilePage));
const DriftPage = lazy(() => import("./pages/datasets").then((m) => m.DriftPage));
const DeploymentDriftPage = lazy(() => import("./pages/datasets").then((m) => m.DeploymentDriftPage));

const sections = [
  { id: "experiments", label: "Experiments" },
  { id: "models", label: "Models" },
  { id: "deployments", label: "Deployments" },
  { id: "datasets", label: "Datasets" },
  { id: "overview", label: "Overview" },
];

/** The app; identity is the answer to who the caller is, asked for as the app's code loaded. */
export function App({ identity }: { identity: Promise<WhoAmI> }) {
  const route = useRoute();
  const [me, setMe] = useState<WhoAmI | null>(null);
  const [signInNeeded, setSignInNeeded] = useState<ApiError | null>(null);
  const [failure, setFailure] = useState("");

  useLayoutEffect(() => {
    whenUnauthenticated((err) => setSignInNeeded(err));
    identity.then(setMe, (err) => {
      if (err instanceof ApiError && err.status === 401) setSignInNeeded(err);
      else setFailure(message(err));
    });
  }, []);

  if (signInNeeded) {
    return (
      <SignIn
        reason={me ? signInNeeded.message : ""}
        done={(who) => {
          setMe(who);
          setSignInNeeded(null);
        }}
      />
    );
  }
  const section = route.path[0] ?? "experiments";
  return (
    <div class="shell">
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById("main")?.focus(); }}>
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={href("experiments")}>mlship</a>
        <nav aria-label="Sections">
          <ul>
            {sections.map((s) => (
              <li key={s.id}>
                <a href={href(s.id)} aria-current={section === s.id ? "page" : undefined}>{s.label}</a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          {me?.auth && (
            <>
              <span>{me.name}</span>
              <button type="button" class="link" onClick={async () => { await signOut(); location.reload(); }}>Sign out</button>
            </>
          )}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {failure ? <p role="alert" class="error">{failure}</p> : me && page(route)}
      </main>
    </div>
  );
}

function page(route: Route): ComponentChildren {
  const [section, id, sub, subId] = route.path;
  switch (section ?? "experiments") {
    case "experiments":
      if (id && sub === "runs" && subId) return <RunPage experimentId={id} runId={subId} />;
      if (id && sub === "compare") return <ComparePage experimentId={id} query={route.query} />;
      if (id) return <Runs experimentId={id} query={route.query} />;
      return <Experiments query={route.query} />;
    case "models":
      if (id && sub === "versions" && subId) return <VersionPage name={id} version={subId} />;
      if (id && sub === "gate") return <GatePage name={id} />;
      if (id) return <ModelPage name={id} />;
      return <Models query={route.query} />;
    case "deployments":
      if (id && sub === "drift") return <DeploymentDriftPage name={id} />;
      if (id) return <DeploymentPage name={id} />;
      return <Deployments />;
    case "overview":
      return <OverviewPage />;
    case "datasets":
      if (id && sub === "versions" && subId) return <ProfilePage name={id} version={subId} />;
      if (id && sub === "drift") return <DriftPage name={id} query={route.query} />;
      if (id) return <DatasetPage name={id} />;
      return <Datasets />;
  }
  return (
    <section>
      <h1>Not found</h1>
      <p>No page is at this address. <a href={href("experiments")}>Experiments</a></p>
    </section>
  );
}

function SignIn({ reason, done }: { reason: string; done: (me: WhoAmI) => void }) {
  const [user, setUser] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const next = location.pathname + location.search + location.hash;
  return (
    <main class="signin" id="main">
      <h1>Sign in to mlship</h1>
      {reason && <p>{reason}</p>}
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError("");
          try {
            done(await signIn(user, password));
          } catch (err) {
            setError(err instanceof ApiError && err.status === 401 ? "The user name or the password is wrong." : message(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        <label>
          User name
          <input name="username" autoComplete="username" required value={user} onInput={(e) => setUser(e.currentTarget.value)} />
        </label>
        <label>
          Password or API token
          <input name="password" type="password" autoComplete="current-password" required value={password}
            onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        {error && <p role="alert" class="error">{error}</p>}
        <button type="submit" class="primary" disabled={busy}>Sign in</button>
      </form>
      {singleSignOn && (
        <p>
          <a class="button" href={"/auth/login?next=" + encodeURIComponent(next)}>Sign in with single sign-on</a>
        </p>
      )}
    </main>
  );
}
