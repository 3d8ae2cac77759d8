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
 *    |v| >= 1e21. Reading the text back always gives v bit for bit.
 *  - vg_json_str emits valid UTF-8 whatever it is given.
 */
#include "common/json.h"
#include "common/buf.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

/* A decimal: digits d[0..n) with d[0] != '0', value 0.d * 10^(exp10 + 1),
 * i.e. d[0] is the digit of 10^exp10. */
struct decimal {
	char d[24];
	int n;
	int exp10;
};

/* Splits printf's "%.*e" text ("-1.2345e+07") into a decimal. */
static void decimal_from_e(const char *txt, struct decimal *dec)
{
	const char *p = txt;

	if (*p == '-')
		p++;
	dec->n = 0;
	for (; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9' && dec->n < (int)sizeof(dec->d))
			dec->d[dec->n++] = *p;
	dec->exp10 = *p == 'e' ? (int)strtol(p + 1, NULL, 10) : 0;
	while (dec->n > 1 && dec->d[dec->n - 1] == '0')
		dec->n--;
}

/* Writes the decimal in exponent form, "d.ddde+XX", without a sign. */
static int decimal_to_e(const struct decimal *dec, char *out, size_t cap)
{
	return snprintf(out, cap, "%c%s%.*se%c%02d", dec->d[0], dec->n > 1 ? "." : "",
			dec->n - 1, dec->d + 1, dec->exp10 < 0 ? '-' : '+',
			dec->exp10 < 0 ? -dec->exp10 : dec->exp10);
}

static bool reads_back(const struct decimal *dec, bool is_neg, double v)
{
	char txt[40];

	txt[0] = '-';
	decimal_to_e(dec, txt + 1, sizeof(txt) - 1);
	return strtod(is_neg ? txt : txt + 1, NULL) == v;
}

/* Moves the last of the n digits by delta (+1 or -1), carrying or borrowing
 * into the exponent when the digit count would change (9.9 up is 10, 1.0
 * down is 0.99): the neighbours of dec among n-digit decimals. */
static void decimal_step(struct decimal *dec, int delta)
{
	int i = dec->n - 1;

	if (delta > 0) {
		while (i >= 0 && dec->d[i] == '9')
			dec->d[i--] = '0';
		if (i < 0) {
			dec->d[0] = '1';
			dec->n = 1;
			dec->exp10++;
		} else {
			dec->d[i]++;
		}
	} else {
		while (i >= 0 && dec->d[i] == '0')
			dec->d[i--] = '9';
		if (i == 0 && dec->d[0] == '1') {
			/* 1.00 - 0.01 = 0.99: all nines, one decade down. */
			memset(dec->d, '9', (size_t)dec->n);
			dec->exp10--;
		} else {
			dec->d[i]--;
		}
	}
	while (dec->n > 1 && dec->d[dec->n - 1] == '0')
		dec->n--;
}

/*
 * The shortest decimal that reads back as v (finite, non-zero), and of
 * those the nearest to v, as Go chooses.
 *
 * For each precision the correctly rounded decimal is the best candidate;
 * at a power of two the interval of reals that round to v is lopsided (half
 * as wide below), so the rounded decimal can miss it while its neighbour one
 * unit up or down in the last digit still falls inside: 2^-44 is
 * 5.684341886080802e-14 (16 digits), not the 17 the rounded search finds.
 *
 * The search starts at 15 digits for normal doubles: their interval is
 * narrower than the spacing of 15-digit decimals, so at most one 15-digit
 * decimal reads back as v, and if a shorter one does, that one padded with
 * zeros is it; dropping its trailing zeros gives the shortest. This costs
 * at most nine printf/strtod pairs instead of 17 rounds. Subnormals have
 * wide intervals (5e-324 stands for 4.94...e-324) and search from 1 digit.
 */
static void shortest(double v, struct decimal *dec)
{
	bool is_neg = v < 0;
	char txt[40];

	for (int prec = fabs(v) < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
		struct decimal up, down;

		snprintf(txt, sizeof(txt), "%.*e", prec - 1, v);
		decimal_from_e(txt, dec);
		if (prec == 17 || strtod(txt, NULL) == v)
			return; /* 17 digits always read back */
		up = *dec;
		down = *dec;
		/* Pad to prec digits so the step moves the digit at prec. */
		while (up.n < prec) {
			up.d[up.n++] = '0';
			down.d[down.n++] = '0';
		}
		decimal_step(&up, 1);
		decimal_step(&down, -1);
		if (reads_back(&up, is_neg, v)) {
			*dec = up;
			return;
		}
		if (reads_back(&down, is_neg, v)) {
			*dec = down;
			return;
		}
	}
}

static size_t fmt_finite(double v, char *out, size_t cap)
{
	struct decimal dec;
	double a = fabs(v);
	size_t len = 0;
	int e, i;

	shortest(v, &dec);
	if (v < 0)
		out[len++] = '-';
	if (a < 1e-6 || a >= 1e21) {
		int n = decimal_to_e(&dec, out + len, cap - len);
		return len + (size_t)(n > 0 ? n : 0);
	}
	e = dec.exp10;
	if (e < 0) {
		out[len++] = '0';
		out[len++] = '.';
		for (i = -1; i > e; i--)
			out[len++] = '0';
		memcpy(out + len, dec.d, (size_t)dec.n);
		len += (size_t)dec.n;
	} else {
		for (i = 0; i <= e; i++)
			out[len++] = i < dec.n ? dec.d[i] : '0';
		if (dec.n > e + 1) {
			out[len++] = '.';
			memcpy(out + len, dec.d + e + 1, (size_t)(dec.n - e - 1));
			len += (size_t)(dec.n - e - 1);
		}
	}
	out[len] = '\0';
	return len;
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

size_t vg_fmt_value(double v, char *out, size_t cap)
{
	/* Fixed form is at most 1 sign + 21 digits + '.' + 17 digits for
	 * 1e-6 <= |v| < 1e21 with 17 significant digits: "-0.0000012345678901234567"
	 * is 1 + 2 + 5 + 17 = 25; exponent form is at most 24. */
	char txt[48];
	size_t n;

	if (isnan(v))
		return put_text("NaN", 3, out, cap);
	if (isinf(v))
		return v > 0 ? put_text("+Inf", 4, out, cap) : put_text("-Inf", 4, out, cap);
	if (v == 0)
		return signbit(v) ? put_text("-0", 2, out, cap) : put_text("0", 1, out, cap);
	n = fmt_finite(v, txt, sizeof(txt));
	return put_text(txt, n, out, cap);
}

size_t vg_fmt_timestamp(int64_t ms, char *out, size_t cap)
{
	/* Unsigned magnitude: -INT64_MIN does not fit an int64. */
	uint64_t mag = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
	unsigned frac = (unsigned)(mag % 1000);
	char txt[32];
	int n;

	if (frac)
		n = snprintf(txt, sizeof(txt), "%s%llu.%03u", ms < 0 ? "-" : "",
			     (unsigned long long)(mag / 1000), frac);
	else
		n = snprintf(txt, sizeof(txt), "%s%llu", ms < 0 ? "-" : "",
			     (unsigned long long)(mag / 1000));
	return put_text(txt, n > 0 ? (size_t)n : 0, out, cap);
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
	char txt[32];
	size_t n = vg_fmt_value(v, txt, sizeof(txt));

	vg_buf_putc(b, '"');
	vg_buf_append(b, txt, n);
	vg_buf_putc(b, '"');
}

void vg_json_sample(struct vg_buf *b, int64_t ts_ms, double v)
{
	char txt[32];
	size_t n = vg_fmt_timestamp(ts_ms, txt, sizeof(txt));

	vg_buf_putc(b, '[');
	vg_buf_append(b, txt, n);
	vg_buf_putc(b, ',');
	vg_json_value(b, v);
	vg_buf_putc(b, ']');
}
