/*
 * statsd.c: the StatsD / DogStatsD line parser and name mapping
 * (statsd.h). Pure: no allocation, no state beyond the caller's
 * struct vg_statsd_line, so the fuzz target and the listener share it.
 *
 * A line is cut in this order, so no ':' inside a tag can be taken for a
 * value separator (Etsy cuts the tags off first, too):
 *   1. name = up to the first ':'; tags of the name dialects cut off it;
 *   2. the DogStatsD tag field "|#..." (up to the next '|') cut out of
 *      the rest; what follows it are extra fields (|c:id, |T ts, |@rate);
 *   3. what is left is either Etsy's pieces "v|t[|@r]:v|t..." (the first
 *      ':'-piece holds a '|') or DogStatsD's "v[:v...]|t[|@r]...".
 */
#include "agent/collect/statsd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

static const char *const reason_names[VG_STATSD_N_REASONS] = {
	[VG_STATSD_OK] = "ok",
	[VG_STATSD_MALFORMED_LINE] = "malformed_line",
	[VG_STATSD_NOT_ENOUGH_PARTS] = "not_enough_parts_after_colon",
	[VG_STATSD_BAD_TYPE] = "bad_type",
	[VG_STATSD_MALFORMED_VALUE] = "malformed_value",
	[VG_STATSD_MALFORMED_COMPONENT] = "malformed_component",
	[VG_STATSD_INVALID_SAMPLE_FACTOR] = "invalid_sample_factor",
	[VG_STATSD_MIXED_TAGGING_STYLES] = "mixed_tagging_styles",
	[VG_STATSD_MALFORMED_TAG] = "malformed_tag",
	[VG_STATSD_MALFORMED_CONTAINER_ID] = "malformed_container_id",
	[VG_STATSD_TOO_LONG] = "too_long",
	[VG_STATSD_TOO_MANY_VALUES] = "too_many_values",
	[VG_STATSD_TOO_MANY_TAGS] = "too_many_tags",
	[VG_STATSD_NEGATIVE_COUNTER] = "negative_counter",
};

const char *vg_statsd_reason_name(enum vg_statsd_reason r)
{
	return (unsigned)r < VG_STATSD_N_REASONS ? reason_names[r] : "unknown";
}

const char *vg_statsd_type_name(enum vg_statsd_type t)
{
	static const char *const names[] = { "c", "g", "ms", "h", "d", "s" };

	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

/* Where mapped names are written: the line's scratch. */
struct writer {
	struct vg_statsd_line *l;
	size_t used;
};

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* What map_name makes of a byte: KEEP it, REPLACE it with '_' (one per
 * character: a UTF-8 lead byte or any other ASCII), or DROP it (a UTF-8
 * continuation byte). */
enum { REPLACE = 0, KEEP = 1, DROP = 2 };
#define KEEP8(c) [c] = KEEP, [c + 1] = KEEP, [c + 2] = KEEP, [c + 3] = KEEP, [c + 4] = KEEP, [c + 5] = KEEP, \
		 [c + 6] = KEEP, [c + 7] = KEEP
#define DROP16(c) [c] = DROP, [c + 1] = DROP, [c + 2] = DROP, [c + 3] = DROP, [c + 4] = DROP, [c + 5] = DROP, \
		  [c + 6] = DROP, [c + 7] = DROP, [c + 8] = DROP, [c + 9] = DROP, [c + 10] = DROP, [c + 11] = DROP, \
		  [c + 12] = DROP, [c + 13] = DROP, [c + 14] = DROP, [c + 15] = DROP
static const unsigned char name_class[256] = {
	KEEP8('0'), ['8'] = KEEP, ['9'] = KEEP, ['_'] = KEEP,
	KEEP8('A'), KEEP8('I'), KEEP8('Q'), ['Y'] = KEEP, ['Z'] = KEEP,
	KEEP8('a'), KEEP8('i'), KEEP8('q'), ['y'] = KEEP, ['z'] = KEEP,
	DROP16(0x80), DROP16(0x90), DROP16(0xA0), DROP16(0xB0),
};

/* Whether p[0..n) is valid UTF-8; plain ASCII, the common case, is seen
 * eight bytes at a time. */
static bool utf8_valid(const char *p, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		if (w & 0x8080808080808080ULL)
			return vg_utf8_valid(p + i, n - i);
	}
	for (; i < n; i++)
		if ((unsigned char)p[i] & 0x80)
			return vg_utf8_valid(p + i, n - i);
	return true;
}

