/*
 * aggregate.c: StatsD pre-aggregation (aggregate.h): a hash table of keys,
 * each with its kind's running values, flushed once per push interval
 * into the agent's sink; and the counters' state file.
 *
 * Owns the entries, their interval state and the state file. Does not
 * parse (statsd.c) nor read sockets (statsd_listen.c). Invariants: an
 * entry's kind never changes and an entry lives as long as the aggregate;
 * the table never holds more than max_series entries; the hot path
 * (vg_aggregate_add on a known key) allocates nothing but a set member's
 * slot.
 *
 * A line's key is its name and tags made canonical (common/series.h: tags
 * validated and sorted, empty ones dropped) and encoded; that costs more
 * than the rest of a line. A client sends a key the same way every time,
 * so the alias table maps the name and tags as the line has them (the
 * mapped name, the tags in their order) straight to the entry; a line
 * whose alias is known skips the canonical form. The alias is exactly
 * what the canonical form is computed from, so both give one entry. At
 * most 2 n + 64 aliases are held (n entries): beyond, the table empties
 * and fills again, so tags sent in ever new orders cannot grow it.
 *
 * STATE FILE (integers big-endian):
 *   0   4  "VGSC"
 *   4   4  version 1
 *   8   8  N, the number of records (<= max_series is not required: the
 *          first max_series are taken)
 *   16     N records: u32 key length L (1..VG_SERIES_MAX_KEY), the key
 *          (common/series.h codec, the mapped name and tags), u64 the
 *          IEEE 754 bits of the total
 *   end 8  XXH3_64 of every byte before it
 * Written whole to "<path>.tmp", fdatasynced, renamed over path, the
 * directory fdatasynced (vg_fs_publish). A file that is short, has a bad
 * checksum or a key that does not parse is ignored whole (logged): totals
 * then start at 0, which rate() and increase() read as a counter reset.
 */
#include "agent/aggregate.h"
#include "agent/collect/collect.h"
#include "agent/collect/statsd.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/series.h"

#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/banned.h"

#define STATE_MAGIC 0x56475343u /* "VGSC" */
#define STATE_VERSION 1
#define STATE_MAX_BYTES (256u << 20)

enum kind { K_COUNTER, K_GAUGE, K_TIMER, K_HISTOGRAM, K_SET };

struct set {
	uint64_t *slots; /* 0 = empty; member hashes, 0 mapped to 1 */
	uint32_t n, cap;
};

/* An interval's observations for quantiles, or a uniform sample of them. */
struct vals {
	double *v;
	uint32_t n, cap;
	uint64_t seen;
};

struct entry {
	uint64_t hash;
	uint8_t kind;
	bool is_fast, has_value, has_obs;
	uint32_t key_len;
	/* counter: v0 total. gauge: v0 value, v1 min, v2 max (fast samples).
	 * timer, histogram: v0 count, v1 sum, v2 min, v3 max (interval). */
	double v0, v1, v2, v3;
	double *buckets; /* timer, histogram: observations per bound, not cumulative */
	struct set set;
	struct vals vals; /* timer, histogram, with quantiles */
	uint8_t key[];
};

/* The hash beside the pointer: a probe reads no entry but its match. */
struct slot {
	uint64_t hash;
	struct entry *e;
};

/* A line's name and tags as sent (encoded in the arena) and its entry. */
struct alias {
	uint64_t hash;
	struct entry *e; /* NULL: empty */
	uint32_t off, len;
};

struct vg_aggregate {
	uint64_t max_series;
	double bounds[VG_AGGREGATE_MAX_BOUNDS];
	size_t n_bounds;
	double quantiles[VG_AGGREGATE_MAX_QUANTILES];
	size_t n_quantiles;
	uint64_t rng;        /* xorshift64 state, for the reservoir */
	char **fast; /* fast gauge names */
	size_t n_fast;
	char *state_path;
	struct slot *tab;    /* open addressing on hash, cap a power of 2 */
	size_t cap;
	struct entry **list; /* insertion order, for a stable flush */
	size_t n, list_cap;
	bool is_dirty;       /* counters changed since the last save */
	struct vg_buf key;   /* scratch */
	struct alias *aliases; /* open addressing on hash, alias_cap a power of 2 */
	size_t alias_cap, n_aliases;
	struct vg_buf arena; /* the aliases' bytes */
	struct vg_buf raw;   /* scratch: the line's alias */
	struct vg_aggregate_stats stats;
};

