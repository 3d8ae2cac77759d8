// hosts.js: the host overview (/hosts): one instance, or every instance
// of a pool, on a page of small graphs from the node_exporter names the
// agent sends (agent/collect/) and the agent's own vigil_agent_* metrics.
// The state (kind, name, range) is in the URL. When every panel has its
// answer, body gets data-ready="1" and each panel data-state "done" or
// "error", for people and tests alike.
import { api, Chart, header, el, formatDuration, formatTime, formatValue, niceStep, parseDuration, readState, writeState } from "/vigil.js";

const DEFAULTS = { kind: "instance", name: "", range: "1h" };

// A panel: title, unit (vigil.js formatValue), stacked, and its queries
// for one instance (inst) and for a pool (pool): each a list of
// [label, expr(sel, rate window)]; the label names the series when the
// query gives one (a series' own labels otherwise), "" keeps them.
const PANELS = [
	{
		id: "cpu", title: "CPU by mode", unit: "", note: "CPU seconds a second", stacked: true,
		inst: [["", (s, r) => `sum by (mode) (rate(node_cpu_seconds_total{${s}}[${r}]))`]],
		pool: [["", (s, r) => `sum by (mode) (rate(node_cpu_seconds_total{${s}}[${r}]))`]],
	},
	{
		id: "load", title: "Load", unit: "", note: "runnable tasks, 1/5/15 min averages",
		inst: [["load1", (s) => `node_load1{${s}}`], ["load5", (s) => `node_load5{${s}}`], ["load15", (s) => `node_load15{${s}}`]],
		pool: [["", (s) => `max by (instance) (node_load1{${s}})`]],
	},
	{
		id: "memory", title: "Memory", unit: "B", note: "used and available", stacked: true,
		inst: [["used", (s) => `node_memory_MemTotal_bytes{${s}} - node_memory_MemAvailable_bytes{${s}}`],
			["available", (s) => `node_memory_MemAvailable_bytes{${s}}`]],
		pool: [["", (s) => `max by (instance) (node_memory_MemTotal_bytes{${s}} - node_memory_MemAvailable_bytes{${s}})`]],
	},
	{
		id: "filesystem", title: "Filesystem space used", unit: "%", note: "per mount point",
		inst: [["", (s) => `max by (mountpoint) (100 * (1 - node_filesystem_avail_bytes{${s}} / node_filesystem_size_bytes{${s}}))`]],
		pool: [["", (s) => `max by (instance) (100 * (1 - node_filesystem_avail_bytes{${s}} / node_filesystem_size_bytes{${s}}))`]],
	},
	{
		id: "disk", title: "Disk I/O", unit: "B", note: "bytes a second read and written",
		inst: [["read", (s, r) => `sum by (device) (rate(node_disk_read_bytes_total{${s}}[${r}]))`],
			["written", (s, r) => `sum by (device) (rate(node_disk_written_bytes_total{${s}}[${r}]))`]],
		pool: [["", (s, r) => `sum by (instance) (rate(node_disk_read_bytes_total{${s}}[${r}])) + sum by (instance) (rate(node_disk_written_bytes_total{${s}}[${r}]))`]],
	},
	{
		id: "network", title: "Network I/O", unit: "B", note: "bytes a second received and sent, lo left out",
		inst: [["received", (s, r) => `sum by (device) (rate(node_network_receive_bytes_total{${s},device!="lo"}[${r}]))`],
			["sent", (s, r) => `sum by (device) (rate(node_network_transmit_bytes_total{${s},device!="lo"}[${r}]))`]],
		pool: [["", (s, r) => `sum by (instance) (rate(node_network_receive_bytes_total{${s},device!="lo"}[${r}])) + sum by (instance) (rate(node_network_transmit_bytes_total{${s},device!="lo"}[${r}]))`]],
	},
	{
		id: "agent-queue", title: "Agent: unacknowledged data", unit: "B", note: "queued and spooled for the receiver",
		inst: [["queue", (s) => `sum(vigil_agent_queue_bytes{${s}})`]],
		pool: [["", (s) => `sum by (instance) (vigil_agent_queue_bytes{${s}})`]],
	},
	{
		id: "agent-errors", title: "Agent: errors and losses", unit: "", note: "a second",
		inst: [["collector errors", (s, r) => `sum(rate(vigil_agent_collector_errors_total{${s}}[${r}]))`],
			["samples dropped", (s, r) => `sum(rate(vigil_agent_samples_dropped_total{${s}}[${r}]))`],
			["batches dropped", (s, r) => `sum(rate(vigil_agent_batches_dropped_total{${s}}[${r}]))`],
			["connect failures", (s, r) => `sum(rate(vigil_agent_connect_failures_total{${s}}[${r}]))`]],
		pool: [["", (s, r) => `sum by (instance) (rate(vigil_agent_collector_errors_total{${s}}[${r}]) + rate(vigil_agent_connect_failures_total{${s}}[${r}]))`]],
	},
	{
		id: "agent-collect", title: "Agent: collection time", unit: "s", note: "a round of every collector",
		inst: [["collect", (s) => `max(vigil_agent_collect_duration_seconds{${s}})`]],
		pool: [["", (s) => `max by (instance) (vigil_agent_collect_duration_seconds{${s}})`]],
	},
];

