import { render } from "preact";
import { whoami } from "./api";
import { App, prefetchPage } from "./app";
import { current } from "./router";
import "./style.css";

// Who the caller is, and what the first page shows, are asked for at once, while the app starts.
const identity = whoami();
identity.catch(() => {}); // the app handles a failure; this keeps the browser from reporting it as unhandled
prefetchPage(current());
render(<App identity={identity} />, document.getElementById("app")!);