#define EXPORTED "exported_"
#define EXPORTED_LEN 9

/* Maps p[0..n) into the scratch (statsd.h, mapping); false when it does
 * not fit or maps to nothing. Labels the agent sets itself or reserved
 * ones get EXPORTED before them. */
static bool map_name(struct writer *w, const char *p, size_t n, bool is_label, struct vg_str *out)
{
	char *dst = w->l->scratch + w->used, *start = dst;
	size_t room = sizeof(w->l->scratch) - w->used;

	/* at most one output byte per input byte, plus a '_' and the prefix */
	if (n == 0 || n + 1 + EXPORTED_LEN > room)
		return false;
	if (is_digit((unsigned char)p[0]))
		*dst++ = '_';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i], k = name_class[c];
		/* written either way, kept unless dropped: no branch */
		*dst = k == KEEP ? (char)c : '_';
		dst += k != DROP;
	}
	out->len = (uint32_t)(dst - start);
	out->p = start;
	if (is_label) {
		bool is_reserved = (out->len == 2 && memcmp(start, "le", 2) == 0) ||
				   (out->len == 8 && memcmp(start, "quantile", 8) == 0) ||
				   (out->len == 8 && memcmp(start, "instance", 8) == 0) ||
				   (out->len >= 2 && start[0] == '_' && start[1] == '_');
		if (is_reserved) {
			memmove(start + EXPORTED_LEN, start, out->len);
			memcpy(start, EXPORTED, EXPORTED_LEN);
			out->len += EXPORTED_LEN;
			dst += EXPORTED_LEN;
		}
	}
	w->used = (size_t)(dst - w->l->scratch);
	return out->len > 0;
}

/* A decimal number: [+-]digits[.digits][e[+-]digits], finite. */
static bool parse_number(const char *p, size_t n, double *out)
{
	char buf[64];
	size_t i = 0, digits = 0;
	bool has_exp = false;
	char *end;

	if (n == 0 || n >= sizeof(buf))
		return false;
	if (p[i] == '+' || p[i] == '-')
		i++;
	while (i < n && is_digit((unsigned char)p[i]))
		i++, digits++;
	if (i < n && p[i] == '.') {
		i++;
		while (i < n && is_digit((unsigned char)p[i]))
			i++, digits++;
	}
	if (digits == 0)
		return false;
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		size_t exp_digits = 0;
		has_exp = true;
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		while (i < n && is_digit((unsigned char)p[i]))
			i++, exp_digits++;
		if (exp_digits == 0)
			return false;
	}
	if (i != n)
		return false;
	if (digits <= 15 && !has_exp) {
		/* at most 15 digits, no exponent: the common case, without
		 * strtod. The digits as an integer m (< 2^53, exact) and the
		 * k of them after the point: m / 10^k, both exact doubles, is
		 * one correctly rounded division, which is what strtod gives. */
		static const double pow10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
						1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15 };
		int64_t m = 0;
		size_t k = 0;
		bool is_frac = false;
		for (size_t j = (p[0] == '+' || p[0] == '-'); j < n; j++) {
			if (p[j] == '.') {
				is_frac = true;
				continue;
			}
			m = m * 10 + (p[j] - '0');
			k += is_frac;
		}
		*out = (double)m / pow10[k];
		if (p[0] == '-')
			*out = -*out;
		return true;
	}
	memcpy(buf, p, n);
	buf[n] = '\0';
	*out = strtod(buf, &end);
	return end == buf + n && isfinite(*out);
}

static enum vg_statsd_reason add_tag(struct writer *w, const char *k, size_t klen, const char *v, size_t vlen)
{
	struct vg_statsd_line *l = w->l;

	if (l->n_tags >= VG_STATSD_MAX_TAGS)
		return VG_STATSD_TOO_MANY_TAGS;
	if (!map_name(w, k, klen, true, &l->tags[l->n_tags].name))
		return VG_STATSD_MALFORMED_TAG;
	if (l->tags[l->n_tags].name.len > VG_SERIES_MAX_NAME)
		return VG_STATSD_TOO_LONG;
	l->tags[l->n_tags].value = (struct vg_str){ v, (uint32_t)vlen };
	l->n_tags++;
	return VG_STATSD_OK;
}

