// status.js: the status page (/status): the receiver's state from
// GET /api/v1/status/vigil (docs/http-status.md): ingest rate, series,
// the WAL, bytes on disk, the blocks of each tier, queries, build and
// members; again every 10 s. body gets data-ready="1" once drawn.
import { api, header, el, formatDuration, formatTime, formatValue } from "/vigil.js";

header("/status");
const $ = (id) => document.getElementById(id);

function card(id, key, value, detail, isBad) {
	return el("div", { class: "pg-card" + (isBad ? " bad" : ""), id: "st-" + id },
		el("div", { class: "k" }, key), el("div", { class: "v" }, value), el("div", { class: "d" }, detail || ""));
}

function draw(d) {
	const i = d.ingest, w = d.wal;
	$("st-summary").replaceChildren("vigil ", el("b", {}, d.version), `, up ${formatDuration(d.time - d.startTime)} (since ${formatTime(d.startTime)})`);
	$("st-cards").replaceChildren(
		card("rate", "ingest", formatValue(i.samplesPerSecond) + " samples/s", `over the last ${formatDuration(i.rateWindowSeconds)}; ${formatValue(i.samplesReceived)} since start`),
		card("agents", "agents connected", String(i.connectionsOpen), `${formatValue(i.bytesReceived, "B")} received, ${i.decodeErrors} frames refused`, i.decodeErrors > 0),
		card("series", "series in memory", formatValue(d.head.series), `${formatValue(d.head.samples)} samples; ${formatValue(i.seriesCreated)} created, ${i.seriesRefused} refused`, i.seriesRefused > 0),
		card("refused", "samples refused", String(i.samplesTooOld + i.samplesTooNew), `${i.samplesTooOld} too old, ${i.samplesTooNew} too new, ${i.samplesDuplicate} duplicate`, i.samplesTooOld + i.samplesTooNew > 0),
		card("wal", "write-ahead log", w.failing ? "FAILING" : "writing", `${formatValue(w.bytesWritten, "B")} written, ${w.syncs} syncs, ${w.syncErrors} errors, ${w.recoveries} recoveries`, w.failing || w.syncErrors > 0),
		card("disk", "blocks on disk", formatValue(d.blockBytes, "B"), `${d.tiers.reduce((n, t) => n + t.blocks, 0)} blocks, ${d.damagedBlocks} damaged`, d.damagedBlocks > 0),
		card("queries", "queries", `${d.queries.running} running`, `${d.queries.queued} queued`));
	$("st-tier-rows").replaceChildren(...d.tiers.map((t) => el("tr", { dataset: { tier: t.tier } },
		el("td", {}, t.tier), el("td", { class: "num" }, String(t.blocks)), el("td", { class: "num" }, formatValue(t.bytes, "B")),
		el("td", { class: "num" }, formatValue(t.points)), el("td", { class: "num" }, formatValue(t.series)),
		el("td", {}, t.oldestTime === null ? "" : formatTime(t.oldestTime)), el("td", {}, t.newestTime === null ? "" : formatTime(t.newestTime)))));
	$("st-members").replaceChildren(d.members.length
		? el("table", { class: "vg-table" }, el("tbody", {}, d.members.map((m) => el("tr", {}, el("td", {}, m.name || ""), el("td", {}, m.state || "")))))
		: el("p", { class: "muted" }, "No cluster: this receiver stands alone."));
}

async function load() {
	try {
		const r = await api("/api/v1/status/vigil");
		$("st-error").hidden = true;
		draw(r.data);
	} catch (e) {
		$("st-error").textContent = e.message;
		$("st-error").hidden = false;
	}
	document.body.dataset.ready = "1";
}

setInterval(load, 10000);
load();
