/*
 * samples2.c: the SAMPLES payload of protocol 2 (samples2.h).
 *
 * PAYLOAD (before the frame's optional zstd; "uvarint" is LEB128, "varint"
 * a zigzag-encoded uvarint, common/buf.h):
 *
 *   uvarint n_groups
 *   per group:
 *     varint  ts_ms minus the previous group's ts_ms on the connection
 *             (the first group of a connection: minus 0)
 *     uvarint n, the samples of the group
 *     u8      refs: 0 = n ref deltas follow; 1 = the same n refs, in the
 *             same order, as the previous group on the connection
 *     [refs=0] n varints: ref minus the previous ref of the group (the
 *             first minus -1, so consecutive refs are all 1)
 *     uvarint n_exc, exceptions, at most n
 *     n_exc exceptions, by strictly increasing index:
 *             uvarint index (< n), u8 kind, then
 *               kind 0..15: varint mantissa: value = mantissa / 10^kind,
 *                           and the series' scale becomes kind
 *               kind 255:   8 bytes big-endian IEEE-754 double; the
 *                           series has no decimal base after it
 *     n varints d: for a sample without exception, value =
 *             (previous mantissa + d) / 10^scale of its series, which
 *             becomes the new mantissa; for one with an exception d is 0
 *
 * So a series whose values keep their number of decimals costs its
 * mantissa's change: a constant one byte, a counter a byte or two. A value
 * goes as an exception when its series has no base yet, needs more
 * decimals than before, or is not a decimal at all (NaN, 1/3, 1e300). The
 * division by 10^scale (exact for scale <= 15) is correctly rounded, and
 * the encoder checks that it gives back the value bit for bit before it
 * chooses a decimal; mantissas stay within +-2^53.
 */
#include "common/samples2.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/frame.h"
#include "common/round.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

#define MAX_SCALE 15
#define KIND_FLOAT 255
#define MANTISSA_MAX 9007199254740992.0 /* 2^53 */

static const double pow10_tab[MAX_SCALE + 1] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
};

void vg_samples2_state_init(struct vg_samples2_state *st)
{
	memset(st, 0, sizeof(*st));
	vg_buf_init(&st->enc_exc);
	vg_buf_init(&st->enc_deltas);
}

void vg_samples2_state_release(struct vg_samples2_state *st)
{
	free(st->prev_refs);
	free(st->refs);
	vg_buf_release(&st->enc_exc);
	vg_buf_release(&st->enc_deltas);
	vg_samples2_state_init(st);
}

void vg_samples2_state_reset(struct vg_samples2_state *st)
{
	st->prev_ts_ms = 0;
	st->n_prev_refs = 0;
	st->is_prev_dense = false;
	st->n_refs = 0;
}

/* Room for need elements: the first time exactly that (a connection's
 * refs rarely change), then doubling. */
static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : need;
	void *q;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	if ((q = realloc(*p, c * size)) == NULL)
		return VG_ENOMEM;
	*p = q;
	*cap = c;
	return 0;
}

/* Ref i of the previous group. */
static inline uint64_t prev_ref(const struct vg_samples2_state *st, size_t i)
{
	return st->is_prev_dense ? i : st->prev_refs[i];
}

/* Keeps refs[0..n) as the previous group's: only n when they are 0..n-1
 * in order (an agent sending every series it defined), else a copy. */
static int keep_refs(struct vg_samples2_state *st, const uint64_t *refs, size_t n)
{
	size_t cap = st->cap_prev_refs, i = 0;

	while (i < n && refs[i] == i)
		i++;
	st->n_prev_refs = n;
	if ((st->is_prev_dense = i == n))
		return 0;
	st->n_prev_refs = 0;
	if (grow((void **)&st->prev_refs, &cap, n, sizeof(*st->prev_refs)) != 0)
		return VG_ENOMEM;
	st->cap_prev_refs = cap;
	for (i = 0; i < n; i++)
		st->prev_refs[i] = (uint32_t)refs[i];
	st->n_prev_refs = n;
	return 0;
}

/* Makes refs [0, upto) known, new ones without a base. */
static int know_refs(struct vg_samples2_state *st, size_t upto)
{
	size_t cap = st->cap_refs;

	if (upto <= st->n_refs)
		return 0;
	if (grow((void **)&st->refs, &cap, upto, sizeof(*st->refs)) != 0)
		return VG_ENOMEM;
	st->cap_refs = cap;
	for (size_t i = st->n_refs; i < upto; i++)
		st->refs[i] = (struct vg_samples2_ref){ 0, -1 };
	st->n_refs = upto;
	return 0;
}

