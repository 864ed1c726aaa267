/**
 * The live status page at `/`: one self-contained HTML document, no framework and nothing
 * fetched from elsewhere. It opens `/events` (server-sent events from {@link ClusterFeed}) and
 * redraws on each picture: every stripe with its members (state, term, last LSN, lag, in sync),
 * the voters, commits per second over the last minutes as an inline SVG chart, and recent events.
 * Each member's row carries `data-member` and `data-state` (the state names of `kiln status`).
 */
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Kiln cluster</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d1d1f; background: #fafafa; }
  h1 { font-size: 1.3rem; margin: 0 0 .2rem; }
  h2 { font-size: 1.05rem; margin: 1.2rem 0 .4rem; }
  .muted { color: #6b6b70; }
  table { border-collapse: collapse; background: #fff; min-width: 36rem; }
  th, td { text-align: left; padding: .25rem .7rem; border-bottom: 1px solid #e4e4e7; }
  th { font-weight: 600; background: #f1f1f3; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .state { font-weight: 600; }
  tr[data-state="ACTIVE-COORDINATOR"] .state { color: #0a7d32; }
  tr[data-state="PASSIVE-STANDBY"] .state { color: #1f5fbf; }
  tr[data-state="PASSIVE-SYNCING"] .state { color: #b26b00; }
  tr[data-state="unreachable"] .state, tr[data-state="STOPPED"] .state { color: #b3261e; }
  .no-active { color: #b3261e; font-weight: 600; }
  #chart { background: #fff; border: 1px solid #e4e4e7; }
  #events { list-style: none; padding: 0; margin: 0; max-width: 48rem; }
  #events li { padding: .15rem 0; border-bottom: 1px dotted #e4e4e7; }
  #events time { color: #6b6b70; margin-right: .6rem; font-variant-numeric: tabular-nums; }
  #connection[data-live="false"] { color: #b3261e; }
</style>
</head>
<body>
<h1 id="title">Kiln cluster</h1>
<div class="muted"><span id="served"></span> · <span id="connection" data-live="false">connecting…</span> · <span id="updated"></span></div>
<div id="stripes"></div>
<h2>Voters</h2>
<div id="voters" class="muted">none</div>
<h2>Commits per second <span class="muted">(every stripe, last minutes)</span></h2>
<svg id="chart" width="600" height="120" viewBox="0 0 600 120" role="img" aria-label="commits per second"></svg>
<h2>Recent events</h2>
<ul id="events"><li class="muted">none yet</li></ul>
<script>
"use strict";
const show = (v) => (v === null || v === undefined ? "-" : String(v));
const el = (tag, attrs, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
};
const cell = (text, cls) => el("td", cls ? { class: cls } : {}, show(text));
const time = (ms) => new Date(ms).toLocaleTimeString();

function renderStripes(cluster) {
  const host = document.getElementById("stripes");
  host.replaceChildren(...cluster.stripes.map((stripe) => {
    const head = el("h2", {}, "Stripe " + stripe.name + " ");
    head.append(stripe.active === null
      ? el("span", { class: "no-active" }, "no active")
      : el("span", { class: "muted" }, "active " + stripe.active + ", term " + stripe.term));
    const table = el("table", { "data-stripe": stripe.name },
      el("tr", {}, ...["member", "state", "term", "last LSN", "lag", "in sync"].map((h) => el("th", {}, h))));
    for (const m of stripe.members) {
      table.append(el("tr", { "data-member": m.name, "data-state": m.state },
        cell(m.name), cell(m.state, "state"), cell(m.term, "num"), cell(m.lastLsn, "num"), cell(m.lag, "num"),
        cell(m.inSync === null ? "-" : m.inSync ? "yes" : "no")));
    }
    return el("section", {}, head, table);
  }));
}

function renderVoters(voters) {
  const host = document.getElementById("voters");
  if (voters.length === 0) { host.textContent = "none"; return; }
  const table = el("table", {}, el("tr", {}, ...["voter", "reachable", "term"].map((h) => el("th", {}, h))));
  for (const v of voters) {
    table.append(el("tr", { "data-voter": v.name, "data-state": v.reachable ? "reachable" : "unreachable" },
      cell(v.name), cell(v.reachable ? "yes" : "no", "state"), cell(v.term, "num")));
  }
  host.className = "";
  host.replaceChildren(table);
}

function renderChart(rate) {
  const svg = document.getElementById("chart");
  const ns = "http://www.w3.org/2000/svg";
  const W = 600, H = 120, pad = 24, span = 5 * 60 * 1000;
  const now = rate.length ? rate[rate.length - 1].at : Date.now();
  const points = rate.filter((p) => p.at >= now - span);
  const max = Math.max(1, ...points.map((p) => p.perSecond));
  const x = (at) => pad + ((at - (now - span)) / span) * (W - pad - 4);
  const y = (v) => H - 16 - (v / max) * (H - 26);
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "#1f5fbf");
  line.setAttribute("stroke-width", "1.5");
  line.setAttribute("points", points.map((p) => x(p.at).toFixed(1) + "," + y(p.perSecond).toFixed(1)).join(" "));
  const label = (text, lx, ly) => {
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", lx); t.setAttribute("y", ly); t.setAttribute("font-size", "10"); t.setAttribute("fill", "#6b6b70");
    t.textContent = text;
    return t;
  };
  const axis = document.createElementNS(ns, "line");
  for (const [k, v] of [["x1", pad], ["y1", H - 16], ["x2", W - 4], ["y2", H - 16], ["stroke", "#c8c8cc"]]) axis.setAttribute(k, v);
  const last = points.length ? points[points.length - 1].perSecond : 0;
  svg.replaceChildren(axis, line, label(String(max) + "/s", 2, 12), label("0", 2, H - 16), label("-5 min", pad, H - 2), label("now: " + last + "/s", W - 90, H - 2));
}

function renderEvents(events) {
  const host = document.getElementById("events");
  if (events.length === 0) { host.replaceChildren(el("li", { class: "muted" }, "none yet")); return; }
  host.replaceChildren(...events.map((e) => el("li", {}, el("time", {}, time(e.at)), e.text)));
}

function render(picture) {
  document.getElementById("title").textContent = "Kiln cluster " + picture.cluster.clusterId;
  document.getElementById("served").textContent = "served by " + picture.servedBy;
  document.getElementById("updated").textContent = "updated " + time(picture.at);
  renderStripes(picture.cluster);
  renderVoters(picture.cluster.voters);
  renderChart(picture.rate);
  renderEvents(picture.events);
}

const status = document.getElementById("connection");
const source = new EventSource("events");
source.onopen = () => { status.textContent = "live"; status.dataset.live = "true"; };
source.onerror = () => { status.textContent = "reconnecting…"; status.dataset.live = "false"; };
source.onmessage = (message) => render(JSON.parse(message.data));
</script>
</body>
</html>
`;
