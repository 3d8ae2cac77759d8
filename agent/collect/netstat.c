/*
 * netstat.c: the netstat collector, node_exporter's, from <proc>/net/netstat,
 * <proc>/net/snmp and <proc>/net/snmp6.
 *
 * netstat and snmp come in pairs of lines, names then values:
 *   Tcp: RtoAlgorithm RtoMin ... CurrEstab ...
 *   Tcp: 1 200 ... 2 ...
 * snmp6 has one "Name value" per line, the protocol the name's head up to
 * its '6' ("Icmp6InMsgs" is Icmp6, InMsgs). Each becomes
 *   node_netstat_<Proto>_<Field>
 * for the fields the ctx's filter keeps (node_exporter's default keeps the
 * error counters, TCP opens/segments/retransmits, listen drops and
 * syncookies, UDP datagrams and buffer errors, IP octets). Values may be
 * negative (Tcp MaxConn is -1).
 * snmp6 is absent when IPv6 is off: it is then skipped; netstat and snmp
 * are required.
 * With a ctx, the parsers remember (vg_netstat_cache, in the ctx) which
 * fields of each header line the filter keeps: a pair whose header line
 * (protocol and names, by its XXH3-128) was seen before has only its
 * values line cut, and only the kept fields' values parsed; an snmp6
 * line whose name (by its place, length and XXH3-64) was seen before is
 * not filtered again. What they emit is the same either way.
 * Invariants: the content is not trusted: a pair whose two lines do not
 * name the same protocol or hold the same number of fields is skipped
 * whole; a name that would not be a valid metric name, or a value that is
 * not a 64-bit decimal, is skipped.
 */
#include "agent/collect/collect.h"
#include "common/err.h"
#include "common/hash.h"
#include "common/series.h"

#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

#define PREFIX "node_netstat_"
#define MAX_FIELDS 512
/* Header lines remembered (netstat has three pairs, snmp eight): a new
 * one beyond takes the oldest place. */
#define CACHE_PAIRS 32
/* snmp6 lines remembered, by their place in the file. */
#define CACHE_LINES 512

/* A field a header line's pair emits: its column, and its name's place in
 * the names (after "Proto:"). */
struct kept_field {
	uint16_t col, off, len;
};

struct pair_entry {
	XXH128_hash_t header; /* of "Proto: names..." */
	bool is_set;
	uint32_t n_fields;
	uint32_t n_kept;
	struct kept_field *kept;
};

enum { LINE_UNKNOWN, LINE_KEPT, LINE_DROPPED };

struct line_entry {
	uint64_t hash; /* XXH3-64 of the name */
	uint32_t len;
	uint8_t kind;
};

struct vg_netstat_cache {
	struct pair_entry pairs[CACHE_PAIRS];
	size_t next;              /* the place the next new header takes */
	struct line_entry *lines; /* snmp6, by line */
	size_t n_lines;
};

struct vg_netstat_cache *vg_netstat_cache_new(void)
{
	return calloc(1, sizeof(struct vg_netstat_cache));
}

void vg_netstat_cache_free(struct vg_netstat_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < CACHE_PAIRS; i++)
		free(c->pairs[i].kept);
	free(c->lines);
	free(c);
}

/* node_netstat_<proto>_<field> into name[VG_SERIES_MAX_NAME + 1]; its
 * length, or 0 when too long. */
static size_t field_name(char *name, struct vg_str proto, struct vg_str field)
{
	const size_t plen = sizeof(PREFIX) - 1, len = plen + proto.len + 1 + field.len;

	if (len > VG_SERIES_MAX_NAME)
		return 0;
	memcpy(name, PREFIX, plen);
	memcpy(name + plen, proto.p, proto.len);
	name[plen + proto.len] = '_';
	memcpy(name + plen + proto.len + 1, field.p, field.len);
	name[len] = '\0';
	return len;
}

static int emit_value(struct vg_sample_sink *sink, const char *name, size_t len, int64_t v,
		      struct vg_err *err)
{
	struct vg_series s;

	s.name = (struct vg_str){ name, (uint32_t)len };
	s.n_labels = 0;
	return vg_collect_emit(sink, &s, (double)v, err);
}

/* One field; *is_kept (when not NULL) says whether the filter keeps it
 * and its name is valid, whatever its value. */
static int emit_field(const struct vg_collect_ctx *ctx, struct vg_str proto, struct vg_str field,
		      struct vg_str value, struct vg_sample_sink *sink, size_t *n_used, bool *is_kept,
		      struct vg_err *err)
{
	char name[VG_SERIES_MAX_NAME + 1];
	const size_t plen = sizeof(PREFIX) - 1;
	size_t len = field_name(name, proto, field);
	bool is_wanted, is_valid;
	int64_t v;

	if (len == 0)
		return 0;
	/* The filter first: it drops most of the few hundred fields, and
	 * once one field was usable a dropped one needs no further look. */
	is_wanted = vg_collect_wants(ctx, VG_FILTER_NETSTAT, name + plen, len - plen);
	if (!is_wanted && *n_used > 0)
		return 0;
	is_valid = vg_metric_name_valid(name, len);
	if (is_kept)
		*is_kept = is_wanted && is_valid;
	if (!is_valid || !vg_collect_parse_i64(value, &v))
		return 0;
	(*n_used)++;
	if (!is_wanted)
		return 0;
	return emit_value(sink, name, len, v, err);
}