static bool same_bits(double a, double b)
{
	uint64_t x, y;

	memcpy(&x, &a, sizeof(x));
	memcpy(&y, &b, sizeof(y));
	return x == y;
}

/* Whether v is exactly m / 10^scale for an integer m within 2^53. */
static bool as_decimal(double v, int scale, int64_t *m)
{
	double x = v * pow10_tab[scale];

	if (!(fabs(x) < MANTISSA_MAX))
		return false; /* also NaN */
	*m = vg_round_i64(x);
	return same_bits((double)*m / pow10_tab[scale], v);
}

static void put_varint(struct vg_buf *b, int64_t v)
{
	vg_buf_put_uvarint(b, vg_zigzag(v));
}

void vg_samples2_encode_begin(struct vg_buf *raw, uint32_t n_groups)
{
	vg_buf_put_uvarint(raw, n_groups);
}

int vg_samples2_encode_group(struct vg_samples2_state *st, int64_t ts_ms, size_t n, const uint64_t *refs,
			     const double *values, struct vg_buf *raw)
{
	size_t max_ref = 0, n_exc = 0;
	bool is_same = n == st->n_prev_refs;

	for (size_t i = 0; i < n; i++) {
		if (refs[i] >= VG_FRAME_MAX_REF + (uint64_t)1)
			return VG_ELIMIT;
		if (refs[i] + 1 > max_ref)
			max_ref = (size_t)refs[i] + 1;
		if (is_same && prev_ref(st, i) != refs[i])
			is_same = false;
	}
	if (know_refs(st, max_ref) != 0)
		return VG_ENOMEM;
	put_varint(raw, ts_ms - st->prev_ts_ms);
	st->prev_ts_ms = ts_ms;
	vg_buf_put_uvarint(raw, n);
	vg_buf_putc(raw, is_same ? 1 : 0);
	if (!is_same) {
		int64_t prev = -1;
		for (size_t i = 0; i < n; i++) {
			put_varint(raw, (int64_t)refs[i] - prev);
			prev = (int64_t)refs[i];
		}
		if (keep_refs(st, refs, n) != 0)
			return VG_ENOMEM;
	}
	/* Exceptions lead the deltas: both are gathered first. */
	vg_buf_reset(&st->enc_exc);
	vg_buf_reset(&st->enc_deltas);
	for (size_t i = 0; i < n; i++) {
		struct vg_samples2_ref *r = &st->refs[refs[i]];
		double v = values[i];
		int64_t m;
		int s;

		if (r->scale >= 0 && as_decimal(v, r->scale, &m)) {
			put_varint(&st->enc_deltas, m - r->mantissa);
			r->mantissa = m;
			continue;
		}
		put_varint(&st->enc_deltas, 0);
		vg_buf_put_uvarint(&st->enc_exc, i);
		n_exc++;
		for (s = r->scale >= 0 ? r->scale + 1 : 0; s <= MAX_SCALE; s++)
			if (as_decimal(v, s, &m))
				break;
		if (s <= MAX_SCALE) {
			vg_buf_putc(&st->enc_exc, (char)s);
			put_varint(&st->enc_exc, m);
			r->mantissa = m;
			r->scale = (int8_t)s;
		} else {
			uint64_t bits;
			uint8_t be[8];

			memcpy(&bits, &v, sizeof(bits));
			vg_put_be64(be, bits);
			vg_buf_putc(&st->enc_exc, (char)KIND_FLOAT);
			vg_buf_append(&st->enc_exc, be, sizeof(be));
			r->scale = -1;
		}
	}
	vg_buf_put_uvarint(raw, n_exc);
	vg_buf_append(raw, st->enc_exc.data, st->enc_exc.len);
	vg_buf_append(raw, st->enc_deltas.data, st->enc_deltas.len);
	if (vg_buf_failed(&st->enc_exc) || vg_buf_failed(&st->enc_deltas) || vg_buf_failed(raw))
		return VG_ENOMEM;
	return 0;
}

/* --- decoding ------------------------------------------------------------- */

struct cursor {
	const uint8_t *p, *end;
};

static bool get_u(struct cursor *c, uint64_t *v)
{
	size_t n = vg_get_uvarint(c->p, (size_t)(c->end - c->p), v);

	c->p += n;
	return n > 0;
}

