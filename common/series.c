/* series.c: names, canonical form, keys and hashes of series.h. */
#include "common/hash.h"
#include "common/series.h"
#include "common/buf.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

#define KEY_SEP 0xFF

bool vg_str_eq(struct vg_str a, struct vg_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

bool vg_str_eq_c(struct vg_str a, const char *s)
{
	return vg_str_eq(a, vg_str_c(s));
}

int vg_str_cmp(struct vg_str a, struct vg_str b)
{
	uint32_t n = a.len < b.len ? a.len : b.len;
	int c = n ? memcmp(a.p, b.p, n) : 0;

	if (c)
		return c;
	return a.len < b.len ? -1 : a.len > b.len;
}

/* Name characters by class, one load a byte: these checks run for every
 * sample the agent sends. NAME_FIRST: [a-zA-Z_]; NAME_DIGIT: [0-9];
 * NAME_COLON: ':'. */
enum { NAME_FIRST = 1, NAME_DIGIT = 2, NAME_COLON = 4 };

#define F NAME_FIRST
static const unsigned char name_class[256] = {
	['0'] = NAME_DIGIT, ['1'] = NAME_DIGIT, ['2'] = NAME_DIGIT, ['3'] = NAME_DIGIT,
	['4'] = NAME_DIGIT, ['5'] = NAME_DIGIT, ['6'] = NAME_DIGIT, ['7'] = NAME_DIGIT,
	['8'] = NAME_DIGIT, ['9'] = NAME_DIGIT, [':'] = NAME_COLON, ['_'] = F,
	['A'] = F, ['B'] = F, ['C'] = F, ['D'] = F, ['E'] = F, ['F'] = F, ['G'] = F,
	['H'] = F, ['I'] = F, ['J'] = F, ['K'] = F, ['L'] = F, ['M'] = F, ['N'] = F,
	['O'] = F, ['P'] = F, ['Q'] = F, ['R'] = F, ['S'] = F, ['T'] = F, ['U'] = F,
	['V'] = F, ['W'] = F, ['X'] = F, ['Y'] = F, ['Z'] = F,
	['a'] = F, ['b'] = F, ['c'] = F, ['d'] = F, ['e'] = F, ['f'] = F, ['g'] = F,
	['h'] = F, ['i'] = F, ['j'] = F, ['k'] = F, ['l'] = F, ['m'] = F, ['n'] = F,
	['o'] = F, ['p'] = F, ['q'] = F, ['r'] = F, ['s'] = F, ['t'] = F, ['u'] = F,
	['v'] = F, ['w'] = F, ['x'] = F, ['y'] = F, ['z'] = F,
};
#undef F

/* Whether every byte of p[1..len) is in one of the classes of rest and
 * p[0] in one of first's. */
static bool name_valid(const char *p, size_t len, unsigned first, unsigned rest)
{
	const unsigned char *u = (const unsigned char *)p;

	if (len == 0 || len > VG_SERIES_MAX_NAME || !(name_class[u[0]] & first))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!(name_class[u[i]] & rest))
			return false;
	return true;
}

bool vg_metric_name_valid(const char *p, size_t len)
{
	return name_valid(p, len, NAME_FIRST | NAME_COLON, NAME_FIRST | NAME_DIGIT | NAME_COLON);
}

bool vg_label_name_valid(const char *p, size_t len)
{
	return name_valid(p, len, NAME_FIRST, NAME_FIRST | NAME_DIGIT);
}

bool vg_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end;

	if (len == 0)
		return true; /* also for s == NULL, where p + len is undefined */
	end = p + len;
	while (p < end) {
		unsigned c = *p, n;
		uint32_t cp;

		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			n = 1;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 2;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if ((size_t)(end - p) <= n)
			return false;
		for (unsigned i = 1; i <= n; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (p[i] & 0x3F);
		}
		/* Overlong forms, surrogates and values past U+10FFFF. */
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		p += n + 1;
	}
	return true;
}

