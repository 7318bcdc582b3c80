/* impax-preflight report: filters, sorting, print. Vanilla JS, no network, works from file://. */
(function () {
  "use strict";
  var doc = document;
  var rows = Array.prototype.slice.call(doc.querySelectorAll("tr.row"));
  var hosts = Array.prototype.slice.call(doc.querySelectorAll("section.host"));
  var groups = Array.prototype.slice.call(doc.querySelectorAll("section.group"));
  var statusBoxes = Array.prototype.slice.call(doc.querySelectorAll("#filters input[name=status]"));
  var sevSel = doc.getElementById("f-severity");
  var hostSel = doc.getElementById("f-host");
  var textIn = doc.getElementById("f-text");
  var countOut = doc.getElementById("f-count");
  var none = doc.getElementById("f-none");
  var total = rows.length;
  // Row text for the search box, built on first use: it includes the evidence, so it is large.
  var texts = null;
  var rowSection = rows.map(function (r) { return r.closest("section.host"); });
  var rowHost = rowSection.map(function (h) { return h ? h.getAttribute("data-host") : ""; });

  function searchText(i) {
    if (texts === null) texts = rows.map(function (r) { return r.textContent.toLowerCase(); });
    return texts[i];
  }

  function apply() {
    var statuses = {};
    statusBoxes.forEach(function (b) { if (b.checked) statuses[b.value] = true; });
    var sev = sevSel ? sevSel.value : "";
    var host = hostSel ? hostSel.value : "";
    var words = (textIn ? textIn.value : "").toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    var visibleHosts = new Set();
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      var ok = statuses[r.getAttribute("data-status")] === true &&
        (!sev || r.getAttribute("data-severity") === sev) &&
        (!host || rowHost[i] === host);
      if (ok && words.length) {
        var t = searchText(i);
        for (var w = 0; w < words.length && ok; w++) ok = t.indexOf(words[w]) !== -1;
      }
      if (r.hidden === ok) r.hidden = !ok;
      if (ok) { shown++; visibleHosts.add(rowSection[i]); }
    }
    hosts.forEach(function (h) { h.hidden = !visibleHosts.has(h); });
    groups.forEach(function (g) { g.hidden = !g.querySelector("section.host:not([hidden])"); });
    if (countOut) countOut.textContent = shown + " of " + total + " findings shown";
    if (none) none.hidden = shown !== 0;
  }

  var timer = null;
  function applySoon() { clearTimeout(timer); timer = setTimeout(apply, 120); }

  statusBoxes.forEach(function (b) { b.addEventListener("change", apply); });
  if (sevSel) sevSel.addEventListener("change", apply);
  if (hostSel) hostSel.addEventListener("change", apply);
  if (textIn) {
    textIn.addEventListener("input", applySoon);
    textIn.addEventListener("search", apply);
    textIn.addEventListener("keydown", function (e) { if (e.key === "Enter") { clearTimeout(timer); apply(); } });
  }
  function on(id, fn) { var el = doc.getElementById(id); if (el) el.addEventListener("click", fn); }
  on("f-problems", function () {
    statusBoxes.forEach(function (b) { b.checked = b.value === "fail" || b.value === "error" || b.value === "warn"; });
    apply();
  });
  on("f-reset", function () {
    statusBoxes.forEach(function (b) { b.checked = true; });
    if (sevSel) sevSel.value = "";
    if (hostSel) hostSel.value = "";
    if (textIn) textIn.value = "";
    apply();
  });
  on("f-expand", function (e) {
    var open = e.target.getAttribute("data-open") !== "1";
    doc.querySelectorAll("tr.row:not([hidden]) details").forEach(function (d) { d.open = open; });
    e.target.setAttribute("data-open", open ? "1" : "0");
    e.target.textContent = open ? "Collapse all" : "Expand all";
  });

  // Sortable columns, per host table. Cells with data-v sort numerically (status, severity rank).
  doc.querySelectorAll("table.findings th[data-sort]").forEach(function (th) {
    th.setAttribute("tabindex", "0");
    function sort() {
      var table = th.closest("table");
      var body = table.tBodies[0];
      var idx = Array.prototype.indexOf.call(th.parentNode.children, th);
      var asc = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("th[data-sort]").forEach(function (o) { o.setAttribute("aria-sort", "none"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var list = Array.prototype.slice.call(body.rows).map(function (r, n) {
        var cell = r.cells[idx];
        var v = cell.hasAttribute("data-v") ? parseFloat(cell.getAttribute("data-v")) : null;
        var s = v === null ? (cell.querySelector("summary") || cell).textContent.trim().toLowerCase() : "";
        return { r: r, v: v, s: s, n: n };
      });
      list.sort(function (a, b) {
        var c = a.v !== null && b.v !== null ? a.v - b.v : a.s < b.s ? -1 : a.s > b.s ? 1 : 0;
        return (asc ? c : -c) || a.n - b.n;
      });
      var frag = doc.createDocumentFragment();
      list.forEach(function (x) { frag.appendChild(x.r); });
      body.appendChild(frag);
    }
    th.addEventListener("click", sort);
    th.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); } });
  });

  // A link to a finding (from the blockers list) opens it, even if the filter hid it.
  function reveal() {
    var id = location.hash.slice(1);
    if (!id) return;
    var el = doc.getElementById(id);
    if (!el || !el.classList.contains("row")) return;
    if (el.hidden) doc.getElementById("f-reset").click();
    var d = el.querySelector("details");
    if (d) d.open = true;
    el.scrollIntoView({ block: "center" });
  }
  window.addEventListener("hashchange", reveal);
  reveal();

  // Print: the signed document shows every finding with its evidence (the CSS does the same
  // through ::details-content; this covers browsers without it). Restore the screen state after.
  var opened = [];
  window.addEventListener("beforeprint", function () {
    opened = [];
    doc.querySelectorAll("details:not([open])").forEach(function (d) { d.open = true; opened.push(d); });
  });
  window.addEventListener("afterprint", function () {
    opened.forEach(function (d) { d.open = false; });
    opened = [];
  });
})();
