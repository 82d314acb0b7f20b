// A Dashboard object (dashboards.hypersdk.io) as a grid of widgets, edited
// by dragging: a widget's title bar moves it, its corner resizes it; Save
// writes the object back (create or update, as the user), and the API
// server validates it as it would a kubectl apply.
import { clusterAPI, getJSON, statusMessage } from "./listwatch.js";

const params = new URLSearchParams(location.search);
const namespace = params.get("namespace"), name = params.get("name");
const ROW = 60, GAP = 4;
const charts = ["VMsByPhase", "CPUUsedVsAllocated", "MemoryUsedVsAllocated", "CarbonIntensity", "ClusterCarbon", "Cost",
  "NodeUtilization", "TopVMs", "Operations", "Migrations", "PlacementsByZone", "VMResources"];
const needsVM = new Set(["Console", "VNC", "Chart:VMResources"]);

let cluster = params.get("cluster"), primary = null, dash = null, existing = false;
const grid = document.getElementById("grid"), errorBox = document.getElementById("error");

function path() {
  return `${clusterAPI(cluster)}/apis/hypersdk.io/v1alpha1/namespaces/${encodeURIComponent(namespace)}/dashboards`;
}

async function load() {
  if (!cluster) {
    const clusters = await getJSON("/api/clusters");
    primary = clusters.find((c) => c.primary)?.name;
    cluster = primary;
  }
  const resp = await fetch(`${path()}/${encodeURIComponent(name)}`);
  if (resp.status === 404) {
    existing = false;
    dash = { apiVersion: "hypersdk.io/v1alpha1", kind: "Dashboard", metadata: { name, namespace },
      spec: { title: name, columns: 12, timeRange: { last: "24h" }, widgets: [] } };
    document.getElementById("state").textContent = "(new)";
  } else if (resp.ok) {
    existing = true;
    dash = await resp.json();
    dash.spec.widgets ??= [];
    document.getElementById("state").textContent = "";
  } else {
    throw new Error(await statusMessage(resp));
  }
  document.getElementById("title").textContent = `${dash.spec.title || name} (${namespace} on ${cluster})`;
  render();
  document.body.dataset.loaded = "true";
}

// src is what a widget shows: the dashboard's own pages, embedded.
function src(w) {
  const c = w.cluster || cluster;
  const range = w.timeRange ?? dash.spec.timeRange ?? {};
  const q = new URLSearchParams({ cluster: c, embed: "1" });
  if (range.last) q.set("timeRange", range.last);
  if (range.start) { q.set("start", range.start); q.set("end", range.end); }
  const vm = w.vm ? `${w.vm.namespace || namespace}/${w.vm.name}` : "";
  switch (w.type) {
    case "Chart":
      q.set("chart", w.chart);
      if (vm) q.set("vm", vm);
      q.set("namespace", w.namespace || namespace);
      return `charts.html?${q}`;
    case "VMList":
      if (w.namespace) q.set("namespace", w.namespace);
      if (w.vmSelector) q.set("labels", selectorString(w.vmSelector));
      return `index.html?${q}`;
    default: {
      const [vns, vname] = vm.split("/");
      return `${w.type === "VNC" ? "vnc" : "console"}.html?${new URLSearchParams({ cluster: c, namespace: vns, vm: vname })}`;
    }
  }
}

// selectorString writes a LabelSelector as the API's labelSelector
// parameter reads it ("app=web,tier in (a,b),!legacy").
function selectorString(sel) {
  const parts = Object.entries(sel.matchLabels || {}).map(([k, v]) => `${k}=${v}`);
  for (const e of sel.matchExpressions || []) {
    const values = (e.values || []).join(",");
    parts.push({ In: `${e.key} in (${values})`, NotIn: `${e.key} notin (${values})`, Exists: e.key,
      DoesNotExist: `!${e.key}` }[e.operator]);
  }
  return parts.join(",");
}