static enum kind kind_of(enum vg_statsd_type t)
{
	switch (t) {
	case VG_STATSD_COUNTER: return K_COUNTER;
	case VG_STATSD_GAUGE: return K_GAUGE;
	case VG_STATSD_TIMER: return K_TIMER;
	case VG_STATSD_SET: return K_SET;
	default: return K_HISTOGRAM;
	}
}

static struct slot *slot_of(struct vg_aggregate *a, const uint8_t *key, size_t len, uint64_t hash)
{
	size_t mask = a->cap - 1, i = (size_t)hash & mask;

	for (;;) {
		struct slot *s = &a->tab[i];
		if (s->e == NULL ||
		    (s->hash == hash && s->e->key_len == len && memcmp(s->e->key, key, len) == 0))
			return s;
		i = (i + 1) & mask;
	}
}

static int grow_table(struct vg_aggregate *a)
{
	size_t cap = a->cap ? a->cap * 2 : 256;
	struct slot *tab = calloc(cap, sizeof(*tab)), *old = a->tab;
	size_t old_cap = a->cap;

	if (tab == NULL)
		return VG_ENOMEM;
	a->tab = tab;
	a->cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].e)
			*slot_of(a, old[i].e->key, old[i].e->key_len, old[i].hash) = old[i];
	free(old);
	return 0;
}

static bool is_fast_name(const struct vg_aggregate *a, struct vg_str name)
{
	for (size_t i = 0; i < a->n_fast; i++)
		if (vg_str_eq_c(name, a->fast[i]))
			return true;
	return false;
}

/* A new entry for key; reserves every allocation first, so a failure
 * leaves the table as it was. NULL when out of memory. */
static struct entry *insert(struct vg_aggregate *a, const uint8_t *key, size_t len, uint64_t hash, enum kind k,
			    struct vg_str name)
{
	struct entry *e;

	if ((a->n + 1) * 2 > a->cap && grow_table(a) != 0)
		return NULL;
	if (a->n == a->list_cap) {
		size_t cap = a->list_cap ? a->list_cap * 2 : 64;
		struct entry **l = realloc(a->list, cap * sizeof(*l));
		if (l == NULL)
			return NULL;
		a->list = l;
		a->list_cap = cap;
	}
	if ((e = calloc(1, sizeof(*e) + len)) == NULL)
		return NULL;
	if ((k == K_TIMER || k == K_HISTOGRAM) && a->n_bounds > 0 &&
	    (e->buckets = calloc(a->n_bounds, sizeof(double))) == NULL) {
		free(e);
		return NULL;
	}
	e->hash = hash;
	e->kind = (uint8_t)k;
	e->key_len = (uint32_t)len;
	e->is_fast = k == K_GAUGE && is_fast_name(a, name);
	memcpy(e->key, key, len);
	*slot_of(a, key, len, hash) = (struct slot){ hash, e };
	a->list[a->n++] = e;
	a->stats.series = a->n;
	return e;
}

static void set_add(struct vg_aggregate *a, struct set *s, struct vg_str member)
{
	uint64_t h = XXH3_64bits(member.p, member.len);
	size_t mask, i;

	h = h ? h : 1;
	if ((s->n + 1) * 2 > s->cap) {
		uint32_t cap = s->cap ? s->cap * 2 : 16;
		uint64_t *slots;
		if (s->n >= VG_AGGREGATE_MAX_SET_MEMBERS || (slots = calloc(cap, sizeof(*slots))) == NULL) {
			a->stats.set_members_refused++;
			return;
		}
		for (uint32_t j = 0; j < s->cap; j++) {
			if (s->slots[j] == 0)
				continue;
			for (i = s->slots[j] & (cap - 1); slots[i]; i = (i + 1) & (cap - 1))
				;
			slots[i] = s->slots[j];
		}
		free(s->slots);
		s->slots = slots;
		s->cap = cap;
	}
	mask = s->cap - 1;
	for (i = h & mask; s->slots[i]; i = (i + 1) & mask)
		if (s->slots[i] == h)
			return;
	s->slots[i] = h;
	s->n++;
}

/* Algorithm R: the first VG_AGGREGATE_QUANTILE_VALUES observations, then
 * each next one replaces a random kept one with probability cap/seen. */
static void keep_value(struct vg_aggregate *a, struct vals *q, double x)
{
	uint64_t j;

	q->seen++;
	if (q->n == q->cap && q->cap < VG_AGGREGATE_QUANTILE_VALUES) {
		uint32_t cap = q->cap ? q->cap * 2 : 16;
		double *v = realloc(q->v, cap * sizeof(*v));
		if (v != NULL) {
			q->v = v;
			q->cap = cap;
		}
	}
	if (q->n < q->cap) {
		q->v[q->n++] = x;
		return;
	}
	a->rng ^= a->rng << 13;
	a->rng ^= a->rng >> 7;
	a->rng ^= a->rng << 17;
	j = a->rng % q->seen;
	if (j < q->n)
		q->v[j] = x;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return (a > b) - (a < b);
}

