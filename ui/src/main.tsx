import { render } from "preact";
import { whoami } from "./api";
import { App } from "./app";
import "./style.css";

// Who the caller is, and what the first page shows, were asked for as the page was parsed
// (early.ts). The app is drawn at once, without them: the browser lays out and paints the
// frame of the page while they are still on their way, and only the page's content is left
// to lay out when they come.
const identity = whoami();
identity.catch(() => {}); // the app handles a failure; this keeps the browser from reporting it as unhandled
render(<App identity={identity} />, document.getElementById("app")!);
