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

static int refused(long status, const struct vg_buf *body)
{
	return vg_cli_am_refused("silence", status, body);
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

static void time_text(int64_t ms, char *out, size_t cap)
{
	vg_time_format_rfc3339(ms, out, cap);
}

static int silence_add(const struct vg_http_client *client, const struct vg_silence_options *o, int argc,
		       char **argv)
{
	json_t *body = NULL, *ms = NULL, *reply = NULL;
	const char *author = o->author ? o->author : getenv("USER");
	struct vg_buf out = VG_BUF_INIT;
	char t[64], *text = NULL;
	long status;
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
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (text == NULL) {
		fputs("vigil: out of memory\n", stderr);
		return EXIT_REFUSED;
	}
	if ((rc = vg_cli_am_request(client, "POST", "/api/v2/silences", text, &status, &out)) >= 0)
		goto out;
	if (status != 200) {
		rc = refused(status, &out);
		goto out;
	}
	reply = json_loadb((const char *)out.data, out.len, 0, NULL);
	if (!json_is_string(json_object_get(reply, "silenceID"))) {
		fputs("vigil: silence: the answer holds no silenceID\n", stderr);
		rc = EXIT_UNREACHABLE;
		goto out;
	}
	puts(json_string_value(json_object_get(reply, "silenceID")));
	rc = EXIT_OK;
out:
	json_decref(reply);
	free(text);
	vg_buf_release(&out);
	return rc;
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

void vg_cli_print_matchers(const json_t *ms)
{
	size_t i;
	json_t *m;

	json_array_foreach(ms, i, m) {
		bool is_re = json_is_true(json_object_get(m, "isRegex"));
		json_t *eq = json_object_get(m, "isEqual");
		bool is_eq = eq == NULL || json_is_true(eq);
		printf("%s%s%s\"%s\"", i ? "," : "", json_string_value(json_object_get(m, "name")),
		       is_re ? (is_eq ? "=~" : "!~") : (is_eq ? "=" : "!="), json_string_value(json_object_get(m, "value")));
	}
}

int vg_cli_am_get_list(const struct vg_http_client *client, const char *cmd, const char *path, bool is_json,
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

static int silence_list(const struct vg_http_client *client, const struct vg_silence_options *o)
{
	json_t *list, *s;
	size_t i;
	int rc;

	if ((rc = vg_cli_am_get_list(client, "silence", "/api/v2/silences", o->is_json, &list)) >= 0)
		return rc;
	if (!o->is_quiet)
		puts("ID\tSTATE\tMATCHERS\tSTARTS\tENDS\tCREATED BY\tCOMMENT");
	json_array_foreach(list, i, s) {
		const char *state = json_string_value(json_object_get(json_object_get(s, "status"), "state"));
		if (state && strcmp(state, "expired") == 0 && !o->is_expired)
			continue;
		if (o->is_quiet) {
			puts(json_string_value(json_object_get(s, "id")));
			continue;
		}
		printf("%s\t%s\t", json_string_value(json_object_get(s, "id")), state ? state : "?");
		vg_cli_print_matchers(json_object_get(s, "matchers"));
		printf("\t%s\t%s\t%s\t%s\n", json_string_value(json_object_get(s, "startsAt")),
		       json_string_value(json_object_get(s, "endsAt")), json_string_value(json_object_get(s, "createdBy")),
		       json_string_value(json_object_get(s, "comment")));
	}
	json_decref(list);
	return EXIT_OK;
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
