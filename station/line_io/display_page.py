"""The line display's page (station/line_io/display.py): one HTML file with its style and script, no files from
elsewhere (a line PC has no internet). It asks for `state` twice a second and for the last part's picture when a
new part came, by relative addresses, so it works wherever it is mounted (`inspector run --display`'s root, the
service's /projects/NAME/display/). Behind the service's tokens it sends the one given after # in its address
(`.../display/#token=...`: a fragment never reaches a server's log). Every text it shows from the station goes in
as text, never as HTML (a file name is the camera's to choose). When the station stops answering, refuses the
page, or its loop stops beating, the page greys out and says so: an operator must never take a frozen screen's
last OK for the part in front of them."""

import json

from .display import RECENT
from .display_words import WORDS

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Inspector - line display</title>
<style>
  :root { --ok: #1f9d48; --ng: #d62828; --other: #d99000; --bg: #15171a; --panel: #202328; --text: #e8e8e8;
          --dim: #9aa0a6; }
  * { box-sizing: border-box; }
  html, body { margin: 0; height: 100%; background: var(--bg); color: var(--text);
               font-family: "Segoe UI", "DejaVu Sans", Arial, sans-serif; }
  body { display: flex; flex-direction: column; height: 100vh; }
  header { display: flex; gap: 2em; align-items: baseline; padding: 0.5em 1em; background: var(--panel);
           font-size: 1.3em; }
  header .grow { flex: 1; }
  #plc.none { color: var(--other); font-weight: 700; }
  #clock { font-variant-numeric: tabular-nums; }
  #alarms { background: var(--ng); color: white; font-size: 1.4em; font-weight: 600; padding: 0.3em 1em; }
  #alarms:empty { display: none; }
  #alarms div { padding: 0.15em 0; }
  main { flex: 1; display: grid; grid-template-columns: minmax(0, 2fr) minmax(20em, 1fr); gap: 1em; padding: 1em;
         min-height: 0; }
  #picture-box { background: black; display: flex; align-items: center; justify-content: center; min-height: 0;
                 overflow: hidden; }
  #picture { width: 100%; height: 100%; object-fit: contain; }
  #no-picture { color: var(--dim); font-size: 1.5em; }
  #side { display: flex; flex-direction: column; gap: 0.8em; min-height: 0; }
  #verdict { font-size: 6em; font-weight: 800; text-align: center; padding: 0.15em; border-radius: 0.1em;
             background: #444; letter-spacing: 0.05em; }
  #verdict.OK { background: var(--ok); } #verdict.NG { background: var(--ng); }
  #verdict.NOT_FOUND, #verdict.NO_VERDICT, #verdict.ERROR { background: var(--other); font-size: 3.5em; }
  #master { text-align: center; font-size: 1.3em; font-weight: 600; }
  #master:empty { display: none; }
  .facts { display: grid; grid-template-columns: auto 1fr; gap: 0.3em 1em; font-size: 1.25em; }
  .facts dt { color: var(--dim); } .facts dd { margin: 0; overflow-wrap: anywhere; }
  #bar { position: relative; height: 1.2em; background: #333; border-radius: 0.2em; }
  #bar-fill { position: absolute; left: 0; top: 0; bottom: 0; background: var(--ok); border-radius: 0.2em; }
  #bar-mark { position: absolute; left: 50%; top: -0.3em; bottom: -0.3em; width: 3px; background: white; }
  #reason { font-size: 1.1em; color: var(--dim); overflow-wrap: anywhere; }
  footer { background: var(--panel); padding: 0.6em 1em; display: grid; gap: 0.5em; }
  #counts { display: flex; gap: 1.5em; align-items: baseline; font-size: 1.3em; flex-wrap: wrap; }
  #counts b { font-size: 1.5em; font-variant-numeric: tabular-nums; }
  #yield b { font-size: 2em; }
  #recent { width: 100%; height: 5em; display: block; background: #181a1d; }
  #recent .OK { stroke: var(--ok); } #recent .NG { stroke: var(--ng); }
  #recent .NOT_FOUND, #recent .NO_VERDICT, #recent .ERROR { stroke: var(--other); }
  #recent .master { stroke: white; }
  #trend-caption { color: var(--dim); font-size: 0.9em; margin-bottom: -0.3em; }
  #stale { position: fixed; inset: 0; background: rgba(40, 40, 40, 0.88); display: none; align-items: center;
           justify-content: center; text-align: center; font-size: 2.4em; font-weight: 700; padding: 2em; }
  #stale.on { display: flex; }
  #last-ng { flex: 1; min-height: 0; display: flex; flex-direction: column; gap: 0.3em; border-top: 3px solid
             var(--ng); padding-top: 0.4em; }
  #last-ng[hidden] { display: none; }
  #last-ng-text { font-size: 1.15em; overflow-wrap: anywhere; }
  #last-ng-picture { flex: 1; min-height: 0; width: 100%; object-fit: contain; background: black; }
