/*
 * chunk.c: sample codecs: the head's appendable chunk and the columns of
 * block files. docs/storage-format.md ("Chunk and column encodings") has
 * the same layout with examples.
 *
 * Owns the bytes and bits below; not when a chunk is cut, how columns are
 * grouped, compressed or checksummed (the head and the block writer do).
 *
 * Bits are written most significant first: bit 0 of a stream is the top bit
 * of its first byte. Unused bits at the end of the last byte are zero.
 * zz(x) is the zigzag map of a signed 64-bit integer (0, -1, 1, -2 ... to
 * 0, 1, 2, 3 ...); uvarint is LEB128 (common/buf.h). Integer arithmetic on
 * timestamps and decimal integers wraps modulo 2^64, so any sequence
 * round-trips. Decimal: a value v is stored at scale k (0..18) as the int64
 * m = round(v * 10^k) only if (double)m / 10^k gives v's exact bits back
 * (so -0.0, NaN, infinities, denormals and values of 2^63 or more never do).
 *
 * HEAD CHUNK (format version 1)
 *   byte 0     version, 1
 *   byte 1     value mode: 0 XOR floats, 1 decimal delta, 2 decimal
 *              delta-of-delta, 3 decimal with ULP corrections, 4 columns
 *   byte 2     decimal scale k (0 for XOR and columns)
 *   bytes 3-4  sample count n, big-endian (1 ..  VG_CHUNK_MAX_SAMPLES;
 *              in mode 4, 1 .. VG_CHUNK_MAX_MERGED)
 *   bit 40...  n samples, each a timestamp then a value:
 *     FULL(u): 7 bits L (0..64), then the L significant bits of u
 *     timestamp of sample 0: FULL(zz(ts))
 *     timestamp of sample i > 0: step d = ts - previous ts (1 .. 2^31-1),
 *       dod = d - previous step (0 for sample 1), u = zz(dod):
 *         '0'                  u == 0
 *         '10'    + 14 bits u  u < 2^14
 *         '110'   + 17 bits u
 *         '1110'  + 20 bits u
 *         '11110' + 32 bits u
 *         '11111' + 64 bits u
 *     value, XOR mode (Gorilla): x = bits(v) XOR bits(previous value),
 *       the previous value of sample 0 being 0 (all bits zero):
 *         '0'                                   x == 0
 *         '10' + W bits                         x >> T, fits the window
 *         '11' + 5 bits Z + 6 bits S-1 + S bits new window: Z leading and
 *                                               T = 64-Z-S trailing zeros
 *       the window (Z, T, W = 64-Z-T) is the last '11' one; '10' before any
 *       '11' is damage.
 *     value, decimal modes: m = the value's integer at scale k; sample 0
 *       is FULL(zz(m)); then r = m minus the previous m (delta mode) or
 *       that difference minus the previous difference (dod mode; the
 *       difference before sample 1 counts as 0); u = zz(r):
 *         '0' + W bits                  u in the current width W (0 at first)
 *         '1' + 7 bits B + B bits       a new width W = B (0..64)
 *     value, ULP mode: v = bits(m / 10^k) + c, c a signed count of units
 *       in the last place (|c| <= 2^20 when written; any c decodes);
 *       sample 0 is FULL(zz(m)) FULL(zz(c)); then the delta of m as above
 *       and the delta of c in a width of its own, coded the same way.
 *   mode 4 (columns; written only when finishing, if smaller, or when
 *     the head merges finished chunks): from byte 5 a timestamp column
 *     then a value column of n entries each (COLUMN below), ending exactly
 *     at the chunk's end.
 *   An appender writes a sample's bits, then the count: a copy of the first
 *   ceil(bits/8) bytes taken between appends always decodes.
 *
 * COLUMN (block files): byte 0 tag, then uvarint n (entries), then a body.
 *   Integer bodies share one packing, PACK(r[0..c)): blocks of 128 entries
 *   (the last may be shorter), each: uvarint zz(base), uvarint g (>= 1),
 *   byte W (0..64), then ceil(len*W/8) bytes holding each (r - base) / g in
 *   W bits; base is the block's minimum and g the gcd of its offsets.
 *   tag 0x01 plain        PACK(x[0..n))
 *   tag 0x02 delta        n > 0: uvarint zz(x0), PACK(x[i]-x[i-1], i >= 1)
 *   tag 0x03 dod          n > 0: uvarint zz(x0); n > 1: uvarint zz(x1-x0);
 *                         PACK(dod, i >= 2)
 *   tag 0x04 regular      n > 0: uvarint zz(x0); n > 1: uvarint zz(x1-x0);
 *                         entry i is x0 + i*(x1-x0), wrapping; written
 *                         whenever the entries step evenly (n >= 2)
 *   tag 0x10 f64 const    8 bytes bits(v), big-endian (n > 0)
 *   tag 0x11 f64 decimal  byte k, then a delta body (as tag 0x02) of the m's
 *   tag 0x12 f64 decimal  byte k, then a dod body (as tag 0x03) of the m's
 *   tag 0x13 f64 XOR      uvarint B, then B bytes: n values coded as in the
 *                         head chunk's XOR mode
 *   tag 0x14 f64 ULP      byte k, a delta body of the m's, a delta body of
 *                         the c's: v = bits(m / 10^k) + c, as in ULP mode
 *   tag 0x15 f64, same    no body: every value has the bits of the
 *                         reference column's value (vg_col_*_f64_ref)
 *   tag 0x16 f64 minus    byte k, then an integer column (tag 0x01-0x04 or
 *            reference    0x21-0x23, its own count) of m(v) - m(ref) at scale k
 *   tags 0x21-0x23, 0x31, 0x32, 0x34: tag 0x01-0x03, 0x11, 0x12, 0x14 with
 *     every PACK in long blocks of 1024 entries (PACK-L), written only when
 *     strictly smaller; the short tags still decode (and are written).
 *   Timestamp columns are integer columns whose entries rise strictly; the
 *   ts encoder refuses others and the ts decoder reports them as damage.
 */
#include "config.h"

#include "receiver/storage/chunk.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define HDR_BYTES 5
#define HDR_BITS (HDR_BYTES * 8)
#define VG_CHUNK_F_FINISHED 1
#define MAX_SCALE 18
#define GROW_STEP 32
/* Bits of one sample at most: a timestamp code 71, a value code 144 (ULP
 * mode: two width codes of 72); with the byte offset, 222 bits. */
#define SAMPLE_MAX_BYTES 27
#define SCRATCH_BYTES 32
_Static_assert(SCRATCH_BYTES * 8 >= 7 + 71 + 144, "scratch holds a sample at any bit offset");
#define COL_BLOCK 128
/* Long blocks (tags with TAG_LONG): one block header for a whole chunk. */
#define COL_BLOCK_LONG 1024
/* A value column of up to this many integers (a head chunk's two ULP
 * bodies) decodes on the stack, without an allocation. */
#define COL_STACK (2 * VG_CHUNK_MAX_MERGED)
#define ULP_MAX (1 << 20)
/* The encoding is chosen again from the samples held at this count. */
#define RECHOOSE_AT 16

enum {
	TAG_INT_PLAIN = 0x01,
	TAG_INT_DELTA = 0x02,
	TAG_INT_DOD = 0x03,
	TAG_INT_REGULAR = 0x04, /* x0 and one step: no blocks, no long twin */
	TAG_F64_CONST = 0x10,
	TAG_F64_DEC_DELTA = 0x11,
	TAG_F64_DEC_DOD = 0x12,
	TAG_F64_XOR = 0x13,
	TAG_F64_DEC_ULP = 0x14,
	TAG_F64_REF_SAME = 0x15,
	TAG_F64_REF_DEC = 0x16,
	/* or'ed into 0x01-0x03, 0x11, 0x12, 0x14: the same body in PACK
	 * blocks of COL_BLOCK_LONG entries */
	TAG_LONG = 0x20,
};

static const double p10[MAX_SCALE + 1] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
};

/* vg_unzigzag of 0..7, for run_steady's narrow ULP residuals */
static const int64_t unzz3[8] = { 0, -1, 1, -2, 2, -3, 3, -4 };

static inline uint64_t f2u(double v)
{
	uint64_t u;

	memcpy(&u, &v, sizeof(u));
	return u;
}

static inline double u2f(uint64_t u)
{
	double v;

	memcpy(&v, &u, sizeof(v));
	return v;
}

static inline unsigned bitlen(uint64_t u)
{
	return u ? 64 - (unsigned)__builtin_clzll(u) : 0;
}

static inline double dec_value(uint64_t m, unsigned k)
{
	return (double)(int64_t)m / p10[k];
}

/* s (|s| < 9.2e18) rounded half away from zero, as libm's round, inline:
 * the scale searches call it for every value at every scale they try. s
 * minus its truncation is exact (below 2^52 both are within 1 of each
 * other; above it s is an integer already). */
static inline int64_t round_i64(double s)
{
	int64_t i = (int64_t)s;
	double f = s - (double)i;

	return i + (f >= 0.5) - (f <= -0.5);
}

/* Whether v is exactly m / 10^k for some int64 m; *m gets it. */
static bool dec_fits(double v, unsigned k, uint64_t *m)
{
	double s;
	int64_t i;

	if (!isfinite(v) || (v == 0 && signbit(v)))
		return false;
	s = v * p10[k];
	if (!(fabs(s) < 9.2e18))
		return false;
	i = round_i64(s);
	if (f2u(dec_value((uint64_t)i, k)) != f2u(v))
		return false;
	*m = (uint64_t)i;
	return true;
}

/* The smallest scale of v, or -1. */
static int dec_scale(double v)
{
	uint64_t m;

	if (!isfinite(v) || (v == 0 && signbit(v)))
		return -1;
	for (unsigned k = 0; k <= MAX_SCALE; k++)
		if (dec_fits(v, k, &m))
			return (int)k;
	return -1;
}

/* The smallest scale that fits every v[i] (starting from k), or -1. */
static int dec_scale_all(const double *v, size_t n, int k)
{
	uint64_t m;

	for (size_t i = 0; i < n && k >= 0; i++) {
		if (dec_fits(v[i], (unsigned)k, &m))
			continue;
		int ki = dec_scale(v[i]);
		if (ki < 0)
			return -1;
		if (ki <= k)
			ki = k + 1; /* fits alone, not at k: a larger m needed */
		if (ki > MAX_SCALE)
			return -1;
		k = ki;
		i = (size_t)-1; /* recheck everything at the new scale */
	}
	return k;
}

/* v as m / 10^k plus c units in the last place, c = bits(v) - bits(m /
 * 10^k) wrapping: true if |c| <= ULP_MAX. Values summed in binary floating
 * point (1234.5600000000002) are a few units off their decimal. */
static bool ulp_fits(double v, unsigned k, uint64_t *m, int64_t *c)
{
	double s;

	if (!isfinite(v))
		return false;
	s = v * p10[k];
	if (!(fabs(s) < 9.2e18))
		return false;
	*m = (uint64_t)round_i64(s);
	*c = (int64_t)(f2u(v) - f2u(dec_value(*m, k)));
	return *c >= -ULP_MAX && *c <= ULP_MAX;
}

/* The smallest scale below lim (at most MAX_SCALE + 1) at which every v[i]
 * is within ULP_MAX of its decimal, or -1. */
static int ulp_scale_below(const double *v, size_t n, unsigned lim)
{
	uint64_t m;
	int64_t c;
	unsigned k = 0;

	if (lim == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (ulp_fits(v[i], k, &m, &c))
			continue;
		if (++k >= lim)
			return -1;
		i = (size_t)-1;
	}
	return (int)k;
}

/* The smallest scale at which every v[i] is within ULP_MAX of its decimal. */
static int ulp_scale_all(const double *v, size_t n)
{
	return ulp_scale_below(v, n, MAX_SCALE + 1);
}

/* ---- bits ------------------------------------------------------------- */

struct bw {
	uint8_t *p; /* zeroed beyond pos */
	size_t pos;
};

static inline void bw_put(struct bw *w, uint64_t v, unsigned n)
{
	while (n) {
		unsigned off = (unsigned)(w->pos & 7), room = 8 - off;
		unsigned take = n < room ? n : room;
		unsigned bits = (unsigned)(v >> (n - take)) & ((1u << take) - 1);

		w->p[w->pos >> 3] |= (uint8_t)(bits << (room - take));
		w->pos += take;
		n -= take;
	}
}

struct br {
	const uint8_t *p;
	size_t pos, end; /* bits */
};

/* The 64 bits from byte i, big-endian. */
static inline uint64_t load_be64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return __builtin_bswap64(v);
}

