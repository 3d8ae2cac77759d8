/*
 * agent_config.c: the options of vigil-agent (agent_config.h): defaults, then
 * the YAML file, then the command-line flags, each overriding the one before.
 *
 * Owns the flag syntax (getopt_long), the agent.yaml field table, --help and
 * --version, and the validation of every value, wherever it came from. It does
 * not log and does not exit: it prints only what --help and --version ask for,
 * and hands every error back as a message for main() to print.
 *
 * Invariant: a value is validated by one function whether it came from the
 * file (through the field's check callback, so the message names file and
 * line) or from a flag (the message names the flag); a configuration that
 * from_args returns 0 for is complete and valid.
 */
#include "agent/agent_config.h"
#include "agent/aggregate.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/ring.h"
#include "common/err.h"
#include "agent/collect/collect.h"
#include "common/frame.h"
#include "common/log.h"
#include "common/series.h"

#include "config.h"

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/banned.h"

#define PROG "vigil-agent"
#define INTERVAL_MIN_MS 100
#define INTERVAL_MAX_MS (24LL * 3600 * 1000)

static int check_server(const void *member, struct vg_err *err)
{
	const char *s = *(char *const *)member;
	char host[256];
	uint16_t port;
	int r;

	r = vg_conf_split_hostport(s, host, sizeof(host), &port, err);
	if (r < 0)
		return r;
	if (host[0] == '\0')
		return vg_err_set(err, VG_EINVAL, "the receiver's host is missing (e.g. 127.0.0.1:9710)");
	if (port == 0)
		return vg_err_set(err, VG_EINVAL, "port 0 cannot be connected to");
	return 0;
}

/* The instance label is the hostname: one place to set it, not two. */
static int check_label_name(const char *name, struct vg_err *err)
{
	size_t len = strlen(name);

	if (!vg_label_name_valid(name, len))
		return vg_err_set(err, VG_EINVAL,
				  "invalid label name \"%s\" (letters, digits and _, not starting with a digit)",
				  name);
	if (len >= 2 && name[0] == '_' && name[1] == '_')
		return vg_err_set(err, VG_EINVAL, "label name \"%s\" is reserved (starts with __)", name);
	if (strcmp(name, "instance") == 0)
		return vg_err_set(err, VG_EINVAL,
				  "label \"instance\" is set from the hostname; set hostname instead");
	return 0;
}

static int check_receivers(const void *member, struct vg_err *err)
{
	const struct vg_conf_strlist *l = member;
	int r;

	if (l->n > VG_RING_MAX_MEMBERS)
		return vg_err_set(err, VG_ELIMIT, "more than %d receivers", VG_RING_MAX_MEMBERS);
	for (size_t i = 0; i < l->n; i++) {
		if ((r = check_server(&l->v[i], err)) < 0)
			return r;
		for (size_t j = 0; j < i; j++)
			if (strcmp(l->v[i], l->v[j]) == 0)
				return vg_err_set(err, VG_EINVAL, "receiver %s is listed twice", l->v[i]);
	}
	return 0;
}

/* Series carry at most VG_SERIES_MAX_LABELS labels: leave room for
 * instance and the collectors' own (cpu and mode; device, fstype and
 * mountpoint). */
#define AGENT_MAX_LABELS (VG_SERIES_MAX_LABELS - 8)

