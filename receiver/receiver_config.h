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
#include "receiver/alert/notifier.h"

struct vg_err;

#define VG_RECEIVER_DEFAULT_CONFIG VG_SYSCONFDIR "/vigil/receiver.yaml"
#define VG_RECEIVER_DEFAULT_RULES_FILE VG_RULESDIR "/vigil-default.rules.yml"

struct vg_receiver_config {
	char *config_path;         /* the file read, or NULL when none */
	char *listen;              /* agents, "host:port"; default ":9710" (all addresses) */
	char *http_listen;         /* HTTP API; default ":9711" */
	char *data_dir;            /* default VG_LOCALSTATEDIR "/lib/vigil" */
	char *token;               /* when set, HELLO must carry it; default none */
	uint64_t max_connections;  /* agent connections; 0 (default): from the fd limit */
	uint64_t http_max_connections; /* descriptors kept for HTTP; 0 (default): from the fd limit */
	/* Buffered agent input (receiver_limits.md in man/vigil-receiver.yaml.5). */
	uint64_t agent_buffer_budget;     /* all connections together; default 256 MiB */
	uint64_t agent_connection_buffer; /* one proven connection without a grant; 32 KiB */
	uint64_t agent_hello_buffer;      /* one connection before HELLO; 4 KiB */
	int64_t agent_hello_timeout_ms;   /* 10 s */
	int64_t agent_idle_timeout_ms;    /* 15 m */
	int64_t agent_frame_timeout_ms;   /* a granted (large) frame must arrive within; 1 m */
	/* Cardinality guards; 0 turns one off. */
	uint64_t max_series;              /* in the head; default 10,000,000 */
	uint64_t max_series_per_agent;    /* active (referenced) by one agent; 20,000 */
	uint64_t max_new_series_per_minute; /* created by one agent per minute; 10,000 */
	bool is_check_only;               /* --check-config */
	uint64_t wal_segment_bytes;/* WAL segment size; default 64 MiB */
	int64_t lookback_ms;       /* query lookback delta; default 5m */
	int64_t max_sample_age_ms; /* agents' samples older are refused; default 7d; 0: none */
	char *port_file;           /* when set, write "<agent port> <http port>\n" here once listening */
	char *log_level;           /* "info" */
	/* TLS on the agent listener; all default none (plain TCP). */
	char *tls_cert_file;       /* PEM certificate chain: turns TLS on */
	char *tls_key_file;        /* its key; default: in tls_cert_file */
	char *tls_client_ca_file;  /* agents must present a certificate these CAs signed */
	/* Tiers (docs/storage-format.md, "Retention"): a block is deleted once
	 * wholly older than now minus its tier's retention. */
	int64_t retention_raw_ms;  /* 7d */
	int64_t retention_1m_ms;   /* 30d */
	int64_t retention_1h_ms;   /* 365d */
	uint64_t retention_size_bytes; /* all block files; 0 (default): no bound */
	/* For tests only: the calendar clock reads ms from this file
	 * (common/clock.h, driven clock); NULL: the real clock. */
	char *testing_clock_file;
	/* For tests only: compaction sleeps this long after each output it
	 * publishes (compact.h), so a test can kill it midway; 0. */
	int64_t testing_compact_stall_ms;
	/* HTTP limits and exposure (vigil-receiver.yaml(5), HTTP). */
	uint64_t http_max_header_bytes;   /* request line and headers; 64 KiB */
	uint64_t http_max_header_fields;  /* 100 */
	uint64_t http_max_body_bytes;     /* any body but an import's; 1 MiB */
	int64_t http_timeout_ms;          /* a connection's silence; 60 s */
	int64_t http_header_timeout_ms;   /* a request head's arrival; 10 s */
	char *http_cors_origin;           /* a regular expression; ".*" */
	char *http_read_token, *http_read_token_file;
	char *http_admin_token, *http_admin_token_file;
	char *http_read_basic, *http_admin_basic; /* "user:password" */
	/* HTTPS on the HTTP listener, as tls_* on the agent listener; all
	 * default none (plain HTTP). */
	char *http_tls_cert_file;
	char *http_tls_key_file;
	char *http_tls_client_ca_file;
	/* The web page's asset root (receiver/http/web.h); NULL: the
	 * installed one, or the source tree's in a build tree. */
	char *web_assets_dir;
	/* Rules (vigil-rules(5)): glob patterns of rule files, relative ones
	 * against the configuration file's directory; the interval of groups
	 * that name none (Prometheus's evaluation_interval, 1m). */
	struct vg_conf_strlist rule_files;
	int64_t evaluation_interval_ms;
	/* For tests only: every alert the rule engine hands on is appended
	 * to this file (vg_alert_log_sink), until the notifier takes them. */
	char *testing_alert_log;
	/* The notifier (receiver/alert/notifier.h): Alertmanager's
	 * configuration shape; absent: alerts are only recorded. */
	struct vg_alerting_config alerting;
	/* Queries (vigil-receiver.yaml(5), "query"; flags --query.*); 0
	 * turns a limit off. */
	int64_t query_timeout_ms;          /* 2m */
	uint64_t query_max_samples;        /* 5,000,000 */
	uint64_t query_max_series;         /* 1,000,000 */
	uint64_t query_max_response_bytes; /* 128 MiB */
	uint64_t query_max_concurrency;    /* 0 (default): two per CPU, 2..20 */
	uint64_t query_max_queued;         /* 100 */
	/* Loss is an alert (vigil-rules(5), "DEFAULT RULES"): the receiver's
	 * own metrics written as series every interval (0: off) with this
	 * instance label (default <host name>:<HTTP port>); each agent's
	 * last-seen series kept this long after its last batch, for at most
	 * that many agents at once; the default
	 * rule set loaded from default_rules_file unless default_rules is
	 * false. */
	int64_t self_metrics_interval_ms;  /* 15s */
	char *self_metrics_instance;       /* NULL: <host name>:<HTTP port> */
	int64_t agent_last_seen_retention_ms; /* 24h */
	uint64_t agent_last_seen_max_agents;  /* VG_LASTSEEN_DEFAULT_MAX_AGENTS */
	bool has_default_rules;            /* true */
	char *default_rules_file;          /* VG_RULESDIR "/vigil-default.rules.yml" */
	bool is_default_rules_file_given;  /* set by the file or a flag: missing is an error */
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
