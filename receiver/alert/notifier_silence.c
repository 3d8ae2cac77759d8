/*
 * notifier_silence.c: silences (Alertmanager's postableSilence and
 * gettableSilence shapes), their store in data_dir/alerting/silences.json
 * (the whole list rewritten and published atomically on every change, so a
 * crash leaves the old list or the new one), and the /api/v2 decoders of
 * silences and alerts, which tests/fuzz/fuzz_alert_api.c feeds.
 *
 * Invariant: every silence in the store has at least one matcher, a
 * compiled selector, and startsAt < endsAt.
 */
#include "receiver/alert/notifier_int.h"
#include "receiver/alert/payload_json.h"

#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/banned.h"

#define MAX_BODY (1u << 20)
#define MAX_MATCHERS 64
#define MAX_ALERTS_POST 10000
#define MAX_SILENCES 100000

void nt_silence_release(struct nt_silence *s)
{
	nt_matchers_release(s->m, s->n);
	vg_selector_release(&s->sel);
	free(s->created_by);
	free(s->comment);
	memset(s, 0, sizeof(*s));
}

static bool json_bool_or(const json_t *v, bool dflt, bool *ok)
{
	if (v == NULL || json_is_null(v))
		return dflt;
	if (!json_is_boolean(v)) {
		*ok = false;
		return dflt;
	}
	return json_is_true(v);
}

int nt_matchers_from_json(const json_t *ms, struct nt_silence_matcher **out, size_t *n, struct vg_selector *sel,
			  struct vg_err *err)
{
	struct nt_silence_matcher *v;

	*out = NULL;
	*n = 0;
	if (!json_is_array(ms) || json_array_size(ms) == 0)
		return vg_err_set(err, VG_EINVAL, "matchers: expected a list of at least one matcher");
	if (json_array_size(ms) > MAX_MATCHERS)
		return vg_err_set(err, VG_ELIMIT, "matchers: more than %d", MAX_MATCHERS);
	v = calloc(json_array_size(ms), sizeof(*v));
	if (v == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	*out = v;
	for (size_t i = 0; i < json_array_size(ms); i++) {
		const json_t *m = json_array_get(ms, i);
		struct nt_silence_matcher *sm = &v[i];
		bool ok = true;
		enum vg_match_op op;
		int r;

		if (!json_is_object(m))
			return vg_err_set(err, VG_EINVAL, "matchers[%zu]: expected an object", i);
		*n = i + 1;
		if ((r = vg_pj_str(json_object_get(m, "name"), "name", true, &sm->name, err)) != 0 ||
		    (r = vg_pj_str(json_object_get(m, "value"), "value", true, &sm->value, err)) != 0) {
			vg_err_prefix(err, "matchers[%zu]", i);
			return r;
		}
		sm->is_regex = json_bool_or(json_object_get(m, "isRegex"), false, &ok);
		sm->is_equal = json_bool_or(json_object_get(m, "isEqual"), true, &ok);
		if (!ok || sm->name[0] == '\0')
			return vg_err_set(err, VG_EINVAL, "matchers[%zu]: a name, a value, isRegex and isEqual booleans", i);
		op = sm->is_regex ? (sm->is_equal ? VG_MATCH_RE : VG_MATCH_NRE) : (sm->is_equal ? VG_MATCH_EQ : VG_MATCH_NE);
		if ((r = vg_selector_add(sel, sm->name, strlen(sm->name), op, sm->value, strlen(sm->value), err)) != 0) {
			vg_err_prefix(err, "matchers[%zu]", i);
			return r;
		}
	}
	return 0;
}

void nt_matchers_release(struct nt_silence_matcher *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].name);
		free(m[i].value);
	}
	free(m);
}

void nt_matchers_encode(const struct nt_silence_matcher *m, size_t n, struct vg_buf *out)
{
	vg_buf_putc(out, '[');
	for (size_t i = 0; i < n; i++) {
		vg_buf_puts(out, i ? ",{\"name\":" : "{\"name\":");
		vg_payload_str(out, m[i].name);
		vg_buf_puts(out, ",\"value\":");
		vg_payload_str(out, m[i].value);
		vg_buf_printf(out, ",\"isRegex\":%s,\"isEqual\":%s}", m[i].is_regex ? "true" : "false",
			      m[i].is_equal ? "true" : "false");
	}
	vg_buf_putc(out, ']');
}

