/*
 * stats.c: the receiver's own metrics (stats.h) in the Prometheus text
 * format 0.0.4 (../shared/interfaces/prometheus-exposition.md), served at
 * /metrics.
 *
 * Owns the names, help texts and types of the vigil_receiver_* families and
 * of the standard process_* ones; does not own the counters' meaning (the
 * modules that bump them do). Every family is written with its HELP and TYPE
 * lines before its samples, counters end in _total, and each name appears
 * once. process_* values come from /proc/self at render time; when /proc is
 * unreadable those families are left out rather than reported as 0.
 */
#include "receiver/stats.h"
#include "receiver/storage/storage.h"
#include "receiver/storage/head.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/json.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/banned.h"

void vg_stats_init(struct vg_stats *st)
{
	for (size_t i = 0; i < sizeof(st->frames_received) / sizeof(st->frames_received[0]); i++)
		atomic_init(&st->frames_received[i], 0);
	atomic_init(&st->samples_received, 0);
	atomic_init(&st->samples_duplicate, 0);
	atomic_init(&st->samples_too_old, 0);
	atomic_init(&st->samples_too_new, 0);
	atomic_init(&st->series_created, 0);
	atomic_init(&st->bytes_received, 0);
	atomic_init(&st->decode_errors, 0);
	atomic_init(&st->connections_accepted, 0);
	atomic_init(&st->connections_refused, 0);
	atomic_init(&st->accept_pauses[VG_LISTENER_AGENT], 0);
	atomic_init(&st->accept_pauses[VG_LISTENER_HTTP], 0);
	for (size_t i = 0; i < 4; i++)
		atomic_init(&st->connections_closed[i], 0);
	atomic_init(&st->budget_pauses, 0);
	atomic_init(&st->buffer_bytes, 0);
	atomic_init(&st->buffer_granted_bytes, 0);
	atomic_init(&st->series_refused, 0);
	atomic_init(&st->samples_refused, 0);
	atomic_init(&st->self_scrapes, 0);
	atomic_init(&st->self_scrapes_missed, 0);
	atomic_init(&st->self_scrape_errors, 0);
	st->render_more = NULL;
	st->render_more_arg = NULL;
	atomic_init(&st->connections_open, 0);
	atomic_init(&st->acks_sent, 0);
	atomic_init(&st->wal_syncs, 0);
	atomic_init(&st->wal_sync_errors, 0);
	atomic_init(&st->wal_bytes, 0);
	atomic_init(&st->wal_recoveries, 0);
	atomic_init(&st->wal_missing_segments, 0);
	atomic_init(&st->wal_corrupt_tails, 0);
	atomic_init(&st->wal_damaged_segments, 0);
	atomic_init(&st->wal_bad_segments, 0);
	atomic_init(&st->wal_failing, 0);
	atomic_init(&st->http_requests, 0);
	atomic_init(&st->http_refused, 0);
	atomic_init(&st->http_auth_refused, 0);
	atomic_init(&st->http_head_timeouts, 0);
	atomic_init(&st->http_conn_pauses, 0);
	for (int i = 0; i < VG_STATS_QUERY_OUTCOMES; i++)
		atomic_init(&st->queries[i], 0);
	st->start_time_ms = vg_clock_now_ms();
}

