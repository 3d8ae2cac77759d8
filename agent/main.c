/*
 * main.c: vigil-agent's loop. Every interval: run each enabled collector
 * into a sink that adds the agent's labels (instance and the configured
 * ones), resolves each series to its ref, and gathers (ref, value) pairs;
 * then hand the batch to the sender, which owns it until a receiver
 * acknowledges it. The agent's own counters travel in the same batch as
 * vigil_agent_* series.
 *
 * SIGHUP reads the configuration again (the same file and flags): a bad
 * one is logged and the running one kept. Sampling settings (interval,
 * labels, collectors, paths, log level) change at once; a change of
 * receiver, token, hostname or spool settings replaces the sender, whose
 * disk spool the new one resumes, so nothing waiting is lost. With a
 * memory spool those changes wait for a restart (logged), as replacing
 * the sender would lose its batches.
 */
#include "config.h"

#include "agent/agent_config.h"
#include "agent/collect/collect.h"
#include "agent/sender.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/series.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/banned.h"

struct collector_slot {
	const struct vg_collector *c;
	struct vg_complaint complaint;
	uint64_t errors;
};

struct agent {
	struct vg_agent_config *cfg;
	int argc;
	char **argv;
	struct vg_sender_options sopts;
	char host[256];
	struct vg_collect_env env;
	struct vg_sender *sender;
	struct event_base *base;
	struct collector_slot slots[8];
	size_t n_slots;
	/* the batch being gathered */
	uint32_t *refs;
	double *values;
	size_t n, cap;
	uint64_t series_errors;
	struct event *tick;
	struct vg_agent_config *old_cfg; /* a reloaded configuration, freed with the agent */
	struct timeval interval;
	bool is_stopping;
	int64_t stop_deadline_ms;
};

/* The sink: completes a collector's series with the agent's labels, gives
 * it a ref, and keeps the sample for this interval's batch. */
static int sink_add(void *arg, struct vg_series *s, double value)
{
	struct agent *a = arg;
	struct vg_agent_config *cfg = a->cfg;
	struct vg_err err;
	uint32_t ref;
	int rc;

	if (vg_series_add(s, "instance", cfg->hostname) != 0)
		goto bad_limit;
	for (size_t i = 0; i < cfg->labels.n; i++)
		if (vg_series_add(s, cfg->labels.names[i], cfg->labels.values[i]) != 0)
			goto bad_limit;
	if ((rc = vg_series_canonicalize(s, &err)) != 0) {
		static struct vg_complaint bad = VG_COMPLAINT_INIT;
		a->series_errors++;
		vg_log_complain(&bad, VG_LOG_WARN, "skipping a sample: %s", err.msg);
		return 0;
	}
	if ((rc = vg_sender_ref(a->sender, s, vg_series_hash(s), &ref)) != 0)
		return rc;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 512;
		uint32_t *r = realloc(a->refs, cap * sizeof(*r));
		if (r == NULL)
			return VG_ENOMEM;
		a->refs = r;
		double *v = realloc(a->values, cap * sizeof(*v));
		if (v == NULL)
			return VG_ENOMEM;
		a->values = v;
		a->cap = cap;
	}
	a->refs[a->n] = ref;
	a->values[a->n] = value;
	a->n++;
	return 0;
bad_limit:
	a->series_errors++;
	return 0;
}

