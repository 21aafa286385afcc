// The workbench's few behaviours; every page also works without them (plain forms and links).
"use strict";

// Upload progress: send the form with XMLHttpRequest to show the bytes going up, then follow the redirect.
function uploadWithProgress(form) {
  const box = document.getElementById("upload");
  const bar = document.getElementById("upload-progress");
  const status = document.getElementById("upload-status");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    box.hidden = false;
    status.textContent = "uploading…";
    request.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total);
    });
    request.addEventListener("load", () => {
      if (request.status === 200 && request.responseURL) {
        window.location.assign(request.responseURL);
      } else {
        const page = new DOMParser().parseFromString(request.responseText, "text/html");
        const message = page.getElementById("message");
        status.textContent = message ? message.textContent : request.responseText.slice(0, 300);
        status.className = "problem";
      }
    });
    request.addEventListener("error", () => { status.textContent = "the upload failed (is the server running?)"; });
    request.send(new FormData(form));
  });
}

// Tagging progress: poll the batch's status and reload when it is done.
function pollBatch(section) {
  const bar = document.getElementById("progress-bar");
  const text = document.getElementById("progress-text");
  const tick = async () => {
    const response = await fetch(section.dataset.statusUrl, { cache: "no-store" });
    const state = await response.json();
    bar.max = Math.max(state.total, 1);
    bar.value = state.done;
    text.textContent = `${state.status}: ${state.message} (${state.done} of ${state.total})`;
    if (state.status === "done" || state.status === "failed") window.location.reload();
    else setTimeout(tick, 400);
  };
  setTimeout(tick, 200);
}

// The text pane scrolls to a mark without moving the page, so the labels stay where the reader is.
function scrollToMark(mark) {
  const pane = document.querySelector("article.document");
  if (pane && pane.scrollHeight > pane.clientHeight) {
    const top = mark.getBoundingClientRect().top - pane.getBoundingClientRect().top + pane.scrollTop;
    pane.scrollTo({ top: top - pane.clientHeight / 3, behavior: "smooth" });
  } else {
    mark.scrollIntoView({ behavior: "smooth", block: "center" });
  }
}

function marksOf(label) {
  return Array.from(document.querySelectorAll("mark.ev")).filter((m) => m.dataset.labels.split(" ").includes(label));
}

// Each label row steps through its quotes (‹ ›, or [ ] on the focused row); the chip shows the first.
const quoteAt = {};
function showQuote(label, step) {
  const marks = marksOf(label);
  if (!marks.length) return;
  // a quote cut by another label's evidence is several marks: step by the evidence items (anchors)
  const starts = marks.filter((m, k) => k === 0 || m.previousSibling !== marks[k - 1]);
  quoteAt[label] = ((quoteAt[label] ?? -1) + step + starts.length) % starts.length;
  const mark = starts[quoteAt[label]];
  scrollToMark(mark);
  marks.forEach((m) => m.classList.remove("focus"));
  mark.classList.add("focus");
  setTimeout(() => mark.classList.remove("focus"), 1500);
  const row = document.querySelector(`.label[data-label="${CSS.escape(label)}"] .at`);
  if (row) row.textContent = String(quoteAt[label] + 1);
}

function bindPanel() {
  for (const chip of document.querySelectorAll("#label-panel .chip[data-label]")) {
    const label = chip.dataset.label;
    const light = (on) => marksOf(label).forEach((m) => m.classList.toggle("focus", on));
    chip.addEventListener("mouseenter", () => light(true));
    chip.addEventListener("mouseleave", () => light(false));
    chip.addEventListener("click", (event) => {
      event.preventDefault();
      quoteAt[label] = -1;
      showQuote(label, 1);
    });
  }
  for (const button of document.querySelectorAll("#label-panel button.step")) {
    button.addEventListener("click", () => showQuote(button.closest(".label").dataset.label, Number(button.dataset.step)));
  }
  for (const button of document.querySelectorAll("#label-panel button.use")) {
    button.addEventListener("click", () => {
      const select = document.getElementById("add-label");
      if (!select) return;
      select.value = button.dataset.value;
      document.getElementById("quote").focus();
    });
  }
  for (const form of document.querySelectorAll("#label-panel form.decision")) sendInPlace(form);
}

// The annotator's name: entered once, remembered by this browser, sent with every decision.
function annotatorName() {
  return localStorage.getItem("reviewtag-annotator") || "";
}
function rememberAnnotator() {
  const form = document.getElementById("annotator-form");
  if (!form) return; // signed in with a users file: the server knows the name
  const input = document.getElementById("annotator");
  const shown = document.getElementById("annotator-file");
  const apply = (name) => {
    localStorage.setItem("reviewtag-annotator", name);
    document.cookie = `reviewtag_annotator=${encodeURIComponent(name)}; path=/; max-age=31536000; SameSite=Strict`;
    input.value = name;
    if (shown) shown.textContent = name;
  };
  const saved = annotatorName();
  if (saved && saved !== input.value) apply(saved);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (input.checkValidity()) { apply(input.value.trim()); toast(`annotating as ${input.value.trim()}`); }
    else input.reportValidity();
  });
}

