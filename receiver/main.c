/*
 * main.c: vigil-receiver's start and stop. Wires the parts in data-flow
 * order: configuration, the WAL replayed into the head, the block files, the
 * HTTP API on its thread (with the import queue into ingest), the agent
 * listener on the main event loop; then runs until SIGTERM or SIGINT and
 * takes them down in reverse.
 */
#include "config.h"

#include "common/clock.h"
#include "common/err.h"
#include "common/footprint.h"
#include "common/fs.h"
#include "common/log.h"
#include "receiver/alert/rulefile.h"
#include "receiver/alert/rules.h"
#include "receiver/storage/head.h"
#include "receiver/storage/retention.h"
#include "receiver/storage/seal.h"
#include "receiver/storage/storage.h"
#include "receiver/fd_budget.h"
#include "receiver/http/http_api.h"
#include "receiver/alert/notifier.h"
#include "receiver/ingest/ingest.h"
#include "receiver/ingest/lastseen.h"
#include "receiver/ingest/tls.h"
#include "receiver/ingest/limits.h"
#include "receiver/ingest/submit.h"
#include "receiver/receiver_config.h"
#include "receiver/selfscrape.h"
#include "receiver/stats.h"
#include "receiver/storage/wal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "common/banned.h"

/* Writes "<agent port> <http port>\n" under a temporary name and renames
 * it, so a reader never sees half a line. */
static int write_port_file(const char *path, uint16_t agent_port, uint16_t http_port, struct vg_err *err)
{
	char tmp[4096], line[32];
	int fd, n;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	n = snprintf(line, sizeof(line), "%u %u\n", agent_port, http_port);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return vg_err_set(err, VG_EIO, "cannot write %s: %s", tmp, strerror(errno));
	if (write(fd, line, (size_t)n) != n || close(fd) != 0) {
		unlink(tmp);
		return vg_err_set(err, VG_EIO, "cannot write %s: %s", tmp, strerror(errno));
	}
	if (rename(tmp, path) != 0)
		return vg_err_set(err, VG_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
	return 0;
}

static void http_auth_options(const struct vg_receiver_config *cfg, struct vg_http_auth_options *o)
{
	o->read_token = cfg->http_read_token;
	o->read_token_file = cfg->http_read_token_file;
	o->admin_token = cfg->http_admin_token;
	o->admin_token_file = cfg->http_admin_token_file;
	o->read_basic = cfg->http_read_basic;
	o->admin_basic = cfg->http_admin_basic;
}

/* The rule files cfg names, globbed against the configuration file's
 * directory, then the default rule set (vigil-rules(5), "DEFAULT RULES")
 * unless turned off or already named. The installed file missing is said
 * and skipped (a receiver run from its build tree); a file the
 * configuration names must be there. */
static int load_rules(const struct vg_receiver_config *cfg, struct vg_rule_set **out, struct vg_err *err)
{
	struct vg_rule_load_options ro = { cfg->evaluation_interval_ms, false };
	char dir[4096];
	int rc;

	snprintf(dir, sizeof(dir), "%s", cfg->config_path ? cfg->config_path : ".");
	rc = vg_rule_set_load_globs(&cfg->rule_files, cfg->config_path ? dirname(dir) : NULL, &ro, out, err);
	if (rc != 0 || !cfg->has_default_rules)
		return rc;
	for (size_t i = 0; i < (*out)->n_files; i++)
		if (strcmp((*out)->files[i], cfg->default_rules_file) == 0)
			return 0;
	if (!cfg->is_default_rules_file_given && access(cfg->default_rules_file, F_OK) != 0) {
		vg_warn("the default rules are not loaded: %s: %s (set default_rules: false to run without them)",
			cfg->default_rules_file, strerror(errno));
		return 0;
	}
	if ((rc = vg_rule_set_add_file(*out, cfg->default_rules_file, &ro, err)) != 0) {
		vg_err_prefix(err, "default_rules_file");
		vg_rule_set_free(*out);
		*out = NULL;
	}
	return rc;
}

/* SIGHUP and POST /-/reload: the configuration read again as at start
 * (flags, then the file), its rule files loaded and handed to the engine;
 * a file refused leaves the running rules as they are. One at a time. */
struct reloader {
	pthread_mutex_t mu;
	int argc;
	char **argv;
	struct vg_rules *rules;
};

static int reload_rules(void *arg, struct vg_err *err)
{
	struct reloader *rl = arg;
	struct vg_receiver_config cfg;
	struct vg_rule_set *set = NULL;
	int rc;

	pthread_mutex_lock(&rl->mu);
	rc = vg_receiver_config_from_args(&cfg, rl->argc, rl->argv, err);
	if (rc == 0)
		rc = load_rules(&cfg, &set, err);
	if (rc == 0) {
		vg_info("reloading: %zu rule files, %zu rules", set->n_files, vg_rule_set_count(set));
		vg_rules_apply(rl->rules, set);
	} else {
		vg_error("reload refused, the previous rules keep running: %s", err->msg);
	}
	vg_receiver_config_release(&cfg);
	pthread_mutex_unlock(&rl->mu);
	return rc;
}

static void sighup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct vg_err err;

	(void)sig;
	(void)what;
	vg_info("received SIGHUP, reloading the rules");
	(void)reload_rules(arg, &err);
}