static void add_self(struct vg_sample_sink *sink, const char *name,
		     const char *label, const char *label_value, double v)
{
	struct vg_series s;

	vg_series_init(&s, name);
	if (label)
		vg_series_add(&s, label, label_value);
	sink->add(sink->arg, &s, v);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	struct vg_sample_sink sink = { sink_add, a };
	struct vg_sender_stats st;
	struct vg_err err;
	int64_t ts = vg_clock_now_ms(), t0 = vg_clock_mono_ms();

	(void)fd;
	(void)what;
	if (a->is_stopping)
		return; /* the first tick (event_base_once) may come late */
	a->n = 0;
	for (size_t i = 0; i < a->n_slots; i++) {
		struct collector_slot *slot = &a->slots[i];
		if (slot->c->collect(&a->env, &sink, &err) != 0) {
			slot->errors++;
			vg_log_complain(&slot->complaint, VG_LOG_WARN, "collector %s: %s", slot->c->name, err.msg);
		} else {
			vg_log_relief(&slot->complaint, "collector %s works again", slot->c->name);
		}
	}
	vg_sender_get_stats(a->sender, &st);
	add_self(&sink, "vigil_agent_batches_sent_total", NULL, NULL, (double)st.batches_sent);
	add_self(&sink, "vigil_agent_batches_acked_total", NULL, NULL, (double)st.batches_acked);
	add_self(&sink, "vigil_agent_batches_dropped_total", NULL, NULL, (double)st.batches_dropped);
	add_self(&sink, "vigil_agent_samples_dropped_total", NULL, NULL, (double)st.samples_dropped);
	add_self(&sink, "vigil_agent_queue_batches", NULL, NULL, (double)st.queue_batches);
	add_self(&sink, "vigil_agent_queue_bytes", NULL, NULL, (double)st.queue_bytes);
	add_self(&sink, "vigil_agent_connects_total", NULL, NULL, (double)st.connects);
	add_self(&sink, "vigil_agent_connect_failures_total", NULL, NULL, (double)st.connect_failures);
	add_self(&sink, "vigil_agent_series", NULL, NULL, (double)st.series);
	add_self(&sink, "vigil_agent_samples_refused_total", NULL, NULL, (double)st.samples_refused);
	add_self(&sink, "vigil_agent_series_refused_total", NULL, NULL, (double)st.series_refused);
	add_self(&sink, "vigil_agent_protocol", NULL, NULL, (double)st.proto);
	for (size_t i = 0; i < a->n_slots; i++)
		add_self(&sink, "vigil_agent_collector_errors_total", "collector", a->slots[i].c->name,
			 (double)a->slots[i].errors);
	add_self(&sink, "vigil_agent_collect_duration_seconds", NULL, NULL,
		 (double)(vg_clock_mono_ms() - t0) / 1000.0);
	if (vg_sender_submit(a->sender, ts, a->n, a->refs, a->values, &err) != 0)
		vg_error("cannot queue a batch: %s", err.msg);
	vg_debug("collected %zu samples", a->n);
}

/* Takes cfg's sampling settings: collectors, their paths. Error counts
 * of collectors that stay on are kept. */
static void apply_sampling(struct agent *a, struct vg_agent_config *cfg)
{
	struct collector_slot old[8];
	size_t n_old = a->n_slots;
	const struct vg_collector *want[8];
	size_t n = 0;

	memcpy(old, a->slots, sizeof(old));
	a->cfg = cfg;
	vg_collect_env_default(&a->env);
	a->env.proc_path = cfg->proc_path;
	a->env.rootfs_path = cfg->rootfs_path;
	if (cfg->collect_cpu)
		want[n++] = &vg_collector_cpu;
	if (cfg->collect_meminfo)
		want[n++] = &vg_collector_meminfo;
	if (cfg->collect_filesystem)
		want[n++] = &vg_collector_filesystem;
	if (cfg->collect_loadavg)
		want[n++] = &vg_collector_loadavg;
	memset(a->slots, 0, sizeof(a->slots));
	a->n_slots = 0;
	for (size_t i = 0; i < n; i++) {
		struct collector_slot *slot = &a->slots[a->n_slots++];
		slot->c = want[i];
		for (size_t j = 0; j < n_old; j++)
			if (old[j].c == want[i])
				*slot = old[j];
	}
	a->interval = (struct timeval){ cfg->interval_ms / 1000, (cfg->interval_ms % 1000) * 1000 };
}

/* The sender's options from cfg; host must outlive them. */
static int sender_options(struct agent *a, struct vg_agent_config *cfg, struct vg_sender_options *o,
			  struct vg_err *err)
{
	uint16_t port;
	int rc;

