/*
 * payload.c: the webhook v4 message (payload.h): Go's encoder's bytes out,
 * a strict decoder in (jansson), with every count bounded before it
 * allocates.
 */
#include "receiver/alert/payload.h"

#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "receiver/alert/payload_json.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/banned.h"

#define MAX_INPUT (1u << 20)
#define MAX_ALERTS 10000
#define MAX_LABELS 256
#define MAX_STRING 65536

/* --- encoding ----------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if ((p[0] & 0xE0) == 0xC0)
		len = 2, c = p[0] & 0x1F;
	else if ((p[0] & 0xF0) == 0xE0)
		len = 3, c = p[0] & 0x0F;
	else if ((p[0] & 0xF8) == 0xF0)
		len = 4, c = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3F);
	}
	if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
	    (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

void vg_payload_str(struct vg_buf *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	vg_buf_putc(out, '"');
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t len = utf8_len(p + i, n - i, &cp);

		if (len == 0) {
			vg_buf_puts(out, "\\ufffd");
			i++;
			continue;
		}
		if (cp == '"' || cp == '\\') {
			vg_buf_putc(out, '\\');
			vg_buf_putc(out, (char)cp);
		} else if (cp == '\n') {
			vg_buf_puts(out, "\\n");
		} else if (cp == '\r') {
			vg_buf_puts(out, "\\r");
		} else if (cp == '\t') {
			vg_buf_puts(out, "\\t");
		} else if (cp < 0x20 || cp == '<' || cp == '>' || cp == '&') {
			vg_buf_puts(out, "\\u00");
			vg_buf_putc(out, hex[cp >> 4]);
			vg_buf_putc(out, hex[cp & 0xF]);
		} else if (cp == 0x2028 || cp == 0x2029) {
			vg_buf_printf(out, "\\u%04x", (unsigned)cp);
		} else {
			vg_buf_append(out, p + i, len);
		}
		i += len;
	}
	vg_buf_putc(out, '"');
}

void vg_payload_time(struct vg_buf *out, int64_t ms)
{
	char t[64];
	size_t len;

	if (ms == 0) {
		vg_buf_puts(out, "\"0001-01-01T00:00:00Z\"");
		return;
	}
	len = vg_time_format_rfc3339(ms, t, sizeof(t));
	/* Go's RFC3339Nano drops trailing zeros of the fraction. */
	if (len > 2 && strchr(t, '.') != NULL) {
		size_t z = len - 1; /* at 'Z' */
		while (t[z - 1] == '0')
			z--;
		if (t[z - 1] == '.')
			z--;
		t[z] = 'Z';
		t[z + 1] = '\0';
	}
	vg_buf_putc(out, '"');
	vg_buf_puts(out, t);
	vg_buf_putc(out, '"');
}

void vg_payload_labels(struct vg_buf *out, const struct vg_conf_labels *l)
{
	vg_buf_putc(out, '{');
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			vg_buf_putc(out, ',');
		vg_payload_str(out, l->names[i]);
		vg_buf_putc(out, ':');
		vg_payload_str(out, l->values[i]);
	}
	vg_buf_putc(out, '}');
}

void vg_payload_encode(const struct vg_notification *n, struct vg_buf *out)
{
	char fp[17];

	vg_buf_puts(out, "{\"receiver\":");
	vg_payload_str(out, n->receiver);
	vg_buf_puts(out, n->is_firing ? ",\"status\":\"firing\"" : ",\"status\":\"resolved\"");
	vg_buf_puts(out, ",\"alerts\":[");
	for (size_t i = 0; i < n->n_alerts; i++) {
		const struct vg_notify_alert *a = &n->alerts[i];

		if (i)
			vg_buf_putc(out, ',');
		vg_buf_puts(out, a->is_firing ? "{\"status\":\"firing\"" : "{\"status\":\"resolved\"");
		vg_buf_puts(out, ",\"labels\":");
		vg_payload_labels(out, &a->labels);
		vg_buf_puts(out, ",\"annotations\":");
		vg_payload_labels(out, &a->annotations);
		vg_buf_puts(out, ",\"startsAt\":");
		vg_payload_time(out, a->starts_at_ms);
		vg_buf_puts(out, ",\"endsAt\":");
		vg_payload_time(out, a->is_firing ? 0 : a->ends_at_ms);
		vg_buf_puts(out, ",\"generatorURL\":");
		vg_payload_str(out, a->generator_url ? a->generator_url : "");
		vg_alert_fingerprint_hex(vg_alert_fingerprint(&a->labels), fp);
		vg_buf_printf(out, ",\"fingerprint\":\"%s\"}", fp);
	}
	vg_buf_puts(out, "],\"groupLabels\":");
	vg_payload_labels(out, &n->group_labels);
	vg_buf_puts(out, ",\"commonLabels\":");
	vg_payload_labels(out, &n->common_labels);
	vg_buf_puts(out, ",\"commonAnnotations\":");
	vg_payload_labels(out, &n->common_annotations);
	vg_buf_puts(out, ",\"externalURL\":");
	vg_payload_str(out, n->external_url ? n->external_url : "");
	vg_buf_puts(out, ",\"version\":\"4\",\"groupKey\":");
	vg_payload_str(out, n->group_key);
	vg_buf_printf(out, ",\"truncatedAlerts\":%llu}\n", (unsigned long long)n->truncated_alerts);
}

