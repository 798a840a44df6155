// The live dashboard's page (served by src/registrar/dashboard.ts): one HTML document with its
// style and script, no build step and no assets (tsc would not copy an .html file into dist/,
// and the control channel serves nothing from disk). The script listens to
// dashboard/events (server-sent events, relative: a page opened with ?token= keeps working by
// the cookie the server set) and redraws from each `update`. Everything shown comes from the
// network (pool handles, transports): it is set as text (textContent), never as markup.
export const DASHBOARD_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>RSerPool registrar</title>
<style>
  :root { --bg: #f6f7f9; --card: #fff; --ink: #1d2530; --muted: #667085; --line: #e4e7ec; --accent: #2563eb; --ok: #15803d; --warn: #b45309; --bad: #b91c1c; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink); background: var(--bg); }
  header { display: flex; align-items: center; gap: 16px; padding: 12px 20px; background: #111827; color: #f9fafb; }
  header h1 { font-size: 17px; margin: 0; font-weight: 600; }
  header .id { font-family: ui-monospace, "DejaVu Sans Mono", monospace; color: #93c5fd; }
  header .spacer { flex: 1; }
  #status { padding: 2px 10px; border-radius: 999px; font-size: 12px; background: #374151; }
  #status.live { background: var(--ok); }
  #status.down { background: var(--bad); }
  #updated { font-size: 12px; color: #d1d5db; }
  main { padding: 16px 20px; display: grid; gap: 16px; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); align-items: start; }
  section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; min-width: 0; }
  section h2 { font-size: 14px; margin: 0 0 8px; color: var(--muted); font-weight: 600; text-transform: uppercase; letter-spacing: .04em; }
  .wide { grid-column: 1 / -1; }
  #summary { display: grid; grid-template-columns: repeat(6, minmax(0, 1fr)); gap: 12px; }
  .stat { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
  .stat .v { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
  .stat .k { font-size: 12px; color: var(--muted); }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 320px; }
  th { font-size: 12px; color: var(--muted); font-weight: 600; }
  td.num, th.num { text-align: right; }
  .mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 13px; }
  .pool { margin-bottom: 14px; }
  .pool table { table-layout: fixed; }
  .pool th:nth-child(1) { width: 12%; } .pool th:nth-child(2) { width: 17%; } .pool th:nth-child(3) { width: 21%; }
  .pool th:nth-child(4) { width: 17%; } .pool th:nth-child(5) { width: 8%; } .pool th:nth-child(6) { width: 25%; }
  .pool h3 { font-size: 14px; margin: 4px 0; display: flex; gap: 10px; align-items: baseline; }
  .pool h3 .policy { color: var(--accent); font-weight: 500; }
  .pool h3 .count { color: var(--muted); font-weight: 400; }
  .note { color: var(--muted); font-size: 12px; margin: 4px 0; }
  .here { color: var(--ok); }
  .state-active { color: var(--ok); }
  .state-bad { color: var(--bad); }
  .differs { color: var(--bad); font-weight: 600; }
  #chart { width: 100%; height: 180px; display: block; }
  .legend { display: flex; gap: 14px; font-size: 12px; color: var(--muted); margin-top: 4px; }
  .legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
  @media (max-width: 900px) { main { grid-template-columns: 1fr; } #summary { grid-template-columns: repeat(3, 1fr); } }
</style>
</head>
<body>
<header>
  <h1>RSerPool registrar <span class="id" id="registrar-id">…</span></h1>
  <span class="spacer"></span>
  <span id="updated"></span>
  <span id="status">connecting</span>
</header>
<main>
  <div id="summary" class="wide">
    <div class="stat"><div class="v" id="total-pools">–</div><div class="k">pools</div></div>
    <div class="stat"><div class="v" id="total-elements">–</div><div class="k">pool elements</div></div>
    <div class="stat"><div class="v" id="total-peers">–</div><div class="k">ENRP peers</div></div>
    <div class="stat"><div class="v" id="rate-in">–</div><div class="k">messages in /s (ASAP + ENRP)</div></div>
    <div class="stat"><div class="v" id="rate-out">–</div><div class="k">messages out /s</div></div>
    <div class="stat"><div class="v" id="total-events">–</div><div class="k">keep-alive timeouts / takeovers</div></div>
  </div>
  <section>
    <h2>Message rates, last <span id="window">5 minutes</span></h2>
    <svg id="chart" viewBox="0 0 600 180" preserveAspectRatio="none" role="img" aria-label="message rates"></svg>
    <div class="legend" id="legend"></div>
  </section>
  <section>
    <h2>By message type, last minute</h2>
    <table id="types"><thead><tr><th>protocol</th><th>message</th><th class="num">/s</th><th class="num">total</th></tr></thead><tbody></tbody></table>
    <p class="note" id="types-note"></p>
  </section>
  <section class="wide">
    <h2>ENRP peers</h2>
    <table id="peers"><thead><tr><th>server ID</th><th>state</th><th>address</th><th class="num">last heard</th><th>checksum</th></tr></thead><tbody></tbody></table>
    <p class="note" id="peers-note"></p>
  </section>
  <section class="wide">
    <h2>Pools and pool elements</h2>
    <div id="pools"><p class="note">waiting for the first update…</p></div>
  </section>
</main>
<script>
"use strict";
var SERIES = [
  { key: "asapIn", label: "ASAP in", color: "#2563eb" },
  { key: "asapOut", label: "ASAP out", color: "#93c5fd" },
  { key: "enrpIn", label: "ENRP in", color: "#15803d" },
  { key: "enrpOut", label: "ENRP out", color: "#86efac" }
];
var SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs, text) {
  var e = document.createElement(tag);
  if (attrs) for (var k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
function setText(id, text) { document.getElementById(id).textContent = String(text); }
function fmt(x) {
  if (x >= 1e6) return (x / 1e6).toFixed(1) + "M";
  if (x >= 1e4) return (x / 1e3).toFixed(1) + "k";
  return String(Math.round(x * 10) / 10);
}
function row(tbody, cells, attrs) {
  var tr = el("tr", attrs);
  cells.forEach(function (c) {
    var td = el("td", c.cls ? { class: c.cls } : null, c.text);
    tr.appendChild(td);
  });
  tbody.appendChild(tr);
  return tr;
}
function policyText(values) {
  var parts = [];
  // Loads are fractions of 0xffffffff (RFC 5356 §4.1): shown as percentages.
  for (var k in values) parts.push(k + " " + (/^load/.test(k) ? (values[k] / 4294967295 * 100).toFixed(1) + " %" : values[k]));
  return parts.length ? parts.join(", ") : "–";
}
function ago(ms) { return ms < 1000 ? ms + " ms" : (ms / 1000).toFixed(1) + " s"; }

function drawPools(u) {
  var box = document.getElementById("pools");
  box.replaceChildren();
  if (u.pools.length === 0) { box.appendChild(el("p", { class: "note" }, "no pools registered")); return; }
  u.pools.forEach(function (p) {
    var div = el("div", { class: "pool", "data-pool": p.handle });
    var h = el("h3");
    h.appendChild(el("span", { class: "mono handle" }, p.handle));
    h.appendChild(el("span", { class: "policy" }, p.policy));
    h.appendChild(el("span", { class: "count" }, p.elementCount + (p.elementCount === 1 ? " element" : " elements")));
    div.appendChild(h);
    var t = el("table");
    var head = el("thead"); var hr = el("tr");
    ["PE ID", "home", "transport", "policy values", "reports", "timer"].forEach(function (x) { hr.appendChild(el("th", null, x)); });
    head.appendChild(hr); t.appendChild(head);
    var body = el("tbody");
    p.elements.forEach(function (e) {
      row(body, [
        { text: e.id, cls: "mono" },
        { text: e.home + (e.ownedHere ? " (here)" : ""), cls: e.ownedHere ? "mono here" : "mono" },
        { text: e.transport, cls: "mono" },
        { text: policyText(e.policy) },
        { text: e.unreachableReports, cls: "num" },
        { text: e.timer }
      ], { "data-pe": e.id });
    });
    t.appendChild(body);
    div.appendChild(t);
    if (p.elementCount > p.elements.length) div.appendChild(el("p", { class: "note" }, "first " + p.elements.length + " of " + p.elementCount + " shown"));
    box.appendChild(div);
  });
  if (u.totals.pools > u.pools.length) box.appendChild(el("p", { class: "note" }, "the " + u.pools.length + " largest of " + u.totals.pools + " pools shown"));
}

function drawPeers(u) {
  var body = document.querySelector("#peers tbody");
  body.replaceChildren();
  u.peers.forEach(function (p) {
    row(body, [
      { text: p.id, cls: "mono" },
      { text: p.state, cls: p.state === "active" ? "state-active" : "state-bad" },
      { text: p.address + (p.associated ? "" : " (no association)"), cls: "mono" },
      { text: ago(p.lastHeardMsAgo), cls: "num" },
      { text: p.checksum, cls: p.checksum === "differs" ? "differs" : "" }
    ], { "data-peer": p.id });
  });
  setText("peers-note", u.peers.length === 0 ? "no peers: this registrar serves alone" : (u.totals.peers > u.peers.length ? u.peers.length + " of " + u.totals.peers + " shown" : ""));
}

function drawRates(u) {
  var svg = document.getElementById("chart");
  svg.replaceChildren();
  var legend = document.getElementById("legend");
  legend.replaceChildren();
  SERIES.forEach(function (s) {
    var item = el("span"); var sw = el("i"); sw.style.background = s.color;
    item.appendChild(sw); item.appendChild(document.createTextNode(s.label)); legend.appendChild(item);
  });
  var body = document.querySelector("#types tbody");
  body.replaceChildren();
  if (u.rates === null) { setText("types-note", "this registrar does not count messages"); return; }
  var r = u.rates;
  var pts = r.points;
  var last = pts.length ? pts[pts.length - 1] : null;
  // The x axis spans the history there is (at least a minute, at most the window).
  var span = pts.length ? Math.min(r.windowMs, Math.max(60000, last.t - pts[0].t)) : 60000;
  setText("window", span >= 120000 ? Math.round(span / 60000) + " minutes" : "minute");
  setText("rate-in", last ? fmt(last.asapIn + last.enrpIn) : "–");
  setText("rate-out", last ? fmt(last.asapOut + last.enrpOut) : "–");
  setText("total-events", r.totals.keepAliveTimeouts + " / " + r.totals.takeovers);
  r.byType.slice(0, 14).forEach(function (t) {
    row(body, [{ text: t.protocol + " " + t.direction }, { text: t.type, cls: "mono" }, { text: fmt(t.perSecond), cls: "num" }, { text: t.total, cls: "num" }]);
  });
  setText("types-note", r.byType.length === 0 ? "no messages yet" : "");
  var W = 600, H = 180, pad = 4;
  var end = last ? last.t : Date.now(), start = end - span;
  var max = 1;
  pts.forEach(function (p) { SERIES.forEach(function (s) { if (p[s.key] > max) max = p[s.key]; }); });
  for (var i = 1; i <= 3; i++) {
    var y = pad + (H - 2 * pad) * (1 - i / 4);
    var line = document.createElementNS(SVG, "line");
    line.setAttribute("x1", "0"); line.setAttribute("x2", String(W)); line.setAttribute("y1", String(y)); line.setAttribute("y2", String(y));
    line.setAttribute("stroke", "#e4e7ec"); line.setAttribute("stroke-width", "1");
    svg.appendChild(line);
  }
  var label = document.createElementNS(SVG, "text");
  label.setAttribute("x", "4"); label.setAttribute("y", "14"); label.setAttribute("font-size", "11"); label.setAttribute("fill", "#667085");
  label.textContent = fmt(max) + " /s";
  svg.appendChild(label);
  SERIES.forEach(function (s) {
    if (pts.length === 0) return;
    var d = pts.map(function (p) {
      var x = (W * (p.t - start)) / span;
      var y = pad + (H - 2 * pad) * (1 - p[s.key] / max);
      return x.toFixed(1) + "," + y.toFixed(1);
    }).join(" ");
    var poly = document.createElementNS(SVG, "polyline");
    poly.setAttribute("points", pts.length === 1 ? d + " " + d : d);
    poly.setAttribute("fill", "none"); poly.setAttribute("stroke", s.color); poly.setAttribute("stroke-width", "2");
    poly.setAttribute("vector-effect", "non-scaling-stroke");
    poly.setAttribute("data-series", s.key);
    svg.appendChild(poly);
  });
}

function update(u) {
  setText("registrar-id", u.registrarId);
  document.title = "RSerPool registrar " + u.registrarId;
  setText("updated", "updated " + new Date(u.time).toLocaleTimeString() + " · " + u.clients.connected + "/" + u.clients.max + " viewers");
  setText("total-pools", u.totals.pools);
  setText("total-elements", u.totals.elements);
  setText("total-peers", u.totals.peers);
  drawPools(u);
  drawPeers(u);
  drawRates(u);
  document.body.setAttribute("data-updates", String(Number(document.body.getAttribute("data-updates") || "0") + 1));
}

// Not "status": a global var of that name is window.status, a string.
var statusEl = document.getElementById("status");
// Relative: /dashboard/events from / and from /dashboard, and below a proxy's prefix.
var source = new EventSource("dashboard/events");
source.addEventListener("open", function () { statusEl.textContent = "live"; statusEl.className = "live"; });
source.addEventListener("error", function () { statusEl.textContent = "reconnecting"; statusEl.className = "down"; });
source.addEventListener("update", function (ev) {
  statusEl.textContent = "live"; statusEl.className = "live";
  try { update(JSON.parse(ev.data)); } catch (e) { statusEl.textContent = "bad update: " + e.message; statusEl.className = "down"; }
});
source.addEventListener("problem", function (ev) {
  try { statusEl.textContent = "registrar: " + JSON.parse(ev.data).error; } catch (e) { statusEl.textContent = "problem"; }
  statusEl.className = "down";
});
</script>
</body>
</html>
`;
