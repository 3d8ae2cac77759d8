/*
 * json.c: JSON strings and Prometheus number text (json.h).
 *
 * Owns the exact text of sample values and timestamps as the HTTP API
 * writes them; does not own document structure (callers append the braces
 * and commas) nor reading JSON.
 *
 * Invariants:
 *  - vg_fmt_value writes what Go's strconv.AppendFloat(v, 'f' or 'e', -1, 64)
 *    writes, as Prometheus's util/jsonutil chooses between them: the
 *    shortest digit string that strtod reads back as exactly v, laid out
 *    in fixed notation, or in exponent notation when |v| < 1e-6 or
 *    |v| >= 1e21 (a scalar result: fixed always). Reading the text back
 *    always gives v bit for bit.
 *  - vg_json_str emits valid UTF-8 whatever it is given.
 */
#include "common/json.h"
#include "common/buf.h"
#include "common/pow5_table.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

/*
 * The shortest decimal that reads back as v, and of those the nearest to
 * v (ties to an even last digit): Ryu's search (Ulf Adams, "Ryu: fast
 * float-to-string conversion", PLDI 2018), which Go's strconv also uses
 * for FormatFloat(v, 'f' or 'e', -1, 64). The bounds of the interval of
 * reals that round to v are scaled by a power of ten with 128-bit
 * products (pow5_table.h), and digits are dropped while the bounds still
 * differ; no floating point, no division by anything but constants.
 */
struct decimal {
	uint64_t digits; /* no trailing zeros unless it is 0 */
	int exp10;       /* the value is digits * 10^exp10 */
};

#define MANTISSA_BITS 52
#define EXPONENT_BIAS 1023
#define POW5_BITS 125

/* ceil(log2(5^e)) for e in [1, 3528]; 1 for 0. */
static inline int pow5_bits(int e)
{
	return (int)(((uint32_t)e * 1217359u) >> 19) + 1;
}

/* floor(log10(2^e)), floor(log10(5^e)), for e in [0, 1650]. */
static inline int log10_pow2(int e)
{
	return (int)(((uint32_t)e * 78913u) >> 18);
}

static inline int log10_pow5(int e)
{
	return (int)(((uint32_t)e * 732923u) >> 20);
}

static inline bool is_multiple_of_pow5(uint64_t v, int p)
{
	int n = 0;

	while (v % 5 == 0 && v != 0) {
		v /= 5;
		n++;
	}
	return n >= p;
}

static inline bool is_multiple_of_pow2(uint64_t v, int p)
{
	return (v & ((1ULL << p) - 1)) == 0;
}

/* (m * mul) >> j, mul a 128-bit { low, high }, j >= 64. */
static inline uint64_t mul_shift(uint64_t m, const uint64_t *mul, int j)
{
	unsigned __int128 b0 = (unsigned __int128)m * mul[0];
	unsigned __int128 b2 = (unsigned __int128)m * mul[1];

	return (uint64_t)(((b0 >> 64) + b2) >> (j - 64));
}

/* Drops the last digit of v and its bounds, keeping it in *last and
 * whether every digit dropped before it was 0. */
static inline void drop_digit(uint64_t *vr, uint64_t *vp, uint64_t *vm, unsigned *last, bool *is_vr_zeros)
{
	*is_vr_zeros &= *last == 0;
	*last = (unsigned)(*vr % 10);
	*vr /= 10;
	*vp /= 10;
	*vm /= 10;
}

