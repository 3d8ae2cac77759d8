/*
 * silence.c: `vigil silence` (silence.h). Matchers are read with
 * common/matchers.h (the text amtool and route matchers use) and sent in
 * the API's structured form; times are the API's RFC 3339.
 */
#include "cli/silence.h"

#include "cli/http.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/matchers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/banned.h"

enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

int vg_cli_am_usage(const char *cmd, const char *msg)
{
	fprintf(stderr, "vigil: %s: %s\nTry 'vigil help %s'.\n", cmd, msg, cmd);
	return EXIT_USAGE;
}

static int usage(const char *msg)
{
	return vg_cli_am_usage("silence", msg);
}

int vg_cli_am_refused(const char *cmd, long status, const struct vg_buf *body)
{
	json_t *msg = json_loadb((const char *)body->data, body->len, JSON_DECODE_ANY, NULL);
	bool is_api = json_is_string(msg);

	fprintf(stderr, "vigil: %s: HTTP %ld: %s\n", cmd, status,
		is_api ? json_string_value(msg) : (status == 404 ? "not found (no alerting: section?)" : "refused"));
	json_decref(msg);
	return status == 404 && !is_api ? EXIT_UNREACHABLE : EXIT_REFUSED;
}

int vg_cli_am_request(const struct vg_http_client *client, const char *method, const char *path, const char *body,
		      long *status, struct vg_buf *out)
{
	struct vg_err err;

	if (vg_http_request(client, method, path, body, body ? strlen(body) : 0, status, out, &err) != 0) {
		fprintf(stderr, "vigil: %s\n", err.msg);
		return err.code == VG_EIO ? EXIT_UNREACHABLE : EXIT_REFUSED;
	}
	return -1;
}

int vg_cli_am_create(const struct vg_http_client *client, const char *cmd, const char *path, struct json_t *body,
		     const char *id_key)
{
	json_t *reply = NULL;
	struct vg_buf out = VG_BUF_INIT;
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	long status;
	int rc;

	json_decref(body);
	if (text == NULL) {
		fputs("vigil: out of memory\n", stderr);
		return EXIT_REFUSED;
	}
	if ((rc = vg_cli_am_request(client, "POST", path, text, &status, &out)) >= 0)
		goto out;
	if (status != 200) {
		rc = vg_cli_am_refused(cmd, status, &out);
		goto out;
	}
	reply = json_loadb((const char *)out.data, out.len, 0, NULL);
	if (!json_is_string(json_object_get(reply, id_key))) {
		fprintf(stderr, "vigil: %s: the answer holds no %s\n", cmd, id_key);
		rc = EXIT_UNREACHABLE;
		goto out;
	}
	puts(json_string_value(json_object_get(reply, id_key)));
	rc = EXIT_OK;
out:
	json_decref(reply);
	free(text);
	vg_buf_release(&out);
	return rc;
}

static void time_text(int64_t ms, char *out, size_t cap)
{
	vg_time_format_rfc3339(ms, out, cap);
}

static int silence_add(const struct vg_http_client *client, const struct vg_silence_options *o, int argc,
		       char **argv)
{
	json_t *body = NULL, *ms = NULL;
	const char *author = o->author ? o->author : getenv("USER");
	char t[64];
	int rc;

	if (argc == 0)
		return usage("add: at least one MATCHER (name=value, name=~regex, ...)");
	if (o->comment == NULL || *o->comment == '\0')
		return usage("add: --comment says why");
	if (author == NULL || *author == '\0')
		return usage("add: --author (or $USER) says who");
	if (o->end_ms <= o->start_ms)
		return usage("add: the silence must end after it starts");
	if ((ms = vg_cli_matchers_json("silence", argc, argv, &rc)) == NULL)
		return rc;
	body = json_object();
	if (body == NULL) {
		json_decref(ms);
		fputs("vigil: out of memory\n", stderr);
		return EXIT_REFUSED;
	}
	json_object_set_new(body, "matchers", ms);
	time_text(o->start_ms, t, sizeof(t));
	json_object_set_new(body, "startsAt", json_string(t));
	time_text(o->end_ms, t, sizeof(t));
	json_object_set_new(body, "endsAt", json_string(t));
	json_object_set_new(body, "createdBy", json_string(author));
	json_object_set_new(body, "comment", json_string(o->comment));
	return vg_cli_am_create(client, "silence", "/api/v2/silences", body, "silenceID");
}