int nt_silence_from_json(const json_t *o, struct nt_silence *s, struct vg_err *err)
{
	const json_t *id;
	int r;

	memset(s, 0, sizeof(*s));
	if (!json_is_object(o))
		return vg_err_set(err, VG_EINVAL, "a silence must be an object");
	id = json_object_get(o, "id");
	if (id && !json_is_null(id)) {
		/* "" is no id, as absent: a new silence */
		if (!json_is_string(id) || json_string_length(id) >= sizeof(s->id) ||
		    strlen(json_string_value(id)) != json_string_length(id))
			return vg_err_set(err, VG_EINVAL, "id: expected a silence id");
		snprintf(s->id, sizeof(s->id), "%s", json_string_value(id));
	}
	if ((r = nt_matchers_from_json(json_object_get(o, "matchers"), &s->m, &s->n, &s->sel, err)) != 0)
		goto fail;
	if ((r = vg_pj_time(json_object_get(o, "startsAt"), "startsAt", &s->starts_ms, err)) != 0 ||
	    (r = vg_pj_time(json_object_get(o, "endsAt"), "endsAt", &s->ends_ms, err)) != 0 ||
	    (r = vg_pj_time(json_object_get(o, "updatedAt"), "updatedAt", &s->updated_ms, err)) != 0)
		goto fail;
	if (s->ends_ms == 0 || s->starts_ms == 0 || s->ends_ms <= s->starts_ms) {
		r = vg_err_set(err, VG_EINVAL, "startsAt and endsAt: both required, endsAt after startsAt");
		goto fail;
	}
	if ((r = vg_pj_str(json_object_get(o, "createdBy"), "createdBy", true, &s->created_by, err)) != 0 ||
	    (r = vg_pj_str(json_object_get(o, "comment"), "comment", true, &s->comment, err)) != 0)
		goto fail;
	if (s->created_by[0] == '\0' || s->comment[0] == '\0') {
		r = vg_err_set(err, VG_EINVAL, "createdBy and comment: must not be empty");
		goto fail;
	}
	return 0;
fail:
	nt_silence_release(s);
	return r;
}

int nt_silence_decode(const char *body, size_t len, struct nt_silence *s, struct vg_err *err)
{
	json_t *o;
	int r;

	memset(s, 0, sizeof(*s));
	if ((r = vg_pj_load(body, len, MAX_BODY, &o, err)) != 0)
		return r;
	r = nt_silence_from_json(o, s, err);
	json_decref(o);
	return r;
}

const char *nt_silence_state(const struct nt_silence *s, int64_t now_ms)
{
	if (now_ms < s->starts_ms)
		return "pending";
	if (now_ms >= s->ends_ms)
		return "expired";
	return "active";
}

void nt_record_encode(const struct nt_record *r, struct vg_buf *out)
{
	vg_buf_puts(out, "{\"id\":");
	vg_payload_str(out, r->id);
	vg_buf_printf(out, ",\"status\":{\"state\":\"%s\"},\"updatedAt\":", r->state);
	vg_payload_time(out, r->updated_ms);
	vg_buf_puts(out, ",\"comment\":");
	vg_payload_str(out, r->comment);
	vg_buf_puts(out, ",\"createdBy\":");
	vg_payload_str(out, r->created_by);
	vg_buf_printf(out, ",\"%s\":", r->ends_key);
	vg_payload_time(out, r->ends_ms);
	vg_buf_puts(out, ",\"matchers\":");
	nt_matchers_encode(r->m, r->n, out);
	vg_buf_puts(out, ",\"startsAt\":");
	vg_payload_time(out, r->starts_ms);
}

void nt_silence_encode(const struct nt_silence *s, int64_t now_ms, struct vg_buf *out)
{
	const struct nt_record r = { s->id, nt_silence_state(s, now_ms), s->updated_ms, s->comment, s->created_by,
				     "endsAt", s->ends_ms, s->m, s->n, s->starts_ms };

	nt_record_encode(&r, out);
	vg_buf_putc(out, '}');
}

void nt_alerts_free(struct vg_notify_alert *a, size_t n)
{
	for (size_t i = 0; a && i < n; i++)
		vg_pj_alert_release(&a[i]);
	free(a);
}

