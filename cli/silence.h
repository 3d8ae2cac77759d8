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

/* What `vigil silence` and `vigil ack` (ack.c) share; cmd names the
 * command in messages. */
struct json_t;
struct vg_buf;
/* A usage message; returns 2. */
int vg_cli_am_usage(const char *cmd, const char *msg);
/* The server's answer when it is not a success: its message; 1, or 3
 * when the path is not the API. */
int vg_cli_am_refused(const char *cmd, long status, const struct vg_buf *body);
/* -1 with the answer in *status and out, or an exit status. */
int vg_cli_am_request(const struct vg_http_client *client, const char *method, const char *path, const char *body,
		      long *status, struct vg_buf *out);
/* POSTs body (taken: freed here) to path and prints the new object's
 * id, the answer's id_key ("silenceID", "ackID"); an exit status. */
int vg_cli_am_create(const struct vg_http_client *client, const char *cmd, const char *path, struct json_t *body,
		     const char *id_key);
/* MATCHER texts into the API's matchers list, or NULL with *rc. */
struct json_t *vg_cli_matchers_json(const char *cmd, int argc, char **argv, int *rc);
/* The columns of a list of silences or acks: ID, STATE, MATCHERS,
 * ALERTS (with held_state), STARTS, then the end, CREATED BY and COMMENT. */
struct vg_cli_am_columns {
	const char *ends_key;   /* the object's end: "endsAt", "expiresAt" */
	const char *ends_title; /* its column: "ENDS", "EXPIRES" */
	const char *held_state; /* ALERTS counts the alerts in it, of all; NULL: no column */
	bool is_active_only;    /* hidden without is_expired: all but active (else the expired) */
};
/* The objects of list as a table (is_quiet: their IDs, a line each)
 * appended to out; an object without an ID is skipped. */
void vg_cli_am_print_list(const struct json_t *list, const struct vg_cli_am_columns *how, bool is_expired,
			  bool is_quiet, struct vg_buf *out);
/* GET path and print the list there as how says (with is_json the JSON as
 * it came); the exit status. */
int vg_cli_am_list(const struct vg_http_client *client, const char *cmd, const char *path,
		   const struct vg_cli_am_columns *how, bool is_expired, bool is_json, bool is_quiet);
/* DELETE path_prefix ID for each ID. */
int vg_cli_am_expire(const struct vg_http_client *client, const char *cmd, const char *path_prefix, int argc,
		     char **argv);

#endif
