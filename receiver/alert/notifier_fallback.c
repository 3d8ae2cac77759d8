/*
 * notifier_fallback.c: a failing channel is reported through another one.
 *
 * The default rule VigilNotificationsFailing (vigil-rules(5)) labels its
 * alert failing_receiver="<receiver>", the receiver whose deliveries keep
 * failing. Routed as any alert, it could match only routes that lead to
 * that receiver (a catch-all route, a severity route to the pager that is
 * down) and be queued where it cannot arrive. So the routes leading there
 * are dropped from its list; if none is left it takes the root route,
 * unless the root's receiver is the failing one too, which is logged once
 * (then at growing intervals): the configuration has no other way out
 * (vigil-receiver.yaml(5), "A failing receiver").
 */
#include "receiver/alert/notifier_int.h"

#include "common/log.h"

#include <string.h>

#include "common/banned.h"

size_t nt_routes_avoid_failing(struct vg_notifier *n, const struct nt_alert *a, const struct nt_route **routes,
			       size_t k)
{
	const char *failing = nt_label(&a->a.labels, NT_FAILING_RECEIVER_LABEL);
	size_t kept = 0;

	if (failing[0] == '\0')
		return k;
	for (size_t i = 0; i < k; i++)
		if (strcmp(routes[i]->receiver->name, failing) != 0)
			routes[kept++] = routes[i];
	if (kept > 0 || k == 0)
		return kept;
	if (strcmp(n->tree->root.receiver->name, failing) != 0) {
		routes[0] = &n->tree->root;
		return 1;
	}
	vg_log_complain(&n->no_fallback, VG_LOG_WARN,
			"notifier: alert %s about failing receiver %s has no other receiver to go to (route it "
			"elsewhere, see vigil-receiver.yaml(5))",
			nt_label(&a->a.labels, "alertname"), failing);
	return 0;
}
