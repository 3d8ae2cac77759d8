// fleet.js: the fleet page (/fleet): every instance with the age of its
// last batch and a sparkline of the last hour, sortable and filtered,
// fast at 10,000 instances and more. Two queries for all of them (never
// one per instance): the receiver's last-seen series and one range
// query of the sparkline's metric. Only the rows in view are in the DOM
// (a virtual list of fixed-height rows), each sparkline drawn on its own
// small canvas from arrays kept per instance.
// When drawn, body gets data-ready="1", data-instances, and the times
// in ms (data-fetch-ms: both answers; data-draw-ms: parse, sort, first
// paint of the rows) that docs/performance.md reports.
import { api, header, el, formatDuration, formatTime, formatValue, readState, writeState } from "/vigil.js";

const DEFAULTS = { sort: "instance", dir: "asc", spark: "load1", q: "" };
const ROW_PX = 26;
const SPAN_S = 3600, STEP_S = 120;
const STALE_S = 120; // an agent silent this long is shown in red
const LAST_SEEN = "vigil_agent_last_seen_timestamp_seconds";
// Until the receiver writes LAST_SEEN: the newest sample of series every
// agent sends, within the lookback (5 minutes).
const LAST_SEEN_FALLBACK = 'max by (instance) (timestamp({__name__=~"vigil_agent_rounds_total|node_load1"}))';
const SPARKS = {
	load1: { expr: "node_load1", unit: "" }, // one series an agent: no aggregation to pay for
	cpu: { expr: 'avg by (instance, pool) (1 - rate(node_cpu_seconds_total{mode="idle"}[5m]))', unit: "%", scale: 100 },
	memory: { expr: "max by (instance, pool) (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)", unit: "%", scale: 100 },
};

header("/fleet");
const $ = (id) => document.getElementById(id);
const state = readState(DEFAULTS);
let all = [];     // every instance: {instance, pool, seen, values, peak, latest}
let shown = [];   // filtered and sorted
let rowEls = [];
let spark = SPARKS.load1;
let frame = 0;

const collator = new Intl.Collator(undefined, { numeric: true });

async function query(path, params) {
	const r = await api(path, params);
	return r.data.result || [];
}

// Both answers, then one array of instances.
async function fetchAll() {
	const end = Math.floor(Date.now() / 1000 / STEP_S) * STEP_S;
	const start = end - SPAN_S;
	spark = SPARKS[state.spark] || SPARKS.load1;
	let [seen, series] = await Promise.all([
		query("/api/v1/query", { query: LAST_SEEN }),
		query("/api/v1/query_range", { query: spark.expr, start, end, step: STEP_S }),
	]);
	if (!seen.length) seen = await query("/api/v1/query", { query: LAST_SEEN_FALLBACK });
	return { seen, series, start, end };
}

function build({ seen, series, start }) {
	const n = SPAN_S / STEP_S + 1, scale = spark.scale || 1;
	const byName = new Map();
	const get = (name) => {
		let r = byName.get(name);
		if (!r) {
			r = { instance: name, pool: "", seen: null, values: null, peak: -Infinity, latest: null };
			byName.set(name, r);
		}
		return r;
	};
	for (const s of seen) {
		if (s.metric.instance === undefined) continue;
		const r = get(s.metric.instance), v = Number(s.value[1]);
		if (r.seen === null || v > r.seen) r.seen = v;
	}
	for (const s of series) {
		if (s.metric.instance === undefined) continue;
		const r = get(s.metric.instance);
		if (s.metric.pool) r.pool = s.metric.pool;
		// Several series of one instance (other labels): the highest.
		// Plain indexed loops: at 10,000 instances this is 300,000 points.
		const ys = r.values || new Float32Array(n).fill(NaN), vals = s.values;
		for (let j = 0; j < vals.length; j++) {
			const p = vals[j], i = Math.round((p[0] - start) / STEP_S), y = +p[1] * scale;
			if (i >= 0 && i < n && !(ys[i] >= y)) ys[i] = y;
		}
		r.values = ys;
		for (let i = 0; i < n; i++) {
			const y = ys[i];
			if (y === y) { // not NaN
				if (y > r.peak) r.peak = y;
				r.latest = y;
			}
		}
	}
	return Array.from(byName.values());
}

