// The playground's Python: Pyodide, the wheels from manifest.json, and cnnspec.playground.session.
// Messages in: {id, type: "analyze" | "codegen", text, name, seq}; out: {id, ok, json, ms} or
// {type: "ready" | "failed", ...}. An analysis older than the newest one asked for is skipped.
/* global loadPyodide */
importScripts("vendor/pyodide/pyodide.js");

const timings = { worker_start_ms: performance.now() };
let newestSeq = -1;

const ready = (async () => {
  const pyodide = await loadPyodide({ indexURL: new URL("vendor/pyodide/", self.location.href).href });
  timings.pyodide_ready_ms = performance.now();
  const manifest = await (await fetch("manifest.json")).json();
  const archives = await Promise.all(
    manifest.wheels.map(async (wheel) => {
      const response = await fetch(wheel);
      if (!response.ok) throw new Error(`${wheel}: HTTP ${response.status}`);
      return response.arrayBuffer();
    }),
  );
  const sitePackages = pyodide.runPython("import sysconfig\nsysconfig.get_paths()['purelib']");
  archives.forEach((archive) => pyodide.unpackArchive(archive, "wheel", { extractDir: sitePackages }));
  pyodide.runPython("import importlib, os\nimportlib.invalidate_caches()\nos.makedirs('/playground', exist_ok=True)\nos.chdir('/playground')");
  const session = pyodide.pyimport("cnnspec.playground.session");
  timings.cnnspec_ready_ms = performance.now();
  self.postMessage({ type: "ready", timings, versions: { cnnspec: manifest.cnnspec, pyodide: manifest.pyodide } });
  return session;
})();

ready.catch((error) => self.postMessage({ type: "failed", message: String(error && error.message ? error.message : error) }));

async function handle(message) {
  const session = await ready;
  if (message.type === "analyze" && message.seq != null && message.seq < newestSeq) {
    self.postMessage({ id: message.id, ok: false, skipped: true });
    return;
  }
  const start = performance.now();
  try {
    const json = session[message.type](message.text, message.name);
    const end = performance.now();
    if (timings.first_result_ms === undefined && message.type === "analyze") timings.first_result_ms = end;
    self.postMessage({ id: message.id, ok: true, json, ms: end - start, timings });
  } catch (error) {
    self.postMessage({ id: message.id, ok: false, message: String(error && error.message ? error.message : error) });
  }
}

self.onmessage = (event) => {
  const message = event.data;
  if (message.type === "analyze" && message.seq != null) newestSeq = Math.max(newestSeq, message.seq);
  // Handled in a later task, so that edits queued behind a long analysis can make it stale first.
  setTimeout(() => handle(message), 0);
};
