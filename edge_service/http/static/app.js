// The unseen live page: one WebSocket, JSON text messages and binary pictures.
"use strict";
const $ = (id) => document.getElementById(id);
const state = {mode: "device", device: "", layers: "all", rate: 4, focus: null, order: [], ws: null, ref: 0,
               names: {}, frame: null};

function connect() {
  const url = new URL("ws", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  state.ws = ws;
  ws.onopen = () => badge("connected", "");
  ws.onclose = () => { badge("disconnected", "off"); setTimeout(connect, 1000); };
  ws.onmessage = (ev) => (typeof ev.data === "string" ? onText(JSON.parse(ev.data)) : onPicture(ev.data));
}

function send(message) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(message));
}

function sendView() {
  send({t: "view", device: state.device, layers: state.layers, rate: state.rate, focus: state.focus,
        camera: state.mode === "device"});
}

function badge(text, kind) {
  const b = $("state");
  b.textContent = text;
  b.className = "badge " + kind;
}

function onText(m) {
  if (m.t === "hello") {
    state.mode = m.mode;
    document.title = $("title").textContent = m.title;
    $("fleet").hidden = m.mode !== "fleet";
    $("camera-figure").hidden = $("input-figure").hidden = m.mode === "fleet";  // MQTT carries layers only
    if (!state.device) state.device = m.device;
    devices(m.devices);
    sendView();
  } else if (m.t === "frame" && m.device === state.device) frame(m);
  else if (m.t === "status" && m.device === state.device) status(m.status || {});
  else if (m.t === "devices") devices(m.devices);
  else if (m.t === "reply") reply(m);
}

function onPicture(buffer) {
  const length = new DataView(buffer).getUint32(0);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, length)));
  const blob = new Blob([new Uint8Array(buffer, 4 + length)], {type: header.mime});
  if (header.key === "camera") paint($("camera"), blob, (w, h) => Math.min(240, 180 * w / h));
  else if (header.key === "input") paint($("input"), blob, () => 128);
  else if (header.key.startsWith("layer:")) {
    const figure = layerFigure(header.layer);
    figure.layout = header.layout;
    paint(figure.canvas, blob, () => (header.layout && header.layout.kind === "vector" ? 130 : 260));
  } else if (header.key === "focus") focus(header, URL.createObjectURL(blob));
}

// Pictures go to canvases: decoded off the main thread and scaled without smoothing, which
// costs the browser about half of what swapping <img> sources does.
function paint(canvas, blob, cssWidth) {
  const ticket = (canvas.ticket = (canvas.ticket || 0) + 1);
  createImageBitmap(blob).then((bitmap) => {
    if (ticket !== canvas.ticket) return bitmap.close();  // a newer picture is on its way
    const w = cssWidth(bitmap.width, bitmap.height), h = w * bitmap.height / bitmap.width;
    const ratio = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
      canvas.width = Math.round(w * ratio);
      canvas.height = Math.round(h * ratio);
      canvas.style.width = w + "px";
      canvas.style.height = h + "px";
    }
    const g = canvas.getContext("2d");
    g.imageSmoothingEnabled = false;
    g.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    canvas.natural = {w: bitmap.width, h: bitmap.height};
    canvas.dataset.painted = ticket;
    bitmap.close();
  }, () => {});
}

function show(img, url) {
  const old = img.dataset.url;
  img.onload = () => old && URL.revokeObjectURL(old);
  img.dataset.url = url;
  img.src = url;
}

function text(tag, content, cls) {
  const e = document.createElement(tag);
  e.textContent = content;
  if (cls) e.className = cls;
  return e;
}

function setText(e, value) {
  if (e.textContent !== value) e.textContent = value;  // untouched text costs the browser no layout
}

function rows(table, pairs) {
  while (table.rows.length > pairs.length) table.deleteRow(-1);
  pairs.forEach(([k, v], i) => {
    const tr = table.rows[i] || table.insertRow();
    if (!tr.cells.length) { tr.insertCell(); tr.insertCell().className = "num"; }
    setText(tr.cells[0], k);
    setText(tr.cells[1], v);
  });
}

function frame(m) {
  state.frame = m;
  setText($("seq"), "#" + m.seq);
  $("seq").dataset.updates = Number($("seq").dataset.updates || 0) + 1;  // how often the page redrew
  const list = $("topk");
  while (list.children.length > m.top.length) list.lastChild.remove();
  m.top.forEach((t, i) => {
    let li = list.children[i];
    if (!li) { li = list.appendChild(document.createElement("li")); li.append(text("span", ""), text("span", "", "bar")); }
    setText(li.firstChild, `${t.label} ${t.score.toFixed(3)}`);
    li.lastChild.style.width = Math.round(Math.max(0, Math.min(1, t.score)) * 100) + "px";
  });
  rows($("latency"), Object.entries(m.latency).map(([k, v]) => [k, v.toFixed(3)]));
  if (m.order.join() !== state.order.join()) { state.order = m.order; picker(); }
  for (const name of m.order) {
    const figure = document.querySelector(`figure[data-layer="${CSS.escape(name)}"]`);
    if (!figure) continue;
    const info = m.layers[name] || {};
    const ms = info.ms !== undefined ? `, ${info.ms} ms` : "";
    const range = info.min !== undefined ? `, ${info.min} … ${info.max}` : "";
    const caption = `${name} [${(info.shape || []).join("×")}]${ms}${range}`;
    setText(figure.caption, caption);
    figure.caption.title = caption;
  }
}

