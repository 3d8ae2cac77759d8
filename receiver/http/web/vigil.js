// vigil.js: what every page of the receiver's web UI shares (an ES
// module, imported as "/vigil.js"; no framework, no build step):
//   api(path, params, opts)  the HTTP API: parsed JSON, or throws ApiError
//   Chart                    uPlot around Prometheus matrix results
//   legend(el, chart)        a legend that filters the chart's series
//   header(active)           the navigation header every page starts with
//   el(tag, attrs, ...kids)  building DOM without innerHTML
//   readState / writeState   the page's state in its URL (shareable)
//   formatting               formatTime, formatDuration, parseDuration,
//                            formatValue, seriesName, niceStep
// The page must load uPlot (/vendor/uplot-<version>/uPlot.iife.min.js and
// its CSS) before a Chart is made. The CSP forbids inline script and
// style attributes in markup: set styles through element.style only.

export const NAV = [
	["/", "Query"],
	["/hosts", "Hosts"],
	["/fleet", "Fleet"],
	["/alerts", "Alerts"],
	["/rules", "Rules"],
	["/silences", "Silences"],
	["/status", "Status"],
];

// --- DOM -------------------------------------------------------------------

// el("a", {href: "/", class: "x", onclick: f}, "text", child...): a new
// element; attributes starting with "on" become listeners, "dataset" an
// object of data- attributes; null and false children are skipped.
export function el(tag, attrs, ...kids) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === null || v === undefined || v === false) continue;
		if (k.startsWith("on") && typeof v === "function") e.addEventListener(k.slice(2), v);
		else if (k === "dataset") Object.assign(e.dataset, v);
		else if (k === "class") e.className = v;
		else e.setAttribute(k, v === true ? "" : String(v));
	}
	for (const k of kids.flat()) {
		if (k === null || k === undefined || k === false) continue;
		e.append(k instanceof Node ? k : document.createTextNode(String(k)));
	}
	return e;
}

// The header with the navigation, put first in <body>; active is the
// path of this page ("/", "/hosts", ...).
export function header(active) {
	const nav = el("nav", { class: "vg-nav" },
		el("a", { class: "vg-brand", href: "/" }, "Vigil"),
		NAV.map(([href, text]) => el("a", { href, class: href === active ? "active" : null }, text)));
	const h = el("header", { class: "vg-header" }, nav);
	document.body.prepend(h);
	return h;
}

// --- the API -----------------------------------------------------------------

// The API's error: status (HTTP), errorType and message as the API gave
// them; for a PromQL parse error, line and column (1-based) of the fault.
export class ApiError extends Error {
	constructor(status, errorType, message) {
		super(message);
		this.name = "ApiError";
		this.status = status;
		this.errorType = errorType;
		const m = /(\d+):(\d+): parse error/.exec(message || "");
		this.line = m ? Number(m[1]) : null;
		this.column = m ? Number(m[2]) : null;
	}
}

// api("/api/v1/query", {query: "up", time: 1}) → the parsed JSON body.
// params: an object (arrays repeat the name: {"match[]": [a, b]}) sent in
// the URL for GET, as a form for POST (opts.method "POST"), unless
// opts.json is given (sent as JSON). opts.signal aborts. A long GET
// becomes a POST form, which the query endpoints take alike. Throws
// ApiError for an error envelope or a non-2xx status.
export async function api(path, params, opts = {}) {
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(params || {})) {
		if (v === undefined || v === null) continue;
		for (const x of Array.isArray(v) ? v : [v]) q.append(k, String(x));
	}
	let method = opts.method || "GET";
	let url = path, body, headers = { Accept: "application/json" };
	const qs = q.toString();
	if (opts.json !== undefined) {
		body = JSON.stringify(opts.json);
		headers["Content-Type"] = "application/json";
		if (qs) url += "?" + qs;
	} else if (method === "GET" && qs.length > 4000 && path.startsWith("/api/v1/")) {
		method = "POST";
	}
	if (body === undefined && method === "POST") {
		body = qs;
		headers["Content-Type"] = "application/x-www-form-urlencoded";
	} else if (body === undefined && qs) {
		url += "?" + qs;
	}
	let resp;
	try {
		resp = await fetch(url, { method, body, headers, credentials: "same-origin", signal: opts.signal });
	} catch (e) {
		if (e.name === "AbortError") throw e;
		throw new ApiError(0, "unavailable", "cannot reach the receiver: " + e.message);
	}
	const text = await resp.text();
	let json = null;
	try {
		json = text ? JSON.parse(text) : null;
	} catch (e) {
		if (resp.ok) throw new ApiError(resp.status, "bad_response", "the answer is not JSON");
	}
	if (!resp.ok || (json && json.status === "error")) {
		const type = (json && json.errorType) || "http";
		const msg = (json && (json.error || json.message)) || `${resp.status} ${resp.statusText}`;
		throw new ApiError(resp.status, type, msg);
	}
	return json;
}

