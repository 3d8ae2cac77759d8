/*
 * tally.c: the summaries of tally.h.
 */
#include "receiver/ingest/tally.h"
#include "common/clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/banned.h"

static const char *const what[VG_TALLY_KINDS] = {
	"agent connections closed without a HELLO",
	"agent connections closed idle",
	"agent connections refused with an ERROR",
	"agent connections closed for a frame that did not arrive in time",
};

void vg_tally_init(struct vg_tally *t, int64_t interval_ms)
{
	memset(t, 0, sizeof(*t));
	t->interval_ms = interval_ms;
	t->next_ms = vg_clock_mono_ms() + interval_ms;
}

void vg_tally_note(struct vg_tally *t, enum vg_tally_kind kind, enum vg_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->last[kind], sizeof(t->last[kind]), fmt, ap);
	va_end(ap);
	if (t->count[kind]++ == 0 && vg_log_enabled(level))
		vg_log(level, "%s", t->last[kind]);
}

void vg_tally_flush(struct vg_tally *t, int64_t now_ms)
{
	if (now_ms < t->next_ms)
		return;
	for (int k = 0; k < VG_TALLY_KINDS; k++) {
		if (t->count[k] > 1)
			vg_info("%llu %s in the last %lld s (the first was logged; the last: %s)",
				(unsigned long long)t->count[k], what[k], (long long)(t->interval_ms / 1000),
				t->last[k]);
		t->count[k] = 0;
	}
	t->next_ms = now_ms + t->interval_ms;
}
