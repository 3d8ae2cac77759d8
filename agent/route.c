/*
 * route.c: this host's receivers by the ring, one sender each (route.h).
 *
 * Owns the senders and, per sender, the refs of the round being gathered
 * (each sender has its own dictionary, so one sample has one ref per
 * sender). The values of the round are shared.
 */
#include "agent/route.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/err.h"
#include "common/hash.h"
#include "common/ring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/banned.h"

#define MAX_ROUTE 16
/* A series whose form as its source gave it is longer than this is not
 * cached (none of the host collectors' comes near). */
#define RAW_MAX 1024

/*
 * The series cache (route.h, vg_route_section): per section, the series
 * its source gave at each place in the last round, as the XXH3-128 of
 * their form as given (name and labels in the source's order, each with
 * its length), with the refs they got from each sender. Refs are never
 * reused by a sender's dictionary, so they stay right for the senders'
 * lives, which are the route's. A place with no series cached holds the
 * hash 0 (which XXH3-128 gives one form in 2^128). A section's first
 * round only counts its places; the next allocates that many at once
 * (growing by PLACES_STEP after): the cache lives as long as the agent,
 * and a run of reallocations would leave holes in the heap for as long.
 */
#define PLACES_STEP 8
struct section {
	XXH128_hash_t *places;
	uint32_t *refs;  /* places[i]'s refs at refs[i * n + sender] */
	size_t n, cap;   /* places known, allocated */
	size_t hint;     /* the places of its first round, which only counts them */
};

struct vg_route {
	size_t n;
	struct vg_sender *senders[MAX_ROUTE];
	char *addresses[MAX_ROUTE];
	uint32_t *refs[MAX_ROUTE];
	double *values;
	size_t n_round, cap_round;
	bool has_disk_spool;
	struct vg_buf key; /* the key of the series being added */
	/* the cache: sections by id; the current one (NULL: none) and the
	 * place the next sample takes in it; a place vg_route_add fills */
	struct section *sections;
	size_t n_sections;
	struct section *section;
	size_t cursor;
	bool is_pending;
	size_t pending;
	XXH128_hash_t pending_raw;
};

/* dir/<address with '/' as '_'> into out. */
static int sub_dir(const char *dir, const char *address, char *out, size_t size, struct vg_err *err)
{
	int n = snprintf(out, size, "%s/%s", dir, address);

	if (n < 0 || (size_t)n >= size)
		return vg_err_set(err, VG_ELIMIT, "spool path for %s is too long", address);
	for (char *p = out + strlen(dir) + 1; *p; p++)
		if (*p == '/')
			*p = '_';
	return 0;
}

int vg_route_new(const struct vg_route_options *opts, struct vg_route **out, struct vg_err *err)
{
	struct vg_route *r = calloc(1, sizeof(*r));
	struct vg_ring *ring = NULL;
	size_t idx[MAX_ROUTE], n, rf = opts->replication_factor ? opts->replication_factor : 1;
	int rc;

	if (r == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	vg_buf_init(&r->key);
	if (rf > MAX_ROUTE)
		rf = MAX_ROUTE;
	if ((rc = vg_ring_new(opts->receivers, opts->n_receivers, VG_RING_DEFAULT_VNODES, &ring, err)) != 0)
		goto fail;
	n = vg_ring_lookup(ring, opts->hostname, strlen(opts->hostname), rf, idx);
	if (opts->is_list && opts->spool_dir && mkdir(opts->spool_dir, 0700) != 0 && errno != EEXIST) {
		rc = vg_err_set(err, VG_EIO, "spool: cannot create %s: %s", opts->spool_dir, strerror(errno));
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		const char *address = vg_ring_member(ring, idx[i]);
		char host[256], dir[4096];
		uint16_t port;
		struct vg_sender_options so;

		if ((rc = vg_conf_split_hostport(address, host, sizeof(host), &port, err)) != 0)
			goto fail;
		if (opts->spool_dir && opts->is_list && (rc = sub_dir(opts->spool_dir, address, dir, sizeof(dir), err)) != 0)
			goto fail;
		so = (struct vg_sender_options){
			.host = host, .port = port, .agent = opts->hostname, .token = opts->token,
			.queue_max_bytes = opts->queue_max_bytes,
			.spool_dir = opts->spool_dir == NULL ? NULL : opts->is_list ? dir : opts->spool_dir,
			.spool_max_bytes = opts->spool_max_bytes, .backoff_max_ms = opts->backoff_max_ms,
			.ack_timeout_ms = opts->ack_timeout_ms, .tls = opts->tls, .base = opts->base,
			.dns = opts->dns,
		};
		if ((r->addresses[i] = strdup(address)) == NULL) {
			rc = vg_err_set(err, VG_ENOMEM, "out of memory");
			goto fail;
		}
		if ((rc = vg_sender_new(&so, &r->senders[i], err)) != 0)
			goto fail;
		r->n = i + 1;
	}
	r->has_disk_spool = opts->spool_dir != NULL;
	vg_ring_free(ring);
	*out = r;
	return 0;
fail:
	vg_ring_free(ring);
	vg_route_free(r);
	return rc;
}

void vg_route_free(struct vg_route *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < MAX_ROUTE; i++) {
		vg_sender_free(r->senders[i]);
		free(r->addresses[i]);
		free(r->refs[i]);
	}
	free(r->values);
	vg_buf_release(&r->key);
	vg_route_forget(r);
	free(r->sections);
	free(r);
}

