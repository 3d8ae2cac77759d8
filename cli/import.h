/*
 * import.h: the CLI's writing commands, both through the receiver's
 * POST /api/v1/import/prometheus (receiver/http/import.c):
 *   vigil import FILE|-                  a file of exposition lines, streamed,
 *                                        with a progress bar on a terminal
 *   vigil push SERIES VALUE [TIME]       one sample, from a shell script
 * Each returns the command's exit status (main.c's: 0 every line stored,
 * 1 some refused or a server error, 2 usage, 3 no server or not the API)
 * and prints its messages ("vigil: ..." on stderr) itself.
 */
#ifndef VG_CLI_IMPORT_H
#define VG_CLI_IMPORT_H

#include <stdbool.h>
#include <stdio.h>

struct vg_http_client;

/* path "-" is stdin. A progress line goes to progress when not NULL. The
 * summary goes to stdout. */
int vg_cli_import(const struct vg_http_client *client, const char *path, FILE *progress);

/* argv: SERIES VALUE [TIME] (argc 2 or 3). TIME is Unix seconds (with
 * decimals) or RFC 3339; without it the receiver's now. */
int vg_cli_push(const struct vg_http_client *client, int argc, char **argv);

#endif