/* --- decoding ----------------------------------------------------------- */

void vg_payload_labels_release(struct vg_conf_labels *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->names[i]);
		free(l->values[i]);
	}
	free(l->names);
	free(l->values);
	memset(l, 0, sizeof(*l));
}

struct pair {
	char *name, *value;
};

static int cmp_pair(const void *a, const void *b)
{
	return strcmp(((const struct pair *)a)->name, ((const struct pair *)b)->name);
}

int vg_pj_labels(const json_t *obj, const char *what, struct vg_conf_labels *out, struct vg_err *err)
{
	const char *k;
	json_t *v;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (obj == NULL || json_is_null(obj))
		return 0;
	if (!json_is_object(obj))
		return vg_err_set(err, VG_EINVAL, "%s: expected an object of strings", what);
	if (json_object_size(obj) > MAX_LABELS)
		return vg_err_set(err, VG_ELIMIT, "%s: more than %d entries", what, MAX_LABELS);
	n = json_object_size(obj);
	if (n == 0)
		return 0;
	out->names = calloc(n, sizeof(char *));
	out->values = calloc(n, sizeof(char *));
	if (!out->names || !out->values)
		goto nomem;
	json_object_foreach((json_t *)obj, k, v) {
		if (!json_is_string(v)) {
			vg_payload_labels_release(out);
			return vg_err_set(err, VG_EINVAL, "%s: the value of \"%s\" is not a string", what,
					  strlen(k) < 64 ? k : "...");
		}
		if (strlen(k) == 0 || strlen(k) > MAX_STRING || json_string_length(v) > MAX_STRING ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			vg_payload_labels_release(out);
			return vg_err_set(err, VG_EINVAL, "%s: an empty, too long or NUL-holding name or value", what);
		}
		out->names[out->n] = strdup(k);
		out->values[out->n] = strdup(json_string_value(v));
		out->n++;
		if (!out->names[out->n - 1] || !out->values[out->n - 1])
			goto nomem;
	}
	/* Sort by name (jansson keeps insertion order). */
	{
		struct pair *pairs = malloc(n * sizeof(*pairs));
		if (!pairs)
			goto nomem;
		for (size_t i = 0; i < n; i++)
			pairs[i] = (struct pair){ out->names[i], out->values[i] };
		qsort(pairs, n, sizeof(*pairs), cmp_pair);
		for (size_t i = 0; i < n; i++) {
			out->names[i] = pairs[i].name;
			out->values[i] = pairs[i].value;
		}
		free(pairs);
	}
	return 0;
nomem:
	vg_payload_labels_release(out);
	return vg_err_set(err, VG_ENOMEM, "out of memory");
}

int vg_pj_time(const json_t *v, const char *what, int64_t *ms, struct vg_err *err)
{
	const char *s;

	*ms = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return vg_err_set(err, VG_EINVAL, "%s: expected an RFC 3339 time string", what);
	s = json_string_value(v);
	if (*s == '\0' || strncmp(s, "0001-01-01T00:00:00", 19) == 0)
		return 0;
	if (vg_time_parse(s, ms, err) != 0) {
		vg_err_prefix(err, "%s", what);
		return VG_EINVAL;
	}
	return 0;
}

int vg_pj_str(const json_t *v, const char *what, bool is_required, char **out, struct vg_err *err)
{
	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (is_required)
			return vg_err_set(err, VG_EINVAL, "%s: missing", what);
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) > MAX_STRING ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return vg_err_set(err, VG_EINVAL, "%s: expected a string (without NUL, at most %d bytes)", what,
				  MAX_STRING);
	*out = strdup(json_string_value(v));
	return *out ? 0 : vg_err_set(err, VG_ENOMEM, "out of memory");
}

void vg_pj_alert_release(struct vg_notify_alert *a)
{
	vg_payload_labels_release(&a->labels);
	vg_payload_labels_release(&a->annotations);
	free((char *)a->generator_url);
	a->generator_url = NULL;
}

int vg_pj_alert(const json_t *o, struct vg_notify_alert *a, struct vg_err *err)
{
	char *url = NULL;
	int r;

	memset(a, 0, sizeof(*a));
	if (!json_is_object(o))
		return vg_err_set(err, VG_EINVAL, "an alert must be an object");
	if ((r = vg_pj_labels(json_object_get(o, "labels"), "labels", &a->labels, err)) != 0)
		goto fail;
	if (a->labels.n == 0) {
		r = vg_err_set(err, VG_EINVAL, "labels: an alert needs at least one label");
		goto fail;
	}
	if ((r = vg_pj_labels(json_object_get(o, "annotations"), "annotations", &a->annotations, err)) != 0)
		goto fail;
	if ((r = vg_pj_time(json_object_get(o, "startsAt"), "startsAt", &a->starts_at_ms, err)) != 0 ||
	    (r = vg_pj_time(json_object_get(o, "endsAt"), "endsAt", &a->ends_at_ms, err)) != 0)
		goto fail;
	if ((r = vg_pj_str(json_object_get(o, "generatorURL"), "generatorURL", false, &url, err)) != 0)
		goto fail;
	a->generator_url = url;
	return 0;
fail:
	vg_pj_alert_release(a);
	return r;
}

