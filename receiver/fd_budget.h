/*
 * fd_budget.h: the receiver's file descriptors, split between agent
 * connections and HTTP connections so that neither can starve the other.
 *
 * At start the soft RLIMIT_NOFILE is raised to the hard one. A connection
 * limit left at 0 ("auto") is then sized from it: with both automatic,
 * HTTP gets a tenth of what is left after VG_FD_RESERVE (at most 1024),
 * agents the rest; with the agents' limit set, HTTP gets what it leaves
 * (at most 1024). Each side is a cap its listener enforces (ingest.c
 * closes agents past it, http_api.c stops accepting), so a flood on one
 * port leaves the other its share (test_limits.c, test_fd_split_*).
 * Limits set explicitly are kept; when they do not fit, the plan says so
 * and the listeners pause at the descriptor limit instead.
 */
#ifndef VG_FD_BUDGET_H
#define VG_FD_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

/* Descriptors kept for everything but connections: listeners, the WAL's
 * segment and directory, the port file, /proc reads, libevent's own. */
#define VG_FD_RESERVE 64

struct vg_fd_plan {
	uint64_t limit;          /* RLIMIT_NOFILE, soft, after raising it */
	uint64_t agent_conns;    /* the agent connection limit to use */
	uint64_t http_conns;     /* the HTTP connection limit to use */
	bool is_overcommitted;   /* explicit limits exceed the descriptor limit */
};

/* Raises the soft limit and fills plan from the configured limits (0:
 * auto). Never fails: without getrlimit it assumes 1024. */
void vg_fd_budget_plan(uint64_t agent_conns, uint64_t http_conns, struct vg_fd_plan *plan);

#endif