void vg_series_init(struct vg_series *s, const char *name)
{
	s->name = vg_str_c(name);
	s->n_labels = 0;
}

int vg_series_add_str(struct vg_series *s, struct vg_str name, struct vg_str value)
{
	if (s->n_labels >= VG_SERIES_MAX_LABELS)
		return VG_ELIMIT;
	s->labels[s->n_labels].name = name;
	s->labels[s->n_labels].value = value;
	s->n_labels++;
	return 0;
}

int vg_series_add(struct vg_series *s, const char *name, const char *value)
{
	return vg_series_add_str(s, vg_str_c(name), vg_str_c(value));
}

static int label_cmp(const void *a, const void *b)
{
	return vg_str_cmp(((const struct vg_label *)a)->name, ((const struct vg_label *)b)->name);
}

/* The length of the key (series.h) of s. */
static size_t key_len(const struct vg_series *s)
{
	size_t n = s->name.len + 1;

	for (uint32_t i = 0; i < s->n_labels; i++)
		n += s->labels[i].name.len + s->labels[i].value.len + 2;
	return n;
}

static bool is_sorted(const struct vg_series *s)
{
	for (uint32_t i = 1; i < s->n_labels; i++)
		if (vg_str_cmp(s->labels[i - 1].name, s->labels[i].name) >= 0)
			return false;
	return true;
}

/* A few labels (a collector's and the agent's own, every sample) by
 * insertion, more by qsort. */
static void sort_labels(struct vg_series *s)
{
	if (s->n_labels > 8) {
		qsort(s->labels, s->n_labels, sizeof(s->labels[0]), label_cmp);
		return;
	}
	for (uint32_t i = 1; i < s->n_labels; i++) {
		struct vg_label l = s->labels[i];
		uint32_t j = i;
		while (j > 0 && vg_str_cmp(s->labels[j - 1].name, l.name) > 0) {
			s->labels[j] = s->labels[j - 1];
			j--;
		}
		s->labels[j] = l;
	}
}

int vg_series_canonicalize(struct vg_series *s, struct vg_err *err)
{
	uint32_t i, out = 0;

	if (!vg_metric_name_valid(s->name.p, s->name.len))
		return vg_err_set(err, VG_EINVAL, "invalid metric name \"%.*s\"",
				  (int)(s->name.len > 64 ? 64 : s->name.len), s->name.p);
	if (s->n_labels > VG_SERIES_MAX_LABELS)
		return vg_err_set(err, VG_ELIMIT, "more than %d labels", VG_SERIES_MAX_LABELS);
	for (i = 0; i < s->n_labels; i++) {
		const struct vg_label *l = &s->labels[i];
		if (!vg_label_name_valid(l->name.p, l->name.len))
			return vg_err_set(err, VG_EINVAL, "invalid label name \"%.*s\" in %.*s",
					  (int)(l->name.len > 64 ? 64 : l->name.len), l->name.p,
					  (int)s->name.len, s->name.p);
		if (l->name.len >= 2 && l->name.p[0] == '_' && l->name.p[1] == '_')
			return vg_err_set(err, VG_EINVAL, "label name \"%.*s\" is reserved (starts with __)",
					  (int)l->name.len, l->name.p);
		if (l->value.len > VG_SERIES_MAX_VALUE)
			return vg_err_set(err, VG_ELIMIT, "value of label \"%.*s\" is longer than %d bytes",
					  (int)l->name.len, l->name.p, VG_SERIES_MAX_VALUE);
		if (!vg_utf8_valid(l->value.p, l->value.len))
			return vg_err_set(err, VG_EINVAL, "value of label \"%.*s\" is not valid UTF-8",
					  (int)l->name.len, l->name.p);
	}
	if (!is_sorted(s))
		sort_labels(s);
	for (i = 0; i < s->n_labels; i++) {
		if (i > 0 && vg_str_eq(s->labels[i].name, s->labels[i - 1].name))
			return vg_err_set(err, VG_EINVAL, "label \"%.*s\" appears twice",
					  (int)s->labels[i].name.len, s->labels[i].name.p);
		if (s->labels[i].value.len == 0)
			continue;
		s->labels[out++] = s->labels[i];
	}
	s->n_labels = out;
	if (key_len(s) > VG_SERIES_MAX_KEY)
		return vg_err_set(err, VG_ELIMIT, "series %.*s is longer than %d bytes in all",
				  (int)s->name.len, s->name.p, VG_SERIES_MAX_KEY);
	return 0;
}

