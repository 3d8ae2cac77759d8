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
 * labels, collectors, paths, log level) change at once, and so do the
 * statsd_* ones, on the running aggregate (its keys and totals stay),
 * the listener moving to a new address only once that one is bound. A
 * change of receiver, token, hostname or spool settings replaces the
 * sender, whose disk spool the new one resumes, so nothing waiting is
 * lost. With a memory spool those changes wait for a restart (logged),
 * as replacing the sender would lose its batches.
 */
#include "config.h"

#include "agent/agent_config.h"
#include "agent/aggregate.h"
#include "agent/collect/collect.h"
#include "common/footprint.h"
#include "agent/route.h"
#include "agent/collect/statsd_listen.h"
#include "agent/collect/scrape.h"
#include "agent/tls.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/series.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "common/banned.h"

struct collector_slot {
	const struct vg_collector *c;
	uint64_t errors;
	bool has_failed;           /* the failure was logged; quiet until it works again */
	double duration_s;         /* of the last round */
};

#define MAX_SLOTS 24

struct agent {
	struct vg_agent_config *cfg;
	int argc;
	char **argv;
	struct vg_collect_env env;
	struct vg_route *route;
	struct vg_tls_client_options tls; /* from cfg, read while a route is made */
	struct vg_scrape *scrape;         /* NULL: no scrape targets */
	struct evdns_base *dns;           /* the receivers' resolver, for the agent's life */
	bool has_disk_spool;
	struct event_base *base;
	struct collector_slot slots[MAX_SLOTS];
	size_t n_slots;
	struct vg_collect_ctx *collect_ctx; /* filters, statvfs worker */
	uint64_t rounds;                    /* sampling rounds run */
	uint64_t trim_round;                /* the round after which free heap pages go back */
	uint64_t series_errors;
	struct event *tick;
	struct vg_agent_config *old_cfg; /* a reloaded configuration, freed with the agent */
	struct timeval interval;
	bool is_stopping;
	int64_t stop_deadline_ms;
	struct vg_aggregate *agg;          /* StatsD; NULL when off */
	struct vg_statsd_listener *statsd;
	char *statsd_listen;               /* the address statsd is bound to */
	uint64_t statsd_receive_buffer;    /* and the buffer it asked for */
	struct event *fast_tick;           /* statsd_fast_gauges sampling */
	struct vg_complaint statsd_save;   /* the counters' state file cannot be written */
};

/* The sink: completes a collector's series with the agent's labels, gives
 * it to the route, which keeps it for this interval's batch to each of
 * this host's receivers. */
