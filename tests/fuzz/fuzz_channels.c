/*
 * fuzz_channels.c: libFuzzer target for what the notification channels
 * read from a configuration (receiver/alert/channel_*.c): the input is a
 * YAML file holding the four lists (email_configs, pagerduty_configs,
 * sms_configs, alertmanager_configs) as the notifier's receivers table
 * holds them. Every item that loads is prepared; every SMS item's
 * templates are rendered and every email item's message built for a fixed
 * notification; then everything is released. The input is also tried as
 * one SMS template and, when vg_sms_template_check takes it, rendered in
 * every escape, and as the alerting: section of receiver.yaml (routes with
 * match/match_re, inhibition rules, global and item http_config, the
 * webhook's url_file), validated as the receiver validates it. Nothing is
 * sent. tests/fuzz/replay.c replays the corpus
 * (tests/fuzz/corpus/channels/) in `make check`.
 */
#include "receiver/alert/channel.h"
#include "receiver/alert/channel_alertmanager.h"
#include "receiver/alert/channel_email.h"
#include "receiver/alert/channel_pagerduty.h"
#include "receiver/alert/channel_sms.h"
#include "receiver/alert/channel_webhook.h"
#include "receiver/alert/notifier.h"
#include "common/buf.h"
#include "common/err.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct receiver {
	struct vg_conf_list email, pagerduty, sms, alertmanager, webhook;
};

static const struct vg_conf_field fields[] = {
	{ "email_configs", VG_CONF_LIST, offsetof(struct receiver, email), vg_email_fields,
	  sizeof(struct vg_email_config), 8, NULL },
	{ "pagerduty_configs", VG_CONF_LIST, offsetof(struct receiver, pagerduty), vg_pagerduty_fields,
	  sizeof(struct vg_pagerduty_config), 8, NULL },
	{ "sms_configs", VG_CONF_LIST, offsetof(struct receiver, sms), vg_sms_fields, sizeof(struct vg_sms_config), 8,
	  NULL },
	{ "alertmanager_configs", VG_CONF_LIST, offsetof(struct receiver, alertmanager), vg_alertmanager_fields,
	  sizeof(struct vg_alertmanager_config), 8, NULL },
	{ "webhook_configs", VG_CONF_LIST, offsetof(struct receiver, webhook), vg_webhook_fields,
	  sizeof(struct vg_webhook_config), 8, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

struct top {
	struct vg_alerting_config a;
};

static const struct vg_conf_field top_fields[] = {
	{ "alerting", VG_CONF_STRUCT, offsetof(struct top, a), vg_alerting_fields, 0, 0, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

static char *l_names[] = { "alertname", "instance" };
static char *l_values[] = { "DiskFull", "h1 <&> \"x\"" };
static char *a_names[] = { "summary" };
static char *a_values[] = { "disk {full} \xc3\xa9 %41 \\ \"q\"\n=." };

static struct vg_notification notification(struct vg_notify_alert *a)
{
	struct vg_notification n;

	memset(&n, 0, sizeof(n));
	memset(a, 0, sizeof(*a));
	a->labels = (struct vg_conf_labels){ 2, l_names, l_values };
	a->annotations = (struct vg_conf_labels){ 1, a_names, a_values };
	a->is_firing = true;
	a->starts_at_ms = 1795554000123LL;
	n.receiver = "ops";
	n.group_key = "{}:{alertname=\"DiskFull\"}";
	n.is_firing = true;
	n.group_labels = (struct vg_conf_labels){ 1, l_names, l_values };
	n.common_labels = a->labels;
	n.common_annotations = a->annotations;
	n.n_alerts = 1;
	n.alerts = a;
	return n;
}

static void render_sms(const struct vg_sms_config *c, const struct vg_notification *n)
{
	struct vg_buf b = VG_BUF_INIT;

	vg_sms_render(&b, c->message, VG_SMS_RAW, n, "+1", c->from, NULL);
	if (c->url)
		vg_sms_render(&b, c->url, VG_SMS_URL, n, "+1", c->from, "m");
	if (c->body)
		vg_sms_render(&b, c->body, c->body_escape, n, "+1", c->from, "m");
	for (size_t i = 0; i < c->headers.n; i++) {
		const char *colon = strchr(c->headers.v[i], ':');
		if (colon)
			vg_sms_render(&b, colon + 1, VG_SMS_HEADER, n, "+1", c->from, "m");
	}
	vg_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct {
		const struct vg_channel_ops *ops;
		size_t offset, item_size;
	} kinds[] = {
		{ &vg_channel_email, offsetof(struct receiver, email), sizeof(struct vg_email_config) },
		{ &vg_channel_pagerduty, offsetof(struct receiver, pagerduty), sizeof(struct vg_pagerduty_config) },
		{ &vg_channel_sms, offsetof(struct receiver, sms), sizeof(struct vg_sms_config) },
		{ &vg_channel_alertmanager, offsetof(struct receiver, alertmanager), sizeof(struct vg_alertmanager_config) },
		{ &vg_channel_webhook, offsetof(struct receiver, webhook), sizeof(struct vg_webhook_config) },
	};
	struct vg_notify_alert alert;
	struct vg_notification n = notification(&alert);
	struct receiver r;
	struct vg_err err;
	/* prepared[k]: how many items of kind k were prepared, to release. */
	size_t prepared[5] = { 0, 0, 0, 0, 0 };
	struct top t;
	char *text;

	memset(&r, 0, sizeof(r));
	if (vg_conf_load_string((const char *)data, size, "fuzz.yaml", fields, &r, &err) == 0) {
		for (size_t k = 0; k < 5; k++) {
			struct vg_conf_list *l = (struct vg_conf_list *)((char *)&r + kinds[k].offset);
			for (size_t i = 0; i < l->n; i++) {
				void *item = (char *)l->v + i * kinds[k].item_size;
				int rc = kinds[k].ops->prepare(item, &err);
				prepared[k] = i + 1; /* release is safe after a failed prepare */
				if (rc != 0)
					goto release;
				if (kinds[k].ops == &vg_channel_sms)
					render_sms(item, &n);
				if (kinds[k].ops == &vg_channel_email) {
					struct vg_buf m = VG_BUF_INIT;
					vg_email_message(&m, item, &n, 1795554000);
					vg_buf_release(&m);
				}
			}
		}
	}
release:
	for (size_t k = 0; k < 5; k++) {
		struct vg_conf_list *l = (struct vg_conf_list *)((char *)&r + kinds[k].offset);
		for (size_t i = 0; i < prepared[k]; i++)
			kinds[k].ops->release((char *)l->v + i * kinds[k].item_size);
	}
	vg_conf_release(fields, &r);

	memset(&t, 0, sizeof(t));
	if (vg_conf_load_string((const char *)data, size, "fuzz.yaml", top_fields, &t, &err) == 0)
		(void)vg_alerting_validate(&t.a, "fuzz.yaml", &err);
	vg_alerting_release(&t.a);

	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (vg_sms_template_check(text, &err) == 0) {
		struct vg_buf b = VG_BUF_INIT;
		for (int esc = VG_SMS_RAW; esc <= VG_SMS_HEADER; esc++)
			vg_sms_render(&b, text, (enum vg_sms_escape)esc, &n, "+1", "v", "m");
		vg_buf_release(&b);
	}
	free(text);
	return 0;
}