const KEYS = {
	instance: (a, b) => collator.compare(a.instance, b.instance),
	pool: (a, b) => collator.compare(a.pool, b.pool) || collator.compare(a.instance, b.instance),
	// Oldest first when ascending: the silent agents on top.
	age: (a, b) => (a.seen ?? -Infinity) - (b.seen ?? -Infinity) || collator.compare(a.instance, b.instance),
	peak: (a, b) => a.peak - b.peak || collator.compare(a.instance, b.instance),
	latest: (a, b) => (a.latest ?? -Infinity) - (b.latest ?? -Infinity) || collator.compare(a.instance, b.instance),
};

function arrange() {
	const f = state.q.trim().toLowerCase();
	shown = f ? all.filter((r) => r.instance.toLowerCase().includes(f) || r.pool.toLowerCase().includes(f)) : all.slice();
	const cmp = KEYS[state.sort] || KEYS.instance;
	shown.sort(state.dir === "desc" ? (a, b) => cmp(b, a) : cmp);
	$("f-spacer").style.height = shown.length * ROW_PX + "px";
	for (const b of document.querySelectorAll(".pg-fleet-head button")) {
		b.setAttribute("aria-sort", b.dataset.key === state.sort ? (state.dir === "desc" ? "descending" : "ascending") : "none");
	}
	render();
}

// A figure for a narrow column: 2.35, 87%, 12.5k.
function fmt(v) {
	if (v === null || Number.isNaN(v)) return "";
	if (spark.unit === "%") return v.toFixed(0) + "%";
	return Math.abs(v) < 1000 ? String(Number(v.toPrecision(3))) : formatValue(v);
}

function newRow() {
	const canvas = el("canvas", { width: 184 * (window.devicePixelRatio || 1), height: 22 * (window.devicePixelRatio || 1) });
	const row = el("div", { class: "pg-fleet-row", role: "row" },
		el("a", { role: "cell" }), el("span", { role: "cell" }), el("span", { role: "cell", class: "num" }),
		el("span", { role: "cell" }, canvas), el("span", { role: "cell", class: "num" }));
	$("f-rows").append(row);
	return row;
}