const struct vg_str *vg_series_get(const struct vg_series *s, const char *name)
{
	struct vg_str n = vg_str_c(name);

	for (uint32_t i = 0; i < s->n_labels; i++)
		if (vg_str_eq(s->labels[i].name, n))
			return &s->labels[i].value;
	return NULL;
}

/* Copies v then the separator to p; returns the byte after them. */
static uint8_t *key_put(uint8_t *p, struct vg_str v)
{
	if (v.len)
		memcpy(p, v.p, v.len);
	p[v.len] = KEY_SEP;
	return p + v.len + 1;
}

/* Writes s's key, key_len(s) bytes, at p. */
static void key_write(const struct vg_series *s, uint8_t *p)
{
	p = key_put(p, s->name);
	for (uint32_t i = 0; i < s->n_labels; i++) {
		p = key_put(p, s->labels[i].name);
		p = key_put(p, s->labels[i].value);
	}
}

void vg_series_key(const struct vg_series *s, struct vg_buf *out)
{
	size_t n = key_len(s);

	/* One grow and plain copies: this runs per series per batch. */
	if (vg_buf_grow(out, n) != 0)
		return;
	key_write(s, out->data + out->len);
	out->len += n;
	out->data[out->len] = 0;
}

int vg_series_from_key(const uint8_t *key, size_t len, struct vg_series *s)
{
	const uint8_t *p = key, *end = key + len, *sep;

	sep = memchr(p, KEY_SEP, len);
	if (sep == NULL)
		return VG_EINVAL;
	s->name = (struct vg_str){ (const char *)p, (uint32_t)(sep - p) };
	s->n_labels = 0;
	p = sep + 1;
	while (p < end) {
		struct vg_label l;
		sep = memchr(p, KEY_SEP, (size_t)(end - p));
		if (sep == NULL)
			return VG_EINVAL;
		l.name = (struct vg_str){ (const char *)p, (uint32_t)(sep - p) };
		p = sep + 1;
		sep = memchr(p, KEY_SEP, (size_t)(end - p));
		if (sep == NULL)
			return VG_EINVAL;
		l.value = (struct vg_str){ (const char *)p, (uint32_t)(sep - p) };
		p = sep + 1;
		if (s->n_labels >= VG_SERIES_MAX_LABELS)
			return VG_EINVAL;
		s->labels[s->n_labels++] = l;
	}
	return 0;
}

uint64_t vg_series_key_hash(const uint8_t *key, size_t len)
{
	return XXH3_64bits(key, len);
}

uint64_t vg_series_hash(const struct vg_series *s)
{
	/* This runs per series per batch on the agent and per new series on
	 * the receiver: a key that fits is built on the stack and hashed in
	 * one call (the same hash as streaming its pieces, at a fraction of
	 * the cost for short keys); a longer one is streamed. */
	static const uint8_t sep = KEY_SEP;
	uint8_t key[512];
	size_t n = key_len(s);
	XXH3_state_t st;

	if (n <= sizeof(key)) {
		key_write(s, key);
		return XXH3_64bits(key, n);
	}
	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, s->name.p, s->name.len);
	XXH3_64bits_update(&st, &sep, 1);
	for (uint32_t i = 0; i < s->n_labels; i++) {
		XXH3_64bits_update(&st, s->labels[i].name.p, s->labels[i].name.len);
		XXH3_64bits_update(&st, &sep, 1);
		XXH3_64bits_update(&st, s->labels[i].value.p, s->labels[i].value.len);
		XXH3_64bits_update(&st, &sep, 1);
	}
	return XXH3_64bits_digest(&st);
}

