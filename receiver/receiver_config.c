/*
 * receiver_config.c: the options of vigil-receiver (receiver_config.h):
 * defaults, then the YAML file, then the command-line flags, each overriding
 * the one before.
 *
 * Owns the flag syntax (getopt_long), the receiver.yaml field table, --help
 * and --version, and the validation of every value. It does not log, bind or
 * create anything: main() does, with the values this returns.
 *
 * Invariant: one check function per value, used for the file (through the
 * field's check callback, so the message names file and line) and for the
 * flag (the message names the flag); a configuration that from_args returns
 * 0 for is complete and valid.
 */
#include "receiver/receiver_config.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/err.h"
#include "common/frame.h"
#include "common/log.h"
#include "receiver/ingest/lastseen.h"

#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <regex.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

#define PROG "vigil-receiver"

static int check_listen(const void *member, struct vg_err *err)
{
	char host[256];
	uint16_t port;

	return vg_conf_split_hostport(*(char *const *)member, host, sizeof(host), &port, err);
}

/* An HTTP credential: printable, no spaces (it travels in a header). */
static int check_secret(const void *member, struct vg_err *err)
{
	const char *s = *(char *const *)member;

	for (; s && *s; s++)
		if (*s <= ' ' || *s == 0x7f)
			return vg_err_set(err, VG_EINVAL, "a credential must be printable, without spaces");
	return 0;
}

static int check_basic(const void *member, struct vg_err *err)
{
	const char *s = *(char *const *)member;
	int rc = check_secret(member, err);

	if (rc == 0 && s && *s && (strchr(s, ':') == NULL || s[0] == ':'))
		return vg_err_set(err, VG_EINVAL, "basic credentials read user:password");
	return rc;
}

/* A path, or "" for none. */
static int check_optional_path(const void *member, struct vg_err *err)
{
	const char *s = *(char *const *)member;

	return s == NULL || *s == '\0' ? 0 : vg_conf_check_path(member, err);
}

static int check_regex(const void *member, struct vg_err *err)
{
	const char *s = *(char *const *)member;
	regex_t re;
	int rc;

	if (s == NULL || *s == '\0')
		return 0;
	if ((rc = regcomp(&re, s, REG_EXTENDED | REG_NOSUB)) != 0)
		return vg_err_set(err, VG_EINVAL, "not a regular expression (POSIX extended)");
	regfree(&re);
	return 0;
}

#define F(key, type, member) key, type, offsetof(struct vg_receiver_config, member), NULL

#define RETENTION_MIN_MS (3600LL * 1000)
#define RETENTION_MAX_MS (100LL * 365 * 24 * 3600 * 1000)