</style>
</head>
<body>
<header>
  <span id="project">-</span><span id="version"></span><span id="threshold"></span>
  <span class="grow"></span><span id="plc"></span><span id="shift"></span><span id="clock"></span>
</header>
<div id="alarms"></div>
<main>
  <div id="picture-box"><img id="picture" alt="" hidden><span id="no-picture" data-word="waiting"></span></div>
  <div id="side">
    <div id="verdict">-</div>
    <div id="master"></div>
    <div id="bar"><div id="bar-fill"></div>
      <div id="bar-mark"></div></div>
    <dl class="facts">
      <dt data-word="part"></dt><dd id="part">-</dd>
      <dt data-word="image"></dt><dd id="name">-</dd>
      <dt data-word="score"></dt><dd id="score">-</dd>
      <dt data-word="defects"></dt><dd id="defects">-</dd>
      <dt data-word="inspected"></dt><dd id="when">-</dd>
    </dl>
    <div id="reason"></div>
    <div id="last-ng" hidden><div id="last-ng-text"></div><img id="last-ng-picture" alt="" hidden>
    </div>
  </div>
</main>
<footer>
  <div id="counts"></div>
  <div id="trend-caption" data-word="trend"></div>
  <svg id="recent" viewBox="0 0 1000 100" preserveAspectRatio="none"></svg>
</footer>
<div id="stale"></div>
<script>
"use strict";
const POLL_MS = 500, NO_ANSWER_MS = 3000, LOOP_STILL_S = 5, RECENT_MAX = /*RECENT*/;
const WORDS = /*WORDS*/;
const HASH = new URLSearchParams(location.hash.slice(1));
const LANG = [HASH.get("lang"), ...(navigator.languages || [navigator.language])]
  .map((l) => (l || "").slice(0, 2).toLowerCase()).find((l) => l in WORDS) || "en";
const W = WORDS[LANG];
const TOKEN = HASH.get("token");
const HEADERS = TOKEN ? {Authorization: "Bearer " + TOKEN} : {};
let answeredAt = 0, everAnswered = false, state = null, refused = "";
const shown = {picture: {address: null, url: null}, "last-ng-picture": {address: null, url: null}};
const $ = (id) => document.getElementById(id);
const text = (id, value) => { $(id).textContent = value; };
const say = (key, values) => W[key].replace(/[{]([a-z_]+)[}]/g, (m, name) => values[name]);
const verdictWord = (v) => W[v] || v;

function alarmDetails(a) {
  // the alarm's figures in the page's language where the station gave them (streaks, yield, drift), else its
  // details as it wrote them (the disk, the source, ...)
  const key = "details_" + a.name;
  if (!a.figures || !W[key]) return a.details;
  // an error streak's last cause in the page's language (its ErrorCode), before the station's reason
  const cause = a.figures.cause ? W["cause_" + a.figures.cause] : null;
  const last = a.figures.reason ? (cause ? cause + ": " : "") + a.figures.reason : "";
  return say(key, a.figures) + (last ? say("the_last", {r: last}) : "");
}

function num(v, digits) { return v === null || v === undefined ? "-" : Number(v).toFixed(digits); }
function clock(t) { return new Date(t * 1000).toLocaleTimeString(LANG); }
function ago(seconds) {
  if (seconds < 60) return say("ago_s", {n: Math.max(0, Math.round(seconds))});
  if (seconds < 3600) return say("ago_min", {n: Math.round(seconds / 60)});
  return say("ago_h", {n: Math.round(seconds / 3600)});
}