function toast(text, bad = false) {
  const box = document.getElementById("toast");
  if (!box) return;
  box.textContent = text;
  box.className = bad ? "show problem" : "show";
  clearTimeout(box.timer);
  box.timer = setTimeout(() => { box.className = ""; }, 3500);
}

// A decision is sent in the background; the label panel comes back re-rendered and is swapped in place,
// so the reader keeps their place in the text. Without this script the forms post and redirect.
function sendInPlace(form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    if (annotatorName() && !document.getElementById("annotator-name")) data.set("annotator", annotatorName());
    const focused = document.activeElement?.closest?.(".label")?.dataset.label;
    let response;
    try {
      response = await fetch(form.getAttribute("action"), { method: "POST", body: data, headers: { "x-requested-with": "fetch" } });
    } catch (err) {
      toast("not sent: is the server running?", true);
      return;
    }
    const type = response.headers.get("content-type") || "";
    if (!type.includes("json")) { toast(`refused (${response.status})`, true); return; }
    const state = await response.json();
    const panel = document.getElementById("label-panel");
    const scroll = panel.scrollTop;
    panel.innerHTML = state.panel;
    panel.scrollTop = scroll;
    bindPanel();
    const again = focused && panel.querySelector(`.label[data-label="${CSS.escape(focused)}"]`);
    if (again) again.focus({ preventScroll: true });
    if (state.ok) {
      toast(state.message || "recorded");
      if (form.id === "add-form") { window.getSelection()?.removeAllRanges(); form.reset(); }
    } else {
      toast((state.problems || []).join("; ") || "refused", true);
    }
  });
}

// Selecting a passage of the text fills the quote of the "add a label" form.
function quoteFromSelection() {
  const doc = document.getElementById("doc");
  const quote = document.getElementById("quote");
  if (!doc || !quote) return;
  document.addEventListener("selectionchange", () => {
    const selection = window.getSelection();
    if (!selection || selection.isCollapsed || !doc.contains(selection.anchorNode)) return;
    const text = selection.toString().trim();
    if (text) quote.value = text;
  });
}

// One key per action, as in annotation tools; never while typing.
function shortcuts() {
  if (!document.getElementById("label-panel")) return;
  document.addEventListener("keydown", (event) => {
    const tag = (event.target.tagName || "").toLowerCase();
    if (["input", "textarea", "select"].includes(tag) || event.ctrlKey || event.metaKey || event.altKey) return;
    const rows = Array.from(document.querySelectorAll("#label-panel .label"));
    const current = document.activeElement?.closest?.(".label");
    const at = rows.indexOf(current);
    const click = (selector) => { const el = document.querySelector(selector); if (el) el.click(); return !!el; };
    const within = (selector) => current && current.querySelector(selector);
    const keys = {
      j: () => rows[Math.min(at + 1, rows.length - 1)]?.focus(),
      ArrowDown: () => rows[Math.min(at + 1, rows.length - 1)]?.focus(),
      k: () => rows[Math.max(at - 1, 0)]?.focus(),
      ArrowUp: () => rows[Math.max(at - 1, 0)]?.focus(),
      a: () => within("form.accept button:not([disabled])")?.click(),
      r: () => within("form.reject input[name=note]")?.focus(),
      "]": () => current && showQuote(current.dataset.label, 1),
      "[": () => current && showQuote(current.dataset.label, -1),
      u: () => click("#label-panel form.undo button"),
      d: () => click("#done"),
      n: () => click("#next"),
      p: () => click("#previous"),
      "?": () => document.getElementById("help")?.showModal(),
    };
    if (keys[event.key]) { event.preventDefault(); keys[event.key](); }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("tag-form");
  if (form) uploadWithProgress(form);
  const progress = document.getElementById("batch-progress");
  if (progress) pollBatch(progress);
  rememberAnnotator();
  bindPanel();
  const add = document.getElementById("add-form");
  if (add) sendInPlace(add);
  for (const other of document.querySelectorAll("form#done-form, form.with-annotator")) {
    other.addEventListener("submit", () => {
      if (annotatorName() && !document.getElementById("annotator-name")) {
        const field = document.createElement("input");
        Object.assign(field, { type: "hidden", name: "annotator", value: annotatorName() });
        other.appendChild(field);
      }
    });
  }
  quoteFromSelection();
  shortcuts();
  if (typeof pollRetrain === "function") pollRetrain();
});

// A running retrain: poll its status and log, and reload the page when it has finished (the report).
function pollRetrain() {
  const job = document.getElementById("job");
  if (!job || !["queued", "running", "comparing"].includes(job.dataset.state)) return;
  const tick = async () => {
    const response = await fetch(job.dataset.statusUrl, { cache: "no-store" });
    if (!response.ok) return;
    const state = await response.json();
    document.getElementById("job-log").textContent = state.log || "";
    const bar = document.getElementById("job-progress");
    bar.max = Math.max(state.stage_count || 1, 1);
    bar.value = state.stage_index || 0;
    document.getElementById("job-state").textContent =
      `${state.state}${state.stage ? ` · stage ${state.stage_index} of ${state.stage_count}: ${state.stage}` : ""}`;
    if (["done", "failed"].includes(state.state)) window.location.reload();
    else setTimeout(tick, 1000);
  };
  setTimeout(tick, 500);
}