json_t *vg_cli_matchers_json(const char *cmd, int argc, char **argv, int *rc)
{
	json_t *ms = json_array();

	if (ms == NULL) {
		fputs("vigil: out of memory\n", stderr);
		*rc = EXIT_REFUSED;
		return NULL;
	}
	for (int i = 0; i < argc; i++) {
		struct vg_matcher_text m;
		struct vg_err err;
		json_t *j;

		if (vg_matcher_text_parse(argv[i], &m, &err) != 0) {
			char msg[700];
			snprintf(msg, sizeof(msg), "add: matcher '%s': %s", argv[i], err.msg);
			json_decref(ms);
			*rc = vg_cli_am_usage(cmd, msg);
			return NULL;
		}
		j = json_pack("{s:s, s:s, s:b, s:b}", "name", m.name, "value", m.value, "isRegex",
			      m.op == VG_MATCH_RE || m.op == VG_MATCH_NRE, "isEqual", m.op == VG_MATCH_EQ || m.op == VG_MATCH_RE);
		json_array_append_new(ms, j);
		vg_matcher_text_release(&m);
	}
	return ms;
}

/* GET path: -1 with the list of objects in *list (caller json_decref's),
 * or an exit status after printing (the JSON as it came when is_json). */
static int get_list(const struct vg_http_client *client, const char *cmd, const char *path, bool is_json,
		    json_t **list)
{
	struct vg_buf out = VG_BUF_INIT;
	long status;
	int rc;

	*list = NULL;
	if ((rc = vg_cli_am_request(client, "GET", path, NULL, &status, &out)) >= 0)
		goto out;
	if (status != 200) {
		rc = vg_cli_am_refused(cmd, status, &out);
		goto out;
	}
	*list = json_loadb((const char *)out.data, out.len, 0, NULL);
	if (!json_is_array(*list)) {
		fprintf(stderr, "vigil: %s: the answer is not a list\n", cmd);
		rc = EXIT_UNREACHABLE;
	} else if (is_json) {
		fwrite(out.data, 1, out.len, stdout);
		rc = EXIT_OK;
	}
out:
	if (rc >= 0) {
		json_decref(*list);
		*list = NULL;
	}
	vg_buf_release(&out);
	return rc;
}

