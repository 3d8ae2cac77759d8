/*
 * budget.h: the memory budget for buffered agent input, shared by every
 * agent connection of one ingest loop.
 *
 * Each connection is charged what it buffers, and a connection whose next
 * frame is larger than its own allowance (agent_connection_buffer) must
 * first be granted the whole frame. Grants may use at most three quarters
 * of the budget, so that ordinary small batches always find room while
 * large frames wait their turn: a crowd of peers each holding most of an
 * 8 MiB frame costs at most the budget, and a calm agent keeps going.
 * When a charge or a grant does not fit, the caller stops reading from
 * that socket (backpressure) until vg_budget_release makes room.
 *
 * Invariants: used <= limit + (what reads in flight may overshoot, at most
 * one allowance per connection); granted <= limit * 3 / 4; both are sums
 * over live connections of what they were charged and granted.
 *
 * Threads: the ingest thread only; the counters that /metrics shows are
 * copied to vg_stats by the caller.
 */
#ifndef VG_BUDGET_H
#define VG_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

struct vg_budget {
	uint64_t limit;   /* bytes, all connections */
	uint64_t used;    /* charged now: max(buffered, grant) per connection */
	uint64_t granted; /* of which grants for large frames */
};

void vg_budget_init(struct vg_budget *b, uint64_t limit);
/* Moves a connection's charge from *charged to bytes (either way). */
void vg_budget_charge(struct vg_budget *b, uint64_t *charged, uint64_t bytes);
/* Whether a small charge may grow: used is below the limit. */
bool vg_budget_has_room(const struct vg_budget *b);
/* Grants a large frame of bytes to a connection that holds *grant (0 or a
 * smaller grant): true and *grant = bytes, or false and nothing changes. */
bool vg_budget_grant(struct vg_budget *b, uint64_t *grant, uint64_t bytes);
/* Returns a connection's grant (sets *grant to 0). */
void vg_budget_release(struct vg_budget *b, uint64_t *grant);

#endif
