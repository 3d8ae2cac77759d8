/*
 * ack.c: `vigil ack` (ack.h). An ack takes matchers as a silence does
 * (silence.c's reader); the server covers the alerts firing now that
 * they match and refuses an ack that matches none.
 */
#include "cli/ack.h"

#include "cli/http.h"
#include "cli/silence.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/banned.h"

enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

static int usage(const char *msg)
{
	return vg_cli_am_usage("ack", msg);
}

static int ack_add(const struct vg_http_client *client, const struct vg_ack_options *o, int argc, char **argv)
{
	const char *author = o->author ? o->author : getenv("USER");
	json_t *body, *ms, *reply = NULL;
	struct vg_buf out = VG_BUF_INIT;
	char t[64], *text;
	long status;
	int rc;

	if (argc == 0)
		return usage("add: at least one MATCHER (name=value, name=~regex, ...)");
	if (author == NULL || *author == '\0')
		return usage("add: --author (or $USER) says who");
	if ((ms = vg_cli_matchers_json("ack", argc, argv, &rc)) == NULL)
		return rc;
	vg_time_format_rfc3339(o->expires_ms, t, sizeof(t));
	body = json_pack("{s:o, s:s, s:s, s:s}", "matchers", ms, "createdBy", author, "comment",
			 o->comment ? o->comment : "", "expiresAt", t);
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text == NULL) {
		fputs("vigil: out of memory\n", stderr);
		return EXIT_REFUSED;
	}
	if ((rc = vg_cli_am_request(client, "POST", "/api/v2/acks", text, &status, &out)) >= 0)
		goto out;
	if (status != 200) {
		rc = vg_cli_am_refused("ack", status, &out);
		goto out;
	}
	reply = json_loadb((const char *)out.data, out.len, 0, NULL);
	if (!json_is_string(json_object_get(reply, "ackID"))) {
		fputs("vigil: ack: the answer holds no ackID\n", stderr);
		rc = EXIT_UNREACHABLE;
		goto out;
	}
	puts(json_string_value(json_object_get(reply, "ackID")));
	rc = EXIT_OK;
out:
	json_decref(reply);
	free(text);
	vg_buf_release(&out);
	return rc;
}

static int ack_list(const struct vg_http_client *client, const struct vg_ack_options *o)
{
	json_t *list, *a;
	size_t i;
	int rc;

	if ((rc = vg_cli_am_get_list(client, "ack", "/api/v2/acks", o->is_json, &list)) >= 0)
		return rc;
	if (!o->is_quiet)
		puts("ID\tSTATE\tMATCHERS\tALERTS\tSTARTS\tEXPIRES\tCREATED BY\tCOMMENT");
	json_array_foreach(list, i, a) {
		const char *state = json_string_value(json_object_get(json_object_get(a, "status"), "state"));
		const char *id = json_string_value(json_object_get(a, "id"));
		json_t *al, *e;
		size_t k, held = 0;

		if (id == NULL || (state && strcmp(state, "active") != 0 && !o->is_expired))
			continue;
		if (o->is_quiet) {
			puts(id);
			continue;
		}
		al = json_object_get(a, "alerts");
		json_array_foreach(al, k, e) {
			const char *s = json_string_value(json_object_get(e, "state"));
			held += s && strcmp(s, "acknowledged") == 0;
		}
		printf("%s\t%s\t", id, state ? state : "?");
		vg_cli_print_matchers(json_object_get(a, "matchers"));
		printf("\t%zu/%zu\t%s\t%s\t%s\t%s\n", held, json_array_size(al),
		       json_string_value(json_object_get(a, "startsAt")), json_string_value(json_object_get(a, "expiresAt")),
		       json_string_value(json_object_get(a, "createdBy")), json_string_value(json_object_get(a, "comment")));
	}
	json_decref(list);
	return EXIT_OK;
}

int vg_cli_ack(const struct vg_http_client *client, const struct vg_ack_options *o, int argc, char **argv)
{
	if (argc == 0)
		return usage("missing MATCHER..., add, list or expire");
	if (strcmp(argv[0], "add") == 0)
		return ack_add(client, o, argc - 1, argv + 1);
	if (strcmp(argv[0], "list") == 0 || strcmp(argv[0], "query") == 0) {
		if (argc > 1)
			return usage("list: takes no operands");
		return ack_list(client, o);
	}
	if (strcmp(argv[0], "expire") == 0)
		return vg_cli_am_expire(client, "ack", "/api/v2/ack/", argc - 1, argv + 1);
	if (strpbrk(argv[0], "=!~") != NULL)
		return ack_add(client, o, argc, argv);
	return usage("unknown subcommand (add, list or expire, or a MATCHER)");
}