static int check_labels(const void *member, struct vg_err *err)
{
	const struct vg_conf_labels *l = member;

	if (l->n > AGENT_MAX_LABELS)
		return vg_err_set(err, VG_ELIMIT, "more than %d labels", AGENT_MAX_LABELS);
	for (size_t i = 0; i < l->n; i++) {
		int r = check_label_name(l->names[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int check_statsd_listen(const void *member, struct vg_err *err)
{
	const char *s = *(char *const *)member;
	char host[256];
	uint16_t port;

	if (s == NULL || s[0] == '\0' || strcmp(s, "off") == 0)
		return 0;
	return vg_conf_split_hostport(s, host, sizeof(host), &port, err);
}

static int check_statsd_buckets(const void *member, struct vg_err *err)
{
	const struct vg_conf_strlist *l = member;
	double b[VG_AGGREGATE_MAX_BOUNDS];
	size_t n;

	return vg_aggregate_parse_bounds((const char *const *)l->v, l->n, b, &n, err);
}

static int check_statsd_quantiles(const void *member, struct vg_err *err)
{
	const struct vg_conf_strlist *l = member;
	double q[VG_AGGREGATE_MAX_QUANTILES];
	size_t n;

	return vg_aggregate_parse_quantiles((const char *const *)l->v, l->n, q, &n, err);
}

/* A collector filter: a regex the collectors can compile. */
static int check_regex(const void *member, struct vg_err *err)
{
	return vg_collect_regex_check(*(char *const *)member, err);
}

#define F(key, type, member) key, type, offsetof(struct vg_agent_config, member), NULL

static const struct vg_conf_field collector_fields[] = {
	{ F("cpu", VG_CONF_BOOL, collect_cpu), 0, 0, NULL },
	{ F("meminfo", VG_CONF_BOOL, collect_meminfo), 0, 0, NULL },
	{ F("filesystem", VG_CONF_BOOL, collect_filesystem), 0, 0, NULL },
	{ F("loadavg", VG_CONF_BOOL, collect_loadavg), 0, 0, NULL },
	{ F("filefd", VG_CONF_BOOL, collect_filefd), 0, 0, NULL },
	{ F("entropy", VG_CONF_BOOL, collect_entropy), 0, 0, NULL },
	{ F("textfile", VG_CONF_BOOL, collect_textfile), 0, 0, NULL },
	{ F("conntrack", VG_CONF_BOOL, collect_conntrack), 0, 0, NULL },
	{ F("diskstats", VG_CONF_BOOL, collect_diskstats), 0, 0, NULL },
	{ F("netdev", VG_CONF_BOOL, collect_netdev), 0, 0, NULL },
	{ F("netstat", VG_CONF_BOOL, collect_netstat), 0, 0, NULL },
	{ F("pressure", VG_CONF_BOOL, collect_pressure), 0, 0, NULL },
	{ F("sockstat", VG_CONF_BOOL, collect_sockstat), 0, 0, NULL },
	{ F("stat", VG_CONF_BOOL, collect_stat), 0, 0, NULL },
	{ F("time", VG_CONF_BOOL, collect_time), 0, 0, NULL },
	{ F("uname", VG_CONF_BOOL, collect_uname), 0, 0, NULL },
	{ F("vmstat", VG_CONF_BOOL, collect_vmstat), 0, 0, NULL },
	{ F("diskstats_device_exclude", VG_CONF_STR, diskstats_device_exclude), 0, 0, check_regex },
	{ F("diskstats_device_include", VG_CONF_STR, diskstats_device_include), 0, 0, check_regex },
	{ F("netdev_device_exclude", VG_CONF_STR, netdev_device_exclude), 0, 0, check_regex },
	{ F("netdev_device_include", VG_CONF_STR, netdev_device_include), 0, 0, check_regex },
	{ F("filesystem_mount_points_exclude", VG_CONF_STR, filesystem_mount_points_exclude), 0, 0, check_regex },
	{ F("filesystem_mount_points_include", VG_CONF_STR, filesystem_mount_points_include), 0, 0, check_regex },
	{ F("filesystem_fs_types_exclude", VG_CONF_STR, filesystem_fs_types_exclude), 0, 0, check_regex },
	{ F("filesystem_fs_types_include", VG_CONF_STR, filesystem_fs_types_include), 0, 0, check_regex },
	{ F("filesystem_statvfs_timeout", VG_CONF_DURATION, statvfs_timeout_ms), 10, 60 * 1000, NULL },
	{ F("netstat_fields", VG_CONF_STR, netstat_fields), 0, 0, check_regex },
	{ F("vmstat_fields", VG_CONF_STR, vmstat_fields), 0, 0, check_regex },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

#define S(key, type, member) key, type, offsetof(struct vg_scrape_target, member), NULL

static int check_scrape_labels(const void *member, struct vg_err *err)
{
	const struct vg_conf_labels *l = member;
	int r = check_labels(member, err);

	for (size_t i = 0; r == 0 && i < l->n; i++)
		if (strcmp(l->names[i], "job") == 0)
			r = vg_err_set(err, VG_EINVAL, "label \"job\" is the target's job; set job instead");
	return r;
}

static const struct vg_conf_field scrape_fields[] = {
	{ S("job", VG_CONF_STR, job), 0, 0, vg_conf_check_ident },
	{ S("url", VG_CONF_STR, url), 0, 0, vg_conf_check_path },
	{ S("interval", VG_CONF_DURATION, interval_ms), INTERVAL_MIN_MS, INTERVAL_MAX_MS, NULL },
	{ S("timeout", VG_CONF_DURATION, timeout_ms), 10, 3600 * 1000, NULL },
	{ S("labels", VG_CONF_LABELS, labels), 0, 0, check_scrape_labels },
	{ S("body_size_limit", VG_CONF_SIZE, body_limit_bytes), 1 << 10, 1LL << 30, NULL },
	{ S("sample_limit", VG_CONF_UINT, sample_limit), 1, 10000000, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

#undef S

static const struct vg_conf_field agent_fields[] = {
	{ F("server", VG_CONF_STR, server), 0, 0, check_server },
	{ F("receivers", VG_CONF_STRLIST, receivers), 0, 0, check_receivers },
	{ F("replication_factor", VG_CONF_UINT, replication_factor), 1, 16, NULL },
	{ F("interval", VG_CONF_DURATION, interval_ms), INTERVAL_MIN_MS, INTERVAL_MAX_MS, NULL },
	{ F("hostname", VG_CONF_STR, hostname), 0, 0, vg_conf_check_ident },
	{ F("labels", VG_CONF_LABELS, labels), 0, 0, check_labels },
	{ F("token", VG_CONF_STR, token), 0, 0, vg_conf_check_ident },
	{ F("proc_path", VG_CONF_STR, proc_path), 0, 0, vg_conf_check_path },
	{ F("rootfs_path", VG_CONF_STR, rootfs_path), 0, 0, vg_conf_check_path },
	{ F("queue_max_bytes", VG_CONF_SIZE, queue_max_bytes), 64 << 10, INT64_MAX, NULL },
	{ F("spool_dir", VG_CONF_STR, spool_dir), 0, 0, NULL },
	{ F("spool_max_bytes", VG_CONF_SIZE, spool_max_bytes), 64 << 10, INT64_MAX, NULL },
	{ F("textfile_dir", VG_CONF_STR, textfile_dir), 0, 0, NULL },
	{ F("backoff_max", VG_CONF_DURATION, backoff_max_ms), 100, 3600 * 1000, NULL },
	{ F("ack_timeout", VG_CONF_DURATION, ack_timeout_ms), 100, 3600 * 1000, NULL },
	{ F("log_level", VG_CONF_STR, log_level), 0, 0, vg_conf_check_log_level },
	{ F("tls", VG_CONF_BOOL, has_tls), 0, 0, NULL },
	{ F("tls_ca_file", VG_CONF_STR, tls_ca_file), 0, 0, vg_conf_check_path },
	{ F("tls_cert_file", VG_CONF_STR, tls_cert_file), 0, 0, vg_conf_check_path },
	{ F("tls_key_file", VG_CONF_STR, tls_key_file), 0, 0, vg_conf_check_path },
	{ F("tls_server_name", VG_CONF_STR, tls_server_name), 0, 0, vg_conf_check_ident },
	{ F("resolv_conf", VG_CONF_STR, resolv_conf), 0, 0, vg_conf_check_path },
	{ "collectors", VG_CONF_SECTION, 0, collector_fields, 0, 0, NULL },
	{ F("statsd_listen", VG_CONF_STR, statsd_listen), 0, 0, check_statsd_listen },
	{ F("statsd_max_series", VG_CONF_UINT, statsd_max_series), 1, 10000000, NULL },
	{ F("statsd_receive_buffer", VG_CONF_SIZE, statsd_receive_buffer), 0, 1LL << 30, NULL },
	{ F("statsd_buckets", VG_CONF_STRLIST, statsd_buckets), 0, 0, check_statsd_buckets },
	{ F("statsd_quantiles", VG_CONF_STRLIST, statsd_quantiles), 0, 0, check_statsd_quantiles },
	{ F("statsd_fast_gauges", VG_CONF_STRLIST, statsd_fast_gauges), 0, 0, NULL },
	{ F("statsd_fast_interval", VG_CONF_DURATION, statsd_fast_interval_ms), 100, 3600 * 1000, NULL },
	{ "scrape", VG_CONF_LIST, offsetof(struct vg_agent_config, scrape), scrape_fields,
	  sizeof(struct vg_scrape_target), 256, NULL },
	{ NULL, 0, 0, NULL, 0, 0, NULL },
};

#undef F

static const char usage_text[] =
	"Usage: " PROG " [OPTION]...\n"
	"Sample this host's metrics and push them to a vigil-receiver.\n"
	"\n"
	"Options (each overrides the configuration file):\n"
	"      --config FILE        configuration file; by default, when it exists,\n"
	"                           " VG_AGENT_DEFAULT_CONFIG "\n"
	"      --server HOST:PORT   receiver to send to (default 127.0.0.1:9710)\n"
	"      --receivers LIST     comma-separated HOST:PORT receivers: the ring this\n"
	"                           host's data is placed on (replication_factor of them)\n"
	"      --interval DURATION  sampling interval, 100ms to 1d (default 10s)\n"
	"      --hostname NAME      value of the instance label (default: the host name)\n"
	"      --label NAME=VALUE   add a label to every series; repeatable;\n"
	"                           an empty VALUE removes a label set in the file\n"
	"      --token TOKEN        token the receiver expects (default none)\n"
	"      --tls-ca-file FILE   connect with TLS, verifying receivers against\n"
	"                           the CAs in FILE\n"
	"      --proc-path DIR      where procfs is mounted (default /proc)\n"
	"      --rootfs-path DIR    the host's root file system (default /)\n"
	"      --spool-dir DIR      keep unacknowledged batches here (default\n"
	"                           " VG_AGENT_DEFAULT_SPOOL "; \"\": memory only)\n"
	"      --statsd-listen ADDR:PORT  StatsD UDP listener (default 127.0.0.1:8125;\n"
	"                           \"off\": none)\n"
	"      --log-level LEVEL    error, warn, info or debug (default info)\n"
	"      --check-config       check the configuration and the spool directory,\n"
	"                           print the result and exit (0 when usable)\n"
	"  -h, --help               print this help and exit\n"
	"  -V, --version            print the version and exit\n"
	"\n"
	"Other settings (spool_max_bytes, queue_max_bytes, backoff_max, ack_timeout,\n"
	"collectors, statsd_*) are set in the file; see vigil-agent(8) and vigil-agent.yaml(5).\n";

enum {
	OPT_CONFIG = 256,
	OPT_SERVER,
	OPT_INTERVAL,
	OPT_HOSTNAME,
	OPT_LABEL,
	OPT_TOKEN,
	OPT_PROC_PATH,
	OPT_ROOTFS_PATH,
	OPT_LOG_LEVEL,
	OPT_SPOOL_DIR,
	OPT_CHECK_CONFIG,
	OPT_RECEIVERS,
	OPT_STATSD_LISTEN,
	OPT_TLS_CA_FILE,
};

static const struct option long_options[] = {
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "server", required_argument, NULL, OPT_SERVER },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "hostname", required_argument, NULL, OPT_HOSTNAME },
	{ "label", required_argument, NULL, OPT_LABEL },
	{ "token", required_argument, NULL, OPT_TOKEN },
	{ "proc-path", required_argument, NULL, OPT_PROC_PATH },
	{ "rootfs-path", required_argument, NULL, OPT_ROOTFS_PATH },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "spool-dir", required_argument, NULL, OPT_SPOOL_DIR },
	{ "check-config", no_argument, NULL, OPT_CHECK_CONFIG },
	{ "receivers", required_argument, NULL, OPT_RECEIVERS },
	{ "statsd-listen", required_argument, NULL, OPT_STATSD_LISTEN },
	{ "tls-ca-file", required_argument, NULL, OPT_TLS_CA_FILE },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* The flags as given, borrowed from argv, applied after the file. */
struct agent_flags {
	const char *config, *server, *interval, *hostname, *token;
	const char *proc_path, *rootfs_path, *log_level, *spool_dir, *receivers, *statsd_listen, *tls_ca_file;
	const char **labels; /* NAME=VALUE, in order */
	bool is_check_only;
	size_t n_labels;
};

static void labels_remove(struct vg_conf_labels *l, size_t i)
{
	free(l->names[i]);
	free(l->values[i]);
	memmove(l->names + i, l->names + i + 1, (l->n - i - 1) * sizeof(*l->names));
	memmove(l->values + i, l->values + i + 1, (l->n - i - 1) * sizeof(*l->values));
	l->n--;
}

/* Sets name=value in l, replacing an existing value; an empty value removes
 * the label (Prometheus: empty means absent). */
static int labels_put(struct vg_conf_labels *l, const char *name, size_t name_len,
		      const char *value)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strlen(l->names[i]) == name_len && memcmp(l->names[i], name, name_len) == 0)
			break;
	if (*value == '\0') {
		if (i < l->n)
			labels_remove(l, i);
		return 0;
	}
	if (i < l->n)
		return vg_conf_set_str(&l->values[i], value);
	char **names = realloc(l->names, (l->n + 1) * sizeof(*names));
	if (!names)
		return VG_ENOMEM;
	l->names = names;
	char **values = realloc(l->values, (l->n + 1) * sizeof(*values));
	if (!values)
		return VG_ENOMEM;
	l->values = values;
	char *n = strndup(name, name_len), *v = strdup(value);
	if (!n || !v) {
		free(n);
		free(v);
		return VG_ENOMEM;
	}
	l->names[l->n] = n;
	l->values[l->n] = v;
	l->n++;
	return 0;
}

static int apply_label_flag(struct vg_agent_config *cfg, const char *arg, struct vg_err *err)
{
	const char *eq = strchr(arg, '=');
	char name[VG_SERIES_MAX_NAME + 1];
	size_t len;
	int r;

	if (!eq)
		return vg_err_set(err, VG_EINVAL, "--label: expected NAME=VALUE, got \"%s\"", arg);
	len = (size_t)(eq - arg);
	if (len > VG_SERIES_MAX_NAME)
		return vg_err_set(err, VG_EINVAL, "--label: label name longer than %d bytes",
				  VG_SERIES_MAX_NAME);
	memcpy(name, arg, len);
	name[len] = '\0';
	r = check_label_name(name, err);
	if (r < 0) {
		vg_err_prefix(err, "--label");
		return r;
	}
	if (strlen(eq + 1) > VG_SERIES_MAX_VALUE || !vg_utf8_valid(eq + 1, strlen(eq + 1)))
		return vg_err_set(err, VG_EINVAL, "--label %s: value longer than %d bytes or not UTF-8",
				  name, VG_SERIES_MAX_VALUE);
	r = labels_put(&cfg->labels, name, len, eq + 1);
	if (r < 0)
		return vg_err_set(err, r, "out of memory");
	return 0;
}

/* --receivers a:1,b:2 replaces the file's list. */
static int apply_receivers_flag(struct vg_agent_config *cfg, const char *arg, struct vg_err *err)
{
	struct vg_conf_strlist l = { 0, NULL };
	const char *p = arg;
	int r = 0;

	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char **v = realloc(l.v, (l.n + 1) * sizeof(*v));
		if (v == NULL || (v[l.n] = strndup(p, len)) == NULL) {
			if (v)
				l.v = v;
			r = vg_err_set(err, VG_ENOMEM, "out of memory");
			goto out;
		}
		l.v = v;
		l.n++;
		p += len + (comma ? 1 : 0);
	}
	if (l.n == 0) {
		r = vg_err_set(err, VG_EINVAL, "--receivers: expected HOST:PORT[,HOST:PORT...]");
		goto out;
	}
	if ((r = check_receivers(&l, err)) < 0) {
		vg_err_prefix(err, "--receivers");
		goto out;
	}
	for (size_t i = 0; i < cfg->receivers.n; i++)
		free(cfg->receivers.v[i]);
	free(cfg->receivers.v);
	cfg->receivers = l;
	return 0;
out:
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
	return r;
}

static int apply_flags(struct vg_agent_config *cfg, const struct agent_flags *fl,
		       struct vg_err *err)
{
	int r;

	if (fl->server && (r = vg_conf_set_str_flag(&cfg->server, "--server", fl->server, check_server, err)) < 0)
		return r;
	if (fl->interval) {
		int64_t ms;
		char lo[32], hi[32];
		r = vg_duration_parse(fl->interval, &ms, err);
		if (r < 0) {
			vg_err_prefix(err, "--interval");
			return r;
		}
		if (ms < INTERVAL_MIN_MS || ms > INTERVAL_MAX_MS) {
			vg_duration_format(INTERVAL_MIN_MS, lo, sizeof(lo));
			vg_duration_format(INTERVAL_MAX_MS, hi, sizeof(hi));
			return vg_err_set(err, VG_EINVAL,
					  "--interval: %s is out of range (must be between %s and %s)",
					  fl->interval, lo, hi);
		}
		cfg->interval_ms = ms;
	}
	if (fl->hostname &&
	    (r = vg_conf_set_str_flag(&cfg->hostname, "--hostname", fl->hostname, vg_conf_check_ident, err)) < 0)
		return r;
	if (fl->token && (r = vg_conf_set_str_flag(&cfg->token, "--token", fl->token, vg_conf_check_ident, err)) < 0)
		return r;
	if (fl->proc_path &&
	    (r = vg_conf_set_str_flag(&cfg->proc_path, "--proc-path", fl->proc_path, vg_conf_check_path, err)) < 0)
		return r;
	if (fl->rootfs_path &&
	    (r = vg_conf_set_str_flag(&cfg->rootfs_path, "--rootfs-path", fl->rootfs_path, vg_conf_check_path, err)) < 0)
		return r;
	if (fl->log_level &&
	    (r = vg_conf_set_str_flag(&cfg->log_level, "--log-level", fl->log_level, vg_conf_check_log_level, err)) < 0)
		return r;
	if (fl->spool_dir && (r = vg_conf_set_str(&cfg->spool_dir, fl->spool_dir)) < 0)
		return vg_err_set(err, r, "out of memory");
	if (fl->receivers && (r = apply_receivers_flag(cfg, fl->receivers, err)) < 0)
		return r;
	if (fl->statsd_listen && (r = vg_conf_set_str_flag(&cfg->statsd_listen, "--statsd-listen", fl->statsd_listen,
							   check_statsd_listen, err)) < 0)
		return r;
	if (fl->tls_ca_file &&
	    (r = vg_conf_set_str_flag(&cfg->tls_ca_file, "--tls-ca-file", fl->tls_ca_file, vg_conf_check_path, err)) < 0)
		return r;
	for (size_t i = 0; i < fl->n_labels; i++)
		if ((r = apply_label_flag(cfg, fl->labels[i], err)) < 0)
			return r;
	if (fl->n_labels > 0 && (r = check_labels(&cfg->labels, err)) < 0) {
		vg_err_prefix(err, "--label");
		return r;
	}
	return 0;
}

static int set_defaults(struct vg_agent_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->interval_ms = 10 * 1000;
	cfg->queue_max_bytes = 64ULL << 20;
	cfg->spool_max_bytes = 512ULL << 20;
	cfg->replication_factor = 1;
	cfg->backoff_max_ms = 30 * 1000;
	cfg->ack_timeout_ms = 30 * 1000;
	cfg->collect_cpu = cfg->collect_meminfo = true;
	cfg->collect_filesystem = cfg->collect_loadavg = true;
	cfg->collect_filefd = cfg->collect_entropy = cfg->collect_textfile = true;
	cfg->statsd_max_series = 10000;
	cfg->statsd_receive_buffer = 8ULL << 20;
	cfg->statsd_fast_interval_ms = 1000;
	cfg->collect_conntrack = cfg->collect_diskstats = cfg->collect_netdev = true;
	cfg->collect_netstat = cfg->collect_pressure = cfg->collect_sockstat = true;
	cfg->collect_stat = cfg->collect_time = cfg->collect_uname = cfg->collect_vmstat = true;
	cfg->statvfs_timeout_ms = VG_COLLECT_DEFAULT_STATVFS_TIMEOUT_MS;
	if (vg_conf_set_str(&cfg->server, "127.0.0.1:9710") < 0 ||
	    vg_conf_set_str(&cfg->statsd_listen, VG_AGENT_DEFAULT_STATSD) < 0 ||
	    vg_conf_set_str(&cfg->proc_path, "/proc") < 0 ||
	    vg_conf_set_str(&cfg->rootfs_path, "/") < 0 ||
	    vg_conf_set_str(&cfg->log_level, "info") < 0 ||
	    vg_conf_set_str(&cfg->spool_dir, VG_AGENT_DEFAULT_SPOOL) < 0 ||
	    vg_conf_set_str(&cfg->resolv_conf, "/etc/resolv.conf") < 0)
		return VG_ENOMEM;
	return 0;
}

/* Scrape targets: what the file cannot say per key (required keys, the
 * defaults that depend on the interval, unique jobs). */
static int finish_scrape(struct vg_agent_config *cfg, struct vg_err *err)
{
	struct vg_scrape_target *v = cfg->scrape.v;

	for (size_t i = 0; i < cfg->scrape.n; i++) {
		struct vg_scrape_target *t = &v[i];
		if (t->job == NULL || t->url == NULL)
			return vg_err_set(err, VG_EINVAL, "scrape[%zu]: %s is required", i, t->job ? "url" : "job");
		if (strncmp(t->url, "http://", 7) != 0 && strncmp(t->url, "https://", 8) != 0)
			return vg_err_set(err, VG_EINVAL, "scrape[%zu] (job %s): url must start with http:// or https://",
					  i, t->job);
		if (t->interval_ms == 0)
			t->interval_ms = cfg->interval_ms;
		if (t->timeout_ms == 0)
			t->timeout_ms = t->interval_ms < 10000 ? t->interval_ms : 10000;
		if (t->timeout_ms > t->interval_ms)
			return vg_err_set(err, VG_EINVAL, "scrape[%zu] (job %s): timeout is longer than the interval", i,
					  t->job);
		for (size_t j = 0; j < i; j++)
			if (strcmp(v[j].job, t->job) == 0)
				return vg_err_set(err, VG_EINVAL, "scrape[%zu]: job %s is used twice", i, t->job);
	}
	return 0;
}

/* Empty strings in the file mean "unset": no token, the system host name. */
static int finish(struct vg_agent_config *cfg, struct vg_err *err)
{
	int r;

	if ((r = finish_scrape(cfg, err)) != 0) {
		if (cfg->config_path)
			vg_err_prefix(err, "%s", cfg->config_path);
		return r;
	}
	if (cfg->tls_ca_file && cfg->tls_ca_file[0])
		cfg->has_tls = true;
	if (cfg->tls_key_file && !cfg->tls_cert_file)
		return vg_err_set(err, VG_EINVAL, "tls_key_file is set without tls_cert_file");
	if (cfg->token && cfg->token[0] == '\0') {
		free(cfg->token);
		cfg->token = NULL;
	}
	/* An operator's own spool directory must work; the default may fall
	 * back to memory (an unprivileged test run, a read-only host). */
	cfg->has_spool_dir = cfg->spool_dir == NULL || strcmp(cfg->spool_dir, VG_AGENT_DEFAULT_SPOOL) != 0;
	cfg->has_statsd_listen = cfg->statsd_listen == NULL || strcmp(cfg->statsd_listen, VG_AGENT_DEFAULT_STATSD) != 0;
	if (cfg->statsd_listen && (cfg->statsd_listen[0] == '\0' || strcmp(cfg->statsd_listen, "off") == 0)) {
		free(cfg->statsd_listen);
		cfg->statsd_listen = NULL;
	}
	if (cfg->spool_dir && cfg->spool_dir[0] == '\0') {
		free(cfg->spool_dir);
		cfg->spool_dir = NULL;
	}
	if (cfg->hostname == NULL || cfg->hostname[0] == '\0') {
		char name[256];
		if (gethostname(name, sizeof(name)) < 0 || name[0] == '\0')
			return vg_err_set(err, VG_EIO,
					  "cannot read the host name; set --hostname or hostname:");
		name[sizeof(name) - 1] = '\0';
		if (vg_conf_set_str(&cfg->hostname, name) < 0)
			return vg_err_set(err, VG_ENOMEM, "out of memory");
	}
	return 0;
}

/* Collects the flags; 1 after --help or --version, < 0 on a usage error. */
static int parse_argv(struct agent_flags *fl, int argc, char **argv, struct vg_err *err)
{
	int c;

	fl->labels = calloc((size_t)argc + 1, sizeof(*fl->labels));
	if (!fl->labels)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	optind = 0; /* GNU: start over, so from_args can be called again */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hV", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_CONFIG: fl->config = optarg; break;
		case OPT_SERVER: fl->server = optarg; break;
		case OPT_INTERVAL: fl->interval = optarg; break;
		case OPT_HOSTNAME: fl->hostname = optarg; break;
		case OPT_LABEL: fl->labels[fl->n_labels++] = optarg; break;
		case OPT_TOKEN: fl->token = optarg; break;
		case OPT_PROC_PATH: fl->proc_path = optarg; break;
		case OPT_ROOTFS_PATH: fl->rootfs_path = optarg; break;
		case OPT_LOG_LEVEL: fl->log_level = optarg; break;
		case OPT_SPOOL_DIR: fl->spool_dir = optarg; break;
		case OPT_CHECK_CONFIG: fl->is_check_only = true; break;
		case OPT_RECEIVERS: fl->receivers = optarg; break;
		case OPT_STATSD_LISTEN: fl->statsd_listen = optarg; break;
		case OPT_TLS_CA_FILE: fl->tls_ca_file = optarg; break;
		default:
			return vg_conf_getopt_other(c, argv, usage_text, PROG " " PACKAGE_VERSION, err);
		}
	}
	return vg_conf_no_operands(argc, argv, err);
}

int vg_agent_config_from_args(struct vg_agent_config *cfg, int argc, char **argv,
			      struct vg_err *err)
{
	struct agent_flags fl;
	int r;

	memset(&fl, 0, sizeof(fl));
	r = set_defaults(cfg);
	if (r < 0) {
		r = vg_err_set(err, r, "out of memory");
		goto out;
	}
	r = parse_argv(&fl, argc, argv, err);
	if (r != 0)
		goto out;
	r = vg_conf_load_given(fl.config, VG_AGENT_DEFAULT_CONFIG, agent_fields, cfg, &cfg->config_path, err);
	if (r < 0)
		goto out;
	r = apply_flags(cfg, &fl, err);
	if (r < 0)
		goto out;
	cfg->is_check_only = fl.is_check_only;
	r = finish(cfg, err);
out:
	free(fl.labels);
	return r;
}

void vg_agent_config_release(struct vg_agent_config *cfg)
{
	vg_conf_release(agent_fields, cfg);
	free(cfg->config_path);
	cfg->config_path = NULL;
}