static const struct vg_conf_field retention_fields[] = {
	{ F("raw", VG_CONF_DURATION, retention_raw_ms), RETENTION_MIN_MS, RETENTION_MAX_MS, NULL },
	{ F("1m", VG_CONF_DURATION, retention_1m_ms), RETENTION_MIN_MS, RETENTION_MAX_MS, NULL },
	{ F("1h", VG_CONF_DURATION, retention_1h_ms), RETENTION_MIN_MS, RETENTION_MAX_MS, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

static const struct vg_conf_field query_fields[] = {
	{ F("timeout", VG_CONF_DURATION, query_timeout_ms), 0, 24LL * 3600 * 1000, NULL },
	{ F("max_samples", VG_CONF_UINT, query_max_samples), 0, INT64_MAX, NULL },
	{ F("max_series", VG_CONF_UINT, query_max_series), 0, INT64_MAX, NULL },
	{ F("max_response_size", VG_CONF_SIZE, query_max_response_bytes), 0, INT64_MAX, NULL },
	{ F("max_concurrency", VG_CONF_UINT, query_max_concurrency), 0, 1024, NULL },
	{ F("max_queued", VG_CONF_UINT, query_max_queued), 1, 100000, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

static const struct vg_conf_field receiver_fields[] = {
	{ F("listen", VG_CONF_STR, listen), 0, 0, check_listen },
	{ F("http_listen", VG_CONF_STR, http_listen), 0, 0, check_listen },
	{ F("data_dir", VG_CONF_STR, data_dir), 0, 0, vg_conf_check_path },
	{ F("token", VG_CONF_STR, token), 0, 0, vg_conf_check_ident },
	{ F("max_connections", VG_CONF_UINT, max_connections), 0, 1000000, NULL },
	{ F("http_max_connections", VG_CONF_UINT, http_max_connections), 0, 1000000, NULL },
	{ F("agent_buffer_budget", VG_CONF_SIZE, agent_buffer_budget), 1 << 20, 1LL << 40, NULL },
	{ F("agent_connection_buffer", VG_CONF_SIZE, agent_connection_buffer), 1 << 10, 16 << 20, NULL },
	{ F("agent_hello_buffer", VG_CONF_SIZE, agent_hello_buffer), 512, 64 << 10, NULL },
	{ F("agent_hello_timeout", VG_CONF_DURATION, agent_hello_timeout_ms), 100, 3600 * 1000, NULL },
	{ F("agent_idle_timeout", VG_CONF_DURATION, agent_idle_timeout_ms), 1000, 7 * 24 * 3600 * 1000LL, NULL },
	{ F("agent_frame_timeout", VG_CONF_DURATION, agent_frame_timeout_ms), 100, 3600 * 1000, NULL },
	{ F("max_series", VG_CONF_UINT, max_series), 0, INT64_MAX, NULL },
	{ F("max_series_per_agent", VG_CONF_UINT, max_series_per_agent), 0, INT64_MAX, NULL },
	{ F("max_new_series_per_minute", VG_CONF_UINT, max_new_series_per_minute), 0, INT64_MAX, NULL },
	{ F("wal_segment_size", VG_CONF_SIZE, wal_segment_bytes), 4 << 10, 1 << 30, NULL },
	{ F("lookback_delta", VG_CONF_DURATION, lookback_ms), 1000, 24LL * 3600 * 1000, NULL },
	{ F("max_sample_age", VG_CONF_DURATION, max_sample_age_ms), 0, 3650LL * 24 * 3600 * 1000, NULL },
	{ F("port_file", VG_CONF_STR, port_file), 0, 0, NULL },
	{ F("log_level", VG_CONF_STR, log_level), 0, 0, vg_conf_check_log_level },
	{ F("tls_cert_file", VG_CONF_STR, tls_cert_file), 0, 0, vg_conf_check_path },
	{ F("tls_key_file", VG_CONF_STR, tls_key_file), 0, 0, vg_conf_check_path },
	{ F("tls_client_ca_file", VG_CONF_STR, tls_client_ca_file), 0, 0, vg_conf_check_path },
	{ "retention", VG_CONF_SECTION, 0, retention_fields, 0, 0, NULL },
	{ "query", VG_CONF_SECTION, 0, query_fields, 0, 0, NULL },
	{ F("retention_size", VG_CONF_SIZE, retention_size_bytes), 0, INT64_MAX, NULL },
	{ F("testing_clock_file", VG_CONF_STR, testing_clock_file), 0, 0, NULL },
	{ F("testing_compact_stall", VG_CONF_DURATION, testing_compact_stall_ms), 0, 60 * 1000, NULL },
	/* HTTP limits and exposure */
	{ F("http_max_header_size", VG_CONF_SIZE, http_max_header_bytes), 1 << 10, 1 << 20, NULL },
	{ F("http_max_header_fields", VG_CONF_UINT, http_max_header_fields), 8, 10000, NULL },
	{ F("http_max_body_size", VG_CONF_SIZE, http_max_body_bytes), 1 << 10, 1 << 30, NULL },
	{ F("http_timeout", VG_CONF_DURATION, http_timeout_ms), 1000, 3600 * 1000, NULL },
	{ F("http_header_timeout", VG_CONF_DURATION, http_header_timeout_ms), 100, 3600 * 1000, NULL },
	{ F("http_cors_origin", VG_CONF_STR, http_cors_origin), 0, 0, check_regex },
	{ F("http_read_token", VG_CONF_STR, http_read_token), 0, 0, check_secret },
	{ F("http_read_token_file", VG_CONF_STR, http_read_token_file), 0, 0, check_optional_path },
	{ F("http_admin_token", VG_CONF_STR, http_admin_token), 0, 0, check_secret },
	{ F("http_admin_token_file", VG_CONF_STR, http_admin_token_file), 0, 0, check_optional_path },
	{ F("http_read_basic", VG_CONF_STR, http_read_basic), 0, 0, check_basic },
	{ F("http_admin_basic", VG_CONF_STR, http_admin_basic), 0, 0, check_basic },
	{ F("http_tls_cert_file", VG_CONF_STR, http_tls_cert_file), 0, 0, vg_conf_check_path },
	{ F("http_tls_key_file", VG_CONF_STR, http_tls_key_file), 0, 0, vg_conf_check_path },
	{ F("http_tls_client_ca_file", VG_CONF_STR, http_tls_client_ca_file), 0, 0, vg_conf_check_path },
	{ F("web_assets_dir", VG_CONF_STR, web_assets_dir), 0, 0, check_optional_path },
	/* Rules (vigil-rules(5)) */
	{ F("rule_files", VG_CONF_STRLIST, rule_files), 0, 0, NULL },
	{ F("evaluation_interval", VG_CONF_DURATION, evaluation_interval_ms), 1000, 24LL * 3600 * 1000, NULL },
	{ F("testing_alert_log", VG_CONF_STR, testing_alert_log), 0, 0, NULL },
	/* The notifier: its own tables (receiver/alert/notifier_config.c). */
	{ "alerting", VG_CONF_STRUCT, offsetof(struct vg_receiver_config, alerting), vg_alerting_fields, 0, 0, NULL },
	/* Loss is an alert: self metrics, last-seen series, default rules. */
	{ F("self_metrics_interval", VG_CONF_DURATION, self_metrics_interval_ms), 0, 3600 * 1000, NULL },
	{ F("self_metrics_instance", VG_CONF_STR, self_metrics_instance), 0, 0, NULL },
	{ F("agent_last_seen_retention", VG_CONF_DURATION, agent_last_seen_retention_ms), 60 * 1000,
	  365LL * 24 * 3600 * 1000, NULL },
	{ F("agent_last_seen_max_agents", VG_CONF_UINT, agent_last_seen_max_agents), 1, 1 << 24, NULL },
	{ F("default_rules", VG_CONF_BOOL, has_default_rules), 0, 0, NULL },
	{ F("default_rules_file", VG_CONF_STR, default_rules_file), 0, 0, vg_conf_check_path },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

#undef F

static const char usage_text[] =
	"Usage: " PROG " [OPTION]...\n"
	"Receive metrics from vigil-agent, store them and serve the query API.\n"
	"\n"
	"Options (each overrides the configuration file):\n"
	"      --config FILE           configuration file; by default, when it exists,\n"
	"                              " VG_RECEIVER_DEFAULT_CONFIG "\n"
	"      --data-dir DIR          where the write-ahead log lives\n"
	"                              (default " VG_LOCALSTATEDIR "/lib/vigil)\n"
	"      --listen ADDR:PORT      address for agents (default :9710, all addresses)\n"
	"      --http-listen ADDR:PORT address of the HTTP API (default :9711)\n"
	"      --token TOKEN           token agents must present (default none)\n"
	"      --port-file FILE        once listening, write the two ports to FILE\n"
	"      --log-level LEVEL       error, warn, info or debug (default info)\n"
	"      --retention raw=D,1m=D,1h=D\n"
	"                              how long each tier keeps its blocks\n"
	"                              (default raw=7d,1m=30d,1h=365d; any subset)\n"
	"      --query.timeout D       the most one query may take (default 2m)\n"
	"      --query.max-samples N   samples one query may hold (default 5000000)\n"
	"      --query.max-series N    series one selector may match (default 1000000)\n"
	"      --query.max-response-size SIZE\n"
	"                              a query's response body (default 128MiB)\n"
	"      --query.max-concurrency N\n"
	"                              queries evaluated at once (default 2 per CPU,\n"
	"                              2 to 20)\n"
	"      --query.max-queued N    queries waiting beyond those (default 100)\n"
	"      --query.lookback-delta D\n"
	"                              how far back a query looks for a series' latest\n"
	"                              sample (default 5m)\n"
	"      --self-metrics-interval D\n"
	"                              write the receiver's own metrics as series every\n"
	"                              D (default 15s; 0 turns it off)\n"
	"      --no-default-rules      do not load the default rule set\n"
	"      --default-rules-file FILE\n"
	"                              the default rule set (default\n"
	"                              " VG_RECEIVER_DEFAULT_RULES_FILE ")\n"
	"      --web.assets-dir DIR    the web page's files (default " VG_WEB_DIR ")\n"
	"      --check-config          check the configuration, print any error with\n"
	"                              its file and line, and exit (0 valid, 1 not)\n"
	"  -h, --help                  print this help and exit\n"
	"  -V, --version               print the version and exit\n"
	"\n"
	"Other settings (connection, memory and series limits, timeouts,\n"
	"max_sample_age, wal_segment_size) are set in the file;\n"
	"see vigil-receiver(8) and vigil-receiver.yaml(5).\n";

enum {
	OPT_CONFIG = 256,
	OPT_DATA_DIR,
	OPT_LISTEN,
	OPT_HTTP_LISTEN,
	OPT_TOKEN,
	OPT_PORT_FILE,
	OPT_LOG_LEVEL,
	OPT_CHECK_CONFIG,
	OPT_RETENTION,
	OPT_TESTING_CLOCK_FILE,
	OPT_WEB_ASSETS_DIR,
	OPT_QUERY, /* OPT_QUERY + i: query_flags[i] */
	OPT_SELF_METRICS_INTERVAL = OPT_QUERY + 64,
	OPT_NO_DEFAULT_RULES,
	OPT_DEFAULT_RULES_FILE,
};

/* --query.X flags, named as Prometheus names its own: each sets the key
 * of that name in the query section, or (--query.lookback-delta) at the
 * top of the file. */
static const struct {
	const char *flag, *key;
	const struct vg_conf_field *fields;
} query_flags[] = {
	{ "query.timeout", "timeout", query_fields },
	{ "query.max-samples", "max_samples", query_fields },
	{ "query.max-series", "max_series", query_fields },
	{ "query.max-response-size", "max_response_size", query_fields },
	{ "query.max-concurrency", "max_concurrency", query_fields },
	{ "query.max-queued", "max_queued", query_fields },
	{ "query.lookback-delta", "lookback_delta", receiver_fields },
};
#define N_QUERY_FLAGS (sizeof(query_flags) / sizeof(query_flags[0]))

static const struct option long_options[] = {
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "data-dir", required_argument, NULL, OPT_DATA_DIR },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "http-listen", required_argument, NULL, OPT_HTTP_LISTEN },
	{ "token", required_argument, NULL, OPT_TOKEN },
	{ "port-file", required_argument, NULL, OPT_PORT_FILE },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "check-config", no_argument, NULL, OPT_CHECK_CONFIG },
	{ "retention", required_argument, NULL, OPT_RETENTION },
	{ "testing-clock-file", required_argument, NULL, OPT_TESTING_CLOCK_FILE },
	{ "query.timeout", required_argument, NULL, OPT_QUERY + 0 },
	{ "query.max-samples", required_argument, NULL, OPT_QUERY + 1 },
	{ "query.max-series", required_argument, NULL, OPT_QUERY + 2 },
	{ "query.max-response-size", required_argument, NULL, OPT_QUERY + 3 },
	{ "query.max-concurrency", required_argument, NULL, OPT_QUERY + 4 },
	{ "query.max-queued", required_argument, NULL, OPT_QUERY + 5 },
	{ "query.lookback-delta", required_argument, NULL, OPT_QUERY + 6 },
	{ "self-metrics-interval", required_argument, NULL, OPT_SELF_METRICS_INTERVAL },
	{ "no-default-rules", no_argument, NULL, OPT_NO_DEFAULT_RULES },
	{ "default-rules-file", required_argument, NULL, OPT_DEFAULT_RULES_FILE },
	{ "web.assets-dir", required_argument, NULL, OPT_WEB_ASSETS_DIR },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* The flags as given, borrowed from argv, applied after the file. */
struct receiver_flags {
	const char *config, *data_dir, *listen, *http_listen, *token, *port_file, *log_level;
	const char *retention, *testing_clock_file;
	const char *web_assets_dir;
	const char *query[N_QUERY_FLAGS];
	bool is_check_only;
	const char *self_metrics_interval, *default_rules_file;
	bool is_no_default_rules;
};

/* --query.X VALUE: parsed and bounded as the file's key is. */
static int apply_query_flag(struct vg_receiver_config *cfg, size_t i, const char *v, struct vg_err *err)
{
	const struct vg_conf_field *f = query_flags[i].fields;
	void *member;
	struct vg_err e;
	uint64_t u = 0;
	int64_t ms = 0;
	char *end;

	while (strcmp(f->key, query_flags[i].key) != 0)
		f++;
	member = (char *)cfg + f->offset;
	switch (f->type) {
	case VG_CONF_DURATION:
		if (vg_duration_parse(v, &ms, &e) != 0)
			return vg_err_set(err, VG_EINVAL, "--%s: %s", query_flags[i].flag, e.msg);
		if (ms < f->min || ms > f->max)
			return vg_err_set(err, VG_EINVAL, "--%s: %s is out of range", query_flags[i].flag,
					  vg_conf_printable(v, "the value"));
		*(int64_t *)member = ms;
		return 0;
	case VG_CONF_SIZE:
		if (vg_conf_parse_size(v, &u, &e) != 0)
			return vg_err_set(err, VG_EINVAL, "--%s: %s", query_flags[i].flag, e.msg);
		break;
	default:
		errno = 0;
		if (*v < '0' || *v > '9' || (u = strtoull(v, &end, 10), *end != '\0') || errno != 0)
			return vg_err_set(err, VG_EINVAL, "--%s: expects a non-negative integer, got \"%s\"",
					  query_flags[i].flag, vg_conf_printable(v, "?"));
		break;
	}
	if (u < (uint64_t)f->min || u > (uint64_t)f->max)
		return vg_err_set(err, VG_EINVAL, "--%s: %s is out of range (%" PRId64 "..%" PRId64 ")",
				  query_flags[i].flag, vg_conf_printable(v, "the value"), f->min, f->max);
	*(uint64_t *)member = u;
	return 0;
}

/* --retention raw=7d,1m=30d,1h=365d: any subset, each tier once. */
static int parse_retention_flag(struct vg_receiver_config *cfg, const char *arg,
				struct vg_err *err)
{
	static const struct {
		const char *tier;
		size_t off;
	} tiers[] = {
		{ "raw", offsetof(struct vg_receiver_config, retention_raw_ms) },
		{ "1m", offsetof(struct vg_receiver_config, retention_1m_ms) },
		{ "1h", offsetof(struct vg_receiver_config, retention_1h_ms) },
	};
	bool is_seen[3] = { false, false, false };
	const char *p = arg;

	if (*p == '\0')
		return vg_err_set(err, VG_EINVAL, "--retention: empty (use raw=7d,1m=30d,1h=365d)");
	while (*p) {
		const char *eq = strchr(p, '='), *end = strchr(p, ',');
		char dur[64];
		int64_t ms;
		size_t t, len;
		struct vg_err e;

		if (end == NULL)
			end = p + strlen(p);
		if (eq == NULL || eq > end)
			return vg_err_set(err, VG_EINVAL, "--retention: \"%.*s\" is not TIER=DURATION",
					  (int)(end - p), p);
		for (t = 0; t < 3; t++)
			if ((size_t)(eq - p) == strlen(tiers[t].tier) &&
			    memcmp(p, tiers[t].tier, (size_t)(eq - p)) == 0)
				break;
		if (t == 3)
			return vg_err_set(err, VG_EINVAL, "--retention: no tier \"%.*s\" (raw, 1m, 1h)",
					  (int)(eq - p), p);
		if (is_seen[t])
			return vg_err_set(err, VG_EINVAL, "--retention: tier %s given twice", tiers[t].tier);
		is_seen[t] = true;
		len = (size_t)(end - eq - 1);
		if (len == 0 || len >= sizeof(dur))
			return vg_err_set(err, VG_EINVAL, "--retention: bad duration for %s", tiers[t].tier);
		memcpy(dur, eq + 1, len);
		dur[len] = '\0';
		if (vg_duration_parse(dur, &ms, &e) != 0)
			return vg_err_set(err, VG_EINVAL, "--retention: %s: %s", tiers[t].tier, e.msg);
		if (ms < RETENTION_MIN_MS || ms > RETENTION_MAX_MS)
			return vg_err_set(err, VG_EINVAL, "--retention: %s: %s is outside 1h..100y",
					  tiers[t].tier, dur);
		*(int64_t *)((char *)cfg + tiers[t].off) = ms;
		p = *end ? end + 1 : end;
	}
	return 0;
}

static int apply_flags(struct vg_receiver_config *cfg, const struct receiver_flags *fl,
		       struct vg_err *err)
{
	static const struct {
		const char *flag;
		size_t flags_off, cfg_off;
		int (*check)(const void *, struct vg_err *);
	} map[] = {
		{ "--data-dir", offsetof(struct receiver_flags, data_dir),
		  offsetof(struct vg_receiver_config, data_dir), vg_conf_check_path },
		{ "--listen", offsetof(struct receiver_flags, listen),
		  offsetof(struct vg_receiver_config, listen), check_listen },
		{ "--http-listen", offsetof(struct receiver_flags, http_listen),
		  offsetof(struct vg_receiver_config, http_listen), check_listen },
		{ "--token", offsetof(struct receiver_flags, token),
		  offsetof(struct vg_receiver_config, token), vg_conf_check_ident },
		{ "--port-file", offsetof(struct receiver_flags, port_file),
		  offsetof(struct vg_receiver_config, port_file), NULL },
		{ "--log-level", offsetof(struct receiver_flags, log_level),
		  offsetof(struct vg_receiver_config, log_level), vg_conf_check_log_level },
		{ "--testing-clock-file", offsetof(struct receiver_flags, testing_clock_file),
		  offsetof(struct vg_receiver_config, testing_clock_file), NULL },
		{ "--web.assets-dir", offsetof(struct receiver_flags, web_assets_dir),
		  offsetof(struct vg_receiver_config, web_assets_dir), vg_conf_check_path },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		const char *value = *(const char *const *)((const char *)fl + map[i].flags_off);
		char **member = (char **)((char *)cfg + map[i].cfg_off);
		if (value) {
			int r = vg_conf_set_str_flag(member, map[i].flag, value, map[i].check, err);
			if (r < 0)
				return r;
		}
	}
	for (size_t i = 0; i < N_QUERY_FLAGS; i++) {
		int r;
		if (fl->query[i] != NULL && (r = apply_query_flag(cfg, i, fl->query[i], err)) != 0)
			return r;
	}
	if (fl->self_metrics_interval) {
		struct vg_err e;
		int64_t ms;
		if (vg_duration_parse(fl->self_metrics_interval, &ms, &e) != 0)
			return vg_err_set(err, VG_EINVAL, "--self-metrics-interval: %s", e.msg);
		if (ms < 0 || ms > 3600 * 1000)
			return vg_err_set(err, VG_EINVAL, "--self-metrics-interval: %s is outside 0..1h",
					  vg_conf_printable(fl->self_metrics_interval, "the value"));
		cfg->self_metrics_interval_ms = ms;
	}
	if (fl->is_no_default_rules)
		cfg->has_default_rules = false;
	if (fl->default_rules_file) {
		int r = vg_conf_set_str_flag(&cfg->default_rules_file, "--default-rules-file", fl->default_rules_file,
					     vg_conf_check_path, err);
		if (r < 0)
			return r;
	}
	if (fl->retention)
		return parse_retention_flag(cfg, fl->retention, err);
	return 0;
}

static int set_defaults(struct vg_receiver_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->agent_buffer_budget = 256ULL << 20;
	cfg->agent_connection_buffer = 32 << 10;
	cfg->agent_hello_buffer = 4 << 10;
	cfg->agent_hello_timeout_ms = 10 * 1000;
	cfg->agent_idle_timeout_ms = 15 * 60 * 1000;
	cfg->agent_frame_timeout_ms = 60 * 1000;
	cfg->max_series = 10000000;
	cfg->max_series_per_agent = 20000;
	cfg->max_new_series_per_minute = 10000;
	cfg->wal_segment_bytes = 64ULL << 20;
	cfg->lookback_ms = 5 * 60 * 1000;
	cfg->max_sample_age_ms = 7LL * 24 * 3600 * 1000;
	cfg->retention_raw_ms = 7LL * 24 * 3600 * 1000;
	cfg->retention_1m_ms = 30LL * 24 * 3600 * 1000;
	cfg->retention_1h_ms = 365LL * 24 * 3600 * 1000;
	cfg->http_max_header_bytes = 64 << 10;
	cfg->http_max_header_fields = 100;
	cfg->http_max_body_bytes = 1 << 20;
	cfg->http_timeout_ms = 60 * 1000;
	cfg->http_header_timeout_ms = 10 * 1000;
	cfg->evaluation_interval_ms = 60 * 1000;
	cfg->query_timeout_ms = 2 * 60 * 1000;
	cfg->query_max_samples = 5000000;
	cfg->query_max_series = 1000000;
	cfg->query_max_response_bytes = 128ULL << 20;
	cfg->query_max_queued = 100;
	cfg->self_metrics_interval_ms = 15 * 1000;
	cfg->agent_last_seen_retention_ms = 24LL * 3600 * 1000;
	cfg->agent_last_seen_max_agents = VG_LASTSEEN_DEFAULT_MAX_AGENTS;
	cfg->has_default_rules = true;
	if (vg_conf_set_str(&cfg->listen, ":9710") < 0 ||
	    vg_conf_set_str(&cfg->http_listen, ":9711") < 0 ||
	    vg_conf_set_str(&cfg->data_dir, VG_LOCALSTATEDIR "/lib/vigil") < 0 ||
	    vg_conf_set_str(&cfg->log_level, "info") < 0 ||
	    vg_conf_set_str(&cfg->default_rules_file, VG_RECEIVER_DEFAULT_RULES_FILE) < 0)
		return VG_ENOMEM;
	return 0;
}

static void unset_empty(char **s)
{
	if (*s && (*s)[0] == '\0') {
		free(*s);
		*s = NULL;
	}
}

/* Empty strings mean "unset": no token, no port file. */
static int finish(struct vg_receiver_config *cfg, struct vg_err *err)
{
	unset_empty(&cfg->http_read_token);
	unset_empty(&cfg->http_read_token_file);
	unset_empty(&cfg->http_admin_token);
	unset_empty(&cfg->http_admin_token_file);
	unset_empty(&cfg->token);
	unset_empty(&cfg->port_file);
	if ((cfg->tls_key_file || cfg->tls_client_ca_file) && !cfg->tls_cert_file)
		return vg_err_set(err, VG_EINVAL, "%s is set without tls_cert_file",
				  cfg->tls_key_file ? "tls_key_file" : "tls_client_ca_file");
	if ((cfg->http_tls_key_file || cfg->http_tls_client_ca_file) && !cfg->http_tls_cert_file)
		return vg_err_set(err, VG_EINVAL, "%s is set without http_tls_cert_file",
				  cfg->http_tls_key_file ? "http_tls_key_file" : "http_tls_client_ca_file");
	unset_empty(&cfg->testing_clock_file);
	unset_empty(&cfg->web_assets_dir);
	unset_empty(&cfg->testing_alert_log);
	unset_empty(&cfg->self_metrics_instance);
	cfg->is_default_rules_file_given = cfg->default_rules_file == NULL ||
					   strcmp(cfg->default_rules_file, VG_RECEIVER_DEFAULT_RULES_FILE) != 0;
	return 0;
}

/* Collects the flags; 1 after --help or --version, < 0 on a usage error. */
static int parse_argv(struct receiver_flags *fl, int argc, char **argv, struct vg_err *err)
{
	int c;

	optind = 0; /* GNU: start over, so from_args can be called again */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hV", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_CONFIG: fl->config = optarg; break;
		case OPT_DATA_DIR: fl->data_dir = optarg; break;
		case OPT_LISTEN: fl->listen = optarg; break;
		case OPT_HTTP_LISTEN: fl->http_listen = optarg; break;
		case OPT_TOKEN: fl->token = optarg; break;
		case OPT_PORT_FILE: fl->port_file = optarg; break;
		case OPT_LOG_LEVEL: fl->log_level = optarg; break;
		case OPT_CHECK_CONFIG: fl->is_check_only = true; break;
		case OPT_RETENTION: fl->retention = optarg; break;
		case OPT_TESTING_CLOCK_FILE: fl->testing_clock_file = optarg; break;
		case OPT_SELF_METRICS_INTERVAL: fl->self_metrics_interval = optarg; break;
		case OPT_NO_DEFAULT_RULES: fl->is_no_default_rules = true; break;
		case OPT_DEFAULT_RULES_FILE: fl->default_rules_file = optarg; break;
		case OPT_WEB_ASSETS_DIR: fl->web_assets_dir = optarg; break;
		case OPT_QUERY + 0: case OPT_QUERY + 1: case OPT_QUERY + 2:
		case OPT_QUERY + 3: case OPT_QUERY + 4: case OPT_QUERY + 5:
		case OPT_QUERY + 6:
			fl->query[c - OPT_QUERY] = optarg;
			break;
		default:
			return vg_conf_getopt_other(c, argv, usage_text, PROG " " PACKAGE_VERSION, err);
		}
	}
	return vg_conf_no_operands(argc, argv, err);
}

int vg_receiver_config_from_args(struct vg_receiver_config *cfg, int argc, char **argv,
				 struct vg_err *err)
{
	struct receiver_flags fl;
	int r;

	memset(&fl, 0, sizeof(fl));
	r = set_defaults(cfg);
	if (r < 0)
		return vg_err_set(err, r, "out of memory");
	r = parse_argv(&fl, argc, argv, err);
	if (r != 0)
		return r;
	cfg->is_check_only = fl.is_check_only;
	r = vg_conf_load_given(fl.config, VG_RECEIVER_DEFAULT_CONFIG, receiver_fields, cfg, &cfg->config_path, err);
	if (r < 0)
		return r;
	if (cfg->config_path && (r = vg_alerting_validate(&cfg->alerting, cfg->config_path, err)) != 0)
		return r;
	r = apply_flags(cfg, &fl, err);
	if (r < 0)
		return r;
	return finish(cfg, err);
}

void vg_receiver_config_release(struct vg_receiver_config *cfg)
{
	vg_alerting_release(&cfg->alerting);
	vg_conf_release(receiver_fields, cfg);
	free(cfg->config_path);
	cfg->config_path = NULL;
}
