/*
 * notifier_ack.c: acknowledgements. An ack says someone owns the alerts
 * its matchers (a silence's) matched when it was made: it stops their
 * repeats and their escalation until each resolves (or fires anew: a new
 * incident pages again) or the ack expires. Their resolve is still sent.
 *
 * The store is data_dir/alerting/acks.json, the whole list rewritten and
 * published atomically on every change, as silences.json is (docs/
 * notifier.md has the shape). The decoders here read the POST body of
 * /api/v2/acks and the store; tests/fuzz/fuzz_alert_api.c feeds both.
 *
 * Invariant: every ack in the store has at least one matcher, a compiled
 * selector, a createdBy, startsAt < expiresAt and at most NT_MAX_ACK_ALERTS
 * alerts.
 */
#include "receiver/alert/notifier_int.h"
#include "receiver/alert/payload_json.h"

#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

#define MAX_BODY (1u << 20)
/* An ack ended (expired, or every alert resolved) longer ago than this is
 * dropped when the store is read or an ack is added. */
#define ACK_KEEP_MS (5LL * 24 * 3600 * 1000)

void nt_ack_release(struct nt_ack *a)
{
	nt_matchers_release(a->m, a->n);
	vg_selector_release(&a->sel);
	free(a->created_by);
	free(a->comment);
	free(a->alerts);
	memset(a, 0, sizeof(*a));
}

