// ragline web UI: ask (streamed, with citations) in a conversation, search, upload, documents and
// feedback, all through the /v1 API. No dependencies and no build step. Every piece of text from the server or
// the user goes into the page through textContent or text nodes, never through innerHTML.

const KEY_STORAGE = "ragline.apiKey";
const COLLECTION_STORAGE = "ragline.collection";
const NEW_COLLECTION = "\u0000new";
const POLL_MS = 300;

const $ = (id) => document.getElementById(id);

/** Builds an element; attributes are set as attributes (or properties for on* handlers), children
 * that are strings become text nodes. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// -- API -------------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(type, message, status) {
    super(message);
    this.type = type;
    this.status = status;
  }
}

function apiKey() {
  return localStorage.getItem(KEY_STORAGE) || "";
}

async function errorFrom(res) {
  let text = "";
  try {
    text = await res.text();
    const body = JSON.parse(text);
    if (body && body.error && body.error.message) {
      return new ApiError(body.error.type || "Error", body.error.message, res.status);
    }
  } catch {
    // not a JSON error body: fall through
  }
  const detail = text && text.length < 500 ? `: ${text}` : "";
  return new ApiError("HTTPError", `the server answered ${res.status} ${res.statusText}${detail}`, res.status);
}

/** fetch with the API key; throws ApiError for non-2xx answers. Returns the Response when `raw`,
 * else the parsed JSON body. */
async function api(path, { method = "GET", json, body, signal, raw = false, accept } = {}) {
  const headers = new Headers();
  const key = apiKey();
  if (key) headers.set("Authorization", `Bearer ${key}`);
  if (accept) headers.set("Accept", accept);
  if (json !== undefined) {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(json);
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body, signal });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError("NetworkError", `cannot reach the server (${err.message})`, 0);
  }
  if (!res.ok) throw await errorFrom(res);
  if (raw) return res;
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

const enc = encodeURIComponent;
/** Document ids may hold "/" (the route is {doc_id:path}): encode each segment, keep the slashes. */
const encodeDocId = (id) => id.split("/").map(encodeURIComponent).join("/");
const collectionUrl = (c) => `/v1/collections/${enc(c)}`;

// -- errors and small helpers ---------------------------------------------------------------------

function showError(err) {
  if (err && err.name === "AbortError") return;
  const message = err instanceof Error ? err.message : String(err);
  $("error-message").textContent = message;
  $("error").hidden = false;
  console.error(err);
}

function clearError() {
  $("error").hidden = true;
  $("error-message").textContent = "";
}

function setBusy(button, busy) {
  button.disabled = busy;
  button.setAttribute("aria-busy", busy ? "true" : "false");
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function basename(path) {
  const parts = String(path || "").split(/[\\/]/);
  return parts[parts.length - 1] || String(path || "");
}

function docLabel(title, source, id) {
  return title || basename(source) || id;
}

// -- API key -----------------------------------------------------------------------------------------

function initApiKey() {
  $("api-key").value = apiKey();
  $("api-key-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const value = $("api-key").value.trim();
    if (value) localStorage.setItem(KEY_STORAGE, value);
    else localStorage.removeItem(KEY_STORAGE);
    $("api-key-status").textContent = value ? "saved" : "cleared";
    clearError();
    loadCollections().then(refreshDocuments);
  });
}

// -- collections -------------------------------------------------------------------------------------

function currentCollection() {
  const sel = $("collection-select");
  if (sel.value === NEW_COLLECTION) return $("collection-new").value.trim();
  return sel.value;
}

function syncNewCollectionField() {
  const isNew = $("collection-select").value === NEW_COLLECTION;
  $("collection-new").hidden = !isNew;
}

async function loadCollections() {
  const sel = $("collection-select");
  const wanted = currentCollection() || localStorage.getItem(COLLECTION_STORAGE) || "";
  let collections = [];
  try {
    collections = await api("/v1/collections");
  } catch (err) {
    showError(err);
  }
  sel.replaceChildren(
    ...collections.map((c) =>
      h("option", { value: c.name }, `${c.name} (${c.documents} doc${c.documents === 1 ? "" : "s"})`)
    ),
    h("option", { value: NEW_COLLECTION }, "New collection…")
  );
  if (collections.some((c) => c.name === wanted)) {
    sel.value = wanted;
  } else if (wanted || collections.length === 0) {
    sel.value = NEW_COLLECTION;
    $("collection-new").value = wanted || "default";
  } else {
    sel.value = collections[0].name;
  }
  syncNewCollectionField();
}

