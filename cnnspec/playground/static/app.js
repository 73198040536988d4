// The playground page: the editor, its textarea mirror (data-testid="source"), the analysis in
// worker.js on every edit (debounced), the report, diagnostics, diagram, links and downloads.
// Test hook: window.cnnspecPlayground (see docs/playground.md).

const DEBOUNCE_MS = 150;
const DEFAULT_EXAMPLE = "vgg19.cnn";
const $ = (id) => document.getElementById(id);
const body = document.body;
const mirror = $("source");

const state = { name: "model.cnn", seq: 0, shownSeq: -1, editor: null, lastGood: null, timer: null };

// ---- the worker ---------------------------------------------------------------------------
const worker = new Worker("worker.js");
const waiting = new Map();
let nextId = 1;
let markReady;
const ready = new Promise((resolve) => (markReady = resolve));
const hook = { ready, timings: null, versions: null, lastAnalysisMs: null };
// The worker's own time (performance.now() around the Python call) for one analysis, outside the UI.
hook.analyze = async (text, name = "model.cnn") => {
  const reply = await call("analyze", text, null, name);
  if (!reply.ok) throw new Error(reply.message);
  return { ms: reply.ms, result: JSON.parse(reply.json) };
};
window.cnnspecPlayground = hook;

worker.onmessage = ({ data }) => {
  if (data.type === "ready") {
    Object.assign(hook, { timings: data.timings, versions: data.versions });
    setStatus(`cnnspec ${data.versions.cnnspec} on Pyodide ${data.versions.pyodide}`);
    body.dataset.state = "ready";
    markReady();
  } else if (data.type === "failed") {
    fail(`Python did not start: ${data.message}`);
  } else {
    if (data.timings) hook.timings = data.timings;
    waiting.get(data.id)?.(data);
    waiting.delete(data.id);
  }
};
worker.onerror = (event) => fail(`the worker failed: ${event.message || "unknown error"}`);

function call(type, text, seq = null, name = state.name) {
  const id = nextId++;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    worker.postMessage({ id, type, text, name, seq });
  });
}

function fail(message) {
  body.dataset.state = "failed";
  setStatus(message);
}

function setStatus(text) {
  $("status").textContent = text;
}

// ---- analysis on every edit ----------------------------------------------------------------
function edited(text) {
  if (mirror.value !== text) mirror.value = text;
  state.seq += 1;
  body.dataset.editSeq = String(state.seq);
  clearTimeout(state.timer);
  state.timer = setTimeout(() => analyze(text, state.seq), DEBOUNCE_MS);
  saveLink(text);
}

async function analyze(text, seq) {
  const reply = await call("analyze", text, seq);
  if (seq !== state.seq || reply.skipped) return; // a newer edit is on its way
  if (!reply.ok) return fail(`internal error: ${reply.message}`);
  hook.lastAnalysisMs = reply.ms;
  show(JSON.parse(reply.json));
  state.shownSeq = seq;
  body.dataset.shownSeq = String(seq);
}

function show(result) {
  if (result.crash) {
    showDiagnostics([], [`internal error: ${result.crash} (this is a bug in cnnspec; please report it)`]);
    return;
  }
  const report = result.report;
  showDiagnostics(report.diagnostics, result.rendered);
  state.editor?.setDiagnostics(report.diagnostics);
  if (result.rows.length || !state.lastGood) {
    state.lastGood = result;
    renderReport(result, false);
    drawDiagram(result.mermaid);
  } else {
    renderReport(state.lastGood, true);
  }
}

function showDiagnostics(diagnostics, rendered) {
  const box = $("diagnostics");
  box.replaceChildren();
  box.dataset.count = String(rendered.length);
  box.dataset.lines = diagnostics.map((d) => d.line).filter((line) => line != null).join(",");
  rendered.forEach((text, i) => {
    const d = diagnostics[i] || {};
    const item = document.createElement("pre");
    item.className = `diagnostic ${d.severity || "error"}`;
    if (d.line != null) {
      item.dataset.line = String(d.line);
      item.title = "show in the editor";
      item.addEventListener("click", () => state.editor?.goTo(d.line, d.column));
    }
    item.textContent = text;
    box.append(item);
  });
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text != null) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function renderReport(result, stale) {
  const box = $("report");
  box.dataset.stale = String(stale);
  box.replaceChildren();
  const report = result.report;
  if (stale) box.append(element("p", "The file has errors: showing its last analysis without them.", "stale-note"));
  if (!result.rows.length) return;
  box.append(element("h2", `${report.net} — ${report.file}`));
  const table = element("table");
  const head = table.createTHead().insertRow();
  result.columns.forEach((header, i) => head.append(element("th", header, result.right[i] ? "num" : "")));
  const rows = table.createTBody();
  for (const cells of result.rows) {
    const row = rows.insertRow();
    cells.forEach((cell, i) => row.append(element("td", cell, result.right[i] ? "num" : "")));
  }
  const scroller = element("div", null, "table-scroll");
  scroller.append(table);
  box.append(scroller, element("pre", result.totals.join("\n"), "totals"));
  const contracts = report.contracts || [];
  if (contracts.length) {
    const list = element("ul", null, "contracts");
    contracts.forEach((c) => list.append(element("li", `expect ${c.text}: ${c.passed ? "met" : "not met"}`, c.passed ? "met" : "unmet")));
    box.append(list);
  }
}

