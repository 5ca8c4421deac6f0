/* Live ingestion progress on the document list: WebSocket events from the workers, polling as a fallback. */
(function () {
  "use strict";
  const LABELS = {queued: "Queued", processing: "Processing", completed: "Completed", failed: "Failed"};

  function update(doc) {
    document.querySelectorAll('.di-progress[data-document-id="' + doc.id + '"]').forEach(function (el) {
      el.dataset.status = doc.status;
      const bar = el.querySelector("progress");
      if (bar) { bar.value = doc.progress; }
      const stage = el.querySelector(".di-stage");
      if (stage) { stage.textContent = (doc.stage_display || doc.stage) + " " + doc.progress + "%"; }
    });
    document.querySelectorAll('[data-document-status="' + doc.id + '"]').forEach(function (badge) {
      badge.className = "di-badge di-badge-" + doc.status;
      badge.textContent = LABELS[doc.status] || doc.status;
    });
    if (doc.status === "completed" || doc.status === "failed") {
      if ("chunks" in doc) { fillCounts(doc); } else { fetchCounts(doc.id); }
    }
  }

  // Pages, chunks and language are known once ingestion ends: fill the row's cells in place (no reload).
  function fillCounts(doc) {
    document.querySelectorAll('.di-progress[data-document-id="' + doc.id + '"]').forEach(function (el) {
      const row = el.closest("tr");
      if (!row) { return; }
      const cells = {page_count: doc.page_count, chunk_count: doc.chunks, language: doc.language};
      Object.keys(cells).forEach(function (name) {
        const cell = row.querySelector("td.field-" + name);
        const value = cells[name];
        if (cell && value !== null && value !== undefined && value !== "") { cell.textContent = String(value); }
      });
    });
  }

  function progressUrl() {
    const match = window.location.pathname.match(/^(.*\/documents\/document\/)/);
    return match ? match[1] + "progress/" : null;
  }

  function fetchCounts(id) {
    const base = progressUrl();
    if (!base) { return; }
    fetch(base + "?ids=" + id, {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : {documents: []}; })
      .then(function (data) { data.documents.forEach(fillCounts); })
      .catch(function () { /* the next reload shows them */ });
  }

  function pending() {
    return Array.from(document.querySelectorAll(".di-progress")).filter(function (el) {
      return el.dataset.status === "queued" || el.dataset.status === "processing";
    }).map(function (el) { return el.dataset.documentId; });
  }

  let timer = null;
  function poll() {
    const ids = pending();
    if (!ids.length) { return; }
    const base = progressUrl();
    if (!base) { return; }
    fetch(base + "?ids=" + ids.join(","), {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : {documents: []}; })
      .then(function (data) { data.documents.forEach(update); })
      .catch(function () { /* keep polling */ });
  }
  function startPolling() { if (!timer) { timer = setInterval(poll, 3000); } }

  function connect() {
    if (!pending().length) { return; }
    const proto = window.location.protocol === "https:" ? "wss://" : "ws://";
    let socket;
    try { socket = new WebSocket(proto + window.location.host + "/ws/documents/progress/"); }
    catch (e) { startPolling(); return; }
    socket.onmessage = function (event) {
      const msg = JSON.parse(event.data);
      if (msg.type === "document.progress") { update(msg.document); }
    };
    socket.onclose = function () { startPolling(); };
    socket.onerror = function () { startPolling(); };
  }
  document.addEventListener("DOMContentLoaded", connect);
})();