static int sink_add(void *arg, struct vg_series *s, double value)
{
	struct agent *a = arg;
	struct vg_agent_config *cfg = a->cfg;
	struct vg_err err;
	int rc;

	if ((rc = vg_route_add_known(a->route, s, value)) != VG_ENOENT)
		return rc;
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
	return vg_route_add(a->route, s, value);
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

/* The sender's counters of one receiver, labelled with its address. */
static void add_sender_self(struct vg_sample_sink *sink, const char *receiver, const struct vg_sender_stats *st)
{
	static const char *const names[] = {
		"vigil_agent_batches_sent_total", "vigil_agent_batches_acked_total",
		"vigil_agent_batches_dropped_total", "vigil_agent_samples_dropped_total",
		"vigil_agent_queue_batches", "vigil_agent_queue_bytes", "vigil_agent_connects_total",
		"vigil_agent_connect_failures_total", "vigil_agent_series", "vigil_agent_samples_refused_total",
		"vigil_agent_series_refused_total", "vigil_agent_protocol", "vigil_agent_queue_max_bytes",
	};
	const double v[] = {
		(double)st->batches_sent, (double)st->batches_acked, (double)st->batches_dropped,
		(double)st->samples_dropped, (double)st->queue_batches, (double)st->queue_bytes,
		(double)st->connects, (double)st->connect_failures, (double)st->series,
		(double)st->samples_refused, (double)st->series_refused, (double)st->proto,
		(double)st->queue_max_bytes,
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		add_self(sink, names[i], "receiver", receiver, v[i]);
}

/* The StatsD aggregates of the interval, then the listener's counters. */
static void add_statsd(struct agent *a, struct vg_sample_sink *sink)
{
	struct vg_statsd_listener_stats ls;
	struct vg_aggregate_stats as;

	if (a->agg == NULL)
		return;
	vg_aggregate_flush(a->agg, sink);
	vg_statsd_listener_get_stats(a->statsd, &ls);
	vg_aggregate_get_stats(a->agg, &as);
	ls.lines.bad[VG_STATSD_MALFORMED_TAG] += as.invalid_series;
	add_self(sink, "vigil_agent_statsd_packets_total", NULL, NULL, (double)ls.packets);
	add_self(sink, "vigil_agent_statsd_lines_total", NULL, NULL, (double)ls.lines.lines);
	add_self(sink, "vigil_agent_statsd_ignored_lines_total", NULL, NULL, (double)ls.lines.ignored);
	for (int r = 1; r < VG_STATSD_N_REASONS; r++)
		add_self(sink, "vigil_agent_statsd_bad_lines_total", "reason", vg_statsd_reason_name(r),
			 (double)ls.lines.bad[r]);
	add_self(sink, "vigil_agent_statsd_socket_drops_total", NULL, NULL, (double)ls.socket_drops);
	add_self(sink, "vigil_agent_statsd_truncated_packets_total", NULL, NULL, (double)ls.truncated);
	add_self(sink, "vigil_agent_statsd_receive_errors_total", NULL, NULL, (double)ls.receive_errors);
	add_self(sink, "vigil_agent_statsd_receive_buffer_bytes", NULL, NULL, (double)ls.receive_buffer_bytes);
	add_self(sink, "vigil_agent_statsd_series", NULL, NULL, (double)as.series);
	add_self(sink, "vigil_agent_statsd_series_refused_total", NULL, NULL, (double)as.series_refused);
	add_self(sink, "vigil_agent_statsd_type_conflicts_total", NULL, NULL, (double)as.type_conflicts);
	add_self(sink, "vigil_agent_statsd_set_members_refused_total", NULL, NULL, (double)as.set_members_refused);
	add_self(sink, "vigil_agent_statsd_state_errors_total", NULL, NULL, (double)as.state_errors);
}

static void fast_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;

	(void)fd;
	(void)what;
	vg_aggregate_sample_fast(a->agg);
}

/* The aggregate's options from cfg, into the caller's arrays; the state
 * file lives beside a disk spool. The configuration checked the lists. */
struct statsd_options {
	struct vg_aggregate_options ao;
	double bounds[VG_AGGREGATE_MAX_BOUNDS], quantiles[VG_AGGREGATE_MAX_QUANTILES];
	char state[4096];
};

static int statsd_options(const struct agent *a, const struct vg_agent_config *cfg, struct statsd_options *o,
			  struct vg_err *err)
{
	int rc;

	memset(o, 0, sizeof(*o));
	o->ao.max_series = cfg->statsd_max_series;
	if (cfg->statsd_buckets.n > 0) {
		if ((rc = vg_aggregate_parse_bounds((const char *const *)cfg->statsd_buckets.v, cfg->statsd_buckets.n,
						    o->bounds, &o->ao.n_bounds, err)) != 0)
			return rc;
		o->ao.bounds = o->bounds;
	}
	if (cfg->statsd_quantiles.n > 0) {
		if ((rc = vg_aggregate_parse_quantiles((const char *const *)cfg->statsd_quantiles.v,
						       cfg->statsd_quantiles.n, o->quantiles, &o->ao.n_quantiles,
						       err)) != 0)
			return rc;
		o->ao.quantiles = o->quantiles;
	}
	o->ao.fast_gauges = (const char *const *)cfg->statsd_fast_gauges.v;
	o->ao.n_fast_gauges = cfg->statsd_fast_gauges.n;
	if (a->has_disk_spool && cfg->spool_dir) {
		snprintf(o->state, sizeof(o->state), "%s/statsd-counters", cfg->spool_dir);
		o->ao.state_path = o->state;
	}
	return 0;
}

/* The fast gauge timer as cfg wants it: armed at its interval when there
 * are fast gauges, gone when there are none. */
static int set_fast_tick(struct agent *a, const struct vg_agent_config *cfg, struct vg_err *err)
{
	struct timeval tv = { cfg->statsd_fast_interval_ms / 1000, (cfg->statsd_fast_interval_ms % 1000) * 1000 };

	if (cfg->statsd_fast_gauges.n == 0 || a->agg == NULL) {
		if (a->fast_tick)
			event_free(a->fast_tick);
		a->fast_tick = NULL;
		return 0;
	}
	if (a->fast_tick == NULL && (a->fast_tick = event_new(a->base, -1, EV_PERSIST, fast_tick_cb, a)) == NULL)
		return vg_err_set(err, VG_ENOMEM, "cannot set up the fast gauge timer");
	if (event_add(a->fast_tick, &tv) != 0)
		return vg_err_set(err, VG_ENOMEM, "cannot set up the fast gauge timer");
	return 0;
}

static void log_listening(const struct agent *a, const struct vg_agent_config *cfg, const char *prefix)
{
	vg_info("%sstatsd: listening on %s (port %u), up to %llu series%s", prefix, cfg->statsd_listen,
		vg_statsd_listener_port(a->statsd), (unsigned long long)cfg->statsd_max_series,
		a->has_disk_spool && cfg->spool_dir ? ""
						   : "; counter totals are not kept across restarts (no disk spool)");
}

/* Remembers what the listener was bound with (NULL: none). */
static int set_statsd_address(struct agent *a, const char *listen, uint64_t receive_buffer, struct vg_err *err)
{
	char *copy = NULL;

	if (listen && (copy = strdup(listen)) == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	free(a->statsd_listen);
	a->statsd_listen = copy;
	a->statsd_receive_buffer = receive_buffer;
	return 0;
}

/* The listener and its aggregate, from cfg. The counters' totals live
 * beside the spool. A failure to bind the default address is not one
 * (logged, and the agent runs without StatsD). */
static int start_statsd(struct agent *a, const struct vg_agent_config *cfg, struct vg_err *err)
{
	struct statsd_options so;
	struct vg_statsd_listener_options lo = { a->base, cfg->statsd_listen, cfg->statsd_receive_buffer, NULL };
	int rc;

	if (cfg->statsd_listen == NULL)
		return 0;
	if ((rc = statsd_options(a, cfg, &so, err)) != 0)
		return rc;
	if ((rc = vg_aggregate_new(&so.ao, &a->agg, err)) != 0)
		return rc;
	lo.aggregate = a->agg;
	if ((rc = vg_statsd_listener_new(&lo, &a->statsd, err)) != 0) {
		vg_aggregate_free(a->agg);
		a->agg = NULL;
		if (cfg->has_statsd_listen)
			return rc;
		/* The default port is taken (another agent, a StatsD daemon):
		 * say so and sample the host without it. */
		vg_warn("%s; running without StatsD (set statsd_listen)", err->msg);
		return 0;
	}
	if ((rc = set_fast_tick(a, cfg, err)) != 0)
		return rc;
	if ((rc = set_statsd_address(a, cfg->statsd_listen, cfg->statsd_receive_buffer, err)) != 0)
		return rc;
	log_listening(a, cfg, "");
	return 0;
}

/* Undoes start_statsd, for a start that failed half-way or a listener
 * lost; the totals are as the last save left them. */
static void drop_statsd(struct agent *a)
{
	if (a->fast_tick)
		event_free(a->fast_tick);
	a->fast_tick = NULL;
	vg_statsd_listener_free(a->statsd);
	a->statsd = NULL;
	vg_aggregate_free(a->agg);
	a->agg = NULL;
	set_statsd_address(a, NULL, 0, NULL);
}

/* StatsD goes off: what came since the last round leaves in a batch of
 * its own (the totals saved first, as in a round), then the listener
 * and the aggregate go. The state file stays for a later start. */
static void stop_statsd(struct agent *a)
{
	struct vg_sample_sink sink = { sink_add, a };
	struct vg_err err;

	vg_statsd_listener_drain(a->statsd);
	vg_route_begin(a->route);
	add_statsd(a, &sink);
	if (vg_aggregate_save(a->agg, &err) != 0)
		vg_error("statsd: %s; the last totals are not kept", err.msg);
	if (vg_route_submit(a->route, vg_clock_now_ms(), &err) != 0)
		vg_error("cannot queue StatsD's last batch: %s", err.msg);
	vg_info("SIGHUP: statsd: off; stopped listening on %s", a->statsd_listen);
	drop_statsd(a);
}

/* A new listener for next's address, bound before the old one closes so
 * that no datagram finds the port shut; what waits at the old socket is
 * read first, and the counters go on from the old one's. When the new
 * address has the old one's port (another host part, which the kernel
 * refuses beside the old socket), the old one closes first and comes
 * back if the new one cannot be bound. 0; or the error, with a->statsd
 * the old listener (NULL in the rare case that it could not come back). */
static int rebind_statsd(struct agent *a, const struct vg_agent_config *next, struct vg_err *err)
{
	struct vg_statsd_listener_options lo = { a->base, next->statsd_listen, next->statsd_receive_buffer, a->agg };
	struct vg_statsd_listener_options back = { a->base, a->statsd_listen, a->statsd_receive_buffer, a->agg };
	struct vg_statsd_listener_stats st;
	struct vg_statsd_listener *l = NULL;
	char host[256];
	uint16_t port;
	int rc;

	rc = vg_statsd_listener_new(&lo, &l, err);
	if (rc != 0 && (vg_conf_split_hostport(next->statsd_listen, host, sizeof(host), &port, NULL) != 0 ||
			port == 0 || port != vg_statsd_listener_port(a->statsd)))
		return rc;
	vg_statsd_listener_drain(a->statsd);
	vg_statsd_listener_get_stats(a->statsd, &st);
	vg_statsd_listener_free(a->statsd);
	if (rc != 0 && (rc = vg_statsd_listener_new(&lo, &l, err)) != 0 && vg_statsd_listener_new(&back, &l, NULL) != 0)
		l = NULL;
	a->statsd = l;
	if (l)
		vg_statsd_listener_continue(l, &st);
	return rc;
}

/* SIGHUP: takes next's statsd_* settings. The keys and what they gathered
 * stay (vg_aggregate_reconfigure says how bounds and limits change them);
 * a new address is bound before the old one closes, and one that cannot
 * be bound keeps the old listener, tried again at the next SIGHUP. */
static void reload_statsd(struct agent *a, const struct vg_agent_config *next)
{
	struct statsd_options so;
	struct vg_err err;

	if (a->agg == NULL) {
		/* off, or the default port was taken at start: try again */
		if (next->statsd_listen && start_statsd(a, next, &err) != 0) {
			vg_error("SIGHUP: %s; StatsD stays off", err.msg);
			drop_statsd(a);
		}
		return;
	}
	if (next->statsd_listen == NULL) {
		stop_statsd(a);
		return;
	}
	if (statsd_options(a, next, &so, &err) != 0 || vg_aggregate_reconfigure(a->agg, &so.ao, &err) != 0)
		vg_error("SIGHUP: statsd: %s; keeping the previous limits and buckets", err.msg);
	if (set_fast_tick(a, next, &err) != 0)
		vg_error("SIGHUP: statsd: %s", err.msg);
	if (strcmp(next->statsd_listen, a->statsd_listen) != 0) {
		if (rebind_statsd(a, next, &err) == 0) {
			/* out of memory keeps the old text: the next SIGHUP binds again */
			set_statsd_address(a, next->statsd_listen, next->statsd_receive_buffer, NULL);
			log_listening(a, next, "SIGHUP: ");
		} else if (a->statsd) {
			vg_error("SIGHUP: %s; still listening on %s (port %u)", err.msg, a->statsd_listen,
				 vg_statsd_listener_port(a->statsd));
		} else {
			vg_error("SIGHUP: %s, and %s cannot be bound again; StatsD is off, the counts since the "
				 "last round lost", err.msg, a->statsd_listen);
			drop_statsd(a);
		}
	} else if (next->statsd_receive_buffer != a->statsd_receive_buffer) {
		vg_statsd_listener_set_receive_buffer(a->statsd, next->statsd_receive_buffer);
		a->statsd_receive_buffer = next->statsd_receive_buffer;
	}
}

/* The steady state's footprint: free heap pages and start-up's library
 * pages go back (tick_cb). */
static void trim(void)
{
	struct vg_err err;
	size_t kib;

	malloc_trim(0);
	if (vg_footprint_drop_file_pages(&kib, &err) != 0)
		vg_debug("footprint: %s", err.msg);
	else
		vg_debug("footprint: %zu KiB of start-up's file pages unmapped", kib);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	struct vg_sample_sink sink = { sink_add, a };
	struct vg_sender_stats st;
	struct vg_err err;
	int64_t ts = vg_clock_now_ms(), t0 = vg_clock_mono_ms();
	/* The route's series cache (route.h) starts after the heap is
	 * trimmed: made among start-up's freed pages, its few KiB would keep
	 * pages that trim would otherwise give back. */
	bool is_cached = a->rounds >= a->trim_round;

	(void)fd;
	(void)what;
	if (a->is_stopping)
		return; /* the first tick (event_base_once) may come late */
	vg_route_begin(a->route);
	for (size_t i = 0; i < a->n_slots; i++) {
		struct collector_slot *slot = &a->slots[i];
		int64_t c0 = vg_clock_mono_ms();
		if (is_cached)
			vg_route_section(a->route, i);
		/* A source this kernel lacks (no PSI, no conntrack) or cannot
		 * read is said once; the counter tells how often after. */
		if (slot->c->collect(&a->env, &sink, &err) != 0) {
			slot->errors++;
			if (!slot->has_failed)
				vg_warn("collector %s: %s (said once; counted in "
					"vigil_agent_collector_errors_total)", slot->c->name, err.msg);
			slot->has_failed = true;
		} else if (slot->has_failed) {
			slot->has_failed = false;
			vg_info("collector %s works again", slot->c->name);
		}
		slot->duration_s = (double)(vg_clock_mono_ms() - c0) / 1000.0;
	}
	if (is_cached)
		vg_route_section(a->route, a->n_slots);
	for (size_t i = 0; i < vg_route_size(a->route); i++) {
		vg_route_get_stats(a->route, i, &st);
		add_sender_self(&sink, vg_route_receiver(a->route, i), &st);
	}
	for (size_t i = 0; i < a->n_slots; i++) {
		add_self(&sink, "vigil_agent_collector_errors_total", "collector", a->slots[i].c->name,
			 (double)a->slots[i].errors);
		add_self(&sink, "vigil_agent_collector_duration_seconds", "collector", a->slots[i].c->name,
			 a->slots[i].duration_s);
	}
	add_self(&sink, "vigil_agent_rounds_total", NULL, NULL, (double)++a->rounds);
	add_self(&sink, "vigil_agent_statvfs_stuck_mounts", NULL, NULL,
		 (double)vg_collect_statvfs_stuck(a->collect_ctx));
	if (is_cached)
		vg_route_section(a->route, a->n_slots + 1);
	add_statsd(a, &sink);
	if (is_cached)
		vg_route_section(a->route, a->n_slots + 2);
	add_self(&sink, "vigil_agent_collect_duration_seconds", NULL, NULL,
		 (double)(vg_clock_mono_ms() - t0) / 1000.0);
	/* The totals this round carries are durable before the round is
	 * spooled (aggregate.h): a restart resumes from them. */
	if (a->agg && vg_aggregate_save(a->agg, &err) != 0)
		vg_log_complain(&a->statsd_save, VG_LOG_ERROR, "statsd: %s; totals go on in memory", err.msg);
	else if (a->agg)
		vg_log_relief(&a->statsd_save, "statsd: the counters' state file is written again");
	if (vg_route_submit(a->route, ts, &err) != 0)
		vg_error("cannot queue a batch: %s", err.msg);
	vg_debug("collected %zu samples", vg_route_round_samples(a->route));
	/* Start-up and a reload (the configuration, the first batches and
	 * the series dictionary they send) leave free pages in the middle of
	 * the heap that free() keeps, and library pages mapped that the
	 * rounds do not use (footprint.h); give both back once, a few rounds
	 * in, when what is left is the steady state (docs/performance.md). */
	if (a->rounds == a->trim_round)
		trim();
}

/* A finished local scrape: its own batch, at the time it started. */
static void scrape_deliver(void *arg, int64_t ts_ms, const struct vg_scrape_result *r)
{
	struct agent *a = arg;
	struct vg_sample_sink sink = { sink_add, a };
	struct vg_err err;

	if (a->is_stopping)
		return;
	vg_route_begin(a->route);
	if (vg_scrape_result_emit(r, &sink, &err) != 0)
		vg_warn("scrape job %s: %s", vg_scrape_result_job(r), err.msg);
	if (vg_route_submit(a->route, ts_ms, &err) != 0)
		vg_error("cannot queue a scrape's batch: %s", err.msg);
}

/* (Re)starts the scrapes of cfg; the old ones stop. */
static int start_scrapes(struct agent *a, const struct vg_agent_config *cfg, struct vg_err *err)
{
	struct vg_scrape_options so = { cfg->scrape.v, cfg->scrape.n, a->base, scrape_deliver, a };

	vg_scrape_free(a->scrape);
	a->scrape = NULL;
	return vg_scrape_new(&so, &a->scrape, err);
}

/* The collectors' filters and statvfs bound from cfg. */
static int collect_ctx_new(const struct vg_agent_config *cfg, struct vg_collect_ctx **out, struct vg_err *err)
{
	const struct vg_collect_options o = {
		.disk_exclude = cfg->diskstats_device_exclude, .disk_include = cfg->diskstats_device_include,
		.netdev_exclude = cfg->netdev_device_exclude, .netdev_include = cfg->netdev_device_include,
		.mount_exclude = cfg->filesystem_mount_points_exclude,
		.mount_include = cfg->filesystem_mount_points_include,
		.fstype_exclude = cfg->filesystem_fs_types_exclude,
		.fstype_include = cfg->filesystem_fs_types_include,
		.netstat_fields = cfg->netstat_fields, .vmstat_fields = cfg->vmstat_fields,
		.statvfs_timeout_ms = cfg->statvfs_timeout_ms,
	};

	return vg_collect_ctx_new(&o, out, err);
}

/* Takes cfg's sampling settings: collectors, their paths and filters. Error
 * counts of collectors that stay on are kept; a ctx that cannot be built
 * (the configuration checked its regexes, so only memory) keeps the old. */
static void apply_sampling(struct agent *a, struct vg_agent_config *cfg)
{
	const struct {
		bool is_on;
		const struct vg_collector *c;
	} table[] = {
		{ cfg->collect_cpu, &vg_collector_cpu },
		{ cfg->collect_meminfo, &vg_collector_meminfo },
		{ cfg->collect_filesystem, &vg_collector_filesystem },
		{ cfg->collect_loadavg, &vg_collector_loadavg },
		{ cfg->collect_filefd, &vg_collector_filefd },
		{ cfg->collect_entropy, &vg_collector_entropy },
		{ cfg->collect_textfile && cfg->textfile_dir && cfg->textfile_dir[0], &vg_collector_textfile },
		{ cfg->collect_stat, &vg_collector_stat },
		{ cfg->collect_diskstats, &vg_collector_diskstats },
		{ cfg->collect_netdev, &vg_collector_netdev },
		{ cfg->collect_netstat, &vg_collector_netstat },
		{ cfg->collect_sockstat, &vg_collector_sockstat },
		{ cfg->collect_pressure, &vg_collector_pressure },
		{ cfg->collect_vmstat, &vg_collector_vmstat },
		{ cfg->collect_conntrack, &vg_collector_conntrack },
		{ cfg->collect_time, &vg_collector_time },
		{ cfg->collect_uname, &vg_collector_uname },
	};
	struct collector_slot old[MAX_SLOTS];
	size_t n_old = a->n_slots;
	struct vg_collect_ctx *ctx = NULL;
	struct vg_err err;

	memcpy(old, a->slots, sizeof(old));
	a->cfg = cfg;
	if (collect_ctx_new(cfg, &ctx, &err) == 0) {
		vg_collect_ctx_free(a->collect_ctx);
		a->collect_ctx = ctx;
	} else {
		vg_error("collector filters: %s; keeping the previous ones", err.msg);
	}
	vg_collect_env_default(&a->env);
	a->env.proc_path = cfg->proc_path;
	a->env.rootfs_path = cfg->rootfs_path;
	a->env.textfile_dir = cfg->textfile_dir;
	a->env.ctx = a->collect_ctx;
	memset(a->slots, 0, sizeof(a->slots));
	a->n_slots = 0;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]) && a->n_slots < MAX_SLOTS; i++) {
		struct collector_slot *slot;
		if (!table[i].is_on)
			continue;
		slot = &a->slots[a->n_slots++];
		slot->c = table[i].c;
		for (size_t j = 0; j < n_old; j++)
			if (old[j].c == table[i].c)
				*slot = old[j];
	}
	a->interval = (struct timeval){ cfg->interval_ms / 1000, (cfg->interval_ms % 1000) * 1000 };
}

