/*
 * notifier_config.c: the alerting: section of receiver.yaml in
 * Alertmanager's shape (notifier.h): its field tables, the checks that
 * name file and line, and the cross-checks after loading.
 *
 * The channels plug in here: a member in struct vg_receiver_conf,
 * one line in receiver_fields (the <kind>_configs list) and one line in
 * nt_kinds (the operations and where the list and its send_resolved and
 * max_alerts sit). Nothing else in the notifier names a channel.
 */
#include "receiver/alert/notifier.h"

#include "common/clock.h"
#include "common/err.h"
#include "common/matchers.h"
#include "receiver/alert/channel_alertmanager.h"
#include "receiver/alert/channel_email.h"
#include "receiver/alert/channel_pagerduty.h"
#include "receiver/alert/channel_sms.h"
#include "receiver/alert/channel_webhook.h"
#include "receiver/alert/notifier_int.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

const struct nt_kind nt_kinds[] = {
	{ &vg_channel_webhook, offsetof(struct vg_receiver_conf, webhook_configs), sizeof(struct vg_webhook_config),
	  offsetof(struct vg_webhook_config, send_resolved), offsetof(struct vg_webhook_config, max_alerts) },
	/* New kinds go at the end: the position is the integration index
	 * stored in the queue and the notification log. */
	{ &vg_channel_email, offsetof(struct vg_receiver_conf, email_configs), sizeof(struct vg_email_config),
	  offsetof(struct vg_email_config, item.send_resolved), SIZE_MAX },
	{ &vg_channel_pagerduty, offsetof(struct vg_receiver_conf, pagerduty_configs),
	  sizeof(struct vg_pagerduty_config), offsetof(struct vg_pagerduty_config, item.send_resolved), SIZE_MAX },
	{ &vg_channel_sms, offsetof(struct vg_receiver_conf, sms_configs), sizeof(struct vg_sms_config),
	  offsetof(struct vg_sms_config, item.send_resolved), SIZE_MAX },
	{ &vg_channel_alertmanager, offsetof(struct vg_receiver_conf, alertmanager_configs),
	  sizeof(struct vg_alertmanager_config), offsetof(struct vg_alertmanager_config, item.send_resolved),
	  SIZE_MAX },
};
const size_t nt_n_kinds = sizeof(nt_kinds) / sizeof(nt_kinds[0]);

/* --- checks (the loader prefixes file, line and key) ------------------- */

static int check_duration_text(const void *member, struct vg_err *err)
{
	int64_t ms;

	return vg_duration_parse(*(char *const *)member, &ms, err);
}

static int check_matchers(const void *member, struct vg_err *err)
{
	const struct vg_conf_strlist *l = member;
	struct vg_selector sel = VG_SELECTOR_INIT;
	int r = nt_matchers_compile(l, &sel, err);

	vg_selector_release(&sel);
	return r;
}

static int check_time_of_day(const void *member, struct vg_err *err)
{
	const char *s = *(char *const *)member;
	int h, m;
	char end;

	if (sscanf(s, "%2d:%2d%c", &h, &m, &end) != 2 || strlen(s) != 5 || h < 0 || h > 24 || m < 0 || m > 59 ||
	    (h == 24 && m != 0))
		return vg_err_set(err, VG_EINVAL, "expects a time of day HH:MM (00:00 to 24:00)");
	return 0;
}

static int check_location(const void *member, struct vg_err *err)
{
	const char *s = *(char *const *)member;

	if (strcmp(s, "UTC") != 0)
		return vg_err_set(err, VG_EINVAL, "only UTC is supported as a location");
	return 0;
}

/* Each list of a time interval item is parsed on its own by nt_ti_parse
 * with the others empty, so its error lands on its own line. */
static int check_ti_list(const void *member, size_t offset, struct vg_err *err)
{
	struct vg_time_interval_item one;
	struct nt_ti_item t;
	int r;

	memset(&one, 0, sizeof(one));
	*(struct vg_conf_strlist *)((char *)&one + offset) = *(const struct vg_conf_strlist *)member;
	r = nt_ti_parse(&one, &t, err);
	if (r == 0)
		nt_ti_release(&t);
	return r;
}

