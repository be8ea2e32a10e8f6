// sentitrade dashboard: plain JS, no build step. Data over the REST API, live updates
// over the WebSockets (token sent as the first message, never in a URL).
"use strict";
const $ = (sel) => document.querySelector(sel);
const RANK = { viewer: 0, trader: 1, admin: 2 };
const S = { token: sessionStorage.getItem("sentitrade.token") || "", me: null, pair: null,
  sockets: [], bots: {}, candle: null, candleSeries: null, markers: null, tf: 300, lastBar: null };

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function num(x, d = 2) {
  if (x === null || x === undefined || x === "") return "-";
  const v = Number(x);
  return Number.isFinite(v) ? v.toLocaleString(undefined, { maximumFractionDigits: d }) : "-";
}
function sign(x) { const v = Number(x); return v > 0 ? "pos" : v < 0 ? "neg" : ""; }
function ago(iso) { return iso ? new Date(iso).toISOString().slice(5, 16).replace("T", " ") : ""; }

async function api(path, opts = {}) {
  const res = await fetch("/api/v1" + path, { ...opts, headers: { ...(opts.headers || {}),
    Authorization: "Bearer " + S.token, "Content-Type": "application/json" } });
  if (res.status === 401) { logout("Token refused."); throw new Error("unauthorized"); }
  const body = res.headers.get("content-type")?.includes("json") ? await res.json() : res;
  if (!res.ok) throw new Error(body.detail || res.statusText);
  return body;
}

function logout(msg) {
  sessionStorage.removeItem("sentitrade.token");
  S.token = "";
  S.sockets.forEach((w) => w.close());
  S.sockets = [];
  $("#app").hidden = true;
  $("#login").hidden = false;
  $("#login-error").textContent = msg || "";
}

// ------------------------------------------------------------------ websockets
function connect(path, onMessage) {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  let retry = 500;
  const open = () => {
    if (!S.token) return;
    const ws = new WebSocket(`${proto}://${location.host}${path}`);
    S.sockets.push(ws);
    ws.onopen = () => { ws.send(JSON.stringify({ token: S.token })); retry = 500; };
    ws.onmessage = (ev) => {
      const m = JSON.parse(ev.data);
      if (path.startsWith("/ws/bot/")) {
        $("#live").textContent = "live"; $("#live").className = "badge live";
      }
      onMessage(m);
    };
    ws.onclose = (ev) => {
      S.sockets = S.sockets.filter((w) => w !== ws);
      if (path.startsWith("/ws/bot/")) {
        $("#live").textContent = "offline"; $("#live").className = "badge offline";
      }
      if (ev.code === 4401) { logout("Token refused."); return; }
      if (S.token) setTimeout(open, retry = Math.min(retry * 2, 15000));
    };
  };
  open();
}

// ------------------------------------------------------------------ renderers
function renderHeader(st) {
  $("#mode").textContent = st.mode;
  $("#state").textContent = st.trading_state;
  $("#state").className = "badge " + st.trading_state;
  renderBreakers(st.breakers || []);
}
function renderBreakers(list) {
  const box = $("#breakers");
  box.replaceChildren(...list.map((b) => el("span", `${b.rule}: ${b.action}`, "badge breaker")));
  $("#resume").hidden = !(list.length && RANK[S.me.role] >= 2);
}

function renderProposals(list) {
  const tb = $("#proposals tbody");
  tb.replaceChildren();
  const canDecide = RANK[S.me.role] >= 1;
  for (const p of list) {
    const tr = el("tr");
    tr.id = "proposal-" + p.id;
    tr.dataset.state = p.state;
    tr.append(el("td", "#" + p.id), el("td", S.bots[p.bot_id] || p.bot_id), el("td",
      `${p.intent} ${p.side} ${num(p.amount, 8)} ${p.symbol} @ ${num(p.ref_price, 8)}`),
      el("td", num(p.notional)), el("td", (p.reasons || []).join("; "), "why"),
      el("td", ago(p.expires_at)));
    const td = el("td");
    if (canDecide && p.state === "pending") {
      for (const [what, cls] of [["approve", "approve"], ["reject", "reject"]]) {
        const b = el("button", what[0].toUpperCase() + what.slice(1), cls);
        b.onclick = () => decide(p.id, what, b);
        td.append(b);
      }
    } else td.append(el("span", p.state, "muted"));
    tr.append(td);
    tb.append(tr);
  }
}
async function decide(id, what, button) {
  button.disabled = true;
  try {
    const r = await api(`/proposals/${id}/${what}`, { method: "POST" });
    const o = r.order;
    $("#proposal-msg").textContent = r.changed
      ? `#${id} ${r.proposal.state}` + (o ? `: order ${o.state}, filled ${num(o.filled, 8)} @ ${num(o.average_price, 8)}` : "")
      : `#${id} was already ${r.proposal.state} by ${r.proposal.decided_by || "?"}`;
    refreshPending();
  } catch (e) {
    $("#proposal-msg").textContent = `#${id}: ${e.message}`;
    button.disabled = false;
  }
}
async function refreshPending() { renderProposals(await api("/proposals")); }

