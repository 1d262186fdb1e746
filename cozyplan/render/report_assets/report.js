// Draws the cozyplan run report from the JSON in #cozyplan-run. No network, no library.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("cozyplan-run").textContent);
  var steps = data.steps;
  var SVG = "http://www.w3.org/2000/svg";
  var root = document.getElementById("report");
  // queued times below this are scheduling noise, not waiting for a slot
  var QUEUE_MIN = Math.max(0.005, data.duration * 0.01);

  function el(tag, attrs, text, parent) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) node.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }
  function svg(tag, attrs, parent, text) {
    var node = document.createElementNS(SVG, tag);
    for (var k in attrs || {}) node.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }
  function secs(s) {
    if (s === null || s === undefined) return "";
    if (s >= 60) return Math.floor(s / 60) + "m" + String(Math.round(s % 60)).padStart(2, "0") + "s";
    if (s >= 10) return s.toFixed(0) + "s";
    if (s >= 1) return s.toFixed(1) + "s";
    return (s * 1000).toFixed(0) + "ms";
  }
  function colour(step) { return data.colours[step.action] || "#6e7781"; }
  function light(step) { return step.action === "update" || step.action === "no-op"; }
  function short(text, n) { return text.length > n ? text.slice(0, n - 1) + "\u2026" : text; }
  function tip(step) {
    var lines = [step.address, step.action + ", " + step.outcome];
    if (step.start !== null) lines.push("start +" + secs(step.start) + ", took " + secs(step.duration));
    if (step.retries) lines.push(step.retries + " retr" + (step.retries === 1 ? "y" : "ies"));
    if (step.waited_on !== null) lines.push("waited on " + steps[step.waited_on].address);
    if (step.queued >= QUEUE_MIN) lines.push("queued " + secs(step.queued) + " for a free slot");
    if (step.critical) lines.push("on the critical path");
    if (step.error) lines.push("error: " + step.error);
    return lines.join("\n");
  }

  // -- header ----------------------------------------------------------------------------
  el("h1", {}, "cozyplan " + data.operation + ": " + data.title, root);
  el("p", { class: "sub" }, "Run " + data.run_id + ", started " + data.started +
     ", parallelism " + data.parallelism + ".", root);
  var cards = el("div", { class: "cards" }, null, root);
  function card(value, label, bad) {
    var c = el("div", { class: "card" + (bad ? " bad" : "") }, null, cards);
    el("b", {}, value, c); el("span", {}, label, c);
  }
  var counts = {};
  steps.forEach(function (s) { counts[s.outcome] = (counts[s.outcome] || 0) + 1; });
  card(data.outcome, "outcome", data.outcome !== "done");
  card(secs(data.duration), "wall time");
  card(secs(data.critical_duration), "critical path (" + data.critical.length +
       (data.critical.length === 1 ? " step)" : " steps)"));
  card(String(steps.length), "steps");
  ["failed", "skipped", "not-started"].forEach(function (o) {
    if (counts[o]) card(String(counts[o]), o, true);
  });
  var retries = steps.reduce(function (n, s) { return n + s.retries; }, 0);
  if (retries) card(String(retries), "retries");

  function legend(parent) {
    var box = el("div", { class: "legend" }, null, parent);
    var seen = {};
    steps.forEach(function (s) { seen[s.action] = true; });
    Object.keys(data.colours).forEach(function (a) {
      if (!seen[a]) return;
      var item = el("span", {}, null, box);
      el("i", { style: "background:" + data.colours[a] }, null, item);
      item.appendChild(document.createTextNode(a));
    });
    [["critical", "critical path"], ["failed", "failed"], ["skipped", "skipped / not started"]]
      .forEach(function (pair) {
        var item = el("span", {}, null, box);
        el("i", { class: pair[0] }, null, item);
        item.appendChild(document.createTextNode(pair[1]));
      });
  }

  // -- timeline (Gantt) ------------------------------------------------------------------
  el("h2", {}, "Timeline", root);
  el("p", { class: "sub" }, "One row per step, in start order. Grey: queued for a free slot " +
     "after its dependencies were done. Hover a row to see what it waited on.", root);
  legend(root);
  var labelW = 330, chartW = 900, rowH = 22, top = 26;
  var total = Math.max(data.duration, 0.001);
  var scale = chartW / total;
  var gantt = svg("svg", { id: "gantt", width: labelW + chartW + 120,
                           height: top + rowH * steps.length + 10 },
                  el("div", { class: "scroll" }, null, root));
  // round tick intervals (1, 2, 5 x 10^n seconds, then minutes), at most ten of them
  var nice = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60,
              120, 300, 600, 900, 1800, 3600, 7200];
  var every = nice.filter(function (n) { return total / n <= 10; })[0] || 7200;
  for (var t = 0; t <= total + 1e-9; t += every) {
    var x = labelW + t * scale;
    svg("line", { class: "tick", x1: x, x2: x, y1: top - 6, y2: top + rowH * steps.length }, gantt);
    svg("text", { class: "muted", x: x, y: 14, "text-anchor": "middle" }, gantt, secs(t));
  }
  var rows = [];
  steps.forEach(function (s, i) {
    var y = top + i * rowH;
    var g = svg("g", { class: "row", "data-step": s.address, "data-index": i }, gantt);
    rows.push(g);
    svg("rect", { class: "hover", x: 0, y: y, width: labelW + chartW + 120, height: rowH,
                  fill: "transparent" }, g);
    svg("title", {}, g, tip(s));
    svg("text", { class: "label", x: 8, y: y + 15,
                  "font-weight": s.critical ? "700" : "400" }, g, short(s.address, 46));
    if (s.start === null) {
      svg("text", { class: "muted", x: labelW + 4, y: y + 15 }, g, s.outcome);
      return;
    }
    if (s.queued >= QUEUE_MIN) {
      svg("rect", { class: "queue", x: labelW + (s.start - s.queued) * scale, y: y + 8,
                    width: Math.max(1, s.queued * scale), height: 6 }, g);
    }
    var w = Math.max(2, s.duration * scale);
    svg("rect", { class: "bar" + (s.critical ? " critical" : "") + (s.outcome === "failed" ? " failed" : ""),
                  x: labelW + s.start * scale, y: y + 4, width: w, height: rowH - 8, rx: 3,
                  fill: colour(s) }, g);
    var note = secs(s.duration) + (s.retries ? "  \u21bb" + s.retries : "") +
               (s.outcome === "failed" ? "  failed" : "");
    svg("text", { class: "muted", x: labelW + s.start * scale + w + 6, y: y + 15 }, g, note);
  });
  // what each critical step waited on: a dotted connector from its input's end
  data.critical.forEach(function (i) {
    var s = steps[i];
    if (s.waited_on === null || s.start === null) return;
    var p = steps[s.waited_on];
    var x1 = labelW + p.end * scale, y1 = top + s.waited_on * rowH + rowH / 2;
    var x2 = labelW + s.start * scale, y2 = top + i * rowH + rowH / 2;
    svg("path", { class: "wait", d: "M" + x1 + "," + y1 + " L" + x1 + "," + y2 + " L" + x2 + "," + y2 }, gantt);
  });
  function related(i) {
    var keep = {}; keep[i] = true;
    steps[i].after.forEach(function (j) { keep[j] = true; });
    steps.forEach(function (s, j) { if (s.after.indexOf(i) >= 0) keep[j] = true; });
    return keep;
  }
  rows.forEach(function (g, i) {
    g.addEventListener("mouseenter", function () {
      var keep = related(i);
      rows.forEach(function (r, j) { if (!keep[j]) r.classList.add("dim"); });
    });
    g.addEventListener("mouseleave", function () {
      rows.forEach(function (r) { r.classList.remove("dim"); });
    });
  });

  // -- graph -----------------------------------------------------------------------------
  el("h2", {}, "Graph", root);
  el("p", { class: "sub" }, "Steps left to right in dependency order, coloured by action; " +
     "bold outline and edges: the critical path.", root);
  legend(root);
  var nodeW = 210, nodeH = 26, colW = 250, rowGap = 34, pad = 16;
  var cols = 0, rowsMax = 0;
  steps.forEach(function (s) { cols = Math.max(cols, s.column + 1); rowsMax = Math.max(rowsMax, s.row + 1); });
  var graph = svg("svg", { id: "graph", width: pad * 2 + (cols - 1) * colW + nodeW,
                           height: pad * 2 + (rowsMax - 1) * rowGap + nodeH },
                  el("div", { class: "scroll" }, null, root));
  function nx(s) { return pad + s.column * colW; }
  function ny(s) { return pad + s.row * rowGap; }
  var edges = svg("g", {}, graph);
  steps.forEach(function (s, i) {
    s.after.forEach(function (j) {
      var p = steps[j];
      var x1 = nx(p) + nodeW, y1 = ny(p) + nodeH / 2, x2 = nx(s), y2 = ny(s) + nodeH / 2;
      var mid = (x1 + x2) / 2;
      var crit = s.critical && p.critical && s.waited_on === j;
      svg("path", { class: "edge" + (crit ? " critical" : ""),
                    d: "M" + x1 + "," + y1 + " C" + mid + "," + y1 + " " + mid + "," + y2 + " " + x2 + "," + y2 }, edges);
    });
  });
  steps.forEach(function (s) {
    var cls = "node " + s.outcome + (s.critical ? " critical" : "") + (light(s) ? " light" : "");
    var g = svg("g", { class: cls, "data-step": s.address }, graph);
    svg("title", {}, g, tip(s));
    svg("rect", { x: nx(s), y: ny(s), width: nodeW, height: nodeH, rx: 5, fill: colour(s) }, g);
    var label = short(s.address, 27) + (s.outcome === "failed" ? " \u2717" : "");
    svg("text", { x: nx(s) + 8, y: ny(s) + 17 }, g, label);
  });

  // -- table -----------------------------------------------------------------------------
  el("h2", {}, "Steps", root);
  var table = el("table", { id: "steps" }, null, el("div", { class: "scroll" }, null, root));
  var head = el("tr", {}, null, el("thead", {}, null, table));
  var columns = [
    ["step", function (s) { return s.address; }],
    ["action", function (s) { return s.action; }],
    ["outcome", function (s) { return s.outcome; }],
    ["start", function (s) { return s.start === null ? -1 : s.start; }],
    ["duration", function (s) { return s.duration; }],
    ["queued", function (s) { return s.queued; }],
    ["retries", function (s) { return s.retries; }],
    ["waited on", function (s) { return s.waited_on === null ? "" : steps[s.waited_on].address; }],
  ];
  var body = el("tbody", {}, null, table);
  var order = steps.map(function (_, i) { return i; });
  var sortBy = 3, descending = false;
  function fill() {
    body.textContent = "";
    order.forEach(function (i) {
      var s = steps[i];
      var tr = el("tr", { "data-step": s.address,
                          class: (s.critical ? "critical " : "") + s.outcome }, null, body);
      el("code", {}, s.address, el("td", {}, null, tr));
      el("span", { class: "pill" + (light(s) ? " light" : ""), style: "background:" + colour(s) },
         s.action, el("td", {}, null, tr));
      el("td", {}, s.outcome, tr);
      el("td", { class: "num" }, s.start === null ? "" : "+" + secs(s.start), tr);
      el("td", { class: "num" }, s.start === null ? "" : secs(s.duration), tr);
      el("td", { class: "num" }, s.queued >= QUEUE_MIN ? secs(s.queued) : "", tr);
      el("td", { class: "num" }, s.retries ? String(s.retries) : "", tr);
      var last = el("td", {}, s.waited_on === null ? "" : steps[s.waited_on].address, tr);
      if (s.error) el("div", { class: "err" }, s.error, last);
    });
  }
  columns.forEach(function (c, k) {
    var th = el("th", {}, c[0], head);
    th.addEventListener("click", function () {
      descending = sortBy === k ? !descending : k === 4 || k === 5 || k === 6;
      sortBy = k;
      order.sort(function (a, b) {
        var x = c[1](steps[a]), y = c[1](steps[b]);
        var r = x < y ? -1 : x > y ? 1 : a - b;
        return descending ? -r : r;
      });
      fill();
    });
  });
  fill();
  document.body.setAttribute("data-rendered", String(steps.length));
})();