static int check_weekdays(const void *m, struct vg_err *err)
{
	return check_ti_list(m, offsetof(struct vg_time_interval_item, weekdays), err);
}
static int check_days(const void *m, struct vg_err *err)
{
	return check_ti_list(m, offsetof(struct vg_time_interval_item, days_of_month), err);
}
static int check_months(const void *m, struct vg_err *err)
{
	return check_ti_list(m, offsetof(struct vg_time_interval_item, months), err);
}
static int check_years(const void *m, struct vg_err *err)
{
	return check_ti_list(m, offsetof(struct vg_time_interval_item, years), err);
}

/* --- tables ------------------------------------------------------------- */

#define END { NULL, 0, 0, NULL, 0, 0, NULL }
#define R(key, type, member) key, type, offsetof(struct vg_route_conf, member), NULL

static const struct vg_conf_field escalate_fields[] = {
	{ "after", VG_CONF_DURATION, offsetof(struct vg_escalate_conf, after_ms), NULL, 1000, 365LL * 24 * 3600 * 1000,
	  NULL },
	{ "receiver", VG_CONF_STR, offsetof(struct vg_escalate_conf, receiver), NULL, 0, 0, NULL },
	END,
};

static const struct vg_conf_field route_fields[] = {
	{ R("receiver", VG_CONF_STR, receiver), 0, 0, NULL },
	{ R("group_by", VG_CONF_STRLIST, group_by), 0, 0, NULL },
	{ R("group_wait", VG_CONF_STR, group_wait), 0, 0, check_duration_text },
	{ R("group_interval", VG_CONF_STR, group_interval), 0, 0, check_duration_text },
	{ R("repeat_interval", VG_CONF_STR, repeat_interval), 0, 0, check_duration_text },
	{ R("matchers", VG_CONF_STRLIST, matchers), 0, 0, check_matchers },
	{ R("continue", VG_CONF_BOOL, is_continue), 0, 0, NULL },
	{ "routes", VG_CONF_LIST, offsetof(struct vg_route_conf, routes), route_fields,
	  sizeof(struct vg_route_conf), 1000, NULL },
	{ R("mute_time_intervals", VG_CONF_STRLIST, mute_time_intervals), 0, 0, NULL },
	{ R("active_time_intervals", VG_CONF_STRLIST, active_time_intervals), 0, 0, NULL },
	{ R("match", VG_CONF_LABELS, match), 0, 0, NULL },
	{ R("match_re", VG_CONF_LABELS, match_re), 0, 0, nt_check_match_re },
	{ "escalate", VG_CONF_LIST, offsetof(struct vg_route_conf, escalate), escalate_fields,
	  sizeof(struct vg_escalate_conf), 16, NULL },
	END,
};

static const struct vg_conf_field receiver_fields[] = {
	{ "name", VG_CONF_STR, offsetof(struct vg_receiver_conf, name), NULL, 0, 0, NULL },
	{ "webhook_configs", VG_CONF_LIST, offsetof(struct vg_receiver_conf, webhook_configs), vg_webhook_fields,
	  sizeof(struct vg_webhook_config), 100, NULL },
	{ "email_configs", VG_CONF_LIST, offsetof(struct vg_receiver_conf, email_configs), vg_email_fields,
	  sizeof(struct vg_email_config), 100, NULL },
	{ "pagerduty_configs", VG_CONF_LIST, offsetof(struct vg_receiver_conf, pagerduty_configs), vg_pagerduty_fields,
	  sizeof(struct vg_pagerduty_config), 100, NULL },
	{ "sms_configs", VG_CONF_LIST, offsetof(struct vg_receiver_conf, sms_configs), vg_sms_fields,
	  sizeof(struct vg_sms_config), 100, NULL },
	{ "alertmanager_configs", VG_CONF_LIST, offsetof(struct vg_receiver_conf, alertmanager_configs),
	  vg_alertmanager_fields, sizeof(struct vg_alertmanager_config), 100, NULL },
	END,
};