/* q[0..n) = x + step, x + 2 step ... (modulo 2^64, the running sum a
 * body of equal deltas folds to); returns the last (x when n is 0). Eight
 * at a time (four pairs of lanes) where SSE2 has them. */
static uint64_t fill_steps(uint64_t *q, size_t n, uint64_t x, uint64_t step)
{
	size_t i = 0;
#ifdef __SSE2__
	if (n >= 8) {
		/* four pairs of lanes, each moved on by 8 steps */
		__m128i v0 = _mm_set_epi64x((long long)(x + 2 * step), (long long)(x + step));
		const __m128i d2 = _mm_set1_epi64x((long long)(2 * step));
		const __m128i d8 = _mm_set1_epi64x((long long)(8 * step));
		__m128i v1 = _mm_add_epi64(v0, d2), v2 = _mm_add_epi64(v1, d2), v3 = _mm_add_epi64(v2, d2);
		for (; i + 8 <= n; i += 8) {
			_mm_storeu_si128((__m128i *)(void *)(q + i), v0);
			_mm_storeu_si128((__m128i *)(void *)(q + i + 2), v1);
			_mm_storeu_si128((__m128i *)(void *)(q + i + 4), v2);
			_mm_storeu_si128((__m128i *)(void *)(q + i + 6), v3);
			v0 = _mm_add_epi64(v0, d8);
			v1 = _mm_add_epi64(v1, d8);
			v2 = _mm_add_epi64(v2, d8);
			v3 = _mm_add_epi64(v3, d8);
		}
		x += (uint64_t)i * step;
	}
#endif
	for (; i < n; i++)
		q[i] = x += step;
	return x;
}

/* The bits from r->pos on, left-aligned, when at least the 8 bytes from
 * its byte lie inside the stream (so 57 bits or more are valid): the fast
 * path of the readers below; false near the end, for the bytewise one. */
static inline bool br_peek(const struct br *r, uint64_t *w)
{
	size_t byte = r->pos >> 3;

	if (byte + 8 > (r->end >> 3))
		return false;
	*w = load_be64(r->p + byte) << (r->pos & 7);
	return true;
}

static inline __attribute__((always_inline)) int br_get(struct br *r, unsigned n, uint64_t *out)
{
	uint64_t v = 0, w;

	if (n > r->end - r->pos || r->pos > r->end)
		return -1;
	if (n == 0) {
		*out = 0;
		return 0;
	}
	if (n + (r->pos & 7) <= 64 && br_peek(r, &w)) {
		*out = w >> (64 - n);
		r->pos += n;
		return 0;
	}
	while (n) {
		unsigned off = (unsigned)(r->pos & 7), room = 8 - off;
		unsigned take = n < room ? n : room;
		unsigned byte = r->p[r->pos >> 3];

		v = (v << take) | ((byte >> (room - take)) & ((1u << take) - 1));
		r->pos += take;
		n -= take;
	}
	*out = v;
	return 0;
}

/* Counts leading 1 bits, at most max (consuming the 0 that ends them). */
static inline int br_ones(struct br *r, unsigned max, unsigned *count)
{
	unsigned c = 0;
	uint64_t b, w;

	if (r->pos <= r->end && br_peek(r, &w)) {
		unsigned ones = (unsigned)__builtin_clzll(~w | 1), need;
		if (ones > max)
			ones = max;
		need = ones < max ? ones + 1 : max;
		if (need > r->end - r->pos)
			return -1;
		r->pos += need;
		*count = ones;
		return 0;
	}
	while (c < max) {
		if (br_get(r, 1, &b) != 0)
			return -1;
		if (b == 0)
			break;
		c++;
	}
	*count = c;
	return 0;
}

/* ---- the per-sample coders (shared by the head chunk and XOR columns) --- */

struct xor_state {
	uint64_t last;
	uint8_t lead, trail; /* lead 0xff: no window yet */
};

static void xor_put(struct bw *w, struct xor_state *s, uint64_t bits)
{
	uint64_t x = bits ^ s->last;
	unsigned lead, trail, sig;

	s->last = bits;
	if (x == 0) {
		bw_put(w, 0, 1);
		return;
	}
	lead = (unsigned)__builtin_clzll(x);
	trail = (unsigned)__builtin_ctzll(x);
	if (lead > 31)
		lead = 31;
	sig = 64 - lead - trail;
	if (s->lead != 0xff && lead >= s->lead && trail >= s->trail &&
	    64u - s->lead - s->trail <= sig + 11) {
		unsigned wsig = 64u - s->lead - s->trail;
		bw_put(w, 2, 2);
		bw_put(w, x >> s->trail, wsig);
		return;
	}
	bw_put(w, 3, 2);
	bw_put(w, lead, 5);
	bw_put(w, sig - 1, 6);
	bw_put(w, x >> trail, sig);
	s->lead = (uint8_t)lead;
	s->trail = (uint8_t)trail;
}

static inline __attribute__((always_inline)) int xor_get(struct br *r, struct xor_state *s, uint64_t *bits)
{
	uint64_t c, x, lead, sig;

	if (br_get(r, 1, &c) != 0)
		return -1;
	if (c == 0) {
		*bits = s->last;
		return 0;
	}
	if (br_get(r, 1, &c) != 0)
		return -1;
	if (c == 0) {
		if (s->lead == 0xff)
			return -1;
		if (br_get(r, 64u - s->lead - s->trail, &x) != 0)
			return -1;
		x <<= s->trail;
	} else {
		if (br_get(r, 5, &lead) != 0 || br_get(r, 6, &sig) != 0)
			return -1;
		sig++;
		if (lead + sig > 64)
			return -1;
		if (br_get(r, (unsigned)sig, &x) != 0)
			return -1;
		s->lead = (uint8_t)lead;
		s->trail = (uint8_t)(64 - lead - sig);
		x <<= s->trail;
		if (x == 0)
			return -1; /* a new window for nothing: not what we write */
	}
	s->last ^= x;
	*bits = s->last;
	return 0;
}

/* Decimal residuals: u = zz(r) in a width W that '1' resets. Reusing W
 * costs 1 + W bits, a new width 8 + B: keep W while u fits it and W is not
 * more than 10 bits too wide (an outlier, a counter reset, is not followed
 * by a wide width for the rest of the chunk). */
static void width_put(struct bw *w, uint8_t *width, uint64_t u)
{
	unsigned b = bitlen(u);

	if (b <= *width && *width <= b + 10) {
		bw_put(w, 0, 1);
		bw_put(w, u, *width);
		return;
	}
	bw_put(w, 1, 1);
	bw_put(w, b, 7);
	bw_put(w, u, b);
	*width = (uint8_t)b;
}

static inline __attribute__((always_inline)) int width_get(struct br *r, uint8_t *width, uint64_t *u)
{
	uint64_t c, b, w = 0;

	/* the flag and the residual in one read where both fit */
	if (*width <= 56 && r->pos <= r->end && br_peek(r, &w) && w >> 63 == 0) {
		if (1u + *width > r->end - r->pos)
			return -1;
		*u = *width ? (w << 1) >> (64 - *width) : 0;
		r->pos += 1u + *width;
		return 0;
	}
	if (br_get(r, 1, &c) != 0)
		return -1;
	if (c == 0)
		return br_get(r, *width, u);
	if (br_get(r, 7, &b) != 0 || b > 64)
		return -1;
	*width = (uint8_t)b;
	return br_get(r, *width, u);
}

/* 7 bits L (0..64), then L bits of u: a first timestamp or integer. */
static void full_put(struct bw *w, uint64_t u)
{
	unsigned L = bitlen(u);

	bw_put(w, L, 7);
	bw_put(w, u, L);
}

static inline __attribute__((always_inline)) int full_get(struct br *r, uint64_t *u)
{
	uint64_t L;

	if (br_get(r, 7, &L) != 0 || L > 64)
		return -1;
	return br_get(r, (unsigned)L, u);
}

/* Timestamp steps of the head chunk: bucket widths after '0', '10'... */
static const unsigned ts_bucket_bits[5] = { 14, 17, 20, 32, 64 };

static void ts_put(struct bw *w, uint64_t u)
{
	unsigned i;

	if (u == 0) {
		bw_put(w, 0, 1);
		return;
	}
	for (i = 0; i < 4; i++)
		if (bitlen(u) <= ts_bucket_bits[i])
			break;
	/* i+1 ones, then a zero unless it is the last bucket */
	if (i < 4)
		bw_put(w, ((1u << (i + 1)) - 1) << 1, i + 2);
	else
		bw_put(w, 0x1f, 5);
	bw_put(w, u, ts_bucket_bits[i]);
}

static inline __attribute__((always_inline)) int ts_get(struct br *r, uint64_t *u)
{
	unsigned ones;
	uint64_t w;

	/* the common step, the same as the one before: one bit */
	if (r->pos < r->end && br_peek(r, &w) && w >> 63 == 0) {
		r->pos++;
		*u = 0;
		return 0;
	}
	if (br_ones(r, 5, &ones) != 0)
		return -1;
	if (ones == 0) {
		*u = 0;
		return 0;
	}
	return br_get(r, ts_bucket_bits[ones - 1], u);
}

/* ---- A. head chunk ------------------------------------------------------ */

void vg_chunk_enc_init(struct vg_chunk_enc *e)
{
	memset(e, 0, sizeof(*e));
}

/* An encoder's bytes come from al (chunk.h), or malloc when al is NULL. */
static void *buf_alloc(const struct vg_chunk_alloc *al, size_t n)
{
	return al ? al->alloc(al->ctx, n) : malloc(n);
}

static void buf_free(const struct vg_chunk_alloc *al, void *p, size_t n)
{
	if (al)
		al->free(al->ctx, p, n);
	else
		free(p);
}

void vg_chunk_enc_release_in(struct vg_chunk_enc *e, const struct vg_chunk_alloc *al)
{
	buf_free(al, e->buf, e->cap);
	vg_chunk_enc_init(e);
}

void vg_chunk_enc_release(struct vg_chunk_enc *e)
{
	vg_chunk_enc_release_in(e, NULL);
}

static inline unsigned hdr_count(const uint8_t *buf)
{
	return vg_get_be16(buf + 3);
}

size_t vg_chunk_enc_samples(const struct vg_chunk_enc *e)
{
	return e->buf ? hdr_count(e->buf) : 0;
}

int64_t vg_chunk_enc_max_ts(const struct vg_chunk_enc *e)
{
	return e->buf ? e->last_ts : 0;
}

int64_t vg_chunk_enc_min_ts(const struct vg_chunk_enc *e)
{
	struct br r;
	uint64_t u;

	if (e->buf == NULL)
		return 0;
	if (e->buf[1] == VG_CHUNK_COLS) {
		int64_t ts[VG_CHUNK_MAX_SAMPLES];
		size_t n = hdr_count(e->buf);
		/* our own bytes: they decode */
		if (vg_col_decode_ts(e->buf + HDR_BYTES, e->cap - HDR_BYTES, ts, n, NULL) < 0)
			return 0;
		return ts[0];
	}
	r.p = e->buf;
	r.pos = HDR_BITS;
	r.end = e->nbits;
	if (full_get(&r, &u) != 0)
		return 0;
	return vg_unzigzag(u);
}

const uint8_t *vg_chunk_enc_bytes(const struct vg_chunk_enc *e, size_t *len)
{
	*len = e->buf ? (e->nbits + 7) / 8 : 0;
	return e->buf;
}

size_t vg_chunk_enc_alloc_bytes(const struct vg_chunk_enc *e)
{
	return e->buf ? e->cap : 0;
}

enum vg_chunk_mode vg_chunk_enc_mode(const struct vg_chunk_enc *e, int *scale)
{
	if (scale)
		*scale = e->buf ? e->buf[2] : 0;
	return e->buf ? (enum vg_chunk_mode)e->buf[1] : VG_CHUNK_XOR;
}

/* Writes one sample's bits and moves the coder state on; is_first: the
 * chunk's first sample. The value is bits(v) in XOR mode, m otherwise,
 * and c the units in the last place in ULP mode. */
