/*
 * notifier_escalate.c: escalation per route (the escalate: key, Vigil's
 * own; Alertmanager has none). A step {after, receiver} notifies its
 * receiver of each alert of the route that has fired for `after` since
 * its startsAt and is neither acknowledged, silenced nor inhibited. Each
 * step is a stream of its own in the notification log, under the group
 * key followed by ":escalate[<step>]", with no repeats: an alert is
 * escalated once per incident and step (the log says so across restarts),
 * and its resolve follows as the dedup stage decides.
 *
 * Invariant: a route's steps are sorted by after, each names a receiver
 * of the tree.
 */
#include "receiver/alert/notifier_int.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

void nt_escalate_group(struct vg_notifier *n, struct nt_group *g, struct nt_alert **all, size_t n_all,
		       const bool *is_firing, const bool *is_muted, const bool *is_acked, int64_t now)
{
	const struct nt_route *r = g->route;
	struct vg_buf key = VG_BUF_INIT;
	bool *is_left_out;
	int64_t next = 0;

	g->next_escalate_ms = 0;
	if (r->n_escalate == 0)
		return;
	is_left_out = calloc(n_all + 1, sizeof(bool));
	if (is_left_out == NULL) {
		vg_log(VG_LOG_ERROR, "notifier: out of memory; group %s not escalated", g->key);
		return;
	}
	for (size_t k = 0; k < r->n_escalate; k++) {
		const struct nt_escalate_step *st = &r->escalate[k];
		struct nt_stream s = { st->receiver, NULL, INT64_MAX };

		vg_buf_reset(&key);
		vg_buf_printf(&key, "%s:escalate[%zu]", g->key, k);
		if (vg_buf_failed(&key)) {
			vg_log(VG_LOG_ERROR, "notifier: out of memory; group %s not escalated", g->key);
			break;
		}
		s.key = vg_buf_cstr(&key);
		for (size_t i = 0; i < n_all; i++) {
			int64_t due = all[i]->a.starts_at_ms + st->after_ms;
			if (is_firing[i] && !is_muted[i] && !is_acked[i] && due > now && (next == 0 || due < next))
				next = due;
		}
		for (uint32_t ii = 0; ii < st->receiver->n; ii++) {
			bool has_any = false;

			/* The stream holds the alerts due now and those it
			 * notified before (for their resolve); no others. */
			for (size_t i = 0; i < n_all; i++) {
				const struct nt_nlog_entry *e = nt_nlog_find(n, s.key, st->receiver->name, ii, all[i]->fp);
				bool is_due = is_firing[i] && !is_muted[i] && !is_acked[i] &&
					      now >= all[i]->a.starts_at_ms + st->after_ms;
				is_left_out[i] = !(is_due || (e && e->is_firing));
				has_any = has_any || !is_left_out[i];
			}
			if (has_any)
				nt_flush_integration(n, g, &s, ii, all, n_all, is_firing, is_left_out, is_acked, now);
		}
	}
	g->next_escalate_ms = next;
	free(is_left_out);
	vg_buf_release(&key);
}
