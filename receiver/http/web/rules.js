// rules.js: the rules page (/rules): every rule group (/api/v1/rules)
// with its file, interval, last evaluation and how long it took, and
// each rule's query, health, state and last error. body gets
// data-ready="1" once drawn.
import { api, header, el, formatDuration, formatTime, readState, writeState } from "/vigil.js";

const DEFAULTS = { q: "", errors: false };

header("/rules");
const $ = (id) => document.getElementById(id);
const state = readState(DEFAULTS);
let groups = [];

const secs = (t) => {
	const ms = Date.parse(t);
	return Number.isFinite(ms) && ms > 0 ? ms / 1000 : null;
};

function ago(t) {
	const s = secs(t);
	return s === null ? "never" : formatDuration(Math.max(0, Date.now() / 1000 - s)) + " ago";
}

function ruleRow(r) {
	const health = r.health || "unknown";
	const active = (r.alerts || []).length;
	return el("tr", { dataset: { rule: r.name, health } },
		el("td", {}, el("span", { class: "pg-state " + health }, health)),
		el("td", {}, r.name, el("div", { class: "muted" }, r.type === "alerting" ? "alert" : "recording")),
		el("td", { class: "pg-query" }, r.query),
		el("td", {}, r.type === "alerting"
			? [el("span", { class: "pg-state " + (r.state || "inactive") }, r.state || "inactive"), active ? ` ${active}` : ""]
			: ""),
		el("td", {}, r.type === "alerting" && r.duration ? formatDuration(r.duration) : ""),
		el("td", { title: secs(r.lastEvaluation) ? formatTime(secs(r.lastEvaluation)) : "" }, ago(r.lastEvaluation)),
		el("td", { class: "error-text" }, r.lastError || ""));
}

function draw() {
	const f = state.q.trim().toLowerCase();
	let nRules = 0, nErr = 0;
	const out = [];
	for (const g of groups) {
		const rules = (g.rules || []).filter((r) => (!state.errors || r.health === "err" || r.lastError)
			&& (!f || g.name.toLowerCase().includes(f) || r.name.toLowerCase().includes(f)));
		nRules += (g.rules || []).length;
		nErr += (g.rules || []).filter((r) => r.health === "err").length;
		if (!rules.length && (state.errors || f)) continue;
		out.push(el("section", { class: "pg-group", dataset: { group: g.name } },
			el("h3", {}, g.name,
				el("span", { class: "muted" }, g.file || ""),
				el("span", { class: "muted" }, `every ${formatDuration(g.interval || 0)}`),
				el("span", { class: "muted", title: secs(g.lastEvaluation) ? formatTime(secs(g.lastEvaluation)) : "" },
					`evaluated ${ago(g.lastEvaluation)} in ${formatDuration(g.evaluationTime || 0)}`)),
			el("table", { class: "vg-table" },
				el("thead", {}, el("tr", {}, ["health", "rule", "query", "state", "for", "last evaluation", "error"].map((h) => el("th", {}, h)))),
				el("tbody", {}, rules.map(ruleRow)))));
	}
	$("r-groups").replaceChildren(...out);
	$("r-summary").replaceChildren(el("b", {}, String(groups.length)), " groups, ", el("b", {}, String(nRules)), " rules, ",
		el("b", {}, String(nErr)), " with errors");
}

async function load() {
	document.body.dataset.ready = "0";
	try {
		const r = await api("/api/v1/rules");
		groups = (r.data && r.data.groups) || [];
		$("r-error").hidden = true;
		draw();
	} catch (e) {
		$("r-error").textContent = e.message;
		$("r-error").hidden = false;
	}
	document.body.dataset.ready = "1";
}

$("r-filter").value = state.q;
$("r-errors").checked = state.errors;
for (const id of ["r-filter", "r-errors"]) {
	$(id).addEventListener("input", () => {
		state.q = $("r-filter").value;
		state.errors = $("r-errors").checked;
		writeState(state, DEFAULTS);
		draw();
	});
}
$("r-form").addEventListener("submit", (ev) => ev.preventDefault());
$("r-refresh").addEventListener("click", load);
setInterval(load, 30000);
load();