/* A string member of o, or "" when it has none. */
static const char *text_of(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* A matchers list as name="value",name=~"re". */
static void print_matchers(const json_t *ms, struct vg_buf *out)
{
	size_t i;
	json_t *m;

	json_array_foreach(ms, i, m) {
		bool is_re = json_is_true(json_object_get(m, "isRegex"));
		json_t *eq = json_object_get(m, "isEqual");
		bool is_eq = eq == NULL || json_is_true(eq);
		vg_buf_printf(out, "%s%s%s\"%s\"", i ? "," : "", text_of(m, "name"),
			      is_re ? (is_eq ? "=~" : "!~") : (is_eq ? "=" : "!="), text_of(m, "value"));
	}
}

void vg_cli_am_print_list(const json_t *list, const struct vg_cli_am_columns *how, bool is_expired,
			  bool is_quiet, struct vg_buf *out)
{
	size_t i;
	json_t *o;

	if (!is_quiet)
		vg_buf_printf(out, "ID\tSTATE\tMATCHERS\t%sSTARTS\t%s\tCREATED BY\tCOMMENT\n",
			      how->held_state ? "ALERTS\t" : "", how->ends_title);
	json_array_foreach(list, i, o) {
		const char *state = json_string_value(json_object_get(json_object_get(o, "status"), "state"));
		const char *id = json_string_value(json_object_get(o, "id"));
		bool is_hidden = state && (how->is_active_only ? strcmp(state, "active") != 0
							      : strcmp(state, "expired") == 0);

		if (id == NULL || *id == '\0' || (is_hidden && !is_expired))
			continue;
		if (is_quiet) {
			vg_buf_printf(out, "%s\n", id);
			continue;
		}
		vg_buf_printf(out, "%s\t%s\t", id, state ? state : "?");
		print_matchers(json_object_get(o, "matchers"), out);
		if (how->held_state) {
			const json_t *alerts = json_object_get(o, "alerts");
			size_t k, held = 0;
			json_t *e;
			json_array_foreach(alerts, k, e) {
				const char *s = json_string_value(json_object_get(e, "state"));
				held += s && strcmp(s, how->held_state) == 0;
			}
			vg_buf_printf(out, "\t%zu/%zu", held, json_array_size(alerts));
		}
		vg_buf_printf(out, "\t%s\t%s\t%s\t%s\n", text_of(o, "startsAt"), text_of(o, how->ends_key),
			      text_of(o, "createdBy"), text_of(o, "comment"));
	}
}

int vg_cli_am_list(const struct vg_http_client *client, const char *cmd, const char *path,
		   const struct vg_cli_am_columns *how, bool is_expired, bool is_json, bool is_quiet)
{
	struct vg_buf out = VG_BUF_INIT;
	json_t *list;
	int rc;

	if ((rc = get_list(client, cmd, path, is_json, &list)) >= 0)
		return rc;
	vg_cli_am_print_list(list, how, is_expired, is_quiet, &out);
	json_decref(list);
	if (vg_buf_failed(&out)) {
		fputs("vigil: out of memory\n", stderr);
		rc = EXIT_REFUSED;
	} else if ((out.len && fwrite(out.data, 1, out.len, stdout) != out.len) || fflush(stdout) != 0) {
		fprintf(stderr, "vigil: %s: cannot write the list\n", cmd);
		rc = EXIT_REFUSED;
	} else {
		rc = EXIT_OK;
	}
	vg_buf_release(&out);
	return rc;
}

static int silence_list(const struct vg_http_client *client, const struct vg_silence_options *o)
{
	static const struct vg_cli_am_columns how = { "endsAt", "ENDS", NULL, false };

	return vg_cli_am_list(client, "silence", "/api/v2/silences", &how, o->is_expired, o->is_json, o->is_quiet);
}

int vg_cli_am_expire(const struct vg_http_client *client, const char *cmd, const char *path_prefix, int argc,
		     char **argv)
{
	int worst = EXIT_OK;

	if (argc == 0)
		return vg_cli_am_usage(cmd, "expire: at least one ID");
	for (int i = 0; i < argc; i++) {
		struct vg_buf out = VG_BUF_INIT, path = VG_BUF_INIT;
		long status;
		int rc;

		for (const char *p = argv[i]; *p; p++)
			if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F') || *p == '-')) {
				vg_buf_release(&path);
				return vg_cli_am_usage(cmd, "expire: an ID is hexadecimal with dashes");
			}
		vg_buf_printf(&path, "%s%s", path_prefix, argv[i]);
		rc = vg_cli_am_request(client, "DELETE", vg_buf_cstr(&path), NULL, &status, &out);
		if (rc < 0 && status != 200)
			rc = vg_cli_am_refused(cmd, status, &out);
		if (rc > worst)
			worst = rc;
		vg_buf_release(&out);
		vg_buf_release(&path);
	}
	return worst;
}

int vg_cli_silence(const struct vg_http_client *client, const struct vg_silence_options *o, int argc, char **argv)
{
	if (argc == 0)
		return usage("missing add, list or expire");
	if (strcmp(argv[0], "add") == 0)
		return silence_add(client, o, argc - 1, argv + 1);
	if (strcmp(argv[0], "list") == 0 || strcmp(argv[0], "query") == 0) {
		if (argc > 1)
			return usage("list: takes no operands");
		return silence_list(client, o);
	}
	if (strcmp(argv[0], "expire") == 0)
		return vg_cli_am_expire(client, "silence", "/api/v2/silence/", argc - 1, argv + 1);
	return usage("unknown subcommand (add, list or expire)");
}
