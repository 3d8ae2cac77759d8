/*
 * fuzz_rollup.c: libFuzzer target for the rollup buckets and their block
 * columns (receiver/storage/rollup.c).
 *
 * Input layout: byte 0 picks what the rest is (byte 0 mod 2):
 *   0  eight rollup columns: eight 2-byte big-endian lengths, then the
 *      column bytes back to back (the last column takes what is left);
 *      decoded as one block series' columns, 1m wide;
 *   1  samples, 10 bytes each: a 2-byte big-endian timestamp step (0 is
 *      skipped: timestamps must rise) and 8 bytes of value bits; their 1m
 *      and 1h buckets are computed, encoded and decoded again, and must
 *      come back bit for bit; 1h from 1m must match 1h from the samples
 *      in count, first and last.
 * Checked: the decoder never crashes or reads outside its input (each
 * column is an exact-size copy) and reports errors with a message; every
 * encode decodes to exactly what went in.
 */
#include "config.h"

#include "common/buf.h"
#include "common/err.h"
#include "receiver/storage/rollup.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SAMPLES 20000

static void decode_columns(const uint8_t *p, size_t len)
{
	struct vg_block_col cols[VG_BLOCK_ROLLUP_COLUMNS];
	uint8_t *copies[VG_BLOCK_ROLLUP_COLUMNS];
	struct vg_buckets out = { 0 };
	struct vg_err err;
	size_t at = 2 * VG_BLOCK_ROLLUP_COLUMNS;

	if (len < at)
		return;
	for (int c = 0; c < VG_BLOCK_ROLLUP_COLUMNS; c++) {
		size_t n = (size_t)p[2 * c] << 8 | p[2 * c + 1];
		if (c == VG_BLOCK_ROLLUP_COLUMNS - 1 || n > len - at)
			n = len - at;
		copies[c] = malloc(n ? n : 1);
		if (copies[c] == NULL)
			abort();
		memcpy(copies[c], p + at, n);
		cols[c] = (struct vg_block_col){ copies[c], n };
		at += n;
	}
	err.msg[0] = '\0';
	if (vg_rollup_decode(cols, 60000, &out, &err) != 0 && err.msg[0] == '\0')
		abort();
	vg_buckets_release(&out);
	for (int c = 0; c < VG_BLOCK_ROLLUP_COLUMNS; c++)
		free(copies[c]);
}

static void round_trip(const struct vg_bucket *b, size_t n, int64_t width)
{
	struct vg_buf buf = VG_BUF_INIT;
	struct vg_buckets out = { 0 };
	size_t offs[VG_BLOCK_ROLLUP_COLUMNS], lens[VG_BLOCK_ROLLUP_COLUMNS];
	struct vg_block_col cols[VG_BLOCK_ROLLUP_COLUMNS];
	struct vg_err err;

	if (vg_rollup_encode(b, n, &buf, offs, lens) != 0)
		abort();
	for (int c = 0; c < VG_BLOCK_ROLLUP_COLUMNS; c++)
		cols[c] = (struct vg_block_col){ buf.data + offs[c], lens[c] };
	if (vg_rollup_decode(cols, width, &out, &err) != 0 || out.n != n ||
	    (n && memcmp(out.v, b, n * sizeof(*b)) != 0))
		abort();
	vg_buckets_release(&out);
	vg_buf_release(&buf);
}

static void samples(const uint8_t *p, size_t len)
{
	size_t n = 0, cap = len / 10;
	int64_t *ts, t = 1700000000000LL;
	double *v;
	struct vg_buckets m = { 0 }, h = { 0 }, hc = { 0 };

	if (cap > MAX_SAMPLES)
		cap = MAX_SAMPLES;
	ts = malloc((cap ? cap : 1) * sizeof(*ts));
	v = malloc((cap ? cap : 1) * sizeof(*v));
	if (ts == NULL || v == NULL)
		abort();
	for (size_t i = 0; i < cap; i++) {
		unsigned step = (unsigned)p[10 * i] << 8 | p[10 * i + 1];
		uint64_t bits = 0;
		if (step == 0)
			continue;
		for (int k = 0; k < 8; k++)
			bits = bits << 8 | p[10 * i + 2 + k];
		t += (int64_t)step * 1000;
		ts[n] = t;
		memcpy(&v[n], &bits, 8);
		n++;
	}
	if (vg_rollup_compute(ts, v, n, 60000, &m) != 0 || vg_rollup_compute(ts, v, n, 3600000, &h) != 0 ||
	    vg_rollup_coarsen(m.v, m.n, 3600000, &hc) != 0)
		abort();
	round_trip(m.v, m.n, 60000);
	round_trip(h.v, h.n, 3600000);
	if (hc.n != h.n)
		abort();
	for (size_t i = 0; i < h.n; i++)
		if (hc.v[i].t_ms != h.v[i].t_ms || hc.v[i].count != h.v[i].count ||
		    memcmp(&hc.v[i].first, &h.v[i].first, 8) != 0 || memcmp(&hc.v[i].last, &h.v[i].last, 8) != 0)
			abort();
	vg_buckets_release(&m);
	vg_buckets_release(&h);
	vg_buckets_release(&hc);
	free(ts);
	free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] % 2 == 0)
		decode_columns(data + 1, size - 1);
	else
		samples(data + 1, size - 1);
	return 0;
}
