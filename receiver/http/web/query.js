// query.js: the query page at "/": a PromQL box that completes metric
// names, label names and values from the API and shows the parser's
// error at its column; a graph (query_range) or a table (query at the
// end time); the whole state in the URL, so a link shows the same graph.
// URL keys: expr, tab (graph|table), range (a duration or "custom"),
// from/to (custom range, Unix seconds), end (Unix seconds; empty: now),
// step (seconds; empty: from the graph's width), stacked (1).
import { api, ApiError, Chart, legend, header, el, readState, writeState, parseDuration,
	formatDuration, formatTime, seriesName, niceStep } from "/vigil.js";

const DEFAULTS = { expr: "", tab: "graph", range: "1h", from: "", to: "", end: "", step: "", stacked: false };
const $ = (id) => document.getElementById(id);
const FUNCTIONS = ["abs", "absent", "absent_over_time", "avg_over_time", "ceil", "changes", "clamp", "clamp_max",
	"clamp_min", "count_over_time", "day_of_month", "day_of_week", "day_of_year", "days_in_month", "delta", "deriv",
	"exp", "floor", "histogram_quantile", "holt_winters", "hour", "idelta", "increase", "irate", "label_join",
	"label_replace", "last_over_time", "ln", "log10", "log2", "max_over_time", "min_over_time", "minute", "month",
	"predict_linear", "present_over_time", "quantile_over_time", "rate", "resets", "round", "scalar", "sgn", "sort",
	"sort_desc", "sqrt", "stddev_over_time", "stdvar_over_time", "sum_over_time", "time", "timestamp", "vector", "year"];
const AGGREGATIONS = ["avg", "bottomk", "count", "count_values", "group", "max", "min", "quantile", "stddev", "stdvar",
	"sum", "topk"];
const KEYWORDS = ["by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or", "unless"];

let state = readState(DEFAULTS);
let chart = null;
let inflight = null;
const cache = { names: null, labels: new Map(), values: new Map() };

// --- time ------------------------------------------------------------------

function toLocalInput(sec) {
	if (sec === "" || sec === null || sec === undefined) return "";
	return formatTime(Number(sec)).replace(" ", "T");
}
function fromLocalInput(v) {
	if (!v) return "";
	const t = new Date(v).getTime();
	return Number.isFinite(t) ? String(Math.round(t / 1000)) : "";
}

// [start, end] in Unix seconds of the state's range.
function window_() {
	if (state.range === "custom" && state.from && state.to) return [Number(state.from), Number(state.to)];
	const end = state.end ? Number(state.end) : Math.floor(Date.now() / 1000);
	const range = parseDuration(state.range === "custom" ? "1h" : state.range) || 3600;
	return [end - range, end];
}

// The step: the state's, or one point per two pixels of the graph.
function stepFor(start, end) {
	const s = parseDuration(state.step);
	if (s && s > 0) return s;
	const width = Math.max(200, ($("q-chart").clientWidth || 1000));
	return niceStep(Math.max(1, (end - start) / Math.floor(width / 2)));
}

// --- controls <-> state ------------------------------------------------------

function showState() {
	$("q-expr").value = state.expr;
	const sel = $("q-range");
	if (![...sel.options].some((o) => o.value === state.range) && parseDuration(state.range)) {
		// A range from the URL that no preset has gets an entry of its own.
		sel.insertBefore(el("option", { value: state.range }, state.range), sel.lastElementChild);
	}
	sel.value = [...sel.options].some((o) => o.value === state.range) ? state.range : "1h";
	$("q-custom").hidden = state.range !== "custom";
	$("q-from").value = toLocalInput(state.from);
	$("q-to").value = toLocalInput(state.to);
	$("q-end").value = toLocalInput(state.end);
	$("q-end").disabled = state.range === "custom";
	$("q-step").value = state.step;
	$("q-stacked").checked = state.stacked;
	for (const t of ["graph", "table"]) {
		$("q-tab-" + t).setAttribute("aria-selected", String(state.tab === t));
		$("q-" + t).hidden = state.tab !== t;
	}
	autosize();
}

