import { render } from "preact";
import { earlyAnswers, whoami } from "./api";
import { App } from "./app";
import "./style.css";

// Who the caller is, and what the first page shows, were asked for as the page was parsed
// (early.ts). The app is first drawn once they have answered (or after FIRST_DRAW_MS): the
// first page is then laid out and painted once, with its content, not empty and again a
// moment later.
const FIRST_DRAW_MS = 300;
const identity = whoami();
identity.catch(() => {}); // the app handles a failure; this keeps the browser from reporting it as unhandled
const answered = Promise.all([identity, earlyAnswers()]).catch(() => {});
Promise.race([answered, new Promise((r) => setTimeout(r, FIRST_DRAW_MS))]).then(() =>
  render(<App identity={identity} />, document.getElementById("app")!));
