/*
 * silence.h: `vigil silence add|list|expire`, through the receiver's
 * Alertmanager API v2 (/api/v2/silences, /api/v2/silence/{id};
 * receiver/alert/notifier_api.c), as amtool's silence commands.
 * Returns the command's exit status (main.c's: 0 done, 1 refused by the
 * server, 2 usage, 3 no server or not the API) and prints its messages.
 */
#ifndef VG_CLI_SILENCE_H
#define VG_CLI_SILENCE_H

#include <stdbool.h>
#include <stdint.h>

struct vg_http_client;

struct vg_silence_options {
	const char *author;  /* --author; default $USER */
	const char *comment; /* --comment; required for add */
	int64_t start_ms;    /* --start; default now */
	int64_t end_ms;      /* --end, or start + --duration (default 1h) */
	bool is_expired;     /* list: include expired silences */
	bool is_json;        /* -o json: the API's JSON as it came */
	bool is_quiet;       /* list -q: ids only */
};

/* argv[0] is add, list or expire; the rest its operands (matchers for
 * add, ids for expire). */
int vg_cli_silence(const struct vg_http_client *client, const struct vg_silence_options *o, int argc, char **argv);

#endif