static int alerts_from_json(const json_t *v, struct nt_ack *a, struct vg_err *err)
{
	if (!json_is_array(v))
		return vg_err_set(err, VG_EINVAL, "alerts: expected a list");
	if (json_array_size(v) > NT_MAX_ACK_ALERTS)
		return vg_err_set(err, VG_ELIMIT, "alerts: more than %d", NT_MAX_ACK_ALERTS);
	a->alerts = calloc(json_array_size(v) + 1, sizeof(*a->alerts));
	if (a->alerts == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	for (size_t i = 0; i < json_array_size(v); i++) {
		const json_t *o = json_array_get(v, i), *fp = json_object_get(o, "fingerprint");
		const json_t *st = json_object_get(o, "state");
		struct nt_ack_alert *e = &a->alerts[i];
		int r;

		if (!json_is_string(fp) || json_string_length(fp) != 16 || !json_is_string(st) ||
		    (strcmp(json_string_value(st), "acknowledged") != 0 && strcmp(json_string_value(st), "resolved") != 0))
			return vg_err_set(err, VG_EINVAL,
					  "alerts[%zu]: a fingerprint (16 hex digits), startsAt and a state (acknowledged or resolved)",
					  i);
		e->fp = 0;
		for (const char *p = json_string_value(fp); *p; p++) {
			if (vg_hex_digit(*p) < 0)
				return vg_err_set(err, VG_EINVAL, "alerts[%zu].fingerprint: 16 hex digits", i);
			e->fp = e->fp << 4 | (uint64_t)vg_hex_digit(*p);
		}
		if ((r = vg_pj_time(json_object_get(o, "startsAt"), "startsAt", &e->starts_ms, err)) != 0) {
			vg_err_prefix(err, "alerts[%zu]", i);
			return r;
		}
		e->is_ended = strcmp(json_string_value(st), "resolved") == 0;
		a->n_alerts = i + 1;
	}
	return 0;
}

int nt_ack_from_json(const json_t *o, bool is_stored, struct nt_ack *a, struct vg_err *err)
{
	int r;

	memset(a, 0, sizeof(*a));
	if (!json_is_object(o))
		return vg_err_set(err, VG_EINVAL, "an ack must be an object");
	if (is_stored) {
		const json_t *id = json_object_get(o, "id");
		if (!json_is_string(id) || json_string_length(id) == 0 || json_string_length(id) >= sizeof(a->id) ||
		    strlen(json_string_value(id)) != json_string_length(id))
			return vg_err_set(err, VG_EINVAL, "id: expected an ack id");
		snprintf(a->id, sizeof(a->id), "%s", json_string_value(id));
	}
	if ((r = nt_matchers_from_json(json_object_get(o, "matchers"), &a->m, &a->n, &a->sel, err)) != 0)
		goto fail;
	if ((r = vg_pj_str(json_object_get(o, "createdBy"), "createdBy", true, &a->created_by, err)) != 0 ||
	    (r = vg_pj_str(json_object_get(o, "comment"), "comment", false, &a->comment, err)) != 0)
		goto fail;
	if (a->created_by[0] == '\0') {
		r = vg_err_set(err, VG_EINVAL, "createdBy: must not be empty");
		goto fail;
	}
	if (a->comment == NULL && (a->comment = strdup("")) == NULL) {
		r = vg_err_set(err, VG_ENOMEM, "out of memory");
		goto fail;
	}
	if ((r = vg_pj_time(json_object_get(o, "expiresAt"), "expiresAt", &a->expires_ms, err)) != 0)
		goto fail;
	if (a->expires_ms == 0) {
		r = vg_err_set(err, VG_EINVAL, "expiresAt: required");
		goto fail;
	}
	if (!is_stored)
		return 0; /* the notifier sets the rest */
	if ((r = vg_pj_time(json_object_get(o, "startsAt"), "startsAt", &a->starts_ms, err)) != 0 ||
	    (r = vg_pj_time(json_object_get(o, "updatedAt"), "updatedAt", &a->updated_ms, err)) != 0)
		goto fail;
	if (a->starts_ms == 0 || a->expires_ms <= a->starts_ms) {
		r = vg_err_set(err, VG_EINVAL, "startsAt and expiresAt: both required, expiresAt after startsAt");
		goto fail;
	}
	if ((r = alerts_from_json(json_object_get(o, "alerts"), a, err)) != 0)
		goto fail;
	return 0;
fail:
	nt_ack_release(a);
	return r;
}

int nt_ack_decode(const char *body, size_t len, bool is_stored, struct nt_ack *a, struct vg_err *err)
{
	json_t *o;
	int r;

	memset(a, 0, sizeof(*a));
	if ((r = vg_pj_load(body, len, MAX_BODY, &o, err)) != 0)
		return r;
	r = nt_ack_from_json(o, is_stored, a, err);
	json_decref(o);
	return r;
}

const char *nt_ack_state(const struct nt_ack *a, int64_t now_ms)
{
	if (now_ms >= a->expires_ms)
		return "expired";
	for (size_t i = 0; i < a->n_alerts; i++)
		if (!a->alerts[i].is_ended)
			return "active";
	return "resolved";
}

void nt_ack_encode(const struct nt_ack *a, int64_t now_ms, struct vg_buf *out)
{
	const struct nt_record r = { a->id, nt_ack_state(a, now_ms), a->updated_ms, a->comment, a->created_by,
				     "expiresAt", a->expires_ms, a->m, a->n, a->starts_ms };

	nt_record_encode(&r, out);
	vg_buf_puts(out, ",\"alerts\":[");
	for (size_t i = 0; i < a->n_alerts; i++) {
		char fp[17];

		vg_alert_fingerprint_hex(a->alerts[i].fp, fp);
		vg_buf_printf(out, "%s{\"fingerprint\":\"%s\",\"startsAt\":", i ? "," : "", fp);
		vg_payload_time(out, a->alerts[i].starts_ms);
		vg_buf_printf(out, ",\"state\":\"%s\"}", a->alerts[i].is_ended ? "resolved" : "acknowledged");
	}
	vg_buf_puts(out, "]}");
}

/* --- the store -------------------------------------------------------- */

static void ack_encode_item(const void *item, int64_t now_ms, struct vg_buf *out)
{
	nt_ack_encode(item, now_ms, out);
}

int nt_acks_save(struct vg_notifier *n, struct vg_err *err)
{
	return nt_store_save(n, "acks.json", n->acks, sizeof(*n->acks), n->n_acks, ack_encode_item, err);
}

/* When a ended: its expiry, or its last change once every alert resolved;
 * 0 while active. */
static int64_t ended_at(const struct nt_ack *a, int64_t now_ms)
{
	const char *st = nt_ack_state(a, now_ms);

	if (strcmp(st, "expired") == 0)
		return a->expires_ms;
	return strcmp(st, "resolved") == 0 ? a->updated_ms : 0;
}

int nt_acks_load(struct vg_notifier *n, struct vg_err *err)
{
	char path[4096];
	json_t *o;
	int64_t now = nt_now(n);
	int r;

	if ((r = nt_store_load(n, "acks.json", NT_MAX_ACKS, &o, path, err)) != 0 || o == NULL)
		return r;
	n->acks = calloc(json_array_size(o) + 1, sizeof(*n->acks));
	if (n->acks == NULL) {
		json_decref(o);
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	}
	n->cap_acks = json_array_size(o) + 1;
	for (size_t i = 0; i < json_array_size(o); i++) {
		if ((r = nt_ack_from_json(json_array_get(o, i), true, &n->acks[n->n_acks], err)) != 0) {
			vg_err_prefix(err, "%s: ack %zu", path, i);
			break;
		}
		n->n_acks++;
	}
	json_decref(o);
	nt_acks_prune(n, now);
	return r;
}

bool nt_acks_prune(struct vg_notifier *n, int64_t now_ms)
{
	size_t kept = 0;

	for (size_t i = 0; i < n->n_acks; i++) {
		int64_t end = ended_at(&n->acks[i], now_ms);
		if (end != 0 && now_ms - end > ACK_KEEP_MS)
			nt_ack_release(&n->acks[i]);
		else
			n->acks[kept++] = n->acks[i];
	}
	if (kept == n->n_acks)
		return false;
	n->n_acks = kept;
	return true;
}

void nt_acks_free(struct vg_notifier *n)
{
	for (size_t i = 0; i < n->n_acks; i++)
		nt_ack_release(&n->acks[i]);
	free(n->acks);
	n->acks = NULL;
	n->n_acks = n->cap_acks = 0;
}

/* An alert is the same incident while its startsAt is not later than
 * the one acknowledged (a resolved alert that fires again starts anew). */
static bool is_same_incident(const struct nt_ack_alert *e, const struct nt_alert *a)
{
	return e->fp == a->fp && a->a.starts_at_ms <= e->starts_ms;
}

const struct nt_ack *nt_acked_by(const struct vg_notifier *n, const struct nt_alert *a, int64_t now_ms)
{
	for (size_t i = 0; i < n->n_acks; i++) {
		const struct nt_ack *k = &n->acks[i];

		if (now_ms < k->starts_ms || now_ms >= k->expires_ms)
			continue;
		for (size_t j = 0; j < k->n_alerts; j++)
			if (!k->alerts[j].is_ended && is_same_incident(&k->alerts[j], a) && nt_alert_is_firing(a, now_ms))
				return k;
	}
	return NULL;
}

void nt_acks_tick(struct vg_notifier *n, int64_t now_ms)
{
	bool is_changed = false;
	struct vg_err err;

	for (size_t i = 0; i < n->n_acks; i++) {
		struct nt_ack *k = &n->acks[i];

		if (now_ms >= k->expires_ms)
			continue;
		for (size_t j = 0; j < k->n_alerts; j++) {
			struct nt_ack_alert *e = &k->alerts[j];
			const struct nt_alert *a;

			if (e->is_ended || (a = nt_alert_find(n, e->fp)) == NULL)
				continue;
			if (!nt_alert_is_firing(a, now_ms) || !is_same_incident(e, a)) {
				e->is_ended = true;
				k->updated_ms = now_ms;
				is_changed = true;
			}
		}
	}
	if (is_changed && nt_acks_save(n, &err) != 0)
		vg_log(VG_LOG_ERROR, "acks: %s", err.msg);
}