function renderTrades(rows) {
  const tb = $("#trades tbody");
  tb.replaceChildren(...rows.map((t) => {
    const tr = el("tr");
    tr.append(el("td", "#" + t.id), el("td", t.symbol), el("td", num(t.amount, 8)),
      el("td", num(t.open_price, 8)), el("td", num(t.last_price, 8)),
      el("td", num(t.unrealized_pnl), sign(t.unrealized_pnl)));
    return tr;
  }));
}

function renderBots(list) {
  for (const b of list) S.bots[b.id] = b.name;
  const tb = $("#bots tbody");
  const canAct = RANK[S.me.role] >= 1;
  tb.replaceChildren(...list.map((b) => {
    const tr = el("tr");
    tr.append(el("td", b.name), el("td", b.state), el("td", (b.symbols || []).join(", ")));
    const td = el("td");
    if (canAct) for (const a of ["start", "pause", "stop"]) {
      const btn = el("button", a);
      btn.onclick = async () => {
        try { await api(`/bots/${encodeURIComponent(b.name)}/${a}`, { method: "POST" });
          renderBots(await api("/bots")); } catch (e) { activity(`${b.name}: ${e.message}`); }
      };
      td.append(btn, " ");
    }
    tr.append(td);
    return tr;
  }));
}

function activity(text, cls) {
  const li = el("li", `${new Date().toISOString().slice(11, 19)} ${text}`, cls);
  $("#activity").prepend(li);
  while ($("#activity").children.length > 200) $("#activity").lastChild.remove();
}
function renderSignals(list) {
  $("#signals").replaceChildren(...list.map((s) => {
    const inp = s.inputs || {};
    const why = inp.blocked ? `blocked: ${inp.blocked}` : inp.skipped ? `skipped: ${inp.skipped}` : "";
    const vals = Object.entries(inp).filter(([k, v]) => typeof v === "number").slice(0, 6)
      .map(([k, v]) => `${k} ${num(v, 4)}`).join(", ");
    return el("li", `${ago(s.ts)} ${s.symbol} ${s.direction} @ ${num(s.price, 8)} ${why} ${vals}`);
  }));
}
function renderNews(list) {
  $("#news").replaceChildren(...list.map((n) => {
    const sc = (n.scores || []).map((x) => `${x.scorer} ${num(x.score, 2)}`).join(", ");
    const li = el("li", `${ago(n.published_at)} [${n.source}] `);
    li.append(el("span", n.title), el("span", ` (${sc || "unscored"})`,
      sign(n.scores?.[0]?.score)));
    return li;
  }));
}

// ------------------------------------------------------------------ charts
function chart(container, opts = {}) {
  return LightweightCharts.createChart(container, { autoSize: true,
    layout: { background: { color: "#161d24" }, textColor: "#d8dee4" },
    grid: { vertLines: { color: "#1e262e" }, horzLines: { color: "#1e262e" } },
    timeScale: { timeVisible: true, secondsVisible: false }, ...opts });
}
function renderEquity(eq) {
  const c = chart($("#equity-chart"));
  const eqs = c.addSeries(LightweightCharts.AreaSeries, { lineColor: "#4c8df6",
    topColor: "rgba(76,141,246,.35)", bottomColor: "rgba(76,141,246,0)" });
  const dds = c.addSeries(LightweightCharts.HistogramSeries, { color: "#ef5350",
    priceFormat: { type: "percent" } }, 1);
  const a = [], d = [];
  let last = -1;
  for (let i = 0; i < eq.t.length; i++) {
    const t = Math.floor(eq.t[i]);
    if (t <= last) continue;
    last = t;
    a.push({ time: t, value: eq.equity[i] });
    d.push({ time: t, value: eq.drawdown_pct[i] });
  }
  eqs.setData(a);
  dds.setData(d);
  c.timeScale().fitContent();
}
function renderCandles(cd) {
  if (!S.candle) {
    S.candle = chart($("#candle-chart"));
    S.candleSeries = S.candle.addSeries(LightweightCharts.CandlestickSeries, {
      upColor: "#26a69a", downColor: "#ef5350", borderVisible: false,
      wickUpColor: "#26a69a", wickDownColor: "#ef5350" });
    S.markers = LightweightCharts.createSeriesMarkers(S.candleSeries, []);
  }
  const n = cd.t.length;
  const bars = new Array(n);
  for (let i = 0; i < n; i++) bars[i] = { time: Math.floor(cd.t[i]), open: cd.o[i], high: cd.h[i],
    low: cd.l[i], close: cd.c[i] };
  S.candleSeries.setData(bars);
  S.tf = n > 1 ? bars[n - 1].time - bars[n - 2].time : 300;
  S.lastBar = n ? bars[n - 1] : null;
  const t0 = n ? bars[0].time : 0;
  S.markers.setMarkers(cd.marks.filter((m) => m.t >= t0).map((m) => ({
    time: Math.floor(m.t / S.tf) * S.tf, position: m.kind === "entry" ? "belowBar" : "aboveBar",
    color: m.kind === "entry" ? "#26a69a" : "#ef5350",
    shape: m.kind === "entry" ? "arrowUp" : "arrowDown",
    text: m.kind === "entry" ? "buy" : `sell ${m.reason || ""}` })));
  $("#chart-note").textContent = n ? `${n} candles, ${cd.marks.length} entries/exits` :
    "no candles yet (the engine's history fills as candles close)";
}
async function loadPair(pair) {
  S.pair = pair;
  renderCandles(await api(`/candles/${pair.replace("/", "-")}`));
  S.sockets.filter((w) => w.url.includes("/ws/market/")).forEach((w) => { w.onclose = null; w.close(); });
  connect(`/ws/market/${pair.replace("/", "-")}`, (m) => {
    if (m.type === "bar" && S.candleSeries) {
      const t = Math.floor(m.t - S.tf);  // bars are stamped with their close; the chart uses opens
      S.candleSeries.update({ time: t, open: m.o, high: m.h, low: m.l, close: m.c });
    }
  });
}

