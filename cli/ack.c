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
	json_t *body, *ms;
	char t[64];
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
	return vg_cli_am_create(client, "ack", "/api/v2/acks", body, "ackID");
}

static int ack_list(const struct vg_http_client *client, const struct vg_ack_options *o)
{
	static const struct vg_cli_am_columns how = { "expiresAt", "EXPIRES", "acknowledged", true };

	return vg_cli_am_list(client, "ack", "/api/v2/acks", &how, o->is_expired, o->is_json, o->is_quiet);
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