static const struct vg_conf_field inhibit_fields[] = {
	{ "source_matchers", VG_CONF_STRLIST, offsetof(struct vg_inhibit_conf, source_matchers), NULL, 0, 0,
	  check_matchers },
	{ "target_matchers", VG_CONF_STRLIST, offsetof(struct vg_inhibit_conf, target_matchers), NULL, 0, 0,
	  check_matchers },
	{ "equal", VG_CONF_STRLIST, offsetof(struct vg_inhibit_conf, equal), NULL, 0, 0, NULL },
	{ "source_match", VG_CONF_LABELS, offsetof(struct vg_inhibit_conf, source_match), NULL, 0, 0, NULL },
	{ "source_match_re", VG_CONF_LABELS, offsetof(struct vg_inhibit_conf, source_match_re), NULL, 0, 0,
	  nt_check_match_re },
	{ "target_match", VG_CONF_LABELS, offsetof(struct vg_inhibit_conf, target_match), NULL, 0, 0, NULL },
	{ "target_match_re", VG_CONF_LABELS, offsetof(struct vg_inhibit_conf, target_match_re), NULL, 0, 0,
	  nt_check_match_re },
	END,
};

static const struct vg_conf_field time_range_fields[] = {
	{ "start_time", VG_CONF_STR, offsetof(struct vg_time_range_conf, start_time), NULL, 0, 0, check_time_of_day },
	{ "end_time", VG_CONF_STR, offsetof(struct vg_time_range_conf, end_time), NULL, 0, 0, check_time_of_day },
	END,
};

#define T(key, type, member) key, type, offsetof(struct vg_time_interval_item, member), NULL

static const struct vg_conf_field time_item_fields[] = {
	{ "times", VG_CONF_LIST, offsetof(struct vg_time_interval_item, times), time_range_fields,
	  sizeof(struct vg_time_range_conf), 100, NULL },
	{ T("weekdays", VG_CONF_STRLIST, weekdays), 0, 0, check_weekdays },
	{ T("days_of_month", VG_CONF_STRLIST, days_of_month), 0, 0, check_days },
	{ T("months", VG_CONF_STRLIST, months), 0, 0, check_months },
	{ T("years", VG_CONF_STRLIST, years), 0, 0, check_years },
	{ T("location", VG_CONF_STR, location), 0, 0, check_location },
	END,
};

static const struct vg_conf_field time_interval_fields[] = {
	{ "name", VG_CONF_STR, offsetof(struct vg_time_interval_conf, name), NULL, 0, 0, NULL },
	{ "time_intervals", VG_CONF_LIST, offsetof(struct vg_time_interval_conf, time_intervals), time_item_fields,
	  sizeof(struct vg_time_interval_item), 100, NULL },
	END,
};

#define G(key, type, member) key, type, offsetof(struct vg_global_conf, member), NULL

static const struct vg_conf_field global_fields[] = {
	{ "resolve_timeout", VG_CONF_DURATION, offsetof(struct vg_global_conf, resolve_timeout_ms), NULL, 1000,
	  365LL * 24 * 3600 * 1000, NULL },
	/* the channels' global keys: one line each here */
	VG_HTTP_CONFIG_FIELD(struct vg_global_conf, http_config),
	{ G("smtp_from", VG_CONF_STR, smtp_from), 0, 0, NULL },
	{ G("smtp_hello", VG_CONF_STR, smtp_hello), 0, 0, NULL },
	{ G("smtp_smarthost", VG_CONF_STR, smtp_smarthost), 0, 0, NULL },
	{ G("smtp_auth_username", VG_CONF_STR, smtp_auth_username), 0, 0, vg_conf_check_ident },
	{ G("smtp_auth_password", VG_CONF_STR, smtp_auth_password), 0, 0, NULL },
	{ G("smtp_auth_password_file", VG_CONF_STR, smtp_auth_password_file), 0, 0, vg_conf_check_path },
	{ G("smtp_require_tls", VG_CONF_BOOL, smtp_require_tls.value), 0, 0, vg_conf_mark_given },
	{ G("pagerduty_url", VG_CONF_STR, pagerduty_url), 0, 0, NULL },
	END,
};

#define A(key, type, member) key, type, offsetof(struct vg_alerting_config, member)