// ------------------------------------------------------------------ backtests
async function refreshJobs() {
  const jobs = await api("/backtests");
  $("#bt-jobs").replaceChildren(...jobs.map((j) => {
    const li = el("li", `#${j.id} ${j.params.pair} ${j.params.timeframe} ${j.params.days}d ` +
      `${j.params.strategy}: ${j.state}${j.error ? " - " + j.error : ""} `);
    if (j.state === "done") {
      const b = el("button", "report");
      b.onclick = () => showReport(j.id);
      li.append(b);
    }
    return li;
  }));
  if (jobs.some((j) => j.state === "running")) setTimeout(refreshJobs, 2000);
}
async function showReport(id) {
  const r = await api(`/backtests/${id}/report`);
  $("#bt-report").textContent = r.text;
  if (r.has_chart) {
    const res = await fetch(`/api/v1/backtests/${id}/report.png`,
      { headers: { Authorization: "Bearer " + S.token } });
    $("#bt-chart").src = URL.createObjectURL(await res.blob());
    $("#bt-chart").hidden = false;
  }
}

// ------------------------------------------------------------------ start
async function start() {
  const t0 = performance.now();
  S.me = await api("/me");
  $("#login").hidden = true;
  $("#app").hidden = false;
  $("#who").textContent = `${S.me.name} (${S.me.role})`;
  document.querySelectorAll(".trader-only").forEach((e) => { e.hidden = RANK[S.me.role] < 1; });
  const [st, eq, pairs] = await Promise.all([api("/status"), api("/equity"), api("/pairs")]);
  renderHeader(st);
  renderBots(st.bots);
  renderProposals(st.pending);
  renderTrades(st.open_trades);
  renderEquity(eq);
  $("#pair").replaceChildren(...pairs.map((p) => el("option", p)));
  $("#bt-pair").replaceChildren(...pairs.map((p) => el("option", p)));
  if (pairs.length) await loadPair(pairs[0]);
  window.__firstRender = { ms: performance.now(), sinceStart: performance.now() - t0 };
  document.body.dataset.ready = "1";
  connect("/ws/bot/all/status", onStatus);
  connect("/ws/portfolio/all", (m) => { if (m.type === "portfolio") renderTrades(m.open_trades); });
  api("/signals?limit=50").then(renderSignals);
  api("/news?limit=50").then(renderNews);
  refreshJobs();
}
function onStatus(m) {
  if (m.type === "snapshot") { renderProposals(m.pending); renderBreakers(m.breakers); return; }
  if (m.type !== "event") return;
  const d = m.data || {};
  activity(d.text || m.kind, m.kind === "fill" ? "fill" : "");
  if (m.kind === "proposal" || m.kind === "proposal_decided") refreshPending();
  if (m.kind === "fill" && S.pair === d.symbol) loadPair(S.pair);
  if (m.kind.startsWith("breaker")) api("/status").then(renderHeader);
  if (m.kind === "proposal") api("/signals?limit=50").then(renderSignals);
}

$("#login-form").onsubmit = async (ev) => {
  ev.preventDefault();
  S.token = $("#token").value.trim();
  try { await start(); sessionStorage.setItem("sentitrade.token", S.token); }
  catch (e) { if (S.token) logout(e.message); }
};
$("#logout").onclick = () => logout("");
$("#pair").onchange = (ev) => loadPair(ev.target.value);
$("#resume").onclick = async () => {
  try { const r = await api("/breakers/resume", { method: "POST" });
    activity(`resumed: ${r.cleared.length} breaker(s) cleared`); api("/status").then(renderHeader);
  } catch (e) { activity(e.message, "neg"); }
};
$("#bt-form").onsubmit = async (ev) => {
  ev.preventDefault();
  try {
    await api("/backtests", { method: "POST", body: JSON.stringify({ pair: $("#bt-pair").value,
      timeframe: $("#bt-tf").value, days: Number($("#bt-days").value),
      strategy: $("#bt-strategy").value }) });
    refreshJobs();
  } catch (e) { activity(`backtest: ${e.message}`, "neg"); }
};
if (S.token) start().catch((e) => logout(e.message)); else $("#login").hidden = false;
