// The charts, each drawn from what the API answers for the chosen window,
// of one cluster or (cluster=*) of every shown cluster:
// clusterhistories/cluster and virtualmachines/history (the history store),
// and vmoperations (operations by type and outcome, migrations over time).
// Nothing is made up: a chart whose source fails shows the error. Each
// chart exports its numbers as CSV and its drawing as PNG.
import { clusterAPI, getJSON } from "./listwatch.js";

const params = new URLSearchParams(location.search);
const cluster = params.get("cluster");
// cluster=* shows every cluster: the cluster history charts draw each
// cluster's series and the sum of those that add up; the others show one
// cluster at a time.
const allClusters = cluster === "*";
// In a dashboard's widget the page is only its chart.
if (params.get("embed")) document.body.classList.add("embed");
const api = clusterAPI(cluster);
const hyper = `${api}/apis/hypersdk.io/v1alpha1`;

// namespace is the one the per-namespace charts show: namespace=, else
// the chosen VM's.
function namespace() {
  const ns = params.get("namespace") || params.get("vm")?.split("/")[0];
  if (!ns) throw new Error("choose a namespace or a VM (namespace/name) above");
  return ns;
}

// The window: a named range ending now, or start and end (RFC 3339), and
// an optional step, as the history API takes them.
function windowQuery() {
  const q = new URLSearchParams();
  for (const k of ["timeRange", "start", "end", "step"]) if (params.get(k)) q.set(k, params.get(k));
  if (!q.has("timeRange") && !q.has("start")) q.set("timeRange", "24h");
  return q;
}

// history is one history answer as line series: [{name, unit, points}],
// for the page's window or the one given.
async function history(path, fields, window) {
  const q = window ? new URLSearchParams(window) : windowQuery();
  q.set("fields", fields.join(","));
  const h = await getJSON(`${path}?${q}`);
  return {
    window: { start: Date.parse(h.window.start), end: Date.parse(h.window.end), step: h.window.step, stepMs: parseDuration(h.window.step ?? "") },
    series: h.series.map((s) => ({ name: s.field, unit: s.unit, points: s.points.map((p) => [Date.parse(p.time), p.value]) })),
  };
}
const clusterHistory = (fields) => (allClusters ? everyClusterHistory(fields) : history(`${hyper}/clusterhistories/cluster`, fields));

// The cluster history fields whose values add up over clusters.
const additive = new Set(["vms", "vmsRunning", "vmsStopped", "vmsOther", "cpuUsage", "cpuAllocated", "memoryUsage",
  "memoryAllocated", "costPerHour", "carbonEmissions", "costMonthToDate"]);

// everyClusterHistory is the cluster history of every shown cluster for one
// window (the first answering cluster's, asked of the others by start, end
// and step): "<cluster> <field>" for each, then "all <field>", for the
// fields that add up, the sum at each time every cluster with points of
// that field has one. A cluster that does not answer, the primary too, is left out and
// named in the chart's notes; only when none answers is the chart an error.
async function everyClusterHistory(fields) {
  const names = await shownClusters();
  if (!names.length) throw new Error("no cluster is shown");
  const path = (name) => `${clusterAPI(name)}/apis/hypersdk.io/v1alpha1/clusterhistories/cluster`;
  const answers = [];
  let first;
  for (const name of names) {
    if (first) break;
    try {
      first = await history(path(name), fields);
      answers.push({ status: "fulfilled", value: first });
    } catch (e) {
      answers.push({ status: "rejected", reason: e });
    }
  }
  if (!first) throw new Error(answers.map((a, i) => `${names[i]}: ${a.reason.message}`).join("; "));
  const window = { start: new Date(first.window.start).toISOString(), end: new Date(first.window.end).toISOString(), step: first.window.step };
  answers.push(...await Promise.allSettled(names.slice(answers.length).map((n) => history(path(n), fields, window))));
  const out = { window: first.window, series: [], notes: [] };
  answers.forEach((a, i) => {
    if (a.status === "rejected") out.notes.push(`${names[i]}: ${a.reason.message}`);
    else for (const s of a.value.series) out.series.push({ ...s, name: `${names[i]} ${s.name}` });
  });
  for (const field of fields.filter((f) => additive.has(f))) {
    // A sum only where every answering cluster has a point: one missing
    // (a gap in its history) would read as a drop of the whole.
    const sum = new Map(), count = new Map();
    // Clusters whose series has no point at all (a field an older server
    // lacks, carbon of a zone without readings) do not blank the sum.
    const answering = answers.filter((a) => a.status === "fulfilled" && a.value.series.find((s) => s.name === field)?.points.length);
    for (const a of answering) {
      for (const [t, v] of a.value.series.find((s) => s.name === field).points) {
        sum.set(t, (sum.get(t) ?? 0) + v);
        count.set(t, (count.get(t) ?? 0) + 1);
      }
    }
    out.series.push({ name: `all ${field}`, points: [...sum].filter(([t]) => count.get(t) === answering.length).sort((a, b) => a[0] - b[0]) });
  }
  return out;
}


