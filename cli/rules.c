/*
 * rules.c: `vigil rules check` and `vigil alerts` (rules.h).
 *
 * The check loads each file with the receiver's loader, so the CLI and a
 * reload refuse exactly the same files with the same messages.
 */
#include "cli/rules.h"
#include "cli/http.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "receiver/alert/rulefile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/banned.h"

int vg_cli_rules_check(int n_files, char *const *files, bool is_prometheus)
{
	struct vg_rule_load_options opts = { 0, is_prometheus };
	bool is_failed = false;

	for (int i = 0; i < n_files; i++) {
		struct vg_rule_set *set = vg_rule_set_new();
		struct vg_err err;
		int rc;

		printf("Checking %s\n", files[i]);
		fflush(stdout);
		if (set == NULL) {
			vg_err_set(&err, VG_ENOMEM, "out of memory");
			rc = VG_ENOMEM;
		} else {
			rc = vg_rule_set_add_file(set, files[i], &opts, &err);
		}
		if (rc != 0) {
			is_failed = true;
			fprintf(stderr, "  FAILED:\n%s\n", err.msg);
		} else {
			printf("  SUCCESS: %zu rules found\n", vg_rule_set_count(set));
		}
		printf("\n");
		fflush(stdout);
		vg_rule_set_free(set);
	}
	return is_failed ? 1 : 0;
}

/* "3m20s", "2h5m", "4d1h": the two largest units of an age. */
static void format_age(int64_t ms, char *out, size_t cap)
{
	int64_t s = ms < 0 ? 0 : ms / 1000;

	if (s < 60)
		snprintf(out, cap, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(out, cap, "%lldm%llds", (long long)(s / 60), (long long)(s % 60));
	else if (s < 86400)
		snprintf(out, cap, "%lldh%lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
	else
		snprintf(out, cap, "%lldd%lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
}

static int bad_shape(struct vg_err *err)
{
	return vg_err_set(err, VG_EPROTO, "unexpected response from /api/v1/alerts");
}

int vg_cli_alerts(const struct vg_http_client *client, enum vg_output_format format, int64_t now_ms,
		  struct vg_buf *out, struct vg_err *err)
{
	json_t *doc = NULL, *alerts, *a;
	size_t i;
	int rc;

	rc = vg_http_get(client, "/api/v1/alerts", NULL, 0, &doc, err);
	if (rc != 0)
		return rc;
	if (format == VG_OUTPUT_JSON) {
		char *s = json_dumps(json_object_get(doc, "data"), JSON_INDENT(2));
		if (s == NULL) {
			json_decref(doc);
			return vg_err_set(err, VG_ENOMEM, "out of memory");
		}
		vg_buf_printf(out, "%s\n", s);
		free(s);
		json_decref(doc);
		return 0;
	}
	alerts = json_object_get(json_object_get(doc, "data"), "alerts");
	if (!json_is_array(alerts)) {
		json_decref(doc);
		return bad_shape(err);
	}
	if (format == VG_OUTPUT_TABLE)
		vg_buf_printf(out, "%-8s %-9s %-12s %-9s %s\n", "STATE", "AGE", "ACK", "SILENCED", "ALERT");
	else
		vg_buf_puts(out, "state,active_at,age_seconds,acked_by,ack_id,silenced_by,alertname,labels\n");
	json_array_foreach(alerts, i, a) {
		const char *state = json_string_value(json_object_get(a, "state"));
		const char *active = json_string_value(json_object_get(a, "activeAt"));
		json_t *labels = json_object_get(a, "labels"), *ack;
		const char *by, *ack_id, *sil;
		const char *name = json_string_value(json_object_get(labels, "alertname"));
		struct vg_buf lb = VG_BUF_INIT;
		const char *k;
		json_t *v;
		int64_t at = 0;
		char age[32];
		bool is_first = true;

		if (state == NULL || active == NULL || name == NULL || !json_is_object(labels) ||
		    vg_time_parse(active, &at, NULL) != 0) {
			json_decref(doc);
			return bad_shape(err);
		}
		json_object_foreach(labels, k, v) {
			if (strcmp(k, "alertname") == 0 || !json_is_string(v))
				continue;
			vg_buf_printf(&lb, "%s%s=\"%s\"", is_first ? "" : ",", k, json_string_value(v));
			is_first = false;
		}
		format_age(now_ms - at, age, sizeof(age));
		/* The notifier's view (absent without an alerting: section). */
		ack = json_object_get(a, "ack");
		by = json_string_value(json_object_get(ack, "createdBy"));
		ack_id = json_string_value(json_object_get(ack, "id"));
		sil = json_string_value(json_array_get(json_object_get(a, "silencedBy"), 0));
		if (sil == NULL && json_array_size(json_object_get(a, "inhibitedBy")) > 0)
			sil = "inhibited";
		if (format == VG_OUTPUT_TABLE)
			vg_buf_printf(out, "%-8s %-9s %-12.12s %-9.9s %s{%s}\n", state, age, by ? by : "-", sil ? sil : "-",
				      name, vg_buf_cstr(&lb));
		else {
			struct vg_buf braced = VG_BUF_INIT;
			vg_buf_printf(&braced, "{%s}", vg_buf_cstr(&lb));
			vg_buf_printf(out, "%s,%s,%lld,", state, active, (long long)((now_ms - at) / 1000));
			vg_output_csv_field(out, by ? by : "", by ? strlen(by) : 0);
			vg_buf_printf(out, ",%s,", ack_id ? ack_id : "");
			vg_output_csv_field(out, sil ? sil : "", sil ? strlen(sil) : 0);
			vg_buf_putc(out, ',');
			vg_output_csv_field(out, name, strlen(name));
			vg_buf_putc(out, ',');
			vg_output_csv_field(out, vg_buf_cstr(&braced), braced.len);
			vg_buf_putc(out, '\n');
			vg_buf_release(&braced);
		}
		vg_buf_release(&lb);
	}
	if (json_array_size(alerts) == 0 && format == VG_OUTPUT_TABLE)
		vg_buf_reset(out); /* main says "no alerts" */
	json_decref(doc);
	return 0;
}
