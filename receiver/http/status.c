/*
 * status.c: the answer of GET /api/v1/status/vigil (status.h; the fields
 * in docs/http-status.md). Counters are read relaxed, one by one, as
 * /metrics reads them: an answer is each figure's recent value, not one
 * instant's snapshot of all.
 */
#include "config.h" /* PACKAGE_VERSION */

#include "receiver/http/status.h"
#include "receiver/stats.h"
#include "receiver/storage/block.h"
#include "receiver/storage/head.h"
#include "receiver/storage/storage.h"
#include "common/buf.h"
#include "common/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>

#include "common/banned.h"

void vg_status_rate_init(struct vg_status_rate *r, int64_t start_ms)
{
	r->ms[0] = start_ms;
	r->samples[0] = 0;
	r->n = 1;
	r->next = 1;
}

void vg_status_rate_tick(struct vg_status_rate *r, int64_t now_ms, uint64_t samples)
{
	r->ms[r->next] = now_ms;
	r->samples[r->next] = samples;
	r->next = (r->next + 1) % VG_STATUS_RATE_SLOTS;
	if (r->n < VG_STATUS_RATE_SLOTS)
		r->n++;
}

double vg_status_rate_get(const struct vg_status_rate *r, int64_t now_ms, uint64_t samples,
			  int64_t *window_ms)
{
	/* The oldest point: slot 0 until the ring is full, then next. */
	unsigned oldest = r->n < VG_STATUS_RATE_SLOTS ? 0 : r->next;
	int64_t span = now_ms - r->ms[oldest];

	*window_ms = 0;
	if (r->n == 0 || span <= 0 || samples < r->samples[oldest])
		return 0;
	*window_ms = span;
	return (double)(samples - r->samples[oldest]) * 1000.0 / (double)span;
}

static uint64_t load(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static void field_u64(struct vg_buf *b, const char *name, uint64_t v, bool is_last)
{
	vg_buf_printf(b, "\"%s\":%" PRIu64 "%s", name, v, is_last ? "" : ",");
}

/* A JSON number (not the quoted string of a sample value); every figure
 * here is finite. */
static void put_num(struct vg_buf *b, double v)
{
	char txt[32];

	vg_fmt_value(isfinite(v) ? v : 0, txt, sizeof(txt));
	vg_buf_puts(b, txt);
}

static void field_num(struct vg_buf *b, const char *name, double v)
{
	vg_buf_printf(b, "\"%s\":", name);
	put_num(b, v);
	vg_buf_putc(b, ',');
}

/* Unix seconds, or null for 0 (no block). */
static void field_time(struct vg_buf *b, const char *name, int64_t ms, bool is_last)
{
	vg_buf_printf(b, "\"%s\":", name);
	if (ms == 0)
		vg_buf_puts(b, "null");
	else
		put_num(b, (double)ms / 1000.0);
	if (!is_last)
		vg_buf_putc(b, ',');
}

void vg_status_render(const struct vg_status_src *src, struct vg_buf *out)
{
	const struct vg_stats *st = src->stats;
	uint64_t received = load(&st->samples_received);
	struct vg_storage_stats ss;
	int64_t window_ms;
	double rate = vg_status_rate_get(src->rate, src->now_ms, received, &window_ms);
	uint64_t bytes = 0;

	vg_storage_stats(src->storage, &ss);
	vg_buf_puts(out, "{\"status\":\"success\",\"data\":{\"version\":");
	vg_json_cstr(out, PACKAGE_VERSION);
	vg_buf_putc(out, ',');
	field_time(out, "startTime", st->start_time_ms, false);
	field_time(out, "time", src->now_ms, false);

	vg_buf_puts(out, "\"ingest\":{");
	field_u64(out, "samplesReceived", received, false);
	field_num(out, "samplesPerSecond", rate);
	field_num(out, "rateWindowSeconds", (double)window_ms / 1000.0);
	field_u64(out, "samplesDuplicate", load(&st->samples_duplicate), false);
	field_u64(out, "samplesTooOld", load(&st->samples_too_old), false);
	field_u64(out, "samplesTooNew", load(&st->samples_too_new), false);
	field_u64(out, "seriesCreated", load(&st->series_created), false);
	field_u64(out, "seriesRefused", load(&st->series_refused), false);
	field_u64(out, "bytesReceived", load(&st->bytes_received), false);
	field_u64(out, "decodeErrors", load(&st->decode_errors), false);
	vg_buf_printf(out, "\"connectionsOpen\":%" PRId64 "},",
		      atomic_load_explicit(&st->connections_open, memory_order_relaxed));

	vg_buf_puts(out, "\"head\":{");
	field_u64(out, "series", src->head ? vg_head_num_series(src->head) : 0, false);
	field_u64(out, "samples", src->head ? vg_head_num_samples(src->head) : 0, true);
	vg_buf_puts(out, "},\"wal\":{");
	field_u64(out, "bytesWritten", load(&st->wal_bytes), false);
	field_u64(out, "syncs", load(&st->wal_syncs), false);
	field_u64(out, "syncErrors", load(&st->wal_sync_errors), false);
	field_u64(out, "recoveries", load(&st->wal_recoveries), false);
	vg_buf_printf(out, "\"failing\":%s},", load(&st->wal_failing) ? "true" : "false");

	vg_buf_puts(out, "\"tiers\":[");
	for (int t = 0; t < VG_TIER_COUNT; t++) {
		const struct vg_storage_tier_stats *ts = &ss.tier[t];

		vg_buf_puts(out, t ? ",{\"tier\":" : "{\"tier\":");
		vg_json_cstr(out, vg_tier_name(t));
		vg_buf_putc(out, ',');
		field_u64(out, "blocks", ts->blocks, false);
		field_u64(out, "bytes", ts->bytes, false);
		field_u64(out, "points", ts->points, false);
		field_u64(out, "series", ts->series, false);
		field_time(out, "oldestTime", ts->oldest_ms, false);
		field_time(out, "newestTime", ts->newest_ms, true);
		vg_buf_putc(out, '}');
		bytes += ts->bytes;
	}
	vg_buf_puts(out, "],");
	field_u64(out, "blockBytes", bytes, false);
	field_u64(out, "damagedBlocks", ss.damaged_blocks, false);
	vg_buf_printf(out, "\"queries\":{\"running\":%u,\"queued\":%u},", src->queries_running,
		      src->queries_queued);
	/* No cluster membership yet: a receiver stands alone. */
	vg_buf_puts(out, "\"members\":[]}}");
}