static void shortest(double v, struct decimal *dec)
{
	uint64_t bits, mant, m2, mv, vr, vp, vm, out;
	int bexp, e2, e10, removed = 0;
	bool is_even, is_vm_zeros = false, is_vr_zeros = false;
	unsigned mm_shift, last = 0;

	memcpy(&bits, &v, sizeof(bits));
	mant = bits & ((1ULL << MANTISSA_BITS) - 1);
	bexp = (int)((bits >> MANTISSA_BITS) & 0x7ff);
	if (bexp == 0) {
		e2 = 1 - EXPONENT_BIAS - MANTISSA_BITS - 2;
		m2 = mant;
	} else {
		e2 = bexp - EXPONENT_BIAS - MANTISSA_BITS - 2;
		m2 = (1ULL << MANTISSA_BITS) | mant;
	}
	is_even = (m2 & 1) == 0;
	/* The interval's bounds, times 4: (mv - 1 - mm_shift, mv + 2), halved
	 * below at a power of two (the next smaller double is nearer). */
	mv = 4 * m2;
	mm_shift = mant != 0 || bexp <= 1;
	if (e2 >= 0) {
		int q = log10_pow2(e2) - (e2 > 3);
		int k = POW5_BITS + pow5_bits(q) - 1;
		int i = -e2 + q + k;

		e10 = q;
		vr = mul_shift(4 * m2, vg_pow5_inv[q], i);
		vp = mul_shift(4 * m2 + 2, vg_pow5_inv[q], i);
		vm = mul_shift(4 * m2 - 1 - mm_shift, vg_pow5_inv[q], i);
		if (q <= 21) {
			if (mv % 5 == 0)
				is_vr_zeros = is_multiple_of_pow5(mv, q);
			else if (is_even)
				is_vm_zeros = is_multiple_of_pow5(mv - 1 - mm_shift, q);
			else
				vp -= is_multiple_of_pow5(mv + 2, q);
		}
	} else {
		int q = log10_pow5(-e2) - (-e2 > 1);
		int i = -e2 - q;
		int k = pow5_bits(i) - POW5_BITS;
		int j = q - k;

		e10 = q + e2;
		vr = mul_shift(4 * m2, vg_pow5[i], j);
		vp = mul_shift(4 * m2 + 2, vg_pow5[i], j);
		vm = mul_shift(4 * m2 - 1 - mm_shift, vg_pow5[i], j);
		if (q <= 1) {
			/* mv has at least q trailing zero bits. */
			is_vr_zeros = true;
			if (is_even)
				is_vm_zeros = mm_shift == 1;
			else
				vp--;
		} else if (q < 63) {
			is_vr_zeros = is_multiple_of_pow2(mv, q);
		}
	}
	if (is_vm_zeros || is_vr_zeros) {
		/* Rare: a bound or v itself is exact at this scale. */
		while (vp / 10 > vm / 10) {
			is_vm_zeros &= vm % 10 == 0;
			drop_digit(&vr, &vp, &vm, &last, &is_vr_zeros);
			removed++;
		}
		while (is_vm_zeros && vm % 10 == 0) {
			drop_digit(&vr, &vp, &vm, &last, &is_vr_zeros);
			removed++;
		}
		if (is_vr_zeros && last == 5 && vr % 2 == 0)
			last = 4; /* exactly halfway: to even */
		out = vr + ((vr == vm && (!is_even || !is_vm_zeros)) || last >= 5);
	} else {
		bool is_up = false;

		if (vp / 100 > vm / 100) {
			is_up = vr % 100 >= 50;
			vr /= 100;
			vp /= 100;
			vm /= 100;
			removed += 2;
		}
		while (vp / 10 > vm / 10) {
			is_up = vr % 10 >= 5;
			vr /= 10;
			vp /= 10;
			vm /= 10;
			removed++;
		}
		out = vr + (vr == vm || is_up);
	}
	e10 += removed;
	while (out >= 10 && out % 10 == 0) {
		out /= 10;
		e10++;
	}
	dec->digits = out;
	dec->exp10 = e10;
}

/* "00".."99" */
static const char two_digits[200] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/* Writes the n digits of v (n = its digit count) at p. */
static void put_digits(char *p, uint64_t v, int n)
{
	while (n >= 2) {
		memcpy(p + n - 2, two_digits + 2 * (v % 100), 2);
		v /= 100;
		n -= 2;
	}
	if (n == 1)
		p[0] = (char)('0' + v);
}

static const uint64_t pow10_u64[20] = {
	1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL, 100000000ULL,
	1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL, 10000000000000ULL,
	100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
	1000000000000000000ULL, 10000000000000000000ULL,
};

static int digit_count(uint64_t v)
{
	/* From the bit length: log10(2) ~ 1233 / 4096, then one correction. */
	int n = ((64 - __builtin_clzll(v | 1)) * 1233) >> 12;

	return n + ((v | 1) >= pow10_u64[n]); /* 0 has one digit */
}