static void put_sample(struct bw *w, struct vg_chunk_enc *e, unsigned mode, bool is_first,
		       int64_t ts, uint64_t val, int64_t c)
{
	if (is_first) {
		full_put(w, vg_zigzag(ts));
		e->last_dts = 0;
	} else {
		int64_t d = (int64_t)((uint64_t)ts - (uint64_t)e->last_ts);
		ts_put(w, vg_zigzag(d - e->last_dts));
		e->last_dts = (int32_t)d;
	}
	e->last_ts = ts;
	if (mode == VG_CHUNK_XOR) {
		struct xor_state s = { is_first ? 0 : e->last_v, is_first ? 0xff : e->win_a, e->win_b };
		xor_put(w, &s, val);
		e->last_v = s.last;
		e->win_a = s.lead;
		e->win_b = s.trail;
		return;
	}
	if (is_first) {
		full_put(w, vg_zigzag((int64_t)val));
		if (mode == VG_CHUNK_DEC_ULP)
			full_put(w, vg_zigzag(c));
		e->last_v = val;
		e->last_dv = mode == VG_CHUNK_DEC_ULP ? c : 0;
		e->win_a = 0;
		e->win_b = 0;
		return;
	}
	if (mode == VG_CHUNK_DEC_ULP) {
		width_put(w, &e->win_a, vg_zigzag((int64_t)(val - e->last_v)));
		width_put(w, &e->win_b, vg_zigzag((int64_t)((uint64_t)c - (uint64_t)e->last_dv)));
		e->last_v = val;
		e->last_dv = c;
		return;
	}
	int64_t d = (int64_t)(val - e->last_v);
	int64_t r = mode == VG_CHUNK_DEC_DOD ? (int64_t)((uint64_t)d - (uint64_t)e->last_dv) : d;
	width_put(w, &e->win_a, vg_zigzag(r));
	e->last_v = val;
	e->last_dv = d;
}

static size_t alloc_size(size_t need)
{
	/* 24, 56, 88...: sizes malloc serves without rounding them up */
	return need <= 24 ? 24 : 24 + (need - 24 + GROW_STEP - 1) / GROW_STEP * GROW_STEP;
}

/* Encodes n samples from arrays into a new encoder state; 0 or ENOMEM. */
static int encode_all(struct vg_chunk_enc *out, const struct vg_chunk_alloc *al, const int64_t *ts,
		      const double *v, size_t n, unsigned mode, unsigned k, bool is_final)
{
	size_t cap = HDR_BYTES + n * SAMPLE_MAX_BYTES + 1;
	struct bw w;

	vg_chunk_enc_init(out);
	if ((out->buf = calloc(1, cap)) == NULL)
		return VG_ENOMEM;
	out->buf[0] = VG_CHUNK_VERSION;
	out->buf[1] = (uint8_t)mode;
	out->buf[2] = (uint8_t)k;
	vg_put_be16(out->buf + 3, (uint16_t)n);
	w.p = out->buf;
	w.pos = HDR_BITS;
	for (size_t i = 0; i < n; i++) {
		uint64_t val = 0;
		int64_t c = 0;
		/* the caller checked that every value fits the mode */
		if (mode == VG_CHUNK_XOR)
			val = f2u(v[i]);
		else if (mode == VG_CHUNK_DEC_ULP)
			(void)ulp_fits(v[i], k, &val, &c);
		else
			(void)dec_fits(v[i], k, &val);
		put_sample(&w, out, mode, i == 0, ts[i], val, c);
	}
	out->nbits = (uint32_t)w.pos;
	size_t len = (w.pos + 7) / 8;
	size_t want = is_final ? len : alloc_size(len);
	if (al) {
		/* encoded in malloc's room for the worst case; kept in al's */
		uint8_t *p = al->alloc(al->ctx, want < cap ? want : cap);
		if (p == NULL) {
			vg_chunk_enc_release(out);
			return VG_ENOMEM;
		}
		cap = want < cap ? want : cap;
		memcpy(p, out->buf, cap);
		free(out->buf);
		out->buf = p;
	} else if (want < cap) {
		uint8_t *p = realloc(out->buf, want);
		if (p) {
			out->buf = p;
			cap = want;
		}
	}
	out->cap = (uint32_t)cap;
	if (is_final)
		out->flags |= VG_CHUNK_F_FINISHED;
	return 0;
}

/* Decodes the encoder's own samples into ts[], v[] (room for MAX). */
static size_t decode_own(const struct vg_chunk_enc *e, int64_t *ts, double *v)
{
	struct vg_chunk_it it;
	size_t n = 0, len;
	const uint8_t *p = vg_chunk_enc_bytes(e, &len);

	if (p == NULL || vg_chunk_it_init(&it, p, len, NULL) != 0)
		return 0;
	while (n < VG_CHUNK_MAX_SAMPLES && vg_chunk_it_next(&it, &ts[n], &v[n]) == 1)
		n++;
	return n;
}

/* The smallest encoding of the samples (XOR, decimal delta, decimal
 * delta-of-delta, or decimal with ULP corrections when no exact decimal
 * scale exists), into *best. */
static int encode_best(struct vg_chunk_enc *best, const struct vg_chunk_alloc *al, const int64_t *ts,
		       const double *v, size_t n, bool is_final)
{
	struct vg_chunk_enc cand;
	int k = dec_scale_all(v, n, 0), rc;
	int ku = ulp_scale_below(v, n, k < 0 ? MAX_SCALE + 1 : (unsigned)k);
	unsigned modes[3], scales[3], nm = 0;

	if (k >= 0) {
		modes[nm] = VG_CHUNK_DEC_DELTA, scales[nm++] = (unsigned)k;
		modes[nm] = VG_CHUNK_DEC_DOD, scales[nm++] = (unsigned)k;
	}
	/* a few units off a short decimal can beat an exact long one */
	if (ku >= 0 && (k < 0 || ku < k))
		modes[nm] = VG_CHUNK_DEC_ULP, scales[nm++] = (unsigned)ku;
	if ((rc = encode_all(best, al, ts, v, n, VG_CHUNK_XOR, 0, is_final)) != 0)
		return rc;
	for (unsigned i = 0; i < nm; i++) {
		if ((rc = encode_all(&cand, al, ts, v, n, modes[i], scales[i], is_final)) != 0) {
			vg_chunk_enc_release_in(best, al);
			return rc;
		}
		if (cand.nbits < best->nbits) {
			vg_chunk_enc_release_in(best, al);
			*best = cand;
		} else {
			vg_chunk_enc_release_in(&cand, al);
		}
	}
	return 0;
}

int vg_chunk_encode_cols(const int64_t *ts, const double *v, size_t n, struct vg_buf *out)
{
	uint8_t hdr[HDR_BYTES] = { VG_CHUNK_VERSION, VG_CHUNK_COLS, 0, 0, 0 };
	size_t at = out->len;

	if (n == 0 || n > VG_CHUNK_MAX_MERGED)
		return VG_EINVAL;
	for (size_t i = 1; i < n; i++)
		if (ts[i] <= ts[i - 1] || (uint64_t)ts[i] - (uint64_t)ts[i - 1] > VG_CHUNK_MAX_STEP_MS)
			return VG_EINVAL;
	vg_put_be16(hdr + 3, (uint16_t)n);
	vg_buf_append(out, hdr, sizeof(hdr));
	if (vg_col_encode_ts(ts, n, out) != 0 || vg_col_encode_f64(v, n, out) != 0 || vg_buf_failed(out)) {
		if (!vg_buf_failed(out))
			out->len = at;
		return VG_ENOMEM;
	}
	return 0;
}

/* Encodes n samples of a chunk (ascending, steps in range), finished, as a
 * timestamp column and a value column after the header (mode
 * VG_CHUNK_COLS); 0 or VG_ENOMEM. */
static int encode_cols(struct vg_chunk_enc *out, const struct vg_chunk_alloc *al, const int64_t *ts,
		       const double *v, size_t n)
{
	struct vg_buf b = VG_BUF_INIT;

	vg_chunk_enc_init(out);
	if (vg_chunk_encode_cols(ts, v, n, &b) != 0 || (out->buf = buf_alloc(al, b.len)) == NULL) {
		vg_buf_release(&b);
		return VG_ENOMEM;
	}
	memcpy(out->buf, b.data, b.len);
	out->cap = (uint32_t)b.len;
	out->nbits = (uint32_t)(b.len * 8);
	out->last_ts = ts[n - 1];
	out->flags |= VG_CHUNK_F_FINISHED;
	vg_buf_release(&b);
	return 0;
}

static long decode_ints_step(const uint8_t *p, size_t len, uint64_t *dst, size_t n, uint64_t *step,
			     struct vg_err *err);

/* The samples of a chunk in columns, p[0..len) (its header checked), into
 * ts and v (room for its count n). */
static int decode_cols(const uint8_t *p, size_t len, size_t n, int64_t *ts, double *v,
		       struct vg_err *err)
{
	uint64_t step;
	int64_t last;
	long a, b;

	/* vg_col_decode_ts's check and the chunk's step limit in one pass;
	 * none when every step is the same one (a regular interval), in range
	 * and not wrapping past the end of int64 */
	if ((a = decode_ints_step(p + HDR_BYTES, len - HDR_BYTES, (uint64_t *)(void *)ts, n, &step, err)) < 0)
		return (int)a;
	bool regular = step >= 1 && step <= VG_CHUNK_MAX_STEP_MS &&
		       !__builtin_mul_overflow((int64_t)step, (int64_t)(n - 1), &last) &&
		       !__builtin_add_overflow(ts[0], last, &last);
	for (size_t i = 1; i < n && !regular; i++) {
		if (ts[i] > ts[i - 1] && (uint64_t)ts[i] - (uint64_t)ts[i - 1] <= VG_CHUNK_MAX_STEP_MS)
			continue;
		if (ts[i] <= ts[i - 1])
			return vg_err_set(err, VG_EINVAL, "column: timestamp %zu (%lld) not after the one before",
					  i, (long long)ts[i]);
		return vg_err_set(err, VG_EINVAL, "chunk: timestamp step out of range at sample %zu", i);
	}
	if ((b = vg_col_decode_f64(p + HDR_BYTES + a, len - HDR_BYTES - (size_t)a, v, n, err)) < 0)
		return (int)b;
	if (HDR_BYTES + (size_t)a + (size_t)b != len)
		return vg_err_set(err, VG_EINVAL, "chunk: %zu bytes after its columns",
				  len - HDR_BYTES - (size_t)a - (size_t)b);
	return 0;
}

/* Appending a value the chunk's scale cannot hold: re-encode everything. */
static int append_reencode(struct vg_chunk_enc *e, const struct vg_chunk_alloc *al, int64_t ts_ms, double v)
{
	int64_t ts[VG_CHUNK_MAX_SAMPLES];
	double vs[VG_CHUNK_MAX_SAMPLES];
	struct vg_chunk_enc next;
	size_t n = decode_own(e, ts, vs);
	int rc;

	if (n != vg_chunk_enc_samples(e))
		return VG_EINVAL; /* cannot happen: our own bytes */
	ts[n] = ts_ms;
	vs[n] = v;
	if ((rc = encode_best(&next, al, ts, vs, n + 1, false)) != 0)
		return rc;
	vg_chunk_enc_release_in(e, al);
	*e = next;
	return 0;
}

/* At RECHOOSE_AT samples the chunk's encoding is chosen again from what it
 * holds by then (the first value alone is a poor guide). A failure keeps
 * the chunk as it is. */
static void rechoose(struct vg_chunk_enc *e, const struct vg_chunk_alloc *al)
{
	int64_t ts[VG_CHUNK_MAX_SAMPLES];
	double vs[VG_CHUNK_MAX_SAMPLES];
	struct vg_chunk_enc next;
	size_t n = decode_own(e, ts, vs);

	if (n != vg_chunk_enc_samples(e) || encode_best(&next, al, ts, vs, n, false) != 0)
		return;
	if (next.nbits < e->nbits) {
		vg_chunk_enc_release_in(e, al);
		*e = next;
	} else {
		vg_chunk_enc_release_in(&next, al);
	}
}

int vg_chunk_enc_append(struct vg_chunk_enc *e, int64_t ts_ms, double v)
{
	return vg_chunk_enc_append_in(e, NULL, ts_ms, v);
}

