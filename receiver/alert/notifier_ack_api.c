/*
 * notifier_ack_api.c: the acks' HTTP API (Vigil's, beside Alertmanager's
 * silences, with the same shapes and the same scope: reading needs read,
 * changing needs admin, as every non-GET under /api/v2/):
 *   GET  /api/v2/acks            every ack kept (active, resolved, expired)
 *   POST /api/v2/acks            {"matchers","createdBy","comment","expiresAt"}
 *                                -> {"ackID"}; 400 when no firing alert matches
 *   GET|DELETE /api/v2/ack/{id}  one ack; DELETE expires it now
 * and the notifier's view of the rule engine's alerts for /api/v1/alerts
 * (silencedBy, inhibitedBy, ack).
 */
#include "receiver/alert/notifier_int.h"
#include "receiver/alert/payload_json.h"

#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

static struct nt_ack *ack_find(struct vg_notifier *n, const char *id)
{
	for (size_t i = 0; i < n->n_acks; i++)
		if (strcmp(n->acks[i].id, id) == 0)
			return &n->acks[i];
	return NULL;
}

/* The firing alerts a's matchers select, as a's alerts. */
static int ack_cover(struct vg_notifier *n, struct nt_ack *a, int64_t now, struct vg_buf *out)
{
	size_t count = 0;

	for (size_t i = 0; i < n->n_alerts; i++)
		count += nt_alert_is_firing(&n->alerts[i], now) && nt_matchers_match(&a->sel, &n->alerts[i].a.labels);
	if (count == 0)
		return nt_api_error(out, 400, "no firing alert matches");
	if (count > NT_MAX_ACK_ALERTS)
		return nt_api_error(out, 400, "too many firing alerts match (more than an ack covers)");
	a->alerts = calloc(count, sizeof(*a->alerts));
	if (a->alerts == NULL)
		return nt_api_error(out, 500, "out of memory");
	for (size_t i = 0; i < n->n_alerts; i++) {
		const struct nt_alert *al = &n->alerts[i];
		if (nt_alert_is_firing(al, now) && nt_matchers_match(&a->sel, &al->a.labels))
			a->alerts[a->n_alerts++] = (struct nt_ack_alert){ al->fp, al->a.starts_at_ms, false };
	}
	return 0;
}

static int post_ack(struct vg_notifier *n, const char *body, size_t len, struct vg_buf *out)
{
	struct nt_ack a;
	struct vg_err err;
	int64_t now = nt_now(n);
	int status;

	if (nt_ack_decode(body, len, false, &a, &err) != 0)
		return nt_api_error(out, 400, err.msg);
	if (a.expires_ms <= now) {
		nt_ack_release(&a);
		return nt_api_error(out, 400, "expiresAt: an ack must expire in the future");
	}
	a.starts_ms = a.updated_ms = now;
	pthread_mutex_lock(&n->mu);
	nt_acks_prune(n, now); /* saved with the new one */
	if (n->n_acks >= NT_MAX_ACKS) {
		status = nt_api_error(out, 400, "too many acks kept: expire some");
		goto fail;
	}
	if ((status = ack_cover(n, &a, now, out)) != 0)
		goto fail;
	if (n->n_acks == n->cap_acks) {
		size_t cap = n->cap_acks ? n->cap_acks * 2 : 16;
		struct nt_ack *v = realloc(n->acks, cap * sizeof(*v));
		if (v == NULL) {
			status = nt_api_error(out, 500, "out of memory");
			goto fail;
		}
		n->acks = v;
		n->cap_acks = cap;
	}
	nt_api_new_id(a.id);
	n->acks[n->n_acks++] = a;
	vg_log(VG_LOG_INFO, "ack %s by %s: %zu alerts", a.id, a.created_by, a.n_alerts);
	if (nt_acks_save(n, &err) != 0) {
		vg_log(VG_LOG_ERROR, "acks: %s", err.msg);
		status = nt_api_error(out, 500, err.msg);
	} else {
		vg_buf_puts(out, "{\"ackID\":");
		vg_payload_str(out, a.id);
		vg_buf_puts(out, "}\n");
		status = 200;
	}
	pthread_mutex_unlock(&n->mu);
	return status;
fail:
	pthread_mutex_unlock(&n->mu);
	nt_ack_release(&a);
	return status;
}

static int get_acks(struct vg_notifier *n, struct vg_buf *out)
{
	int64_t now = nt_now(n);

	vg_buf_putc(out, '[');
	pthread_mutex_lock(&n->mu);
	for (size_t i = 0; i < n->n_acks; i++) {
		if (i)
			vg_buf_putc(out, ',');
		nt_ack_encode(&n->acks[i], now, out);
	}
	pthread_mutex_unlock(&n->mu);
	vg_buf_puts(out, "]\n");
	return 200;
}