	/* Checked by vg_agent_config_from_args already; this only splits it. */
	if ((rc = vg_conf_split_hostport(cfg->server, a->host, sizeof(a->host), &port, err)) != 0)
		return rc;
	*o = (struct vg_sender_options){
		.host = a->host, .port = port, .agent = cfg->hostname, .token = cfg->token,
		.queue_max_bytes = cfg->queue_max_bytes, .spool_dir = cfg->spool_dir,
		.spool_max_bytes = cfg->spool_max_bytes, .backoff_max_ms = cfg->backoff_max_ms,
		.ack_timeout_ms = cfg->ack_timeout_ms, .base = a->base,
	};
	return 0;
}

static bool str_differs(const char *x, const char *y)
{
	return (x == NULL) != (y == NULL) || (x && strcmp(x, y) != 0);
}

static void reload_cb(evutil_socket_t sig, short what, void *arg)
{
	struct agent *a = arg;
	struct vg_agent_config *next = calloc(1, sizeof(*next));
	struct vg_sender_options o;
	struct vg_err err;
	enum vg_log_level level = VG_LOG_INFO;
	bool is_sender_change;
	char host[256];
	int rc;

	(void)sig;
	(void)what;
	if (next == NULL || a->is_stopping) {
		free(next);
		return;
	}
	rc = vg_agent_config_from_args(next, a->argc, a->argv, &err);
	if (rc != 0) {
		vg_error("SIGHUP: the configuration is not usable, keeping the running one: %s",
			 rc == 1 ? "--help or --version given" : err.msg);
		vg_agent_config_release(next);
		free(next);
		return;
	}
	is_sender_change = str_differs(next->server, a->cfg->server) || str_differs(next->token, a->cfg->token) ||
			   str_differs(next->hostname, a->cfg->hostname) ||
			   str_differs(next->spool_dir, a->cfg->spool_dir) ||
			   next->spool_max_bytes != a->cfg->spool_max_bytes ||
			   next->queue_max_bytes != a->cfg->queue_max_bytes ||
			   next->backoff_max_ms != a->cfg->backoff_max_ms || next->ack_timeout_ms != a->cfg->ack_timeout_ms;
	if (is_sender_change && a->sopts.spool_dir == NULL) {
		vg_warn("SIGHUP: receiver, token, hostname and spool settings take effect at the next start: the "
			"spool is in memory and would be lost");
		is_sender_change = false;
		/* Keep what the running sender was made from. */
		free(next->server);
		next->server = strdup(a->cfg->server);
		free(next->token);
		next->token = a->cfg->token ? strdup(a->cfg->token) : NULL;
		free(next->hostname);
		next->hostname = strdup(a->cfg->hostname);
		free(next->spool_dir);
		next->spool_dir = NULL;
		next->queue_max_bytes = a->cfg->queue_max_bytes;
		next->backoff_max_ms = a->cfg->backoff_max_ms;
		next->ack_timeout_ms = a->cfg->ack_timeout_ms;
		if (next->server == NULL || next->hostname == NULL || (a->cfg->token && next->token == NULL)) {
			vg_error("SIGHUP: out of memory; keeping the running configuration");
			vg_agent_config_release(next);
			free(next);
			return;
		}
	}
	if (is_sender_change) {
		struct vg_sender *s = NULL;
		memcpy(host, a->host, sizeof(host));
		/* The old sender goes first: a disk spool has one user. */
		vg_sender_free(a->sender);
		a->sender = NULL;
		if (sender_options(a, next, &o, &err) != 0 || vg_sender_new(&o, &s, &err) != 0) {
			vg_error("SIGHUP: cannot start sending with the new configuration (%s); restoring the old one",
				 err.msg);
			memcpy(a->host, host, sizeof(host));
			if (vg_sender_new(&a->sopts, &s, &err) != 0) {
				vg_error("cannot restore the sender: %s; stopping", err.msg);
				event_base_loopbreak(a->base);
			}
			a->sender = s;
			vg_agent_config_release(next);
			free(next);
			return;
		}
		a->sender = s;
	}
	/* The options now borrow next's strings (the old ones go below). */
	if (sender_options(a, next, &o, &err) == 0)
		a->sopts = o;
	if (next->log_level && vg_log_parse_level(next->log_level, &level) == 0)
		vg_log_set_level(level);
	apply_sampling(a, next);
	event_del(a->tick);
	event_add(a->tick, &a->interval);
	if (a->old_cfg) {
		vg_agent_config_release(a->old_cfg);
		free(a->old_cfg);
	}
	a->old_cfg = next; /* a->cfg == next now; the first one lives in main */
	vg_info("SIGHUP: configuration reloaded%s", is_sender_change ? ", sender restarted on its spool" : "");
}