function layerFigure(name) {
  let figure = document.querySelector(`figure[data-layer="${CSS.escape(name)}"]`);
  if (!figure) {
    figure = document.createElement("figure");
    figure.dataset.layer = name;
    figure.canvas = document.createElement("canvas");
    figure.canvas.setAttribute("aria-label", name);
    figure.caption = text("figcaption", name);
    figure.append(figure.caption, figure.canvas);
    figure.canvas.addEventListener("click", (ev) => {
      const channel = channelAt(figure, ev);
      if (channel !== null) openFocus(name, channel);
    });
    figure.canvas.addEventListener("mousemove", (ev) => {
      const channel = channelAt(figure, ev);
      const names = (figure.layout && figure.layout.names) || [];
      figure.canvas.title = channel === null ? "" : `${name} channel ${channel}${names[channel] ? " " + names[channel] : ""}`;
    });
  }
  const index = state.order.indexOf(name);
  const after = [...$("layers").children].find((f) => state.order.indexOf(f.dataset.layer) > index);
  if (figure.parentNode !== $("layers") || figure.nextSibling !== after) $("layers").insertBefore(figure, after || null);
  return figure;
}

function channelAt(figure, ev) {
  const L = figure.layout, n = figure.canvas.natural;
  if (!L || !n) return null;
  const r = figure.canvas.getBoundingClientRect();
  const x = (ev.clientX - r.left) * n.w / r.width - L.x0;
  const y = (ev.clientY - r.top) * n.h / r.height - L.y0;
  const col = Math.floor(x / L.step_x), row = Math.floor(y / L.step_y);
  if (x < 0 || y < 0 || col >= L.cols || row >= L.rows) return null;
  if (x - col * L.step_x >= L.cell_w || y - row * L.step_y >= L.cell_h) return null;
  const channel = row * L.cols + col;
  return channel < L.count ? channel : null;
}

function openFocus(layer, channel) {
  state.focus = {layer, channel};
  $("zoom-title").textContent = `${layer}, channel ${channel}`;
  $("zoom").hidden = false;
  sendView();
}

function focus(header, url) {
  if (!state.focus || header.layer !== state.focus.layer) return URL.revokeObjectURL(url);
  const s = header.scale || {};
  show($("zoom-image"), url);
  $("zoom").dataset.kind = s.kind;
  $("zoom-title").textContent = `${header.layer}, ${s.kind === "chart" ? "unit" : "channel"} ${s.channel}` +
    (s.name ? ` (${s.name})` : "");
  const lo = s.lo !== undefined ? s.lo : s.min, hi = s.hi !== undefined ? s.hi : s.max;
  $("scale").hidden = s.kind === "chart";
  $("scale-lo").textContent = lo;
  $("scale-hi").textContent = hi;
  const range = `min ${s.min}, max ${s.max}` + (s.mean !== undefined ? `, mean ${s.mean}` : "");
  $("zoom-info").textContent = s.kind === "chart" ? (s.value !== "" ? `value ${s.value}; ` : "") + `the layer spans ${s.min} … ${s.max}` :
    s.note ? `${s.note}; ${range}` : `colours from ${lo} to ${hi} (the 1st to 99th percentile); ${range}`;
  $("zoom-image").values = s.values ? s : null;
}

function closeFocus() {
  state.focus = null;
  $("zoom").hidden = true;
  sendView();
}

function status(s) {
  const paused = !!s.paused;
  badge(paused ? "paused" : s.state || "?", paused ? "paused" : s.state === "online" ? "online" : "off");
  $("summary").textContent = [s.model, s.backend, s.fps !== undefined ? `${s.fps} fps` : "",
    s.model_sha256 ? `sha ${s.model_sha256.slice(0, 12)}` : ""].filter(Boolean).join(" · ");
  const c = s.counters || {};
  const pairs = Object.entries(c).filter(([k]) => k !== "fps").map(([k, v]) => [k.replace(/_/g, " "), String(v)]);
  if (s.outbox) pairs.push(["outbox waiting", `${s.outbox.messages} (${s.outbox.bytes} B)`],
    ["outbox dropped", `${s.outbox.dropped_layers} layers, ${s.outbox.dropped_results} results`]);
  if (s.mqtt) pairs.push(["mqtt", s.mqtt.connected ? "connected" : "disconnected"]);
  rows($("counters"), pairs);
  const notes = (s.backend_notes || []).join("; ");
  $("notes").textContent = (notes ? `backend: ${notes}` : "") + (s.last_error ? ` last error: ${s.last_error}` : "");
}

