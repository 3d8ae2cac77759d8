/*
 * agent_config.h: the options of vigil-agent, from defaults, then the YAML
 * file (/etc/vigil/agent.yaml, or --config), then command-line flags, each
 * overriding the one before. man/vigil-agent.8 and man/vigil-agent.yaml.5
 * describe every option; keep them in step with this file.
 */
#ifndef VG_AGENT_CONFIG_H
#define VG_AGENT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/collect/scrape.h"
#include "common/config.h"

struct vg_err;

#define VG_AGENT_DEFAULT_CONFIG VG_SYSCONFDIR "/vigil/agent.yaml"
#define VG_AGENT_DEFAULT_SPOOL VG_LOCALSTATEDIR "/lib/vigil-agent/spool"
#define VG_AGENT_DEFAULT_STATSD "127.0.0.1:8125"

struct vg_agent_config {
	char *config_path;        /* the file read, or NULL when none */
	char *server;             /* receiver "host:port"; default "127.0.0.1:9710" */
	struct vg_conf_strlist receivers; /* when set: the ring's members; server is unused */
	uint64_t replication_factor; /* receivers per host; default 1 */
	int64_t interval_ms;      /* sampling and sending interval; default 10s */
	char *hostname;           /* value of the instance label; default: gethostname() */
	struct vg_conf_labels labels; /* extra labels on every series */
	char *token;              /* sent in HELLO; default none */
	char *proc_path;          /* default "/proc" */
	char *rootfs_path;        /* default "/" */
	uint64_t queue_max_bytes; /* unacknowledged batches kept in memory when there is no
				     spool directory; default 64 MiB */
	char *spool_dir;          /* default VG_AGENT_DEFAULT_SPOOL; "" or NULL: memory only */
	bool has_spool_dir;       /* spool_dir was set by the file or a flag */
	uint64_t spool_max_bytes; /* bound on the spool on disk; default 512 MiB */
	int64_t backoff_max_ms;   /* reconnect backoff cap; default 30s */
	int64_t ack_timeout_ms;   /* reconnect when an ack takes longer; default 30s */
	/* TLS toward the receivers: on with tls: true or a tls_ca_file. */
	bool has_tls;             /* tls: false */
	char *tls_ca_file;        /* PEM CAs for the receivers' certificates; default the system's */
	char *tls_cert_file;      /* client certificate, for receivers that ask; default none */
	char *tls_key_file;       /* its key; default: in tls_cert_file */
	char *tls_server_name;    /* name the certificates must carry; default each receiver's host */
	char *resolv_conf;        /* name servers for receivers' names; default /etc/resolv.conf */
	char *log_level;          /* "info" */
	bool is_check_only;       /* --check-config: validate, print, exit */
	/* collectors: section */
	bool collect_cpu, collect_meminfo, collect_filesystem, collect_loadavg; /* all true */
	bool collect_filefd, collect_entropy; /* true */
	bool collect_textfile;    /* true; reads nothing unless textfile_dir is set */
	char *textfile_dir;       /* *.prom files; default none */
	/* StatsD listener and pre-aggregation (statsd_* keys) */
	char *statsd_listen;      /* UDP "HOST:PORT", default "127.0.0.1:8125"; NULL: off ("" or "off") */
	bool has_statsd_listen;   /* set by the file or a flag: failing to bind it is fatal */
	uint64_t statsd_max_series; /* distinct StatsD keys held; default 10000 */
	uint64_t statsd_receive_buffer; /* SO_RCVBUF wanted; default 8 MiB */
	struct vg_conf_strlist statsd_buckets; /* histogram bounds (numbers as text); none: the default */
	struct vg_conf_strlist statsd_quantiles; /* per-host quantiles of timers and histograms; none: off */
	struct vg_conf_strlist statsd_fast_gauges; /* mapped gauge names sampled every statsd_fast_interval */
	int64_t statsd_fast_interval_ms; /* default 1s */
	/* collectors: the rest of node_exporter's host collectors, all true */
	bool collect_conntrack, collect_diskstats, collect_netdev, collect_netstat;
	bool collect_pressure, collect_sockstat, collect_stat, collect_time;
	bool collect_uname, collect_vmstat;
	/* collectors: filters, regexes as node_exporter's flags; NULL: its
	 * default (agent/collect/collect.h VG_COLLECT_DEFAULT_*) */
	char *diskstats_device_exclude, *diskstats_device_include;
	char *netdev_device_exclude, *netdev_device_include;
	char *filesystem_mount_points_exclude, *filesystem_mount_points_include;
	char *filesystem_fs_types_exclude, *filesystem_fs_types_include;
	char *netstat_fields, *vmstat_fields;
	int64_t statvfs_timeout_ms; /* filesystem_statvfs_timeout; default 1s */
	/* scrape: local Prometheus text endpoints (scrape.h); items are
	 * struct vg_scrape_target, defaults applied (interval: the agent's;
	 * timeout: the interval, at most 10 s), jobs unique. */
	struct vg_conf_list scrape;
};

/*
 * Builds the configuration from argv: defaults, then the file named by
 * --config (or the default path, silently skipped when absent; a --config
 * that does not exist is an error), then the other flags. cfg need not be
 * initialised; whatever the result, free it with vg_agent_config_release.
 *
 * Who prints what: from_args prints --help (to stdout) and --version itself
 * and returns 1: the caller exits 0. On a usage, file or value error it
 * prints nothing and returns a negative VG_E* code with err->msg set (no
 * program name in it, e.g. "--label: invalid label name \"1x\" ..." or
 * "/etc/vigil/agent.yaml:3: interval: ..."); the caller prints
 *     vigil-agent: <err->msg>
 *     Try 'vigil-agent --help'.
 * to stderr and exits 2. On 0 every value is valid: the server parses as
 * HOST:PORT, the labels are valid and exclude "instance", hostname is set
 * (gethostname() when not given or empty), token is NULL when not given or
 * empty, log_level parses with vg_log_parse_level.
 */
int vg_agent_config_from_args(struct vg_agent_config *cfg, int argc, char **argv,
			      struct vg_err *err);
void vg_agent_config_release(struct vg_agent_config *cfg);

#endif
