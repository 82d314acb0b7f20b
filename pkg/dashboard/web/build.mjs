// Copies the browser libraries the dashboard's pages import into
// ../ui/vendor, which the Go binary embeds. The libraries ship as built
// ES modules, so nothing else needs building.
import { cpSync, mkdirSync, rmSync } from "node:fs";

const vendor = new URL("../ui/vendor/", import.meta.url);
rmSync(vendor, { recursive: true, force: true });
mkdirSync(vendor, { recursive: true });
for (const [from, to] of [
  ["@xterm/xterm/lib/xterm.mjs", "xterm.mjs"],
  ["@xterm/xterm/css/xterm.css", "xterm.css"],
  // noVNC's modules import each other and its vendored pako by relative
  // paths, so core/ and vendor/ keep their places side by side.
  ["@novnc/novnc/core", "novnc/core"],
  ["@novnc/novnc/vendor", "novnc/vendor"],
  ["@novnc/novnc/LICENSE.txt", "novnc/LICENSE.txt"],
]) {
  cpSync(new URL("node_modules/" + from, import.meta.url), new URL(to, vendor), { recursive: true });
}