// --- formatting --------------------------------------------------------------

const DUR_UNITS = [["y", 365 * 86400], ["w", 7 * 86400], ["d", 86400], ["h", 3600], ["m", 60], ["s", 1]];

// "1h30m" → 5400 (seconds); null when it is not a duration.
export function parseDuration(s) {
	const str = String(s).trim();
	if (/^\d+(\.\d+)?$/.test(str)) return Number(str);
	const re = /(\d+)(ms|y|w|d|h|m|s)/g;
	let total = 0, pos = 0, m;
	while ((m = re.exec(str)) !== null) {
		if (m.index !== pos) return null;
		pos = re.lastIndex;
		total += m[2] === "ms" ? Number(m[1]) / 1000 : Number(m[1]) * DUR_UNITS.find((u) => u[0] === m[2])[1];
	}
	return pos === str.length && pos > 0 ? total : null;
}

// 5400 → "1h30m"; fractions of a second as "ms".
export function formatDuration(sec) {
	if (sec < 1 && sec > 0) return Math.round(sec * 1000) + "ms";
	let rest = Math.round(sec), out = "";
	for (const [u, n] of DUR_UNITS) {
		if (rest >= n) {
			out += Math.floor(rest / n) + u;
			rest %= n;
		}
	}
	return out || "0s";
}

const pad = (n, w = 2) => String(n).padStart(w, "0");

// Unix seconds → "2026-12-02 06:52:58" in local time (utc: in UTC).
export function formatTime(sec, utc = false) {
	const d = new Date(sec * 1000);
	const g = utc ? (f) => d["getUTC" + f]() : (f) => d["get" + f]();
	return `${g("FullYear")}-${pad(g("Month") + 1)}-${pad(g("Date"))} ${pad(g("Hours"))}:${pad(g("Minutes"))}:${pad(g("Seconds"))}`;
}

const SI = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"], [1, ""], [1e-3, "m"], [1e-6, "µ"], [1e-9, "n"]];
const IEC = [[2 ** 50, "Pi"], [2 ** 40, "Ti"], [2 ** 30, "Gi"], [2 ** 20, "Mi"], [2 ** 10, "Ki"], [1, ""]];

function trim(x) {
	const s = x.toPrecision(4);
	return s.includes("e") ? s : String(Number(s));
}

// A value for people: SI prefixes (unit "" or e.g. "s"), powers of two
// for unit "B" (bytes); NaN and infinities as Prometheus writes them.
export function formatValue(v, unit = "") {
	if (v === null || v === undefined) return "";
	if (Number.isNaN(v)) return "NaN";
	if (!Number.isFinite(v)) return v > 0 ? "+Inf" : "-Inf";
	if (v === 0) return "0" + (unit ? " " + unit : "");
	const a = Math.abs(v);
	const table = unit === "B" ? IEC : SI;
	for (const [n, p] of table) {
		if (a >= n) return trim(v / n) + (p || unit ? " " + p + unit : "");
	}
	return v.toExponential(3) + (unit ? " " + unit : "");
}

// A series' name as PromQL writes it: name{a="x", b="y"}.
export function seriesName(metric) {
	const { __name__: name = "", ...rest } = metric || {};
	const labels = Object.keys(rest).sort().map((k) => `${k}=${JSON.stringify(rest[k])}`);
	return labels.length ? `${name}{${labels.join(", ")}}` : name || "{}";
}

const NICE_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

// The smallest pleasant step (seconds) of at least sec.
export function niceStep(sec) {
	for (const s of NICE_STEPS) if (s >= sec) return s;
	return Math.ceil(sec / 86400) * 86400;
}

// --- the state in the URL --------------------------------------------------

// The page's state from location.search, each key of defaults taking the
// URL's value (as a string, or a number when the default is one, or a
// boolean for "1"/"0" when the default is one).
export function readState(defaults) {
	const q = new URLSearchParams(location.search);
	const st = { ...defaults };
	for (const k of Object.keys(defaults)) {
		if (!q.has(k)) continue;
		const v = q.get(k), d = defaults[k];
		st[k] = typeof d === "number" ? (Number.isFinite(Number(v)) ? Number(v) : d)
			: typeof d === "boolean" ? v === "1" || v === "true" : v;
	}
	return st;
}