void vg_label_value_escape(struct vg_str v, struct vg_buf *out)
{
	uint32_t start = 0;

	for (uint32_t i = 0; i < v.len; i++) {
		const char *rep = NULL;
		switch (v.p[i]) {
		case '\\': rep = "\\\\"; break;
		case '"': rep = "\\\""; break;
		case '\n': rep = "\\n"; break;
		default: continue;
		}
		vg_buf_append(out, v.p + start, i - start);
		vg_buf_puts(out, rep);
		start = i + 1;
	}
	vg_buf_append(out, v.p + start, v.len - start);
}

void vg_series_format(const struct vg_series *s, struct vg_buf *out)
{
	vg_buf_append(out, s->name.p, s->name.len);
	if (s->n_labels == 0)
		return;
	vg_buf_putc(out, '{');
	for (uint32_t i = 0; i < s->n_labels; i++) {
		if (i)
			vg_buf_putc(out, ',');
		vg_buf_append(out, s->labels[i].name.p, s->labels[i].name.len);
		vg_buf_puts(out, "=\"");
		vg_label_value_escape(s->labels[i].value, out);
		vg_buf_putc(out, '"');
	}
	vg_buf_putc(out, '}');
}

/* The labels of a key in vg_series_key_cmp's order: "__name__" merged
 * into the sorted label names. */
struct key_iter {
	const uint8_t *p, *end;
	struct vg_str metric;
	bool is_name_done;
};

static bool key_iter_init(struct key_iter *it, const uint8_t *key, size_t len)
{
	const uint8_t *sep = len ? memchr(key, KEY_SEP, len) : NULL;

	if (sep == NULL)
		return false;
	it->metric = (struct vg_str){ (const char *)key, (uint32_t)(sep - key) };
	it->p = sep + 1;
	it->end = key + len;
	it->is_name_done = false;
	return true;
}

/* 1 with the next label, 0 at the end, -1 if the key is malformed. */
static int key_iter_next(struct key_iter *it, struct vg_str *name, struct vg_str *value)
{
	static const struct vg_str name_label = { "__name__", 8 };
	const uint8_t *s1 = NULL, *s2 = NULL;
	struct vg_str ln = { "", 0 }, lv = { "", 0 };
	bool has_label = it->p < it->end;

	if (has_label) {
		s1 = memchr(it->p, KEY_SEP, (size_t)(it->end - it->p));
		s2 = s1 ? memchr(s1 + 1, KEY_SEP, (size_t)(it->end - s1 - 1)) : NULL;
		if (s2 == NULL)
			return -1;
		ln = (struct vg_str){ (const char *)it->p, (uint32_t)(s1 - it->p) };
		lv = (struct vg_str){ (const char *)s1 + 1, (uint32_t)(s2 - s1 - 1) };
	}
	if (!it->is_name_done && (!has_label || vg_str_cmp(name_label, ln) < 0)) {
		it->is_name_done = true;
		*name = name_label;
		*value = it->metric;
		return 1;
	}
	if (!has_label)
		return 0;
	it->p = s2 + 1;
	*name = ln;
	*value = lv;
	return 1;
}

static int bytes_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;

	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* Whether some byte of x is KEY_SEP (0xFF): a zero byte of ~x. */
static bool word_has_sep(uint64_t x)
{
	return ((~x - 0x0101010101010101ULL) & x & 0x8080808080808080ULL) != 0;
}

/* The length of the common prefix of a and b (n bytes each); *has_sep
 * whether it holds a KEY_SEP (the end of the metric name), looked for in
 * the words the comparison loads anyway. */