/* "k<sep>v,k<sep>v"; a tag without sep is ignored (the exporter's rule). */
static enum vg_statsd_reason parse_tags(struct writer *w, const char *p, size_t n, char sep)
{
	size_t i = 0;

	while (i <= n) {
		const char *comma = memchr(p + i, ',', n - i);
		size_t end = comma ? (size_t)(comma - p) : n;
		const char *t = p + i, *s;
		size_t tlen = end - i;
		enum vg_statsd_reason r;

		if (tlen > 0 && (s = memchr(t, sep, tlen)) != NULL) {
			size_t klen = (size_t)(s - t);
			if (klen == 0)
				return VG_STATSD_MALFORMED_TAG;
			if ((r = add_tag(w, t, klen, s + 1, tlen - klen - 1)) != VG_STATSD_OK)
				return r;
		}
		i = end + 1;
	}
	return VG_STATSD_OK;
}

static bool parse_type(const char *p, size_t n, enum vg_statsd_type *t)
{
	if (n == 1) {
		switch (p[0]) {
		case 'c': *t = VG_STATSD_COUNTER; return true;
		case 'g': *t = VG_STATSD_GAUGE; return true;
		case 'h': *t = VG_STATSD_HISTOGRAM; return true;
		case 'd': *t = VG_STATSD_DISTRIBUTION; return true;
		case 's': *t = VG_STATSD_SET; return true;
		default: return false;
		}
	}
	if (n == 2 && p[0] == 'm' && p[1] == 's') {
		*t = VG_STATSD_TIMER;
		return true;
	}
	return false;
}

/* Fields after the type, each "|..." : @rate, c:container, Tts. */
static enum vg_statsd_reason parse_extra(const char *p, size_t n, double *rate)
{
	size_t i = 0;

	while (i < n) {
		const char *bar = memchr(p + i, '|', n - i);
		size_t end = bar ? (size_t)(bar - p) : n;
		const char *f = p + i;
		size_t flen = end - i;

		if (flen == 0)
			return VG_STATSD_MALFORMED_COMPONENT;
		if (f[0] == '@') {
			double r;
			if (flen < 2 || f[1] == '-' || !parse_number(f + 1, flen - 1, &r) || r < 0)
				return VG_STATSD_INVALID_SAMPLE_FACTOR;
			*rate = r == 0 ? 1 : r; /* the exporter's rule for 0 */
		} else if (f[0] == 'c' && flen >= 2 && f[1] == ':') {
			if (flen == 2)
				return VG_STATSD_MALFORMED_CONTAINER_ID;
		} else if (f[0] == 'T') {
			if (flen < 2)
				return VG_STATSD_MALFORMED_COMPONENT;
			for (size_t k = 1; k < flen; k++)
				if (!is_digit((unsigned char)f[k]))
					return VG_STATSD_MALFORMED_COMPONENT;
		} else {
			return VG_STATSD_MALFORMED_COMPONENT;
		}
		i = end + 1;
	}
	return VG_STATSD_OK;
}

static enum vg_statsd_reason add_value(struct vg_statsd_line *l, const char *v, size_t n, enum vg_statsd_type t,
				       double rate)
{
	struct vg_statsd_sample *s;

	if (l->n_samples >= VG_STATSD_MAX_VALUES)
		return VG_STATSD_TOO_MANY_VALUES;
	s = &l->samples[l->n_samples];
	*s = (struct vg_statsd_sample){ .type = t, .rate = rate };
	if (t == VG_STATSD_SET) {
		if (n == 0)
			return VG_STATSD_MALFORMED_VALUE;
		s->text = (struct vg_str){ v, (uint32_t)n };
	} else {
		if (!parse_number(v, n, &s->value))
			return VG_STATSD_MALFORMED_VALUE;
		if (t == VG_STATSD_GAUGE)
			s->is_delta = v[0] == '+' || v[0] == '-';
		if (t == VG_STATSD_TIMER && s->value < 0)
			return VG_STATSD_MALFORMED_VALUE;
		if (t == VG_STATSD_COUNTER && s->value < 0)
			return VG_STATSD_NEGATIVE_COUNTER;
	}
	l->n_samples++;
	return VG_STATSD_OK;
}

/* "v[:v...]|type[|extra...]", values sharing type, rate and tags. */
static enum vg_statsd_reason parse_samples(struct vg_statsd_line *l, const char *p, size_t n)
{
	const char *bar = memchr(p, '|', n), *type;
	size_t vlen, tlen, i = 0;
	enum vg_statsd_type t;
	enum vg_statsd_reason r;
	double rate = 1;
	uint32_t first = l->n_samples;