// Puts st in the URL (keys equal to defaults left out), replacing the
// history entry, or pushing one when push.
export function writeState(st, defaults, push = false) {
	const q = new URLSearchParams();
	for (const [k, v] of Object.entries(st)) {
		if (defaults && defaults[k] === v) continue;
		q.set(k, typeof v === "boolean" ? (v ? "1" : "0") : String(v));
	}
	const url = location.pathname + (q.toString() ? "?" + q.toString() : "");
	if (url !== location.pathname + location.search) history[push ? "pushState" : "replaceState"](null, "", url);
}

// --- charts -------------------------------------------------------------------

// Colours for series, cycled; a series keeps its colour across redraws.
export const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
	"#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
	"#e6550d", "#31a354", "#756bb1", "#636363"];

// Prometheus matrix results (data.result of a query_range) on the grid
// start, start+step, ..., end: [xs, ys...] with null where a series has
// no point, as uPlot takes it.
export function alignMatrix(result, start, end, step) {
	const n = Math.floor((end - start) / step + 1e-9) + 1;
	const xs = new Float64Array(n);
	for (let i = 0; i < n; i++) xs[i] = start + i * step;
	const ys = result.map((s) => {
		const y = new Array(n).fill(null);
		for (const [t, v] of s.values || []) {
			const i = Math.round((t - start) / step);
			if (i >= 0 && i < n) y[i] = Number(v);
		}
		return y;
	});
	return [Array.from(xs), ...ys];
}

// A graph of Prometheus series with uPlot: lines or stacked areas, a
// tooltip on hover naming the nearest series, its labels and value.
//   const c = new Chart(el, {height: 360, stacked: false, unit: ""});
//   c.setMatrix(result, start, end, step);  c.setStacked(true);
//   c.setVisible(i, bool) / c.setVisibleAll(fn);  c.series: [{name,
//   metric, color, visible}];  c.onchange: called after visibility changes.
// el gets data-series (how many series are drawn) and data-points.
export class Chart {
	constructor(elem, opts = {}) {
		if (typeof window.uPlot !== "function") throw new Error("the charting library (uPlot) is not installed on this receiver");
		this.el = elem;
		this.opts = { height: 360, stacked: false, unit: "", ...opts };
		this.series = [];
		this.raw = null;
		this.u = null;
		this.onchange = null;
		this.tip = el("div", { class: "vg-tooltip", hidden: true });
		this.el.classList.add("vg-chart");
		this._resize = () => this.u && this.u.setSize({ width: this._width(), height: this.opts.height });
		window.addEventListener("resize", this._resize);
	}

	_width() {
		return Math.max(200, this.el.clientWidth || 800);
	}

	// Draws result (a matrix) on the grid start..end at step (seconds).
	setMatrix(result, start, end, step) {
		this.raw = alignMatrix(result, start, end, step);
		this.series = result.map((s, i) => ({
			name: seriesName(s.metric), metric: s.metric, color: PALETTE[i % PALETTE.length], visible: true,
		}));
		this._build();
	}

	setStacked(on) {
		if (this.opts.stacked === on) return;
		this.opts.stacked = on;
		if (this.raw) this._build();
	}

	setVisible(i, on) {
		this.setVisibleAll((s, j) => (j === i ? on : s.visible));
	}

	// fn(series, index) → whether it is shown; one redraw for all.
	setVisibleAll(fn) {
		this.series.forEach((s, i) => { s.visible = !!fn(s, i); });
		if (this.opts.stacked) {
			this._build(); // the stack's sums change
		} else if (this.u) {
			this.u.batch(() => this.series.forEach((s, i) => this.u.setSeries(i + 1, { show: s.visible })));
		}
		this._mark();
		if (this.onchange) this.onchange();
	}

	_stackedData() {
		const [xs, ...ys] = this.raw;
		const acc = new Array(xs.length).fill(0);
		return [xs, ...ys.map((y, i) => {
			if (!this.series[i].visible) return y.map(() => null);
			return y.map((v, j) => (v === null ? acc[j] : (acc[j] += v)));
		})];
	}