int vg_chunk_enc_append_in(struct vg_chunk_enc *e, const struct vg_chunk_alloc *al, int64_t ts_ms, double v)
{
	uint8_t scratch[SCRATCH_BYTES];
	struct vg_chunk_enc saved = *e;
	unsigned n, mode, k;
	uint64_t val;
	int64_t c = 0;
	struct bw w;

	if (e->flags & VG_CHUNK_F_FINISHED)
		return VG_EINVAL;
	if (e->buf == NULL) {
		int sk = dec_scale(v);
		if (sk >= 0)
			return encode_all(e, al, &ts_ms, &v, 1, VG_CHUNK_DEC_DELTA, (unsigned)sk, false);
		sk = ulp_scale_all(&v, 1);
		if (sk >= 0)
			return encode_all(e, al, &ts_ms, &v, 1, VG_CHUNK_DEC_ULP, (unsigned)sk, false);
		return encode_all(e, al, &ts_ms, &v, 1, VG_CHUNK_XOR, 0, false);
	}
	n = hdr_count(e->buf);
	mode = e->buf[1];
	k = e->buf[2];
	if (ts_ms <= e->last_ts)
		return VG_EINVAL;
	if (n >= VG_CHUNK_MAX_SAMPLES || (uint64_t)ts_ms - (uint64_t)e->last_ts > VG_CHUNK_MAX_STEP_MS)
		return VG_ELIMIT;
	if (mode == VG_CHUNK_XOR)
		val = f2u(v);
	else if (mode == VG_CHUNK_DEC_ULP ? !ulp_fits(v, k, &val, &c) : !dec_fits(v, k, &val))
		return append_reencode(e, al, ts_ms, v);

	/* Encode into a scratch copy of the last byte, then grow and copy:
	 * the bytes a reader may copy never hold a half-written sample. */
	memset(scratch, 0, sizeof(scratch));
	w.p = scratch;
	w.pos = e->nbits & 7;
	if (w.pos)
		scratch[0] = e->buf[e->nbits >> 3];
	put_sample(&w, e, mode, false, ts_ms, val, c);
	size_t at = e->nbits >> 3, bytes = (w.pos + 7) / 8;
	if (at + bytes > e->cap) {
		size_t cap = alloc_size(at + bytes);
		uint8_t *p = al ? al->alloc(al->ctx, cap) : realloc(e->buf, cap);
		if (p == NULL) {
			*e = saved;
			return VG_ENOMEM;
		}
		if (al) {
			memcpy(p, e->buf, e->cap);
			al->free(al->ctx, e->buf, e->cap);
		}
		memset(p + e->cap, 0, cap - e->cap);
		e->buf = p;
		e->cap = (uint32_t)cap;
	}
	memcpy(e->buf + at, scratch, bytes);
	e->nbits = (uint32_t)((at << 3) + w.pos);
	vg_put_be16(e->buf + 3, (uint16_t)(n + 1));
	if (n + 1 == RECHOOSE_AT)
		rechoose(e, al);
	return 0;
}

int vg_chunk_enc_finish(struct vg_chunk_enc *e)
{
	return vg_chunk_enc_finish_in(e, NULL);
}

int vg_chunk_enc_finish_in(struct vg_chunk_enc *e, const struct vg_chunk_alloc *al)
{
	int64_t ts[VG_CHUNK_MAX_SAMPLES];
	double vs[VG_CHUNK_MAX_SAMPLES];
	struct vg_chunk_enc next;
	size_t n;
	int rc;

	if (e->buf == NULL || (e->flags & VG_CHUNK_F_FINISHED)) {
		e->flags |= VG_CHUNK_F_FINISHED;
		return 0;
	}
	n = decode_own(e, ts, vs);
	if (n != vg_chunk_enc_samples(e))
		return VG_EINVAL;
	/* Columns against the bit stream as it is (its mode was chosen at
	 * RECHOOSE_AT samples); the bit stream's every mode only when the
	 * columns lose, which is rare: finishing costs one encode a sample. */
	if ((rc = encode_cols(&next, al, ts, vs, n)) != 0)
		return rc;
	if (next.cap >= (e->nbits + 7) / 8) {
		vg_chunk_enc_release_in(&next, al);
		if ((rc = encode_best(&next, al, ts, vs, n, true)) != 0)
			return rc;
	}
	vg_chunk_enc_release_in(e, al);
	*e = next;
	return 0;
}

bool vg_chunk_enc_is_finished(const struct vg_chunk_enc *e)
{
	return (e->flags & VG_CHUNK_F_FINISHED) != 0;
}

int vg_chunk_enc_finish_as(struct vg_chunk_enc *e, enum vg_chunk_mode mode)
{
	int64_t ts[VG_CHUNK_MAX_SAMPLES];
	double vs[VG_CHUNK_MAX_SAMPLES];
	struct vg_chunk_enc next;
	size_t n;
	int k = 0, rc;

	if (e->buf == NULL || mode > VG_CHUNK_COLS)
		return VG_EINVAL;
	n = decode_own(e, ts, vs);
	if (n != vg_chunk_enc_samples(e))
		return VG_EINVAL;
	if (mode == VG_CHUNK_COLS) {
		if ((rc = encode_cols(&next, NULL, ts, vs, n)) != 0)
			return rc;
		vg_chunk_enc_release(e);
		*e = next;
		return 0;
	}
	if (mode == VG_CHUNK_DEC_ULP)
		k = ulp_scale_all(vs, n);
	else if (mode != VG_CHUNK_XOR)
		k = dec_scale_all(vs, n, 0);
	if (k < 0)
		return VG_EINVAL;
	if ((rc = encode_all(&next, NULL, ts, vs, n, mode, (unsigned)k, true)) != 0)
		return rc;
	vg_chunk_enc_release(e);
	*e = next;
	return 0;
}

/* ---- decimal helpers ---------------------------------------------------- */

int vg_dec_scale(const double *v, size_t n)
{
	return dec_scale_all(v, n, 0);
}

bool vg_dec_int(double v, int k, int64_t *m)
{
	uint64_t u;

	if (k < 0 || k > MAX_SCALE || !dec_fits(v, (unsigned)k, &u))
		return false;
	*m = (int64_t)u;
	return true;
}

double vg_dec_double(int64_t m, int k)
{
	return dec_value((uint64_t)m, k < 0 ? 0 : k > MAX_SCALE ? MAX_SCALE : (unsigned)k);
}

/* ---- A. decoding -------------------------------------------------------- */

static int it_fail(struct vg_chunk_it *it, const char *what)
{
	unsigned at = it->i;

	it->i = it->n + 1; /* every later call fails too */
	return vg_err_set(it->err, VG_EINVAL, "chunk: %s at sample %u of %u (bit %zu of %zu)", what,
			  at, it->n, it->pos, it->nbits);
}

int vg_chunk_it_init(struct vg_chunk_it *it, const uint8_t *p, size_t len, struct vg_err *err)
{
	memset(it, 0, offsetof(struct vg_chunk_it, col_ts));
	it->err = err;
	if (len < HDR_BYTES)
		return vg_err_set(err, VG_EINVAL, "chunk: %zu bytes, shorter than its %d-byte header",
				  len, HDR_BYTES);
	if (p[0] != VG_CHUNK_VERSION)
		return vg_err_set(err, VG_EVERSION, "chunk: format version %u, this build reads %d",
				  p[0], VG_CHUNK_VERSION);
	if (p[1] > VG_CHUNK_COLS)
		return vg_err_set(err, VG_EINVAL, "chunk: unknown value mode %u", p[1]);
	if (p[2] > MAX_SCALE || ((p[1] == VG_CHUNK_XOR || p[1] == VG_CHUNK_COLS) && p[2] != 0))
		return vg_err_set(err, VG_EINVAL, "chunk: decimal scale %u out of range", p[2]);
	if (len > SIZE_MAX / 8)
		return vg_err_set(err, VG_ELIMIT, "chunk: %zu bytes", len);
	it->p = p;
	it->nbits = len * 8;
	it->pos = HDR_BITS;
	it->n = hdr_count(p);
	it->mode = p[1];
	it->scale = p[2];
	it->win_a = p[1] == VG_CHUNK_XOR ? 0xff : 0;
	if (it->n == 0 || it->n > (it->mode == VG_CHUNK_COLS ? VG_CHUNK_MAX_MERGED : VG_CHUNK_MAX_SAMPLES))
		return vg_err_set(err, VG_EINVAL, "chunk: sample count %u out of range 1..%d", it->n,
				  it->mode == VG_CHUNK_COLS ? VG_CHUNK_MAX_MERGED : VG_CHUNK_MAX_SAMPLES);
	if (it->mode == VG_CHUNK_COLS)
		return decode_cols(p, len, it->n, it->col_ts, it->col_v, err);
	return 0;
}

int vg_chunk_it_next(struct vg_chunk_it *it, int64_t *ts_ms, double *v)
{
	struct br r = { it->p, it->pos, it->nbits };
	uint64_t u, val;

	if (it->i > it->n)
		return VG_EINVAL;
	if (it->i == it->n)
		return 0;
	if (it->mode == VG_CHUNK_COLS) {
		*ts_ms = it->col_ts[it->i];
		*v = it->col_v[it->i++];
		return 1;
	}
	if (it->i == 0) {
		if (full_get(&r, &u) != 0)
			goto bad;
		it->ts = vg_unzigzag(u);
		it->dts = 0;
	} else {
		if (ts_get(&r, &u) != 0)
			goto bad;
		int64_t d = (int64_t)((uint64_t)it->dts + (uint64_t)vg_unzigzag(u));
		if (d <= 0 || d > VG_CHUNK_MAX_STEP_MS) {
			it->pos = r.pos;
			return it_fail(it, "timestamp step out of range");
		}
		if (it->ts > INT64_MAX - d) {
			it->pos = r.pos;
			return it_fail(it, "timestamp overflows");
		}
		it->dts = d;
		it->ts += d;
	}
	if (it->mode == VG_CHUNK_XOR) {
		struct xor_state s = { it->v, it->win_a, it->win_b };
		if (xor_get(&r, &s, &val) != 0)
			goto bad;
		it->v = val;
		it->win_a = s.lead;
		it->win_b = s.trail;
		*v = u2f(val);
	} else if (it->mode == VG_CHUNK_DEC_ULP) {
		uint64_t uc;
		if (it->i == 0) {
			if (full_get(&r, &u) != 0 || full_get(&r, &uc) != 0)
				goto bad;
			it->v = (uint64_t)vg_unzigzag(u);
			it->dv = vg_unzigzag(uc);
		} else {
			if (width_get(&r, &it->win_a, &u) != 0 || width_get(&r, &it->win_b, &uc) != 0)
				goto bad;
			it->v += (uint64_t)vg_unzigzag(u);
			it->dv = (int64_t)((uint64_t)it->dv + (uint64_t)vg_unzigzag(uc));
		}
		*v = u2f(f2u(dec_value(it->v, it->scale)) + (uint64_t)it->dv);
	} else if (it->i == 0) {
		if (full_get(&r, &u) != 0)
			goto bad;
		it->v = (uint64_t)vg_unzigzag(u);
		it->dv = 0;
		*v = dec_value(it->v, it->scale);
	} else {
		if (width_get(&r, &it->win_a, &u) != 0)
			goto bad;
		int64_t d = vg_unzigzag(u);
		if (it->mode == VG_CHUNK_DEC_DOD)
			d = (int64_t)((uint64_t)it->dv + (uint64_t)d);
		it->dv = d;
		it->v += (uint64_t)d;
		*v = dec_value(it->v, it->scale);
	}
	*ts_ms = it->ts;
	it->pos = r.pos;
	it->i++;
	return 1;
bad:
	it->pos = r.pos;
	return it_fail(it, "bits end early or are malformed");
}

int vg_chunk_it_seek(struct vg_chunk_it *it, int64_t t_ms, int64_t *ts_ms, double *v)
{
	int rc;

	while ((rc = vg_chunk_it_next(it, ts_ms, v)) == 1)
		if (*ts_ms >= t_ms)
			return 1;
	return rc;
}

/* The state of decode_run between samples, for run_steady. */
struct run_state {
	size_t pos, i;
	int64_t t, dts, dv;
	uint64_t val;
};

/*
 * The common samples of a decimal mode from sample s->i on, while they
 * come: each on the step of the one before ('0'), its integer's (and ULP
 * count's) residual in the current width ('0' + W bits, each), and its
 * timestamp at or before max_t. One load of the 64 bits from a sample's
 * first; the flags tested together; the widths (wa, wb: 2 + wa (+ 1 +
 * wb) <= 57 bits a sample) stay what they are, so a sample's bits start
 * need bits after the last one's. Stops at lim samples, at the first
 * other sample, or at the first whose bits start after bit last (each
 * sample starting at or before it has 8 bytes from its first byte at p),
 * for decode_run.
 */
