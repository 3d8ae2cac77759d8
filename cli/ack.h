/*
 * ack.h: `vigil ack [add] MATCHER...|list|expire`, through the receiver's
 * acks API (/api/v2/acks, /api/v2/ack/{id}; receiver/alert/
 * notifier_ack_api.c), shaped as `vigil silence`. Returns the command's
 * exit status (main.c's: 0 done, 1 refused by the server, 2 usage, 3 no
 * server or not the API) and prints its messages.
 */
#ifndef VG_CLI_ACK_H
#define VG_CLI_ACK_H

#include <stdbool.h>
#include <stdint.h>

struct vg_http_client;

struct vg_ack_options {
	const char *author;  /* --author; default $USER */
	const char *comment; /* --comment; may be NULL */
	int64_t expires_ms;  /* --expires (a time, or a duration from now; default 24h) */
	bool is_expired;     /* list: resolved and expired acks too */
	bool is_json;        /* -o json: the API's JSON as it came */
	bool is_quiet;       /* list -q: ids only */
};

/* argv[0] is add, list or expire, or the first MATCHER (add). */
int vg_cli_ack(const struct vg_http_client *client, const struct vg_ack_options *o, int argc, char **argv);

#endif