function onCollectionChanged() {
  syncNewCollectionField();
  if (conversation) newChat();
  const c = currentCollection();
  if (c) localStorage.setItem(COLLECTION_STORAGE, c);
  $("search-results").replaceChildren();
  $("search-status").textContent = "";
  if ($("collection-select").value === NEW_COLLECTION) $("collection-new").focus();
  refreshDocuments();
}

function requireCollection() {
  const c = currentCollection();
  if (!c) throw new ApiError("InvalidRequest", "choose a collection, or type the name of a new one", 0);
  return c;
}

// -- ask ---------------------------------------------------------------------------------------------

let askController = null;
let currentAnswer = null;
// The chat: its id on the server (POST /v1/conversations) and collection, and the exchanges shown
// above the current answer. A follow-up is asked with the id, so the server reads it in context.
let conversation = null;

function newChat() {
  if (askController) askController.abort();
  conversation = null;
  currentAnswer = null;
  $("conversation").replaceChildren();
  $("conversation").hidden = true;
  $("answer").hidden = true;
  $("answer").dataset.state = "";
  $("question").value = "";
  $("question").focus();
}

/** Moves the answered exchange on screen into the conversation list. */
function archiveCurrentAnswer() {
  if (!currentAnswer) return;
  $("conversation").append(
    h(
      "li",
      { "data-testid": "turn" },
      h("p", { class: "turn-question" }, currentAnswer.question),
      h("p", { class: "turn-answer" }, currentAnswer.text)
    )
  );
  $("conversation").hidden = false;
}

async function conversationFor(collection, signal) {
  if (!conversation || conversation.collection !== collection) {
    const made = await api("/v1/conversations", { method: "POST", json: { collection }, signal });
    if (conversation) $("conversation").replaceChildren(); // another collection: another chat
    conversation = { id: made.id, collection };
  }
  return conversation.id;
}

/** Reads a text/event-stream body and calls onEvent(name, data) for each event. */
async function readSse(res, onEvent) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  const dispatch = (block) => {
    let event = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (data.length) onEvent(event, JSON.parse(data.join("\n")));
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
      buffer = buffer.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        dispatch(block);
      }
      if (done) break;
    }
    if (buffer.trim()) dispatch(buffer);
  } catch (err) {
    reader.cancel().catch(() => {});
    throw err;
  }
}

function resetAnswer() {
  $("answer").hidden = false;
  $("answer").dataset.state = "streaming";
  $("answer").dataset.tokens = "0";
  $("answer-text").replaceChildren();
  $("answer-restart").hidden = true;
  $("answer-restart").textContent = "";
  $("answer-abstained").hidden = true;
  $("answer-meta").hidden = true;
  $("answer-meta").textContent = "";
  $("answer-query").hidden = true;
  $("answer-query").textContent = "";
  $("answer-sources").replaceChildren();
  $("answer-sources-block").hidden = true;
  $("feedback").hidden = true;
  $("feedback-status").textContent = "";
  $("feedback-comment").value = "";
  for (const id of ["feedback-up", "feedback-down"]) {
    $(id).disabled = false;
    $(id).setAttribute("aria-pressed", "false");
  }
}

function citationLabel(c) {
  const title = docLabel(c.title, c.source, c.doc_id);
  const parts = [title];
  const section = (c.section_path || []).filter((s, i) => !(i === 0 && s === title));
  if (section.length) parts.push(section.join(" › "));
  if (c.page !== null && c.page !== undefined) parts.push(`p. ${c.page}`);
  return parts.join(" — ");
}

