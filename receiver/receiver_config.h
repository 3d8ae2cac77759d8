/*
 * receiver_config.h: the options of vigil-receiver, from defaults, then the
 * YAML file (/etc/vigil/receiver.yaml, or --config), then command-line flags.
 * man/vigil-receiver.8 and man/vigil-receiver.yaml.5 describe every option;
 * keep them in step with this file.
 */
#ifndef VG_RECEIVER_CONFIG_H
#define VG_RECEIVER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"

struct vg_err;

#define VG_RECEIVER_DEFAULT_CONFIG VG_SYSCONFDIR "/vigil/receiver.yaml"

struct vg_receiver_config {
	char *config_path;         /* the file read, or NULL when none */
	char *listen;              /* agents, "host:port"; default ":9710" (all addresses) */
	char *http_listen;         /* HTTP API; default ":9711" */
	char *data_dir;            /* default VG_LOCALSTATEDIR "/lib/vigil" */
	char *token;               /* when set, HELLO must carry it; default none */
	uint64_t max_connections;  /* agent connections; default 65536 */
	uint64_t wal_segment_bytes;/* WAL segment size; default 64 MiB */
	int64_t lookback_ms;       /* query lookback delta; default 5m */
	int64_t max_sample_age_ms; /* agents' samples older are refused; default 7d; 0: none */
	char *port_file;           /* when set, write "<agent port> <http port>\n" here once listening */
	char *log_level;           /* "info" */
};

/*
 * As vg_agent_config_from_args: 0 to run; 1 after --help/--version printed
 * (exit 0); or a negative VG_E* code with err->msg set, which the caller
 * prints as "vigil-receiver: <msg>" and "Try 'vigil-receiver --help'." on
 * stderr before exiting 2. cfg need not be initialised; always release it.
 * On 0: listen and http_listen parse as HOST:PORT (port 0 allowed: the
 * kernel picks one, see port_file), data_dir is not empty, token and
 * port_file are NULL when not given or empty, log_level parses.
 */
int vg_receiver_config_from_args(struct vg_receiver_config *cfg, int argc, char **argv,
				 struct vg_err *err);
void vg_receiver_config_release(struct vg_receiver_config *cfg);

#endif