/* "Proto:" off the front of line; false if the line has no colon. */
static bool cut_proto(struct vg_str *line, struct vg_str *proto)
{
	const char *colon = memchr(line->p, ':', line->len);

	if (colon == NULL || colon == line->p)
		return false;
	proto->p = line->p;
	proto->len = (uint32_t)(colon - line->p);
	line->len -= proto->len + 1;
	line->p = colon + 1;
	return true;
}

/* One pair: names and values of proto, each without the "Proto:". Each
 * line is cut into fields once. With e, what the filter kept is recorded
 * there. */
static int emit_pair(const struct vg_collect_ctx *ctx, struct pair_entry *e, struct vg_str proto,
		     struct vg_str names, struct vg_str values, struct vg_sample_sink *sink,
		     size_t *n_used, struct vg_err *err)
{
	struct vg_str f[MAX_FIELDS], v[MAX_FIELDS], extra;
	struct kept_field kept[MAX_FIELDS];
	unsigned nn = 0, nv = 0, n_kept = 0;
	const char *names_p = names.p;
	int rc;

	while (nn < MAX_FIELDS && vg_collect_next_field(&names, &f[nn]))
		nn++;
	while (nv < MAX_FIELDS && vg_collect_next_field(&values, &v[nv]))
		nv++;
	/* Unequal counts, or more than MAX_FIELDS: skipped whole. */
	if (nn != nv || vg_collect_next_field(&names, &extra) || vg_collect_next_field(&values, &extra))
		return 0;
	for (unsigned i = 0; i < nn; i++) {
		bool is_kept = false;
		if ((rc = emit_field(ctx, proto, f[i], v[i], sink, n_used, &is_kept, err)) != 0)
			return rc;
		if (is_kept && e) {
			size_t off = (size_t)(f[i].p - names_p);
			if (off > UINT16_MAX || f[i].len > UINT16_MAX)
				e = NULL; /* (no such line): not remembered */
			else
				kept[n_kept++] = (struct kept_field){ (uint16_t)i, (uint16_t)off, (uint16_t)f[i].len };
		}
	}
	if (e) {
		struct kept_field *p = n_kept ? malloc(n_kept * sizeof(*p)) : NULL;
		if (n_kept && p == NULL)
			return 0;
		if (n_kept)
			memcpy(p, kept, n_kept * sizeof(*p));
		free(e->kept);
		e->kept = p;
		e->n_kept = n_kept;
		e->n_fields = nn;
		e->is_set = true;
	}
	return 0;
}

/* A pair whose header line e remembers: the values cut, the kept ones
 * emitted. */
static int emit_known_pair(const struct vg_collect_ctx *ctx, const struct pair_entry *e,
			   struct vg_str proto, struct vg_str names, struct vg_str values,
			   struct vg_sample_sink *sink, size_t *n_used, struct vg_err *err)
{
	struct vg_str v[MAX_FIELDS], extra, cut = values;
	char name[VG_SERIES_MAX_NAME + 1];
	unsigned nv = 0;
	int64_t x;
	int rc;

	while (nv < MAX_FIELDS && vg_collect_next_field(&cut, &v[nv]))
		nv++;
	if (nv != e->n_fields || vg_collect_next_field(&cut, &extra))
		return 0;
	for (uint32_t k = 0; k < e->n_kept; k++) {
		const struct kept_field *kf = &e->kept[k];
		size_t len;
		if (!vg_collect_parse_i64(v[kf->col], &x))
			continue;
		len = field_name(name, proto, (struct vg_str){ names.p + kf->off, kf->len });
		(*n_used)++;
		if ((rc = emit_value(sink, name, len, x, err)) != 0)
			return rc;
	}
	/* No kept field had a value: whether any field is usable at all is
	 * the long way's to say (it emits nothing more). */
	if (*n_used == 0)
		return emit_pair(ctx, NULL, proto, names, values, sink, n_used, err);
	return 0;
}

/* The cache's entry for the header line proto..names, or the place it
 * takes (is_set false). */
static struct pair_entry *pair_lookup(struct vg_netstat_cache *c, struct vg_str proto, struct vg_str names)
{
	XXH128_hash_t h = XXH3_128bits(proto.p, (size_t)(names.p + names.len - proto.p));
	struct pair_entry *e;

	for (size_t i = 0; i < CACHE_PAIRS; i++)
		if (c->pairs[i].is_set && XXH128_isEqual(c->pairs[i].header, h))
			return &c->pairs[i];
	e = &c->pairs[c->next];
	c->next = (c->next + 1) % CACHE_PAIRS;
	e->is_set = false;
	e->header = h;
	return e;
}

