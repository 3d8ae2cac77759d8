/*
 * fuzz_exposition.c: libFuzzer target for the Prometheus text exposition
 * parser (common/exposition.c). The first input byte picks the options (a
 * small line bound, a required final newline, an extra label) and a piece
 * size; the rest is the text. It is parsed twice, whole and in pieces of
 * that size, and both parses must call back the same sequence (samples,
 * errors and meta lines, hashed), every series handed out must already be
 * canonical and its key must read back, and no more memory than the line
 * bound may be held whatever the bytes. tests/fuzz/replay.c runs the corpus
 * under make check.
 */
#include "common/buf.h"
#include "common/err.h"
#include "common/exposition.h"
#include "common/series.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct trace {
	uint64_t h;
	uint64_t samples, errors, metas;
	struct vg_buf key;
};

static void mix(struct trace *t, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		t->h = (t->h ^ b[i]) * 0x100000001b3ULL;
}

static int on_sample(void *ctx, const struct vg_exposition_sample *s)
{
	struct trace *t = ctx;
	struct vg_series copy = *s->series, back;
	uint64_t bits;

	/* What the parser hands out is canonical already. */
	if (vg_series_canonicalize(&copy, NULL) != 0 || copy.n_labels != s->series->n_labels)
		abort();
	vg_buf_reset(&t->key);
	vg_series_key(s->series, &t->key);
	if (vg_buf_failed(&t->key) || vg_series_from_key(t->key.data, t->key.len, &back) != 0 ||
	    back.n_labels != s->series->n_labels)
		abort();
	mix(t, t->key.data, t->key.len);
	memcpy(&bits, &s->value, sizeof(bits));
	if (s->value != s->value)
		bits = 1; /* every NaN alike */
	mix(t, &bits, sizeof(bits));
	mix(t, &s->has_timestamp, sizeof(s->has_timestamp));
	mix(t, &s->ts_ms, sizeof(s->ts_ms));
	mix(t, &s->line, sizeof(s->line));
	t->samples++;
	return 0;
}

static int on_error(void *ctx, uint64_t line, int code, const char *reason)
{
	struct trace *t = ctx;

	if (code >= 0 || reason[0] == '\0' || line == 0)
		abort();
	mix(t, &line, sizeof(line));
	mix(t, reason, strlen(reason));
	t->errors++;
	return 0;
}

static int on_meta(void *ctx, const struct vg_exposition_meta *m)
{
	struct trace *t = ctx;

	if (!vg_metric_name_valid(m->name.p, m->name.len))
		abort();
	mix(t, m->name.p, m->name.len);
	if (m->is_help)
		mix(t, m->help.p, m->help.len);
	else
		mix(t, &m->type, sizeof(m->type));
	t->metas++;
	return 0;
}

static void run(const uint8_t *text, size_t len, size_t piece, const struct vg_exposition_config *base,
		struct trace *t)
{
	struct vg_exposition_config cfg = *base;
	struct vg_exposition *p;

	memset(t, 0, sizeof(*t));
	t->h = 0xcbf29ce484222325ULL;
	cfg.ctx = t;
	if (vg_exposition_new(&cfg, &p, NULL) != 0)
		abort();
	for (size_t off = 0; off < len; off += piece)
		if (vg_exposition_feed(p, text + off, len - off < piece ? len - off : piece) != 0)
			abort();
	if (vg_exposition_finish(p) != 0)
		abort();
	if (vg_exposition_stats(p)->samples != t->samples || vg_exposition_stats(p)->errors != t->errors ||
	    vg_exposition_stats(p)->bytes != len)
		abort();
	vg_exposition_free(p);
	vg_buf_release(&t->key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vg_label extra = { vg_str_c("job"), vg_str_c("fuzz") };
	struct vg_exposition_config cfg = { 0 };
	struct trace whole, split;
	size_t piece;

	if (size == 0)
		return 0;
	cfg.max_line_bytes = (data[0] & 1) ? VG_EXPOSITION_MIN_MAX_LINE : 0;
	cfg.needs_final_newline = (data[0] & 2) != 0;
	if (data[0] & 4) {
		cfg.extra_labels = &extra;
		cfg.n_extra_labels = 1;
	}
	cfg.on_sample = on_sample;
	cfg.on_error = on_error;
	cfg.on_meta = on_meta;
	piece = (size_t)(data[0] >> 3) + 1;
	run(data + 1, size - 1, size > 1 ? size - 1 : 1, &cfg, &whole);
	run(data + 1, size - 1, piece, &cfg, &split);
	if (whole.h != split.h || whole.samples != split.samples || whole.errors != split.errors ||
	    whole.metas != split.metas)
		abort();
	return 0;
}
