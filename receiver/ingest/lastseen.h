/*
 * lastseen.h: when the last batch of each agent was accepted, for the
 * series vigil_agent_last_seen_timestamp_seconds{instance="<agent>"} that
 * the receiver writes about itself (receiver/selfscrape.h). A push system
 * has no `up` series: an agent that stops sending shows as a last-seen
 * time that grows old, which the default rule VigilAgentSilent watches.
 *
 * Agents are keyed by the XXH3 of their HELLO identity (as ingest's retry
 * table and limits.h key them), the identity kept as the label value.
 *
 * Invariants:
 *  - An entry lives until its last batch is older than retention_ms; the
 *    snapshot that finds it so drops it, and its series ends (goes stale)
 *    then. A disconnected agent is therefore visible as silent for the
 *    whole retention.
 *  - At most max_agents entries: memory is bounded (measured: 9 MB for
 *    100,000 agents of 30-character names, 6 MB more for a snapshot). An
 *    agent beyond the bound is not tracked until an entry expires, and
 *    each of its batches is counted (vg_lastseen_untracked).
 *
 * Threads: vg_lastseen_note runs on the ingest thread for every accepted
 * batch; vg_lastseen_snapshot on the self-scrape's thread. One mutex
 * guards everything, held for a hash lookup or a copy, never while the
 * caller works on what it copied.
 */
#ifndef VG_LASTSEEN_H
#define VG_LASTSEEN_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

struct vg_err;

/* The bound when the options give none. */
#define VG_LASTSEEN_DEFAULT_MAX_AGENTS 131072

struct vg_lastseen_options {
	uint64_t max_agents;  /* 0: VG_LASTSEEN_DEFAULT_MAX_AGENTS */
	int64_t retention_ms; /* > 0 */
};

struct vg_lastseen;

int vg_lastseen_new(const struct vg_lastseen_options *opts, struct vg_lastseen **out, struct vg_err *err);
void vg_lastseen_free(struct vg_lastseen *ls);

/* Agent name (hash: XXH3 of it, never 0) had a batch accepted at now_ms. */
void vg_lastseen_note(struct vg_lastseen *ls, uint64_t hash, const char *name, int64_t now_ms);

/* A copy of the table, made by vg_lastseen_snapshot and reused across
 * calls: names[i] (NUL-terminated, in the names buffer at name_off[i]) had
 * its last batch at last_ms[i]. Release with vg_lastseen_snap_release. */
struct vg_lastseen_snap {
	struct vg_buf names;
	size_t *name_off;
	int64_t *last_ms;
	size_t n, cap;
};

/* Drops the entries older than now_ms - retention_ms, then copies the
 * rest into snap (replacing what it held). 0 or VG_ENOMEM. */
int vg_lastseen_snapshot(struct vg_lastseen *ls, int64_t now_ms, struct vg_lastseen_snap *snap);
void vg_lastseen_snap_release(struct vg_lastseen_snap *snap);
static inline const char *vg_lastseen_snap_name(const struct vg_lastseen_snap *snap, size_t i)
{
	return (const char *)snap->names.data + snap->name_off[i];
}

/* Batches of agents not tracked because the table was full (a total). */
uint64_t vg_lastseen_untracked(struct vg_lastseen *ls);
/* vigil_receiver_last_seen_agents (entries now) and
 * vigil_receiver_last_seen_untracked_total, for /metrics. Any thread. */
void vg_lastseen_render(struct vg_lastseen *ls, struct vg_buf *out);

#endif