function showStation(s) {
  const st = s.station;
  text("project", st.project || "-");
  text("version", st.version ? say("version", {v: st.version}) : "");
  text("threshold", st.calibrated ? say("threshold", {v: num(st.threshold, 4)}) : W.uncalibrated);
  text("shift", say("shift", {t: s.shift.label.slice(11)}));
  // the PLC's link, where the run serves one: its address while connected, a warning while none is
  text("plc", !s.plc ? "" : s.plc.length ? say("plc", {a: s.plc.join(", ")}) : W.no_plc);
  $("plc").className = s.plc && !s.plc.length ? "none" : "";
  $("alarms").replaceChildren(...s.alarms.map((a) => {
    // the name in the page's language, then its details ("5 NG seguidos")
    const d = document.createElement("div");
    d.textContent = say("alarm", {name: W[a.name === "yield" ? "yield_alarm" : a.name] || a.name}) + ": " +
      alarmDetails(a);
    return d;
  }));
}

function showCounts(c) {
  const box = $("counts");
  if (!c) { box.textContent = W.counts_unknown; return; }
  const cell = (label, value, id) => {
    const span = document.createElement("span");
    if (id) span.id = id;
    span.append(label + " ");
    const b = document.createElement("b");
    b.textContent = value;
    span.append(b);
    return span;
  };
  box.replaceChildren(
    cell(W.yield, c.yield === null ? "-" : (100 * c.yield).toFixed(1) + " %", "yield"),
    cell(W.parts, c.total), cell(W.OK, c.OK), cell(W.NG, c.NG), cell(W.not_found, c.NOT_FOUND),
    cell(W.no_verdict, c.NO_VERDICT), cell(W.error, c.ERROR));
}

function showPart(p, now) {
  const v = $("verdict");
  if (!p) { v.className = ""; v.textContent = "-"; return; }
  v.className = p.verdict;
  v.textContent = verdictWord(p.verdict);
  text("master", p.master ? say("master", {v: verdictWord(p.master.expected),
                                             r: p.master.passed ? W.passed : W.failed}) : "");
  text("part", p.part_id || "-");
  text("name", p.name);
  text("score", p.score === null ? W.none : p.threshold ? say("score_of", {s: num(p.score, 4), t: num(p.threshold, 4)})
       : num(p.score, 4));
  const fill = $("bar-fill");
  const ratio = p.score !== null && p.threshold ? Math.min(1, p.score / (2 * p.threshold)) : 0;
  fill.style.width = (100 * ratio) + "%";
  fill.style.background = p.score !== null && p.threshold && p.score >= p.threshold ? "var(--ng)" : "var(--ok)";
  const zone = !p.largest || !p.largest.zone ? "" :
    " " + (p.largest.zone === "rest" ? W.outside_zones : say("in_zone", {z: p.largest.zone}));
  const largest = p.largest ? num(p.largest.area, p.largest.unit === "px" ? 0 : 2) + " " + p.largest.unit + zone
    : null;
  text("defects", !p.defects ? W.none : largest ? say("largest", {n: p.defects, a: largest}) : String(p.defects));
  text("when", clock(p.time) + " (" + ago(now - p.time) + ")" +
       (p.latency_ms !== null ? ", " + num(p.latency_ms, 0) + " ms" : ""));
  // an ERROR's cause in the page's language (its ErrorCode), then the station's reason as it wrote it; what
  // decided any other part in the page's language, unless it is English (the station's reason, its figures)
  const cause = p.verdict === "ERROR" ? W["cause_" + p.error_code] : null;
  const why = LANG !== "en" && p.why ? say("why_" + p.why, {n: p.defects}) : null;
  text("reason", cause ? cause + (p.reason ? ": " + p.reason : "") : why || p.reason || "");
  if (p.picture !== shown.picture.address) {
    showPicture("picture", p.picture);
    text("no-picture", p.picture ? "" : W.no_image);
  }
}

function showLastNg(ng, now) {
  // the last NG stays in view while good parts pass by; hidden while it is the part shown above
  const box = $("last-ng");
  box.hidden = !ng || (state.part && state.part.seq === ng.seq);
  if (box.hidden) return;
  text("last-ng-text", say("last_ng", {p: ng.part_id || ng.name, t: clock(ng.time), ago: ago(now - ng.time),
                                       s: num(ng.score, 4)}));
  if (ng.picture !== shown["last-ng-picture"].address) showPicture("last-ng-picture", ng.picture);
}

