/*
 * notifier_global.c: the channels' keys of Alertmanager's global: section
 * (smtp_from, smtp_hello, smtp_smarthost, smtp_auth_username,
 * smtp_auth_password, smtp_auth_password_file, smtp_require_tls,
 * pagerduty_url), each the default of the same key of every email or
 * PagerDuty item that does not give it, filled in before the items are
 * prepared, as Alertmanager fills them when it loads its file.
 */
#include "receiver/alert/notifier_int.h"

#include "common/err.h"
#include "receiver/alert/channel_email.h"
#include "receiver/alert/channel_pagerduty.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

static int fill(char **member, const char *global)
{
	return *member || !global ? 0 : vg_conf_set_str(member, global);
}

int nt_global_defaults_apply(struct vg_alerting_config *c, struct vg_err *err)
{
	const struct vg_global_conf *g = &c->global;

	for (size_t ri = 0; ri < c->receivers.n; ri++) {
		struct vg_receiver_conf *rc = (struct vg_receiver_conf *)c->receivers.v + ri;
		for (size_t i = 0; i < rc->email_configs.n; i++) {
			struct vg_email_config *e = (struct vg_email_config *)rc->email_configs.v + i;
			bool has_password = e->auth_password || e->auth_password_file;
			if (fill(&e->from, g->smtp_from) < 0 || fill(&e->hello, g->smtp_hello) < 0 ||
			    fill(&e->smarthost, g->smtp_smarthost) < 0 ||
			    fill(&e->auth_username, g->smtp_auth_username) < 0 ||
			    (!has_password && (fill(&e->auth_password, g->smtp_auth_password) < 0 ||
					       fill(&e->auth_password_file, g->smtp_auth_password_file) < 0)))
				return vg_err_set(err, VG_ENOMEM, "out of memory");
			if (!e->require_tls.is_given && g->smtp_require_tls.is_given)
				e->require_tls = (struct vg_conf_flag){ g->smtp_require_tls.value, true };
		}
		for (size_t i = 0; i < rc->pagerduty_configs.n; i++) {
			struct vg_pagerduty_config *p = (struct vg_pagerduty_config *)rc->pagerduty_configs.v + i;
			if (fill(&p->url, g->pagerduty_url) < 0)
				return vg_err_set(err, VG_ENOMEM, "out of memory");
		}
	}
	return 0;
}
