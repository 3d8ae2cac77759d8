// silences.js: the silences page (/silences): the notifier's silences
// (GET /api/v2/silences), a form that creates one (POST
// /api/v2/silences; opened with ?new=1&matchers=... from the alerts
// page, its matchers filled in) and an Expire button on each active or
// pending one (DELETE /api/v2/silence/ID). Matchers are written one a
// line as vigil silence add takes them: name="value", name!="value",
// name=~"regex", name!~"regex". body gets data-ready="1" once the list
// is drawn.
import { api, ApiError, header, el, formatDuration, formatTime, parseDuration } from "/vigil.js";

header("/silences");
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
let silences = [];
let lastCreated = null;

// The text of one matcher line into the API's matcher, or throws.
function parseMatcher(line) {
	const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$/.exec(line);
	if (!m) throw new Error(`not a matcher: ${line.trim()} (name="value", name!="value", name=~"re" or name!~"re")`);
	let value = m[3];
	if (value.startsWith('"')) {
		try {
			value = JSON.parse(value);
		} catch (e) {
			throw new Error(`bad quoted value in: ${line.trim()}`);
		}
	}
	return { name: m[1], value, isRegex: m[2].includes("~"), isEqual: !m[2].startsWith("!") };
}

function matcherLabel(m) {
	const op = m.isRegex ? (m.isEqual === false ? "!~" : "=~") : (m.isEqual === false ? "!=" : "=");
	return `${m.name}${op}${JSON.stringify(m.value)}`;
}

function errorText(e) {
	// Alertmanager's API answers errors as a JSON string.
	return e instanceof ApiError ? `the receiver refused: ${e.message}` : e.message;
}

function showError(msg) {
	$("s-error").textContent = msg || "";
	$("s-error").hidden = !msg;
}

function updateUntil() {
	const d = parseDuration($("s-duration").value);
	$("s-until").textContent = d ? "until " + formatTime(Date.now() / 1000 + d) : "not a duration (2h, 30m, 1d)";
}

function openForm(matchers) {
	$("s-form").hidden = false;
	if (matchers !== undefined) $("s-matchers").value = matchers;
	updateUntil();
	($("s-matchers").value ? $("s-comment") : $("s-matchers")).focus();
}

async function create(ev) {
	ev.preventDefault();
	showError("");
	try {
		const lines = $("s-matchers").value.split("\n").filter((l) => l.trim());
		if (!lines.length) throw new Error("a silence needs at least one matcher");
		const matchers = lines.map(parseMatcher);
		const d = parseDuration($("s-duration").value);
		if (!d || d <= 0) throw new Error("the duration is not a duration (2h, 30m, 1d)");
		if (!$("s-comment").value.trim()) throw new Error("say why in the comment");
		const now = Date.now();
		const r = await api("/api/v2/silences", null, {
			method: "POST",
			json: {
				matchers, startsAt: new Date(now).toISOString(), endsAt: new Date(now + d * 1000).toISOString(),
				createdBy: $("s-author").value.trim() || "web", comment: $("s-comment").value.trim(),
			},
		});
		lastCreated = r && r.silenceID;
		$("s-form").hidden = true;
		$("s-comment").value = "";
		history.replaceState(null, "", "/silences");
		await load();
	} catch (e) {
		showError(errorText(e));
	}
}

async function expire(id) {
	showError("");
	try {
		await api("/api/v2/silence/" + encodeURIComponent(id), null, { method: "DELETE" });
		await load();
	} catch (e) {
		showError(errorText(e));
	}
}

const ORDER = { active: 0, pending: 1, expired: 2 };

function draw() {
	const showExpired = $("s-expired").checked;
	const rows = silences.filter((s) => showExpired || (s.status && s.status.state) !== "expired")
		.sort((a, b) => (ORDER[a.status.state] ?? 3) - (ORDER[b.status.state] ?? 3) || String(b.startsAt).localeCompare(String(a.startsAt)));
	const now = Date.now() / 1000;
	$("s-rows").replaceChildren(...rows.map((s) => {
		const st = s.status.state, ends = Date.parse(s.endsAt) / 1000, starts = Date.parse(s.startsAt) / 1000;
		return el("tr", { dataset: { id: s.id, state: st }, class: s.id === lastCreated ? "pg-new" : null },
			el("td", {}, el("span", { class: "pg-state " + st }, st)),
			el("td", { class: "pg-labels" }, (s.matchers || []).map((m) => el("span", {}, matcherLabel(m)))),
			el("td", { title: formatTime(starts) }, starts > now ? "in " + formatDuration(starts - now) : formatTime(starts)),
			el("td", { title: formatTime(ends) }, st === "expired" ? formatTime(ends) : "in " + formatDuration(Math.max(0, ends - now))),
			el("td", {}, s.createdBy || ""),
			el("td", {}, s.comment || ""),
			el("td", { class: "mono" }, s.id),
			el("td", {}, st === "expired" ? "" : el("button", { type: "button", class: "pg-expire", onclick: () => expire(s.id) }, "Expire")));
	}));
	const active = silences.filter((s) => s.status.state === "active").length;
	const pending = silences.filter((s) => s.status.state === "pending").length;
	$("s-summary").replaceChildren(el("b", {}, String(active)), " active, ", el("b", {}, String(pending)), " pending",
		lastCreated ? `; created ${lastCreated}` : "");
}

async function load() {
	document.body.dataset.ready = "0";
	try {
		const r = await api("/api/v2/silences");
		silences = Array.isArray(r) ? r : [];
		draw();
	} catch (e) {
		showError(e.status === 404 ? "no alerting: section in the receiver's configuration: no silences" : errorText(e));
	}
	document.body.dataset.ready = "1";
}

$("s-new").addEventListener("click", () => openForm());
$("s-cancel").addEventListener("click", () => { $("s-form").hidden = true; });
$("s-form").addEventListener("submit", create);
$("s-duration").addEventListener("input", updateUntil);
$("s-expired").addEventListener("change", draw);
$("s-refresh").addEventListener("click", load);
if (params.get("new") === "1") openForm(params.get("matchers") || "");
load();