/* The route's options from cfg: the receivers list, or the one server. */
static void route_options(struct agent *a, struct vg_agent_config *cfg, const char *spool_dir,
			  struct vg_route_options *o)
{
	bool is_list = cfg->receivers.n > 0;

	*o = (struct vg_route_options){
		.receivers = is_list ? (const char *const *)cfg->receivers.v : (const char *const *)&cfg->server,
		.n_receivers = is_list ? cfg->receivers.n : 1, .is_list = is_list,
		.replication_factor = (size_t)cfg->replication_factor, .hostname = cfg->hostname,
		.token = cfg->token, .spool_dir = spool_dir, .spool_max_bytes = cfg->spool_max_bytes,
		.queue_max_bytes = cfg->queue_max_bytes, .backoff_max_ms = cfg->backoff_max_ms,
		.ack_timeout_ms = cfg->ack_timeout_ms, .base = a->base, .dns = a->dns,
	};
	a->tls = (struct vg_tls_client_options){ cfg->tls_ca_file, cfg->tls_cert_file, cfg->tls_key_file,
						 cfg->tls_server_name };
	o->tls = cfg->has_tls ? &a->tls : NULL;
}

static bool strlist_differs(const struct vg_conf_strlist *x, const struct vg_conf_strlist *y)
{
	if (x->n != y->n)
		return true;
	for (size_t i = 0; i < x->n; i++)
		if (strcmp(x->v[i], y->v[i]) != 0)
			return true;
	return false;
}

