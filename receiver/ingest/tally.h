/*
 * tally.h: per-connection events counted and summarised, not logged one
 * line each. A crowd of peers that never say HELLO, or time out, or are
 * refused, would otherwise write one line apiece.
 *
 * The first event of a kind in an interval is logged as it happens (so a
 * lone failure is seen at once, with its peer and reason); the others are
 * counted, and at the end of the interval one line per kind says how many
 * there were and shows the last. Totals for /metrics are the caller's.
 *
 * Threads: the ingest thread only.
 */
#ifndef VG_TALLY_H
#define VG_TALLY_H

#include <stdbool.h>
#include <stdint.h>

#include "common/log.h"

enum vg_tally_kind {
	VG_TALLY_NO_HELLO,      /* closed before a HELLO arrived */
	VG_TALLY_IDLE,          /* a proven agent sent nothing for too long */
	VG_TALLY_REFUSED,       /* sent an ERROR and closed: bad frame, limit, auth */
	VG_TALLY_FRAME_TIMEOUT, /* a large frame did not arrive in time */
	VG_TALLY_KINDS,
};

#define VG_TALLY_LAST_MAX 200

struct vg_tally {
	int64_t interval_ms;
	int64_t next_ms;                   /* end of this interval */
	uint64_t count[VG_TALLY_KINDS];    /* in this interval */
	char last[VG_TALLY_KINDS][VG_TALLY_LAST_MAX];
};

void vg_tally_init(struct vg_tally *t, int64_t interval_ms);
/* Notes one event; logs it at level when it is the first of its kind in
 * this interval. */
void vg_tally_note(struct vg_tally *t, enum vg_tally_kind kind, enum vg_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Once the interval is over: one line per kind seen more than once. */
void vg_tally_flush(struct vg_tally *t, int64_t now_ms);

#endif