static inline __attribute__((always_inline)) void run_steady(unsigned mode, bool small_b, const uint8_t *p,
								 size_t last, unsigned wa, unsigned wb,
								 int64_t max_t, size_t lim, struct run_state *s,
								 int64_t *ts, uint64_t *m, int64_t *c)
{
	/* small_b: wb <= 3, the ULP count's residual unzigzagged by unzz3 */
	bool ulp = mode == VG_CHUNK_DEC_ULP;
	unsigned need = 2u + wa + (ulp ? 1u + wb : 0u);
	uint64_t flags = (3ull << 62) | (ulp ? 1ull << (61 - wa) : 0);
	uint64_t ma = wa ? ~0ull >> (64 - wa) : 0, mb = wb ? ~0ull >> (64 - wb) : 0;
	size_t pos = s->pos, i = s->i;
	int64_t t = s->t, dts = s->dts, dv = s->dv, tlim;
	uint64_t val = s->val;

	/* tlim: a sample after t <= tlim is at or before max_t (and does not
	 * overflow) */
	if (__builtin_sub_overflow(max_t, dts, &tlim) || t > tlim || pos > last)
		return;
	/* the samples before t passes tlim, or pos passes last: i, t and
	 * pos move by one, dts and need a sample */
	uint64_t by_t = ((uint64_t)tlim - (uint64_t)t) / (uint64_t)dts + 1;
	uint64_t by_pos = (last - pos) / need + 1;
	size_t stop = lim - i;
	if (by_t < stop)
		stop = (size_t)by_t;
	if (by_pos < stop)
		stop = (size_t)by_pos;
	stop += i;
	/* the timestamps, one add each, are written after the loop, which
	 * keeps fewer values live */
	size_t i0 = i;
	unsigned sa = 62 - wa, sb = 61 - wa - wb;
	for (; i < stop; i++) {
		uint64_t w = load_be64(p + (pos >> 3)) << (pos & 7);
		if (w & flags)
			break;
		int64_t d = vg_unzigzag((w >> sa) & ma);
		if (ulp) {
			val += (uint64_t)d;
			uint64_t zb = (w >> sb) & mb;
			dv = (int64_t)((uint64_t)dv + (uint64_t)(small_b ? unzz3[zb & 7] : vg_unzigzag(zb)));
			c[i] = dv;
		} else {
			if (mode == VG_CHUNK_DEC_DOD)
				d = (int64_t)((uint64_t)dv + (uint64_t)d);
			dv = d;
			val += (uint64_t)d;
		}
		pos += need;
		m[i] = val;
	}
	t = (int64_t)fill_steps((uint64_t *)(void *)(ts + i0), i - i0, (uint64_t)t, (uint64_t)dts);
	s->pos = pos;
	s->i = i;
	s->t = t;
	s->dv = dv;
	s->val = val;
}

/* run_steady for mode, an instance of its own for each, out of line so
 * that its loop has the registers to itself. */
static __attribute__((noinline)) void steady_at(unsigned mode, const uint8_t *p, size_t last, unsigned wa,
						unsigned wb, int64_t max_t, size_t lim, struct run_state *s,
						int64_t *ts, uint64_t *m, int64_t *c)
{
	if (mode == VG_CHUNK_DEC_ULP && wb <= 3)
		run_steady(VG_CHUNK_DEC_ULP, true, p, last, wa, wb, max_t, lim, s, ts, m, c);
	else if (mode == VG_CHUNK_DEC_ULP)
		run_steady(VG_CHUNK_DEC_ULP, false, p, last, wa, wb, max_t, lim, s, ts, m, c);
	else if (mode == VG_CHUNK_DEC_DOD)
		run_steady(VG_CHUNK_DEC_DOD, false, p, last, wa, 0, max_t, lim, s, ts, m, c);
	else
		run_steady(VG_CHUNK_DEC_DELTA, false, p, last, wa, 0, max_t, lim, s, ts, m, c);
}

/*
 * The samples of it from the first, as vg_chunk_it_next reads them one by
 * one but with the state in registers: at most max_n, up to the last at
 * or before max_t, *n of them, timestamps into ts and the values' integers
 * into m (decimal modes; the ULP counts into c) or their bits (XOR).
 */
static int decode_run(struct vg_chunk_it *it, int64_t max_t, size_t max_n, int64_t *ts, uint64_t *m,
		      int64_t *c, size_t *n)
{
	struct br r = { it->p, it->pos, it->nbits };
	unsigned mode = it->mode;
	uint64_t u, uc, val = 0;
	int64_t t = 0, dts = 0, dv = 0;
	struct xor_state xs = { 0, 0xff, 0 };
	uint8_t wa = 0, wb = 0;
	size_t i, lim = max_n < it->n ? max_n : it->n;

	for (i = 0; i < lim; i++) {
		uint64_t w;
		unsigned need = 2u + wa + (mode == VG_CHUNK_DEC_ULP ? 1u + wb : 0u);
		if (i > 1 && mode != VG_CHUNK_XOR && need <= 57) {
			struct run_state st = { r.pos, i, t, dts, dv, val };
			size_t end_byte = r.end >> 3;
			if (end_byte >= 8)
				steady_at(mode, r.p, (end_byte - 8) * 8 + 7, wa, wb, max_t, lim, &st, ts, m, c);
			/* the last bytes (where a load of 8 would pass the end)
			 * from a copy with zeros after: the samples that end
			 * within the stream's bits, as above */
			size_t b0 = st.pos >> 3, tail = ((r.end + 7) >> 3) - b0;
			if (st.i < lim && r.end >= st.pos + need && b0 + 8 > end_byte && tail <= 16) {
				uint8_t tb[24] = { 0 };
				memcpy(tb, r.p + b0, tail);
				st.pos -= b0 * 8;
				steady_at(mode, tb, r.end - b0 * 8 - need, wa, wb, max_t, lim, &st, ts, m, c);
				st.pos += b0 * 8;
			}
			r.pos = st.pos;
			i = st.i;
			t = st.t;
			dv = st.dv;
			val = st.val;
			if (i == lim)
				break;
		}
		/* The common sample of the decimal modes, read from one load:
		 * the step of the one before ('0'), the integer's and the ULP
		 * count's residuals in their widths ('0' + W bits each). */
		if (i > 1 && mode != VG_CHUNK_XOR && t <= INT64_MAX - dts && br_peek(&r, &w) && w >> 63 == 0 &&
		    (w << 1) >> 63 == 0) {
			if (need <= 57 && (mode != VG_CHUNK_DEC_ULP || (w << (2 + wa)) >> 63 == 0)) {
				int64_t d = wa ? vg_unzigzag((w << 2) >> (64 - wa)) : 0;
				t += dts;
				if (mode == VG_CHUNK_DEC_ULP) {
					val += (uint64_t)d;
					if (wb)
						dv = (int64_t)((uint64_t)dv +
							       (uint64_t)vg_unzigzag((w << (3 + wa)) >> (64 - wb)));
				} else {
					if (mode == VG_CHUNK_DEC_DOD)
						d = (int64_t)((uint64_t)dv + (uint64_t)d);
					dv = d;
					val += (uint64_t)d;
				}
				r.pos += need;
				goto have;
			}
		}
		if (i == 0) {
			if (full_get(&r, &u) != 0)
				goto bad;
			t = vg_unzigzag(u);
		} else {
			int64_t d;
			if (ts_get(&r, &u) != 0)
				goto bad;
			d = (int64_t)((uint64_t)dts + (uint64_t)vg_unzigzag(u));
			if (d <= 0 || d > VG_CHUNK_MAX_STEP_MS || t > INT64_MAX - d) {
				it->pos = r.pos;
				it->i = (uint32_t)i;
				return it_fail(it, d <= 0 || d > VG_CHUNK_MAX_STEP_MS ? "timestamp step out of range"
										       : "timestamp overflows");
			}
			dts = d;
			t += d;
		}
		if (mode == VG_CHUNK_XOR) {
			if (xor_get(&r, &xs, &val) != 0)
				goto bad;
		} else if (i == 0) {
			if (full_get(&r, &u) != 0)
				goto bad;
			val = (uint64_t)vg_unzigzag(u);
			if (mode == VG_CHUNK_DEC_ULP) {
				if (full_get(&r, &uc) != 0)
					goto bad;
				dv = vg_unzigzag(uc);
			}
		} else if (mode == VG_CHUNK_DEC_ULP) {
			if (width_get(&r, &wa, &u) != 0 || width_get(&r, &wb, &uc) != 0)
				goto bad;
			val += (uint64_t)vg_unzigzag(u);
			dv = (int64_t)((uint64_t)dv + (uint64_t)vg_unzigzag(uc));
		} else {
			int64_t d;
			if (width_get(&r, &wa, &u) != 0)
				goto bad;
			d = vg_unzigzag(u);
			if (mode == VG_CHUNK_DEC_DOD)
				d = (int64_t)((uint64_t)dv + (uint64_t)d);
			dv = d;
			val += (uint64_t)d;
		}
have:
		if (t > max_t)
			break;
		ts[i] = t;
		m[i] = val;
		c[i] = dv;
	}
	*n = i;
	return 0;
bad:
	it->pos = r.pos;
	it->i = (uint32_t)i;
	return it_fail(it, "bits end early or are malformed");
}

/* v[i] = dec_value(m[i], k), plus c[i] units in the last place when c is
 * not NULL (ULP mode). Two divisions at a time where SSE2 has them: the
 * division's throughput bounds this loop, and a lane of divpd rounds as
 * divsd does. */
static void dec_values(const uint64_t *m, const int64_t *c, size_t n, unsigned k, double *v)
{
	size_t i = 0;
#ifdef __SSE2__
	const __m128d d = _mm_set1_pd(p10[k]);

	if (c == NULL) {
#pragma GCC unroll 2
		for (; i + 2 <= n; i += 2)
			_mm_storeu_pd(v + i, _mm_div_pd(_mm_set_pd((double)(int64_t)m[i + 1],
								   (double)(int64_t)m[i]), d));
	} else {
#pragma GCC unroll 2
		for (; i + 2 <= n; i += 2) {
			__m128d q = _mm_div_pd(_mm_set_pd((double)(int64_t)m[i + 1], (double)(int64_t)m[i]), d);
			q = _mm_castsi128_pd(_mm_add_epi64(_mm_castpd_si128(q),
							   _mm_loadu_si128((const __m128i *)(const void *)(c + i))));
			_mm_storeu_pd(v + i, q);
		}
	}
#endif
	for (; i < n; i++)
		v[i] = c != NULL ? u2f(f2u(dec_value(m[i], k)) + (uint64_t)c[i]) : dec_value(m[i], k);
}

int vg_chunk_decode(const uint8_t *p, size_t len, int64_t max_t, size_t max_n, int64_t *ts, double *v,
		    size_t *n, struct vg_err *err)
{
	uint64_t m[VG_CHUNK_MAX_SAMPLES];
	int64_t c[VG_CHUNK_MAX_SAMPLES];
	struct vg_chunk_it it;
	int rc;

	*n = 0;
	if (len >= HDR_BYTES && p[1] == VG_CHUNK_COLS) {
		/* the header's checks, then the columns straight into ts and v */
		size_t i = 0, cnt = vg_get_be16(p + 3);
		if (p[0] != VG_CHUNK_VERSION || p[2] != 0 || cnt == 0 || cnt > VG_CHUNK_MAX_MERGED)
			return vg_chunk_it_init(&it, p, len, err);
		if ((rc = decode_cols(p, len, cnt, ts, v, err)) != 0)
			return rc;
		if (cnt <= max_n && ts[cnt - 1] <= max_t)
			i = cnt; /* the usual read: all of it */
		while (i < cnt && i < max_n && ts[i] <= max_t)
			i++;
		*n = i;
		return 0;
	}
	if ((rc = vg_chunk_it_init(&it, p, len, err)) != 0 ||
	    (rc = decode_run(&it, max_t, max_n, ts, m, c, n)) != 0)
		return rc;
	/* apart from the bits: the divisions do not wait on each other */
	if (it.mode == VG_CHUNK_XOR)
		for (size_t i = 0; i < *n; i++)
			v[i] = u2f(m[i]);
	else
		dec_values(m, it.mode == VG_CHUNK_DEC_ULP ? c : NULL, *n, it.scale, v);
	return 0;
}

/* ---- B. columns --------------------------------------------------------- */