function drawSpark(canvas, ys) {
	const ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
	ctx.clearRect(0, 0, w, h);
	if (!ys) return;
	let lo = Infinity, hi = -Infinity;
	for (const v of ys) if (!Number.isNaN(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
	if (lo === Infinity) return;
	if (spark.unit === "%") { lo = 0; hi = Math.max(hi, 100); } else { lo = Math.min(lo, 0); }
	const span = hi - lo || 1, dx = w / (ys.length - 1), pad = 2;
	ctx.strokeStyle = "#1f77b4";
	ctx.lineWidth = Math.max(1, (window.devicePixelRatio || 1));
	ctx.beginPath();
	let pen = false;
	for (let i = 0; i < ys.length; i++) {
		if (Number.isNaN(ys[i])) { pen = false; continue; }
		const x = i * dx, y = h - pad - ((ys[i] - lo) / span) * (h - 2 * pad);
		if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
		pen = true;
	}
	ctx.stroke();
}

// The rows in view (and a few beyond), reusing their elements.
function render() {
	frame = 0;
	const body = $("f-body");
	const first = Math.max(0, Math.floor(body.scrollTop / ROW_PX) - 5);
	const count = Math.min(shown.length - first, Math.ceil(body.clientHeight / ROW_PX) + 10);
	while (rowEls.length < count) rowEls.push(newRow());
	const now = Date.now() / 1000;
	$("f-rows").style.transform = `translateY(${first * ROW_PX}px)`;
	for (let i = 0; i < rowEls.length; i++) {
		const row = rowEls[i], r = shown[first + i];
		row.hidden = !r;
		if (!r) continue;
		const [name, pool, age, sparkCell, latest] = row.children;
		if (row.dataset.instance !== r.instance) {
			row.dataset.instance = r.instance;
			name.textContent = r.instance;
			name.href = "/hosts?name=" + encodeURIComponent(r.instance);
			name.title = r.instance;
			pool.textContent = r.pool;
			drawSpark(sparkCell.firstChild, r.values);
			sparkCell.title = r.values ? `peak ${fmt(r.peak)}` : "no data in the last hour";
			latest.textContent = r.latest === null ? "" : fmt(r.latest);
		}
		const a = r.seen === null ? null : Math.max(0, now - r.seen);
		age.textContent = a === null ? "never" : formatDuration(a);
		age.title = r.seen === null ? "no last-seen series" : formatTime(r.seen);
		age.classList.toggle("pg-stale", a === null || a > STALE_S);
	}
}

function summary(extra) {
	const stale = all.filter((r) => r.seen === null || Date.now() / 1000 - r.seen > STALE_S).length;
	$("f-summary").replaceChildren(el("b", {}, String(all.length)), " instances",
		state.q.trim() ? `, ${shown.length} shown` : "",
		", ", el("b", {}, String(stale)), ` silent for more than ${formatDuration(STALE_S)}`, extra || "");
}

async function load() {
	const t0 = performance.now();
	$("f-error").hidden = true;
	document.body.dataset.ready = "0";
	try {
		const answers = await fetchAll();
		const t1 = performance.now();
		all = build(answers);
		const tb = performance.now();
		rowEls.forEach((r) => { r.dataset.instance = ""; });
		arrange();
		const ta = performance.now();
		await new Promise((res) => requestAnimationFrame(() => res()));
		const t2 = performance.now();
		document.body.dataset.buildMs = (tb - t1).toFixed(0);
		document.body.dataset.arrangeMs = (ta - tb).toFixed(0);
		document.body.dataset.instances = String(all.length);
		document.body.dataset.fetchMs = (t1 - t0).toFixed(0);
		document.body.dataset.drawMs = (t2 - t1).toFixed(0);
		summary(` — answers in ${(t1 - t0).toFixed(0)} ms, drawn in ${(t2 - t1).toFixed(0)} ms`);
	} catch (e) {
		$("f-error").textContent = e.message;
		$("f-error").hidden = false;
	}
	document.body.dataset.ready = "1";
}

$("f-body").addEventListener("scroll", () => {
	if (!frame) frame = requestAnimationFrame(render);
});
window.addEventListener("resize", () => render());
document.querySelector(".pg-fleet-head").addEventListener("click", (ev) => {
	const b = ev.target.closest("button");
	if (!b) return;
	if (state.sort === b.dataset.key) state.dir = state.dir === "asc" ? "desc" : "asc";
	else { state.sort = b.dataset.key; state.dir = b.dataset.key === "instance" || b.dataset.key === "pool" || b.dataset.key === "age" ? "asc" : "desc"; }
	writeState(state, DEFAULTS);
	rowEls.forEach((r) => { r.dataset.instance = ""; });
	arrange();
});
$("f-filter").value = state.q;
$("f-filter").addEventListener("input", () => {
	state.q = $("f-filter").value;
	writeState(state, DEFAULTS);
	rowEls.forEach((r) => { r.dataset.instance = ""; });
	arrange();
	summary();
});
$("f-spark").value = state.spark;
$("f-spark").addEventListener("change", () => {
	state.spark = $("f-spark").value;
	writeState(state, DEFAULTS);
	load();
});
$("f-refresh").addEventListener("click", load);
// Ages move on their own; the data every minute.
setInterval(render, 10000);
setInterval(load, 60000);
load();
