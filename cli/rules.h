/*
 * rules.h: the CLI's rule commands: `vigil rules check FILE...` (local,
 * through the receiver's own loader, receiver/alert/rulefile.h) and
 * `vigil alerts` (the receiver's /api/v1/alerts as a table).
 */
#ifndef VG_CLI_RULES_H
#define VG_CLI_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "cli/output.h"

struct vg_buf;
struct vg_err;
struct vg_http_client;

/* As `promtool check rules`: "Checking FILE" then "  SUCCESS: N rules
 * found" on stdout, or "  FAILED:" and the reason on stderr, a blank line
 * after each file. 0 when every file passed, else 1. */
int vg_cli_rules_check(int n_files, char *const *files, bool is_prometheus);

/* Renders the firing and pending alerts (GET /api/v1/alerts) into out:
 * STATE, AGE (since activeAt, by now_ms), ALERT and its labels; JSON as
 * it came. 0, or an error code of cli/http.h with err set. */
int vg_cli_alerts(const struct vg_http_client *client, enum vg_output_format format, int64_t now_ms,
		  struct vg_buf *out, struct vg_err *err);

#endif