static bool get_s(struct cursor *c, int64_t *v)
{
	uint64_t u;

	if (!get_u(c, &u))
		return false;
	*v = vg_unzigzag(u);
	return true;
}

/* One exception of a group, as read from the payload. */
struct exc {
	uint64_t index;
	int8_t scale;     /* -1: a float */
	int64_t mantissa; /* 0 for a float */
	double value;
};

/* Reads the exception at c into x: 0, or 1 when truncated, 2 for a bad
 * decimal, 3 for an unknown kind (*kind set). */
static int get_exc(struct cursor *c, struct exc *x, uint8_t *kind)
{
	if (!get_u(c, &x->index) || c->p >= c->end)
		return 1;
	*kind = *c->p++;
	if (*kind <= MAX_SCALE) {
		if (!get_s(c, &x->mantissa) || x->mantissa > (int64_t)MANTISSA_MAX ||
		    x->mantissa < -(int64_t)MANTISSA_MAX)
			return 2;
		x->scale = (int8_t)*kind;
		x->value = (double)x->mantissa / pow10_tab[*kind];
	} else if (*kind == KIND_FLOAT) {
		uint64_t bits;
		if (c->end - c->p < 8)
			return 1;
		bits = vg_get_be64(c->p);
		c->p += 8;
		memcpy(&x->value, &bits, sizeof(bits));
		x->scale = -1;
		x->mantissa = 0;
	} else {
		return 3;
	}
	return 0;
}

static int decode_group(struct vg_samples2_state *st, struct cursor *c, uint32_t g, uint32_t n_defined,
			struct vg_sample_batch *b, struct vg_err *err)
{
	uint64_t n, n_exc;
	int64_t dts, ts;
	size_t base = b->n;
	uint8_t mode;