static size_t common_prefix(const uint8_t *a, const uint8_t *b, size_t n, bool *has_sep)
{
	size_t p = 0, q;
	bool sep = false;

	for (; p + 8 <= n; p += 8) {
		uint64_t x, y;
		memcpy(&x, a + p, sizeof(x));
		memcpy(&y, b + p, sizeof(y));
		if (x != y) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			q = p + (size_t)(__builtin_ctzll(x ^ y) >> 3);
#else
			q = p + (size_t)(__builtin_clzll(x ^ y) >> 3);
#endif
			for (; !sep && p < q; p++)
				sep = a[p] == KEY_SEP;
			*has_sep = sep;
			return q;
		}
		sep = sep || word_has_sep(x);
	}
	for (; p < n && a[p] == b[p]; p++)
		sep = sep || a[p] == KEY_SEP;
	*has_sep = sep;
	return p;
}

int vg_series_key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	struct key_iter ia, ib;
	bool has_sep;
	size_t p = common_prefix(a, b, alen < blen ? alen : blen, &has_sep);

	/*
	 * The common case, a selection's series of one metric: keys that
	 * agree past the metric name differ first inside one field, a label's
	 * name or value, whose earlier fields are the same in both. The
	 * labels before it come in the same merged order in both, so the
	 * fields decide: the one that ends there (its 0xFF) is the smaller,
	 * else the byte. A name that differs decides the same way wherever
	 * "__name__" falls between the two: the order below would compare
	 * each with "__name__", which lies between them.
	 */
	if (p < alen && p < blen && a[alen - 1] == KEY_SEP && b[blen - 1] == KEY_SEP && has_sep) {
		if (a[p] == KEY_SEP)
			return -1;
		if (b[p] == KEY_SEP)
			return 1;
		return a[p] < b[p] ? -1 : 1;
	}
	if (!key_iter_init(&ia, a, alen) || !key_iter_init(&ib, b, blen))
		return bytes_cmp(a, alen, b, blen);
	for (;;) {
		struct vg_str an, av, bn, bv;
		int ha = key_iter_next(&ia, &an, &av);
		int hb = key_iter_next(&ib, &bn, &bv);
		int c;

		if (ha < 0 || hb < 0)
			return bytes_cmp(a, alen, b, blen);
		if (ha == 0 || hb == 0)
			return ha - hb;
		if ((c = vg_str_cmp(an, bn)) != 0)
			return c;
		if ((c = vg_str_cmp(av, bv)) != 0)
			return c;
	}
}

/* --- sorting keys ---------------------------------------------------------- */

/* Subranges of at most this many keys are sorted by insertion. */
#define KEY_SORT_SMALL 8

static int key_ref_cmp(const void *x, const void *y)
{
	const struct vg_key_ref *a = x, *b = y;
	int c = vg_series_key_cmp(a->key, a->len, b->key, b->len);

	if (c != 0)
		return c;
	return a->tag < b->tag ? -1 : a->tag > b->tag;
}

/* Byte d of r as keys of one metric name order by their bytes (see
 * vg_series_key_cmp): -1 past the end, 0 for KEY_SEP (a field ends first),
 * the byte + 1 otherwise. */
static inline int key_sym(const struct vg_key_ref *r, size_t d)
{
	if (d >= r->len)
		return -1;
	return r->key[d] == KEY_SEP ? 0 : r->key[d] + 1;
}

/* The first position from d at which a and b differ, or the shorter's
 * length. */
static size_t key_ref_lcp(const struct vg_key_ref *a, const struct vg_key_ref *b, size_t d)
{
	size_t n = a->len < b->len ? a->len : b->len;
	bool has_sep;

	return d + common_prefix(a->key + d, b->key + d, n - d, &has_sep);
}

/* a and b, keys of one metric name that agree on [0, d), compared as
 * key_ref_cmp does. Where one ends inside the other the label order
 * decides (a shorter label set is not always first: a label named below
 * "__name__" comes before it), so those go to vg_series_key_cmp. */