static uint64_t load(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static void family(struct vg_buf *out, const char *name, const char *type, const char *help)
{
	vg_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(struct vg_buf *out, const char *name, const char *help, uint64_t v)
{
	family(out, name, "counter", help);
	vg_buf_printf(out, "%s %" PRIu64 "\n", name, v);
}

static void gauge(struct vg_buf *out, const char *name, const char *help, uint64_t v)
{
	family(out, name, "gauge", help);
	vg_buf_printf(out, "%s %" PRIu64 "\n", name, v);
}

static void gauge_f(struct vg_buf *out, const char *name, const char *help, double v)
{
	char txt[32];

	vg_fmt_value(v, txt, sizeof(txt));
	family(out, name, "gauge", help);
	vg_buf_printf(out, "%s %s\n", name, txt);
}

/* Fields of /proc/self/stat we report; false if it cannot be read. */
struct proc_stat {
	double cpu_seconds;
	uint64_t vsize_bytes, rss_bytes;
};

static bool read_proc_stat(struct proc_stat *ps)
{
	char buf[1024], *p, *end;
	unsigned long long v[22];
	long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	size_t n;
	FILE *f = fopen("/proc/self/stat", "re");

	if (f == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: fields start
	 * after the last ')'. Field 3 (state) is a letter; then numbers. */
	p = strrchr(buf, ')');
	if (p == NULL || tick <= 0 || page <= 0)
		return false;
	p += 2;
	while (*p && *p != ' ')
		p++;
	/* v[0] is field 4 (ppid) ... v[20] is field 24 (rss). */
	for (int i = 0; i < 21; i++) {
		v[i] = strtoull(p, &end, 10);
		if (end == p)
			return false;
		p = end;
	}
	ps->cpu_seconds = (double)(v[10] + v[11]) / (double)tick; /* utime, stime */
	{
		/* The same time to the nanosecond, not the clock tick (10 ms):
		 * a receiver that did a little work shows it. */
		struct timespec ts;
		if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0)
			ps->cpu_seconds = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	}
	ps->vsize_bytes = v[19];
	ps->rss_bytes = v[20] * (uint64_t)page;
	return true;
}

static bool count_open_fds(uint64_t *n)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (d == NULL)
		return false;
	*n = 0;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			(*n)++;
	closedir(d);
	if (*n > 0)
		(*n)--; /* the directory stream's own descriptor */
	return true;
}

static void render_process(struct vg_buf *out)
{
	struct proc_stat ps;
	struct rlimit rl;
	uint64_t fds;

	if (read_proc_stat(&ps)) {
		family(out, "process_cpu_seconds_total", "counter",
		       "Total user and system CPU time spent in seconds.");
		{
			char txt[32];
			vg_fmt_value(ps.cpu_seconds, txt, sizeof(txt));
			vg_buf_printf(out, "process_cpu_seconds_total %s\n", txt);
		}
		gauge(out, "process_resident_memory_bytes", "Resident memory size in bytes.", ps.rss_bytes);
		gauge(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", ps.vsize_bytes);
	}
	if (count_open_fds(&fds)) {
		gauge(out, "process_open_fds", "Number of open file descriptors.", fds);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		gauge(out, "process_max_fds", "Maximum number of open file descriptors.", (uint64_t)rl.rlim_cur);
	}
}

void vg_stats_render(const struct vg_stats *st, struct vg_head *head, struct vg_buf *out)
{
	static const char *const frame_types[6] = { "unknown", "hello", "series", "samples",
						    "ack", "error" };

	family(out, "vigil_receiver_frames_received_total", "counter",
	       "Frames received from agents, by frame type.");
	for (size_t i = 1; i <= 6; i++) {
		size_t t = i % 6; /* hello .. error, then unknown */
		vg_buf_printf(out, "vigil_receiver_frames_received_total{type=\"%s\"} %" PRIu64 "\n",
			      frame_types[t], load(&st->frames_received[t]));
	}
	counter(out, "vigil_receiver_samples_received_total",
		"Samples accepted from SAMPLES frames.", load(&st->samples_received));
	counter(out, "vigil_receiver_samples_duplicate_total",
		"Samples of retried batches ignored as duplicates.", load(&st->samples_duplicate));
	counter(out, "vigil_receiver_samples_too_old_total",
		"Agents' samples older than max_sample_age, refused.", load(&st->samples_too_old));
	counter(out, "vigil_receiver_samples_too_new_total",
		"Samples more than 10 minutes ahead of the receiver's clock, refused.",
		load(&st->samples_too_new));
	counter(out, "vigil_receiver_series_created_total", "Series created in the head.",
		load(&st->series_created));
	counter(out, "vigil_receiver_bytes_received_total", "Wire bytes received from agents.",
		load(&st->bytes_received));
	counter(out, "vigil_receiver_decode_errors_total",
		"Frames refused as malformed or hostile.", load(&st->decode_errors));
	counter(out, "vigil_receiver_connections_accepted_total", "Agent connections accepted.",
		load(&st->connections_accepted));
	counter(out, "vigil_receiver_connections_refused_total",
		"Agent connections refused over the connection limit.",
		load(&st->connections_refused));
	family(out, "vigil_receiver_accept_pauses_total", "counter",
	       "Times a listener paused because accept() failed (descriptor limit).");
	vg_buf_printf(out, "vigil_receiver_accept_pauses_total{listener=\"agent\"} %" PRIu64 "\n",
		      load(&st->accept_pauses[VG_LISTENER_AGENT]));
	vg_buf_printf(out, "vigil_receiver_accept_pauses_total{listener=\"http\"} %" PRIu64 "\n",
		      load(&st->accept_pauses[VG_LISTENER_HTTP]));
	{
		static const char *const reasons[4] = { "no_hello", "idle", "error", "frame_timeout" };
		family(out, "vigil_receiver_connections_closed_total", "counter",
		       "Agent connections the receiver closed, by reason.");
		for (size_t i = 0; i < 4; i++)
			vg_buf_printf(out, "vigil_receiver_connections_closed_total{reason=\"%s\"} %" PRIu64 "\n",
				      reasons[i], load(&st->connections_closed[i]));
	}
	counter(out, "vigil_receiver_budget_pauses_total",
		"Times an agent connection stopped being read because the input budget was spent.",
		load(&st->budget_pauses));
	gauge(out, "vigil_receiver_buffer_bytes", "Agent input buffered now, as charged to the budget.", load(&st->buffer_bytes));
	gauge(out, "vigil_receiver_buffer_granted_bytes", "Of the buffered input, what is granted to large frames.", load(&st->buffer_granted_bytes));
	counter(out, "vigil_receiver_series_refused_all_total", "Series refused by a cardinality limit, all agents.",
		load(&st->series_refused));
	counter(out, "vigil_receiver_samples_refused_total",
		"Agents' samples not stored: their series was refused by a limit, or the WAL could not take "
		"the batch (the agent keeps that one and retries).",
		load(&st->samples_refused));
	family(out, "vigil_receiver_connections_open", "gauge", "Agent connections open now.");
	vg_buf_printf(out, "vigil_receiver_connections_open %" PRId64 "\n",
		      atomic_load_explicit(&st->connections_open, memory_order_relaxed));
	counter(out, "vigil_receiver_acks_sent_total", "ACK frames sent to agents.",
		load(&st->acks_sent));
	counter(out, "vigil_receiver_wal_syncs_total", "WAL group commits (fsync).",
		load(&st->wal_syncs));
	counter(out, "vigil_receiver_wal_sync_errors_total", "WAL writes or fsyncs that failed.",
		load(&st->wal_sync_errors));
	counter(out, "vigil_receiver_wal_bytes_total", "Bytes appended to the WAL.",
		load(&st->wal_bytes));
	counter(out, "vigil_receiver_wal_recoveries_total",
		"Times the WAL took writes again after a failure, without a restart.",
		load(&st->wal_recoveries));
	gauge(out, "vigil_receiver_wal_failing", "1 while the WAL cannot write (a full disk) and agents' batches are refused.", load(&st->wal_failing));
	gauge(out, "vigil_receiver_wal_missing_segments", "WAL segments found missing when the receiver started; their records were lost.", load(&st->wal_missing_segments));
	gauge(out, "vigil_receiver_wal_corrupt_tails", "Damaged tails of the last WAL segment cut when the receiver started (a crash mid-write).", load(&st->wal_corrupt_tails));
	gauge(out, "vigil_receiver_wal_damaged_segments", "Earlier WAL segments found damaged when the receiver started; the rest of each was lost.", load(&st->wal_damaged_segments));
	gauge(out, "vigil_receiver_wal_bad_segments", "WAL segment files skipped when the receiver started, for a bad header.", load(&st->wal_bad_segments));
	counter(out, "vigil_receiver_http_requests_total", "HTTP requests received.",
		load(&st->http_requests));
	counter(out, "vigil_receiver_http_refused_total",
		"HTTP requests refused before routing: over a limit or malformed.", load(&st->http_refused));
	counter(out, "vigil_receiver_http_auth_refused_total",
		"HTTP requests refused for missing or wrong credentials (401) or scope (403).",
		load(&st->http_auth_refused));
	counter(out, "vigil_receiver_http_head_timeouts_total",
		"HTTP connections closed because a request head did not end within http_header_timeout.",
		load(&st->http_head_timeouts));
	counter(out, "vigil_receiver_http_connection_pauses_total",
		"Times the HTTP listener stopped accepting at http_max_connections.",
		load(&st->http_conn_pauses));
	counter(out, "vigil_receiver_self_scrapes_total",
		"Times the receiver wrote its own metrics as series (self_metrics_interval).", load(&st->self_scrapes));
	counter(out, "vigil_receiver_self_scrapes_missed_total",
		"Intervals skipped because the previous record of the receiver's own metrics was still being written.",
		load(&st->self_scrapes_missed));
	counter(out, "vigil_receiver_self_scrape_errors_total",
		"Records of the receiver's own metrics that could not be written (the log says why).",
		load(&st->self_scrape_errors));
	if (head != NULL) {
		family(out, "vigil_receiver_head_series", "gauge", "Series in the head.");
		vg_buf_printf(out, "vigil_receiver_head_series %zu\n", vg_head_num_series(head));
		gauge(out, "vigil_receiver_head_samples", "Samples in the head.", vg_head_num_samples(head));
	}
	gauge_f(out, "vigil_receiver_start_time_seconds",
		"Start time of the receiver since the Unix epoch in seconds.",
		(double)st->start_time_ms / 1000.0);
	if (st->render_more != NULL)
		st->render_more(st->render_more_arg, out);
	render_process(out);
}

void vg_stats_render_storage(struct vg_storage *storage, struct vg_buf *out)
{
	static const struct {
		const char *name, *help;
	} fam[] = {
		{ "vigil_storage_tier_blocks", "Block files of the tier being served." },
		{ "vigil_storage_tier_bytes", "Bytes of the tier's block files, index included." },
		{ "vigil_storage_tier_points", "Samples (raw) or buckets (rollups) in the tier's blocks." },
		{ "vigil_storage_tier_series", "Series in the tier's blocks, summed over blocks." },
		{ "vigil_storage_tier_oldest_timestamp_seconds", "Start of the tier's oldest block." },
		{ "vigil_storage_tier_newest_timestamp_seconds", "End of the tier's newest block." },
	};
	struct vg_storage_stats ss;

	vg_storage_stats(storage, &ss);
	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		family(out, fam[f].name, "gauge", fam[f].help);
		for (int t = 0; t < VG_TIER_COUNT; t++) {
			const struct vg_storage_tier_stats *ts = &ss.tier[t];
			const double v[] = { (double)ts->blocks, (double)ts->bytes, (double)ts->points,
					     (double)ts->series, (double)ts->oldest_ms / 1000.0,
					     (double)ts->newest_ms / 1000.0 };
			char txt[32];

			vg_fmt_value(v[f], txt, sizeof(txt));
			vg_buf_printf(out, "%s{tier=\"%s\"} %s\n", fam[f].name, vg_tier_name(t), txt);
		}
	}
	counter(out, "vigil_storage_damaged_blocks_total",
		"Block files refused at start for failing their checks (the log names file and section).",
		ss.damaged_blocks);
}

void vg_stats_render_queries(const struct vg_stats *st, unsigned running, unsigned queued,
			     struct vg_buf *out)
{
	static const char *const outcome[VG_STATS_QUERY_OUTCOMES] = {
		"ok", "timeout", "canceled", "too_many_samples", "too_many_series", "response_too_large",
		"queue_full", "error", "client_gone",
	};

	family(out, "vigil_receiver_queries_total", "counter",
	       "Queries (/api/v1/query, query_range) by how they ended: answered, past a limit, refused, abandoned by their client.");
	for (int i = 0; i < VG_STATS_QUERY_OUTCOMES; i++)
		vg_buf_printf(out, "vigil_receiver_queries_total{outcome=\"%s\"} %" PRIu64 "\n", outcome[i],
			      load(&st->queries[i]));
	gauge_f(out, "vigil_receiver_queries_running", "Queries being evaluated by the query workers now.",
		(double)running);
	gauge_f(out, "vigil_receiver_queries_queued", "Queries waiting for a query worker now.", (double)queued);
}