header("/hosts");
const $ = (id) => document.getElementById(id);
const state = readState(DEFAULTS);
const charts = new Map();
let generation = 0;

// A PromQL string literal.
const quote = (s) => JSON.stringify(String(s));

function showError(msg) {
	$("h-error").textContent = msg;
	$("h-error").hidden = !msg;
}

async function loadNames(kind) {
	try {
		const r = await api(`/api/v1/label/${kind}/values`);
		$("h-names").replaceChildren(...(r.data || []).map((v) => el("option", { value: v })));
		return r.data || [];
	} catch (e) {
		return [];
	}
}

async function instant(expr) {
	const r = await api("/api/v1/query", { query: expr });
	return r.data.result || [];
}

// A range query's series, named by label when given; the labels every
// series of an instance shares (instance, pool) are left out there.
async function range(label, expr, start, end, step) {
	const r = await api("/api/v1/query_range", { query: expr, start, end, step });
	return (r.data.result || []).map((s) => {
		const metric = { ...s.metric };
		if (state.kind === "instance") {
			delete metric.instance;
			delete metric.pool;
		}
		if (label) metric.__name__ = label;
		return { ...s, metric };
	});
}

function buildPanels() {
	const box = $("h-panels");
	box.replaceChildren();
	for (const c of charts.values()) c.destroy();
	charts.clear();
	for (const p of PANELS) {
		const chartEl = el("div", { class: "pg-chart", id: "h-chart-" + p.id });
		const panel = el("section", { class: "pg-panel", id: "h-panel-" + p.id, dataset: { state: "loading" } },
			el("h3", {}, p.title, el("span", { class: "muted" }, p.note)), chartEl,
			el("div", { class: "pg-note", id: "h-note-" + p.id }));
		box.append(panel);
	}
}

async function drawPanel(p, sel, start, end, step, rate, gen) {
	const panel = $("h-panel-" + p.id), note = $("h-note-" + p.id);
	try {
		const parts = await Promise.all((state.kind === "pool" ? p.pool : p.inst)
			.map(([label, f]) => range(label, f(sel, rate), start, end, step)));
		if (gen !== generation) return;
		const result = parts.flat();
		let c = charts.get(p.id);
		if (!c) {
			c = new Chart($("h-chart-" + p.id), { height: 170, stacked: !!p.stacked, unit: p.unit });
			charts.set(p.id, c);
		}
		c.setMatrix(result, start, end, step);
		note.textContent = result.length ? c.series.map((s) => s.name).slice(0, 6).join(", ") + (result.length > 6 ? ` and ${result.length - 6} more` : "") : "no data";
		note.className = "pg-note pg-names";
		panel.dataset.state = "done";
	} catch (e) {
		if (gen !== generation) return;
		note.textContent = e.message;
		note.className = "pg-note error";
		panel.dataset.state = "error";
	}
}