static uint64_t gcd64(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

static void put_bits_block(struct vg_buf *out, const uint64_t *q, size_t c, unsigned width)
{
	size_t bytes = (c * width + 7) / 8;

	if (vg_buf_grow(out, bytes) != 0)
		return;
	/* Whole bytes out of a 64-bit accumulator (bw_put goes a byte's part
	 * at a time): fewer than 8 bits wait in it between entries, so up to
	 * 56 more fit at once; a wider entry goes in two parts. */
	uint8_t *p = out->data + out->len;
	uint64_t acc = 0;
	unsigned nacc = 0;

	for (size_t i = 0; i < c && width > 0; i++) {
		uint64_t v = q[i];
		if (width > 56) {
			acc = (acc << (width - 32)) | (v >> 32);
			nacc += width - 32;
			for (; nacc >= 8; nacc -= 8)
				*p++ = (uint8_t)(acc >> (nacc - 8));
			v &= 0xffffffffu;
			acc = (acc << 32) | v;
			nacc += 32;
		} else {
			acc = (acc << width) | v;
			nacc += width;
		}
		for (; nacc >= 8; nacc -= 8)
			*p++ = (uint8_t)(acc >> (nacc - 8));
	}
	if (nacc > 0)
		*p = (uint8_t)(acc << (8 - nacc));
	out->len += bytes;
	out->data[out->len] = 0;
}

/* What PACK writes of one block: its minimum lo and maximum hi (as signed
 * integers), and the gcd g of its offsets from lo (0 when all are lo). */
struct pstat {
	int64_t lo, hi;
	uint64_t g;
};

static void pstat_of(const uint64_t *r, size_t m, struct pstat *s)
{
	int64_t lo = (int64_t)r[0], hi = lo;
	uint64_t g = 0;

	for (size_t i = 1; i < m; i++) {
		int64_t e = (int64_t)r[i];
		lo = e < lo ? e : lo;
		hi = e > hi ? e : hi;
	}
	/* a gcd of 1 stays 1: most blocks stop after a few entries */
	for (size_t i = 0; i < m && g != 1; i++)
		g = gcd64(r[i] - (uint64_t)lo, g);
	s->lo = lo;
	s->hi = hi;
	s->g = g;
}

static unsigned pstat_width(const struct pstat *s)
{
	uint64_t span = (uint64_t)s->hi - (uint64_t)s->lo;

	return bitlen(s->g > 1 ? span / s->g : span);
}

/* Bytes of a block of m entries with these figures. */
static size_t pstat_bytes(const struct pstat *s, size_t m)
{
	return vg_uvarint_len(vg_zigzag(s->lo)) + vg_uvarint_len(s->g ? s->g : 1) + 1 +
	       (m * pstat_width(s) + 7) / 8;
}

/* The figures of the blocks of PACK in long blocks from those of its short
 * ones: the offsets of a short block from the long one's minimum are its
 * own plus (its lo - that minimum), and its own include 0. */
static void pstat_merge(struct pstat *into, const struct pstat *s, bool is_first)
{
	if (is_first) {
		*into = *s;
		return;
	}
	if (s->lo < into->lo) {
		into->g = gcd64((uint64_t)into->lo - (uint64_t)s->lo, into->g);
		into->lo = s->lo;
	} else {
		into->g = gcd64((uint64_t)s->lo - (uint64_t)into->lo, into->g);
	}
	into->g = gcd64(s->g, into->g);
	if (s->hi > into->hi)
		into->hi = s->hi;
}

/* Bytes of PACK(r[0..c)) in short and in long blocks. */
static void pack_sizes(const uint64_t *r, size_t c, size_t *in_short, size_t *in_long)
{
	*in_short = *in_long = 0;
	for (size_t at = 0; at < c; at += COL_BLOCK_LONG) {
		size_t lm = c - at < COL_BLOCK_LONG ? c - at : COL_BLOCK_LONG;
		struct pstat s, l = { 0, 0, 0 };

		for (size_t j = 0; j < lm; j += COL_BLOCK) {
			size_t m = lm - j < COL_BLOCK ? lm - j : COL_BLOCK;
			pstat_of(r + at + j, m, &s);
			*in_short += pstat_bytes(&s, m);
			pstat_merge(&l, &s, j == 0);
		}
		*in_long += pstat_bytes(&l, lm);
	}
}

/* PACK(r[0..c)) in blocks of blk entries (COL_BLOCK or COL_BLOCK_LONG). */
static void pack(struct vg_buf *out, const uint64_t *r, size_t c, size_t blk)
{
	uint64_t q[COL_BLOCK_LONG];

	for (size_t at = 0; at < c; at += blk) {
		size_t m = c - at < blk ? c - at : blk;
		struct pstat s;

		pstat_of(r + at, m, &s);
		uint64_t g = s.g ? s.g : 1;
		if (g > 1)
			for (size_t i = 0; i < m; i++)
				q[i] = (r[at + i] - (uint64_t)s.lo) / g;
		else
			for (size_t i = 0; i < m; i++)
				q[i] = r[at + i] - (uint64_t)s.lo;
		vg_buf_put_uvarint(out, vg_zigzag(s.lo));
		vg_buf_put_uvarint(out, g);
		unsigned width = pstat_width(&s);
		vg_buf_putc(out, (char)width);
		put_bits_block(out, q, m, width);
	}
}

struct rd {
	const uint8_t *p;
	size_t len, off;
	struct vg_err *err;
	/* what unpack saw: blocks, the first one's base, and whether every
	 * block had width 0 and that base (every entry the same) */
	size_t blocks;
	uint64_t base0;
	bool uneven;
};

static int rd_uvarint(struct rd *d, uint64_t *v)
{
	size_t used = vg_get_uvarint(d->p + d->off, d->len - d->off, v);

	if (used == 0)
		return vg_err_set(d->err, VG_EINVAL, "column: varint truncated or too long at byte %zu",
				  d->off);
	d->off += used;
	return 0;
}

static int rd_scale(struct rd *d, unsigned *k)
{
	if (d->off >= d->len)
		return vg_err_set(d->err, VG_EINVAL, "column: decimal scale truncated");
	*k = d->p[d->off++];
	if (*k > MAX_SCALE)
		return vg_err_set(d->err, VG_EINVAL, "column: decimal scale %u out of range", *k);
	return 0;
}

/* An unpacked entry e as the body of kind makes it an integer: itself
 * (plain), added to the running sum *x (delta), or added to the running
 * step *dx, which is added to *x (dod). */
static inline __attribute__((always_inline)) uint64_t fold(unsigned kind, uint64_t *x, uint64_t *dx, uint64_t e)
{
	if (kind == TAG_INT_PLAIN)
		return e;
	if (kind == TAG_INT_DELTA)
		return *x += e;
	*dx += e;
	return *x += *dx;
}

/* Entries [0, 8 * groups) of a block of width w (1..57) at bp are read
 * as they are packed (before base and gcd) from loads of 8 bytes, each
 * from at or before the first byte of the entries it holds: the caller
 * checked that the 8 bytes from every entry's first lie in the column.
 * w is a constant in every instance below, so a group of 8 entries (w
 * bytes) unrolls into loads and shifts by constants.
 *
 * The loads of a group at bp: run r of per entries from wd[r],
 * left-aligned (the first run starts on a byte, the later ones up to 7
 * bits into theirs); per is 8 up to w = 8, one load a group. */
#define GROUP_PER(w) (8 * (w) <= 64 ? 8u : 57u / (w))
static inline __attribute__((always_inline)) void group_load(const uint8_t *bp, unsigned w, uint64_t *wd)
{
	unsigned per = GROUP_PER(w);

#pragma GCC unroll 8
	for (unsigned r = 0; r < 8; r++)
		if (r * per < 8) {
			unsigned lb = r * per * w;
			wd[r] = load_be64(bp + (lb >> 3)) << (lb & 7);
		}
}

/* Entry j of the group whose loads are wd. */
static inline __attribute__((always_inline)) uint64_t group_entry(const uint64_t *wd, unsigned j, unsigned w)
{
	unsigned per = GROUP_PER(w);

	return (wd[j / per] << (j % per * w)) >> (64 - w);
}

static inline __attribute__((always_inline)) void unpack_w(const uint8_t *bp, size_t groups, unsigned w,
							   uint64_t *q)
{
	for (size_t gi = 0; gi < groups; gi++, bp += w, q += 8) {
		uint64_t wd[8];
		group_load(bp, w, wd);
#pragma GCC unroll 8
		for (unsigned j = 0; j < 8; j++)
			q[j] = group_entry(wd, j, w);
	}
}

static __attribute__((noinline)) void unpack_raw(const uint8_t *bp, size_t groups, unsigned w, uint64_t *q)
{
	switch (w) {
#define W1(n) case (n): unpack_w(bp, groups, (n), q); break;
#define W4(n) W1(n) W1((n) + 1) W1((n) + 2) W1((n) + 3)
#define W16(n) W4(n) W4((n) + 4) W4((n) + 8) W4((n) + 12)
	W16(1) W16(17) W16(33) W4(49) W4(53) W1(57)
	default:
		break;
	}
}

/* As unpack_w, each entry folded as a delta body's with a gcd of 1 as it
 * is unpacked: q[j] = *x += base + entry, in one pass. */
static inline __attribute__((always_inline)) void unpack_delta_w(const uint8_t *bp, size_t groups, unsigned w,
								 uint64_t *q, uint64_t base, uint64_t *x)
{
	uint64_t v = *x;

	for (size_t gi = 0; gi < groups; gi++, bp += w, q += 8) {
		uint64_t wd[8];
		group_load(bp, w, wd);
#pragma GCC unroll 8
		for (unsigned j = 0; j < 8; j++)
			q[j] = v += base + group_entry(wd, j, w);
	}
	*x = v;
}

static __attribute__((noinline)) void unpack_delta(const uint8_t *bp, size_t groups, unsigned w, uint64_t *q,
						   uint64_t base, uint64_t *x)
{
	switch (w) {
#undef W1
#define W1(n) case (n): unpack_delta_w(bp, groups, (n), q, base, x); break;
	W16(1) W16(17) W16(33) W4(49) W4(53) W1(57)
#undef W16
#undef W4
#undef W1
	default:
		break;
	}
}

/* r[0..n) raw entries folded in place as kind's body does, after base and
 * the gcd g. */
static inline __attribute__((always_inline)) void fold_run(unsigned kind, uint64_t *r, size_t n, uint64_t base,
							   uint64_t g, uint64_t *x, uint64_t *dx)
{
	if (g == 1) {
#pragma GCC unroll 4
		for (size_t i = 0; i < n; i++)
			r[i] = fold(kind, x, dx, base + r[i]);
	} else {
#pragma GCC unroll 4
		for (size_t i = 0; i < n; i++)
			r[i] = fold(kind, x, dx, base + r[i] * g);
	}
}

/* PACK(r[0..c)) read back, each entry folded as kind's body does (fold):
 * *x and *dx are the running sum and step before r[0] and after r[c-1]. */
static inline __attribute__((always_inline)) int unpack_kind(struct rd *d, uint64_t *r, size_t c, unsigned kind,
								size_t blk, uint64_t *x, uint64_t *dx)
{
	for (size_t at = 0; at < c; at += blk) {
		size_t m = c - at < blk ? c - at : blk;
		uint64_t zb, g, q = 0;
		unsigned width;
		struct br b;
		int rc;

		if ((rc = rd_uvarint(d, &zb)) != 0 || (rc = rd_uvarint(d, &g)) != 0)
			return rc;
		if (d->off >= d->len)
			return vg_err_set(d->err, VG_EINVAL, "column: block header truncated at byte %zu",
					  d->off);
		width = d->p[d->off++];
		if (g == 0 || width > 64)
			return vg_err_set(d->err, VG_EINVAL,
					  "column: bad block (gcd %llu, width %u) at byte %zu",
					  (unsigned long long)g, width, d->off);
		size_t bytes = (m * width + 7) / 8;
		if (bytes > d->len - d->off)
			return vg_err_set(d->err, VG_EINVAL,
					  "column: block of %zu bytes past the end at byte %zu", bytes,
					  d->off);
		b.p = d->p + d->off;
		b.pos = 0;
		b.end = bytes * 8;
		uint64_t base = (uint64_t)vg_unzigzag(zb), *rb = r + at;
		size_t i = 0;
		if (d->blocks++ == 0)
			d->base0 = base;
		if (width != 0 || base != d->base0)
			d->uneven = true;
		if (width == 0 && kind == TAG_INT_DOD && base == 0) {
			/* no change of step: a regular interval */
			*x = fill_steps(rb, m, *x, *dx);
			i = m;
		} else if (width == 0 && kind == TAG_INT_DELTA) {
			/* every delta the same (a regular interval's
			 * timestamps) */
			*x = fill_steps(rb, m, *x, base);
			i = m;
		} else if (width == 0) {
			for (; i < m; i++)
				rb[i] = fold(kind, x, dx, base);
		} else if (width <= 57) {
			/* Entries whose 8 bytes from their first lie in the
			 * column (the bits after the block are shifted out),
			 * one load each, in groups of 8 by a loop for their
			 * width (a delta body's folded as they are unpacked,
			 * the others after); the last few, whose 8 bytes
			 * would pass the column's end, from a copy of the
			 * block's last bytes with zeros after. */
			size_t room = d->len - d->off, lim = room >= 8 ? (room - 8) * 8 / width + 1 : 0;
			if (lim > m)
				lim = m;
			size_t g8 = lim / 8 * 8;
			bool fused = kind == TAG_INT_DELTA && g == 1;
			if (fused)
				unpack_delta(b.p, lim / 8, width, rb, base, x);
			else
				unpack_raw(b.p, lim / 8, width, rb);
			for (i = g8; i < lim; i++) {
				size_t bit = i * width;
				rb[i] = (load_be64(b.p + (bit >> 3)) << (bit & 7)) >> (64 - width);
			}
			size_t b0 = (lim * width) >> 3;
			if (lim < m && bytes - b0 <= 16) {
				uint8_t tb[24] = { 0 };
				memcpy(tb, b.p + b0, bytes - b0);
				for (; i < m; i++) {
					size_t bit = i * width - b0 * 8;
					rb[i] = (load_be64(tb + (bit >> 3)) << (bit & 7)) >> (64 - width);
				}
			}
			if (fused)
				fold_run(kind, rb + g8, i - g8, base, g, x, dx);
			else
				fold_run(kind, rb, i, base, g, x, dx);
			b.pos = i * width;
		}
		for (; i < m; i++) {
			(void)br_get(&b, width, &q); /* in bounds: checked above */
			rb[i] = fold(kind, x, dx, base + q * g);
		}
		d->off += bytes;
	}
	return 0;
}

static int unpack(struct rd *d, uint64_t *r, size_t c, size_t blk)
{
	uint64_t x = 0, dx = 0;

	return unpack_kind(d, r, c, TAG_INT_PLAIN, blk, &x, &dx);
}

/* The entries an integer body of kind (plain, delta, dod) packs: x itself,
 * or its deltas or delta-of-deltas in tmp (room for n); *c of them. */
static const uint64_t *body_entries(const uint64_t *x, size_t n, unsigned kind, uint64_t *tmp,
				    size_t *c)
{
	*c = 0;
	if (kind == TAG_INT_PLAIN) {
		*c = n;
		return x;
	}
	if (kind == TAG_INT_DELTA) {
		for (size_t i = 1; i < n; i++)
			tmp[(*c)++] = x[i] - x[i - 1];
	} else {
		for (size_t i = 2; i < n; i++)
			tmp[(*c)++] = (x[i] - x[i - 1]) - (x[i - 1] - x[i - 2]);
	}
	return tmp;
}

/* Bytes of an integer body of kind in short and in long blocks; tmp has
 * n entries. */
static void body_sizes(const uint64_t *x, size_t n, unsigned kind, uint64_t *tmp, size_t *in_short,
		       size_t *in_long)
{
	size_t c, head = 0;
	const uint64_t *r = body_entries(x, n, kind, tmp, &c);

	if (kind != TAG_INT_PLAIN && n > 0) {
		head = vg_uvarint_len(vg_zigzag((int64_t)x[0]));
		if (kind == TAG_INT_DOD && n > 1)
			head += vg_uvarint_len(vg_zigzag((int64_t)(x[1] - x[0])));
	}
	pack_sizes(r, c, in_short, in_long);
	*in_short += head;
	*in_long += head;
}

/* An integer body of kind in blocks of blk entries; tmp has n entries. */
static void int_body_put(struct vg_buf *out, const uint64_t *x, size_t n, unsigned kind, size_t blk,
			 uint64_t *tmp)
{
	size_t c;
	const uint64_t *r;

	if (kind != TAG_INT_PLAIN && n > 0) {
		vg_buf_put_uvarint(out, vg_zigzag((int64_t)x[0]));
		if (kind == TAG_INT_DOD && n > 1)
			vg_buf_put_uvarint(out, vg_zigzag((int64_t)(x[1] - x[0])));
	}
	r = body_entries(x, n, kind, tmp, &c);
	pack(out, r, c, blk);
}

/* An integer body of kind (plain, delta, dod) in blocks of blk entries. */
static int int_body_get(struct rd *d, uint64_t *x, size_t n, unsigned kind, size_t blk)
{
	uint64_t z;
	int rc;

	if (kind == TAG_INT_PLAIN)
		return unpack(d, x, n, blk);
	if (n == 0)
		return 0;
	if ((rc = rd_uvarint(d, &z)) != 0)
		return rc;
	x[0] = (uint64_t)vg_unzigzag(z);
	uint64_t sum = x[0], delta = 0;
	if (kind == TAG_INT_DELTA)
		return unpack_kind(d, x + 1, n - 1, TAG_INT_DELTA, blk, &sum, &delta);
	if (n == 1)
		return 0;
	if ((rc = rd_uvarint(d, &z)) != 0)
		return rc;
	delta = (uint64_t)vg_unzigzag(z);
	x[1] = sum += delta;
	return unpack_kind(d, x + 2, n - 2, TAG_INT_DOD, blk, &sum, &delta);
}

static void col_head(struct vg_buf *out, unsigned tag, size_t n)
{
	vg_buf_putc(out, (char)tag);
	vg_buf_put_uvarint(out, n);
}

/* Whether x[0..n) steps evenly (n >= 2): one difference, wrapping, between
 * every pair of neighbours. */
static bool ints_regular(const uint64_t *x, size_t n)
{
	if (n < 2)
		return false;
	for (size_t i = 2; i < n; i++)
		if (x[i] - x[i - 1] != x[1] - x[0])
			return false;
	return true;
}

/* Appends to out the smallest of the integer encodings of kinds[] (the
 * first of equals), each in short blocks or, when strictly smaller, long
 * ones: sized first, then only the smallest written. Entries that step
 * evenly are a regular column (tag 0x04), never larger than any of
 * those and 2 bytes smaller than a delta column's one block (its gcd and
 * width). */
static int encode_ints_best(const uint64_t *x, size_t n, const unsigned *kinds, size_t nkinds,
			    struct vg_buf *out)
{
	size_t best = SIZE_MAX, blk = COL_BLOCK;
	unsigned tag = kinds[0];
	uint64_t *tmp;

	if (n > VG_COL_MAX_N)
		return VG_ELIMIT;
	if (ints_regular(x, n)) {
		col_head(out, TAG_INT_REGULAR, n);
		vg_buf_put_uvarint(out, vg_zigzag((int64_t)x[0]));
		vg_buf_put_uvarint(out, vg_zigzag((int64_t)(x[1] - x[0])));
		return vg_buf_failed(out) ? VG_ENOMEM : 0;
	}
	if ((tmp = malloc((n ? n : 1) * sizeof(*tmp))) == NULL)
		return VG_ENOMEM;
	for (size_t i = 0; i < nkinds; i++) {
		size_t in_short, in_long;
		body_sizes(x, n, kinds[i], tmp, &in_short, &in_long);
		if (in_short < best)
			best = in_short, tag = kinds[i], blk = COL_BLOCK;
		if (in_long < best)
			best = in_long, tag = kinds[i], blk = COL_BLOCK_LONG;
	}
	col_head(out, blk == COL_BLOCK_LONG ? tag | TAG_LONG : tag, n);
	int_body_put(out, x, n, tag, blk, tmp);
	free(tmp);
	return vg_buf_failed(out) ? VG_ENOMEM : 0;
}

static const unsigned all_int_kinds[] = { TAG_INT_DELTA, TAG_INT_DOD, TAG_INT_PLAIN };

int vg_col_encode_ts(const int64_t *ts, size_t n, struct vg_buf *out)
{
	for (size_t i = 1; i < n; i++)
		if (ts[i] <= ts[i - 1])
			return VG_EINVAL;
	return encode_ints_best((const uint64_t *)(const void *)ts, n, all_int_kinds, 2, out);
}

int vg_col_encode_i64(const int64_t *v, size_t n, struct vg_buf *out)
{
	return encode_ints_best((const uint64_t *)(const void *)v, n, all_int_kinds, 3, out);
}

int vg_col_encode_u64(const uint64_t *v, size_t n, struct vg_buf *out)
{
	return encode_ints_best(v, n, all_int_kinds, 3, out);
}

/* Reads tag and count; checks the count against n. */
static int col_open(struct rd *d, unsigned *tag, size_t n)
{
	uint64_t cnt;
	int rc;

	if (d->len == 0)
		return vg_err_set(d->err, VG_EINVAL, "column: empty");
	*tag = d->p[d->off++];
	if ((rc = rd_uvarint(d, &cnt)) != 0)
		return rc;
	if (cnt > VG_COL_MAX_N || cnt != n)
		return vg_err_set(d->err, VG_EINVAL, "column: holds %llu entries, %zu expected",
				  (unsigned long long)cnt, n);
	return 0;
}

int vg_col_count(const uint8_t *p, size_t len, size_t *n, struct vg_err *err)
{
	uint64_t cnt;
	size_t used;

	if (len < 2 || (used = vg_get_uvarint(p + 1, len - 1, &cnt)) == 0)
		return vg_err_set(err, VG_EINVAL, "column: header truncated");
	if (cnt > VG_COL_MAX_N)
		return vg_err_set(err, VG_EINVAL, "column: %llu entries, more than %u",
				  (unsigned long long)cnt, VG_COL_MAX_N);
	*n = (size_t)cnt;
	return 0;
}

/* The body of a regular column (tag 0x04, d after its count) into
 * dst[0..n): n > 0: uvarint zz(x0); n > 1: uvarint zz(step); entry i is
 * x0 + i * step, wrapping. *step (when not NULL) the step for n >= 2,
 * else 0. */
static long decode_regular(struct rd *d, uint64_t *dst, size_t n, uint64_t *step)
{
	uint64_t z, x, dx = 0;
	int rc;

	if (step)
		*step = 0;
	if (n == 0)
		return (long)d->off;
	if ((rc = rd_uvarint(d, &z)) != 0)
		return rc;
	x = (uint64_t)vg_unzigzag(z);
	if (n > 1) {
		if ((rc = rd_uvarint(d, &z)) != 0)
			return rc;
		dx = (uint64_t)vg_unzigzag(z);
		if (step)
			*step = dx;
	}
	dst[0] = x;
	(void)fill_steps(dst + 1, n - 1, x, dx);
	return (long)d->off;
}

/* An integer column into dst[0..n); *step (when not NULL) the one
 * difference between neighbours when the body says they are all the same
 * (a delta body of one delta, a dod body of no change, a regular column;
 * n >= 2), else 0. */
static long decode_ints_step(const uint8_t *p, size_t len, uint64_t *dst, size_t n, uint64_t *step,
			     struct vg_err *err)
{
	struct rd d = { p, len, 0, err, 0, 0, false };
	unsigned tag = 0;
	int rc;

	if ((rc = col_open(&d, &tag, n)) != 0)
		return rc;
	if (tag == TAG_INT_REGULAR)
		return decode_regular(&d, dst, n, step);
	size_t blk = tag & TAG_LONG ? COL_BLOCK_LONG : COL_BLOCK;
	unsigned kind = tag & ~(unsigned)TAG_LONG;
	if (kind != TAG_INT_PLAIN && kind != TAG_INT_DELTA && kind != TAG_INT_DOD)
		return vg_err_set(err, VG_EVERSION, "column: tag 0x%02x is not an integer column", tag);
	tag = kind;
	if ((rc = int_body_get(&d, dst, n, tag, blk)) != 0)
		return rc;
	if (step) {
		*step = 0;
		if (n >= 2 && !d.uneven &&
		    (tag == TAG_INT_DELTA || (tag == TAG_INT_DOD && (d.blocks == 0 || d.base0 == 0))))
			*step = dst[1] - dst[0];
	}
	return (long)d.off;
}

static long decode_ints(const uint8_t *p, size_t len, uint64_t *dst, size_t n, struct vg_err *err)
{
	return decode_ints_step(p, len, dst, n, NULL, err);
}

long vg_col_decode_ts(const uint8_t *p, size_t len, int64_t *dst, size_t n, struct vg_err *err)
{
	long rc = decode_ints(p, len, (uint64_t *)(void *)dst, n, err);

	if (rc < 0)
		return rc;
	for (size_t i = 1; i < n; i++)
		if (dst[i] <= dst[i - 1])
			return vg_err_set(err, VG_EINVAL,
					  "column: timestamp %zu (%lld) not after the one before", i,
					  (long long)dst[i]);
	return rc;
}

long vg_col_decode_i64(const uint8_t *p, size_t len, int64_t *dst, size_t n, struct vg_err *err)
{
	return decode_ints(p, len, (uint64_t *)(void *)dst, n, err);
}

long vg_col_decode_u64(const uint8_t *p, size_t len, uint64_t *dst, size_t n, struct vg_err *err)
{
	return decode_ints(p, len, dst, n, err);
}

static void xor_col_put(struct vg_buf *out, const double *v, size_t n)
{
	/* 77 bits at most per value */
	size_t cap = (n * 77 + 7) / 8 + 1;
	struct xor_state s = { 0, 0xff, 0 };
	uint8_t *tmp = calloc(1, cap);
	struct bw w = { tmp, 0 };

	if (tmp == NULL) {
		out->is_failed = true;
		return;
	}
	for (size_t i = 0; i < n; i++)
		xor_put(&w, &s, f2u(v[i]));
	vg_buf_put_uvarint(out, (w.pos + 7) / 8);
	vg_buf_append(out, tmp, (w.pos + 7) / 8);
	free(tmp);
}

/* The fewest bytes an XOR column of v[0..n) can take: each value costs a
 * bit when it repeats the one before, else two and the significant bits of
 * its XOR at least (the window it is written in is never narrower). */
static size_t xor_col_min_len(const double *v, size_t n)
{
	uint64_t bits = 0, last = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t x = f2u(v[i]) ^ last;
		unsigned lead;

		last = f2u(v[i]);
		if (x == 0) {
			bits++;
			continue;
		}
		lead = (unsigned)__builtin_clzll(x);
		bits += 2 + 64 - (lead > 31 ? 31 : lead) - (unsigned)__builtin_ctzll(x);
	}
	bits = (bits + 7) / 8;
	return 1 + vg_uvarint_len(n) + vg_uvarint_len(bits) + bits;
}

