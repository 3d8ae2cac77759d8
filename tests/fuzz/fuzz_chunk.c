/*
 * fuzz_chunk.c: libFuzzer target for the sample codecs
 * (receiver/storage/chunk.c).
 *
 * Input layout: byte 0 picks what the rest is (byte 0 mod 5):
 *   0  a head chunk, decoded to its end, one sample at a time and at once
 *      (vg_chunk_decode: the same samples, the same failure);
 *   1  a timestamp column, 2 an integer column, 3 a value column (also
 *      against a reference column of i / 4), each decoded into an array of
 *      the count the column claims (at most 65536);
 *   4  samples, 10 bytes each: a 2-byte big-endian timestamp step (0 is
 *      refused by the encoder, as a repeat must be) and 8 bytes of value
 *      bits; they are appended to a head chunk (cut when full), every
 *      prefix decoded from a copy (both ways) and compared bit for bit, the chunk
 *      finished and compared again, and the same samples round-trip
 *      through the ts, i64 and f64 column encoders, and the f64 column
 *      against itself and against the values one place later as reference;
 *      the first VG_CHUNK_MAX_MERGED also as one merged chunk in columns.
 * Checked: decoders never crash or read outside the input (each case runs
 * on an exact-size copy), report errors with a message, and every encode
 * decodes to exactly what went in.
 */
#include "config.h"

#include "common/buf.h"
#include "common/err.h"
#include "receiver/storage/chunk.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COL 65536

static uint64_t bits_of(double v)
{
	uint64_t u;

	memcpy(&u, &v, 8);
	return u;
}

/* Decodes with the iterator, then with vg_chunk_decode (all of it, and
 * up to a time within it): the same samples bit for bit, the same
 * failure. */
static void decode_chunk(const uint8_t *p, size_t len)
{
	int64_t ts[VG_CHUNK_MAX_MERGED], ts2[VG_CHUNK_MAX_MERGED];
	double vs[VG_CHUNK_MAX_MERGED], vs2[VG_CHUNK_MAX_MERGED];
	struct vg_chunk_it it;
	struct vg_err err;
	int64_t t, last = INT64_MIN;
	double v;
	int rc, rc2, n = 0;
	size_t n2;

	if (vg_chunk_it_init(&it, p, len, &err) != 0) {
		if (err.msg[0] == 0)
			abort();
		if (vg_chunk_decode(p, len, INT64_MAX, SIZE_MAX, ts2, vs2, &n2, &err) == 0 || n2 != 0)
			abort();
		return;
	}
	while ((rc = vg_chunk_it_next(&it, &t, &v)) == 1) {
		if (n++ > 0 && t <= last)
			abort(); /* timestamps always rise */
		if (n > VG_CHUNK_MAX_MERGED)
			abort();
		ts[n - 1] = t;
		vs[n - 1] = v;
		last = t;
	}
	if (rc < 0 && err.msg[0] == 0)
		abort();
	memset(&err, 0, sizeof(err));
	rc2 = vg_chunk_decode(p, len, INT64_MAX, SIZE_MAX, ts2, vs2, &n2, &err);
	if ((rc < 0) != (rc2 != 0) || (rc2 != 0 && err.msg[0] == 0))
		abort();
	if (rc2 == 0) {
		if (n2 != (size_t)n)
			abort();
		for (size_t i = 0; i < n2; i++)
			if (ts2[i] != ts[i] || bits_of(vs2[i]) != bits_of(vs[i]))
				abort();
		/* up to the middle sample's time, and at most a third */
		if (n > 0) {
			size_t want = 0, lim = (size_t)n / 3;
			for (int i = 0; i < n && ts[i] <= ts[n / 2]; i++)
				want++;
			if (vg_chunk_decode(p, len, ts[n / 2], SIZE_MAX, ts2, vs2, &n2, &err) != 0 || n2 != want)
				abort();
			if (vg_chunk_decode(p, len, INT64_MAX, lim, ts2, vs2, &n2, &err) != 0 || n2 != lim)
				abort();
			for (size_t i = 0; i < n2; i++)
				if (ts2[i] != ts[i] || bits_of(vs2[i]) != bits_of(vs[i]))
					abort();
		}
	}
}

static void decode_col(const uint8_t *p, size_t len, int kind)
{
	struct vg_err err;
	size_t n;
	void *out;
	long rc;

	if (vg_col_count(p, len, &n, &err) != 0 || n > MAX_COL)
		return;
	if ((out = malloc(n ? n * 8 : 1)) == NULL)
		return;
	rc = kind == 1 ? vg_col_decode_ts(p, len, out, n, &err)
	   : kind == 2 ? vg_col_decode_i64(p, len, out, n, &err)
		       : vg_col_decode_f64(p, len, out, n, &err);
	if (rc > (long)len || rc == 0 || (rc < 0 && err.msg[0] == 0))
		abort();
	if (kind == 3) {
		/* against a reference of small decimals: i / 4 */
		double *ref = malloc(n ? n * 8 : 1);
		for (size_t i = 0; ref && i < n; i++)
			ref[i] = (double)i / 4;
		rc = ref ? vg_col_decode_f64_ref(p, len, ref, out, n, &err) : -1;
		if (ref && (rc > (long)len || rc == 0 || (rc < 0 && err.msg[0] == 0)))
			abort();
		free(ref);
	}
	free(out);
}

