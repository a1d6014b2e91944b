// ragline feedback page: the admin feedback report (GET /v1/feedback/report) as tables, and the
// worst-rated questions with buttons that load their traces. Text goes in through textContent only.

const KEY_STORAGE = "ragline.apiKey"; // the key saved on the main page
const $ = (id) => document.getElementById(id);

function cell(text, num = false) {
  const td = document.createElement("td");
  td.textContent = String(text);
  if (num) td.className = "num";
  return td;
}

async function api(path) {
  const headers = new Headers();
  const key = localStorage.getItem(KEY_STORAGE) || "";
  if (key) headers.set("Authorization", `Bearer ${key}`);
  const res = await fetch(path, { headers });
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    const message = body && body.error && body.error.message ? body.error.message : `the server answered ${res.status}`;
    throw new Error(message);
  }
  return body;
}

function showError(err) {
  $("error-message").textContent = err instanceof Error ? err.message : String(err);
  $("error").hidden = false;
}

function fillRates(tbodyId, rows) {
  const body = $(tbodyId);
  body.replaceChildren();
  for (const r of rows) {
    const tr = document.createElement("tr");
    tr.dataset.key = r.key;
    tr.append(cell(r.key), cell(r.up, true), cell(r.down, true), cell(r.rate.toFixed(3), true));
    body.append(tr);
  }
}

async function showTrace(id) {
  $("trace-title").textContent = `trace ${id}`;
  $("trace-view").textContent = "loading…";
  try {
    const t = await api(`/v1/traces/${encodeURIComponent(id)}`);
    const lines = [
      `question: ${t.question}`,
      `collection: ${t.collection}`,
      `variant: ${t.variant || "(none)"}`,
      `answer: ${t.trace.answer ?? ""}`,
      `cited: ${(t.trace.citations || []).map((c) => c.doc_id).join(", ")}`,
    ];
    $("trace-view").textContent = lines.join("\n");
  } catch (err) {
    $("trace-view").textContent = "";
    showError(err);
  }
}

function fillWorst(rows) {
  const list = $("worst");
  list.replaceChildren();
  for (const w of rows) {
    const li = document.createElement("li");
    const q = document.createElement("p");
    q.className = "worst-question";
    q.textContent = w.question;
    const meta = document.createElement("p");
    meta.className = "meta";
    meta.textContent = `${w.collection} · ${w.up} up · ${w.down} down`;
    const traces = document.createElement("p");
    for (const id of w.trace_ids) {
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.traceId = id;
      b.textContent = `trace ${id.slice(0, 8)}`;
      b.addEventListener("click", () => showTrace(id));
      traces.append(b, " ");
    }
    li.append(q, meta, traces);
    list.append(li);
  }
}

async function load() {
  $("error").hidden = true;
  const params = new URLSearchParams({ days: $("report-days").value || "30" });
  const c = $("report-collection").value.trim();
  if (c) params.set("collection", c);
  try {
    const r = await api(`/v1/feedback/report?${params}`);
    $("report-summary").textContent = `${r.rated} of ${r.traces} answers rated in the last ${r.days} days`;
    fillRates("by-collection", r.by_collection);
    fillRates("by-variant", r.by_variant);
    fillRates("by-day", r.by_day);
    fillWorst(r.worst);
    document.body.dataset.loaded = "true";
  } catch (err) {
    showError(err);
  }
}

$("report-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  load();
});
document.body.dataset.ready = "true";
load();