function readControls() {
	state.expr = $("q-expr").value.trim();
	state.range = $("q-range").value;
	state.from = fromLocalInput($("q-from").value);
	state.to = fromLocalInput($("q-to").value);
	state.end = state.range === "custom" ? "" : fromLocalInput($("q-end").value);
	state.step = $("q-step").value.trim();
	state.stacked = $("q-stacked").checked;
}

function autosize() {
	const t = $("q-expr");
	t.style.height = "auto";
	t.style.height = Math.min(240, t.scrollHeight + 2) + "px";
}

// --- errors ------------------------------------------------------------------

function showError(e) {
	const box = $("q-error");
	box.replaceChildren();
	delete box.dataset.line;
	delete box.dataset.column;
	if (!e) {
		box.hidden = true;
		return;
	}
	box.append(el("div", { class: "q-error-msg" }, e.message));
	if (e instanceof ApiError && e.column) {
		// The line of the expression at fault, a caret under the column
		// (a byte column: the same as characters for ASCII text).
		const line = state.expr.split("\n")[e.line - 1] || "";
		box.dataset.line = String(e.line);
		box.dataset.column = String(e.column);
		box.append(el("pre", { class: "q-caret" }, line + "\n" + " ".repeat(Math.max(0, e.column - 1)) + "^"));
	}
	box.hidden = false;
}

// --- running -----------------------------------------------------------------

async function run(push) {
	readControls();
	writeState(state, DEFAULTS, push);
	showState();
	showError(null);
	$("q-warning").hidden = true;
	if (inflight) inflight.abort();
	if (!state.expr) {
		$("q-stats").textContent = "";
		document.body.dataset.state = "idle";
		return;
	}
	const ctl = new AbortController();
	inflight = ctl;
	document.body.dataset.state = "loading";
	const t0 = performance.now();
	performance.mark("vigil:query-start");
	try {
		if (state.tab === "graph") await runGraph(ctl.signal, t0);
		else await runTable(ctl.signal, t0);
		document.body.dataset.state = "ready";
	} catch (e) {
		if (e.name === "AbortError") return;
		showError(e);
		document.body.dataset.state = "error";
	} finally {
		if (inflight === ctl) inflight = null;
	}
}

function warn(json) {
	if (json.warnings && json.warnings.length) {
		$("q-warning").textContent = json.warnings.join("; ");
		$("q-warning").hidden = false;
	}
}

async function runGraph(signal, t0) {
	const [start, end] = window_();
	const step = stepFor(start, end);
	const json = await api("/api/v1/query_range", { query: state.expr, start, end, step }, { signal });
	const t1 = performance.now();
	performance.mark("vigil:data");
	warn(json);
	if (json.data.resultType !== "matrix") throw new Error("a range query gave " + json.data.resultType);
	const result = json.data.result;
	if (!chart) chart = new Chart($("q-chart"), { height: 380, stacked: state.stacked });
	chart.setStacked(state.stacked);
	chart.setMatrix(result, start, end, step);
	legend($("q-legend"), chart);
	performance.mark("vigil:rendered");
	// uPlot draws in a microtask after it is built; the frame after
	// that has the graph on screen (bench/bench_web reads these marks).
	requestAnimationFrame(() => performance.mark("vigil:painted"));
	const t2 = performance.now();
	$("q-stats").textContent = `${result.length} series, ${formatTime(start)} to ${formatTime(end)} at step ${formatDuration(step)}` +
		` · query ${Math.round(t1 - t0)} ms, graph ${Math.round(t2 - t1)} ms`;
}

function cell(text, cls) {
	return el("td", { class: cls }, text);
}

