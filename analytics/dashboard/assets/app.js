// semevent dashboard: draws the snapshots streamed from /events on plain
// canvases. window.__dash exposes counters for the browser test.
"use strict";

const css = getComputedStyle(document.documentElement);
const color = (name) => css.getPropertyValue(name).trim();
const palette = ["--c0", "--c1", "--c2", "--c3", "--c4", "--c5"].map(color);
const dash = (window.__dash = { updates: 0, drawn: {}, last: null, errors: 0 });

function fmt(v) {
  if (v === null || v === undefined || v === -1) return "–";
  const a = Math.abs(v);
  if (Number.isInteger(v) && a < 1e4) return String(v);
  if (a >= 1e9) return (v / 1e9).toFixed(1) + "G";
  if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (a >= 1e4) return (v / 1e3).toFixed(1) + "k";
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return v.toFixed(1);
  return v.toFixed(3);
}

function clock(ms) {
  const d = new Date(ms);
  return d.toTimeString().slice(0, 8);
}

// setup sizes a canvas for the device pixel ratio and returns its context.
function setup(canvas) {
  const r = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * r) || canvas.height !== Math.round(h * r)) {
    canvas.width = Math.round(w * r);
    canvas.height = Math.round(h * r);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(r, 0, 0, r, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.font = "11px system-ui, sans-serif";
  return { ctx, w, h };
}

function empty(canvas, text) {
  const { ctx, w, h } = setup(canvas);
  ctx.fillStyle = color("--muted");
  ctx.textAlign = "center";
  ctx.fillText(text, w / 2, h / 2);
  dash.drawn[canvas.id] = 0;
}

// lineChart draws series [{name, color, points:[{t,v}], dashed}] and an
// optional band [{t, lo, hi}] and markers [{t, v}] on a time axis.
function lineChart(canvas, series, opts = {}) {
  const pts = series.flatMap((s) => s.points).filter((p) => p.v >= 0);
  const band = (opts.band || []).filter((b) => b.hi >= 0);
  if (pts.length === 0) return empty(canvas, opts.emptyText || "waiting for data…");
  const { ctx, w, h } = setup(canvas);
  const L = 52, R = 10, T = 22, B = 22;
  const ts = pts.map((p) => p.t).concat(band.map((b) => b.t));
  let t0 = Math.min(...ts), t1 = Math.max(...ts);
  if (t1 === t0) t1 = t0 + 1000;
  let vmax = Math.max(...pts.map((p) => p.v), ...band.map((b) => b.hi), ...(opts.markers || []).map((m) => m.v));
  if (!(vmax > 0)) vmax = 1;
  vmax *= 1.1;
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (w - L - R);
  const y = (v) => h - B - (v / vmax) * (h - T - B);
  // grid and labels
  ctx.strokeStyle = color("--line");
  ctx.fillStyle = color("--muted");
  ctx.lineWidth = 1;
  ctx.textAlign = "right";
  for (let i = 0; i <= 4; i++) {
    const v = (vmax * i) / 4, yy = Math.round(y(v)) + 0.5;
    ctx.beginPath(); ctx.moveTo(L, yy); ctx.lineTo(w - R, yy); ctx.stroke();
    ctx.fillText(fmt(v), L - 6, yy + 4);
  }
  for (let i = 0; i <= 4; i++) {
    const t = t0 + ((t1 - t0) * i) / 4;
    ctx.textAlign = i === 0 ? "left" : i === 4 ? "right" : "center";
    ctx.fillText(clock(t), x(t), h - 6);
  }
  if (band.length > 0) {
    ctx.fillStyle = "rgba(76, 201, 240, 0.15)";
    ctx.beginPath();
    band.forEach((b, i) => (i ? ctx.lineTo(x(b.t), y(b.hi)) : ctx.moveTo(x(b.t), y(b.hi))));
    for (let i = band.length - 1; i >= 0; i--) ctx.lineTo(x(band[i].t), y(Math.max(band[i].lo, 0)));
    ctx.closePath(); ctx.fill();
  }
  let drawn = 0;
  series.forEach((s) => {
    const p = s.points.filter((q) => q.v >= 0);
    if (p.length === 0) return;
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 2;
    ctx.setLineDash(s.dashed ? [5, 4] : []);
    ctx.beginPath();
    p.forEach((q, i) => (i ? ctx.lineTo(x(q.t), y(q.v)) : ctx.moveTo(x(q.t), y(q.v))));
    ctx.stroke();
    if (p.length === 1) { ctx.fillStyle = s.color; ctx.fillRect(x(p[0].t) - 2, y(p[0].v) - 2, 4, 4); }
    drawn += p.length;
  });
  ctx.setLineDash([]);
  (opts.markers || []).forEach((m) => {
    ctx.fillStyle = color("--c3");
    const mx = x(m.t), my = y(m.v);
    ctx.beginPath(); ctx.moveTo(mx, my - 7); ctx.lineTo(mx - 6, my + 4); ctx.lineTo(mx + 6, my + 4); ctx.closePath(); ctx.fill();
  });
  // legend
  let lx = L;
  ctx.textAlign = "left";
  series.forEach((s) => {
    ctx.fillStyle = s.color; ctx.fillRect(lx, 6, 10, 10);
    ctx.fillStyle = color("--text");
    const label = s.name.length > 28 ? "…" + s.name.slice(-27) : s.name;
    ctx.fillText(label, lx + 14, 15);
    lx += ctx.measureText(label).width + 30;
  });
  dash.drawn[canvas.id] = drawn;
}

function barChart(canvas, entries) {
  if (entries.length === 0) return empty(canvas, "no window closed yet");
  const { ctx, w, h } = setup(canvas);
  const n = entries.length, rowH = Math.min(24, (h - 4) / n);
  const max = Math.max(...entries.map((e) => e.count)) || 1;
  const labelW = Math.min(170, w * 0.45);
  entries.forEach((e, i) => {
    const yy = 2 + i * rowH;
    const bw = ((w - labelW - 56) * e.count) / max;
    ctx.fillStyle = palette[i % palette.length];
    ctx.fillRect(labelW, yy + 3, Math.max(bw, 1), rowH - 6);
    ctx.fillStyle = color("--text");
    ctx.textAlign = "right";
    const label = e.key.length > 26 ? "…" + e.key.slice(-25) : e.key || "(all)";
    ctx.fillText(label, labelW - 6, yy + rowH / 2 + 4);
    ctx.textAlign = "left";
    ctx.fillText(fmt(e.count), labelW + bw + 6, yy + rowH / 2 + 4);
  });
  dash.drawn[canvas.id] = n;
}

function render(s) {
  document.getElementById("title").textContent = s.title;
  document.title = s.title + " · semevent";
  const tp = s.throughput || [];
  const set = (id, v) => (document.getElementById(id).textContent = fmt(v));
  set("t-rate", tp.length ? tp[tp.length - 1].v : null);
  const tot = s.totals || {};
  set("t-published", tot.published); set("t-delivered", tot.delivered); set("t-dropped", tot.dropped);
  set("t-results", tot.window_results); set("t-anomalies", tot.anomalies);

  lineChart(document.getElementById("throughput"), [
    { name: "events/s", color: palette[0], points: tp },
    { name: "forecast", color: palette[0], dashed: true, points: (s.forecast || []).map((f) => ({ t: f.t, v: f.v })) },
  ], { band: s.forecast || [] });

  const lat = s.latency || [];
  lineChart(document.getElementById("latency"), ["p50", "p90", "p99"].map((q, i) => ({
    name: q, color: palette[i + 1], points: lat.map((p) => ({ t: p.t, v: p[q] })),
  })));

  const wins = s.windows || [];
  const keys = s.keys || [];
  const anomalies = s.anomalies || [];
  lineChart(document.getElementById("windows"), keys.map((k, i) => ({
    name: k || "(all)", color: palette[i % palette.length],
    points: wins.filter((w) => k in w.counts).map((w) => ({ t: w.t, v: w.counts[k] })),
  })), { markers: anomalies.filter((a) => keys.includes(a.key)).map((a) => ({ t: a.t, v: a.value })), emptyText: "no window closed yet" });

  barChart(document.getElementById("top"), s.top || []);

  lineChart(document.getElementById("quantiles"), [
    { name: "p50", color: palette[2], points: wins.map((w) => ({ t: w.t, v: w.p50 })) },
    { name: "p99", color: palette[3], points: wins.map((w) => ({ t: w.t, v: w.p99 })) },
  ], { emptyText: "no quantiles (enable analytics.Quantiles)" });

  const body = document.querySelector("#anomalies tbody");
  body.replaceChildren(...anomalies.slice(-8).reverse().map((a) => {
    const tr = document.createElement("tr");
    [clock(a.t), a.key || "(all)", fmt(a.value), fmt(a.baseline), a.score.toFixed(1)].forEach((v, i) => {
      const td = document.createElement("td");
      td.textContent = v;
      if (i === 4) td.className = "score";
      tr.appendChild(td);
    });
    return tr;
  }));
  if (anomalies.length === 0) {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = 5; td.textContent = "none yet"; td.style.color = color("--muted");
    tr.appendChild(td); body.appendChild(tr);
  }
  const pbody = document.querySelector("#patterns tbody");
  const pats = (s.patterns || []).slice(0, 8);
  pbody.replaceChildren(...pats.map((p) => {
    const tr = document.createElement("tr");
    const seq = document.createElement("td");
    seq.textContent = p.steps.join(" → ");
    const sup = document.createElement("td");
    sup.textContent = fmt(p.support);
    tr.append(seq, sup);
    return tr;
  }));
  if (pats.length === 0) {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = 2; td.textContent = "none yet"; td.style.color = color("--muted");
    tr.appendChild(td); pbody.appendChild(tr);
  }
  renderSystem(s);
  dash.updates++;
  dash.last = s;
  // Mirror the counters into the DOM for tools that read it (chromium --dump-dom).
  document.body.dataset.updates = dash.updates;
  for (const [id, n] of Object.entries(dash.drawn)) document.getElementById(id).dataset.drawn = n;
}

// rows fills tbody with one row per item (cells from cellsOf, a class per
// cell from classOf) and records the count for the browser test.
function rows(tbody, items, cellsOf, emptyText, classOf) {
  tbody.replaceChildren(...items.map((it) => {
    const tr = document.createElement("tr");
    cellsOf(it).forEach((v, i) => {
      const td = document.createElement("td");
      td.textContent = typeof v === "number" ? fmt(v) : v;
      const cls = classOf && classOf(it, i);
      if (cls) td.className = cls;
      tr.appendChild(td);
    });
    return tr;
  }));
  if (items.length === 0) {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = 9; td.textContent = emptyText; td.style.color = color("--muted");
    tr.appendChild(td); tbody.appendChild(tr);
  }
  return items.length;
}

// kv fills the <b data-k> cells of a panel from obj.
function kv(panel, obj, fmts = {}) {
  panel.querySelectorAll("b[data-k]").forEach((b) => {
    const k = b.dataset.k, v = obj[k];
    b.textContent = fmts[k] ? fmts[k](v) : typeof v === "number" ? fmt(v) : v || "–";
  });
}

function bytes(n) {
  if (!(n >= 0)) return "–";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + " " + u[i];
}

// renderSystem shows each system panel whose source the snapshot carries
// and records, per panel, the rows it drew (dash.panels) for the test.
function renderSystem(s) {
  const panels = (dash.panels = {});
  const show = (id, on) => { document.getElementById(id).hidden = !on; return on; };
  let any = false;
  if (show("p-subscriptions", Array.isArray(s.subscriptions))) {
    any = true;
    panels.subscriptions = rows(document.querySelector("#p-subscriptions tbody"), s.subscriptions, (r) =>
      [r.name, r.matched, r.delivered, r.dropped.full, r.dropped.evicted, r.dropped.unsubscribed, r.dropped.closed, r.errors, r.depth],
      "no subscriptions", (r, i) => (i >= 3 && i <= 7 && [0, 0, 0, r.dropped.full, r.dropped.evicted, r.dropped.unsubscribed, r.dropped.closed, r.errors][i] > 0 ? "bad" : ""));
  }
  if (show("p-journal", !!s.journal)) {
    any = true;
    const p = document.getElementById("p-journal");
    kv(p, s.journal, { bytes });
    panels.journal = rows(p.querySelector("tbody"), s.journal.consumers || [], (c) => [c.name, c.offset, c.lag], "no durable consumers",
      (c, i) => (i === 2 && c.lag > 0 ? "bad" : ""));
  }
  if (show("p-cluster", !!s.cluster)) {
    any = true;
    const p = document.getElementById("p-cluster");
    panels.cluster = rows(p.querySelector(".shards tbody"), s.cluster.shards || [], (sh) =>
      [String(sh.id), sh.leader || "none", (sh.members || []).join(", "), (sh.observers || []).join(", ") || "–", sh.applied, sh.lag],
      "no shards", (sh, i) => (i === 1 && !sh.leader ? "bad" : ""));
    panels.peers = rows(p.querySelector(".peers tbody"), s.cluster.peers || [], (pe) =>
      [pe.node, pe.phi < 0 ? "–" : pe.phi.toFixed(2), pe.up ? "up" : "suspected"], "no peers",
      (pe, i) => (i === 2 && !pe.up ? "bad" : ""));
  }
  if (show("p-automation", !!s.automation)) {
    any = true;
    const p = document.getElementById("p-automation");
    kv(p, s.automation, { open_breakers: (b) => (b && b.length ? b.join(", ") : "none") });
    panels.automation = rows(p.querySelector("tbody"), s.automation.rules || [], (r) => [r.name, r.hits], "no rules");
  }
  if (show("p-capture", !!s.capture)) {
    any = true;
    const p = document.getElementById("p-capture");
    kv(p, s.capture, { watcher_mode: (m) => m || "no watcher" });
    lineChart(document.getElementById("fuseops"), [
      { name: "FUSE ops/s", color: palette[4], points: s.capture.ops_per_sec || [] },
    ], { emptyText: "waiting for a second sample…" });
    panels.capture = (s.capture.ops_per_sec || []).length;
  }
  show("system", any);
  show("system-title", any);
  for (const [k, n] of Object.entries(panels)) document.getElementById(k === "peers" ? "p-cluster" : "p-" + k).dataset["rows" + (k === "peers" ? "Peers" : "")] = n;
}

function connect() {
  const status = document.getElementById("status");
  const es = new EventSource("events");
  es.onopen = () => { status.textContent = "live"; status.className = "status on"; };
  es.onmessage = (m) => {
    try { render(JSON.parse(m.data)); } catch (e) { dash.errors++; console.error(e); }
  };
  es.onerror = () => { status.textContent = "reconnecting…"; status.className = "status off"; };
}

// poll fetches /snapshot every second (?poll=ms sets the period) for
// places where a stream cannot pass (some proxies, chromium --dump-dom).
function poll(ms) {
  const status = document.getElementById("status");
  const tick = () => fetch("snapshot").then((r) => r.json()).then((s) => {
    status.textContent = "polling"; status.className = "status on"; render(s);
  }).catch(() => { status.textContent = "retrying…"; status.className = "status off"; dash.errors++; })
    .finally(() => setTimeout(tick, ms));
  tick();
}

window.addEventListener("resize", () => dash.last && render(dash.last));
const pollMs = new URLSearchParams(location.search).get("poll");
if (pollMs !== null) poll(Number(pollMs) || 1000); else connect();
