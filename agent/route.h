/*
 * route.h: where this host's batches go: the replication_factor receivers
 * the ring (common/ring.h, docs/ring.md) gives this host's identity, one
 * sender (sender.h) each, with its own dictionary and its own spool. A
 * receiver that is down keeps its batches in its spool, the others carry
 * on; it gets them when it comes back.
 *
 * A round: vg_route_begin, vg_route_add per sample, vg_route_submit. Each
 * sample goes to every sender of the route.
 *
 * Spools: with one receiver given as server (no receivers list) the spool
 * directory is used as it is; with a receivers list each chosen receiver
 * has the subdirectory named by its address ('/' written '_'), so a
 * change of the list keeps every receiver's batches apart.
 */
#ifndef VG_ROUTE_H
#define VG_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/sender.h"
#include "common/series.h"

struct event_base;
struct evdns_base;
struct vg_err;
struct vg_tls_client_options;

struct vg_route_options {
	const char *const *receivers; /* "host:port" each, checked */
	size_t n_receivers;
	bool is_list;                 /* given as a receivers list: spool subdirectories */
	size_t replication_factor;    /* >= 1; more than n_receivers means all */
	const char *hostname;         /* the host's identity: the ring's key, HELLO's agent */
	const char *token;
	const char *spool_dir;        /* NULL: memory only */
	uint64_t spool_max_bytes;     /* per receiver */
	uint64_t queue_max_bytes;
	int64_t backoff_max_ms, ack_timeout_ms;
	const struct vg_tls_client_options *tls; /* NULL: plain TCP */
	struct event_base *base;
	/* The resolver the senders share; borrowed, and it must outlive
	 * the loop's last turn after vg_route_free: a request the senders
	 * cancel is answered (ignored) from the loop later. */
	struct evdns_base *dns;
};

struct vg_route;

int vg_route_new(const struct vg_route_options *opts, struct vg_route **out, struct vg_err *err);
void vg_route_free(struct vg_route *r);

void vg_route_begin(struct vg_route *r);
/* s canonical; its key and hash are made once for all the senders.
 * VG_ENOMEM, VG_ELIMIT. */
int vg_route_add(struct vg_route *r, const struct vg_series *s, double value);

/*
 * The series cache, so that a steady round only writes values. A round's
 * samples may come in sections (a collector each), vg_route_section(r, id)
 * starting section id; the route remembers, per section and place (the
 * sample's order within its section), the series given there, as the
 * source gave it (before the caller adds its labels and canonicalizes),
 * with the refs it got. vg_route_add_known(s) with s as the source gave it
 * adds the sample and returns 0 when the same series had that place in
 * the section the last time; otherwise VG_ENOENT (and the place is kept:
 * the caller completes and canonicalizes s and gives it to vg_route_add,
 * which caches it there), or VG_ENOMEM. Outside a section (after
 * vg_route_begin, before any vg_route_section) nothing is cached.
 * vg_route_forget drops the cache: the caller's labels changed.
 */
void vg_route_section(struct vg_route *r, size_t id);
int vg_route_add_known(struct vg_route *r, const struct vg_series *s, double value);
void vg_route_forget(struct vg_route *r);
/* Submits the round to every sender; the first error is returned, the
 * other senders still get it. */
int vg_route_submit(struct vg_route *r, int64_t ts_ms, struct vg_err *err);
/* Samples in the round so far. */
size_t vg_route_round_samples(const struct vg_route *r);

size_t vg_route_size(const struct vg_route *r);
const char *vg_route_receiver(const struct vg_route *r, size_t i);
void vg_route_get_stats(const struct vg_route *r, size_t i, struct vg_sender_stats *out);
/* Whether every sender's batches are acknowledged. */
bool vg_route_is_idle(const struct vg_route *r);
bool vg_route_has_disk_spool(const struct vg_route *r);

#endif