async function runTable(signal, t0) {
	const [, end] = window_();
	const json = await api("/api/v1/query", { query: state.expr, time: end }, { signal });
	warn(json);
	const { resultType, result } = json.data;
	const table = $("q-table-body");
	const rows = [];
	if (resultType === "vector") {
		for (const s of result) rows.push(el("tr", {}, cell(seriesName(s.metric), "mono"), cell(s.value[1], "num")));
	} else if (resultType === "matrix") {
		for (const s of result) {
			rows.push(el("tr", {}, cell(seriesName(s.metric), "mono"),
				cell(s.values.map(([t, v]) => `${v} @${t}`).join("\n"), "num")));
		}
	} else {
		rows.push(el("tr", {}, cell(resultType, "mono"), cell(result[1], "num")));
	}
	table.replaceChildren(el("thead", {}, el("tr", {}, el("th", {}, "Series"), el("th", {}, "Value"))),
		el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: 2, class: "muted" }, "no data"))));
	table.dataset.rows = String(rows.length);
	$("q-stats").textContent = `${rows.length} ${resultType === "vector" || resultType === "matrix" ? "series" : "value"} at ${formatTime(end)}` +
		` · ${Math.round(performance.now() - t0)} ms`;
}

// --- completion --------------------------------------------------------------