// A citation marker as the server reads one (ragline.generation.citations): [n] outside code. A code
// span or block matches first and is skipped, so `rows[1]` in an answer stays text, not a link.
const MARKER_OR_CODE = /(```[\s\S]*?(?:```|$)|`[^`\n]*`)|\[([1-9]\d{0,5})\]/g;

/** Nodes for a piece of answer text: each [n] that names one of its citations becomes a button
 * opening its source; any other bracket (a number no citation has, code) stays text. */
function answerNodes(text, byN) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(MARKER_OR_CODE)) {
    const c = m[2] === undefined ? undefined : byN.get(Number(m[2]));
    if (!c) continue;
    if (m.index > last) out.push(document.createTextNode(text.slice(last, m.index)));
    out.push(
      h(
        "button",
        {
          type: "button",
          class: "cite",
          "data-testid": `cite-${c.n}`,
          "data-n": c.n,
          title: citationLabel(c),
          "aria-label": `Source ${c.n}: ${citationLabel(c)}`,
          onclick: () => openCitation(c),
        },
        `[${c.n}]`
      )
    );
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

/** The answer text with its citations as buttons, and each sentence its cited sources do not
 * support (answer.support, checked by the server) inside a marked span saying so. */
function renderAnswerText(text, citations, support = []) {
  const byN = new Map(citations.map((c) => [c.n, c]));
  const flagged = support
    .filter((s) => !s.supported && !s.removed && s.start >= 0 && s.end <= text.length && s.start < s.end)
    .sort((a, b) => a.start - b.start);
  const out = [];
  let pos = 0;
  for (const s of flagged) {
    if (s.start < pos) continue;
    out.push(...answerNodes(text.slice(pos, s.start), byN));
    const why = s.citations.length
      ? `Not supported by its cited source${s.citations.length > 1 ? "s" : ""} (support ${Number(s.score).toFixed(2)})`
      : "Cites no source";
    out.push(
      h(
        "mark",
        { class: "unsupported", "data-testid": "unsupported", title: why, "aria-label": why },
        ...answerNodes(text.slice(s.start, s.end), byN)
      )
    );
    pos = s.end;
  }
  out.push(...answerNodes(text.slice(pos), byN));
  $("answer-text").replaceChildren(...out);
}

function renderFinal(answer) {
  currentAnswer = answer;
  const card = $("answer");
  renderAnswerText(answer.text, answer.abstained ? [] : answer.citations, answer.support || []);
  $("answer-abstained").hidden = !answer.abstained;
  card.classList.toggle("is-abstained", Boolean(answer.abstained));

  const total = answer.timings_ms && answer.timings_ms.total;
  const meta = [
    `mode: ${answer.mode}`,
    `confidence: ${Number(answer.confidence).toFixed(2)}`,
    total !== undefined ? `latency: ${Math.round(total)} ms` : null,
  ];
  const support = answer.support || [];
  const unsupported = support.filter((x) => !x.supported && !x.removed).length;
  const removed = support.filter((x) => x.removed).length;
  if (unsupported) meta.push(`unsupported sentences: ${unsupported}`);
  if (removed) meta.push(`removed as unsupported: ${removed}`);
  if (answer.errors && answer.errors.length) meta.push(`warnings: ${answer.errors.join("; ")}`);
  $("answer-meta").textContent = meta.filter(Boolean).join(" · ");
  $("answer-meta").hidden = false;
  // A follow-up was searched as a standalone query: say which.
  const rewritten = answer.query && answer.query !== answer.question;
  $("answer-query").textContent = rewritten ? `Searched for: ${answer.query}` : "";
  $("answer-query").hidden = !rewritten;

  const items = answer.citations.map((c) =>
    h(
      "li",
      { "data-testid": "source", "data-n": c.n, value: c.n },
      h(
        "button",
        { type: "button", class: "link", "data-testid": `source-${c.n}`, onclick: () => openCitation(c) },
        citationLabel(c)
      ),
      h("div", { class: "source-path muted", title: c.source }, basename(c.source)),
      c.quote ? h("blockquote", { class: "quote" }, c.quote) : null
    )
  );
  $("answer-sources").replaceChildren(...items);
  $("answer-sources-block").hidden = items.length === 0;
  $("feedback").hidden = !answer.trace_id;
  card.dataset.state = "done";
  card.dataset.traceId = answer.trace_id || "";
}

async function ask(ev) {
  ev.preventDefault();
  clearError();
  const question = $("question").value.trim();
  if (!question) return;
  let collection;
  try {
    collection = requireCollection();
  } catch (err) {
    showError(err);
    return;
  }
  if (askController) askController.abort();
  const controller = new AbortController();
  askController = controller;
  if (conversation && conversation.collection === collection) archiveCurrentAnswer();
  currentAnswer = null;
  resetAnswer();
  setBusy($("ask-button"), true);
  $("ask-status").textContent = "Thinking…";
  let sawFinal = false;
  try {
    const conversationId = await conversationFor(collection, controller.signal);
    const res = await api(`${collectionUrl(collection)}/ask`, {
      method: "POST",
      json: { question, stream: true, conversation_id: conversationId },
      accept: "text/event-stream",
      raw: true,
      signal: controller.signal,
    });
    $("ask-status").textContent = "Answering…";
    await readSse(res, (event, data) => {
      if (controller !== askController) return;
      if (event === "token") {
        $("answer-text").append(document.createTextNode(data.text));
        $("answer").dataset.tokens = String(Number($("answer").dataset.tokens) + 1);
      } else if (event === "restart") {
        $("answer-text").replaceChildren();
        $("answer-restart").textContent = `Restarted: ${data.reason}`;
        $("answer-restart").hidden = false;
      } else if (event === "final") {
        sawFinal = true;
        renderFinal(data);
      } else if (event === "error") {
        throw new ApiError(data.type || "Error", data.message || "the answer failed", 0);
      }
    });
    if (!sawFinal) throw new ApiError("StreamError", "the answer stream ended before the final answer", 0);
    $("ask-status").textContent = "";
  } catch (err) {
    if (err.name === "AbortError") return;
    $("answer").dataset.state = "error";
    if (!$("answer-text").textContent) $("answer").hidden = true;
    $("ask-status").textContent = "";
    showError(err);
  } finally {
    if (controller === askController) {
      setBusy($("ask-button"), false);
      askController = null;
    }
  }
}

// -- document panel ----------------------------------------------------------------------------------

/** Python counts code points, JavaScript UTF-16 units: convert an offset from the API. */
function utf16Offset(text, codePoints) {
  if (!/[\uD800-\uDFFF]/.test(text)) return codePoints;
  let i = 0;
  for (let cp = 0; cp < codePoints && i < text.length; cp++) {
    const code = text.charCodeAt(i);
    i += code >= 0xd800 && code <= 0xdbff && i + 1 < text.length ? 2 : 1;
  }
  return i;
}

let docRequest = 0;

async function openDocument(docId, span, title) {
  const request = ++docRequest;
  const panel = $("doc-panel");
  panel.hidden = false;
  document.body.classList.add("panel-open");
  panel.dataset.docId = docId;
  panel.dataset.state = "loading";
  $("doc-title").textContent = title || docId;
  $("doc-source").textContent = "";
  $("doc-text").replaceChildren();
  $("doc-status").textContent = "Loading…";
  let doc;
  try {
    doc = await api(`${collectionUrl(requireCollection())}/documents/${encodeDocId(docId)}`);
  } catch (err) {
    if (request !== docRequest) return;
    $("doc-status").textContent = "";
    panel.dataset.state = "error";
    showError(err);
    return;
  }
  if (request !== docRequest) return;
  $("doc-title").textContent = docLabel(doc.title, doc.source, doc.id);
  $("doc-source").textContent = doc.source;
  $("doc-status").textContent = "";
  const text = doc.text;
  let mark = null;
  if (span) {
    let start = utf16Offset(text, span.start);
    let end = utf16Offset(text, span.end);
    // Offsets index the document text; if it changed since the answer, find the quote instead.
    if (span.quote && text.slice(start, end) !== span.quote) {
      const at = text.indexOf(span.quote);
      if (at >= 0) [start, end] = [at, at + span.quote.length];
    }
    if (start >= 0 && end > start && end <= text.length) {
      mark = h("mark", { "data-testid": "doc-mark", id: "doc-mark" }, text.slice(start, end));
      $("doc-text").replaceChildren(text.slice(0, start), mark, text.slice(end));
    }
  }
  if (!mark) $("doc-text").replaceChildren(text);
  panel.dataset.state = "done";
  if (mark) mark.scrollIntoView({ block: "center" });
  else $("doc-text").scrollTop = 0;
}

function openCitation(c) {
  openDocument(c.doc_id, { start: c.start, end: c.end, quote: c.quote }, docLabel(c.title, c.source, c.doc_id));
}

function closeDocument() {
  docRequest++;
  $("doc-panel").hidden = true;
  document.body.classList.remove("panel-open");
}

// -- feedback ----------------------------------------------------------------------------------------

async function sendFeedback(rating) {
  if (!currentAnswer || !currentAnswer.trace_id) return;
  clearError();
  const up = $("feedback-up");
  const down = $("feedback-down");
  up.disabled = down.disabled = true;
  $("feedback-status").textContent = "Sending…";
  try {
    await api("/v1/feedback", {
      method: "POST",
      json: { trace_id: currentAnswer.trace_id, rating, comment: $("feedback-comment").value.trim() },
    });
    (rating === "up" ? up : down).setAttribute("aria-pressed", "true");
    $("feedback-status").textContent = "Thanks for your feedback!";
    $("feedback").dataset.sent = rating;
  } catch (err) {
    up.disabled = down.disabled = false;
    $("feedback-status").textContent = "";
    showError(err);
  }
}

// -- upload ------------------------------------------------------------------------------------------

async function upload(ev) {
  ev.preventDefault();
  clearError();
  const files = Array.from($("upload-files").files || []);
  if (!files.length) return;
  let collection;
  try {
    collection = requireCollection();
  } catch (err) {
    showError(err);
    return;
  }
  const form = new FormData();
  for (const f of files) form.append("files", f, f.name);
  form.append("groups", $("upload-groups").value.split(",").map((g) => g.trim()).filter(Boolean).join(","));
  const progress = $("upload-progress");
  const status = $("upload-status");
  const errors = $("upload-errors");
  errors.replaceChildren();
  progress.hidden = false;
  progress.max = files.length;
  progress.value = 0;
  progress.removeAttribute("data-status");
  status.textContent = `Uploading ${files.length} file${files.length === 1 ? "" : "s"}…`;
  setBusy($("upload-button"), true);
  try {
    let job = await api(`${collectionUrl(collection)}/files`, { method: "POST", body: form });
    for (;;) {
      progress.max = Math.max(job.total, 1);
      progress.value = Math.min(job.done, progress.max);
      progress.dataset.status = job.status;
      status.textContent = `${job.status}: ${job.done} of ${job.total} file${job.total === 1 ? "" : "s"}, ${job.chunks} chunks`;
      if (job.status === "done" || job.status === "failed") break;
      await sleep(POLL_MS);
      job = await api(`/v1/jobs/${enc(job.id)}`);
    }
    errors.replaceChildren(
      ...job.errors.map((e) => h("li", { "data-testid": "upload-error" }, h("strong", {}, e.file), `: ${e.error}`))
    );
    if (job.status === "failed") {
      status.textContent = `Failed: ${job.message || "the ingest job failed"}`;
      showError(new ApiError("JobFailed", `upload failed: ${job.message || "the ingest job failed"}`, 0));
    } else {
      status.textContent = `Done: ${job.message || `${job.done} of ${job.total} files indexed`}`;
      $("upload-files").value = "";
    }
    await loadCollections();
    await refreshDocuments();
  } catch (err) {
    status.textContent = "";
    progress.hidden = true;
    showError(err);
  } finally {
    setBusy($("upload-button"), false);
  }
}

// -- documents ---------------------------------------------------------------------------------------

let documentsRequest = 0;

async function refreshDocuments() {
  const request = ++documentsRequest;
  const body = $("documents-body");
  const status = $("documents-status");
  const collection = currentCollection();
  if (!collection) {
    body.replaceChildren();
    status.textContent = "Type a name for the new collection.";
    return;
  }
  status.textContent = "Loading…";
  let list;
  try {
    list = await api(`${collectionUrl(collection)}/documents?limit=100`);
  } catch (err) {
    if (request !== documentsRequest) return;
    body.replaceChildren();
    if (err.status === 404) {
      status.textContent = `Collection “${collection}” is empty: upload files to create it.`;
    } else {
      status.textContent = "";
      showError(err);
    }
    return;
  }
  if (request !== documentsRequest) return;
  const docs = list.documents;
  status.textContent = docs.length
    ? `${docs.length}${docs.length === list.limit ? "+" : ""} document${docs.length === 1 ? "" : "s"}`
    : "No documents yet: upload some files.";
  body.replaceChildren(
    ...docs.map((d) =>
      h(
        "tr",
        { "data-testid": "document-row", "data-doc-id": d.id },
        h(
          "td",
          {},
          h(
            "button",
            {
              type: "button",
              class: "link",
              "data-testid": "document-open",
              title: `id: ${d.id}`,
              onclick: () => openDocument(d.id, null, docLabel(d.title, d.source, d.id)),
            },
            docLabel(d.title, d.source, d.id)
          )
        ),
        h("td", { class: "source-cell", title: d.source }, basename(d.source)),
        h("td", { class: "num" }, d.chunks),
        h(
          "td",
          {},
          h(
            "button",
            {
              type: "button",
              class: "danger",
              "data-testid": "document-delete",
              "aria-label": `Delete ${docLabel(d.title, d.source, d.id)}`,
              onclick: (e) => deleteDocument(d, e.currentTarget),
            },
            "Delete"
          )
        )
      )
    )
  );
}

async function deleteDocument(d, button) {
  const label = docLabel(d.title, d.source, d.id);
  if (!window.confirm(`Delete “${label}” from ${currentCollection()}?`)) return;
  clearError();
  setBusy(button, true);
  try {
    await api(`${collectionUrl(requireCollection())}/documents/${encodeDocId(d.id)}`, { method: "DELETE" });
    if ($("doc-panel").dataset.docId === d.id) closeDocument();
    $("documents-status").textContent = `Deleted “${label}”.`;
  } catch (err) {
    showError(err);
  } finally {
    setBusy(button, false);
  }
  await refreshDocuments();
  await loadCollections();
}

// -- search ------------------------------------------------------------------------------------------

async function search(ev) {
  ev.preventDefault();
  clearError();
  const query = $("search-query").value.trim();
  if (!query) return;
  const results = $("search-results");
  const status = $("search-status");
  setBusy($("search-button"), true);
  status.textContent = "Searching…";
  try {
    const out = await api(`${collectionUrl(requireCollection())}/search`, {
      method: "POST",
      json: { query, top_k: 10 },
    });
    status.textContent = `${out.hits.length} result${out.hits.length === 1 ? "" : "s"}`;
    results.replaceChildren(
      ...out.hits.map((hit) => {
        const snippet = hit.text.length > 320 ? `${hit.text.slice(0, 320)}…` : hit.text;
        const label = docLabel(hit.title, hit.source, hit.doc_id);
        return h(
          "li",
          { "data-testid": "search-hit", "data-doc-id": hit.doc_id },
          h(
            "div",
            { class: "hit-head" },
            h(
              "button",
              {
                type: "button",
                class: "link",
                "data-testid": "search-hit-open",
                onclick: () => openDocument(hit.doc_id, { start: hit.start, end: hit.end, quote: hit.text }, label),
              },
              label
            ),
            h("span", { class: "score", title: "relevance score" }, Number(hit.score).toFixed(3))
          ),
          h("div", { class: "muted" }, [basename(hit.source), hit.section].filter(Boolean).join(" · ")),
          h("p", { class: "snippet" }, snippet)
        );
      })
    );
  } catch (err) {
    status.textContent = "";
    results.replaceChildren();
    showError(err);
  } finally {
    setBusy($("search-button"), false);
  }
}

// -- start -------------------------------------------------------------------------------------------

function init() {
  initApiKey();
  $("error-dismiss").addEventListener("click", clearError);
  $("collection-select").addEventListener("change", onCollectionChanged);
  $("collection-new").addEventListener("change", onCollectionChanged);
  $("collections-refresh").addEventListener("click", () => loadCollections().then(refreshDocuments));
  $("ask-form").addEventListener("submit", ask);
  $("new-chat").addEventListener("click", newChat);
  $("question").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      $("ask-form").requestSubmit();
    }
  });
  $("feedback").addEventListener("submit", (ev) => ev.preventDefault());
  $("feedback-up").addEventListener("click", () => sendFeedback("up"));
  $("feedback-down").addEventListener("click", () => sendFeedback("down"));
  $("upload-form").addEventListener("submit", upload);
  $("documents-refresh").addEventListener("click", refreshDocuments);
  $("search-form").addEventListener("submit", search);
  $("doc-close").addEventListener("click", closeDocument);
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && !$("doc-panel").hidden) closeDocument();
  });
  loadCollections()
    .then(refreshDocuments)
    .finally(() => document.body.setAttribute("data-ready", "true"));
}

init();
