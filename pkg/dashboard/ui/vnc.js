// The VNC console of one VM: noVNC over a WebSocket to the VM's vnc
// subresource, through the dashboard's proxy for the cluster, so with the
// user's own credentials. The guest's framebuffer is drawn 1:1.
import RFB from "./vendor/novnc/core/rfb.js";
import { clusterAPI } from "./listwatch.js";

const params = new URLSearchParams(location.search);
const cluster = params.get("cluster"), namespace = params.get("namespace"), vm = params.get("vm");
const state = document.getElementById("state");
document.getElementById("title").textContent = `${namespace}/${vm} on ${cluster}`;

const url = new URL(`${clusterAPI(cluster)}/apis/hypersdk.io/v1alpha1/namespaces/` +
  `${encodeURIComponent(namespace)}/virtualmachines/${encodeURIComponent(vm)}/vnc`, location.href);
url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
state.textContent = "connecting";
const rfb = new RFB(document.getElementById("screen"), url.href, { wsProtocols: ["binary"], shared: true });
rfb.scaleViewport = false;
rfb.addEventListener("connect", () => { state.textContent = "connected"; });
// A refused upgrade (403 for a user RBAC gives no console) ends before the
// RFB handshake: the browser does not tell the page the HTTP status.
rfb.addEventListener("disconnect", (e) => {
  state.textContent = e.detail.clean ? "disconnected" : "closed: refused or ended";
});
rfb.addEventListener("desktopname", (e) => { document.title = `${e.detail.name} – ${namespace}/${vm}`; });