	if (!get_s(c, &dts) || !get_u(c, &n))
		return vg_err_set(err, VG_EINVAL, "SAMPLES: group %u: truncated header", g);
	if (__builtin_add_overflow(st->prev_ts_ms, dts, &ts))
		return vg_err_set(err, VG_EINVAL, "SAMPLES: group %u: timestamp out of range", g);
	/* Each sample takes at least one byte (its delta). */
	if (n > (uint64_t)(c->end - c->p))
		return vg_err_set(err, VG_EINVAL, "SAMPLES: group %u: %llu samples in %zu bytes", g,
				  (unsigned long long)n, (size_t)(c->end - c->p));
	if (b->n + n > VG_FRAME_MAX_SAMPLES)
		return vg_err_set(err, VG_ELIMIT, "SAMPLES: more than %d samples in one frame", VG_FRAME_MAX_SAMPLES);
	if (c->p >= c->end)
		return vg_err_set(err, VG_EINVAL, "SAMPLES: group %u: truncated", g);
	mode = *c->p++;
	if (mode > 1)
		return vg_err_set(err, VG_EINVAL, "SAMPLES: group %u: unknown refs mode %u", g, mode);
	if (vg_sample_batch_reserve(b, b->n + n) != 0)
		return vg_err_set(err, VG_ENOMEM, "SAMPLES: out of memory");
	if (mode == 1) {
		if (n != st->n_prev_refs)
			return vg_err_set(err, VG_EINVAL, "SAMPLES: group %u repeats %zu refs but has %llu samples",
					  g, st->n_prev_refs, (unsigned long long)n);
		for (size_t i = 0; i < n; i++)
			b->refs[base + i] = prev_ref(st, i);
	} else {
		int64_t prev = -1;
		for (size_t i = 0; i < n; i++) {
			int64_t d;
			if (!get_s(c, &d))
				return vg_err_set(err, VG_EINVAL, "SAMPLES: group %u: truncated refs", g);
			if (d > (int64_t)VG_FRAME_MAX_REF + 1 || d < -(int64_t)VG_FRAME_MAX_REF - 1 ||
			    prev + d < 0 || prev + d >= (int64_t)n_defined)
				return vg_err_set(err, prev + d >= (int64_t)n_defined && prev + d >= 0 ? VG_ENOENT : VG_EINVAL,
						  "SAMPLES: group %u, sample %zu: ref %lld is not defined on this connection",
						  g, i, (long long)(prev + d));
			prev += d;
			b->refs[base + i] = (uint64_t)prev;
		}
		if (keep_refs(st, b->refs + base, n) != 0)
			return vg_err_set(err, VG_ENOMEM, "SAMPLES: out of memory");
	}
	uint64_t max_ref = 0;
	for (size_t i = 0; i < n; i++) {
		if (b->refs[base + i] >= n_defined)
			return vg_err_set(err, VG_ENOENT, "SAMPLES: group %u uses ref %llu, which no SERIES frame defined",
					  g, (unsigned long long)b->refs[base + i]);
		if (b->refs[base + i] + 1 > max_ref)
			max_ref = b->refs[base + i] + 1;
	}
	if (know_refs(st, (size_t)max_ref) != 0)
		return vg_err_set(err, VG_ENOMEM, "SAMPLES: out of memory");
	if (!get_u(c, &n_exc))
		return vg_err_set(err, VG_EINVAL, "SAMPLES: group %u: truncated exceptions", g);
	/* An exception takes at least three bytes. */
	if (n_exc > n || n_exc > (uint64_t)(c->end - c->p) / 3)
		return vg_err_set(err, VG_EINVAL, "SAMPLES: group %u: %llu exceptions for %llu samples", g,
				  (unsigned long long)n_exc, (unsigned long long)n);
	/* The exceptions are checked here and read again beside the deltas,
	 * so a connection keeps no room for them between frames. */
	struct cursor xc = *c;
	struct exc x = { 0 };
	for (size_t e = 0; e < n_exc; e++) {
		uint64_t prev_index = x.index;
		uint8_t kind = 0;
		switch (get_exc(c, &x, &kind)) {
		case 1:
			return vg_err_set(err, VG_EINVAL, "SAMPLES: group %u: truncated exception", g);
		case 2:
			return vg_err_set(err, VG_EINVAL, "SAMPLES: group %u: bad decimal exception", g);
		case 3:
			return vg_err_set(err, VG_EINVAL, "SAMPLES: group %u: unknown value kind %u", g, kind);
		default:
			break;
		}
		if (x.index >= n || (e > 0 && x.index <= prev_index))
			return vg_err_set(err, VG_EINVAL, "SAMPLES: group %u: exception index %llu out of order", g,
					  (unsigned long long)x.index);
	}
	size_t e = 0;
	uint8_t kind;
	if (n_exc > 0)
		(void)get_exc(&xc, &x, &kind); /* checked above */
	for (size_t i = 0; i < n; i++) {
		struct vg_samples2_ref *r = &st->refs[b->refs[base + i]];
		int64_t d, m;
		if (!get_s(c, &d))
			return vg_err_set(err, VG_EINVAL, "SAMPLES: group %u: truncated values", g);
		b->ts_ms[base + i] = ts;
		if (e < n_exc && x.index == i) {
			if (d != 0)
				return vg_err_set(err, VG_EINVAL, "SAMPLES: group %u, sample %zu: delta beside an exception", g, i);
			r->scale = x.scale;
			r->mantissa = x.mantissa;
			b->values[base + i] = x.value;
			if (++e < n_exc)
				(void)get_exc(&xc, &x, &kind);
			continue;
		}
		if (r->scale < 0)
			return vg_err_set(err, VG_EINVAL, "SAMPLES: group %u, sample %zu: a delta for a series without a base",
					  g, i);
		if (__builtin_add_overflow(r->mantissa, d, &m) || m > (int64_t)MANTISSA_MAX ||
		    m < -(int64_t)MANTISSA_MAX)
			return vg_err_set(err, VG_EINVAL, "SAMPLES: group %u, sample %zu: mantissa out of range", g, i);
		r->mantissa = m;
		b->values[base + i] = (double)m / pow10_tab[r->scale];
	}
	st->prev_ts_ms = ts;
	b->n += n;
	return 0;
}

int vg_samples2_decode(struct vg_samples2_state *st, const uint8_t *raw, size_t len,
		       uint32_t n_defined, struct vg_sample_batch *b, struct vg_err *err)
{
	struct cursor c = { raw, raw + len };
	uint64_t groups;
	int rc;

	b->n = 0;
	if (!get_u(&c, &groups))
		return vg_err_set(err, VG_EINVAL, "SAMPLES: empty payload");
	/* A group takes at least four bytes. */
	if (groups > len / 4 + 1)
		return vg_err_set(err, VG_EINVAL, "SAMPLES: %llu groups in %zu bytes", (unsigned long long)groups, len);
	for (uint64_t g = 0; g < groups; g++)
		if ((rc = decode_group(st, &c, (uint32_t)g, n_defined, b, err)) != 0)
			return rc;
	if (c.p != c.end)
		return vg_err_set(err, VG_EINVAL, "SAMPLES: %zu bytes after the groups", (size_t)(c.end - c.p));
	return 0;
}