int nt_alerts_decode(const char *body, size_t len, struct vg_notify_alert **out, size_t *n, struct vg_err *err)
{
	json_t *o;
	int r;

	*out = NULL;
	*n = 0;
	if ((r = vg_pj_load(body, len, MAX_BODY, &o, err)) != 0)
		return r;
	if (!json_is_array(o)) {
		r = vg_err_set(err, VG_EINVAL, "expected a list of alerts");
		goto out;
	}
	if (json_array_size(o) > MAX_ALERTS_POST) {
		r = vg_err_set(err, VG_ELIMIT, "more than %d alerts", MAX_ALERTS_POST);
		goto out;
	}
	if (json_array_size(o) == 0)
		goto out;
	*out = calloc(json_array_size(o), sizeof(**out));
	if (*out == NULL) {
		r = vg_err_set(err, VG_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < json_array_size(o); i++) {
		if ((r = vg_pj_alert(json_array_get(o, i), &(*out)[i], err)) != 0) {
			vg_err_prefix(err, "alert %zu", i);
			nt_alerts_free(*out, *n);
			*out = NULL;
			*n = 0;
			goto out;
		}
		*n = i + 1;
	}
out:
	json_decref(o);
	return r;
}

/* --- the store -------------------------------------------------------- */

int nt_store_save(const struct vg_notifier *n, const char *name, const void *items, size_t item_size, size_t count,
		  void (*encode)(const void *item, int64_t now_ms, struct vg_buf *out), struct vg_err *err)
{
	struct vg_buf b = VG_BUF_INIT;
	char path[4096];
	int64_t now = nt_now(n);
	int r;

	snprintf(path, sizeof(path), "%s/%s", n->dir, name);
	vg_buf_putc(&b, '[');
	for (size_t i = 0; i < count; i++) {
		if (i)
			vg_buf_puts(&b, ",\n");
		encode((const char *)items + i * item_size, now, &b);
	}
	vg_buf_puts(&b, "]\n");
	r = nt_publish_file(path, &b, err);
	vg_buf_release(&b);
	return r;
}

int nt_store_load(const struct vg_notifier *n, const char *name, size_t max, json_t **out, char path[4096],
		  struct vg_err *err)
{
	json_error_t je;
	json_t *o;

	*out = NULL;
	snprintf(path, 4096, "%s/%s", n->dir, name);
	if (access(path, F_OK) != 0)
		return 0;
	o = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (o == NULL || !json_is_array(o) || json_array_size(o) > max) {
		json_decref(o);
		return vg_err_set(err, VG_EINVAL, "%s: not a list of at most %zu items: %s", path, max, o ? "" : je.text);
	}
	*out = o;
	return 0;
}

static void silence_encode_item(const void *item, int64_t now_ms, struct vg_buf *out)
{
	nt_silence_encode(item, now_ms, out);
}

int nt_silences_save(struct vg_notifier *n, struct vg_err *err)
{
	return nt_store_save(n, "silences.json", n->silences, sizeof(*n->silences), n->n_silences, silence_encode_item,
			     err);
}

int nt_silences_load(struct vg_notifier *n, struct vg_err *err)
{
	char path[4096];
	json_t *o;
	int r;

	if ((r = nt_store_load(n, "silences.json", MAX_SILENCES, &o, path, err)) != 0 || o == NULL)
		return r;
	n->silences = calloc(json_array_size(o) + 1, sizeof(*n->silences));
	if (n->silences == NULL) {
		json_decref(o);
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	}
	n->cap_silences = json_array_size(o) + 1;
	for (size_t i = 0; i < json_array_size(o); i++) {
		if ((r = nt_silence_from_json(json_array_get(o, i), &n->silences[n->n_silences], err)) != 0) {
			vg_err_prefix(err, "%s: silence %zu", path, i);
			break;
		}
		n->n_silences++;
	}
	json_decref(o);
	return r;
}

const char *nt_silenced_by(const struct vg_notifier *n, const struct vg_conf_labels *labels, int64_t now_ms)
{
	for (size_t i = 0; i < n->n_silences; i++) {
		const struct nt_silence *s = &n->silences[i];
		if (now_ms >= s->starts_ms && now_ms < s->ends_ms && nt_matchers_match(&s->sel, labels))
			return s->id;
	}
	return NULL;
}