/* The current section's first round ends: its places are counted. */
static void section_end(struct vg_route *r)
{
	if (r->section && r->section->cap == 0)
		r->section->hint = r->cursor;
	r->section = NULL;
}

void vg_route_begin(struct vg_route *r)
{
	section_end(r);
	r->n_round = 0;
	r->is_pending = false;
}

void vg_route_section(struct vg_route *r, size_t id)
{
	struct section *sec;

	section_end(r);
	r->is_pending = false;
	if (id >= r->n_sections) {
		struct section *p = realloc(r->sections, (id + 1) * sizeof(*p));
		if (p == NULL)
			return; /* no cache for it: every sample the long way */
		memset(p + r->n_sections, 0, (id + 1 - r->n_sections) * sizeof(*p));
		r->sections = p;
		r->n_sections = id + 1;
	}
	sec = &r->sections[id];
	if (sec->cap == 0 && sec->hint > 0) {
		sec->places = calloc(sec->hint, sizeof(*sec->places));
		sec->refs = malloc(sec->hint * r->n * sizeof(*sec->refs));
		if (sec->places == NULL || sec->refs == NULL) {
			free(sec->places);
			free(sec->refs);
			*sec = (struct section){ 0 };
			return;
		}
		sec->cap = sec->hint;
	}
	r->section = sec;
	r->cursor = 0;
}

void vg_route_forget(struct vg_route *r)
{
	for (size_t i = 0; i < r->n_sections; i++) {
		free(r->sections[i].places);
		free(r->sections[i].refs);
		r->sections[i] = (struct section){ 0 };
	}
	r->section = NULL;
	r->is_pending = false;
}

/* The round's arrays hold one more sample. */
static int round_reserve(struct vg_route *r)
{
	if (r->n_round == r->cap_round) {
		size_t cap = r->cap_round ? r->cap_round * 2 : 512;
		double *v = realloc(r->values, cap * sizeof(*v));
		if (v == NULL)
			return VG_ENOMEM;
		r->values = v;
		for (size_t i = 0; i < r->n; i++) {
			uint32_t *p = realloc(r->refs[i], cap * sizeof(*p));
			if (p == NULL)
				return VG_ENOMEM;
			r->refs[i] = p;
		}
		r->cap_round = cap;
	}
	return 0;
}

/* s's form as given, each string with its length before it, into out;
 * its length, or 0 when over RAW_MAX. */
static size_t raw_form(const struct vg_series *s, uint8_t *out)
{
	size_t n = 0;

#define PUT(str)                                              \
	do {                                                   \
		if (n + 4 + (str).len > RAW_MAX)               \
			return 0;                              \
		memcpy(out + n, &(str).len, 4);                \
		if ((str).len)                                 \
			memcpy(out + n + 4, (str).p, (str).len); \
		n += 4 + (str).len;                            \
	} while (0)
	PUT(s->name);
	for (uint32_t i = 0; i < s->n_labels; i++) {
		PUT(s->labels[i].name);
		PUT(s->labels[i].value);
	}
#undef PUT
	return n;
}

