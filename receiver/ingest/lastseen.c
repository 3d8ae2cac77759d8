/*
 * lastseen.c: the agents' last accepted batch (lastseen.h).
 *
 * A dense array of entries and an open-addressing index over it (linear
 * probing on the agent hash, slots hold entry index + 1, 0 free, at most
 * half full). Entries leave only in the snapshot, which then compacts the
 * array and rebuilds the index: a note is one probe, with no deletion
 * path to get wrong.
 */
#include "receiver/ingest/lastseen.h"

#include "common/err.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

struct entry {
	uint64_t hash;
	int64_t last_ms;
	char *name;
};

struct vg_lastseen {
	pthread_mutex_t mu;
	uint64_t max_agents;
	int64_t retention_ms;
	struct entry *v; /* mu, as everything below */
	size_t n, cap;
	uint32_t *slots;
	size_t n_slots; /* a power of two, >= 2 * cap */
	uint64_t untracked;
};

int vg_lastseen_new(const struct vg_lastseen_options *opts, struct vg_lastseen **out, struct vg_err *err)
{
	struct vg_lastseen *ls = calloc(1, sizeof(*ls));

	if (ls == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	pthread_mutex_init(&ls->mu, NULL);
	ls->max_agents = opts->max_agents ? opts->max_agents : VG_LASTSEEN_DEFAULT_MAX_AGENTS;
	ls->retention_ms = opts->retention_ms;
	*out = ls;
	return 0;
}

void vg_lastseen_free(struct vg_lastseen *ls)
{
	if (ls == NULL)
		return;
	for (size_t i = 0; i < ls->n; i++)
		free(ls->v[i].name);
	free(ls->v);
	free(ls->slots);
	pthread_mutex_destroy(&ls->mu);
	free(ls);
}

/* The slot of hash: where it is, or the free slot where it would go. */
static size_t probe(const struct vg_lastseen *ls, uint64_t hash)
{
	size_t mask = ls->n_slots - 1, i = (size_t)hash & mask;

	while (ls->slots[i] != 0 && ls->v[ls->slots[i] - 1].hash != hash)
		i = (i + 1) & mask;
	return i;
}

static void reindex(struct vg_lastseen *ls)
{
	memset(ls->slots, 0, ls->n_slots * sizeof(*ls->slots));
	for (size_t i = 0; i < ls->n; i++)
		ls->slots[probe(ls, ls->v[i].hash)] = (uint32_t)(i + 1);
}

/* Room for one more entry; VG_ENOMEM leaves the table as it was. */
static int reserve(struct vg_lastseen *ls)
{
	size_t cap, n_slots;
	struct entry *v;
	uint32_t *slots;

	if (ls->n < ls->cap)
		return 0;
	cap = ls->cap ? ls->cap * 2 : 64;
	n_slots = cap * 2;
	if ((v = realloc(ls->v, cap * sizeof(*v))) == NULL)
		return VG_ENOMEM;
	ls->v = v;
	if ((slots = calloc(n_slots, sizeof(*slots))) == NULL)
		return VG_ENOMEM;
	free(ls->slots);
	ls->slots = slots;
	ls->n_slots = n_slots;
	ls->cap = cap;
	reindex(ls);
	return 0;
}

void vg_lastseen_note(struct vg_lastseen *ls, uint64_t hash, const char *name, int64_t now_ms)
{
	size_t i;

	pthread_mutex_lock(&ls->mu);
	if (ls->n_slots > 0 && ls->slots[i = probe(ls, hash)] != 0) {
		struct entry *e = &ls->v[ls->slots[i] - 1];
		if (now_ms > e->last_ms)
			e->last_ms = now_ms;
		goto out;
	}
	if (ls->n >= ls->max_agents || reserve(ls) != 0) {
		ls->untracked++;
		goto out;
	}
	{
		char *copy = strdup(name);
		if (copy == NULL) {
			ls->untracked++;
			goto out;
		}
		ls->v[ls->n] = (struct entry){ hash, now_ms, copy };
		ls->slots[probe(ls, hash)] = (uint32_t)(ls->n + 1);
		ls->n++;
	}
out:
	pthread_mutex_unlock(&ls->mu);
}

static int snap_reserve(struct vg_lastseen_snap *snap, size_t n)
{
	size_t *off;
	int64_t *ms;

	if (n <= snap->cap)
		return 0;
	if ((off = realloc(snap->name_off, n * sizeof(*off))) == NULL)
		return VG_ENOMEM;
	snap->name_off = off;
	if ((ms = realloc(snap->last_ms, n * sizeof(*ms))) == NULL)
		return VG_ENOMEM;
	snap->last_ms = ms;
	snap->cap = n;
	return 0;
}

int vg_lastseen_snapshot(struct vg_lastseen *ls, int64_t now_ms, struct vg_lastseen_snap *snap)
{
	size_t kept = 0;
	int rc = 0;

	pthread_mutex_lock(&ls->mu);
	for (size_t i = 0; i < ls->n; i++) {
		if (now_ms - ls->v[i].last_ms > ls->retention_ms) {
			free(ls->v[i].name);
			continue;
		}
		ls->v[kept++] = ls->v[i];
	}
	if (kept != ls->n) {
		ls->n = kept;
		reindex(ls);
	}
	vg_buf_reset(&snap->names);
	snap->n = 0;
	if ((rc = snap_reserve(snap, ls->n)) == 0) {
		for (size_t i = 0; i < ls->n; i++) {
			snap->name_off[i] = snap->names.len;
			vg_buf_append(&snap->names, ls->v[i].name, strlen(ls->v[i].name) + 1);
			snap->last_ms[i] = ls->v[i].last_ms;
		}
		snap->n = ls->n;
		if (vg_buf_failed(&snap->names)) {
			snap->n = 0;
			rc = VG_ENOMEM;
		}
	}
	pthread_mutex_unlock(&ls->mu);
	return rc;
}

void vg_lastseen_snap_release(struct vg_lastseen_snap *snap)
{
	vg_buf_release(&snap->names);
	free(snap->name_off);
	free(snap->last_ms);
	memset(snap, 0, sizeof(*snap));
}

uint64_t vg_lastseen_untracked(struct vg_lastseen *ls)
{
	uint64_t n;

	pthread_mutex_lock(&ls->mu);
	n = ls->untracked;
	pthread_mutex_unlock(&ls->mu);
	return n;
}

void vg_lastseen_render(struct vg_lastseen *ls, struct vg_buf *out)
{
	size_t n;
	uint64_t untracked;

	pthread_mutex_lock(&ls->mu);
	n = ls->n;
	untracked = ls->untracked;
	pthread_mutex_unlock(&ls->mu);
	vg_buf_printf(out,
		      "# HELP vigil_receiver_last_seen_agents Agents whose last accepted batch is within "
		      "agent_last_seen_retention (each has a vigil_agent_last_seen_timestamp_seconds series).\n"
		      "# TYPE vigil_receiver_last_seen_agents gauge\nvigil_receiver_last_seen_agents %zu\n"
		      "# HELP vigil_receiver_last_seen_untracked_total Batches of agents not given a last-seen "
		      "series because the table was full (agent_last_seen_max_agents).\n"
		      "# TYPE vigil_receiver_last_seen_untracked_total counter\n"
		      "vigil_receiver_last_seen_untracked_total %llu\n",
		      n, (unsigned long long)untracked);
}