static void observe(struct vg_aggregate *a, struct entry *e, double x, double rate)
{
	double w = 1 / rate;

	e->v0 += w;
	e->v1 += x * w;
	if (!e->has_obs || x < e->v2)
		e->v2 = x;
	if (!e->has_obs || x > e->v3)
		e->v3 = x;
	e->has_obs = true;
	for (size_t i = 0; i < a->n_bounds; i++)
		if (x <= a->bounds[i]) {
			e->buckets[i] += w;
			break;
		}
	if (a->n_quantiles > 0)
		keep_value(a, &e->vals, x);
}

/* The alias of name and a line's tags into a->raw, each part followed by
 * 0xFF (never in UTF-8, so the parts cannot run into each other). */
static void alias_of(struct vg_aggregate *a, struct vg_str name, const struct vg_statsd_line *line)
{
	size_t n = name.len + 1;
	uint8_t *p;

	for (uint32_t i = 0; i < line->n_tags; i++)
		n += line->tags[i].name.len + line->tags[i].value.len + 2;
	vg_buf_reset(&a->raw);
	if (vg_buf_grow(&a->raw, n) != 0)
		return;
	p = a->raw.data;
	memcpy(p, name.p, name.len);
	p += name.len;
	*p++ = 0xFF;
	for (uint32_t i = 0; i < line->n_tags; i++) {
		const struct vg_label *t = &line->tags[i];
		if (t->name.len)
			memcpy(p, t->name.p, t->name.len);
		p += t->name.len;
		*p++ = 0xFF;
		if (t->value.len)
			memcpy(p, t->value.p, t->value.len);
		p += t->value.len;
		*p++ = 0xFF;
	}
	a->raw.len = n;
}

static struct alias *alias_slot(struct vg_aggregate *a, const uint8_t *raw, size_t len, uint64_t hash)
{
	size_t mask = a->alias_cap - 1, i = (size_t)hash & mask;

	for (;;) {
		struct alias *s = &a->aliases[i];
		if (s->e == NULL ||
		    (s->hash == hash && s->len == len && memcmp(a->arena.data + s->off, raw, len) == 0))
			return s;
		i = (i + 1) & mask;
	}
}

static void alias_clear(struct vg_aggregate *a)
{
	if (a->aliases)
		memset(a->aliases, 0, a->alias_cap * sizeof(*a->aliases));
	a->n_aliases = 0;
	vg_buf_reset(&a->arena);
}

/* Remembers a->raw (hash) as an alias of e; when memory is short it is
 * simply not remembered. */
static void alias_add(struct vg_aggregate *a, uint64_t hash, struct entry *e)
{
	struct alias *s;

	if (a->n_aliases >= 2 * a->n + 64)
		alias_clear(a);
	if ((a->n_aliases + 1) * 2 > a->alias_cap) {
		size_t cap = a->alias_cap ? a->alias_cap * 2 : 256;
		struct alias *tab = calloc(cap, sizeof(*tab)), *old = a->aliases;
		size_t old_cap = a->alias_cap;
		if (tab == NULL)
			return;
		a->aliases = tab;
		a->alias_cap = cap;
		for (size_t i = 0; i < old_cap; i++)
			if (old[i].e)
				*alias_slot(a, a->arena.data + old[i].off, old[i].len, old[i].hash) = old[i];
		free(old);
	}
	if (a->arena.len + a->raw.len > UINT32_MAX || vg_buf_grow(&a->arena, a->raw.len) != 0)
		return;
	s = alias_slot(a, a->raw.data, a->raw.len, hash);
	if (s->e != NULL)
		return;
	*s = (struct alias){ hash, e, (uint32_t)a->arena.len, (uint32_t)a->raw.len };
	memcpy(a->arena.data + a->arena.len, a->raw.data, a->raw.len);
	a->arena.len += a->raw.len;
	a->n_aliases++;
}

