/*
 * main.c: vigil-agent's loop. Every interval: run each enabled collector
 * into a sink that adds the agent's labels (instance and the configured
 * ones), resolves each series to its ref, and gathers (ref, value) pairs;
 * then hand the batch to the sender, which owns it until a receiver
 * acknowledges it. The agent's own counters travel in the same batch as
 * vigil_agent_* series.
 */
#include "config.h"

#include "agent/agent_config.h"
#include "agent/collect/collect.h"
#include "agent/sender.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/series.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/banned.h"

struct collector_slot {
	const struct vg_collector *c;
	struct vg_complaint complaint;
	uint64_t errors;
};

struct agent {
	struct vg_agent_config *cfg;
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

int main(int argc, char **argv)
{
	struct vg_agent_config cfg;
	struct agent a;
	struct vg_err err;
	struct vg_sender_options sopts;
	struct event *tick = NULL, *sigterm = NULL, *sigint = NULL;
	enum vg_log_level level = VG_LOG_INFO;
	char host[256];
	uint16_t port;
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
	/* Checked by vg_agent_config_from_args already; this only splits it. */
	if (vg_conf_split_hostport(cfg.server, host, sizeof(host), &port, &err) != 0) {
		fprintf(stderr, "vigil-agent: %s\n", err.msg);
		vg_agent_config_release(&cfg);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);

	memset(&a, 0, sizeof(a));
	a.cfg = &cfg;
	vg_collect_env_default(&a.env);
	a.env.proc_path = cfg.proc_path;
	a.env.rootfs_path = cfg.rootfs_path;
	if (cfg.collect_cpu)
		a.slots[a.n_slots++].c = &vg_collector_cpu;
	if (cfg.collect_meminfo)
		a.slots[a.n_slots++].c = &vg_collector_meminfo;
	if (cfg.collect_filesystem)
		a.slots[a.n_slots++].c = &vg_collector_filesystem;
	if (cfg.collect_loadavg)
		a.slots[a.n_slots++].c = &vg_collector_loadavg;

	a.base = event_base_new();
	if (a.base == NULL) {
		vg_err_set(&err, VG_ENOMEM, "cannot create the event loop");
		goto fail;
	}
	sopts = (struct vg_sender_options){
		.host = host, .port = port, .agent = cfg.hostname, .token = cfg.token,
		.queue_max_bytes = cfg.queue_max_bytes, .spool_dir = cfg.spool_dir,
		.spool_max_bytes = cfg.spool_max_bytes, .backoff_max_ms = cfg.backoff_max_ms,
		.ack_timeout_ms = cfg.ack_timeout_ms, .base = a.base,
	};
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

	struct timeval iv = { cfg.interval_ms / 1000, (cfg.interval_ms % 1000) * 1000 };
	struct timeval first = { 0, 100000 };
	tick = a.tick = event_new(a.base, -1, EV_PERSIST, tick_cb, &a);
	sigterm = evsignal_new(a.base, SIGTERM, stop_cb, &a);
	sigint = evsignal_new(a.base, SIGINT, stop_cb, &a);
	if (tick == NULL || sigterm == NULL || sigint == NULL || evsignal_add(sigterm, NULL) ||
	    evsignal_add(sigint, NULL) || event_add(tick, &iv)) {
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
				sopts.spool_dir ? " kept in the spool for the next start" : "");
	}
	if (tick)
		event_free(tick);
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	vg_sender_free(a.sender);
	if (a.base)
		event_base_free(a.base);
	free(a.refs);
	free(a.values);
	vg_agent_config_release(&cfg);
	if (status == 0)
		vg_info("stopped");
	return status;
}
