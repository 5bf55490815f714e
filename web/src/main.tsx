import { render } from "preact";
import { App } from "./app";
import { applyTheme, storedTheme } from "./components/theme";
import "uplot/dist/uPlot.min.css";
import "./styles.css";

applyTheme(storedTheme());
render(<App />, document.getElementById("app")!);
