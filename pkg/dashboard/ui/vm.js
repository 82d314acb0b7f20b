// One VM of one cluster: its spec and status, live by watch; its placement
// breakdown and right-sizing recommendation; the operations
// on it with their progress, live by watch; and buttons for the operations
// the user may ask for. Every request goes through the dashboard's proxy
// with the user's own credentials, so the API server decides: the page asks
// it first (a SelfSubjectAccessReview per subresource) only to leave out
// what would be refused.
import { follow, statusMessage, clusterAPI, getJSON } from "./listwatch.js";

const params = new URLSearchParams(location.search);
const cluster = params.get("cluster"), namespace = params.get("namespace"), name = params.get("vm");
const api = clusterAPI(cluster);
const nsPath = `${api}/apis/hypersdk.io/v1alpha1/namespaces/${encodeURIComponent(namespace)}`;
document.getElementById("title").textContent = `${namespace}/${name} on ${cluster}`;
document.getElementById("charts").href = "charts.html?" +
  new URLSearchParams({ cluster, vm: `${namespace}/${name}`, chart: "VMResources" });

function cell(row, text) {
  row.insertCell().textContent = text ?? "";
}

function renderVM(vm) {
  const facts = document.querySelector("#facts tbody");
  facts.replaceChildren();
  if (!vm) {
    cell(facts.insertRow(), "deleted");
    return;
  }
  for (const [k, v] of [["Phase", vm.status?.phase], ["Node", vm.status?.nodeName], ["CPUs", vm.spec?.cpus],
    ["Memory", vm.spec?.memory], ["Running", String(vm.spec?.running ?? "")], ["Image", vm.spec?.image]]) {
    const row = facts.insertRow();
    row.dataset.fact = k;
    cell(row, k);
    cell(row, v);
  }
  const conds = document.querySelector("#conditions tbody");
  conds.replaceChildren();
  for (const c of vm.status?.conditions ?? []) {
    const row = conds.insertRow();
    cell(row, c.type); cell(row, c.status); cell(row, c.reason); cell(row, c.message);
  }
}

follow(`${nsPath}/virtualmachines?fieldSelector=${encodeURIComponent("metadata.name=" + name)}`, {
  onList: (items) => renderVM(items[0]),
  onEvent: (type, vm) => renderVM(type === "DELETED" ? null : vm),
  onState: (s) => { document.getElementById("watch-state").textContent = s; },
});

// The placement breakdown (virtualmachines/placement): the scheduler
// extender's decision for the VM's pod, every candidate node with its
// scores, best first as the API lists them.
async function showPlacement() {
  const note = document.getElementById("placement-note"), tb = document.querySelector("#placement tbody");
  try {
    const p = await getJSON(`${nsPath}/virtualmachines/${encodeURIComponent(name)}/placement`);
    tb.replaceChildren();
    const d = p.decision;
    note.textContent = d ? `${d.node} chosen at ${d.time} by policy ${d.policy || "default"} for pod ${d.pod}` +
      (d.filteredCount ? `; ${d.filteredCount} ${d.filteredCount === 1 ? "node" : "nodes"} filtered out` : "") : (p.message || "no decision recorded");
    if (p.degraded) note.textContent += " (degraded: " + (p.message || "") + ")";
    for (const c of d?.candidates ?? []) {
      const row = tb.insertRow();
      row.dataset.node = c.node;
      // The figures the record does not know are absent, not 0.
      for (const v of [c.node, c.zone ?? "", c.total, c.carbon, c.cost, c.pressure, c.gpu ?? 0, c.carbonIntensity ?? "unknown",
        c.gramsCO2PerHour ?? "unknown", c.costPerHour ?? "unknown", c.predictedUtilization]) {
        cell(row, typeof v === "number" ? String(Math.round(v * 1000) / 1000) : v);
      }
    }
  } catch (e) {
    note.textContent = e.message;
  }
  note.dataset.state = "shown";
}

// The right-sizing recommendation (virtualmachines/recommendation) of the
// autoscaler that sizes the VM, or why there is none.
async function showRecommendation() {
  const tb = document.querySelector("#recommendation tbody");
  const size = (r) => (r ? `${r.cpus ?? "?"} CPUs, ${r.memory ?? "?"}` : "");
  let facts;
  try {
    const r = await getJSON(`${nsPath}/virtualmachines/${encodeURIComponent(name)}/recommendation`);
    const rec = r.recommendation;
    facts = [["Autoscaler", `${r.autoscaler} (${r.updateMode})`], ["Current", size(rec.current)], ["Target", size(rec.target)],
      ["Range", rec.lowerBound ? `${size(rec.lowerBound)} to ${size(rec.upperBound)}` : ""],
      ["Evidence", `${rec.evidence.samples} samples, ${rec.evidence.confidencePercent}% confidence (${rec.evidence.strategy})`],
      ["Action", rec.action], ["Monthly saving", r.savings ? String(Math.round(r.savings.monthlySaving * 100) / 100) : ""]];
  } catch (e) {
    facts = [["None", e.message]];
  }
  tb.replaceChildren();
  for (const [k, v] of facts) {
    const row = tb.insertRow();
    row.dataset.fact = k;
    cell(row, k);
    cell(row, v);
  }
}
showPlacement();
showRecommendation();
// Both change only when the VM moves or is re-evaluated: read again now
// and then rather than watched.
setInterval(() => { showPlacement(); showRecommendation(); }, 30000);