int vg_col_encode_f64(const double *v, size_t n, struct vg_buf *out)
{
	struct vg_buf xor = VG_BUF_INIT;
	uint64_t *mu = NULL, *cu, *md, *tmp;
	bool is_const = n > 0;
	size_t best = SIZE_MAX, blk = COL_BLOCK, in_short, in_long, s2, l2;
	unsigned tag = 0;
	int k, rc = 0;

	if (n > VG_COL_MAX_N)
		return VG_ELIMIT;
	for (size_t i = 1; i < n && is_const; i++)
		is_const = f2u(v[i]) == f2u(v[0]);
	if (is_const) {
		uint8_t b[8];
		col_head(out, TAG_F64_CONST, n);
		vg_put_be64(b, f2u(v[0]));
		vg_buf_append(out, b, 8);
		return vg_buf_failed(out) ? VG_ENOMEM : 0;
	}
	/* The decimal forms sized first (ULP, delta, dod: the first of equals
	 * wins, each in short blocks or strictly smaller long ones), then XOR
	 * floats only when they could be smaller (XOR wins ties); only the
	 * smallest is written. mu, cu: the ULP form's integers and
	 * corrections; md: the exact decimal's integers. */
	k = n ? dec_scale_all(v, n, 0) : -1;
	/* ULP corrections are tried only at a scale below the exact one */
	int ku = n ? ulp_scale_below(v, n, k < 0 ? MAX_SCALE + 1 : (unsigned)k) : -1;
	if ((mu = malloc(4 * (n ? n : 1) * sizeof(*mu))) == NULL)
		return VG_ENOMEM;
	cu = mu + n;
	md = mu + 2 * n;
	tmp = mu + 3 * n;
	if (ku >= 0 && (k < 0 || ku < k)) {
		for (size_t i = 0; i < n; i++)
			(void)ulp_fits(v[i], (unsigned)ku, &mu[i], (int64_t *)(void *)&cu[i]);
		body_sizes(mu, n, TAG_INT_DELTA, tmp, &in_short, &in_long);
		body_sizes(cu, n, TAG_INT_DELTA, tmp, &s2, &l2);
		in_short += s2;
		in_long += l2;
		tag = TAG_F64_DEC_ULP;
		best = in_short;
		if (in_long < best)
			best = in_long, blk = COL_BLOCK_LONG;
	}
	if (k >= 0) {
		for (size_t i = 0; i < n; i++)
			(void)dec_fits(v[i], (unsigned)k, &md[i]);
		for (unsigned t = TAG_F64_DEC_DELTA; t <= TAG_F64_DEC_DOD; t++) {
			body_sizes(md, n, t == TAG_F64_DEC_DELTA ? TAG_INT_DELTA : TAG_INT_DOD, tmp,
				   &in_short, &in_long);
			if (in_short < best)
				best = in_short, tag = t, blk = COL_BLOCK;
			if (in_long < best)
				best = in_long, tag = t, blk = COL_BLOCK_LONG;
		}
	}
	if (tag != 0)
		best += 2 + vg_uvarint_len(n); /* tag, count, scale */
	if (tag == 0 || best >= xor_col_min_len(v, n)) {
		col_head(&xor, TAG_F64_XOR, n);
		xor_col_put(&xor, v, n);
		if (vg_buf_failed(&xor)) {
			rc = VG_ENOMEM;
			goto out;
		}
		if (tag == 0 || xor.len <= best) {
			vg_buf_append(out, xor.data, xor.len);
			tag = 0;
		}
	}
	if (tag != 0) {
		col_head(out, blk == COL_BLOCK_LONG ? tag | TAG_LONG : tag, n);
		vg_buf_putc(out, (char)(tag == TAG_F64_DEC_ULP ? ku : k));
		if (tag == TAG_F64_DEC_ULP) {
			int_body_put(out, mu, n, TAG_INT_DELTA, blk, tmp);
			int_body_put(out, cu, n, TAG_INT_DELTA, blk, tmp);
		} else {
			int_body_put(out, md, n, tag == TAG_F64_DEC_DELTA ? TAG_INT_DELTA : TAG_INT_DOD, blk,
				     tmp);
		}
	}
	if (vg_buf_failed(out))
		rc = VG_ENOMEM;
out:
	free(mu);
	vg_buf_release(&xor);
	return rc;
}

