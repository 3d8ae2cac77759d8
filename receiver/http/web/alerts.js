// alerts.js: the alerts page (/alerts): the firing and pending alerts of
// the receiver's rules (/api/v1/alerts) with their age and value, joined
// with the notifier's view (/api/v2/alerts, when there is an alerting:
// section) for silence and acknowledgement. "Silence" opens the silences
// page with a new silence's matchers filled in from the alert's labels.
// body gets data-ready="1" once the table is drawn.
import { api, header, el, formatDuration, formatTime, readState, writeState } from "/vigil.js";

const DEFAULTS = { q: "", pending: true, silenced: true };

header("/alerts");
const $ = (id) => document.getElementById(id);
const state = readState(DEFAULTS);
let alerts = [];

// One key per label set, for joining the two APIs' alerts.
const labelKey = (labels) => JSON.stringify(Object.keys(labels || {}).sort().map((k) => [k, labels[k]]));

// A silence's matchers for exactly these labels, one a line, in the
// text the silences page (and vigil silence add) reads.
function matchersText(labels) {
	return Object.keys(labels).sort((a, b) => (a === "alertname" ? -1 : b === "alertname" ? 1 : a < b ? -1 : a > b ? 1 : 0))
		.map((k) => `${k}=${JSON.stringify(labels[k])}`).join("\n");
}

async function fetchAlerts() {
	const [v1, v2] = await Promise.all([
		api("/api/v1/alerts"),
		api("/api/v2/alerts", { active: true, silenced: true, inhibited: true }).catch(() => null),
	]);
	const notified = new Map();
	for (const a of Array.isArray(v2) ? v2 : []) notified.set(labelKey(a.labels), a);
	return ((v1.data && v1.data.alerts) || []).map((a) => {
		const n = notified.get(labelKey(a.labels));
		const st = (n && n.status) || {};
		const silencedBy = a.silencedBy || st.silencedBy || [];
		const inhibitedBy = a.inhibitedBy || st.inhibitedBy || [];
		// The acknowledgement, when the answer carries one (Vigil's acks).
		let ack = null;
		if (a.ack) ack = a.ack.createdBy || a.ack.id || "yes";
		else if (st.acknowledgedBy && st.acknowledgedBy.length) ack = st.acknowledgedBy.join(", ");
		return { ...a, silencedBy, inhibitedBy, ack };
	});
}

function labelsCell(labels) {
	return el("td", { class: "pg-labels" }, Object.keys(labels).sort().filter((k) => k !== "alertname")
		.map((k) => el("span", {}, `${k}=${labels[k]}`)));
}

function draw() {
	const f = state.q.trim().toLowerCase();
	const now = Date.now() / 1000;
	const rows = alerts.filter((a) => (state.pending || a.state !== "pending") && (state.silenced || !a.silencedBy.length)
		&& (!f || JSON.stringify(a.labels).toLowerCase().includes(f)))
		.sort((a, b) => (a.state === b.state ? 0 : a.state === "firing" ? -1 : 1) || String(a.activeAt).localeCompare(String(b.activeAt)));
	$("a-rows").replaceChildren(...rows.map((a) => {
		const active = Date.parse(a.activeAt) / 1000;
		const href = "/silences?new=1&matchers=" + encodeURIComponent(matchersText(a.labels));
		return el("tr", { dataset: { alertname: a.labels.alertname || "", state: a.state } },
			el("td", {}, el("span", { class: "pg-state " + a.state }, a.state)),
			el("td", {}, a.labels.alertname || ""),
			labelsCell(a.labels),
			el("td", { class: "num", title: Number.isFinite(active) ? formatTime(active) : "" }, Number.isFinite(active) ? formatDuration(Math.max(0, now - active)) : ""),
			el("td", { class: "num" }, a.value === undefined ? "" : String(a.value)),
			el("td", {}, a.silencedBy.length ? el("a", { href: "/silences", title: a.silencedBy.join(", ") }, "silenced")
				: a.inhibitedBy.length ? "inhibited" : ""),
			el("td", {}, a.ack || ""),
			el("td", {}, el("a", { href, class: "pg-silence-link" }, "Silence…")));
	}));
	const firing = alerts.filter((a) => a.state === "firing").length;
	$("a-summary").replaceChildren(el("b", {}, String(firing)), " firing, ", el("b", {}, String(alerts.length - firing)), " pending",
		rows.length !== alerts.length ? `, ${rows.length} shown` : "");
}

async function load() {
	document.body.dataset.ready = "0";
	try {
		alerts = await fetchAlerts();
		$("a-error").hidden = true;
		draw();
	} catch (e) {
		$("a-error").textContent = e.message;
		$("a-error").hidden = false;
	}
	document.body.dataset.ready = "1";
}

$("a-filter").value = state.q;
$("a-pending").checked = state.pending;
$("a-silenced").checked = state.silenced;
for (const id of ["a-filter", "a-pending", "a-silenced"]) {
	$(id).addEventListener("input", () => {
		state.q = $("a-filter").value;
		state.pending = $("a-pending").checked;
		state.silenced = $("a-silenced").checked;
		writeState(state, DEFAULTS);
		draw();
	});
}
$("a-form").addEventListener("submit", (ev) => ev.preventDefault());
$("a-refresh").addEventListener("click", load);
setInterval(load, 30000);
load();
