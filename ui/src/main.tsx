import { render } from "preact";
render(<p>mlship</p>, document.getElementById("app")!);