	_build() {
		const stacked = this.opts.stacked, unit = this.opts.unit;
		const data = stacked ? this._stackedData() : this.raw;
		const fmt = (u, vals) => vals.map((v) => formatValue(v, unit));
		const series = [{}].concat(this.series.map((s) => ({
			label: s.name, stroke: s.color, width: 1, show: s.visible, spanGaps: false,
			fill: stacked ? s.color + "55" : undefined, points: { show: false },
		})));
		const bands = [];
		if (stacked) for (let i = 2; i <= this.series.length; i++) bands.push({ series: [i, i - 1] });
		const opts = {
			width: this._width(), height: this.opts.height, series, bands,
			legend: { show: false },
			cursor: { points: { show: false }, drag: { x: true, y: false } },
			focus: { alpha: 1 },
			scales: { x: { time: true } },
			axes: [{}, { values: fmt, size: 70 }],
			hooks: { setCursor: [(u) => this._hover(u)] },
		};
		if (this.u) this.u.destroy();
		this.el.replaceChildren();
		this.u = new window.uPlot(opts, data, this.el);
		this.u.over.append(this.tip);
		this.u.over.addEventListener("mouseleave", () => { this.tip.hidden = true; });
		this._mark();
	}

	_mark() {
		this.el.dataset.series = String(this.series.filter((s) => s.visible).length);
		this.el.dataset.points = String(this.raw ? this.raw[0].length : 0);
	}

	// The tooltip: the time under the cursor and the visible series
	// nearest to it, with its labels and (unstacked) value.
	_hover(u) {
		const idx = u.cursor.idx, top = u.cursor.top;
		if (idx === null || idx === undefined || top < 0) {
			this.tip.hidden = true;
			return;
		}
		const data = u.data;
		let best = -1, bestDist = Infinity;
		for (let i = 0; i < this.series.length; i++) {
			if (!this.series[i].visible) continue;
			const v = data[i + 1][idx];
			if (v === null || v === undefined) continue;
			const d = Math.abs(u.valToPos(v, "y") - top);
			if (d < bestDist) { bestDist = d; best = i; }
		}
		if (best < 0) {
			this.tip.hidden = true;
			return;
		}
		const s = this.series[best], v = this.raw[best + 1][idx];
		const { __name__: name, ...labels } = s.metric || {};
		this.tip.replaceChildren(
			el("div", { class: "vg-tip-time" }, formatTime(data[0][idx])),
			el("div", { class: "vg-tip-value" }, el("span", { class: "vg-swatch", dataset: { color: s.color } }), formatValue(v, this.opts.unit), el("span", { class: "vg-tip-raw" }, " (" + v + ")")),
			...(name ? [el("div", { class: "vg-tip-name" }, name)] : []),
			...Object.keys(labels).sort().map((k) => el("div", { class: "vg-tip-label" }, el("b", {}, k), "=", labels[k])));
		this.tip.querySelector(".vg-swatch").style.background = s.color;
		this.tip.hidden = false;
		const left = u.cursor.left, w = u.over.clientWidth;
		this.tip.style.left = (left > w / 2 ? left - this.tip.offsetWidth - 12 : left + 12) + "px";
		this.tip.style.top = Math.max(0, top - 10) + "px";
		this.tipSeries = best;
	}

	destroy() {
		window.removeEventListener("resize", this._resize);
		if (this.u) this.u.destroy();
		this.u = null;
	}
}

// A legend under a chart that filters its series: a text filter (a
// substring of the series' name) and one entry per series; a click shows
// that series alone (again: all), ctrl- or meta-click toggles it.
export function legend(container, chart) {
	const input = el("input", { type: "search", class: "vg-legend-filter", placeholder: "filter series", "aria-label": "filter series" });
	const list = el("ul", { class: "vg-legend" });
	const render = () => {
		list.replaceChildren(...chart.series.map((s, i) => {
			const sw = el("span", { class: "vg-swatch" });
			sw.style.background = s.color;
			return el("li", { class: s.visible ? "" : "off", dataset: { index: i }, title: s.name }, sw, s.name);
		}));
	};
	list.addEventListener("click", (ev) => {
		const li = ev.target.closest("li");
		if (!li) return;
		const i = Number(li.dataset.index);
		if (ev.ctrlKey || ev.metaKey) {
			chart.setVisible(i, !chart.series[i].visible);
		} else {
			const alone = chart.series.every((s, j) => s.visible === (j === i));
			chart.setVisibleAll((s, j) => alone || j === i);
		}
		input.value = "";
	});
	input.addEventListener("input", () => {
		const f = input.value.trim();
		chart.setVisibleAll((s) => !f || s.name.includes(f));
	});
	chart.onchange = render;
	container.replaceChildren(input, list);
	render();
	return { render, input, list };
}
