// The FitStream dashboard: plain JS reading the API's own endpoints, no build step.
//
// Every string from the API is hostile (user ids, titles, reasons are chosen by whoever
// wrote the records): the DOM is built with createElement / createElementNS and
// textContent only, never innerHTML. Tokens are kept in sessionStorage (this tab only)
// and sent only in the Authorization header, never in a URL. The page's
// Content-Security-Policy (api/dashboard/__init__.py) allows scripts, styles and
// requests to this origin only.
"use strict";

const SPORTS = ["all", "running", "cycling", "walking", "swimming", "hiking", "rowing", "other"];
const METRICS = { distance: "Distance", moving_time: "Moving time", calories: "Calories", workouts: "Workouts" };
const REFRESH_MS = 5000;
const USER_KEY = "fitstream.userToken";
const ANALYST_KEY = "fitstream.analystToken";
const SVG_NS = "http://www.w3.org/2000/svg";

const $ = (id) => document.getElementById(id);

// The week the leaderboard shows: the current one, or the ISO week named in the page's
// address (/?week=2026-W47, a link to a past week's board). Only that shape is passed
// on (the address is anyone's to write); the API checks it again.
const WEEK = (() => {
  const week = new URLSearchParams(window.location.search).get("week");
  return week && /^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$/.test(week) ? week : null;
})();

class ApiFailure extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, token) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = "Bearer " + token;
  const response = await fetch(path, { headers, cache: "no-cache", credentials: "omit" });
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  if (!response.ok) {
    const message = body && typeof body.message === "string" ? body.message : response.statusText;
    throw new ApiFailure(response.status, String(response.status) + ": " + message);
  }
  return body;
}

// An element with text (never parsed as HTML) and class names.
function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function svg(tag, attributes) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, String(value));
  return node;
}

function showError(id, error) {
  const node = $(id);
  node.textContent = error ? String(error.message || error) : "";
  node.hidden = !error;
}

function number(value, digits) {
  return Number.isFinite(value) ? value.toLocaleString("en", { maximumFractionDigits: digits, minimumFractionDigits: digits }) : "–";
}

