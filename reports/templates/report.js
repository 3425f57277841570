
(function () {
  "use strict";
  // Filters and sorting for the server-rendered findings table. Reads the DOM (textContent) only:
  // nothing from the data is ever parsed as markup or evaluated.
  var table = document.getElementById("findings");
  var form = document.getElementById("filters");
  if (!table || !form || !table.tBodies.length) { return; }
  var tbody = table.tBodies[0];
  var rows = Array.prototype.slice.call(tbody.rows);
  var text = document.getElementById("f-text");
  var sev = document.getElementById("f-sev");
  var state = document.getElementById("f-state");
  var rule = document.getElementById("f-rule");
  var change = document.getElementById("f-change");
  var count = document.getElementById("f-count");
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
      haystack = rows.map(function (row) { return row.textContent.toLowerCase(); });
    }
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i];
      var ok = (!s || cellText(row, 0) === s) &&
               (!st || cellText(row, 1) === st) &&
               (!r || cellText(row, 2) === r) &&
               (!ch || cellText(row, changeCol) === ch) &&
               (!q || haystack[i].indexOf(q) !== -1);
      if (row.hidden === ok) { row.hidden = !ok; }
      if (ok) { shown++; }
    }
    count.textContent = shown + " of " + rows.length + " shown";
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
      if (c === 0) { c = a.i - b.i; return c; }
      return dir === "descending" ? -c : c;
    });
    var frag = document.createDocumentFragment();
    keyed.forEach(function (x) { frag.appendChild(x.row); });
    tbody.appendChild(frag);
    heads.forEach(function (h, j) {
      if (j === col) { h.setAttribute("aria-sort", dir); } else { h.removeAttribute("aria-sort"); }
    });
  }

  heads.forEach(function (h, col) {
    var b = h.querySelector("button");
    if (!b) { return; }
    b.addEventListener("click", function () {
      var dir = h.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
      sortBy(col, dir);
    });
  });

  form.hidden = false;
  apply();
})();