	if (bar == NULL)
		return VG_STATSD_NOT_ENOUGH_PARTS;
	vlen = (size_t)(bar - p);
	type = bar + 1;
	tlen = (size_t)(p + n - type);
	{
		const char *bar2 = memchr(type, '|', tlen);
		size_t full = tlen;
		if (bar2)
			tlen = (size_t)(bar2 - type);
		if (tlen == 0)
			return VG_STATSD_NOT_ENOUGH_PARTS;
		if (!parse_type(type, tlen, &t))
			return VG_STATSD_BAD_TYPE;
		if (bar2 && (r = parse_extra(bar2 + 1, full - tlen - 1, &rate)) != VG_STATSD_OK)
			return r;
		if (bar2 && full - tlen - 1 == 0)
			return VG_STATSD_MALFORMED_COMPONENT;
	}
	while (i <= vlen) {
		const char *colon = memchr(p + i, ':', vlen - i);
		size_t end = colon ? (size_t)(colon - p) : vlen;
		if ((r = add_value(l, p + i, end - i, t, rate)) != VG_STATSD_OK)
			return r;
		i = end + 1;
	}
	if (t == VG_STATSD_SET && l->n_samples - first > 1)
		return VG_STATSD_MALFORMED_VALUE; /* DogStatsD packs every type but sets */
	return VG_STATSD_OK;
}

/* The samples of a line: Etsy's pieces "v|t[|@r]:v|t..." (a '|' before
 * the first ':') or DogStatsD's packed values. A rate in the fields after
 * the tags (tail_rate) applies to them all. */
static enum vg_statsd_reason parse_main(struct vg_statsd_line *l, const char *p, size_t n, const double *tail_rate)
{
	const char *colon = memchr(p, ':', n), *bar = memchr(p, '|', n);
	enum vg_statsd_reason r;
	bool is_etsy = false;

	if (colon && bar && bar < colon) {
		/* Etsy's pieces, unless that ':' is a container field's, "|c:"
		 * after the type: "v|t|c:id" */
		const char *field = colon;
		size_t bars = 0;
		while (field > p && field[-1] != '|')
			field--;
		for (const char *q = p; q < colon; q++)
			bars += *q == '|';
		is_etsy = !(colon - field == 1 && field[0] == 'c' && bars >= 2);
	}
	if (is_etsy) {
		size_t i = 0;
		while (i <= n) {
			const char *c = memchr(p + i, ':', n - i);
			size_t end = c ? (size_t)(c - p) : n;
			if ((r = parse_samples(l, p + i, end - i)) != VG_STATSD_OK)
				return r;
			i = end + 1;
		}
	} else if ((r = parse_samples(l, p, n)) != VG_STATSD_OK) {
		return r;
	}
	if (tail_rate && *tail_rate != 1)
		for (uint32_t i = 0; i < l->n_samples; i++)
			l->samples[i].rate = *tail_rate;
	return VG_STATSD_OK;
}

/* Cuts the name dialects' tags (Librato '#', InfluxDB ',', SignalFX
 * "[...]") off the name; *has_tags says whether there were any. */
static enum vg_statsd_reason parse_name(struct writer *w, const char *p, size_t n, bool *has_tags)
{
	struct vg_statsd_line *l = w->l;
	const char *hash = memchr(p, '#', n), *comma = memchr(p, ',', n), *open = memchr(p, '[', n);
	enum vg_statsd_reason r;

