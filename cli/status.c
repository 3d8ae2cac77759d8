/*
 * status.c: `vigil status` (status.h). Figures are shown as the chart
 * shows them (cli/chart.h: 1.5k, 2GiB, 3h), so a terminal line stays
 * short; -o json gives the exact numbers.
 */
#include "cli/status.h"

#include "cli/chart.h"
#include "cli/http.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/banned.h"

#define STATUS_PATH "/api/v1/status/vigil"

static const struct vg_chart_unit_info unit_si = { VG_CHART_UNIT_SI, false };
static const struct vg_chart_unit_info unit_bytes = { VG_CHART_UNIT_BYTES, false };
static const struct vg_chart_unit_info unit_seconds = { VG_CHART_UNIT_SECONDS, false };

/* A number of obj (a missing one is NaN, shown as such). */
static double num(const json_t *obj, const char *name)
{
	const json_t *v = json_object_get(obj, name);

	return json_is_number(v) ? json_number_value(v) : NAN;
}

static void fig(struct vg_buf *out, double v, struct vg_chart_unit_info u)
{
	vg_chart_format_value(out, v, u, 3);
}

/* Unix seconds as RFC 3339, or "-" for null. */
static void when(struct vg_buf *out, const json_t *v)
{
	char txt[40];

	if (!json_is_number(v)) {
		vg_buf_puts(out, "-");
		return;
	}
	vg_time_format_rfc3339((int64_t)llround(json_number_value(v) * 1000.0), txt, sizeof(txt));
	vg_buf_puts(out, txt);
}

static void tiers_table(struct vg_buf *out, const json_t *tiers, bool is_csv)
{
	size_t i;
	const json_t *t;

	vg_buf_puts(out, is_csv ? "tier,blocks,bytes,points,series,oldest,newest\n"
				: "TIER  BLOCKS  BYTES      POINTS     SERIES     OLDEST                    NEWEST\n");
	json_array_foreach(tiers, i, t) {
		const char *name = json_string_value(json_object_get(t, "tier"));
		struct vg_buf cell = VG_BUF_INIT;

		if (is_csv) {
			vg_buf_printf(out, "%s,%.0f,%.0f,%.0f,%.0f,", name ? name : "", num(t, "blocks"),
				      num(t, "bytes"), num(t, "points"), num(t, "series"));
			when(out, json_object_get(t, "oldestTime"));
			vg_buf_putc(out, ',');
			when(out, json_object_get(t, "newestTime"));
			vg_buf_putc(out, '\n');
			continue;
		}
		vg_buf_printf(out, "%-4s  %6.0f  ", name ? name : "?", num(t, "blocks"));
		fig(&cell, num(t, "bytes"), unit_bytes);
		vg_buf_printf(out, "%-9s  ", vg_buf_cstr(&cell));
		vg_buf_reset(&cell);
		fig(&cell, num(t, "points"), unit_si);
		vg_buf_printf(out, "%-9s  ", vg_buf_cstr(&cell));
		vg_buf_reset(&cell);
		fig(&cell, num(t, "series"), unit_si);
		vg_buf_printf(out, "%-9s  ", vg_buf_cstr(&cell));
		vg_buf_reset(&cell);
		when(&cell, json_object_get(t, "oldestTime"));
		vg_buf_printf(out, "%-24s  ", vg_buf_cstr(&cell));
		when(out, json_object_get(t, "newestTime"));
		vg_buf_putc(out, '\n');
		vg_buf_release(&cell);
	}
}

static void render_table(struct vg_buf *out, const char *server, const json_t *d)
{
	const json_t *in = json_object_get(d, "ingest"), *head = json_object_get(d, "head");
	const json_t *wal = json_object_get(d, "wal"), *q = json_object_get(d, "queries");
	const json_t *members = json_object_get(d, "members");
	const char *version = json_string_value(json_object_get(d, "version"));

	vg_buf_printf(out, "receiver  %s, vigil %s, up ", server, version ? version : "?");
	fig(out, num(d, "time") - num(d, "startTime"), unit_seconds);
	vg_buf_puts(out, " (since ");
	when(out, json_object_get(d, "startTime"));
	vg_buf_puts(out, ")\ningest    ");
	fig(out, num(in, "samplesPerSecond"), unit_si);
	vg_buf_puts(out, " samples/s over ");
	fig(out, num(in, "rateWindowSeconds"), unit_seconds);
	vg_buf_printf(out, ", %.0f samples received, %.0f agents connected, %.0f duplicate, %.0f too old, "
			   "%.0f too new, %.0f frames refused\n",
		      num(in, "samplesReceived"), num(in, "connectionsOpen"), num(in, "samplesDuplicate"),
		      num(in, "samplesTooOld"), num(in, "samplesTooNew"), num(in, "decodeErrors"));
	vg_buf_printf(out, "series    %.0f in the head (%.0f samples), %.0f created, %.0f refused\n",
		      num(head, "series"), num(head, "samples"), num(in, "seriesCreated"), num(in, "seriesRefused"));
	vg_buf_puts(out, "wal       ");
	vg_buf_puts(out, json_is_true(json_object_get(wal, "failing")) ? "FAILING (batches refused), " : "writing, ");
	fig(out, num(wal, "bytesWritten"), unit_bytes);
	vg_buf_printf(out, " written, %.0f syncs, %.0f errors, %.0f recoveries\n", num(wal, "syncs"),
		      num(wal, "syncErrors"), num(wal, "recoveries"));
	vg_buf_puts(out, "blocks    ");
	fig(out, num(d, "blockBytes"), unit_bytes);
	vg_buf_printf(out, " on disk, %.0f damaged\n", num(d, "damagedBlocks"));
	vg_buf_printf(out, "queries   %.0f running, %.0f queued\n", num(q, "running"), num(q, "queued"));
	if (json_array_size(members) == 0) {
		vg_buf_puts(out, "members   none: a single receiver\n");
	} else {
		size_t i;
		const json_t *m;

		vg_buf_puts(out, "members  ");
		json_array_foreach(members, i, m) {
			const char *name = json_string_value(json_object_get(m, "name"));
			const char *state = json_string_value(json_object_get(m, "state"));
			vg_buf_printf(out, " %s (%s)", name ? name : "?", state ? state : "?");
		}
		vg_buf_putc(out, '\n');
	}
	vg_buf_putc(out, '\n');
	tiers_table(out, json_object_get(d, "tiers"), false);
}

int vg_cli_status(const struct vg_http_client *client, enum vg_output_format format, struct vg_buf *out,
		  struct vg_err *err)
{
	json_t *doc = NULL, *d;
	int rc = vg_http_get(client, STATUS_PATH, NULL, 0, &doc, err);

	if (rc != 0)
		return rc;
	d = json_object_get(doc, "data");
	if (!json_is_object(d) || !json_is_array(json_object_get(d, "tiers")) ||
	    !json_is_object(json_object_get(d, "ingest"))) {
		json_decref(doc);
		return vg_err_set(err, VG_EPROTO, "unexpected response from %s%s", client->server, STATUS_PATH);
	}
	if (format == VG_OUTPUT_JSON) {
		char *s = json_dumps(d, JSON_COMPACT);
		if (s == NULL) {
			json_decref(doc);
			return vg_err_set(err, VG_ENOMEM, "out of memory");
		}
		vg_buf_puts(out, s);
		vg_buf_putc(out, '\n');
		free(s);
	} else if (format == VG_OUTPUT_CSV) {
		tiers_table(out, json_object_get(d, "tiers"), true);
	} else {
		render_table(out, client->server, d);
	}
	json_decref(doc);
	return 0;
}
