/*
 * status.h: `vigil status`, the receiver's state (GET /api/v1/status/vigil,
 * docs/http-status.md) in a terminal: build and uptime, ingest rate,
 * series, the WAL, the blocks of each tier, queries and members.
 */
#ifndef VG_CLI_STATUS_H
#define VG_CLI_STATUS_H

#include "cli/output.h"

struct vg_buf;
struct vg_err;
struct vg_http_client;

/* Renders the status into out: "name  value" lines and a table of tiers
 * (table and csv: csv is the tiers' table alone), or the data object as
 * JSON. 0, or an error code of cli/http.h with err set (VG_EPROTO for an
 * answer of another shape). */
int vg_cli_status(const struct vg_http_client *client, enum vg_output_format format, struct vg_buf *out,
		  struct vg_err *err);

#endif
