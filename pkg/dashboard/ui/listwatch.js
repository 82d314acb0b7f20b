// Lists and watches Kubernetes collections through the dashboard's proxy,
// as client-go's reflector does: a list, then a watch from the list's
// resourceVersion, and a fresh list after any error or a closed watch.

// follow keeps calling onList with a full list and onEvent with each watch
// event (ADDED, MODIFIED, DELETED) of url, and onState with "(live)" or the
// error it retries after. It returns a function that stops it.
export function follow(url, { onList, onEvent, onState }) {
  const ctl = new AbortController();
  (async () => {
    while (!ctl.signal.aborted) {
      try {
        await listWatch(url, ctl.signal, onList, onEvent, onState);
      } catch (e) {
        if (ctl.signal.aborted) return;
        onState?.(`(${e.message}, retrying)`);
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
  })();
  return () => ctl.abort();
}

async function listWatch(url, signal, onList, onEvent, onState) {
  const resp = await fetch(url, { signal });
  if (!resp.ok) throw new Error(await statusMessage(resp));
  const list = await resp.json();
  onList(list.items);
  const sep = url.includes("?") ? "&" : "?";
  const watch = await fetch(`${url}${sep}watch=1&resourceVersion=${list.metadata.resourceVersion}`, { signal });
  if (!watch.ok) throw new Error(await statusMessage(watch));
  onState?.("(live)");
  const reader = watch.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    for (let i; (i = buf.indexOf("\n")) >= 0; buf = buf.slice(i + 1)) {
      const ev = JSON.parse(buf.slice(0, i));
      if (ev.type === "ERROR") throw new Error(ev.object.message);
      if (ev.type !== "BOOKMARK") onEvent(ev.type, ev.object);
    }
  }
}

// statusMessage is the message of the Kubernetes Status an API answered
// with, or the HTTP status when the body is not one.
export async function statusMessage(resp) {
  try {
    return (await resp.json()).message || `${resp.status} ${resp.statusText}`;
  } catch {
    return `${resp.status} ${resp.statusText}`;
  }
}

// getJSON answers a GET (through the proxy, or of the dashboard's own API),
// or throws the API's message.
export async function getJSON(url) {
  const resp = await fetch(url);
  if (!resp.ok) throw new Error(await statusMessage(resp));
  return resp.json();
}

// clusterAPI is the path prefix of a cluster's API through the proxy.
export function clusterAPI(cluster) {
  return `/k8s/${encodeURIComponent(cluster)}`;
}
