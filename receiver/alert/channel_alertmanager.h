/*
 * channel_alertmanager.h: notifications handed on to Alertmanager, for
 * sites that already run one: the alerts of each notification POSTed to
 * <url>/api/v2/alerts of every URL in the item (Alertmanager's postable
 * alerts: labels, annotations, startsAt, endsAt, generatorURL). Man page
 * vigil-receiver.yaml(5), "alertmanager_configs".
 *
 * basic_auth (username, password or password_file) or authorization
 * (type, credentials or credentials_file) authenticate to an Alertmanager
 * behind a proxy, as Prometheus's keys do.
 *
 * A firing alert is sent without endsAt, so Alertmanager resolves it after
 * its resolve_timeout unless it hears of it again: route such a receiver
 * with a repeat_interval shorter than that. A resolved alert carries its
 * resolve time.
 */
#ifndef VG_CHANNEL_ALERTMANAGER_H
#define VG_CHANNEL_ALERTMANAGER_H

#include "receiver/alert/channel.h"
#include "receiver/alert/notifier_http_config.h"

struct vg_alertmanager_config {
	struct vg_channel_item item; /* first: channel.h; send_resolved default true */
	struct vg_conf_strlist urls; /* base URLs, http(s)://host:port[/prefix]; at least one */
	char *api_path;              /* default "/api/v2/alerts" */
	/* basic_auth: as Prometheus's alertmanager_config has it */
	char *username;
	char *password;              /* or password_file */
	char *password_file;
	/* authorization: "<type> <credentials>" in an Authorization header */
	char *auth_type;             /* default "Bearer" */
	char *credentials;           /* or credentials_file */
	char *credentials_file;
	struct vg_http_config http;  /* http_config (global:'s when absent) */
};

extern const struct vg_conf_field vg_alertmanager_fields[];
extern const struct vg_channel_ops vg_channel_alertmanager;

#endif