/* What --check-config checks beyond the syntax: the data directory, when
 * it exists, is a writable directory; the HTTP token files can be read. */
static int check_files(const struct vg_receiver_config *cfg, struct vg_err *err)
{
	struct vg_http_auth_options ao;
	struct vg_http_auth auth;
	struct stat st;

	http_auth_options(cfg, &ao);
	if (vg_http_auth_init(&auth, &ao, err) != 0)
		return err->code;
	vg_http_auth_release(&auth);
	{
		struct vg_rule_set *set = NULL;
		if (load_rules(cfg, &set, err) != 0)
			return err->code;
		vg_rule_set_free(set);
	}

	if (stat(cfg->data_dir, &st) == 0 && (!S_ISDIR(st.st_mode) || access(cfg->data_dir, W_OK) != 0))
		return vg_err_set(err, VG_EINVAL, "%s%sdata_dir: %s is not a writable directory",
				  cfg->config_path ? cfg->config_path : "", cfg->config_path ? ": " : "",
				  cfg->data_dir);
	/* The TLS files, read as the listener will read them. */
	if (cfg->tls_cert_file) {
		struct vg_tls_server *t;
		int rc = vg_tls_server_new(cfg->tls_cert_file, cfg->tls_key_file, cfg->tls_client_ca_file, &t, err);
		if (rc != 0)
			return rc;
		vg_tls_server_free(t);
	}
	if (cfg->http_tls_cert_file) {
		struct vg_tls_server *t;
		int rc = vg_tls_server_new(cfg->http_tls_cert_file, cfg->http_tls_key_file,
					   cfg->http_tls_client_ca_file, &t, err);
		if (rc != 0) {
			vg_err_prefix(err, "HTTPS"); /* http_tls_*: the message names tls_* */
			return rc;
		}
		vg_tls_server_free(t);
	}
	return 0;
}

/* The lines of /metrics that main's parts own (stats->render_more). */
struct more_metrics {
	struct vg_limits *limits;
	struct vg_lastseen *last_seen;
};

static void render_more(void *arg, struct vg_buf *out)
{
	struct more_metrics *m = arg;

	vg_limits_render(m->limits, out);
	vg_lastseen_render(m->last_seen, out);
}

static void render_metrics(void *arg, struct vg_buf *out)
{
	vg_http_api_render_metrics(arg, out);
}

/* libevent's own messages (its default writes them to stderr) go to the
 * receiver's log at the matching level. */
static void libevent_log_cb(int severity, const char *msg)
{
	enum vg_log_level level = severity == EVENT_LOG_ERR    ? VG_LOG_ERROR
				  : severity == EVENT_LOG_WARN ? VG_LOG_WARN
				  : severity == EVENT_LOG_MSG  ? VG_LOG_INFO
							       : VG_LOG_DEBUG;

	if (vg_log_enabled(level))
		vg_log(level, "libevent: %s", msg);
}

static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	vg_info("received %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	event_base_loopexit(arg, NULL);
}

