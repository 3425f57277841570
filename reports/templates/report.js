
(function () {
  "use strict";
  // Filters, sorting and row limits for the server-rendered tables. Reads the DOM (textContent) only:
  // nothing from the data is ever parsed as markup or evaluated. Without JS every row is shown.
  document.documentElement.classList.add("js");

  function rowsOf(table) { return Array.prototype.slice.call(table.tBodies[0].rows); }
  function limitOf(table) { return parseInt(table.getAttribute("data-limit"), 10) || 0; }
  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }

  // A table with more rows than its data-limit shows the first ones and a "Show all" button.
  function limitTable(table, noun) {
    var rows = rowsOf(table), limit = limitOf(table);
    table.classList.add("ready");
    if (!limit || rows.length <= limit) { return; }
    for (var i = limit; i < rows.length; i++) { rows[i].classList.add("pg"); }
    var p = document.createElement("p");
    p.className = "more";
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = "Show all " + plural(rows.length, noun, noun + "s") + " (first " + limit + " shown)";
    b.addEventListener("click", function () {
      rows.forEach(function (r) { r.classList.remove("pg"); });
      p.remove();
    });
    p.appendChild(b);
    table.parentNode.insertBefore(p, table.nextSibling);
  }

  function findings() {
    var table = document.getElementById("findings");
    var form = document.getElementById("filters");
    if (!table || !form || !table.tBodies.length) { return; }
    var tbody = table.tBodies[0];
    var rows = rowsOf(table);
    var limit = limitOf(table);
    var showAll = !limit;
    var text = document.getElementById("f-text");
    var sev = document.getElementById("f-sev");
    var state = document.getElementById("f-state");
    var rule = document.getElementById("f-rule");
    var change = document.getElementById("f-change");
    var count = document.getElementById("f-count");
    var all = document.getElementById("f-all");
    var changeCol = table.tHead.rows[0].cells.length - 1;
    var haystack = null;
    var timer = 0;

    function cellText(row, i) {
      var c = row.cells[i];
      return c ? c.textContent.trim() : "";
    }

    function apply() {
      var q = text.value.trim().toLowerCase();
      var s = sev.value, st = state.value, r = rule.value, ch = change ? change.value : "";
      if (q && haystack === null) {
        haystack = new Map();
        rows.forEach(function (row) { haystack.set(row, row.textContent.toLowerCase()); });
      }
      var matched = 0;
      var current = tbody.rows;  // in display order, so the limit keeps the first rows as sorted
      for (var i = 0; i < current.length; i++) {
        var row = current[i];
        var ok = (!s || cellText(row, 0) === s) &&
                 (!st || cellText(row, 1) === st) &&
                 (!r || cellText(row, 2) === r) &&
                 (!ch || cellText(row, changeCol) === ch) &&
                 (!q || haystack.get(row).indexOf(q) !== -1);
        if (row.hidden === ok) { row.hidden = !ok; }
        var cut = ok && !showAll && matched >= limit;
        if (row.classList.contains("pg") !== cut) { row.classList.toggle("pg", cut); }
        if (ok) { matched++; }
      }
      if (!showAll && matched > limit) {
        count.textContent = "first " + limit + " of " + matched + " matching shown (" + rows.length + " in all)";
        all.textContent = "Show all " + matched;
        all.hidden = false;
      } else {
        count.textContent = matched + " of " + rows.length + " shown";
        all.hidden = true;
      }
    }

    form.addEventListener("submit", function (e) { e.preventDefault(); });
    form.addEventListener("reset", function () { window.setTimeout(apply, 0); });
    [sev, state, rule, change].forEach(function (el) {
      if (el) { el.addEventListener("change", apply); }
    });
    text.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(apply, rows.length > 5000 ? 200 : 60);
    });
    text.addEventListener("keydown", function (e) {
      if (e.key === "Enter") { window.clearTimeout(timer); apply(); }
    });
    all.addEventListener("click", function () { showAll = true; apply(); });

    var SEV = { Critical: 0, High: 1, Medium: 2, Low: 3, Informational: 4 };
    var STATE = { NonCompliant: 0, Error: 1, Exempt: 2 };
    var collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
    var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);

    function sortBy(col, dir) {
      var kind = heads[col].getAttribute("data-k");
      var current = Array.prototype.slice.call(tbody.rows);  // ties keep the current order
      var keyed = current.map(function (row, i) {
        var t = cellText(row, col);
        var k = kind === "sev" ? (t in SEV ? SEV[t] : 9) : kind === "state" ? (t in STATE ? STATE[t] : 9) : t;
        return { k: k, i: i, row: row };
      });
      keyed.sort(function (a, b) {
        var c = typeof a.k === "number" ? a.k - b.k : collator.compare(a.k, b.k);
        if (c === 0) { return a.i - b.i; }
        return dir === "descending" ? -c : c;
      });
      var frag = document.createDocumentFragment();
      keyed.forEach(function (x) { frag.appendChild(x.row); });
      tbody.appendChild(frag);
      heads.forEach(function (h, j) {
        if (j === col) { h.setAttribute("aria-sort", dir); } else { h.removeAttribute("aria-sort"); }
      });
      apply();
    }

    heads.forEach(function (h, col) {
      var b = h.querySelector("button");
      if (!b) { return; }
      b.addEventListener("click", function () {
        sortBy(col, h.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending");
      });
    });

    table.classList.add("ready");
    form.hidden = false;
    apply();
  }

  function init() {
    var vaults = document.getElementById("vaults-table");
    if (vaults && vaults.tBodies.length) { limitTable(vaults, "vault"); }
    var ages = document.getElementById("open-ages");
    if (ages && ages.tBodies.length) { limitTable(ages, "open finding"); }
    findings();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