long vg_col_decode_f64(const uint8_t *p, size_t len, double *dst, size_t n, struct vg_err *err)
{
	uint64_t stack[COL_STACK];
	struct rd d = { p, len, 0, err, 0, 0, false };
	unsigned tag = 0;
	int rc;

	if ((rc = col_open(&d, &tag, n)) != 0)
		return rc;
	size_t blk = COL_BLOCK;
	if (tag == (TAG_LONG | TAG_F64_DEC_DELTA) || tag == (TAG_LONG | TAG_F64_DEC_DOD) ||
	    tag == (TAG_LONG | TAG_F64_DEC_ULP)) {
		blk = COL_BLOCK_LONG;
		tag &= ~(unsigned)TAG_LONG;
	}
	switch (tag) {
	case TAG_F64_CONST:
		if (n == 0 || len - d.off < 8)
			return vg_err_set(err, VG_EINVAL, "column: constant truncated");
		for (size_t i = 0; i < n; i++)
			dst[i] = u2f(vg_get_be64(p + d.off));
		return (long)(d.off + 8);
	case TAG_F64_DEC_DELTA:
	case TAG_F64_DEC_DOD: {
		unsigned k;
		if ((rc = rd_scale(&d, &k)) != 0)
			return rc;
		/* n was checked against the column's count and VG_COL_MAX_N */
		uint64_t *x = n <= COL_STACK ? stack : malloc((n ? n : 1) * sizeof(*x));
		if (x == NULL)
			return vg_err_set(err, VG_ENOMEM, "column: no memory for %zu entries", n);
		if ((rc = int_body_get(&d, x, n, tag == TAG_F64_DEC_DELTA ? TAG_INT_DELTA : TAG_INT_DOD, blk)) == 0)
			dec_values(x, NULL, n, k, dst);
		if (x != stack)
			free(x);
		return rc != 0 ? rc : (long)d.off;
	}
	case TAG_F64_DEC_ULP: {
		unsigned k;
		if ((rc = rd_scale(&d, &k)) != 0)
			return rc;
		uint64_t *x = 2 * n <= COL_STACK ? stack : malloc((n ? n : 1) * sizeof(*x) * 2);
		if (x == NULL)
			return vg_err_set(err, VG_ENOMEM, "column: no memory for %zu entries", n);
		if ((rc = int_body_get(&d, x, n, TAG_INT_DELTA, blk)) == 0 &&
		    (rc = int_body_get(&d, x + n, n, TAG_INT_DELTA, blk)) == 0)
			dec_values(x, (const int64_t *)(const void *)(x + n), n, k, dst);
		if (x != stack)
			free(x);
		return rc != 0 ? rc : (long)d.off;
	}
	case TAG_F64_XOR: {
		uint64_t bytes, bits;
		struct xor_state s = { 0, 0xff, 0 };
		if ((rc = rd_uvarint(&d, &bytes)) != 0)
			return rc;
		if (bytes > len - d.off)
			return vg_err_set(err, VG_EINVAL, "column: XOR stream of %llu bytes past the end",
					  (unsigned long long)bytes);
		struct br b = { p + d.off, 0, (size_t)bytes * 8 };
		for (size_t i = 0; i < n; i++) {
			if (xor_get(&b, &s, &bits) != 0)
				return vg_err_set(err, VG_EINVAL, "column: XOR value %zu malformed", i);
			dst[i] = u2f(bits);
		}
		return (long)(d.off + bytes);
	}
	case TAG_F64_REF_SAME:
	case TAG_F64_REF_DEC:
		return vg_err_set(err, VG_EINVAL, "column: tag 0x%02x needs its reference column", tag);
	default:
		return vg_err_set(err, VG_EVERSION, "column: unknown value tag 0x%02x", tag);
	}
}

/* The smallest scale at which every v[i] and ref[i] is decimal, or -1. */
static int dec_scale_pair(const double *v, const double *ref, size_t n)
{
	int k = dec_scale_all(v, n, 0);

	while (k >= 0) {
		int k2 = dec_scale_all(ref, n, k);
		if (k2 < 0)
			return -1;
		if (k2 == k)
			return k;
		k = dec_scale_all(v, n, k2);
		if (k == k2)
			return k;
	}
	return -1;
}

int vg_col_encode_f64_ref(const double *v, const double *ref, size_t n, struct vg_buf *out)
{
	struct vg_buf best = VG_BUF_INIT, cand = VG_BUF_INIT;
	bool is_same = true;
	uint64_t *d = NULL;
	int k, rc;

	if (n > VG_COL_MAX_N)
		return VG_ELIMIT;
	for (size_t i = 0; i < n && is_same; i++)
		is_same = f2u(v[i]) == f2u(ref[i]);
	if (is_same) {
		col_head(out, TAG_F64_REF_SAME, n);
		return vg_buf_failed(out) ? VG_ENOMEM : 0;
	}
	if ((rc = vg_col_encode_f64(v, n, &best)) != 0)
		goto out;
	if ((k = dec_scale_pair(v, ref, n)) >= 0) {
		if ((d = malloc(n * sizeof(*d))) == NULL) {
			rc = VG_ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			uint64_t mv = 0, mr = 0;
			(void)dec_fits(v[i], (unsigned)k, &mv);
			(void)dec_fits(ref[i], (unsigned)k, &mr);
			d[i] = mv - mr;
		}
		col_head(&cand, TAG_F64_REF_DEC, n);
		vg_buf_putc(&cand, (char)k);
		if ((rc = encode_ints_best(d, n, all_int_kinds, 3, &cand)) != 0)
			goto out;
		if (cand.len < best.len) {
			struct vg_buf t = best;
			best = cand;
			cand = t;
		}
	}
	vg_buf_append(out, best.data, best.len);
	rc = vg_buf_failed(out) || vg_buf_failed(&best) ? VG_ENOMEM : 0;
out:
	free(d);
	vg_buf_release(&best);
	vg_buf_release(&cand);
	return rc;
}

long vg_col_decode_f64_ref(const uint8_t *p, size_t len, const double *ref, double *dst, size_t n,
			   struct vg_err *err)
{
	struct rd d = { p, len, 0, err, 0, 0, false };
	unsigned tag = 0;
	long used;
	int rc;

	if (len == 0 || (p[0] != TAG_F64_REF_SAME && p[0] != TAG_F64_REF_DEC))
		return vg_col_decode_f64(p, len, dst, n, err);
	if ((rc = col_open(&d, &tag, n)) != 0)
		return rc;
	if (tag == TAG_F64_REF_SAME) {
		if (dst != ref)
			memcpy(dst, ref, n * sizeof(*dst));
		return (long)d.off;
	}
	unsigned k;
	if ((rc = rd_scale(&d, &k)) != 0)
		return rc;
	uint64_t *x = malloc((n ? n : 1) * sizeof(*x));
	if (x == NULL)
		return vg_err_set(err, VG_ENOMEM, "column: no memory for %zu entries", n);
	if ((used = decode_ints(p + d.off, len - d.off, x, n, err)) < 0) {
		free(x);
		return used;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t mr;
		if (!dec_fits(ref[i], k, &mr)) {
			free(x);
			return vg_err_set(err, VG_EINVAL,
					  "column: reference value %zu has no decimal form at scale %u "
					  "(not the reference it was encoded against)", i, k);
		}
		dst[i] = dec_value(mr + x[i], k);
	}
	free(x);
	return (long)d.off + used;
}