void vg_aggregate_add(struct vg_aggregate *a, const struct vg_statsd_line *line)
{
	struct vg_series s;
	struct slot *slot;
	struct entry *e = NULL;
	uint64_t hash, raw_hash = 0;
	struct alias *al;

	if (line->n_samples == 0)
		return;
	s.name = line->name;
	/* "hits" and "hits_total" are one counter: both send hits_total */
	if (line->samples[0].type == VG_STATSD_COUNTER && s.name.len > 6 &&
	    memcmp(s.name.p + s.name.len - 6, "_total", 6) == 0)
		s.name.len -= 6;
	alias_of(a, s.name, line);
	if (!vg_buf_failed(&a->raw)) {
		raw_hash = XXH3_64bits(a->raw.data, a->raw.len);
		if (a->alias_cap && (al = alias_slot(a, a->raw.data, a->raw.len, raw_hash))->e != NULL)
			e = al->e;
	}
	if (e == NULL) {
		s.n_labels = line->n_tags;
		memcpy(s.labels, line->tags, line->n_tags * sizeof(s.labels[0]));
		if (vg_series_canonicalize(&s, NULL) != 0) {
			a->stats.invalid_series++;
			return;
		}
		vg_buf_reset(&a->key);
		vg_series_key(&s, &a->key);
		if (vg_buf_failed(&a->key) || a->key.len > VG_SERIES_MAX_KEY) {
			a->stats.invalid_series++;
			return;
		}
		hash = XXH3_64bits(a->key.data, a->key.len);
		slot = a->cap ? slot_of(a, a->key.data, a->key.len, hash) : NULL;
		e = slot ? slot->e : NULL;
		if (e == NULL) {
			if (a->n >= a->max_series) {
				a->stats.series_refused++;
				return;
			}
			e = insert(a, a->key.data, a->key.len, hash, kind_of(line->samples[0].type), line->name);
			if (e == NULL) {
				a->stats.series_refused++;
				return;
			}
		}
		if (!vg_buf_failed(&a->raw))
			alias_add(a, raw_hash, e);
	}
	for (uint32_t i = 0; i < line->n_samples; i++) {
		const struct vg_statsd_sample *sm = &line->samples[i];
		enum kind k = kind_of(sm->type);
		if (k != e->kind) {
			a->stats.type_conflicts++;
			continue;
		}
		switch (k) {
		case K_COUNTER:
			e->v0 += sm->value / sm->rate;
			a->is_dirty = true;
			break;
		case K_GAUGE:
			/* Etsy: a sign is a delta only on a gauge that exists */
			e->v0 = sm->is_delta && e->has_value ? e->v0 + sm->value : sm->value;
			e->has_value = true;
			break;
		case K_TIMER:
			observe(a, e, sm->value / 1000, sm->rate);
			break;
		case K_HISTOGRAM:
			observe(a, e, sm->value, sm->rate);
			break;
		case K_SET:
			set_add(a, &e->set, sm->text);
			break;
		}
	}
}

void vg_aggregate_line_cb(void *ctx, const struct vg_statsd_line *line)
{
	vg_aggregate_add(ctx, line);
}

void vg_aggregate_sample_fast(struct vg_aggregate *a)
{
	for (size_t i = 0; i < a->n; i++) {
		struct entry *e = a->list[i];
		if (!e->is_fast || !e->has_value)
			continue;
		if (!e->has_obs || e->v0 < e->v1)
			e->v1 = e->v0;
		if (!e->has_obs || e->v0 > e->v2)
			e->v2 = e->v0;
		e->has_obs = true;
	}
}

/* One sample of base renamed to base's name + suffix, with le when not
 * NULL. The sink adds the agent's labels to a copy. */
static int emit_label(struct vg_sample_sink *sink, const struct vg_series *base, const char *suffix,
		      const char *label, const char *label_value, double v)
{
	struct vg_series s = *base;
	char name[VG_SERIES_MAX_NAME + 1];
	int n = snprintf(name, sizeof(name), "%.*s%s", (int)base->name.len, base->name.p, suffix);

	if (n < 0 || (size_t)n >= sizeof(name))
		return 0; /* the parser keeps names short enough: cannot happen */
	s.name = (struct vg_str){ name, (uint32_t)n };
	if (label && vg_series_add(&s, label, label_value) != 0)
		return 0;
	return sink->add(sink->arg, &s, v);
}

static int emit(struct vg_sample_sink *sink, const struct vg_series *base, const char *suffix, const char *le,
		double v)
{
	return emit_label(sink, base, suffix, le ? "le" : NULL, le, v);
}

/* Nearest rank over the interval's (sampled) observations, as Etsy
 * StatsD's upper_PCT: the value at rank ceil(q n). */
static int flush_quantiles(struct vg_aggregate *a, struct entry *e, const struct vg_series *base,
			   struct vg_sample_sink *sink)
{
	struct vals *q = &e->vals;
	char label[32];
	int rc = 0;