// The operations on this VM, newest first, each with its progress bar.
const ops = new Map();
function renderOps() {
  const tb = document.querySelector("#ops tbody");
  tb.replaceChildren();
  const newest = [...ops.values()].sort((a, b) =>
    b.metadata.creationTimestamp.localeCompare(a.metadata.creationTimestamp) || b.metadata.name.localeCompare(a.metadata.name));
  for (const op of newest) {
    const row = tb.insertRow();
    row.dataset.op = op.metadata.name;
    row.dataset.phase = op.status?.phase ?? "";
    cell(row, op.metadata.name); cell(row, op.spec.type); cell(row, op.status?.phase);
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = op.status?.progress ?? 0;
    const td = row.insertCell();
    td.append(bar, ` ${op.status?.progress ?? 0}%`);
    cell(row, op.status?.message); cell(row, op.spec.requester?.username);
  }
}
follow(`${nsPath}/vmoperations?fieldSelector=${encodeURIComponent("spec.vmName=" + name)}`, {
  onList: (items) => { ops.clear(); for (const op of items) ops.set(op.metadata.name, op); renderOps(); },
  onEvent: (type, op) => { if (type === "DELETED") ops.delete(op.metadata.name); else ops.set(op.metadata.name, op); renderOps(); },
});

// allowed asks the API server whether the user may verb the VM's subresource.
async function allowed(verb, subresource) {
  const resp = await fetch(`${api}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview",
      spec: { resourceAttributes: { group: "hypersdk.io", resource: "virtualmachines", subresource, verb, namespace, name } },
    }),
  });
  if (!resp.ok) throw new Error(await statusMessage(resp));
  return (await resp.json()).status?.allowed === true;
}

// ask posts an operation to the VM's subresource; the answer is the
// VMOperation, which the watch above then shows as it progresses.
async function ask(subresource, body) {
  const err = document.getElementById("op-error");
  err.textContent = "";
  const resp = await fetch(`${nsPath}/virtualmachines/${encodeURIComponent(name)}/${subresource}`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  if (!resp.ok) err.textContent = `${subresource}: ${await statusMessage(resp)}`;
}

// The operations, each with its inputs (all optional but the clone's
// name: an empty one is left out of the body and the API's default
// applies) and, where a value is not a string, how the body is made.
const operations = [
  { subresource: "start", label: "Start" },
  { subresource: "stop", label: "Stop" },
  { subresource: "restart", label: "Restart" },
  { subresource: "migrate", label: "Migrate", inputs: { targetNode: "target node (any)" } },
  { subresource: "resize", label: "Resize", inputs: { cpus: "CPUs", memory: "memory (e.g. 4Gi)" },
    body: (v) => (v.cpus ? { ...v, cpus: Number(v.cpus) } : v) },
  { subresource: "snapshot", label: "Snapshot", inputs: { name: "snapshot name (generated)" } },
  { subresource: "clone", label: "Clone", inputs: { targetName: "new VM's name", targetNamespace: "its namespace (this one)" } },
];

// values reads an operation's inputs, leaving out the empty ones.
function values(inputs) {
  const out = {};
  for (const [key, input] of Object.entries(inputs)) if (input.value.trim()) out[key] = input.value.trim();
  return out;
}

async function showActions() {
  const actions = document.getElementById("actions"), rights = document.getElementById("rights");
  try {
    const [mayConsole, mayVNC, ...may] = await Promise.all([allowed("get", "console"), allowed("get", "vnc"),
      ...operations.map((o) => allowed("create", o.subresource))]);
    operations.forEach((o, i) => {
      if (!may[i]) return;
      const group = document.createElement("span");
      group.className = "op";
      const button = document.createElement("button");
      button.id = `op-${o.subresource}`;
      button.textContent = o.label;
      const inputs = {};
      for (const [key, placeholder] of Object.entries(o.inputs ?? {})) {
        const input = document.createElement("input");
        input.id = `op-${o.subresource}-${key}`;
        input.placeholder = placeholder;
        input.size = 14;
        inputs[key] = input;
      }
      button.addEventListener("click", () => ask(o.subresource, (o.body ?? ((v) => v))(values(inputs))));
      group.append(button, ...Object.values(inputs));
      actions.append(group);
    });
    rights.textContent = may.some(Boolean) ? "" : "You may not change this VM.";
    for (const [may, page, label] of [[mayConsole, "console", "Serial console"], [mayVNC, "vnc", "VNC console"]]) {
      if (!may) continue;
      const link = document.createElement("a");
      link.id = `${page}-link`;
      link.target = "_blank";
      link.textContent = label;
      link.href = `${page}.html?` + new URLSearchParams({ cluster, namespace, vm: name });
      document.getElementById("console").append(link, " ");
    }
  } catch (e) {
    rights.textContent = `rights unknown: ${e.message}`;
  }
  document.body.dataset.rights = "checked";
}
showActions();