static int key_ref_cmp_from(const struct vg_key_ref *a, const struct vg_key_ref *b, size_t d)
{
	size_t p = key_ref_lcp(a, b, d);

	if (p < a->len && p < b->len)
		return key_sym(a, p) < key_sym(b, p) ? -1 : 1;
	if (a->len == b->len)
		return a->tag < b->tag ? -1 : a->tag > b->tag;
	return key_ref_cmp(a, b);
}

static inline void key_ref_swap(struct vg_key_ref *a, struct vg_key_ref *b)
{
	struct vg_key_ref t = *a;
	*a = *b;
	*b = t;
}

static inline int median3(int a, int b, int c)
{
	if (a > b) {
		int t = a;
		a = b;
		b = t;
	}
	return c <= a ? a : c >= b ? b : c;
}

/*
 * Bentley and Sedgewick's multikey quicksort of v[0..n), keys of one
 * metric name that agree on [0, d): a three-way partition by the symbol at
 * d, the equal part going on at d + 1. A subrange where some key ends at d
 * and some go on (one label set a prefix of another) or all end (equal
 * keys) is sorted by key_ref_cmp. The two smaller parts recurse, the
 * largest loops, so the depth stays under log2(n).
 */
static void key_mkqs(struct vg_key_ref *v, size_t n, size_t d)
{
	while (n > 1) {
		if (n <= KEY_SORT_SMALL) {
			for (size_t i = 1; i < n; i++)
				for (size_t j = i; j > 0 && key_ref_cmp_from(&v[j - 1], &v[j], d) > 0; j--)
					key_ref_swap(&v[j - 1], &v[j]);
			return;
		}
		int piv = median3(key_sym(&v[0], d), key_sym(&v[n / 2], d), key_sym(&v[n - 1], d));
		size_t lt = 0, i = 0, gt = n;
		bool has_end = false;

		while (i < gt) {
			int s = key_sym(&v[i], d);
			has_end |= s < 0;
			if (s < piv)
				key_ref_swap(&v[lt++], &v[i++]);
			else if (s > piv)
				key_ref_swap(&v[i], &v[--gt]);
			else
				i++;
		}
		if (has_end) {
			qsort(v, n, sizeof(*v), key_ref_cmp);
			return;
		}
		if (lt == 0 && gt == n) {
			/* all agree at d: skip to where the first differs from any */
			size_t m = v[0].len;
			for (size_t k = 1; k < n && m > d + 1; k++) {
				size_t p = key_ref_lcp(&v[0], &v[k], d + 1);
				m = p < m ? p : m;
			}
			d = m > d + 1 ? m : d + 1;
			continue;
		}
		size_t nl = lt, ne = gt - lt, ng = n - gt;
		if (ne >= nl && ne >= ng) {
			key_mkqs(v, nl, d);
			key_mkqs(v + gt, ng, d);
			v += lt;
			n = ne;
			d++;
		} else if (nl >= ng) {
			key_mkqs(v + lt, ne, d + 1);
			key_mkqs(v + gt, ng, d);
			n = nl;
		} else {
			key_mkqs(v, nl, d);
			key_mkqs(v + lt, ne, d + 1);
			v += gt;
			n = ng;
		}
	}
}

void vg_series_key_sort(struct vg_key_ref *v, size_t n)
{
	const uint8_t *sep;
	size_t nl;

	if (n < 2)
		return;
	/* the byte order holds past a metric name all share */
	sep = memchr(v[0].key, KEY_SEP, v[0].len);
	nl = sep ? (size_t)(sep - v[0].key) : 0;
	for (size_t i = 0; sep && i < n; i++)
		if (v[i].len <= nl || v[i].key[nl] != KEY_SEP || v[i].key[v[i].len - 1] != KEY_SEP ||
		    memcmp(v[i].key, v[0].key, nl) != 0)
			sep = NULL;
	if (sep == NULL)
		qsort(v, n, sizeof(*v), key_ref_cmp);
	else
		key_mkqs(v, n, nl + 1);
}