/* Stopping: no more sampling; exit as soon as every batch is
 * acknowledged, or after STOP_GRACE_MS: what is left stays in a disk
 * spool for the next start (a memory spool goes with the process). */
#define STOP_GRACE_MS 2000
#define STOP_POLL_MS 20

static void stop_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	struct timeval tv = { 0, STOP_POLL_MS * 1000 };

	(void)fd;
	(void)what;
	if (vg_sender_is_idle(a->sender) || vg_clock_mono_ms() >= a->stop_deadline_ms) {
		event_base_loopbreak(a->base);
		return;
	}
	event_base_once(a->base, -1, EV_TIMEOUT, stop_poll_cb, a, &tv);
}

static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct agent *a = arg;

	(void)what;
	if (a->is_stopping) {
		event_base_loopbreak(a->base); /* a second signal: now */
		return;
	}
	a->is_stopping = true;
	vg_info("received %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	event_del(a->tick);
	a->stop_deadline_ms = vg_clock_mono_ms() + STOP_GRACE_MS;
	stop_poll_cb(-1, 0, a);
}

/* --check-config: what from_args checked, plus the spool directory;
 * prints the result. 0 when usable, 1 when the spool is not. */
static int check_config(struct vg_agent_config *cfg)
{
	int rc = 0;

	printf("configuration %s: OK\n", cfg->config_path ? cfg->config_path : "(defaults, no file)");
	printf("  server %s, interval %lld ms, instance \"%s\", %zu extra labels\n", cfg->server,
	       (long long)cfg->interval_ms, cfg->hostname, cfg->labels.n);
	printf("  collectors:%s%s%s%s\n", cfg->collect_cpu ? " cpu" : "", cfg->collect_meminfo ? " meminfo" : "",
	       cfg->collect_filesystem ? " filesystem" : "", cfg->collect_loadavg ? " loadavg" : "");
	if (cfg->spool_dir == NULL) {
		printf("  spool: in memory, up to %llu bytes\n", (unsigned long long)cfg->queue_max_bytes);
	} else if (access(cfg->spool_dir, W_OK | X_OK) == 0) {
		printf("  spool: %s, up to %llu bytes\n", cfg->spool_dir, (unsigned long long)cfg->spool_max_bytes);
	} else {
		char parent[4096];
		char *slash;
		snprintf(parent, sizeof(parent), "%s", cfg->spool_dir);
		slash = strrchr(parent, '/');
		if (slash && slash != parent)
			*slash = '\0';
		if (access(parent, W_OK | X_OK) == 0) {
			printf("  spool: %s (created at start), up to %llu bytes\n", cfg->spool_dir,
			       (unsigned long long)cfg->spool_max_bytes);
		} else if (!cfg->has_spool_dir) {
			printf("  spool: %s cannot be created (%s): batches would wait in memory only\n",
			       cfg->spool_dir, strerror(errno));
		} else {
			fprintf(stderr, "vigil-agent: spool directory %s cannot be created: %s\n", cfg->spool_dir,
				strerror(errno));
			rc = 1;
		}
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct vg_agent_config cfg;
	struct agent a;
	struct vg_err err;
	struct vg_sender_options sopts;
	struct event *tick = NULL, *sigterm = NULL, *sigint = NULL, *sighup = NULL;
	enum vg_log_level level = VG_LOG_INFO;
	int rc, status = 1;

	vg_log_init("vigil-agent", VG_LOG_INFO);
	rc = vg_agent_config_from_args(&cfg, argc, argv, &err);
	if (rc == 1) {
		vg_agent_config_release(&cfg);
		return 0;
	}
	if (rc != 0) {
		fprintf(stderr, "vigil-agent: %s\nTry 'vigil-agent --help'.\n", err.msg);
		vg_agent_config_release(&cfg);
		return 2;
	}
	if (cfg.log_level && vg_log_parse_level(cfg.log_level, &level) == 0)
		vg_log_set_level(level);
	if (cfg.is_check_only) {
		rc = check_config(&cfg);
		vg_agent_config_release(&cfg);
		return rc;
	}
	signal(SIGPIPE, SIG_IGN);

	memset(&a, 0, sizeof(a));
	a.argc = argc;
	a.argv = argv;
	apply_sampling(&a, &cfg);

	a.base = event_base_new();
	if (a.base == NULL) {
		vg_err_set(&err, VG_ENOMEM, "cannot create the event loop");
		goto fail;
	}
	if (sender_options(&a, &cfg, &sopts, &err) != 0)
		goto fail;
	if (vg_sender_new(&sopts, &a.sender, &err) != 0) {
		if (cfg.has_spool_dir || cfg.spool_dir == NULL)
			goto fail;
		/* The default directory is not usable here: say so, and keep
		 * batches in memory rather than not run at all. */
		vg_warn("%s; keeping unacknowledged batches in memory only (set spool_dir)", err.msg);
		sopts.spool_dir = NULL;
		if (vg_sender_new(&sopts, &a.sender, &err) != 0)
			goto fail;
	}
	a.sopts = sopts;

	struct timeval first = { 0, 100000 };
	tick = a.tick = event_new(a.base, -1, EV_PERSIST, tick_cb, &a);
	sigterm = evsignal_new(a.base, SIGTERM, stop_cb, &a);
	sigint = evsignal_new(a.base, SIGINT, stop_cb, &a);
	sighup = evsignal_new(a.base, SIGHUP, reload_cb, &a);
	if (tick == NULL || sigterm == NULL || sigint == NULL || sighup == NULL || evsignal_add(sigterm, NULL) ||
	    evsignal_add(sigint, NULL) || evsignal_add(sighup, NULL) || event_add(tick, &a.interval)) {
		vg_err_set(&err, VG_ENOMEM, "cannot set up timers and signals");
		goto fail;
	}
	/* The first sample soon after start, then every interval. */
	event_base_once(a.base, -1, EV_TIMEOUT, tick_cb, &a, &first);
	vg_info("vigil-agent %s sampling every %lld ms as instance \"%s\", sending to %s",
		PACKAGE_VERSION, (long long)cfg.interval_ms, cfg.hostname, cfg.server);
	event_base_dispatch(a.base);
	status = 0;
	goto out;
fail:
	vg_error("%s", err.msg);
out:
	if (a.sender) {
		struct vg_sender_stats st;
		vg_sender_get_stats(a.sender, &st);
		if (st.queue_batches)
			vg_warn("stopping with %llu unacknowledged batches (%llu bytes)%s",
				(unsigned long long)st.queue_batches, (unsigned long long)st.queue_bytes,
				a.sopts.spool_dir ? " kept in the spool for the next start" : "");
	}
	if (tick)
		event_free(tick);
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (sighup)
		event_free(sighup);
	vg_sender_free(a.sender);
	if (a.base)
		event_base_free(a.base);
	free(a.refs);
	free(a.values);
	if (a.old_cfg) {
		vg_agent_config_release(a.old_cfg);
		free(a.old_cfg);
	}
	vg_agent_config_release(&cfg);
	if (status == 0)
		vg_info("stopped");
	return status;
}