function devices(list) {
  if (state.mode !== "fleet") return;
  if (!state.device && list.length) { state.device = list[0].id; sendView(); }
  const ul = $("devices"), known = new Map([...ul.children].map((li) => [li.dataset.device, li]));
  list.forEach((d, i) => {  // updated in place: a click must not land on a list being rebuilt
    let li = known.get(d.id);
    if (!li) {
      li = document.createElement("li");
      li.dataset.device = d.id;
      const b = document.createElement("button");
      b.dataset.device = d.id;
      b.onclick = () => select(d.id);
      li.append(b);
    }
    if (ul.children[i] !== li) ul.insertBefore(li, ul.children[i] || null);
    const b = li.firstChild;
    b.className = d.id === state.device ? "selected" : "";
    b.replaceChildren(text("span", "", "dot" + (d.online ? " on" : "")), d.id,
      text("small", `${d.online ? (d.paused ? "paused" : "online") : "offline"}${d.fps ? ", " + d.fps + " fps" : ""}` +
        (d.top ? `, ${d.top}` : "") + (d.seen !== null && d.seen !== undefined ? `, ${d.seen} s ago` : "")));
  });
  const ids = new Set(list.map((d) => d.id));
  known.forEach((li, id) => { if (!ids.has(id)) li.remove(); });
}

function select(device) {
  state.device = device;
  state.focus = null;
  state.order = [];
  $("zoom").hidden = true;
  $("layers").replaceChildren();
  $("topk").replaceChildren();
  $("seq").textContent = "";
  document.querySelectorAll("#devices button").forEach((b) => b.classList.toggle("selected", b.dataset.device === device));
  sendView();
}

function picker() {
  $("layer-list").replaceChildren(...state.order.map((name) => {
    const label = document.createElement("label"), box = document.createElement("input");
    box.type = "checkbox";
    box.value = name;
    box.checked = state.layers === "all" || state.layers.includes(name);
    box.onchange = chooseLayers;
    label.append(box, " " + name);
    return label;
  }));
}

function chooseLayers() {
  const boxes = [...document.querySelectorAll("#layer-list input")];
  const chosen = boxes.filter((b) => b.checked).map((b) => b.value);
  state.layers = chosen.length === boxes.length ? "all" : chosen;
  document.querySelectorAll("#layers figure").forEach((f) => { if (!chosen.includes(f.dataset.layer)) f.remove(); });
  sendView();
}

function command(verb, args) {
  send({t: "command", device: state.device, verb, args: args || {}, ref: ++state.ref});
  const out = $("reply");
  out.textContent = `${verb}…`;
  out.className = "";
}

function reply(m) {
  const r = m.reply || {};
  const detail = r.detail || r.reason || (r.applied ? "applied " + JSON.stringify(r.applied) : "");
  const out = $("reply");
  out.textContent = `${m.device}: ${m.verb} ${r.ok ? "ok" : "refused"}${detail ? ": " + detail : ""}`;
  out.className = r.ok ? "ok" : "err";
}

$("pause").onclick = () => command("pause");
$("resume").onclick = () => command("resume");
$("snapshot").onclick = () => {
  command("snapshot");
  const link = $("snapshot-link"), layers = state.layers === "all" ? "all" : state.layers.join(",");
  link.href = `snapshot.jpg?device=${encodeURIComponent(state.device)}&layers=${encodeURIComponent(layers)}&t=${Date.now()}`;
  link.hidden = false;
};
$("rate").onchange = (ev) => { state.rate = Number(ev.target.value); sendView(); };
$("all-layers").onclick = () => { document.querySelectorAll("#layer-list input").forEach((b) => { b.checked = true; }); chooseLayers(); };
$("no-layers").onclick = () => { document.querySelectorAll("#layer-list input").forEach((b) => { b.checked = false; }); chooseLayers(); };
$("command-form").onsubmit = (ev) => {
  ev.preventDefault();
  let args = {};
  try { args = $("args").value.trim() ? JSON.parse($("args").value) : {}; } catch (e) {
    $("reply").textContent = "the arguments are not JSON";
    $("reply").className = "err";
    return;
  }
  command($("verb").value, args);
};
$("zoom-close").onclick = closeFocus;
$("zoom").onclick = (ev) => { if (ev.target === $("zoom")) closeFocus(); };
document.addEventListener("keydown", (ev) => { if (ev.key === "Escape" && state.focus) closeFocus(); });
$("zoom-image").addEventListener("mousemove", (ev) => {
  const img = ev.target, s = img.values;
  if (!s) return;
  const r = img.getBoundingClientRect();
  const x = Math.floor((ev.clientX - r.left) * s.width / r.width), y = Math.floor((ev.clientY - r.top) * s.height / r.height);
  const v = s.values[y * s.width + x];
  if (v !== undefined) $("zoom-value").textContent = `(${x * s.subsampled}, ${y * s.subsampled}): ${v}`;
});
connect();