// ---- the diagram (mermaid, loaded on first use) ---------------------------------------------
let mermaidLoaded = null;
let drawing = false;
let nextDiagram = null;

function loadMermaid() {
  mermaidLoaded ??= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = "vendor/mermaid/dist/mermaid.min.js";
    script.onload = () => {
      window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict", maxTextSize: 5000000, maxEdges: 20000 });
      resolve(window.mermaid);
    };
    script.onerror = () => reject(new Error("mermaid did not load"));
    document.head.append(script);
  });
  return mermaidLoaded;
}

async function drawDiagram(text) {
  nextDiagram = $("draw").checked ? text : null;
  if (!nextDiagram) return $("diagram").replaceChildren();
  if (drawing) return; // the drawing in progress picks up nextDiagram when done
  drawing = true;
  try {
    while (nextDiagram) {
      const source = nextDiagram;
      nextDiagram = null;
      try {
        const mermaid = await loadMermaid();
        const { svg } = await mermaid.render(`diagram-${state.seq}`, source);
        if (!nextDiagram) $("diagram").innerHTML = svg;
      } catch (error) {
        $("diagram").replaceChildren(element("p", `The diagram could not be drawn: ${error.message || error}`, "note"));
      }
    }
  } finally {
    drawing = false;
  }
}

$("draw").addEventListener("change", () => drawDiagram(state.lastGood?.mermaid));

// ---- links: #src= (raw DEFLATE, then unpadded base64url; docs/playground.md) --------------------
function toBase64url(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text) {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

async function pipe(bytes, transform) {
  return new Uint8Array(await new Response(new Blob([bytes]).stream().pipeThrough(transform)).arrayBuffer());
}

export async function encodeSource(text) {
  return toBase64url(await pipe(new TextEncoder().encode(text), new CompressionStream("deflate-raw")));
}

export async function decodeSource(payload) {
  return new TextDecoder("utf-8", { fatal: true }).decode(await pipe(fromBase64url(payload), new DecompressionStream("deflate-raw")));
}

let linkSeq = 0;
async function saveLink(text) {
  const mine = ++linkSeq;
  const payload = await encodeSource(text);
  if (mine === linkSeq) history.replaceState(null, "", `#src=${payload}`);
}

function linkPayload() {
  const match = /^#src=([A-Za-z0-9_-]*)/.exec(location.hash);
  return match ? match[1] : null;
}

// ---- downloads -------------------------------------------------------------------------------
function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

$("download-cnn").addEventListener("click", () => download(state.name, mirror.value, "text/plain"));
$("download-py").addEventListener("click", async () => {
  const reply = await call("codegen", mirror.value);
  const result = reply.ok ? JSON.parse(reply.json) : { errors: [reply.message] };
  if (result.code) download(state.name.replace(/\.cnn$/, "") + ".py", result.code, "text/x-python");
  else showDiagnostics([], ["Nothing to generate:", ...result.errors]);
});
$("share").addEventListener("click", async () => {
  await saveLink(mirror.value);
  try {
    await navigator.clipboard.writeText(location.href);
    setStatus("Link copied");
  } catch {
    setStatus("Link in the address bar");
  }
});

// ---- start -------------------------------------------------------------------------------------
async function fetchText(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.text();
}

async function loadExample(name) {
  state.name = name;
  const text = await fetchText(`examples/${name}`);
  state.editor ? state.editor.setText(text) : edited(text);
}

async function startEditor(text) {
  try {
    const [{ createEditor }, mode] = await Promise.all([import("./editor.js"), fetchText("highlight.json").then(JSON.parse)]);
    state.editor = createEditor($("editor"), text, mode, edited);
    body.dataset.editor = "codemirror";
  } catch (error) {
    // Without CodeMirror the textarea is the editor.
    console.error(error);
    body.dataset.editor = "textarea";
  }
}

mirror.addEventListener("input", () => (state.editor ? state.editor.setText(mirror.value) : edited(mirror.value)));

$("examples").addEventListener("change", (event) => event.target.value && loadExample(event.target.value));

async function start() {
  const manifest = await fetchText("manifest.json").then(JSON.parse);
  for (const name of manifest.examples) $("examples").append(new Option(name.replace(/\.cnn$/, ""), name));
  const payload = linkPayload();
  let text = "";
  if (payload != null) {
    text = await decodeSource(payload).catch(() => {
      $("notice").textContent = "The link's #src= is damaged: showing an example instead.";
      return null;
    });
  }
  if (text === null || payload == null) {
    const name = manifest.examples.includes(DEFAULT_EXAMPLE) ? DEFAULT_EXAMPLE : manifest.examples[0];
    if (name) {
      state.name = name;
      text = await fetchText(`examples/${name}`);
      $("examples").value = name;
    }
  }
  mirror.value = text;
  await startEditor(text);
  edited(text);
}

start().catch((error) => fail(`the page did not start: ${error.message || error}`));