function duration(seconds) {
  if (!Number.isFinite(seconds)) return "–";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${String(r).padStart(2, "0")}` : `${m}:${String(r).padStart(2, "0")}`;
}

function metricValue(metric, value) {
  switch (metric) {
    case "distance": return number(value / 1000, 2) + " km";
    case "moving_time": return duration(value);
    case "calories": return number(value, 0) + " kcal";
    default: return number(value, 0);
  }
}

function time(iso) {
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? "–" : at.toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

// The subject of a JWT, only to know whose pages to ask for: the API verifies the token.
function tokenSubject(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4)));
    return typeof claims.sub === "string" ? claims.sub : null;
  } catch (_) {
    return null;
  }
}

function signedInUser() {
  const token = sessionStorage.getItem(USER_KEY);
  return token ? { token, id: tokenSubject(token) } : null;
}

// ---------------------------------------------------------------- leaderboard

let leaderboardTimer = null;

async function refreshLeaderboard() {
  clearTimeout(leaderboardTimer);
  const sport = $("sport").value, metric = $("metric").value;
  const table = $("leaderboard");
  const query = new URLSearchParams({ window: "week", sport, limit: "10" });
  if (WEEK) query.set("period", WEEK);
  try {
    const board = await api(`/api/v1/leaderboards/${encodeURIComponent(metric)}?${query}`);
    if ($("sport").value !== sport || $("metric").value !== metric) return; // changed meanwhile
    const me = signedInUser();
    const rows = (board.entries || []).map((entry) => {
      const row = el("tr");
      if (me && entry.user_id === me.id) row.className = "me";
      row.append(el("td", entry.rank, "num rank"), el("td", entry.user_id, "user"),
                 el("td", metricValue(metric, entry.value), "num value"),
                 el("td", entry.workouts, "num workouts"));
      return row;
    });
    table.tBodies[0].replaceChildren(...rows);
    $("leaderboard-empty").hidden = rows.length > 0;
    $("leaderboard-period").textContent = `week ${board.period} · ${board.sport}`;
    $("leaderboard-updated").textContent = "updated " + new Date().toLocaleTimeString("en-GB");
    table.dataset.state = "loaded";
    table.dataset.board = `${metric}/${sport}`;
    showError("leaderboard-error", null);
  } catch (error) {
    showError("leaderboard-error", error);
  } finally {
    leaderboardTimer = setTimeout(refreshLeaderboard, REFRESH_MS);
  }
}

// ---------------------------------------------------------------- the signed-in user

function renderStats(stats) {
  const totals = stats.totals || {};
  const records = stats.personal_records || {};
  const figures = [
    ["Workouts", number(totals.workouts, 0)],
    ["Distance", number(totals.distance_meters / 1000, 1) + " km"],
    ["Moving time", duration(totals.moving_time_s)],
    ["Calories", number(totals.calories, 0) + " kcal"],
    ["Avg speed", Number.isFinite(totals.avg_speed_mps) ? number(totals.avg_speed_mps * 3.6, 1) + " km/h" : "–"],
  ];
  for (const name of ["1k", "5k", "10k"]) {
    const record = records[name];
    if (record) figures.push(["Best " + name, duration(record.elapsed_s)]);
  }
  $("stats").replaceChildren(...figures.map(([label, value]) => {
    const item = el("div");
    item.append(el("dt", label), el("dd", value));
    return item;
  }));
  $("stats-period").textContent = `${stats.period} · ${stats.sport}`;
}

function renderAchievements(list) {
  const items = (list.achievements || []).map((a) => {
    const item = el("li", null, a.achieved_at ? "unlocked" : "locked");
    const bar = document.createElement("progress");
    bar.max = 1;
    bar.value = Number.isFinite(a.progress) ? Math.min(1, Math.max(0, a.progress)) : 0;
    item.append(bar, el("span", a.title, "title"));
    if (a.achieved_at) item.title = "unlocked " + time(a.achieved_at);
    return item;
  });
  $("achievements").replaceChildren(...items);
  $("achievements-count").textContent = `${list.unlocked} unlocked`;
}

function workoutLabel(w) {
  return `${String(w.start_time).slice(0, 10)} · ${w.sport_type} · ${number(w.distance_meters / 1000, 2)} km · ${w.status}`;
}

async function loadUser() {
  const me = signedInUser();
  $("user-panel").hidden = $("route-panel").hidden = !me;
  $("user-signout").hidden = !me;
  $("user-who").textContent = me ? "signed in as " + (me.id || "?") : "";
  if (!me) return;
  if (!me.id) { showError("signin-error", new Error("that is not a user token")); return; }
  const user = encodeURIComponent(me.id);
  try {
    const [stats, achievements, workouts] = await Promise.all([
      api(`/api/v1/users/${user}/stats`, me.token),
      api(`/api/v1/users/${user}/achievements`, me.token),
      api(`/api/v1/users/${user}/workouts/private?limit=50`, me.token),
    ]);
    renderStats(stats);
    renderAchievements(achievements);
    const options = (workouts.items || []).map((w) => {
      const option = el("option", workoutLabel(w));
      option.value = w.workout_id;
      return option;
    });
    $("workout").replaceChildren(...options);
    showError("signin-error", null);
    $("user-panel").dataset.state = "loaded";
    if (options.length) await drawRoute(options[0].value);
    else $("route-info").textContent = "no workouts yet";
  } catch (error) {
    if (error.status === 401) signOut(USER_KEY);
    showError("signin-error", error);
  }
}

// ---------------------------------------------------------------- the route

const VIEW = { width: 600, height: 360, pad: 24 };

// [lon, lat] pairs to SVG coordinates: an equirectangular projection around the mean
// latitude (a workout spans a few km, where it is exact to well under a pixel), scaled
// to fit the view box with north up.
function project(coordinates) {
  const meanLat = coordinates.reduce((sum, c) => sum + c[1], 0) / coordinates.length;
  const kx = Math.cos((meanLat * Math.PI) / 180);
  const xs = coordinates.map((c) => c[0] * kx), ys = coordinates.map((c) => c[1]);
  const minX = Math.min(...xs), maxX = Math.max(...xs), minY = Math.min(...ys), maxY = Math.max(...ys);
  // A floor under the spans (1e-7 degrees, about a centimetre): a straight north-south
  // route (no width) or a single point must not divide by zero.
  const scale = Math.min((VIEW.width - 2 * VIEW.pad) / Math.max(maxX - minX, 1e-7),
                         (VIEW.height - 2 * VIEW.pad) / Math.max(maxY - minY, 1e-7));
  const offsetX = (VIEW.width - (maxX - minX) * scale) / 2, offsetY = (VIEW.height - (maxY - minY) * scale) / 2;
  const metresPerUnit = 111_195; // a degree of latitude
  return {
    points: xs.map((x, i) => [offsetX + (x - minX) * scale, offsetY + (maxY - ys[i]) * scale]),
    metresPerPixel: metresPerUnit / scale,
  };
}

async function drawRoute(workoutId) {
  const me = signedInUser();
  const canvas = $("route");
  if (!me || !workoutId) return;
  try {
    const feature = await api(`/api/v1/workouts/${encodeURIComponent(workoutId)}/route`, me.token);
    const coordinates = ((feature.geometry || {}).coordinates || [])
      .filter((c) => Array.isArray(c) && Number.isFinite(c[0]) && Number.isFinite(c[1]));
    const children = [];
    for (let x = 0; x <= VIEW.width; x += 60) children.push(svg("line", { class: "grid", x1: x, y1: 0, x2: x, y2: VIEW.height }));
    for (let y = 0; y <= VIEW.height; y += 60) children.push(svg("line", { class: "grid", x1: 0, y1: y, x2: VIEW.width, y2: y }));
    if (coordinates.length) {
      const { points, metresPerPixel } = project(coordinates);
      const text = (p) => `${p[0].toFixed(1)},${p[1].toFixed(1)}`;
      children.push(svg("polyline", { class: "track", points: points.map(text).join(" ") }));
      children.push(svg("circle", { class: "start", cx: points[0][0], cy: points[0][1], r: 6 }));
      const last = points[points.length - 1];
      children.push(svg("circle", { class: "finish", cx: last[0], cy: last[1], r: 5 }));
      const scale = svg("text", { x: 8, y: VIEW.height - 8 });
      scale.textContent = `grid ${number(60 * metresPerPixel, 0)} m`;
      children.push(scale);
    }
    canvas.replaceChildren(...children);
    const props = feature.properties || {};
    $("route-info").textContent = coordinates.length
      ? `${workoutId}: ${props.kept} of ${props.points} points` : `${workoutId}: no route`;
    canvas.dataset.workout = workoutId;
    canvas.dataset.state = "drawn";
    showError("route-error", null);
  } catch (error) {
    canvas.replaceChildren();
    $("route-info").textContent = "";
    showError("route-error", error);
  }
}

// ---------------------------------------------------------------- pipeline health

let healthTimer = null;

function cells(...values) {
  const row = el("tr");
  for (const [text, className] of values) row.append(el("td", text, className));
  return row;
}

function renderHealth(health) {
  $("events-rate").textContent = health.events_per_s === null ? "–" : number(health.events_per_s, 1);
  $("events-total").textContent = number(health.events_total, 0);
  $("lag").tBodies[0].replaceChildren(...health.lag.map((r) => cells(
    [r.role], [r.groups, "num"], [r.lag === null ? "not running" : number(r.lag, 0), "num"])));
  $("dlq-counts").tBodies[0].replaceChildren(...health.dead_letters.map((d) => cells(
    [d.topic], [d.reason], [number(d.count, 0), "num"])));
  $("dlq-partial").hidden = health.dead_letters_complete;
  $("dlq-recent").tBodies[0].replaceChildren(...health.recent_dead_letters.map((d) => {
    const row = cells([time(d.at).slice(11, 19)], [d.reason], [`${d.topic} [${d.partition}] @${d.offset}`],
      [d.source_topic === null ? "–" : `${d.source_topic} [${d.source_partition}] @${d.source_offset}`]);
    row.cells[0].title = time(d.at);
    return row;
  }));
  $("health-updated").textContent = "measured " + time(health.measured_at);
  $("health-panel").dataset.state = "loaded";
}

async function refreshHealth() {
  clearTimeout(healthTimer);
  const token = sessionStorage.getItem(ANALYST_KEY);
  $("health-panel").hidden = !token;
  $("analyst-signout").hidden = !token;
  $("analyst-who").textContent = token ? "signed in as " + (tokenSubject(token) || "?") : "";
  if (!token) return;
  try {
    renderHealth(await api("/api/v1/pipeline/health", token));
    showError("health-error", null);
  } catch (error) {
    if (error.status === 401) { signOut(ANALYST_KEY); showError("signin-error", error); return; }
    showError("health-error", error);
  }
  healthTimer = setTimeout(refreshHealth, REFRESH_MS);
}

// ---------------------------------------------------------------- sign in and out

function signOut(key) {
  sessionStorage.removeItem(key);
  if (key === USER_KEY) {
    ["stats", "achievements", "workout", "route"].forEach((id) => $(id).replaceChildren());
    loadUser();
  } else {
    clearTimeout(healthTimer);
    $("health-panel").hidden = true;
    $("analyst-signout").hidden = true;
    $("analyst-who").textContent = "";
  }
}

function signIn(input, key, then) {
  const token = input.value.trim();
  input.value = "";
  if (!token) return;
  sessionStorage.setItem(key, token);
  then();
}

function start() {
  for (const sport of SPORTS) { const o = el("option", sport); o.value = sport; $("sport").append(o); }
  for (const [metric, label] of Object.entries(METRICS)) { const o = el("option", label); o.value = metric; $("metric").append(o); }
  $("sport").addEventListener("change", refreshLeaderboard);
  $("metric").addEventListener("change", refreshLeaderboard);
  $("workout").addEventListener("change", (e) => drawRoute(e.target.value));
  $("user-signin").addEventListener("submit", (e) => {
    e.preventDefault();
    signIn($("user-token"), USER_KEY, () => { loadUser(); refreshLeaderboard(); });
  });
  $("analyst-signin").addEventListener("submit", (e) => {
    e.preventDefault();
    signIn($("analyst-token"), ANALYST_KEY, refreshHealth);
  });
  $("user-signout").addEventListener("click", () => signOut(USER_KEY));
  $("analyst-signout").addEventListener("click", () => signOut(ANALYST_KEY));
  refreshLeaderboard();
  loadUser();
  refreshHealth();
}

document.addEventListener("DOMContentLoaded", start);
