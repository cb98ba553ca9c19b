// The board page: draws /api/state and every server-sent update of /api/stream. No framework, no CDN.
"use strict";
const $ = (id) => document.getElementById(id);
const money = (x) => (x == null ? "-" : (x < 0 ? "-$" : "$") + Math.abs(x).toLocaleString("en-US", {minimumFractionDigits: 2, maximumFractionDigits: 2}));
const pct = (x) => (x == null ? "-" : (100 * x).toFixed(1) + "%");
const num = (x, d = 3) => (x == null ? "-" : Number(x).toFixed(d));
const time = (ms) => (ms ? new Date(ms).toISOString().slice(5, 19).replace("T", " ") : "-");
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
const charts = {};

function table(el, head, rows, empty) {
  const th = "<tr>" + head.map(([h, cls]) => `<th class="${cls || ""}">${esc(h)}</th>`).join("") + "</tr>";
  const body = rows.length ? rows.map((r) => "<tr>" + r.join("") + "</tr>").join("")
                           : `<tr><td colspan="${head.length}" class="empty">${esc(empty)}</td></tr>`;
  el.innerHTML = th + body;
}
const td = (v, cls = "", attrs = "") => `<td class="${cls}" ${attrs}>${esc(v)}</td>`;

function chart(key, parent, title, series, data) {
  // one uPlot per key, rebuilt when its series change, otherwise only fed new data
  let holder = document.getElementById("chart-" + key);
  if (!holder) { holder = document.createElement("div"); holder.id = "chart-" + key; parent.appendChild(holder); }
  const sig = series.join("|");
  const opts = {title, width: Math.max(holder.clientWidth || 520, 320), height: 180, scales: {x: {time: true}},
    series: [{}, ...series.map((s, i) => ({label: s, stroke: ["#1a73e8", "#e8710a", "#188038", "#a142f4"][i % 4], width: 2}))]};
  if (!charts[key] || charts[key].sig !== sig) {
    if (charts[key]) charts[key].plot.destroy();
    charts[key] = {sig, plot: new uPlot(opts, data, holder)};
  } else charts[key].plot.setData(data);
}

function merge(seriesList) {
  // step-merge [[ts_ms, v], ...] series onto one x axis (seconds) for uPlot
  const xs = [...new Set(seriesList.flatMap((s) => s.map((p) => p[0])))].sort((a, b) => a - b);
  const cols = seriesList.map((s) => { let i = 0, last = null; return xs.map((x) => { while (i < s.length && s[i][0] <= x) last = s[i++][1]; return last; }); });
  return [xs.map((x) => x / 1000), ...cols];
}