// once keeps the first answer of load, so that charts sharing a source ask
// for it once per page load.
function once(load) {
  let answer;
  return () => (answer ??= load());
}

// perClusterOnce keeps the first answer of load for each cluster.
function perClusterOnce(load) {
  const answers = new Map();
  return (c) => {
    if (!answers.has(c)) answers.set(c, load(c));
    return answers.get(c);
  };
}

// operations lists every VMOperation the user may list in a cluster (all
// namespaces).
const operations = perClusterOnce(async (c) => (await getJSON(`${clusterAPI(c)}/apis/hypersdk.io/v1alpha1/vmoperations`)).items);

// nodes lists a cluster's nodes.
const nodes = perClusterOnce((c) => getJSON(`${clusterAPI(c)}/api/v1/nodes`));

// shownClusters are the clusters the charts read: the one chosen, or, with
// cluster=*, every shown one.
const shownClusters = once(async () => (allClusters ? (await getJSON("/api/clusters")).map((c) => c.name) : [cluster]));

// eachCluster runs read for each shown cluster. With one cluster its error
// is the chart's; with all of them a cluster whose read fails is left out
// and named in notes, and the chart fails only when every one does.
async function eachCluster(read) {
  const names = await shownClusters();
  const answers = await Promise.allSettled(names.map(read));
  if (!allClusters && answers[0].status === "rejected") throw answers[0].reason;
  const ok = [], notes = [];
  answers.forEach((a, i) => (a.status === "fulfilled" ? ok.push([names[i], a.value]) : notes.push(`${names[i]}: ${a.reason.message}`)));
  if (!ok.length) throw new Error(notes.join("; "));
  return { ok, notes };
}

// sumBars adds up bars of the same label over clusters, sorted by label.
function sumBars(answers) {
  const counts = new Map();
  for (const [, bars] of answers) for (const [k, v] of bars) counts.set(k, (counts.get(k) ?? 0) + v);
  return [...counts.keys()].sort().map((k) => [k, counts.get(k)]);
}

// named is a row's first cell, the cluster's name before it with cluster=*.
const named = (c, name) => (allClusters ? `${c}/${name}` : name);

// The window's bounds for the charts built from operations and pods: the
// same window the history API evaluates (asked of it with a single field).
const bounds = once(async () => (await clusterHistory(["vms"])).window);