	*has_tags = false;
	/* commas inside "#..." and "[...]" separate that dialect's tags */
	if ((hash && open) || (open && comma && comma < open) || (hash && comma && comma < hash))
		return VG_STATSD_MIXED_TAGGING_STYLES;
	if (hash) {
		*has_tags = true;
		if ((r = parse_tags(w, hash + 1, (size_t)(p + n - hash - 1), '=')) != VG_STATSD_OK)
			return r;
		n = (size_t)(hash - p);
	} else if (open) {
		const char *close = memchr(open, ']', (size_t)(p + n - open));
		char *joined;
		size_t before = (size_t)(open - p), after;
		if (close == NULL)
			return VG_STATSD_MALFORMED_TAG;
		*has_tags = true;
		if ((r = parse_tags(w, open + 1, (size_t)(close - open - 1), '=')) != VG_STATSD_OK)
			return r;
		after = (size_t)(p + n - close - 1);
		/* name = what is before '[' and after ']', joined in scratch */
		if (before + after + 1 > sizeof(l->scratch) - w->used)
			return VG_STATSD_TOO_LONG;
		joined = l->scratch + w->used;
		memcpy(joined, p, before);
		memcpy(joined + before, close + 1, after);
		w->used += before + after;
		p = joined;
		n = before + after;
	} else if (comma) {
		*has_tags = true;
		if ((r = parse_tags(w, comma + 1, (size_t)(p + n - comma - 1), '=')) != VG_STATSD_OK)
			return r;
		n = (size_t)(comma - p);
	}
	if (n == 0)
		return VG_STATSD_MALFORMED_LINE;
	if (n > VG_STATSD_MAX_NAME)
		return VG_STATSD_TOO_LONG;
	if (!map_name(w, p, n, false, &l->name))
		return VG_STATSD_TOO_LONG;
	if (l->name.len > VG_STATSD_MAX_NAME)
		return VG_STATSD_TOO_LONG;
	return VG_STATSD_OK;
}

static const char *find2(const char *p, size_t n, char a, char b)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (p[i] == a && p[i + 1] == b)
			return p + i;
	return NULL;
}

enum vg_statsd_reason vg_statsd_parse_line(const char *p, size_t len, struct vg_statsd_line *out)
{
	struct writer w = { out, 0 };
	const char *colon, *rest, *tagf;
	size_t rest_len, main_len;
	bool has_name_tags;
	enum vg_statsd_reason r;

	out->n_tags = 0;
	out->n_samples = 0;
	out->name = (struct vg_str){ "", 0 };
	if (len > 0 && p[len - 1] == '\r')
		len--;
	if (len > VG_STATSD_MAX_LINE)
		return VG_STATSD_TOO_LONG;
	if ((len >= 3 && memcmp(p, "_e{", 3) == 0) || (len >= 4 && memcmp(p, "_sc|", 4) == 0))
		return VG_STATSD_OK;
	if (len == 0 || !utf8_valid(p, len) || (colon = memchr(p, ':', len)) == NULL)
		return VG_STATSD_MALFORMED_LINE;
	if ((r = parse_name(&w, p, (size_t)(colon - p), &has_name_tags)) != VG_STATSD_OK)
		return r;
	rest = colon + 1;
	rest_len = (size_t)(p + len - rest);
	main_len = rest_len;
	tagf = find2(rest, rest_len, '|', '#');
	if (tagf) {
		const char *tags = tagf + 2, *end;
		double rate = 1;
		size_t tlen = (size_t)(rest + rest_len - tags);
		if (has_name_tags)
			return VG_STATSD_MIXED_TAGGING_STYLES;
		end = memchr(tags, '|', tlen);
		if (end) {
			/* fields after the tags: |c:id, |T, |@rate in any order */
			size_t elen = (size_t)(rest + rest_len - end - 1);
			if (elen == 0)
				return VG_STATSD_MALFORMED_COMPONENT;
			if ((r = parse_extra(end + 1, elen, &rate)) != VG_STATSD_OK)
				return r;
			tlen = (size_t)(end - tags);
		}
		if ((r = parse_tags(&w, tags, tlen, ':')) != VG_STATSD_OK)
			return r;
		main_len = (size_t)(tagf - rest);
		return parse_main(out, rest, main_len, end ? &rate : NULL);
	}
	return parse_main(out, rest, main_len, NULL);
}

void vg_statsd_parse_packet(const char *p, size_t len, struct vg_statsd_line *scratch,
			    vg_statsd_line_cb cb, void *ctx, struct vg_statsd_counts *counts)
{
	size_t i = 0;

	while (i < len) {
		const char *nl = memchr(p + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - p) : len, n = end - i;
		enum vg_statsd_reason r;

		if (n == 0 || (n == 1 && p[i] == '\r')) {
			i = end + 1;
			continue;
		}
		r = vg_statsd_parse_line(p + i, n, scratch);
		if (r != VG_STATSD_OK)
			counts->bad[r]++;
		else if (scratch->n_samples == 0)
			counts->ignored++;
		else {
			counts->lines++;
			cb(ctx, scratch);
		}
		i = end + 1;
	}
}
