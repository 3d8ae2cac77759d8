/*
 * fuzz_statsd.c: libFuzzer target for the StatsD parser (agent/collect/statsd.c)
 * and the aggregate behind it (agent/aggregate.c). The input is one
 * datagram. Every line is counted once (good, ignored or bad); every good
 * line has a valid metric name, valid tag names, 1..VG_STATSD_MAX_VALUES
 * samples with finite values and positive rates; the datagram is parsed
 * again line by line with the same counts; the aggregate, bounded at 8
 * keys and computing quantiles, never holds more, and every series it
 * flushes is canonical. Between the two passes the aggregate is
 * reconfigured as a reload would (other bounds, a lower limit, no
 * quantiles, a fast gauge): it keeps the keys it held and takes no new
 * one beyond the new limit.
 * tests/fuzz/replay.c runs the corpus under make check.
 */
#include "agent/aggregate.h"
#include "agent/collect/collect.h"
#include "agent/collect/statsd.h"
#include "common/series.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	struct vg_aggregate *agg;
	uint64_t good;
};

static struct vg_statsd_line line;

static void check_line(void *arg, const struct vg_statsd_line *l)
{
	struct ctx *c = arg;

	if (!vg_metric_name_valid(l->name.p, l->name.len) || l->name.len > VG_STATSD_MAX_NAME)
		abort();
	if (l->n_samples == 0 || l->n_samples > VG_STATSD_MAX_VALUES || l->n_tags > VG_STATSD_MAX_TAGS)
		abort();
	for (uint32_t i = 0; i < l->n_tags; i++)
		if (!vg_label_name_valid(l->tags[i].name.p, l->tags[i].name.len))
			abort();
	for (uint32_t i = 0; i < l->n_samples; i++) {
		const struct vg_statsd_sample *s = &l->samples[i];
		if (!isfinite(s->value) || !(s->rate > 0) || !isfinite(s->rate))
			abort();
		if (s->type == VG_STATSD_SET && s->text.len == 0)
			abort();
	}
	c->good++;
	vg_aggregate_add(c->agg, l);
}

static int sink_add(void *arg, struct vg_series *s, double value)
{
	(void)arg;
	(void)value;
	if (vg_series_canonicalize(s, NULL) != 0)
		abort();
	return 0;
}

static uint64_t total(const struct vg_statsd_counts *c)
{
	uint64_t n = c->lines + c->ignored;

	for (int r = 0; r < VG_STATSD_N_REASONS; r++)
		n += c->bad[r];
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const double q[] = { 0.5, 0.99, 1 }, bounds[] = { 0.5, 5 };
	static const char *const fast[] = { "a" };
	struct vg_aggregate_options o = { .max_series = 8, .quantiles = q, .n_quantiles = 3 };
	struct vg_aggregate_options r = { .max_series = 4, .bounds = bounds, .n_bounds = 2, .fast_gauges = fast,
					  .n_fast_gauges = 1 };
	uint64_t held;
	struct vg_sample_sink sink = { sink_add, NULL };
	struct vg_statsd_counts whole, split;
	struct vg_aggregate_stats st;
	struct ctx c = { NULL, 0 };
	const char *p = (const char *)data;
	uint64_t nonempty = 0;

	if (vg_aggregate_new(&o, &c.agg, NULL) != 0)
		abort();
	memset(&whole, 0, sizeof(whole));
	memset(&split, 0, sizeof(split));
	vg_statsd_parse_packet(p, size, &line, check_line, &c, &whole);
	if (whole.lines != c.good)
		abort();
	vg_aggregate_get_stats(c.agg, &st);
	held = st.series;
	if (vg_aggregate_flush(c.agg, &sink) != 0 || vg_aggregate_reconfigure(c.agg, &r, NULL) != 0)
		abort();
	for (size_t i = 0; i < size;) {
		const char *nl = memchr(p + i, '\n', size - i);
		size_t end = nl ? (size_t)(nl - p) : size;
		if (end > i && !(end - i == 1 && p[i] == '\r'))
			nonempty++;
		vg_statsd_parse_packet(p + i, end - i, &line, check_line, &c, &split);
		i = end + 1;
	}
	if (total(&whole) != nonempty || memcmp(&whole, &split, sizeof(whole)) != 0)
		abort();
	vg_aggregate_sample_fast(c.agg);
	vg_aggregate_get_stats(c.agg, &st);
	if (st.series > 8 || st.series > (held > 4 ? held : 4))
		abort();
	if (vg_aggregate_flush(c.agg, &sink) != 0 || vg_aggregate_flush(c.agg, &sink) != 0)
		abort();
	vg_aggregate_free(c.agg);
	return 0;
}