/* At out: v finite and not zero. The layout of Go's 'e' or 'f' (-1
 * precision), chosen as Prometheus's jsonutil chooses (room for
 * VALUE_MAX), or 'f' always when is_fixed (room for FIXED_MAX). */
static size_t fmt_finite(double v, char *out, bool is_fixed)
{
	struct decimal dec;
	double a = fabs(v);
	char d[24], *p = out;
	int n, point;

	shortest(v, &dec);
	if (v < 0)
		*p++ = '-';
	n = digit_count(dec.digits);
	point = n + dec.exp10; /* digits before the decimal point */
	if (point > 0 && point < n && (is_fixed || (a >= 1e-6 && a < 1e21))) {
		/* The common case, ddd.ddd: each part in place. */
		put_digits(p, dec.digits / pow10_u64[n - point], point);
		p += point;
		*p++ = '.';
		put_digits(p, dec.digits % pow10_u64[n - point], n - point);
		p += n - point;
		*p = '\0';
		return (size_t)(p - out);
	}
	put_digits(d, dec.digits, n);
	if (!is_fixed && (a < 1e-6 || a >= 1e21)) {
		/* d.ddde±XX, at least two exponent digits */
		int e = point - 1;

		*p++ = d[0];
		if (n > 1) {
			*p++ = '.';
			memcpy(p, d + 1, (size_t)n - 1);
			p += n - 1;
		}
		*p++ = 'e';
		*p++ = e < 0 ? '-' : '+';
		if (e < 0)
			e = -e;
		if (e >= 100) {
			*p++ = (char)('0' + e / 100);
			e %= 100;
		}
		memcpy(p, two_digits + 2 * e, 2);
		p += 2;
	} else if (point <= 0) {
		*p++ = '0';
		*p++ = '.';
		memset(p, '0', (size_t)-point);
		p += -point;
		memcpy(p, d, (size_t)n);
		p += n;
	} else {
		memcpy(p, d, (size_t)n);
		p += n;
		memset(p, '0', (size_t)(point - n));
		p += point - n;
	}
	*p = '\0';
	return (size_t)(p - out);
}

/* Copies text of length n into out[0..cap) with a NUL, truncating. */
static size_t put_text(const char *txt, size_t n, char *out, size_t cap)
{
	if (cap == 0)
		return 0;
	if (n > cap - 1)
		n = cap - 1;
	memcpy(out, txt, n);
	out[n] = '\0';
	return n;
}

/* The text of v at out (room for VALUE_MAX, or FIXED_MAX when
 * is_fixed): what vg_fmt_value writes, or in fixed form always. */
#define VALUE_MAX 32
#define FIXED_MAX 352 /* "-0." + 323 zeros + 17 digits at most */
static size_t fmt_value(double v, char *out, bool is_fixed)
{
	/* Fixed form is at most 1 sign + 21 digits + '.' + 17 digits for
	 * 1e-6 <= |v| < 1e21 with 17 significant digits: "-0.0000012345678901234567"
	 * is 1 + 2 + 5 + 17 = 25; exponent form is at most 24. */
	if (isnan(v)) {
		memcpy(out, "NaN", 4);
		return 3;
	}
	if (isinf(v)) {
		memcpy(out, v > 0 ? "+Inf" : "-Inf", 5);
		return 4;
	}
	if (v == 0) {
		if (signbit(v)) {
			memcpy(out, "-0", 3);
			return 2;
		}
		memcpy(out, "0", 2);
		return 1;
	}
	return fmt_finite(v, out, is_fixed);
}

/* The text of a timestamp at out (room for TIMESTAMP_MAX). */
#define TIMESTAMP_MAX 32
static size_t fmt_timestamp(int64_t ms, char *out)
{
	/* Unsigned magnitude: -INT64_MIN does not fit an int64. */
	uint64_t mag = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
	uint64_t s = mag / 1000;
	unsigned frac = (unsigned)(mag % 1000);
	char *p = out;
	int n = digit_count(s);

	if (ms < 0)
		*p++ = '-';
	put_digits(p, s, n);
	p += n;
	if (frac) {
		*p++ = '.';
		*p++ = (char)('0' + frac / 100);
		memcpy(p, two_digits + 2 * (frac % 100), 2);
		p += 2;
	}
	*p = '\0';
	return (size_t)(p - out);
}