const struct vg_conf_field vg_alerting_fields[] = {
	{ A("global", VG_CONF_STRUCT, global), global_fields, 0, 0, NULL },
	{ A("route", VG_CONF_STRUCT, route), route_fields, 0, 0, NULL },
	{ A("receivers", VG_CONF_LIST, receivers), receiver_fields, sizeof(struct vg_receiver_conf), 1000, NULL },
	{ A("inhibit_rules", VG_CONF_LIST, inhibit_rules), inhibit_fields, sizeof(struct vg_inhibit_conf), 1000, NULL },
	{ A("time_intervals", VG_CONF_LIST, time_intervals), time_interval_fields,
	  sizeof(struct vg_time_interval_conf), 1000, NULL },
	{ A("external_url", VG_CONF_STR, external_url), NULL, 0, 0, NULL },
	END,
};

/* --- after loading ------------------------------------------------------ */

static void release_items(struct vg_alerting_config *c, size_t upto_receiver, size_t upto_kind, size_t upto_item)
{
	for (size_t r = 0; r < c->receivers.n && r <= upto_receiver; r++) {
		struct vg_receiver_conf *rc = (struct vg_receiver_conf *)c->receivers.v + r;
		for (size_t k = 0; k < nt_n_kinds; k++) {
			const struct vg_conf_list *l = (const struct vg_conf_list *)((char *)rc + nt_kinds[k].list_offset);
			for (size_t i = 0; i < l->n; i++) {
				if (r == upto_receiver && (k > upto_kind || (k == upto_kind && i >= upto_item)))
					return;
				nt_kinds[k].ops->release((char *)l->v + i * nt_kinds[k].item_size);
			}
		}
	}
}

int vg_alerting_validate(struct vg_alerting_config *c, const char *file, struct vg_err *err)
{
	struct nt_tree *t = NULL;
	int r;

	if (c->global.resolve_timeout_ms == 0)
		c->global.resolve_timeout_ms = 5 * 60 * 1000;
	if (!vg_alerting_is_configured(c)) {
		const struct vg_route_conf *rt = &c->route;
		if (c->receivers.n || c->inhibit_rules.n || c->time_intervals.n || c->external_url || rt->routes.n ||
		    rt->group_by.n || rt->matchers.n || rt->group_wait || rt->group_interval || rt->repeat_interval)
			return vg_err_set(err, VG_EINVAL, "%s: alerting.route: missing (the root route names a receiver)",
					  file);
		return 0;
	}
	if ((r = vg_http_config_inherit(c, file, err)) != 0 || (r = nt_global_defaults_apply(c, err)) != 0)
		return r;
	for (size_t ri = 0; ri < c->receivers.n; ri++) {
		struct vg_receiver_conf *rc = (struct vg_receiver_conf *)c->receivers.v + ri;
		if (rc->name == NULL || rc->name[0] == '\0') {
			release_items(c, ri, 0, 0);
			return vg_err_set(err, VG_EINVAL, "%s: alerting.receivers[%zu].name: missing", file, ri);
		}
		for (size_t k = 0; k < nt_n_kinds; k++) {
			struct vg_conf_list *l = (struct vg_conf_list *)((char *)rc + nt_kinds[k].list_offset);
			for (size_t i = 0; i < l->n; i++) {
				r = nt_kinds[k].ops->prepare((char *)l->v + i * nt_kinds[k].item_size, err);
				if (r != 0) {
					vg_err_prefix(err, "%s: alerting.receivers[%zu].%s[%zu]", file, ri,
						      nt_kinds[k].ops->key, i);
					release_items(c, ri, k, i);
					return r;
				}
			}
		}
	}
	/* Building the tree checks names, inheritance and intervals. */
	r = nt_tree_build(c, file, &t, err);
	if (r != 0) {
		release_items(c, SIZE_MAX, SIZE_MAX, SIZE_MAX);
		return r;
	}
	nt_tree_free(t);
	c->is_prepared = true;
	return 0;
}

void vg_alerting_release(struct vg_alerting_config *c)
{
	if (c->is_prepared)
		release_items(c, SIZE_MAX, SIZE_MAX, SIZE_MAX);
	c->is_prepared = false;
	vg_conf_release(vg_alerting_fields, c);
}