// What the text before the cursor asks for: label values (inside a
// selector after an operator and a quote), label names (inside braces or
// by/without (...)), or names (metrics, functions, keywords).
function context(text) {
	let m;
	if ((m = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"\\]*)$/.exec(text))) {
		const open = text.lastIndexOf("{");
		const metric = open >= 0 ? (/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*$/.exec(text.slice(0, open)) || [])[1] : undefined;
		return { kind: "value", label: m[1], prefix: m[3], metric };
	}
	const open = text.lastIndexOf("{"), close = text.lastIndexOf("}");
	if (open > close && (m = /(?:^|[{,\s])([a-zA-Z_][a-zA-Z0-9_]*)?$/.exec(text.slice(open)))) {
		const metric = (/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*$/.exec(text.slice(0, open)) || [])[1];
		return { kind: "label", prefix: m[1] || "", metric };
	}
	if ((m = /\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*,\s*)?([a-zA-Z_][a-zA-Z0-9_]*)?$/.exec(text))) {
		return { kind: "label", prefix: m[3] || "" };
	}
	if ((m = /([a-zA-Z_:][a-zA-Z0-9_:]*)$/.exec(text))) return { kind: "name", prefix: m[1] };
	return null;
}

async function metricNames() {
	if (!cache.names) cache.names = api("/api/v1/label/__name__/values").then((j) => j.data).catch(() => []);
	return cache.names;
}

async function labelNames(metric) {
	const key = metric || "";
	if (!cache.labels.has(key)) {
		cache.labels.set(key, api("/api/v1/labels", metric ? { "match[]": metric } : {})
			.then((j) => j.data.filter((l) => l !== "__name__")).catch(() => []));
	}
	return cache.labels.get(key);
}

async function labelValues(label, metric) {
	const key = label + "\0" + (metric || "");
	if (!cache.values.has(key)) {
		const path = "/api/v1/label/" + encodeURIComponent(label) + "/values";
		cache.values.set(key, api(path, metric ? { "match[]": metric } : {}).then((j) => j.data).catch(() => []));
	}
	return cache.values.get(key);
}

const comp = { items: [], sel: 0, ctx: null, seq: 0 };

async function complete() {
	const box = $("q-expr");
	const text = box.value.slice(0, box.selectionStart);
	const ctx = context(text);
	const seq = ++comp.seq;
	if (!ctx) return closeCompletion();
	let items = [];
	if (ctx.kind === "name") {
		const names = await metricNames();
		items = names.map((n) => [n, "metric"])
			.concat(FUNCTIONS.map((f) => [f, "function"]), AGGREGATIONS.map((a) => [a, "aggregation"]),
				KEYWORDS.map((k) => [k, "keyword"]));
	} else if (ctx.kind === "label") {
		items = (await labelNames(ctx.metric)).map((l) => [l, "label"]);
	} else {
		items = (await labelValues(ctx.label, ctx.metric)).map((v) => [v, "value"]);
	}
	if (seq !== comp.seq) return; // a later keystroke asked again
	const p = ctx.prefix;
	items = items.filter(([n]) => n.startsWith(p) && n !== p).slice(0, 50);
	if (!items.length) return closeCompletion();
	comp.items = items;
	comp.sel = 0;
	comp.ctx = ctx;
	drawCompletion();
}

function drawCompletion() {
	const ul = $("q-complete");
	ul.replaceChildren(...comp.items.map(([n, kind], i) =>
		el("li", { role: "option", "aria-selected": String(i === comp.sel), dataset: { index: i } },
			el("span", {}, n), el("span", { class: "kind" }, kind))));
	ul.hidden = false;
	const cur = ul.children[comp.sel];
	if (cur) cur.scrollIntoView({ block: "nearest" });
}

function closeCompletion() {
	comp.items = [];
	$("q-complete").hidden = true;
}

function accept(i) {
	const box = $("q-expr");
	const [word, kind] = comp.items[i];
	const pos = box.selectionStart;
	const before = box.value.slice(0, pos - comp.ctx.prefix.length);
	let insert = word;
	if (kind === "function" || kind === "aggregation") insert += "(";
	else if (kind === "value") insert = word.replace(/["\\]/g, "\\$&") + '"';
	box.value = before + insert + box.value.slice(pos);
	box.selectionStart = box.selectionEnd = before.length + insert.length;
	closeCompletion();
	box.focus();
	autosize();
}

// --- wiring ------------------------------------------------------------------

function init() {
	header("/");
	showState();
	const box = $("q-expr");
	$("q-form").addEventListener("submit", (ev) => { ev.preventDefault(); closeCompletion(); run(true); });
	box.addEventListener("input", () => { autosize(); complete(); });
	box.addEventListener("blur", () => setTimeout(closeCompletion, 150));
	box.addEventListener("keydown", (ev) => {
		const open = !$("q-complete").hidden && comp.items.length;
		if (open && (ev.key === "ArrowDown" || ev.key === "ArrowUp")) {
			ev.preventDefault();
			comp.sel = (comp.sel + (ev.key === "ArrowDown" ? 1 : comp.items.length - 1)) % comp.items.length;
			drawCompletion();
		} else if (open && (ev.key === "Tab" || ev.key === "Enter")) {
			ev.preventDefault();
			accept(comp.sel);
		} else if (open && ev.key === "Escape") {
			closeCompletion();
		} else if (ev.key === "Enter" && !ev.shiftKey) {
			ev.preventDefault();
			closeCompletion();
			run(true);
		}
	});
	$("q-complete").addEventListener("mousedown", (ev) => {
		const li = ev.target.closest("li");
		if (li) { ev.preventDefault(); accept(Number(li.dataset.index)); }
	});
	for (const t of ["graph", "table"]) {
		$("q-tab-" + t).addEventListener("click", () => { state.tab = t; showState(); run(false); });
	}
	$("q-range").addEventListener("change", () => {
		if ($("q-range").value === "custom" && !state.from) {
			const [s, e] = window_();
			$("q-from").value = toLocalInput(s);
			$("q-to").value = toLocalInput(e);
		}
		run(false);
	});
	for (const id of ["q-from", "q-to", "q-end", "q-step"]) $(id).addEventListener("change", () => run(false));
	$("q-now").addEventListener("click", () => { $("q-end").value = ""; run(false); });
	$("q-stacked").addEventListener("change", () => {
		state.stacked = $("q-stacked").checked;
		writeState(state, DEFAULTS);
		if (chart && state.tab === "graph") chart.setStacked(state.stacked);
	});
	window.addEventListener("popstate", () => { state = readState(DEFAULTS); showState(); run(false); });
	performance.mark("vigil:usable");
	document.body.dataset.state = "idle";
	if (state.expr) run(false);
	else box.focus();
}

init();