static void seal_logged(void *arg, int rc, const char *msg)
{
	(void)arg;
	(void)rc;
	(void)msg; /* the sealer logged the outcome */
}

static void seal_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	if (vg_sealer_request(arg, seal_logged, NULL) != 0)
		vg_warn("cannot ask for a seal: out of memory");
}

/* How often the free heap and the library pages go back while running. */
#define TRIM_PERIOD_S 60

/*
 * Gives malloc's free pages back to the kernel (glibc's malloc_trim: the
 * top of each arena, and whole free pages inside it), and drops the
 * page mappings of the program's and libraries' files that hold only the
 * files' content (common/footprint.h: start-up's and a replay's code and
 * read-only data, mapped again from the page cache where still used):
 * once the WAL is replayed, and every TRIM_PERIOD_S on this loop, so what
 * ingest, seals and queries freed or no longer run is not kept resident.
 * malloc_trim holds each arena's lock while it walks that arena's free
 * chunks: at 100,000 series 0.25 ms after the replay, 1 ms on the timer
 * during a seal (docs/performance.md, "What the receiver's RSS is made
 * of").
 */
static void trim_heap(const char *when)
{
	struct timespec t0, t1;
	struct vg_err err;
	size_t kib = 0;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	malloc_trim(0);
	r = vg_footprint_drop_file_pages(&kib, &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (r != 0)
		vg_debug("cannot drop the library pages %s: %s", when, err.msg);
	vg_debug("gave the free heap and %zu KiB of library pages back %s in %.2f ms", kib, when,
		 (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
}

static void trim_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	trim_heap("on the timer");
}

/* The seal at SIGTERM, on this thread: the ingest loop has stopped. */
static void final_seal(struct vg_ingest *ing, struct vg_head *head, struct vg_storage *storage,
		       struct vg_wal *wal, const char *data_dir, struct vg_clock *clock,
		       const struct vg_retention *retention)
{
	struct vg_seal_stats st;
	struct vg_err err;
	uint32_t segno = 0;
	int64_t t0 = vg_clock_mono_ms();

	if (vg_head_frozen_series(head) == 0 && vg_ingest_freeze(ing, &segno, &err) != 0) {
		vg_error("sealing before exit: %s", err.msg);
		return;
	}
	if (vg_seal_frozen(head, storage, data_dir, VG_SEAL_DEFAULT_PERIOD_MS, vg_clock_now(clock),
			   retention, &st, &err) != 0) {
		vg_error("sealing before exit: %s; the WAL keeps everything", err.msg);
		return;
	}
	if (segno != 0 && vg_wal_remove_before(wal, segno, &err) != 0)
		vg_warn("sealed, but cannot remove old WAL segments: %s", err.msg);
	vg_info("sealed the head before exit in %lld ms: %llu blocks, %llu samples",
		(long long)(vg_clock_mono_ms() - t0), (unsigned long long)st.blocks,
		(unsigned long long)st.samples);
}

int main(int argc, char **argv)
{
	struct vg_receiver_config cfg;
	struct vg_clock clock = { NULL, 0 };
	struct vg_retention retention;
	struct vg_err err;
	struct vg_stats *stats = NULL;
	struct vg_head *head = NULL;
	struct vg_storage *storage = NULL;
	struct vg_limits *limits = NULL;
	struct vg_sealer *sealer = NULL;
	struct event *seal_timer = NULL, *trim_timer = NULL;
	struct vg_wal *wal = NULL;
	struct vg_ingest *ing = NULL;
	struct vg_http_api *api = NULL;
	struct vg_notifier *notifier = NULL;
	struct vg_submit *submit = NULL;
	struct vg_lastseen *last_seen = NULL;
	struct vg_selfscrape *selfscrape = NULL;
	struct more_metrics more = { NULL, NULL };
	struct event_base *base = NULL;
	struct event *sigterm = NULL, *sigint = NULL, *sighup = NULL;
	struct vg_rules *rules = NULL;
	struct vg_rule_set *rule_set = NULL;
	struct reloader reloader = { PTHREAD_MUTEX_INITIALIZER, argc, argv, NULL };
	struct vg_wal_replay_cb replay;
	struct vg_wal_stats replayed;
	struct vg_wal_options wopts;
	struct vg_fd_plan fds;
	enum vg_log_level level = VG_LOG_INFO;
	char host[256], http_host[256], wal_dir[4096];
	uint16_t port, http_port;
	int64_t t0;
	int rc, status = 1, lock_fd = -1;

	vg_log_init("vigil-receiver", VG_LOG_INFO);
	/* Once, before any thread: the notifier's channels use libcurl. */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = vg_receiver_config_from_args(&cfg, argc, argv, &err);
	if (rc == 1) {
		vg_receiver_config_release(&cfg);
		return 0;
	}
	if (rc != 0) {
		bool is_check_only = cfg.is_check_only;
		if (is_check_only)
			fprintf(stderr, "vigil-receiver: %s\n", err.msg);
		else
			fprintf(stderr, "vigil-receiver: %s\nTry 'vigil-receiver --help'.\n", err.msg);
		vg_receiver_config_release(&cfg);
		return is_check_only ? 1 : 2;
	}
	if (cfg.is_check_only) {
		rc = check_files(&cfg, &err);
		if (rc != 0)
			fprintf(stderr, "vigil-receiver: %s\n", err.msg);
		else
			printf("%s: configuration valid\n", cfg.config_path ? cfg.config_path : "(defaults)");
		vg_receiver_config_release(&cfg);
		return rc != 0 ? 1 : 0;
	}
	if (cfg.log_level && vg_log_parse_level(cfg.log_level, &level) == 0)
		vg_log_set_level(level);
	if (vg_conf_split_hostport(cfg.listen, host, sizeof(host), &port, &err) != 0 ||
	    vg_conf_split_hostport(cfg.http_listen, http_host, sizeof(http_host), &http_port, &err) != 0) {
		fprintf(stderr, "vigil-receiver: %s\n", err.msg);
		vg_receiver_config_release(&cfg);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	event_set_log_callback(libevent_log_cb);
	evthread_use_pthreads();

	retention = (struct vg_retention){ { cfg.retention_raw_ms, cfg.retention_1m_ms, cfg.retention_1h_ms },
					   cfg.retention_size_bytes };
	if (vg_clock_init(&clock, cfg.testing_clock_file) != 0) {
		vg_err_set(&err, VG_ENOMEM, "out of memory");
		goto fail;
	}
	if (vg_clock_is_driven(&clock))
		vg_warn("the calendar clock is driven by %s (for tests only)", cfg.testing_clock_file);
	if (vg_fs_mkdir_p(cfg.data_dir, NULL, &err) != 0)
		goto fail;
	/* One receiver per data directory: a second one would replay the WAL
	 * while the first appends to it and deletes what it sealed. A restart
	 * must wait for the old process to exit (its last seal can take a
	 * while). */
	if (vg_fs_lock_dir(cfg.data_dir, &lock_fd, &err) != 0)
		goto fail;
	snprintf(wal_dir, sizeof(wal_dir), "%s/wal", cfg.data_dir);
	stats = calloc(1, sizeof(*stats));
	head = vg_head_new();
	base = event_base_new();
	if (stats == NULL || head == NULL || base == NULL) {
		vg_err_set(&err, VG_ENOMEM, "out of memory at start");
		goto fail;
	}
	vg_stats_init(stats);
	/* Imports reach the WAL through the ingest thread: a bounded queue
	 * from the HTTP thread into this loop. */
	if (vg_submit_new(base, 64, &submit, &err) != 0)
		goto fail;

	vg_fd_budget_plan(cfg.max_connections, cfg.http_max_connections, &fds);
	if (fds.is_overcommitted)
		vg_warn("max_connections %llu and http_max_connections %llu exceed the descriptor limit %llu "
			"(less %d reserved): the listeners will pause when it is reached",
			(unsigned long long)fds.agent_conns, (unsigned long long)fds.http_conns,
			(unsigned long long)fds.limit, VG_FD_RESERVE);
	vg_debug("descriptors: limit %llu, %llu for agents, %llu for HTTP", (unsigned long long)fds.limit,
		 (unsigned long long)fds.agent_conns, (unsigned long long)fds.http_conns);

	/* The guard's state is main's: /metrics renders it from the HTTP
	 * thread, which stops after ingest is freed. */
	{
		struct vg_limits_options lo = { cfg.max_series, cfg.max_series_per_agent,
						cfg.max_new_series_per_minute };
		if (vg_limits_new(&lo, &limits, &err) != 0)
			goto fail;
	}
	{
		struct vg_lastseen_options lso = { cfg.agent_last_seen_max_agents,
						     cfg.agent_last_seen_retention_ms };
		if (vg_lastseen_new(&lso, &last_seen, &err) != 0)
			goto fail;
	}
	struct vg_ingest_options iopts = {
		.host = host, .port = port, .token = cfg.token, .limits = limits,
		.max_connections = fds.agent_conns, .base = base, .head = head, .stats = stats,
		.max_sample_age_ms = cfg.max_sample_age_ms, .clock = &clock,
		.submit = submit, .last_seen = last_seen,
		.buffer_budget = cfg.agent_buffer_budget, .conn_buffer = cfg.agent_connection_buffer,
		.hello_buffer = cfg.agent_hello_buffer, .hello_timeout_ms = cfg.agent_hello_timeout_ms,
		.idle_timeout_ms = cfg.agent_idle_timeout_ms, .frame_timeout_ms = cfg.agent_frame_timeout_ms,
		.max_series = cfg.max_series, .max_series_per_agent = cfg.max_series_per_agent,
		.max_new_series_per_minute = cfg.max_new_series_per_minute,
		.tls_cert_file = cfg.tls_cert_file, .tls_key_file = cfg.tls_key_file,
		.tls_client_ca_file = cfg.tls_client_ca_file,
	};
	if (vg_ingest_new(&iopts, &ing, &err) != 0)
		goto fail;

	more = (struct more_metrics){ limits, last_seen };
	stats->render_more = render_more;
	stats->render_more_arg = &more;
	vg_ingest_replay_cb(ing, &replay);
	memset(&wopts, 0, sizeof(wopts));
	wopts.segment_bytes = cfg.wal_segment_bytes;
	t0 = vg_clock_mono_ms();
	if (vg_wal_open(wal_dir, &wopts, &replay, &wal, &replayed, &err) != 0) {
		vg_err_prefix(&err, "opening the WAL in %s", wal_dir);
		goto fail;
	}
	atomic_store(&stats->wal_missing_segments, replayed.missing_segments);
	atomic_store(&stats->wal_corrupt_tails, replayed.corrupt_tails);
	atomic_store(&stats->wal_damaged_segments, replayed.damaged_segments);
	atomic_store(&stats->wal_bad_segments, replayed.bad_segments);
	vg_info("replayed the WAL in %lld ms: %llu records, %llu samples, %zu series",
		(long long)(vg_clock_mono_ms() - t0), (unsigned long long)replayed.records,
		(unsigned long long)replayed.samples, vg_head_num_series(head));
	/* Replay's read buffer and scratch arrays are freed, and the head's
	 * chunks left holes behind as they were finished and merged. */
	trim_heap("after the WAL replay");

	struct vg_storage_options sopts = { .data_dir = cfg.data_dir, .head = head };
	if (vg_storage_open(&sopts, &storage, &err) != 0) {
		vg_err_prefix(&err, "opening the blocks in %s", cfg.data_dir);
		goto fail;
	}

	struct vg_sealer_options sealopts = {
		.head = head, .storage = storage, .wal = wal, .data_dir = cfg.data_dir,
		.period_ms = VG_SEAL_DEFAULT_PERIOD_MS, .freeze = vg_ingest_freeze_wait, .freeze_arg = ing,
		.clock = &clock, .retention = &retention,
		.testing_compact_stall_ms = cfg.testing_compact_stall_ms,
	};
	if (vg_sealer_start(&sealopts, &sealer, &err) != 0)
		goto fail;

	if (vg_alerting_is_configured(&cfg.alerting)) {
		struct vg_notifier_options nopts = {
			.config = &cfg.alerting, .config_file = cfg.config_path, .data_dir = cfg.data_dir,
			.clock = &clock,
		};
		if (vg_notifier_open(&nopts, &notifier, &err) != 0) {
			vg_err_prefix(&err, "starting the notifier");
			goto fail;
		}
	}

	/* Rules: evaluated on their own thread, written through the same
	 * queue as imports; what fires goes to the notifier, when there is
	 * one (alert.h). */
	if (load_rules(&cfg, &rule_set, &err) != 0)
		goto fail;
	{
		struct vg_rules_options ropts = {
			.storage = storage, .submit = submit, .clock = &clock, .data_dir = cfg.data_dir,
			.lookback_ms = cfg.lookback_ms, .sink = NULL, .sink_arg = NULL,
			.query_timeout_ms = cfg.query_timeout_ms, .query_max_samples = cfg.query_max_samples,
			.query_max_series = cfg.query_max_series,
			.tick_ms = cfg.testing_clock_file ? 5 : 0,
		};
		if (notifier) {
			ropts.sink = vg_notifier_push;
			ropts.sink_arg = notifier;
		} else if (cfg.testing_alert_log) {
			ropts.sink = vg_alert_log_sink;
			ropts.sink_arg = cfg.testing_alert_log;
		}
		rc = vg_rules_start(&ropts, rule_set, &rules, &err);
		rule_set = NULL; /* the engine's, or freed */
		if (rc != 0)
			goto fail;
		reloader.rules = rules;
	}

	struct vg_http_api_options hopts = {
		.host = http_host, .port = http_port, .lookback_ms = cfg.lookback_ms,
		.head = head, .storage = storage, .sealer = sealer, .stats = stats, .submit = submit,
		.max_header_bytes = cfg.http_max_header_bytes, .max_header_fields = cfg.http_max_header_fields,
		.max_body_bytes = cfg.http_max_body_bytes, .timeout_ms = cfg.http_timeout_ms,
		.header_timeout_ms = cfg.http_header_timeout_ms, .max_connections = fds.http_conns,
		.cors_origin = cfg.http_cors_origin,
		.tls_cert_file = cfg.http_tls_cert_file, .tls_key_file = cfg.http_tls_key_file,
		.tls_client_ca_file = cfg.http_tls_client_ca_file,
		.rules = rules, .reload = reload_rules, .reload_arg = &reloader,
		.notifier = notifier,
		.query_timeout_ms = cfg.query_timeout_ms, .query_max_samples = cfg.query_max_samples,
		.query_max_series = cfg.query_max_series,
		.query_max_response_bytes = cfg.query_max_response_bytes,
		.query_max_concurrency = (unsigned)cfg.query_max_concurrency,
		.query_max_queued = (unsigned)cfg.query_max_queued,
		.web_assets_dir = cfg.web_assets_dir,
	};
	http_auth_options(&cfg, &hopts.auth);
	if (vg_http_api_start(&hopts, &api, &err) != 0)
		goto fail;
	if (vg_ingest_listen(ing, wal, &err) != 0)
		goto fail;
	if (notifier) {
		char url[300];
		snprintf(url, sizeof(url), "http://%s:%u", http_host[0] ? http_host : "localhost", vg_http_api_port(api));
		vg_notifier_set_external_url(notifier, url);
	}
	/* The WAL was replayed above, before HTTP listened: ready. */
	vg_http_api_set_ready(api);
	/* The receiver's own metrics as series, once everything they come
	 * from runs (selfscrape.h). */
	if (cfg.self_metrics_interval_ms > 0) {
		char instance[300];
		struct vg_selfscrape_options so = {
			.interval_ms = cfg.self_metrics_interval_ms, .instance = cfg.self_metrics_instance,
			.submit = submit, .clock = &clock, .last_seen = last_seen, .stats = stats,
			.render = render_metrics, .render_arg = api,
			.storage = storage, .last_seen_retention_ms = cfg.agent_last_seen_retention_ms,
		};
		if (so.instance == NULL) {
			char name[256];
			if (gethostname(name, sizeof(name)) != 0 || name[0] == '\0')
				snprintf(name, sizeof(name), "localhost");
			name[sizeof(name) - 1] = '\0';
			snprintf(instance, sizeof(instance), "%s:%u", name, vg_http_api_port(api));
			so.instance = instance;
		}
		if (vg_selfscrape_start(&so, &selfscrape, &err) != 0)
			goto fail;
	}
	/* The handlers before anyone can learn the ports (the port file, the
	 * log line): a SIGTERM sent as soon as the receiver is up takes the
	 * stop path, run once the loop below starts, never the default. */
	sigterm = evsignal_new(base, SIGTERM, stop_cb, base);
	sigint = evsignal_new(base, SIGINT, stop_cb, base);
	sighup = evsignal_new(base, SIGHUP, sighup_cb, &reloader);
	if (sigterm == NULL || sigint == NULL || sighup == NULL || evsignal_add(sigterm, NULL) ||
	    evsignal_add(sigint, NULL) || evsignal_add(sighup, NULL)) {
		vg_err_set(&err, VG_ENOMEM, "cannot install signal handlers");
		goto fail;
	}
	if (cfg.port_file && write_port_file(cfg.port_file, vg_ingest_port(ing), vg_http_api_port(api), &err) != 0)
		goto fail;
	vg_info("vigil-receiver %s listening for agents on %s:%u, %s on %s:%u, data in %s",
		PACKAGE_VERSION, host[0] ? host : "*", vg_ingest_port(ing), cfg.http_tls_cert_file ? "HTTPS" : "HTTP",
		http_host[0] ? http_host : "*", vg_http_api_port(api), cfg.data_dir);

	{
		/* Seal every block period, so the head holds about one. */
		struct timeval every = { VG_SEAL_DEFAULT_PERIOD_MS / 1000, 0 };
		seal_timer = event_new(base, -1, EV_PERSIST, seal_tick, sealer);
		if (seal_timer == NULL || event_add(seal_timer, &every) != 0) {
			vg_err_set(&err, VG_ENOMEM, "cannot start the seal timer");
			goto fail;
		}
	}
	{
		struct timeval every = { TRIM_PERIOD_S, 0 };
		trim_timer = event_new(base, -1, EV_PERSIST, trim_tick, NULL);
		if (trim_timer == NULL || event_add(trim_timer, &every) != 0) {
			vg_err_set(&err, VG_ENOMEM, "cannot start the heap trim timer");
			goto fail;
		}
	}
	event_base_dispatch(base);
	status = 0;
	goto out;
fail:
	vg_error("%s", err.msg);
out:
	/* Reverse order of start. The sealer first (a freeze it waits for fails
	 * now that the loop is done), then the last seal, here, so a restart
	 * finds everything in blocks and a short WAL; then no agents, then no
	 * queries, then the WAL (after the last sync), then memory. Running
	 * queries are canceled before all that: nothing waits for them. */
	/* Before the query workers stop: it renders their counts. */
	vg_selfscrape_stop(selfscrape);
	vg_http_api_stop_queries(api);
	/* No evaluation past this point; the state is saved. */
	vg_rules_stop(rules);
	if (ing)
		vg_ingest_stop_freezes(ing);
	vg_sealer_stop(sealer);
	if (status == 0 && ing && wal)
		final_seal(ing, head, storage, wal, cfg.data_dir, &clock, &retention);
	vg_ingest_free(ing);
	if (api)
		vg_http_api_stop(api);
	/* After ingest completed its batches and HTTP stopped reading it. */
	vg_rules_free(rules);
	vg_selfscrape_free(selfscrape);
	/* After HTTP, which posts alerts and silences into it. */
	vg_notifier_close(notifier);
	/* After both of its sides, before the base its event is on. */
	vg_submit_free(submit);
	if (wal) {
		if (vg_wal_sync(wal, &err) != 0)
			vg_error("final WAL sync: %s", err.msg);
		vg_wal_close(wal);
	}
	if (seal_timer)
		event_free(seal_timer);
	if (trim_timer)
		event_free(trim_timer);
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (sighup)
		event_free(sighup);
	if (base)
		event_base_free(base);
	vg_storage_close(storage);
	vg_limits_free(limits);
	vg_lastseen_free(last_seen);
	vg_head_free(head);
	free(stats);
	/* Last: everything in the data directory is closed. */
	if (lock_fd >= 0)
		close(lock_fd);
	vg_receiver_config_release(&cfg);
	vg_clock_release(&clock);
	if (status == 0)
		vg_info("stopped");
	return status;
}