function render() {
  const cols = dash.spec.columns || 12;
  const rows = Math.max(6, ...dash.spec.widgets.map((w) => w.row + w.height)) + 4;
  grid.style.gridTemplateColumns = `repeat(${cols}, 1fr)`;
  grid.style.gridTemplateRows = `repeat(${rows}, ${ROW}px)`;
  grid.replaceChildren();
  for (const w of dash.spec.widgets) {
    const div = document.createElement("div");
    div.className = "widget";
    div.dataset.widget = w.name;
    div.dataset.cell = [w.column, w.row, w.width, w.height].join(",");
    div.style.gridColumn = `${w.column + 1} / span ${w.width}`;
    div.style.gridRow = `${w.row + 1} / span ${w.height}`;
    const head = document.createElement("div");
    head.className = "widget-head";
    head.textContent = w.type === "Chart" ? w.chart : w.type;
    const remove = document.createElement("button");
    remove.textContent = "×";
    remove.title = "Remove";
    remove.addEventListener("pointerdown", (e) => e.stopPropagation());
    remove.addEventListener("click", () => { dash.spec.widgets = dash.spec.widgets.filter((x) => x !== w); render(); });
    head.append(remove);
    const frame = document.createElement("iframe");
    frame.src = src(w);
    const handle = document.createElement("div");
    handle.className = "resize";
    div.append(head, frame, handle);
    grid.append(div);
    drag(head, w, (col, row) => ({ ...w, column: Math.min(Math.max(0, col), cols - w.width), row: Math.max(0, row) }));
    drag(handle, w, (col, row) => ({ ...w, width: Math.min(Math.max(1, col - w.column + 1), cols - w.column),
      height: Math.max(1, row - w.row + 1) }));
  }
}

// cellAt is the grid cell under a point of the page.
function cellAt(x, y) {
  const r = grid.getBoundingClientRect(), cols = dash.spec.columns || 12;
  return [Math.floor(((x - r.left) / r.width) * cols), Math.floor((y - r.top) / (ROW + GAP))];
}

function overlaps(a, b) {
  return a.column < b.column + b.width && b.column < a.column + a.width && a.row < b.row + b.height && b.row < a.row + a.height;
}

// drag moves or resizes w with the pointer: place maps the cell under the
// pointer to the widget's new cells, which are taken only if they are free.
function drag(el, w, place) {
  el.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    el.setPointerCapture(e.pointerId);
    const up = (e) => {
      el.removeEventListener("pointerup", up);
      const moved = place(...cellAt(e.clientX, e.clientY));
      if (dash.spec.widgets.some((o) => o !== w && overlaps(o, moved))) {
        errorBox.textContent = `${w.name}: those cells are taken`;
        return;
      }
      errorBox.textContent = "";
      Object.assign(w, moved);
      document.getElementById("save-state").textContent = "unsaved";
      render();
    };
    el.addEventListener("pointerup", up);
  });
}

// add puts a new widget in the first free place, reading row by row.
function add() {
  const [type, chart] = document.getElementById("add-type").value.split(":");
  const vm = document.getElementById("add-vm").value.trim();
  const key = chart ? `Chart:${chart}` : type;
  if (needsVM.has(key) && !vm.includes("/")) {
    errorBox.textContent = `${chart || type} needs a VM: namespace/name`;
    return;
  }
  const base = (chart || type).toLowerCase();
  let n = 1;
  while (dash.spec.widgets.some((w) => w.name === `${base}-${n}`)) n++;
  const cols = dash.spec.columns || 12;
  const w = { name: `${base}-${n}`, type, width: Math.min(6, cols), height: 4, column: 0, row: 0 };
  if (chart) w.chart = chart;
  if (needsVM.has(key)) {
    const [ns, vmName] = vm.split("/");
    w.vm = ns === namespace ? { name: vmName } : { namespace: ns, name: vmName };
  }
  for (let row = 0; ; row++) {
    const spot = [...Array(cols - w.width + 1).keys()].map((column) => ({ ...w, column, row }))
      .find((c) => !dash.spec.widgets.some((o) => overlaps(o, c)));
    if (spot) { dash.spec.widgets.push(spot); break; }
  }
  errorBox.textContent = "";
  document.getElementById("save-state").textContent = "unsaved";
  render();
}

async function save() {
  const state = document.getElementById("save-state");
  state.textContent = "saving";
  const resp = await fetch(existing ? `${path()}/${encodeURIComponent(name)}` : path(), {
    method: existing ? "PUT" : "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(dash),
  });
  if (!resp.ok) {
    state.textContent = `not saved: ${await statusMessage(resp)}`;
    return;
  }
  dash = await resp.json();
  dash.spec.widgets ??= [];
  existing = true;
  document.getElementById("state").textContent = "";
  errorBox.textContent = "";
  state.textContent = "saved";
  render();
}

const select = document.getElementById("add-type");
for (const v of [...charts.map((c) => `Chart:${c}`), "VMList", "Console", "VNC"]) {
  const o = document.createElement("option");
  o.value = v;
  o.textContent = v.replace("Chart:", "Chart: ");
  select.append(o);
}
document.getElementById("add").addEventListener("click", add);
document.getElementById("save").addEventListener("click", save);
load().catch((e) => { errorBox.textContent = e.message; document.body.dataset.loaded = "error"; });