async function showPicture(id, address) {
  // fetched rather than given to the img, so that it carries the token too
  const img = $(id), slot = shown[id];
  slot.address = address;
  if (!address) { img.hidden = true; return; }
  try {
    const r = await fetch(address, {cache: "no-store", headers: HEADERS});
    if (!r.ok) throw new Error("HTTP " + r.status);
    const blob = await r.blob();
    if (address !== slot.address) return;  // a later part's came meanwhile
    if (slot.url) URL.revokeObjectURL(slot.url);
    slot.url = URL.createObjectURL(blob);
    img.src = slot.url;
    img.hidden = false;
  } catch (e) {
    // asked again with the next answer (a part replaced meanwhile brings its own address; a lost connection is
    // said by watch())
    if (address === slot.address) slot.address = null;
  }
}

function svg(tag, attributes) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attributes)) el.setAttribute(k, v);
  el.setAttribute("vector-effect", "non-scaling-stroke");  // widths in screen pixels, however wide the page
  return el;
}

function showRecent(recent) {
  // the trend of the last parts' scores against their threshold (the dashed line; 2 x threshold at the top), each
  // a dot in its verdict's colour, a part without a score at the foot: drift shows before the rejects come
  const parts = recent.slice().reverse(), step = 1000 / RECENT_MAX;
  const y = (r) => r.ratio === null ? 96 : 95 - 90 * Math.min(r.ratio, 2) / 2;
  const items = [svg("line", {x1: 0, x2: 1000, y1: 50, y2: 50, stroke: "#bbb", "stroke-width": 1,
                              "stroke-dasharray": "6 4"})];
  const scored = parts.map((r, i) => [i, r]).filter(([, r]) => r.ratio !== null);
  items.push(svg("polyline", {points: scored.map(([i, r]) => ((i + 0.5) * step) + "," + y(r)).join(" "),
                              fill: "none", stroke: "#777", "stroke-width": 1.5}));
  parts.forEach((r, i) => {
    const dot = svg("line", {x1: (i + 0.5) * step, x2: (i + 0.5) * step, y1: y(r), y2: y(r), "stroke-width": 9,
                             "stroke-linecap": "round", class: r.master ? "master" : r.verdict});
    const title = svg("title", {});
    title.textContent = clock(r.time) + "  " + verdictWord(r.verdict) + "  " + (r.part_id || r.name) +
      (r.score === null ? "" : "  " + W.score + " " + num(r.score, 4));
    dot.append(title);
    items.push(dot);
  });
  $("recent").replaceChildren(...items);
}

function watch() {
  const stale = $("stale");
  let why = "";
  if (refused) why = refused;
  else if (!everAnswered) why = W.connecting;
  else if (Date.now() - answeredAt > NO_ANSWER_MS)
    why = say("no_connection", {t: new Date(answeredAt).toLocaleTimeString(LANG)});
  else if (state && !state.station.running) why = W.stopped;
  else if (state && state.loop_age_s > LOOP_STILL_S) why = say("not_responding", {n: Math.round(state.loop_age_s)});
  stale.textContent = why;
  stale.className = why ? "on" : "";
  text("clock", new Date().toLocaleTimeString(LANG));
}

async function poll() {
  try {
    const r = await fetch("state", {cache: "no-store", headers: HEADERS});
    refused = r.status === 401 || r.status === 403 ? say("refused", {n: r.status}) : "";
    if (!r.ok) throw new Error("HTTP " + r.status);
    state = await r.json();
    answeredAt = Date.now();
    everAnswered = true;
    showStation(state);
    showCounts(state.shift.counts);
    showPart(state.part, state.now);
    showLastNg(state.last_ng, state.now);
    showRecent(state.recent);
  } catch (e) {
    // watch() says so once the station has not answered for NO_ANSWER_MS
  }
  watch();
  setTimeout(poll, POLL_MS);
}

document.documentElement.lang = LANG;
for (const el of document.querySelectorAll("[data-word]")) el.textContent = W[el.dataset.word];
setInterval(watch, 1000);
poll();
</script>
</body>
</html>
""".replace("/*WORDS*/", json.dumps(WORDS, ensure_ascii=False)).replace("/*RECENT*/", str(RECENT))
