// The serial console of one VM: xterm.js over a WebSocket to the VM's
// console subresource (protocol=plain), through the dashboard's proxy for
// the cluster, so with the user's own credentials.
import { Terminal } from "./vendor/xterm.mjs";

const params = new URLSearchParams(location.search);
const cluster = params.get("cluster"), namespace = params.get("namespace"), vm = params.get("vm");
const state = document.getElementById("state");
document.getElementById("title").textContent = `${namespace}/${vm} on ${cluster}`;

const term = new Terminal({ convertEol: false, scrollback: 5000 });
term.open(document.getElementById("terminal"));
const url = new URL(`/k8s/${encodeURIComponent(cluster)}/apis/hypersdk.io/v1alpha1/namespaces/` +
  `${encodeURIComponent(namespace)}/virtualmachines/${encodeURIComponent(vm)}/console?protocol=plain`, location.href);
url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
state.textContent = "connecting";
const ws = new WebSocket(url, ["binary"]);
ws.binaryType = "arraybuffer";
const encoder = new TextEncoder();
ws.onopen = () => { state.textContent = "connected"; term.focus(); };
ws.onmessage = (e) => term.write(typeof e.data === "string" ? e.data : new Uint8Array(e.data));
// A refused upgrade (403 for a user RBAC gives no console) closes at once,
// with 1006: the browser does not tell the page the HTTP status.
ws.onclose = (e) => { state.textContent = e.code === 1006 ? "closed: refused or ended" : `closed (${e.code})`; };
// Typed and pasted text alike (xterm.js turns a paste into data; a copy
// takes the terminal's selection).
term.onData((data) => ws.readyState === WebSocket.OPEN && ws.send(encoder.encode(data)));
// The browser tests select what the terminal shows.
window.terminal = term;
