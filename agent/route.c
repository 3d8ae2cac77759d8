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
#include "common/ring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/banned.h"

#define MAX_ROUTE 16

struct vg_route {
	size_t n;
	struct vg_sender *senders[MAX_ROUTE];
	char *addresses[MAX_ROUTE];
	uint32_t *refs[MAX_ROUTE];
	double *values;
	size_t n_round, cap_round;
	bool has_disk_spool;
	struct vg_buf key; /* the key of the series being added */
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
	free(r);
}

void vg_route_begin(struct vg_route *r)
{
	r->n_round = 0;
}

int vg_route_add(struct vg_route *r, const struct vg_series *s, double value)
{
	uint64_t hash;
	int rc;

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
	return 0;
}

int vg_route_submit(struct vg_route *r, int64_t ts_ms, struct vg_err *err)
{
	int first = 0;

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