void vg_payload_release(struct vg_payload *p)
{
	for (size_t i = 0; p->alerts && i < p->n.n_alerts; i++)
		vg_pj_alert_release(&p->alerts[i]);
	free(p->alerts);
	free(p->receiver);
	free(p->group_key);
	free(p->external_url);
	vg_payload_labels_release(&p->n.group_labels);
	vg_payload_labels_release(&p->n.common_labels);
	vg_payload_labels_release(&p->n.common_annotations);
	memset(p, 0, sizeof(*p));
}

int vg_pj_payload(const json_t *o, struct vg_payload *p, struct vg_err *err)
{
	const json_t *alerts, *status, *trunc;
	int r;

	memset(p, 0, sizeof(*p));
	if (!json_is_object(o))
		return vg_err_set(err, VG_EINVAL, "a message must be an object");
	if ((r = vg_pj_str(json_object_get(o, "receiver"), "receiver", true, &p->receiver, err)) != 0 ||
	    (r = vg_pj_str(json_object_get(o, "groupKey"), "groupKey", true, &p->group_key, err)) != 0 ||
	    (r = vg_pj_str(json_object_get(o, "externalURL"), "externalURL", false, &p->external_url, err)) != 0)
		goto fail;
	status = json_object_get(o, "status");
	if (!json_is_string(status) ||
	    (strcmp(json_string_value(status), "firing") != 0 && strcmp(json_string_value(status), "resolved") != 0)) {
		r = vg_err_set(err, VG_EINVAL, "status: expected \"firing\" or \"resolved\"");
		goto fail;
	}
	p->n.is_firing = strcmp(json_string_value(status), "firing") == 0;
	trunc = json_object_get(o, "truncatedAlerts");
	if (trunc != NULL && (!json_is_integer(trunc) || json_integer_value(trunc) < 0)) {
		r = vg_err_set(err, VG_EINVAL, "truncatedAlerts: expected a count");
		goto fail;
	}
	p->n.truncated_alerts = trunc ? (uint64_t)json_integer_value(trunc) : 0;
	if ((r = vg_pj_labels(json_object_get(o, "groupLabels"), "groupLabels", &p->n.group_labels, err)) != 0 ||
	    (r = vg_pj_labels(json_object_get(o, "commonLabels"), "commonLabels", &p->n.common_labels, err)) != 0 ||
	    (r = vg_pj_labels(json_object_get(o, "commonAnnotations"), "commonAnnotations",
			      &p->n.common_annotations, err)) != 0)
		goto fail;
	alerts = json_object_get(o, "alerts");
	if (!json_is_array(alerts)) {
		r = vg_err_set(err, VG_EINVAL, "alerts: expected a list");
		goto fail;
	}
	if (json_array_size(alerts) > MAX_ALERTS) {
		r = vg_err_set(err, VG_ELIMIT, "alerts: more than %d", MAX_ALERTS);
		goto fail;
	}
	if (json_array_size(alerts) > 0) {
		p->alerts = calloc(json_array_size(alerts), sizeof(*p->alerts));
		if (p->alerts == NULL) {
			r = vg_err_set(err, VG_ENOMEM, "out of memory");
			goto fail;
		}
	}
	for (size_t i = 0; i < json_array_size(alerts); i++) {
		const json_t *ao = json_array_get(alerts, i);
		const json_t *st = json_object_get(ao, "status");

		if ((r = vg_pj_alert(ao, &p->alerts[i], err)) != 0) {
			vg_err_prefix(err, "alerts[%zu]", i);
			goto fail;
		}
		p->n.n_alerts = i + 1;
		p->alerts[i].is_firing = !(json_is_string(st) && strcmp(json_string_value(st), "resolved") == 0);
		if (p->alerts[i].is_firing)
			p->alerts[i].ends_at_ms = 0;
	}
	p->n.receiver = p->receiver;
	p->n.group_key = p->group_key;
	p->n.external_url = p->external_url;
	p->n.alerts = p->alerts;
	return 0;
fail:
	vg_payload_release(p);
	return r;
}

int vg_pj_load(const char *text, size_t len, size_t max, json_t **out, struct vg_err *err)
{
	json_error_t je;

	*out = NULL;
	if (len > max)
		return vg_err_set(err, VG_ELIMIT, "a body larger than %zu bytes", max);
	*out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (*out == NULL)
		return vg_err_set(err, VG_EINVAL, "not JSON: %s (offset %d)", je.text, je.position);
	return 0;
}

int vg_payload_decode(const char *text, size_t len, struct vg_payload *out, struct vg_err *err)
{
	json_t *o;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = vg_pj_load(text, len, MAX_INPUT, &o, err)) != 0)
		return r;
	r = vg_pj_payload(o, out, err);
	json_decref(o);
	return r;
}