static int one_ack(struct vg_notifier *n, const char *id, bool is_delete, struct vg_buf *out)
{
	struct nt_ack *a;
	struct vg_err err;
	int64_t now = nt_now(n);
	int status = 200;

	pthread_mutex_lock(&n->mu);
	a = ack_find(n, id);
	if (a == NULL) {
		pthread_mutex_unlock(&n->mu);
		return nt_api_error(out, 404, "ack not found");
	}
	if (!is_delete) {
		nt_ack_encode(a, now, out);
		vg_buf_putc(out, '\n');
	} else if (now >= a->expires_ms) {
		status = nt_api_error(out, 400, "ack already expired");
	} else {
		a->expires_ms = now;
		if (a->starts_ms >= now)
			a->starts_ms = now - 1;
		a->updated_ms = now;
		vg_log(VG_LOG_INFO, "ack %s expired", a->id);
		if (nt_acks_save(n, &err) != 0)
			status = nt_api_error(out, 500, err.msg);
	}
	pthread_mutex_unlock(&n->mu);
	return status;
}

int nt_ack_http(struct vg_notifier *n, const char *method, const char *path, const char *body, size_t len,
		struct vg_buf *out)
{
	bool is_get = strcmp(method, "GET") == 0;

	if (strcmp(path, "acks") == 0) {
		if (is_get)
			return get_acks(n, out);
		if (strcmp(method, "POST") == 0)
			return post_ack(n, body, len, out);
		return nt_api_error(out, 405, "method not allowed");
	}
	if (strncmp(path, "ack/", 4) == 0) {
		if (path[4] == '\0' || strchr(path + 4, '/') != NULL)
			return nt_api_error(out, 404, "unknown API endpoint");
		if (is_get || strcmp(method, "DELETE") == 0)
			return one_ack(n, path + 4, !is_get, out);
		return nt_api_error(out, 405, "method not allowed");
	}
	return -1;
}

/* --- the rule engine's alerts ------------------------------------------- */

static void annotate_one(struct vg_notifier *n, json_t *al, int64_t now)
{
	struct vg_conf_labels l = { 0, NULL, NULL };
	json_t *sil = json_array(), *inh = json_array(), *ack = json_null();
	const struct nt_alert *a;
	const char *sid;
	struct vg_err err;

	if (vg_pj_labels(json_object_get(al, "labels"), "labels", &l, &err) != 0) {
		json_decref(sil);
		json_decref(inh);
		return;
	}
	a = nt_alert_find(n, vg_alert_fingerprint(&l));
	if ((sid = nt_silenced_by(n, &l, now)) != NULL)
		json_array_append_new(sil, json_string(sid));
	if (a != NULL && nt_alert_is_firing(a, now)) {
		const struct nt_ack *k = nt_acked_by(n, a, now);
		uint64_t by;
		char fp[17];

		if (nt_inhibited_by(n, a, now, &by)) {
			vg_alert_fingerprint_hex(by, fp);
			json_array_append_new(inh, json_string(fp));
		}
		if (k != NULL) {
			char t[64];

			vg_time_format_rfc3339(k->expires_ms, t, sizeof(t));
			ack = json_pack("{s:s, s:s, s:s, s:s}", "id", k->id, "createdBy", k->created_by, "comment",
					k->comment, "expiresAt", t);
			if (ack == NULL)
				ack = json_null();
		}
	}
	json_object_set_new(al, "silencedBy", sil);
	json_object_set_new(al, "inhibitedBy", inh);
	json_object_set_new(al, "ack", ack);
	vg_payload_labels_release(&l);
}

void vg_notifier_annotate_alerts(struct vg_notifier *n, const struct vg_buf *in, struct vg_buf *out)
{
	json_t *doc = json_loadb((const char *)in->data, in->len, JSON_REJECT_DUPLICATES, NULL), *al;
	json_t *alerts = json_object_get(doc, "alerts");
	int64_t now = nt_now(n);
	char *text;
	size_t i;

	if (!json_is_array(alerts)) {
		json_decref(doc);
		vg_buf_append(out, in->data, in->len);
		return;
	}
	pthread_mutex_lock(&n->mu);
	json_array_foreach(alerts, i, al)
		annotate_one(n, al, now);
	pthread_mutex_unlock(&n->mu);
	text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (text == NULL) {
		vg_buf_append(out, in->data, in->len);
		return;
	}
	vg_buf_puts(out, text);
	free(text);
}