	if (q->n == 0)
		return 0;
	qsort(q->v, q->n, sizeof(double), cmp_double);
	for (size_t i = 0; i < a->n_quantiles && rc == 0; i++) {
		double r = ceil(a->quantiles[i] * q->n);
		size_t k = r < 1 ? 0 : (size_t)r - 1;
		snprintf(label, sizeof(label), "%.15g", a->quantiles[i]);
		rc = emit_label(sink, base, "", "quantile", label, q->v[k < q->n ? k : q->n - 1]);
	}
	q->n = 0;
	q->seen = 0;
	if (q->cap > 64) {
		free(q->v); /* a busy interval: give the memory back */
		*q = (struct vals){ NULL, 0, 0, 0 };
	}
	return rc;
}

static int flush_entry(struct vg_aggregate *a, struct entry *e, struct vg_sample_sink *sink)
{
	struct vg_series base;
	char le[32];
	double cum = 0;
	int rc = 0;

	if (vg_series_from_key(e->key, e->key_len, &base) != 0)
		return 0;
	switch (e->kind) {
	case K_COUNTER:
		return emit(sink, &base, "_total", NULL, e->v0);
	case K_GAUGE:
		if (!e->has_value)
			return 0;
		if (e->is_fast) {
			/* the value now counts as the interval's last sample */
			double lo = e->has_obs && e->v1 < e->v0 ? e->v1 : e->v0;
			double hi = e->has_obs && e->v2 > e->v0 ? e->v2 : e->v0;
			e->has_obs = false;
			if ((rc = emit(sink, &base, "_min", NULL, lo)) != 0 ||
			    (rc = emit(sink, &base, "_max", NULL, hi)) != 0)
				return rc;
		}
		return emit(sink, &base, "", NULL, e->v0);
	case K_TIMER:
	case K_HISTOGRAM:
		for (size_t i = 0; i < a->n_bounds; i++) {
			cum += e->buckets[i];
			snprintf(le, sizeof(le), "%.15g", a->bounds[i]);
			if ((rc = emit(sink, &base, "_bucket", le, cum)) != 0)
				return rc;
		}
		if ((rc = emit(sink, &base, "_bucket", "+Inf", e->v0)) != 0 ||
		    (rc = emit(sink, &base, "_sum", NULL, e->v1)) != 0 ||
		    (rc = emit(sink, &base, "_count", NULL, e->v0)) != 0)
			return rc;
		if (e->has_obs) {
			e->has_obs = false;
			if ((rc = emit(sink, &base, "_min", NULL, e->v2)) != 0 ||
			    (rc = emit(sink, &base, "_max", NULL, e->v3)) != 0)
				return rc;
		}
		return flush_quantiles(a, e, &base, sink);
	case K_SET:
		rc = emit(sink, &base, "", NULL, (double)e->set.n);
		if (e->set.cap > 1024) {
			free(e->set.slots); /* a burst of members: give it back */
			e->set = (struct set){ NULL, 0, 0 };
		} else if (e->set.n) {
			memset(e->set.slots, 0, e->set.cap * sizeof(uint64_t));
			e->set.n = 0;
		}
		return rc;
	}
	return 0;
}

int vg_aggregate_flush(struct vg_aggregate *a, struct vg_sample_sink *sink)
{
	int rc;

	for (size_t i = 0; i < a->n; i++)
		if ((rc = flush_entry(a, a->list[i], sink)) != 0)
			return rc;
	return 0;
}

/* --- state file ------------------------------------------------------------ */