static bool str_differs(const char *x, const char *y)
{
	return (x == NULL) != (y == NULL) || (x && strcmp(x, y) != 0);
}

static void reload_cb(evutil_socket_t sig, short what, void *arg)
{
	struct agent *a = arg;
	struct vg_agent_config *next = calloc(1, sizeof(*next));
	struct vg_route_options o;
	struct vg_route *route = NULL;
	struct vg_err err;
	enum vg_log_level level = VG_LOG_INFO;
	bool is_route_change;
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
	is_route_change = str_differs(next->server, a->cfg->server) || str_differs(next->token, a->cfg->token) ||
			  str_differs(next->hostname, a->cfg->hostname) ||
			  str_differs(next->spool_dir, a->cfg->spool_dir) ||
			  strlist_differs(&next->receivers, &a->cfg->receivers) ||
			  next->replication_factor != a->cfg->replication_factor ||
			  next->spool_max_bytes != a->cfg->spool_max_bytes ||
			  next->queue_max_bytes != a->cfg->queue_max_bytes ||
			  next->backoff_max_ms != a->cfg->backoff_max_ms || next->ack_timeout_ms != a->cfg->ack_timeout_ms ||
			  next->has_tls != a->cfg->has_tls || str_differs(next->tls_ca_file, a->cfg->tls_ca_file) ||
			  str_differs(next->tls_cert_file, a->cfg->tls_cert_file) ||
			  str_differs(next->tls_key_file, a->cfg->tls_key_file) ||
			  str_differs(next->tls_server_name, a->cfg->tls_server_name);
	if (is_route_change && !a->has_disk_spool) {
		/* Replacing the senders would lose what their memory spools
		 * hold: keep them, and the settings they were made from. */
		vg_warn("SIGHUP: receiver, token, hostname and spool settings take effect at the next start: the "
			"spool is in memory and would be lost");
		vg_agent_config_release(next);
		free(next);
		return;
	}
	if (is_route_change) {
		/* The old senders go first: a disk spool has one user. The new
		 * ones resume the spools of the receivers they share with it. */
		vg_route_free(a->route);
		a->route = NULL;
		route_options(a, next, next->spool_dir, &o);
		if (vg_route_new(&o, &route, &err) != 0) {
			vg_error("SIGHUP: cannot send with the new configuration (%s); keeping the old one", err.msg);
			route_options(a, a->cfg, a->cfg->spool_dir, &o);
			if (vg_route_new(&o, &route, &err) != 0) {
				vg_error("cannot restore the senders: %s; stopping", err.msg);
				event_base_loopbreak(a->base);
			}
			a->route = route;
			vg_agent_config_release(next);
			free(next);
			return;
		}
		a->route = route;
	}
	if (next->log_level && vg_log_parse_level(next->log_level, &level) == 0)
		vg_log_set_level(level);
	apply_sampling(a, next);
	/* The collectors' places and the labels added to their series may
	 * have changed: every series goes the long way once again. */
	vg_route_forget(a->route);
	reload_statsd(a, next);
	if (start_scrapes(a, next, &err) != 0)
		vg_error("SIGHUP: scrapes stopped: %s", err.msg);
	event_del(a->tick);
	event_add(a->tick, &a->interval);
	if (a->old_cfg) {
		vg_agent_config_release(a->old_cfg);
		free(a->old_cfg);
	}
	a->old_cfg = next; /* a->cfg == next now; the first one lives in main */
	a->trim_round = a->rounds + 3;
	vg_info("SIGHUP: configuration reloaded%s", is_route_change ? ", sender restarted on its spool" : "");
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
	if (vg_route_is_idle(a->route) || vg_clock_mono_ms() >= a->stop_deadline_ms) {
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
	/* StatsD counts since the last round are in memory only: one last
	 * round carries them to the spool. */
	if (a->agg) {
		vg_statsd_listener_drain(a->statsd);
		tick_cb(-1, 0, a);
	}
	a->is_stopping = true;
	vg_info("received %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	event_del(a->tick);
	a->stop_deadline_ms = vg_clock_mono_ms() + STOP_GRACE_MS;
	stop_poll_cb(-1, 0, a);
}

/* --check-config: what from_args checked, plus the TLS files and the
 * spool directory; prints the result. 0 when usable, 1 when not. */
static int check_config(struct vg_agent_config *cfg)
{
	int rc = 0;

	printf("configuration %s: OK\n", cfg->config_path ? cfg->config_path : "(defaults, no file)");
	printf("  server %s, interval %lld ms, instance \"%s\", %zu extra labels\n", cfg->server,
	       (long long)cfg->interval_ms, cfg->hostname, cfg->labels.n);
	printf("  collectors:%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s\n", cfg->collect_cpu ? " cpu" : "",
	       cfg->collect_meminfo ? " meminfo" : "", cfg->collect_filesystem ? " filesystem" : "",
	       cfg->collect_loadavg ? " loadavg" : "", cfg->collect_filefd ? " filefd" : "",
	       cfg->collect_entropy ? " entropy" : "", cfg->collect_stat ? " stat" : "",
	       cfg->collect_diskstats ? " diskstats" : "", cfg->collect_netdev ? " netdev" : "",
	       cfg->collect_netstat ? " netstat" : "", cfg->collect_sockstat ? " sockstat" : "",
	       cfg->collect_pressure ? " pressure" : "", cfg->collect_vmstat ? " vmstat" : "",
	       cfg->collect_conntrack ? " conntrack" : "", cfg->collect_time ? " time" : "",
	       cfg->collect_uname ? " uname" : "");
	if (cfg->statsd_listen)
		printf("  statsd: %s, up to %llu series\n", cfg->statsd_listen,
		       (unsigned long long)cfg->statsd_max_series);
	else
		printf("  statsd: off\n");
	for (size_t i = 0; i < cfg->scrape.n; i++) {
		const struct vg_scrape_target *t = (const struct vg_scrape_target *)cfg->scrape.v + i;
		printf("  scrape job %s: %s every %lld ms, timeout %lld ms\n", t->job, t->url, (long long)t->interval_ms,
		       (long long)t->timeout_ms);
	}
	if (cfg->has_tls) {
		struct vg_tls_client_options to = { cfg->tls_ca_file, cfg->tls_cert_file, cfg->tls_key_file,
						    cfg->tls_server_name };
		struct vg_tls_client *tc;
		struct vg_err err;
		/* Reads the files as a start would. */
		if (vg_tls_client_new(&to, &tc, &err) != 0) {
			fprintf(stderr, "vigil-agent: %s\n", err.msg);
			rc = 1;
		} else {
			vg_tls_client_free(tc);
			printf("  tls: on, receivers verified against %s%s%s\n",
			       cfg->tls_ca_file ? cfg->tls_ca_file : "the system's CAs",
			       cfg->tls_cert_file ? ", client certificate " : "", cfg->tls_cert_file ? cfg->tls_cert_file : "");
		}
	}
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
	struct vg_route_options ropts;
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
	a.trim_round = 3;
	a.argc = argc;
	a.argv = argv;
	apply_sampling(&a, &cfg);

	a.base = event_base_new();
	if (a.base == NULL) {
		vg_err_set(&err, VG_ENOMEM, "cannot create the event loop");
		goto fail;
	}
	/* Reads resolv_conf and /etc/hosts once; idle, it holds no socket
	 * and keeps no loop alive. A missing file leaves evdns its default
	 * (a name server on 127.0.0.1), as the C library would. */
	if ((a.dns = evdns_base_new(a.base, EVDNS_BASE_DISABLE_WHEN_INACTIVE)) == NULL) {
		vg_err_set(&err, VG_ENOMEM, "cannot make a resolver");
		goto fail;
	}
	if ((rc = evdns_base_resolv_conf_parse(a.dns, DNS_OPTIONS_ALL, cfg.resolv_conf)) != 0)
		vg_warn("resolv_conf %s: %s; receivers' names go to the name server on 127.0.0.1", cfg.resolv_conf,
			rc == 6 ? "it lists no name server" : rc <= 2 ? "cannot be read" : "cannot be read whole");
	route_options(&a, &cfg, cfg.spool_dir, &ropts);
	if ((rc = vg_route_new(&ropts, &a.route, &err)) != 0) {
		/* A directory in use is another agent's: running beside it on a
		 * memory spool would send this host's data twice. */
		if (cfg.has_spool_dir || cfg.spool_dir == NULL || rc == VG_EAGAIN)
			goto fail;
		/* The default directory is not usable here: say so, and keep
		 * batches in memory rather than not run at all. */
		vg_warn("%s; keeping unacknowledged batches in memory only (set spool_dir)", err.msg);
		route_options(&a, &cfg, NULL, &ropts);
		if (vg_route_new(&ropts, &a.route, &err) != 0)
			goto fail;
	}
	a.has_disk_spool = vg_route_has_disk_spool(a.route);
	if (start_statsd(&a, &cfg, &err) != 0)
		goto fail;
	if (start_scrapes(&a, &cfg, &err) != 0)
		goto fail;

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
	vg_info("vigil-agent %s sampling every %lld ms as instance \"%s\", sending to %s%s", PACKAGE_VERSION,
		(long long)cfg.interval_ms, cfg.hostname, vg_route_receiver(a.route, 0),
		vg_route_size(a.route) > 1 ? " and its replicas" : "");
	event_base_dispatch(a.base);
	status = 0;
	goto out;
fail:
	vg_error("%s", err.msg);
out:
	for (size_t i = 0; a.route && i < vg_route_size(a.route); i++) {
		struct vg_sender_stats st;
		vg_route_get_stats(a.route, i, &st);
		if (st.queue_batches)
			vg_warn("stopping with %llu batches (%llu bytes) unacknowledged by %s%s",
				(unsigned long long)st.queue_batches, (unsigned long long)st.queue_bytes,
				vg_route_receiver(a.route, i),
				a.has_disk_spool ? ", kept in the spool for the next start" : "");
	}
	if (a.fast_tick)
		event_free(a.fast_tick);
	vg_statsd_listener_free(a.statsd);
	free(a.statsd_listen);
	vg_aggregate_free(a.agg);
	if (tick)
		event_free(tick);
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (sighup)
		event_free(sighup);
	vg_scrape_free(a.scrape);
	vg_route_free(a.route);
	vg_collect_ctx_free(a.collect_ctx);
	/* A lookup the senders cancelled is answered from the loop (evdns
	 * defers the cancellation): one more pass delivers it, which frees
	 * the request, before the resolver goes. */
	if (a.dns) {
		event_base_loop(a.base, EVLOOP_NONBLOCK);
		evdns_base_free(a.dns, 0);
	}
	if (a.base)
		event_base_free(a.base);
	if (a.old_cfg) {
		vg_agent_config_release(a.old_cfg);
		free(a.old_cfg);
	}
	vg_agent_config_release(&cfg);
	if (status == 0)
		vg_info("stopped");
	return status;
}