// The line above the graphs: for an instance, when its agent was last
// heard from, its kernel, CPUs, memory and uptime; for a pool, how many
// instances.
async function drawSummary(sel) {
	const box = $("h-summary");
	try {
		if (state.kind === "pool") {
			const r = await instant(`count(count by (instance) ({${sel},__name__=~"node_load1|vigil_agent_rounds_total"}))`);
			box.replaceChildren("pool ", el("b", {}, state.name), `: ${r.length ? r[0].value[1] : 0} instances`);
			return;
		}
		const [seen, fallback, cpus, mem, boot, uname] = await Promise.all([
			instant(`vigil_agent_last_seen_timestamp_seconds{${sel}}`),
			instant(`max(timestamp(vigil_agent_rounds_total{${sel}}))`),
			instant(`count(node_cpu_seconds_total{${sel},mode="idle"})`),
			instant(`node_memory_MemTotal_bytes{${sel}}`),
			instant(`node_boot_time_seconds{${sel}}`),
			instant(`node_uname_info{${sel}}`),
		]);
		const now = Date.now() / 1000;
		const last = seen.length ? Number(seen[0].value[1]) : fallback.length ? Number(fallback[0].value[1]) : null;
		const parts = ["instance ", el("b", {}, state.name), ": "];
		parts.push(last === null ? "agent not heard from in the last 5 minutes"
			: `agent last seen ${formatDuration(Math.max(0, now - last))} ago (${formatTime(last)})`);
		if (uname.length) parts.push(`, ${uname[0].metric.sysname || ""} ${uname[0].metric.release || ""} ${uname[0].metric.machine || ""}`.replace(/ +/g, " "));
		if (cpus.length) parts.push(`, ${cpus[0].value[1]} CPUs`);
		if (mem.length) parts.push(`, ${formatValue(Number(mem[0].value[1]), "B")} memory`);
		if (boot.length) parts.push(`, up ${formatDuration(now - Number(boot[0].value[1]))}`);
		box.replaceChildren(...parts);
		box.dataset.lastSeen = last === null ? "" : String(last);
	} catch (e) {
		box.textContent = e.message;
	}
}

async function show() {
	const gen = ++generation;
	document.body.dataset.ready = "0";
	showError("");
	$("h-kind").value = state.kind;
	$("h-name").value = state.name;
	$("h-range").value = state.range;
	$("h-name").placeholder = state.kind + " name";
	if (!state.name) {
		const names = await loadNames(state.kind);
		if (gen !== generation) return;
		if (!names.length) {
			$("h-summary").textContent = `no ${state.kind} label in the data yet`;
			$("h-panels").replaceChildren();
			document.body.dataset.ready = "1";
			return;
		}
		state.name = names[0];
		$("h-name").value = state.name;
		writeState(state, DEFAULTS);
	}
	const span = parseDuration(state.range) || 3600;
	const end = Math.floor(Date.now() / 1000);
	const width = $("h-panels").clientWidth || 1200;
	const cols = Math.max(1, Math.floor(width / 420));
	const step = Math.max(10, niceStep(span / Math.max(60, Math.floor(width / cols / 3))));
	const start = Math.floor((end - span) / step) * step;
	const rate = `${Math.max(60, 4 * step)}s`;
	const sel = `${state.kind === "pool" ? "pool" : "instance"}=${quote(state.name)}`;
	buildPanels();
	await Promise.all([drawSummary(sel), ...PANELS.map((p) => drawPanel(p, sel, start, Math.floor(end / step) * step, step, rate, gen))]);
	if (gen === generation) document.body.dataset.ready = "1";
}

$("h-form").addEventListener("submit", (ev) => {
	ev.preventDefault();
	state.kind = $("h-kind").value;
	state.name = $("h-name").value.trim();
	state.range = $("h-range").value;
	writeState(state, DEFAULTS, true);
	show();
});
$("h-kind").addEventListener("change", () => {
	$("h-name").value = "";
	loadNames($("h-kind").value);
});
window.addEventListener("popstate", () => {
	Object.assign(state, readState(DEFAULTS));
	show();
});
loadNames(state.kind);
show();