int vg_aggregate_read_state(const char *path, void (*cb)(void *ctx, const uint8_t *key, size_t len, double total),
			    void *ctx, struct vg_err *err)
{
	struct vg_buf b = VG_BUF_INIT;
	struct stat st;
	uint64_t n, bits;
	size_t off = 16;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return vg_err_set(err, errno == ENOENT ? VG_ENOENT : VG_EIO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || st.st_size < 24 || (uint64_t)st.st_size > STATE_MAX_BYTES) {
		rc = vg_err_set(err, VG_EINVAL, "%s: not a state file (size %lld)", path, (long long)st.st_size);
		goto out;
	}
	if (vg_buf_grow(&b, (size_t)st.st_size) != 0) {
		rc = vg_err_set(err, VG_ENOMEM, "out of memory");
		goto out;
	}
	for (b.len = 0; b.len < (size_t)st.st_size;) {
		ssize_t r = read(fd, b.data + b.len, (size_t)st.st_size - b.len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = vg_err_set(err, VG_EIO, "%s: short read", path);
			goto out;
		}
		b.len += (size_t)r;
	}
	if (vg_get_be64(b.data + b.len - 8) != XXH3_64bits(b.data, b.len - 8)) {
		rc = vg_err_set(err, VG_ECHECKSUM, "%s: checksum mismatch", path);
		goto out;
	}
	if (vg_get_be32(b.data) != STATE_MAGIC || vg_get_be32(b.data + 4) != STATE_VERSION) {
		rc = vg_err_set(err, VG_EINVAL, "%s: not a state file of version %d", path, STATE_VERSION);
		goto out;
	}
	n = vg_get_be64(b.data + 8);
	/* validate everything before the first callback: taken whole or not */
	for (int pass = 0; pass < 2; pass++) {
		off = 16;
		for (uint64_t i = 0; i < n; i++) {
			struct vg_series s;
			uint32_t len;
			double total;
			if (b.len - 8 - off < 4 || (len = vg_get_be32(b.data + off)) == 0 || len > VG_SERIES_MAX_KEY ||
			    b.len - 8 - off - 4 < (size_t)len + 8 || vg_series_from_key(b.data + off + 4, len, &s) != 0) {
				rc = vg_err_set(err, VG_EINVAL, "%s: record %llu is damaged", path,
						(unsigned long long)i);
				goto out;
			}
			bits = vg_get_be64(b.data + off + 4 + len);
			memcpy(&total, &bits, sizeof(total));
			if (pass == 1)
				cb(ctx, b.data + off + 4, len, total);
			off += 4 + (size_t)len + 8;
		}
		if (off != b.len - 8) {
			rc = vg_err_set(err, VG_EINVAL, "%s: %zu bytes after the last record", path, b.len - 8 - off);
			goto out;
		}
	}
out:
	close(fd);
	vg_buf_release(&b);
	return rc;
}

static void restore_cb(void *ctx, const uint8_t *key, size_t len, double total)
{
	struct vg_aggregate *a = ctx;
	uint64_t hash = XXH3_64bits(key, len);
	struct vg_series s;
	struct entry *e;

	if (a->n >= a->max_series || vg_series_from_key(key, len, &s) != 0)
		return;
	if (a->cap && slot_of(a, key, len, hash)->e != NULL)
		return;
	if ((e = insert(a, key, len, hash, K_COUNTER, s.name)) != NULL)
		e->v0 = total;
}

int vg_aggregate_save(struct vg_aggregate *a, struct vg_err *err)
{
	struct vg_buf b = VG_BUF_INIT, tmp = VG_BUF_INIT;
	uint64_t n = 0, bits;
	uint8_t w[8];
	int fd = -1, rc = 0;

	if (a->state_path == NULL || !a->is_dirty)
		return 0;
	vg_buf_append(&b, "VGSC\0\0\0\1\0\0\0\0\0\0\0\0", 16);
	for (size_t i = 0; i < a->n; i++) {
		struct entry *e = a->list[i];
		if (e->kind != K_COUNTER)
			continue;
		vg_put_be32(w, e->key_len);
		vg_buf_append(&b, w, 4);
		vg_buf_append(&b, e->key, e->key_len);
		memcpy(&bits, &e->v0, sizeof(bits));
		vg_put_be64(w, bits);
		vg_buf_append(&b, w, 8);
		n++;
	}
	vg_buf_printf(&tmp, "%s.tmp", a->state_path);
	if (vg_buf_failed(&b) || vg_buf_failed(&tmp)) {
		rc = vg_err_set(err, VG_ENOMEM, "out of memory");
		goto out;
	}
	vg_put_be64(b.data + 8, n);
	vg_put_be64(w, XXH3_64bits(b.data, b.len));
	vg_buf_append(&b, w, 8);
	fd = open((const char *)tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || vg_fs_write_all(NULL, fd, b.data, b.len) != 0) {
		rc = vg_err_set(err, VG_EIO, "cannot write %s: %s", (const char *)tmp.data, strerror(errno));
		if (fd >= 0)
			unlink((const char *)tmp.data);
		goto out;
	}
	if ((rc = vg_fs_publish(NULL, fd, (const char *)tmp.data, a->state_path, err)) != 0)
		goto out;
	a->is_dirty = false;
out:
	if (fd >= 0)
		close(fd);
	if (rc == 0)
		a->stats.state_writes++;
	else
		a->stats.state_errors++;
	vg_buf_release(&b);
	vg_buf_release(&tmp);
	return rc;
}