function render(s) {
  $("clock").textContent = "event time " + time(s.event_time);
  const feedOk = s.feed && s.feed.connected && !s.feed.error;
  $("conn").textContent = feedOk ? "live" : "broker: " + (s.feed && s.feed.error || "connecting…");
  $("conn").className = feedOk ? "ok" : "bad";
  $("history").textContent = s.history ? "started from " + s.history : "";
  $("kill-state").innerHTML = s.kill_switch ? '<span class="bad" id="kill-on">KILL SWITCH ON</span>' : '<span id="kill-off">kill switch off</span>';

  const accs = Object.entries(s.accounts);
  table($("accounts"), [["account"], ["bankroll", "num"], ["deposits", "num"], ["realized", "num"], ["fees", "num"], ["net P&L", "num"], ["unrealized", "num"], ["open", "num"], ["drawdown", "num"], ["max drawdown", "num"]],
    accs.map(([a, v]) => [td(a), td(money(v.bankroll), "num", `data-account="${esc(a)}" data-field="bankroll"`), td(money(v.deposits), "num"),
      td(money(v.realized), "num", `data-account="${esc(a)}" data-field="realized"`), td(money(v.fees), "num", `data-account="${esc(a)}" data-field="fees"`),
      td(money(v.net), "num", `data-account="${esc(a)}" data-field="net"`), td(money(v.unrealized), "num", `data-account="${esc(a)}" data-field="unrealized"`),
      td(v.open_positions, "num", `data-account="${esc(a)}" data-field="open_positions"`), td(money(v.drawdown), "num"), td(money(v.max_drawdown), "num")]), "no ledger entries yet");
  for (const [a, v] of accs) if (v.equity.length > 1) chart("equity-" + a.replace(/\W/g, "_"), $("equity-charts"), `equity ${a} (bankroll + unrealized)`, ["equity $"], merge([v.equity]));

  const games = $("games");
  if (!s.games.length) games.innerHTML = '<p class="empty">no priced event in the window yet</p>';
  else games.querySelector(".empty")?.remove();
  for (const g of s.games.slice(0, 12)) {
    const id = "game-" + g.event_id.replace(/\W/g, "_");
    let box = document.getElementById(id);
    if (!box) { box = document.createElement("div"); box.id = id; box.className = "game"; box.innerHTML = '<div class="title"></div><div class="plot"></div>'; games.appendChild(box); }
    const venues = Object.keys(g.market).sort();
    box.querySelector(".title").innerHTML = `${esc(g.name)} <span class="muted">${esc(g.league)} ${esc(g.status)} ${esc(g.score)} ${esc(g.detail)}</span> — model ${num(g.model_p)} ` +
      venues.map((v) => `${esc(v.toLowerCase())} <span data-event="${esc(g.event_id)}" data-venue="${esc(v)}">${num(g.market_p[v])}</span>`).join(" ");
    chart(id, box.querySelector(".plot"), "", ["model", ...venues.map((v) => v.toLowerCase())], merge([g.model, ...venues.map((v) => g.market[v])]));
  }

  table($("edges"), [["when"], ["event"], ["kind"], ["market"], ["side"], ["price", "num"], ["fee", "num"], ["model p", "num"], ["edge", "num"]],
    s.edges.map((e) => [td(time(e.ts)), td(e.event_id), td(e.kind), td(`${e.venue}:${e.market}`), td(e.side), td(num(e.price, 2), "num"), td(num(e.fee, 3), "num"), td(num(e.model_p), "num"), td(num(e.edge), "num")]), "no signal yet");
  table($("signals"), [["when"], ["kind"], ["event"], ["legs"], ["edge", "num"], ["size", "num"]],
    s.signals.slice(0, 15).map((x) => [td(time(x.ts)), td(x.kind), td(x.event_id), td(x.legs.map((l) => `${l.venue} ${l.market} ${l.side} @${num(l.price, 2)}`).join(" + ")), td(num(x.edge), "num"), td(num(x.size, 2), "num")]), "no signal yet");
  $("open-positions").textContent = s.positions.length;
  table($("positions"), [["account"], ["market"], ["side"], ["status"], ["qty", "num"], ["avg", "num"], ["mark", "num"], ["unrealized", "num"], ["fees", "num"]],
    s.positions.map((p) => [td(p.account), td(p.market), td(p.side), td(p.status), td(num(p.qty, 2), "num"), td(money(p.avg), "num"), td(money(p.mark), "num"), td(money(p.unrealized), "num"), td(money(p.fees), "num")]), "no open position");
  table($("orders"), [["when"], ["account"], ["market"], ["side"], ["action"], ["count", "num"], ["limit", "num"], ["state"], ["filled", "num"]],
    s.orders.slice(0, 15).map((o) => [td(time(o.ts)), td(o.account), td(o.market), td(o.side), td(o.action), td(num(o.count, 2), "num"), td(money(o.limit), "num"), td(o.state), td(num(o.filled ?? 0, 2), "num")]), "no order yet");
  table($("fills"), [["when"], ["account"], ["market"], ["side"], ["count", "num"], ["price", "num"], ["fee", "num"]],
    s.fills.slice(0, 15).map((f) => [td(time(f.ts)), td(f.account), td(f.market), td(f.side + (f.reversed ? " (reversed)" : "")), td(num(f.count, 2), "num"), td(money(f.price), "num"), td(money(f.fee), "num")]), "no fill yet");
  const ex = [];
  for (const kind of ["total", "venue", "event", "market", "market_type"]) for (const r of s.exposure[kind] || [])
    ex.push([td(kind), td(r.account), td(r.name), td(money(r.open_cost), "num"), td(r.cap == null ? "no cap" : money(r.cap), "num"),
      `<td>${r.used == null ? "" : `<span class="bar ${r.used > 1 ? "over" : ""}" style="width:${Math.min(100, 100 * r.used).toFixed(0)}px"></span> ${pct(r.used)}`}</td>`]);
  table($("exposure"), [["by"], ["account"], ["name"], ["open cost", "num"], ["cap", "num"], ["used"]], ex, "nothing open");
  table($("risk"), [["account"], ["breaker"], ["kill"], ["daily stop"], ["reason"]],
    Object.entries(s.risk).map(([a, r]) => [td(a), td(r.breaker, r.breaker === "ok" ? "ok" : "bad"), td(r.killed ? "ON" : "off", r.killed ? "bad" : "ok"), td(r.daily_stop ? "stopped" : "no"), td(r.reason)]), "no risk record: every breaker closed");
  table($("risk-events"), [["when"], ["account"], ["kind"], ["rule"], ["reason"]],
    s.risk_events.slice(0, 10).map((r) => [td(time(r.ts)), td(r.account), td(r.kind), td(r.rule), td(r.reason)]), "no risk event");
  table($("health"), [["service"], ["state"], ["status"], ["lag", "num"], ["beat age", "num"], ["error"]],
    s.health.map((h) => [td(h.service, "", `data-service="${esc(h.service)}"`), td(h.shown, h.ok ? "ok" : "bad"), td(h.status), td(h.lag, "num"), td(h.age_s + " s", "num"), td(h.error)]), "no heartbeat yet");
  $("counts").textContent = "records read: " + Object.entries(s.counts).map(([t, n]) => `${t} ${n}`).join(", ") +
    (Object.keys(s.undecodable).length ? " — undecodable: " + Object.entries(s.undecodable).map(([t, n]) => `${t} ${n}`).join(", ") : "") +
    ` — dead letters ${s.deadletters}` + (s.unfoldable.length ? " — not folded: " + s.unfoldable.join("; ") : "");
  table($("alerts"), [["when"], ["severity"], ["service"], ["message"]],
    s.alerts.slice(0, 12).map((a) => [td(time(a.ts)), td(a.severity, a.severity === "CRITICAL" || a.severity === "ERROR" ? "bad" : ""), td(a.service), td(a.message)]), "no alert");
  document.body.dataset.version = s.feed ? s.feed.version : 0;
}

async function act(path, word, question) {
  const reason = window.prompt(question + `\n\nType ${word} to confirm (optionally followed by a reason).`);
  if (!reason || !reason.trim().startsWith(word)) return;
  const r = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({confirm: word, reason: reason.trim().slice(word.length).trim() || undefined})});
  const body = await r.json();
  window.alert(body.message || body.error);
}
$("kill-btn").onclick = () => act("/api/kill", "KILL", "Stop every new order of every account now?");
$("reset-btn").onclick = () => act("/api/reset", "RESET", "Reset the breaker and turn the kill switch off?");

fetch("/api/state").then((r) => r.json()).then(render).catch(() => {});
const source = new EventSource("/api/stream");
source.onmessage = (e) => render(JSON.parse(e.data));
source.onerror = () => { $("conn").textContent = "board server unreachable, retrying"; $("conn").className = "bad"; };
