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

static int usage(const char *msg)
{
	fprintf(stderr, "vigil: silence: %s\nTry 'vigil help silence'.\n", msg);
	return EXIT_USAGE;
}

/* The server's answer when it is not a success: its message, exit 1. */
static int refused(long status, const struct vg_buf *body)
{
	json_t *msg = json_loadb((const char *)body->data, body->len, JSON_DECODE_ANY, NULL);
	bool is_api = json_is_string(msg);

	fprintf(stderr, "vigil: silence: HTTP %ld: %s\n", status,
		is_api ? json_string_value(msg) : (status == 404 ? "not found (no alerting: section?)" : "refused"));
	json_decref(msg);
	return status == 404 && !is_api ? EXIT_UNREACHABLE : EXIT_REFUSED;
}

static int request(const struct vg_http_client *client, const char *method, const char *path, const char *body,
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
	body = json_object();
	ms = json_array();
	if (body == NULL || ms == NULL) {
		json_decref(body);
		json_decref(ms);
		fputs("vigil: out of memory\n", stderr);
		return EXIT_REFUSED;
	}
	for (int i = 0; i < argc; i++) {
		struct vg_matcher_text m;
		struct vg_err err;
		json_t *j;

		if (vg_matcher_text_parse(argv[i], &m, &err) != 0) {
			char msg[700];
			snprintf(msg, sizeof(msg), "add: matcher '%s': %s", argv[i], err.msg);
			json_decref(body);
			json_decref(ms);
			return usage(msg);
		}
		j = json_pack("{s:s, s:s, s:b, s:b}", "name", m.name, "value", m.value, "isRegex",
			      m.op == VG_MATCH_RE || m.op == VG_MATCH_NRE, "isEqual", m.op == VG_MATCH_EQ || m.op == VG_MATCH_RE);
		json_array_append_new(ms, j);
		vg_matcher_text_release(&m);
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
	if ((rc = request(client, "POST", "/api/v2/silences", text, &status, &out)) >= 0)
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

static void print_matchers(const json_t *ms)
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

static int silence_list(const struct vg_http_client *client, const struct vg_silence_options *o)
{
	struct vg_buf out = VG_BUF_INIT;
	json_t *list = NULL, *s;
	long status;
	size_t i;
	int rc;

	if ((rc = request(client, "GET", "/api/v2/silences", NULL, &status, &out)) >= 0)
		goto out;
	if (status != 200) {
		rc = refused(status, &out);
		goto out;
	}
	list = json_loadb((const char *)out.data, out.len, 0, NULL);
	if (!json_is_array(list)) {
		fputs("vigil: silence: the answer is not a list of silences\n", stderr);
		rc = EXIT_UNREACHABLE;
		goto out;
	}
	if (o->is_json) {
		fwrite(out.data, 1, out.len, stdout);
		rc = EXIT_OK;
		goto out;
	}
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
		print_matchers(json_object_get(s, "matchers"));
		printf("\t%s\t%s\t%s\t%s\n", json_string_value(json_object_get(s, "startsAt")),
		       json_string_value(json_object_get(s, "endsAt")), json_string_value(json_object_get(s, "createdBy")),
		       json_string_value(json_object_get(s, "comment")));
	}
	rc = EXIT_OK;
out:
	json_decref(list);
	vg_buf_release(&out);
	return rc;
}

static int silence_expire(const struct vg_http_client *client, int argc, char **argv)
{
	int worst = EXIT_OK;

	if (argc == 0)
		return usage("expire: at least one silence ID");
	for (int i = 0; i < argc; i++) {
		struct vg_buf out = VG_BUF_INIT, path = VG_BUF_INIT;
		long status;
		int rc;

		for (const char *p = argv[i]; *p; p++)
			if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F') || *p == '-')) {
				vg_buf_release(&path);
				return usage("expire: a silence ID is hexadecimal with dashes");
			}
		vg_buf_printf(&path, "/api/v2/silence/%s", argv[i]);
		rc = request(client, "DELETE", vg_buf_cstr(&path), NULL, &status, &out);
		if (rc < 0 && status != 200)
			rc = refused(status, &out);
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
		return silence_expire(client, argc - 1, argv + 1);
	return usage("unknown subcommand (add, list or expire)");
}
