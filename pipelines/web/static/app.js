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

// A label's chip lights up its evidence; a click scrolls to the first quote (the link's anchor).
function linkChips() {
  const marks = Array.from(document.querySelectorAll("mark.ev"));
  for (const chip of document.querySelectorAll(".labels .chip[data-label]")) {
    const mine = marks.filter((m) => m.dataset.labels.split(" ").includes(chip.dataset.label));
    const light = (on) => mine.forEach((m) => m.classList.toggle("focus", on));
    chip.addEventListener("mouseenter", () => light(true));
    chip.addEventListener("mouseleave", () => light(false));
    chip.addEventListener("click", (event) => {
      if (!mine.length) return;
      event.preventDefault();
      const pane = document.querySelector("article.document");
      if (pane && pane.scrollHeight > pane.clientHeight) {
        // scroll the text pane only, so the labels stay where the reader is
        const top = mine[0].getBoundingClientRect().top - pane.getBoundingClientRect().top + pane.scrollTop;
        pane.scrollTo({ top: top - pane.clientHeight / 3, behavior: "smooth" });
      } else {
        mine[0].scrollIntoView({ behavior: "smooth", block: "center" });
      }
      light(true);
      setTimeout(() => light(false), 1500);
    });
  }
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

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("tag-form");
  if (form) uploadWithProgress(form);
  const progress = document.getElementById("batch-progress");
  if (progress) pollBatch(progress);
  linkChips();
  quoteFromSelection();
});