size_t vg_fmt_value(double v, char *out, size_t cap)
{
	char txt[VALUE_MAX];

	return put_text(txt, fmt_value(v, txt, false), out, cap);
}

size_t vg_fmt_timestamp(int64_t ms, char *out, size_t cap)
{
	char txt[TIMESTAMP_MAX];

	return put_text(txt, fmt_timestamp(ms, txt), out, cap);
}

/* Length of the valid UTF-8 sequence at p[0..n) (n >= 1, p[0] >= 0x80),
 * or 0 when p[0] does not start one: the same rules as vg_utf8_valid
 * (no overlongs, no surrogates, nothing past U+10FFFF). */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t need;
	uint32_t cp;

	if (c >= 0xC2 && c <= 0xDF) {
		need = 1;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n <= need)
		return 0;
	for (size_t i = 1; i <= need; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3F);
	}
	if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10FFFF ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return need + 1;
}

void vg_json_str(struct vg_buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, start = 0;

	vg_buf_putc(b, '"');
	while (i < len) {
		unsigned c = p[i];
		char esc[8];
		size_t esc_len = 2, seq;

		if (c >= 0x80) {
			seq = utf8_seq_len(p + i, len - i);
			if (seq) {
				i += seq;
				continue;
			}
			/* Each byte that starts no valid sequence becomes one
			 * U+FFFD, as Go's decoder reports them. */
			vg_buf_append(b, p + start, i - start);
			vg_buf_append(b, "\xEF\xBF\xBD", 3);
			start = ++i;
			continue;
		}
		if (c >= 0x20 && c != '"' && c != '\\') {
			i++;
			continue;
		}
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xF];
			esc_len = 6;
			break;
		}
		vg_buf_append(b, p + start, i - start);
		vg_buf_append(b, esc, esc_len);
		start = ++i;
	}
	vg_buf_append(b, p + start, len - start);
	vg_buf_putc(b, '"');
}

void vg_json_cstr(struct vg_buf *b, const char *s)
{
	vg_json_str(b, s, strlen(s));
}

void vg_json_value(struct vg_buf *b, double v)
{
	char *p;

	if (vg_buf_grow(b, VALUE_MAX + 2) != 0)
		return;
	p = (char *)b->data + b->len;
	p[0] = '"';
	p += 1 + fmt_value(v, p + 1, false);
	*p++ = '"';
	*p = '\0';
	b->len = (size_t)(p - (char *)b->data);
}

/* The time of a scalar or string result: Go's encoding/json text of the
 * float64 seconds (the shortest round trip, fixed form for every time an
 * int64 of milliseconds can hold). */
static size_t fmt_seconds(int64_t ms, char *out)
{
	if (ms == 0) {
		memcpy(out, "0", 2);
		return 1;
	}
	return fmt_finite((double)ms / 1000.0, out, true);
}

/* [t,"v"] at the end of b, in one check of room. */
static void json_point(struct vg_buf *b, int64_t ts_ms, double v, bool is_scalar)
{
	char *p;

	if (vg_buf_grow(b, TIMESTAMP_MAX + (is_scalar ? FIXED_MAX : VALUE_MAX) + 5) != 0)
		return;
	p = (char *)b->data + b->len;
	*p++ = '[';
	p += is_scalar ? fmt_seconds(ts_ms, p) : fmt_timestamp(ts_ms, p);
	*p++ = ',';
	*p++ = '"';
	p += fmt_value(v, p, is_scalar);
	*p++ = '"';
	*p++ = ']';
	*p = '\0';
	b->len = (size_t)(p - (char *)b->data);
}

void vg_json_sample(struct vg_buf *b, int64_t ts_ms, double v)
{
	json_point(b, ts_ms, v, false);
}

void vg_json_scalar(struct vg_buf *b, int64_t ts_ms, double v)
{
	json_point(b, ts_ms, v, true);
}

void vg_json_scalar_time(struct vg_buf *b, int64_t ts_ms)
{
	char txt[TIMESTAMP_MAX];

	vg_buf_append(b, txt, fmt_seconds(ts_ms, txt));
}