int vg_aggregate_parse_quantiles(const char *const *v, size_t n, double *out, size_t *n_out, struct vg_err *err)
{
	int rc;

	if (n > VG_AGGREGATE_MAX_QUANTILES)
		return vg_err_set(err, VG_ELIMIT, "more than %d quantiles", VG_AGGREGATE_MAX_QUANTILES);
	if ((rc = vg_aggregate_parse_bounds(v, n, out, n_out, err)) != 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (!(out[i] > 0 && out[i] <= 1))
			return vg_err_set(err, VG_EINVAL, "quantile %s is not in (0, 1]", v[i]);
	return 0;
}

int vg_aggregate_parse_bounds(const char *const *v, size_t n, double *out, size_t *n_out, struct vg_err *err)
{
	*n_out = 0;
	if (n > VG_AGGREGATE_MAX_BOUNDS)
		return vg_err_set(err, VG_ELIMIT, "more than %d bounds", VG_AGGREGATE_MAX_BOUNDS);
	for (size_t i = 0; i < n; i++) {
		char *end;
		double d = strtod(v[i], &end);
		if (v[i][0] == '\0' || *end != '\0' || !isfinite(d))
			return vg_err_set(err, VG_EINVAL, "bound \"%s\" is not a finite number (+Inf is implied)",
					  v[i]);
		if (i > 0 && !(d > out[i - 1]))
			return vg_err_set(err, VG_EINVAL, "bounds must ascend: %s after %g", v[i], out[i - 1]);
		out[i] = d;
	}
	*n_out = n;
	return 0;
}

/* --- lifecycle ------------------------------------------------------------- */

/* The bounds opts asks for (the default when none), checked. */
static int check_options(const struct vg_aggregate_options *opts, const double **bounds, size_t *n_bounds,
			 struct vg_err *err)
{
	static const double defaults[] = VG_AGGREGATE_DEFAULT_BOUNDS;

	*bounds = opts->bounds ? opts->bounds : defaults;
	*n_bounds = opts->bounds ? opts->n_bounds : sizeof(defaults) / sizeof(defaults[0]);
	if (*n_bounds > VG_AGGREGATE_MAX_BOUNDS)
		return vg_err_set(err, VG_ELIMIT, "more than %d histogram bounds", VG_AGGREGATE_MAX_BOUNDS);
	for (size_t i = 1; i < *n_bounds; i++)
		if (!((*bounds)[i] > (*bounds)[i - 1]))
			return vg_err_set(err, VG_EINVAL, "histogram bounds must ascend");
	if (opts->n_quantiles > VG_AGGREGATE_MAX_QUANTILES)
		return vg_err_set(err, VG_ELIMIT, "more than %d quantiles", VG_AGGREGATE_MAX_QUANTILES);
	return 0;
}

/* New copies of opts's fast gauge names (*out NULL for none); VG_ENOMEM. */
static int copy_names(const struct vg_aggregate_options *opts, char ***out)
{
	char **v;

	*out = NULL;
	if (opts->n_fast_gauges == 0)
		return 0;
	if ((v = calloc(opts->n_fast_gauges, sizeof(char *))) == NULL)
		return VG_ENOMEM;
	for (size_t i = 0; i < opts->n_fast_gauges; i++)
		if ((v[i] = strdup(opts->fast_gauges[i])) == NULL) {
			while (i > 0)
				free(v[--i]);
			free(v);
			return VG_ENOMEM;
		}
	*out = v;
	return 0;
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int vg_aggregate_reconfigure(struct vg_aggregate *a, const struct vg_aggregate_options *opts, struct vg_err *err)
{
	const double *bounds;
	size_t n_bounds, n_hist = 0;
	double **buckets = NULL;
	char **fast = NULL, *state_path = NULL;
	bool is_new_bounds;
	int rc;

	if ((rc = check_options(opts, &bounds, &n_bounds, err)) != 0)
		return rc;
	is_new_bounds = n_bounds != a->n_bounds || memcmp(bounds, a->bounds, n_bounds * sizeof(double)) != 0;
	/* everything that can fail first: the buckets of every timer and
	 * histogram under the new bounds, the names, the path */
	if (is_new_bounds) {
		for (size_t i = 0; i < a->n; i++)
			n_hist += a->list[i]->kind == K_TIMER || a->list[i]->kind == K_HISTOGRAM;
		if (n_hist && (buckets = calloc(n_hist, sizeof(*buckets))) == NULL)
			goto nomem;
		for (size_t i = 0; i < n_hist; i++)
			if ((buckets[i] = calloc(n_bounds, sizeof(double))) == NULL)
				goto nomem;
	}
	if (copy_names(opts, &fast) != 0 || (opts->state_path && (state_path = strdup(opts->state_path)) == NULL))
		goto nomem;
	/* nothing below fails */
	if (is_new_bounds) {
		size_t j = 0;
		for (size_t i = 0; i < a->n; i++) {
			struct entry *e = a->list[i];
			if (e->kind != K_TIMER && e->kind != K_HISTOGRAM)
				continue;
			free(e->buckets);
			e->buckets = buckets[j++];
			e->v0 = e->v1 = e->v2 = e->v3 = 0;
			e->has_obs = false;
			e->vals.n = 0;
			e->vals.seen = 0;
		}
		free(buckets);
		memcpy(a->bounds, bounds, n_bounds * sizeof(double));
		a->n_bounds = n_bounds;
	}
	a->max_series = opts->max_series;
	if (opts->n_quantiles)
		memcpy(a->quantiles, opts->quantiles, opts->n_quantiles * sizeof(double));
	a->n_quantiles = opts->n_quantiles;
	free_names(a->fast, a->n_fast);
	a->fast = fast;
	a->n_fast = opts->n_fast_gauges;
	for (size_t i = 0; i < a->n; i++) {
		struct entry *e = a->list[i];
		struct vg_series s;
		bool is_fast;
		if (e->kind != K_GAUGE || vg_series_from_key(e->key, e->key_len, &s) != 0)
			continue;
		is_fast = is_fast_name(a, s.name);
		if (is_fast != e->is_fast)
			e->has_obs = false; /* min and max start with the next sample */
		e->is_fast = is_fast;
	}
	if ((state_path == NULL) != (a->state_path == NULL) || (state_path && strcmp(state_path, a->state_path) != 0))
		a->is_dirty = true; /* the totals go to the new file at the next save */
	free(a->state_path);
	a->state_path = state_path;
	return 0;
nomem:
	for (size_t i = 0; buckets && i < n_hist; i++)
		free(buckets[i]);
	free(buckets);
	if (fast)
		free_names(fast, opts->n_fast_gauges);
	free(state_path);
	return vg_err_set(err, VG_ENOMEM, "out of memory");
}

int vg_aggregate_new(const struct vg_aggregate_options *opts, struct vg_aggregate **out, struct vg_err *err)
{
	const double *bounds;
	size_t n_bounds;
	struct vg_aggregate *a;
	struct vg_err rerr;
	int rc;

	*out = NULL;
	if ((rc = check_options(opts, &bounds, &n_bounds, err)) != 0)
		return rc;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	a->max_series = opts->max_series;
	memcpy(a->bounds, bounds, n_bounds * sizeof(double));
	a->n_bounds = n_bounds;
	if (opts->n_quantiles)
		memcpy(a->quantiles, opts->quantiles, opts->n_quantiles * sizeof(double));
	a->n_quantiles = opts->n_quantiles;
	a->rng = 0x9E3779B97F4A7C15ULL;
	vg_buf_init(&a->key);
	vg_buf_init(&a->arena);
	vg_buf_init(&a->raw);
	if (copy_names(opts, &a->fast) != 0)
		goto nomem;
	a->n_fast = opts->n_fast_gauges;
	if (opts->state_path && (a->state_path = strdup(opts->state_path)) == NULL)
		goto nomem;
	if (a->state_path) {
		rc = vg_aggregate_read_state(a->state_path, restore_cb, a, &rerr);
		if (rc != 0 && rc != VG_ENOENT) {
			vg_warn("statsd: ignoring the counters' state: %s; totals start at 0", rerr.msg);
			a->stats.state_errors++;
		} else if (rc == 0) {
			vg_info("statsd: %zu counter totals restored from %s", a->n, a->state_path);
		}
	}
	*out = a;
	return 0;
nomem:
	vg_aggregate_free(a);
	return vg_err_set(err, VG_ENOMEM, "out of memory");
}

void vg_aggregate_free(struct vg_aggregate *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->n; i++) {
		free(a->list[i]->buckets);
		free(a->list[i]->set.slots);
		free(a->list[i]->vals.v);
		free(a->list[i]);
	}
	free_names(a->fast, a->n_fast);
	free(a->list);
	free(a->tab);
	free(a->state_path);
	vg_buf_release(&a->key);
	free(a->aliases);
	vg_buf_release(&a->arena);
	vg_buf_release(&a->raw);
	free(a);
}

void vg_aggregate_get_stats(const struct vg_aggregate *a, struct vg_aggregate_stats *out)
{
	*out = a->stats;
}