int vg_route_add_known(struct vg_route *r, const struct vg_series *s, double value)
{
	struct section *sec = r->section;
	uint8_t raw[RAW_MAX];
	XXH128_hash_t h;
	size_t len, place;
	int rc;

	r->is_pending = false;
	if (sec == NULL || s->n_labels > VG_SERIES_MAX_LABELS || (len = raw_form(s, raw)) == 0)
		return VG_ENOENT;
	place = r->cursor++;
	if (sec->cap == 0)
		return VG_ENOENT; /* its first round: counted only */
	h = XXH3_128bits(raw, len);
	if (place < sec->n && XXH128_isEqual(sec->places[place], h)) {
		if ((rc = round_reserve(r)) != 0)
			return rc;
		for (size_t i = 0; i < r->n; i++)
			r->refs[i][r->n_round] = sec->refs[place * r->n + i];
		r->values[r->n_round++] = value;
		return 0;
	}
	r->is_pending = true;
	r->pending = place;
	r->pending_raw = h;
	return VG_ENOENT;
}

/* Remembers the refs the sample just added got, at the pending place. */
static void cache_pending(struct vg_route *r)
{
	struct section *sec = r->section;
	size_t place = r->pending;

	r->is_pending = false;
	if (place >= sec->cap) {
		size_t cap = (place / PLACES_STEP + 1) * PLACES_STEP;
		XXH128_hash_t *p;
		uint32_t *refs;
		if ((p = realloc(sec->places, cap * sizeof(*p))) == NULL)
			return;
		sec->places = p;
		if ((refs = realloc(sec->refs, cap * r->n * sizeof(*refs))) == NULL)
			return;
		sec->refs = refs;
		sec->cap = cap;
	}
	while (sec->n <= place)
		sec->places[sec->n++] = (XXH128_hash_t){ 0, 0 };
	sec->places[place] = r->pending_raw;
	for (size_t i = 0; i < r->n; i++)
		sec->refs[place * r->n + i] = r->refs[i][r->n_round - 1];
}

int vg_route_add(struct vg_route *r, const struct vg_series *s, double value)
{
	uint64_t hash;
	int rc;

	if ((rc = round_reserve(r)) != 0)
		return rc;
	vg_buf_reset(&r->key);
	vg_series_key(s, &r->key);
	if (vg_buf_failed(&r->key))
		return VG_ENOMEM;
	hash = vg_series_key_hash(r->key.data, r->key.len);
	for (size_t i = 0; i < r->n; i++)
		if ((rc = vg_sender_ref(r->senders[i], r->key.data, r->key.len, hash,
					&r->refs[i][r->n_round])) != 0)
			return rc;
	r->values[r->n_round++] = value;
	if (r->is_pending)
		cache_pending(r);
	return 0;
}

int vg_route_submit(struct vg_route *r, int64_t ts_ms, struct vg_err *err)
{
	int first = 0;

	section_end(r);
	for (size_t i = 0; i < r->n; i++) {
		struct vg_err e;
		int rc = vg_sender_submit(r->senders[i], ts_ms, r->n_round, r->refs[i], r->values, &e);
		if (rc != 0 && first == 0) {
			first = rc;
			vg_err_set(err, rc, "receiver %s: %s", r->addresses[i], e.msg);
		}
	}
	return first;
}

size_t vg_route_round_samples(const struct vg_route *r)
{
	return r->n_round;
}

size_t vg_route_size(const struct vg_route *r)
{
	return r->n;
}

const char *vg_route_receiver(const struct vg_route *r, size_t i)
{
	return i < r->n ? r->addresses[i] : NULL;
}

void vg_route_get_stats(const struct vg_route *r, size_t i, struct vg_sender_stats *out)
{
	vg_sender_get_stats(r->senders[i], out);
}

bool vg_route_is_idle(const struct vg_route *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (!vg_sender_is_idle(r->senders[i]))
			return false;
	return true;
}

bool vg_route_has_disk_spool(const struct vg_route *r)
{
	return r->has_disk_spool;
}