int vg_netstat_parse(const struct vg_collect_ctx *ctx, const char *data, size_t len,
		     struct vg_sample_sink *sink, struct vg_err *err)
{
	struct vg_str rest = { data, (uint32_t)len }, line, proto, prev = { "", 0 }, prev_proto = { "", 0 };
	struct vg_netstat_cache *cache = vg_collect_ctx_netstat(ctx);
	bool has_prev = false;
	size_t n_used = 0;
	int rc;

	/* A line pairs with the one before it when both name the same
	 * protocol and that one was not already paired. */
	while (vg_collect_next_line(&rest, &line)) {
		if (!cut_proto(&line, &proto)) {
			has_prev = false;
			continue;
		}
		if (has_prev && vg_str_eq(proto, prev_proto)) {
			struct pair_entry *e = cache ? pair_lookup(cache, prev_proto, prev) : NULL;
			if (e && e->is_set)
				rc = emit_known_pair(ctx, e, proto, prev, line, sink, &n_used, err);
			else
				rc = emit_pair(ctx, e, proto, prev, line, sink, &n_used, err);
			if (rc != 0)
				return rc;
			has_prev = false;
			continue;
		}
		prev = line;
		prev_proto = proto;
		has_prev = true;
	}
	if (n_used == 0)
		return vg_err_set(err, VG_EINVAL, "no usable pair of lines");
	return 0;
}

/* snmp6's entry for line li (< CACHE_LINES), grown to it; NULL without
 * memory. */
static struct line_entry *line_entry(struct vg_netstat_cache *c, size_t li)
{
	if (li >= c->n_lines) {
		size_t n = c->n_lines ? c->n_lines : 64;
		struct line_entry *p;
		while (n <= li)
			n *= 2;
		if ((p = realloc(c->lines, n * sizeof(*p))) == NULL)
			return NULL;
		memset(p + c->n_lines, 0, (n - c->n_lines) * sizeof(*p));
		c->lines = p;
		c->n_lines = n;
	}
	return &c->lines[li];
}

int vg_netstat_snmp6_parse(const struct vg_collect_ctx *ctx, const char *data, size_t len,
			   struct vg_sample_sink *sink, struct vg_err *err)
{
	struct vg_str rest = { data, (uint32_t)len }, line, key, value, extra;
	struct vg_netstat_cache *cache = vg_collect_ctx_netstat(ctx);
	size_t n_used = 0, li = 0;
	int rc;

	for (; vg_collect_next_line(&rest, &line); li++) {
		const char *six;
		struct vg_str proto, field;
		struct line_entry *le = NULL;
		bool is_kept = false;

		if (!vg_collect_next_field(&line, &key))
			continue;
		six = memchr(key.p, '6', key.len);
		if (six == NULL || six + 1 == key.p + key.len)
			continue;
		proto = (struct vg_str){ key.p, (uint32_t)(six + 1 - key.p) };
		field = (struct vg_str){ six + 1, key.len - proto.len };
		if (cache && li < CACHE_LINES && (le = line_entry(cache, li)) != NULL) {
			uint64_t h = XXH3_64bits(key.p, key.len);
			if (le->kind != LINE_UNKNOWN && le->hash == h && le->len == key.len) {
				char name[VG_SERIES_MAX_NAME + 1];
				int64_t v;
				/* dropped once something was usable: the rest of
				 * the line needs no look */
				if (le->kind == LINE_DROPPED && n_used > 0)
					continue;
				if (!vg_collect_next_field(&line, &value) || vg_collect_next_field(&line, &extra))
					continue;
				if (le->kind == LINE_DROPPED) {
					/* only counted: nothing was usable yet */
					if ((rc = emit_field(ctx, proto, field, value, sink, &n_used, NULL, err)) != 0)
						return rc;
					continue;
				}
				if (!vg_collect_parse_i64(value, &v))
					continue;
				n_used++;
				if ((rc = emit_value(sink, name, field_name(name, proto, field), v, err)) != 0)
					return rc;
				continue;
			}
			le->hash = h;
			le->len = key.len;
			le->kind = LINE_UNKNOWN;
		}
		if (!vg_collect_next_field(&line, &value) || vg_collect_next_field(&line, &extra))
			continue;
		if ((rc = emit_field(ctx, proto, field, value, sink, &n_used, &is_kept, err)) != 0)
			return rc;
		if (le)
			le->kind = is_kept ? LINE_KEPT : LINE_DROPPED;
	}
	if (n_used == 0)
		return vg_err_set(err, VG_EINVAL, "no usable line");
	return 0;
}

static int collect_netstat(const struct vg_collect_env *env, struct vg_sample_sink *sink,
			   struct vg_err *err)
{
	int rc;

	if ((rc = vg_collect_read_parse(env, env->proc_path, "net/netstat", vg_netstat_parse, sink, err)) != 0 ||
	    (rc = vg_collect_read_parse(env, env->proc_path, "net/snmp", vg_netstat_parse, sink, err)) != 0)
		return rc;
	rc = vg_collect_read_parse(env, env->proc_path, "net/snmp6", vg_netstat_snmp6_parse, sink, err);
	return rc == VG_ENOENT ? 0 : rc;
}

const struct vg_collector vg_collector_netstat = { "netstat", collect_netstat };