static void check_bytes(const uint8_t *p, size_t len, const int64_t *ts, const double *v, size_t n)
{
	struct vg_chunk_it it;
	size_t i = 0;
	uint8_t *copy = malloc(len ? len : 1);
	int64_t t;
	double x;
	int rc;

	memcpy(copy, p, len);
	if (vg_chunk_it_init(&it, copy, len, NULL) != 0)
		abort();
	while ((rc = vg_chunk_it_next(&it, &t, &x)) == 1) {
		if (i >= n || t != ts[i] || bits_of(x) != bits_of(v[i]))
			abort();
		i++;
	}
	if (rc != 0 || i != n)
		abort();
	decode_chunk(copy, len); /* and at once, the same */
	free(copy);
}

static void check_chunk(const struct vg_chunk_enc *e, const int64_t *ts, const double *v, size_t n)
{
	size_t len;
	const uint8_t *p = vg_chunk_enc_bytes(e, &len);

	check_bytes(p, len, ts, v, n);
}

static void round_trip(const uint8_t *p, size_t len)
{
	size_t n = len / 10;
	int64_t *ts = malloc((n ? n : 1) * sizeof(*ts)), *ots = malloc((n ? n : 1) * sizeof(*ts));
	double *v = malloc((n ? n : 1) * sizeof(*v)), *ov = malloc((n ? n : 1) * sizeof(*v));
	struct vg_chunk_enc e;
	struct vg_buf b = VG_BUF_INIT;
	int64_t t = 1764000000000;
	size_t first = 0, kept = 0;

	vg_chunk_enc_init(&e);
	for (size_t i = 0; i < n; i++) {
		uint16_t step = vg_get_be16(p + i * 10);
		uint64_t u = vg_get_be64(p + i * 10 + 2);
		double x;
		int rc;

		memcpy(&x, &u, 8);
		rc = vg_chunk_enc_append(&e, t + step, x);
		if (rc == VG_EINVAL && step == 0)
			continue; /* a repeat, refused */
		if (rc == VG_ELIMIT) {
			if (vg_chunk_enc_finish(&e) != 0)
				abort();
			check_chunk(&e, ts + first, v + first, kept - first);
			vg_chunk_enc_release(&e);
			first = kept;
			rc = vg_chunk_enc_append(&e, t + step, x);
		}
		if (rc != 0)
			abort();
		t += step;
		ts[kept] = t;
		v[kept++] = x;
		check_chunk(&e, ts + first, v + first, kept - first);
	}
	if (kept > first) {
		if (vg_chunk_enc_finish(&e) != 0)
			abort();
		check_chunk(&e, ts + first, v + first, kept - first);
	}
	vg_chunk_enc_release(&e);

	/* the chunks merged, as the head merges them: one chunk in columns */
	if (kept > 0) {
		size_t m = kept < VG_CHUNK_MAX_MERGED ? kept : VG_CHUNK_MAX_MERGED;
		if (vg_chunk_encode_cols(ts, v, m, &b) != 0)
			abort();
		check_bytes(b.data, b.len, ts, v, m);
		vg_buf_reset(&b);
	}

	if (vg_col_encode_ts(ts, kept, &b) != 0 || vg_col_decode_ts(b.data, b.len, ots, kept, NULL) != (long)b.len)
		abort();
	if (memcmp(ts, ots, kept * sizeof(*ts)) != 0)
		abort();
	vg_buf_reset(&b);
	for (size_t i = 0; i < kept; i++)
		ts[i] = (int64_t)bits_of(v[i]);
	if (vg_col_encode_i64(ts, kept, &b) != 0 || vg_col_decode_i64(b.data, b.len, ots, kept, NULL) != (long)b.len)
		abort();
	if (memcmp(ts, ots, kept * sizeof(*ts)) != 0)
		abort();
	vg_buf_reset(&b);
	if (vg_col_encode_f64(v, kept, &b) != 0 || vg_col_decode_f64(b.data, b.len, ov, kept, NULL) != (long)b.len)
		abort();
	for (size_t i = 0; i < kept; i++)
		if (bits_of(v[i]) != bits_of(ov[i]))
			abort();
	/* against a reference: the values one place later */
	for (size_t r = 0; r < 2; r++) {
		const double *ref = r == 0 ? v : v + (kept > 0);
		size_t m = r == 0 ? kept : kept - (kept > 0);
		vg_buf_reset(&b);
		if (vg_col_encode_f64_ref(v, ref, m, &b) != 0 ||
		    vg_col_decode_f64_ref(b.data, b.len, ref, ov, m, NULL) != (long)b.len)
			abort();
		for (size_t i = 0; i < m; i++)
			if (bits_of(v[i]) != bits_of(ov[i]))
				abort();
	}
	vg_buf_release(&b);
	free(ts);
	free(ots);
	free(v);
	free(ov);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *p;

	if (size == 0)
		return 0;
	/* an exact-size copy, so a read past the end is seen */
	if ((p = malloc(size - 1 ? size - 1 : 1)) == NULL)
		return 0;
	memcpy(p, data + 1, size - 1);
	switch (data[0] % 5) {
	case 0:
		decode_chunk(p, size - 1);
		break;
	case 1:
	case 2:
	case 3:
		decode_col(p, size - 1, data[0] % 5);
		break;
	default:
		round_trip(p, size - 1);
		break;
	}
	free(p);
	return 0;
}