const charts = [
  { name: "VMsByPhase", title: "VMs by phase", load: () => clusterHistory(["vms", "vmsRunning", "vmsStopped", "vmsOther"]) },
  { name: "CPUUsedVsAllocated", title: "CPU used vs allocated (cores)", load: () => clusterHistory(["cpuUsage", "cpuAllocated"]) },
  { name: "MemoryUsedVsAllocated", title: "Memory used vs allocated (bytes)", load: () => clusterHistory(["memoryUsage", "memoryAllocated"]) },
  {
    // The VMs' zones over the window (history), and, when the window ends
    // now, each zone's intensity now and forecast.
    name: "CarbonIntensity", title: "Grid carbon intensity: the VMs' zones, and each zone now and forecast (g CO2eq/kWh)", load: async () => {
      const h = await clusterHistory(["carbonIntensity"]);
      h.notes ??= [];
      if (h.series.every((s) => !s.points.length)) {
        // Not a clean grid: the average is unknown while no VM runs or a
        // running VM's zone has no reading.
        h.notes.push("no carbonIntensity in this window: it is unknown while no VM runs or while a running VM's zone has no reading");
      }
      if (params.get("end") || allClusters) return h;
      // One zone or horizon that does not answer is named; the rest is drawn.
      const { series, notes } = await forecasts(h.window);
      h.series.push(...series);
      h.notes.push(...notes);
      h.window.end = Math.max(h.window.end, ...series.flatMap((s) => s.points.map((p) => p[0])));
      return h;
    },
  },
  { name: "ClusterCarbon", title: "Cluster emissions (g CO2eq/h)", load: () => clusterHistory(["carbonEmissions"]) },
  {
    // The rate, and what it added up to since the first of the month (the
    // API integrates it: costMonthToDate), on an axis of its own.
    name: "Cost", title: "Cost per hour, and month to date (right axis)", load: async () => {
      const h = await clusterHistory(["costPerHour", "costMonthToDate"]);
      for (const s of h.series) if (s.name.endsWith("costMonthToDate")) s.axis = "right";
      return h;
    },
  },
  {
    // Operations created in the window, by type and by how they ended.
    name: "Operations", title: "Operations by type and outcome", load: async () => {
      const w = await bounds();
      const { ok, notes } = await eachCluster(async (c) => {
        const counts = new Map();
        for (const op of await operations(c)) {
          const t = Date.parse(op.metadata.creationTimestamp);
          if (t < w.start || t > w.end) continue;
          const key = `${op.spec.type} ${op.status?.phase || "Pending"}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
        return [...counts];
      });
      return { window: w, bars: sumBars(ok), notes };
    },
  },
  {
    // Migrations that ended in each step of the window, by outcome.
    name: "Migrations", title: "Migrations over time", load: async () => {
      const w = await bounds();
      const step = parseDuration(w.step);
      const n = Math.floor((w.end - w.start) / step) + 1;
      const series = ["Succeeded", "Failed", "Cancelled"].map((phase) => ({
        name: phase, unit: "migrations", points: Array.from({ length: n }, (_, i) => [w.start + i * step, 0]),
      }));
      // Every cluster's migrations count in the same steps.
      const { notes } = await eachCluster(async (c) => {
        for (const op of await operations(c)) {
          if (op.spec.type !== "Migrate" || !op.status?.completionTime) continue;
          const s = series.find((s) => s.name === op.status.phase);
          const t = Date.parse(op.status.completionTime);
          // A point stands for the step before it, as in the history API.
          const i = Math.ceil((t - w.start) / step);
          if (s && i >= 0 && i < n) s.points[i][1]++;
        }
      });
      return { window: w, series, notes };
    },
  },
  {
    // Each node's usage now (metrics.k8s.io) as a share of what it can
    // allocate: one row per node.
    name: "NodeUtilization", title: "Node utilization now (% of allocatable)", load: async () => {
      const { ok, notes } = await eachCluster(async (c) => {
        const [all, usage] = await Promise.all([nodes(c), getJSON(`${clusterAPI(c)}/apis/metrics.k8s.io/v1beta1/nodes`)]);
        const used = new Map(usage.items.map((m) => [m.metadata.name, m.usage]));
        const byName = [...all.items].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
        return byName.map((n) => {
          const name = n.metadata.name, u = used.get(name);
          // A node metrics-server has not read yet (just joined, not
          // ready) is unknown, not an error of the whole chart.
          if (!u) return [named(c, name), null, null];
          return [named(c, name), percent(quantity(u.cpu), quantity(n.status.allocatable.cpu)),
            percent(quantity(u.memory), quantity(n.status.allocatable.memory))];
        });
      });
      return { heat: { key: "node", columns: ["cpuPercent", "memoryPercent"], rows: ok.flatMap(([, rows]) => rows) }, notes };
    },
  },
  {
    // The namespace's VMs that cost and emit the most now (costreports)
    // with the CPU their launcher pods use (metrics.k8s.io): the top ten by
    // cost.
    name: "TopVMs", title: "Top VMs by cost, carbon and CPU", load: async () => {
      const ns = namespace();
      const { ok, notes } = await eachCluster(async (c) => {
        const [report, pods] = await Promise.all([
          getJSON(`${clusterAPI(c)}/apis/hypersdk.io/v1alpha1/namespaces/${encodeURIComponent(ns)}/costreports/current`),
          getJSON(`${clusterAPI(c)}/apis/metrics.k8s.io/v1beta1/namespaces/${encodeURIComponent(ns)}/pods?labelSelector=${encodeURIComponent("kubevirt.io=virt-launcher")}`),
        ]);
        const cpu = new Map();
        for (const pm of pods.items) {
          const vm = pm.metadata.labels?.["vm.kubevirt.io/name"];
          if (vm) cpu.set(vm, (cpu.get(vm) ?? 0) + pm.containers.reduce((sum, c) => sum + quantity(c.usage.cpu), 0));
        }
        // A rate the server does not know (a zone without a carbon reading)
        // is absent: null, an empty cell, never 0; so is the CPU of a VM
        // on a node whose launcher pod metrics-server has not read (a
        // stopped VM, on no node, uses none).
        return (report.virtualMachines ?? []).map((e) => [named(c, e.name), e.amounts.costPerHour, e.amounts.carbonGramsPerHour ?? null, cpu.get(e.name) ?? (e.node ? null : 0)]);
      });
      const rows = ok.flatMap(([, rows]) => rows).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 10);
      return { heat: { key: "vm", columns: ["costPerHour", "carbonGramsPerHour", "cpuCores"], rows }, notes };
    },
  },
  {
    // The decisions of the scheduler extender on the launcher pods that
    // exist (each pod carries its own), made in the window, by the zone of
    // the node chosen.
    name: "PlacementsByZone", title: "Placement decisions by zone", load: async () => {
      const w = await bounds();
      const { ok, notes } = await eachCluster(async (c) => {
        const [pods, all] = await Promise.all([
          getJSON(`${clusterAPI(c)}/api/v1/pods?labelSelector=${encodeURIComponent("kubevirt.io=virt-launcher")}`), nodes(c)]);
        const zoneOf = new Map(all.items.map((n) => [n.metadata.name, n.metadata.labels?.["topology.kubernetes.io/zone"] ?? "(no zone)"]));
        const counts = new Map();
        for (const pod of pods.items) {
          const raw = pod.metadata.annotations?.["hypersdk.io/placement-decision"];
          if (!raw) continue;
          const d = JSON.parse(raw), t = Date.parse(d.time);
          if (t < w.start || t > w.end) continue;
          const zone = zoneOf.get(d.node) ?? "(node gone)";
          counts.set(zone, (counts.get(zone) ?? 0) + 1);
        }
        return [...counts];
      });
      return { window: w, bars: sumBars(ok), notes };
    },
  },
  {
    name: "VMResources", title: "One VM: CPU, memory and carbon", load: async () => {
      if (allClusters) throw new Error("a VM is in one cluster: choose it");
      const vm = params.get("vm");
      if (!vm || !vm.includes("/")) throw new Error("choose a VM (namespace/name) above");
      const [ns, name] = vm.split("/");
      const h = await history(`${hyper}/namespaces/${encodeURIComponent(ns)}/virtualmachines/${encodeURIComponent(name)}/history`,
        ["cpuUsage", "memoryUsage", "carbonIntensity"]);
      // Cores, bytes and gCO2eq/kWh: on one axis the bytes would flatten
      // the others onto zero, so each series has a scale of its own.
      for (const s of h.series) s.axis = "own";
      return h;
    },
  },
];

// carbonZone is a node's grid zone as HyperSDK reads it (pkg/carbon's
// ZoneOf): the hypersdk.io/carbon-zone annotation, then that label, then the
// region label.
function carbonZone(node) {
  const key = "hypersdk.io/carbon-zone", m = node.metadata;
  return m.annotations?.[key] || m.labels?.[key] || m.labels?.["topology.kubernetes.io/region"] || "";
}

// forecasts are, for each grid zone of the cluster's nodes, its intensity now and
// its mean forecast over the next 1h, 6h and 24h (external.metrics.k8s.io's
// carbon_intensity{zone, horizon}), each drawn at the end of its horizon,
// for the horizons no longer than the window (so the past keeps at least
// half of the chart). A zone or horizon that does not answer is left out
// and named in notes, rather than taking the history's series with it.
async function forecasts(w) {
  let zones;
  try {
    zones = [...new Set((await nodes(cluster)).items.map(carbonZone).filter(Boolean))].sort();
  } catch (e) {
    return { series: [], notes: [`no forecasts: the nodes' zones could not be read: ${e.message}`] };
  }
  const horizons = [["", 0], ["1h", 3600e3], ["6h", 6 * 3600e3], ["24h", 24 * 3600e3]].filter(([, ms]) => ms <= w.end - w.start);
  const ns = encodeURIComponent(params.get("namespace") || "default");
  const read = (zone) => Promise.allSettled(horizons.map(async ([horizon, ms]) => {
    const sel = horizon ? `zone=${zone},horizon=${horizon}` : `zone=${zone}`;
    const m = await getJSON(`${api}/apis/external.metrics.k8s.io/v1beta1/namespaces/${ns}/carbon_intensity?labelSelector=${encodeURIComponent(sel)}`);
    if (!m.items?.length) throw new Error(`external.metrics.k8s.io has no carbon_intensity for ${sel}`);
    return [w.end + ms, quantity(m.items[0].value)];
  }));
  const series = [], notes = [];
  (await Promise.all(zones.map(read))).forEach((answers, z) => {
    const points = [];
    answers.forEach((a, i) => (a.status === "fulfilled" ? points.push(a.value) : notes.push(`${zones[z]} ${horizons[i][0] || "now"}: ${a.reason.message}`)));
    // Points hours apart by design, drawn joined (no history step).
    if (points.length) series.push({ name: `${zones[z]} forecast`, unit: "gCO2eq/kWh", continuous: true, points });
  });
  return { series, notes };
}

// quantity reads a Kubernetes quantity (250m, 16, 1536Mi, 2e3) as a number.
function quantity(q) {
  const m = /^([+-]?[0-9.]+)(?:([numkMGTPE]|[KMGTPE]i)|[eE]([+-]?[0-9]+))?$/.exec(String(q ?? ""));
  if (!m) return NaN;
  const scale = { n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
    Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
  const v = parseFloat(m[1]);
  if (m[3]) return v * 10 ** parseInt(m[3], 10);
  return m[2] ? v * scale[m[2]] : v;
}

// percent is a share with two decimals, as the heat maps show it.
const percent = (used, of) => (of > 0 ? Math.round((10000 * used) / of) / 100 : 0);

// parseDuration reads a Go duration as the API writes it (1h2m3.5s).
function parseDuration(d) {
  let ms = 0;
  for (const [, v, u] of d.matchAll(/([0-9.]+)(ms|h|m|s)/g)) ms += parseFloat(v) * { h: 3600e3, m: 60e3, s: 1e3, ms: 1 }[u];
  return ms;
}

const colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"];
const W = 560, H = 220, L = 60, R = 10, T = 10, B = 40;
const svgNS = "http://www.w3.org/2000/svg";
function el(name, attrs, parent) {
  const e = document.createElementNS(svgNS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  parent?.append(e);
  return e;
}
function label(v) {
  return Math.abs(v) >= 1e6 ? v.toExponential(2) : String(Math.round(v * 1000) / 1000);
}

// draw renders data as lines (series) or bars into an SVG.
function draw(data) {
  // Four legend entries a row (one where a series writes its own scale
  // in it), the rows past the first below the chart.
  const perRow = data.series?.some((s) => s.axis === "own") ? 1 : 4;
  const legendRows = Math.max(1, Math.ceil((data.series?.length ?? 0) / perRow));
  const height = H + (legendRows - 1) * 14;
  const svg = el("svg", { width: W, height, viewBox: `0 0 ${W} ${height}`, xmlns: svgNS });
  el("rect", { x: 0, y: 0, width: W, height, fill: "#fff" }, svg);
  if (data.heat) return drawHeat(svg, data.heat);
  // Series with axis "right" share a scale to their maximum, written at
  // the top right; each with axis "own" has a scale to its own maximum,
  // written in its legend (series of different units).
  const right = (s) => s.axis === "right", own = (s) => s.axis === "own";
  const values = (keep) => (data.series ? data.series.filter(keep).flatMap((s) => s.points.map((p) => p[1])) : data.bars.map((b) => b[1]));
  const max = Math.max(1e-9, ...values((s) => !right(s) && !own(s)));
  const maxRight = Math.max(1e-9, ...values(right));
  const maxOwn = (s) => Math.max(1e-9, ...s.points.map((p) => p[1]));
  const y = (v, s) => T + (H - T - B) * (1 - v / (s && right(s) ? maxRight : s && own(s) ? maxOwn(s) : max));
  el("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#888" }, svg);
  el("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#888" }, svg);
  if (!data.series?.every(own)) el("text", { x: L - 4, y: T + 8, "text-anchor": "end" }, svg).textContent = label(max);
  el("text", { x: L - 4, y: H - B, "text-anchor": "end" }, svg).textContent = "0";
  if (data.series?.some(right)) el("text", { x: W - R, y: T + 8, "text-anchor": "end" }, svg).textContent = label(maxRight);
  if (data.series) {
    const { start, end } = data.window;
    const x = (t) => L + (W - L - R) * (end > start ? (t - start) / (end - start) : 0);
    el("text", { x: L, y: H - B + 14 }, svg).textContent = new Date(start).toISOString().slice(0, 16).replace("T", " ");
    el("text", { x: W - R, y: H - B + 14, "text-anchor": "end" }, svg).textContent = new Date(end).toISOString().slice(0, 16).replace("T", " ");
    // Points further apart than the longest the history's own sums bridge
    // (MaxSampleGap, 1h1m, and a step: a recorder samples every 5 minutes,
    // so steps shorter than that leave some empty) have a gap between them
    // (a VM stopped, a recorder down), drawn as one, not as a line across.
    const gap = data.window.stepMs > 0 ? Math.max(1.5 * data.window.stepMs, 61 * 60e3 + data.window.stepMs) : Infinity;
    data.series.forEach((s, i) => {
      const d = s.points.map((p, j) => `${j && (s.continuous || !(p[0] - s.points[j - 1][0] > gap)) ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1], s).toFixed(1)}`).join("");
      el("path", { d: d || "M0,0", fill: "none", stroke: colours[i % colours.length], "stroke-width": 1.5,
        "data-series": s.name, "data-points": s.points.length }, svg);
      // A dot per point, so that a lone point (a window of one step) shows.
      for (const p of s.points) {
        el("circle", { cx: x(p[0]).toFixed(1), cy: y(p[1], s).toFixed(1), r: 2, fill: colours[i % colours.length] }, svg);
      }
      el("text", { x: L + 4 + (i % perRow) * 125, y: H - 6 + Math.floor(i / perRow) * 14, fill: colours[i % colours.length] }, svg).textContent =
        s.name + (right(s) ? " (right)" : own(s) ? ` (top ${label(maxOwn(s))}${s.unit ? " " + s.unit : ""})` : "");
    });
  } else {
    const bw = (W - L - R) / Math.max(1, data.bars.length);
    data.bars.forEach(([name, v], i) => {
      el("rect", { x: L + i * bw + 2, y: y(v), width: Math.max(1, bw - 4), height: H - B - y(v), fill: colours[i % colours.length],
        "data-bar": name, "data-value": v }, svg);
      el("text", { x: L + i * bw + bw / 2, y: H - B + 14, "text-anchor": "middle" }, svg).textContent = name;
    });
  }
  return svg;
}

// drawHeat draws a table of numbers as cells shaded by each column's
// largest value, with the numbers written in them. A null is an unknown
// value: a grey cell that says so.
function drawHeat(svg, heat) {
  const cw = (W - 120) / heat.columns.length, ch = Math.min(24, (H - 20) / Math.max(1, heat.rows.length));
  heat.columns.forEach((c, j) => { el("text", { x: 120 + j * cw + 4, y: 12 }, svg).textContent = c; });
  const max = heat.columns.map((_, j) => Math.max(1e-9, ...heat.rows.map((r) => r[j + 1] ?? 0)));
  heat.rows.forEach((r, i) => {
    el("text", { x: 4, y: 20 + i * ch + ch * 0.7 }, svg).textContent = r[0];
    heat.columns.forEach((_, j) => {
      const v = r[j + 1], share = (v ?? 0) / max[j];
      const fill = v == null ? "rgb(220, 220, 220)" : `rgb(255, ${Math.round(240 - 200 * share)}, ${Math.round(220 - 200 * share)})`;
      el("rect", { x: 120 + j * cw, y: 20 + i * ch, width: cw - 2, height: ch - 2, fill, "data-cell": `${r[0]}/${heat.columns[j]}` }, svg);
      el("text", { x: 120 + j * cw + 4, y: 20 + i * ch + ch * 0.7 }, svg).textContent = v == null ? "unknown" : label(v);
    });
  });
  return svg;
}

// csv is a chart's numbers: time and one column per series, or label and
// value per bar. Numbers are written as JavaScript prints them.
function csv(data) {
  const line = (cells) => cells.map(csvCell).join(",");
  if (data.bars) return [line(["label", "value"]), ...data.bars.map(line)].join("\n") + "\n";
  if (data.heat) return [[data.heat.key, ...data.heat.columns], ...data.heat.rows].map(line).join("\n") + "\n";
  // A row per time any series has a point at; empty where one has none.
  const rows = [line(["time", ...data.series.map((s) => s.name)])];
  const byTime = data.series.map((s) => new Map(s.points.map(([t, v]) => [t, v])));
  const times = [...new Set(data.series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  for (const t of times) rows.push(line([new Date(t).toISOString(), ...byTime.map((m) => m.get(t) ?? "")]));
  return rows.join("\n") + "\n";
}

// csvCell quotes a cell as RFC 4180 does when it holds a comma, a quote or
// a line break: names (a kubeconfig context's, in all-clusters mode) may.
function csvCell(v) {
  const s = v == null ? "" : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

// png renders an SVG to a PNG data URL through a canvas.
async function png(svg) {
  const img = new Image();
  img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(new XMLSerializer().serializeToString(svg));
  await img.decode();
  const canvas = document.createElement("canvas");
  canvas.width = W;
  canvas.height = Number(svg.getAttribute("height"));
  canvas.getContext("2d").drawImage(img, 0, 0);
  return canvas.toDataURL("image/png");
}

function save(href, filename) {
  const a = document.createElement("a");
  a.href = href;
  a.download = filename;
  a.click();
}

// Loaded charts by name, for the export buttons and the browser tests.
const loaded = new Map();
window.chartCSV = (name) => csv(loaded.get(name));
window.csvOf = csv; // a chart's data as CSV, for scripts driving the page
window.chartPNG = (name) => png(document.querySelector(`figure[data-chart="${name}"] svg`));

async function show(chart, fig) {
  try {
    const data = await chart.load();
    loaded.set(chart.name, data);
    fig.append(draw(data));
    for (const note of data.notes ?? []) {
      const p = document.createElement("p");
      p.className = "error";
      p.textContent = note;
      fig.append(p);
    }
    fig.dataset.state = "drawn";
  } catch (e) {
    const p = document.createElement("p");
    p.className = "error";
    p.textContent = e.message;
    fig.append(p);
    fig.dataset.state = "error";
  }
}

// Only the charts asked for (chart=A,B), else all of them.
const only = params.get("chart")?.split(",");
const figures = document.getElementById("charts");
await Promise.all(charts.filter((c) => !only || only.includes(c.name)).map((chart) => {
  const fig = document.createElement("figure");
  fig.dataset.chart = chart.name;
  const cap = document.createElement("figcaption");
  cap.textContent = chart.title;
  for (const [what, act] of [["PNG", async () => save(await window.chartPNG(chart.name), `${chart.name}.png`)],
    ["CSV", () => save(URL.createObjectURL(new Blob([window.chartCSV(chart.name)], { type: "text/csv" })), `${chart.name}.csv`)]]) {
    const b = document.createElement("button");
    b.textContent = what;
    b.addEventListener("click", act);
    cap.append(b);
  }
  fig.append(cap);
  figures.append(fig);
  return show(chart, fig);
}));
document.getElementById("window").textContent = `on ${allClusters ? "all clusters" : cluster}, ${windowQuery()}`;
document.body.dataset.charts = "loaded";

// The range form reloads the page with the window in its address.
const last = document.getElementById("r-last");
last.value = params.get("timeRange") ?? (params.get("start") ? "" : "24h");
document.getElementById("r-start").value = params.get("start") ?? "";
document.getElementById("r-end").value = params.get("end") ?? "";
document.getElementById("r-vm").value = params.get("vm") ?? "";
document.getElementById("r-apply").addEventListener("click", () => {
  const q = new URLSearchParams({ cluster });
  const start = document.getElementById("r-start").value.trim(), end = document.getElementById("r-end").value.trim();
  if (last.value) q.set("timeRange", last.value);
  else { if (start) q.set("start", start); if (end) q.set("end", end); }
  const vm = document.getElementById("r-vm").value.trim();
  if (vm) q.set("vm", vm);
  location.search = q.toString();
});
