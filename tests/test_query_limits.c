/*
 * test_query_limits.c: queries on the worker pool, within their limits,
 * on a real vigil-receiver (receiver/query/pool.c, struct vg_query_limits
 * in receiver/query/query.h, the query: section of vigil-receiver.yaml(5)).
 *
 * Each limit has a case that fails if it is ignored (error type, HTTP code
 * and Prometheus's message checked): query.max_samples, query.max_series,
 * query.max_response_size, query.timeout (the server's and the request's
 * timeout parameter), 11,000 points per series, and the bounded queue
 * (503 when full). A query past its timeout stops evaluating: the
 * receiver's CPU time (from /proc) stops growing, within a bounded wait.
 * SIGTERM during a long query exits 0 within the stop's bound. A query
 * whose client closes its connection stops (counted client_gone) and
 * frees its worker for the next query. Concurrent
 * queries are all answered. While a heavy query runs, an agent's batches
 * keep being acknowledged (the query is checked to be still running after
 * them). The hostile queries of issue 14 (deeply nested expressions, huge
 * ranges, tiny steps over a year, regexes that would backtrack, 100,000
 * matching series) each get a clear error or a result within the limits
 * while an agent keeps ingesting (one batch acknowledged after each, and
 * another agent's all along, checked to progress during the longest of
 * them); the receiver's RSS is printed around the
 * 100,000-series queries (docs/performance.md).
 *
 * Data comes in through the import endpoint; ingest progress is checked
 * with a raw agent client (tests/harness.h).
 */
#include "config.h"

#include "tests/harness.h"

#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/banned.h"

#define N_SMALL 100        /* series of ql_small */
#define SMALL_POINTS 720   /* each, 10 s apart: the last 2 h */
#define N_BIG 100000       /* series of ql_big */
#define BIG_POINTS 6       /* each, 60 s apart */
#define N_RE 2000          /* series of ql_re, with long values */

static char *dir;
static struct vg_t_receiver rcv;
static int64_t now_ms;

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void start(const char *config)
{
	dir = vg_t_tmpdir("vg-qlimits");
	now_ms = wall_ms() / 1000 * 1000;
	ck_assert_int_eq(vg_t_receiver_start_config(&rcv, dir, config, 0), 0);
}

/* A receiver with no file and one flag. */
static void start_flag(const char *flag)
{
	char data[600];

	dir = vg_t_tmpdir("vg-qlimits");
	now_ms = wall_ms() / 1000 * 1000;
	snprintf(data, sizeof(data), "%s/data", dir);
	ck_assert_int_eq(vg_t_receiver_start(&rcv, data, flag), 0);
}

static void teardown(void)
{
	if (rcv.proc.pid > 0)
		vg_t_stop(&rcv.proc, SIGKILL, 5000);
	if (dir != NULL) {
		vg_t_rmrf(dir);
		free(dir);
		dir = NULL;
	}
}

/* --- loading ---------------------------------------------------------------- */

static void import_text(const char *text, size_t len)
{
	long status = 0;
	char *r = vg_t_http_post(rcv.http_port, "/api/v1/import/prometheus", text, len, &status);

	ck_assert_msg(status == 204, "import: HTTP %ld: %s", status, r ? r : "(no reply)");
	free(r);
}

/* Appends printf output to a growing buffer. */
struct text {
	char *p;
	size_t len, cap;
};

static void text_printf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_printf(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->cap - t->len < 512) {
		t->cap = t->cap ? t->cap * 2 : 1 << 20;
		t->p = realloc(t->p, t->cap);
		ck_assert_ptr_nonnull(t->p);
	}
	va_start(ap, fmt);
	n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	ck_assert(n > 0 && (size_t)n < t->cap - t->len);
	t->len += (size_t)n;
}

/* Sends what t holds once it is large, or at the end. */
static void text_flush(struct text *t, bool is_end)
{
	if (t->len > (4u << 20) || (is_end && t->len > 0)) {
		import_text(t->p, t->len);
		t->len = 0;
	}
	if (is_end) {
		free(t->p);
		memset(t, 0, sizeof(*t));
	}
}

/* ql_small{i="0".."99"}: a sample every 10 s over the last 2 h. */
static void load_small(void)
{
	struct text t = { 0 };

	for (int i = 0; i < N_SMALL; i++) {
		for (int k = 0; k < SMALL_POINTS; k++)
			text_printf(&t, "ql_small{i=\"%d\"} %d %lld\n", i, k,
				    (long long)(now_ms - (int64_t)(SMALL_POINTS - k) * 10000));
		text_flush(&t, false);
	}
	text_flush(&t, true);
}

/* ql_big{i="0".."99999"}: BIG_POINTS samples 60 s apart, the last a
 * minute ago. */
static void load_big(void)
{
	struct text t = { 0 };

	for (int i = 0; i < N_BIG; i++) {
		for (int k = 0; k < BIG_POINTS; k++)
			text_printf(&t, "ql_big{i=\"%d\",pool=\"p%d\"} %d %lld\n", i, i % 100, k,
				    (long long)(now_ms - (int64_t)(BIG_POINTS - k) * 60000));
		text_flush(&t, false);
	}
	text_flush(&t, true);
}

/* ql_re{v="aaaa...a<i>"}: values made to make a backtracking matcher
 * crawl on "(a+)+$"-like patterns. */
static void load_re(void)
{
	struct text t = { 0 };
	char v[201];

	memset(v, 'a', 200);
	v[200] = '\0';
	for (int i = 0; i < N_RE; i++) {
		text_printf(&t, "ql_re{v=\"%s%d!\"} 1 %lld\n", v, i, (long long)(now_ms - 30000));
		text_flush(&t, false);
	}
	text_flush(&t, true);
}

/* --- queries ---------------------------------------------------------------- */

/* POSTs form to path (POST waits up to 60 s); the parsed reply or NULL
 * (no answer), *status its code. */
static json_t *post_query(const char *path, const char *form, long *status)
{
	char *body = vg_t_http_post(rcv.http_port, path, form, strlen(form), status);
	json_t *doc;

	if (body == NULL)
		return NULL;
	doc = json_loads(body, 0, NULL);
	free(body);
	return doc;
}

/* "query=<expr urlencoded>" plus extra (may be ""). */
static char *form(const char *expr, const char *extra)
{
	char *q = vg_t_urlencode(expr), *f;
	size_t n = strlen(q) + strlen(extra) + 16;

	f = malloc(n);
	ck_assert_ptr_nonnull(f);
	snprintf(f, n, "query=%s%s", q, extra);
	free(q);
	return f;
}

static json_t *instant(const char *expr, const char *extra, long *status)
{
	char *f = form(expr, extra);
	json_t *doc = post_query("/api/v1/query", f, status);

	free(f);
	return doc;
}

/* A range query over the last range_s seconds at step_s. */
static json_t *range(const char *expr, long range_s, double step_s, const char *extra, long *status)
{
	char tail[256], *f;
	json_t *doc;

	snprintf(tail, sizeof(tail), "&start=%.3f&end=%.3f&step=%g%s", (now_ms / 1000.0) - (double)range_s,
		 now_ms / 1000.0, step_s, extra);
	f = form(expr, tail);
	doc = post_query("/api/v1/query_range", f, status);
	free(f);
	return doc;
}

static void assert_error(json_t *doc, const long *statusp, long want_status, const char *type, const char *msg)
{
	const char *got_type, *got_msg;
	long status = *statusp;

	ck_assert_msg(doc != NULL, "no JSON reply (HTTP %ld)", status);
	got_type = json_string_value(json_object_get(doc, "errorType"));
	got_msg = json_string_value(json_object_get(doc, "error"));
	ck_assert_msg(status == want_status, "HTTP %ld, want %ld (%s: %s)", status, want_status,
		      got_type ? got_type : "-", got_msg ? got_msg : "-");
	ck_assert_str_eq(json_string_value(json_object_get(doc, "status")), "error");
	ck_assert_str_eq(got_type, type);
	ck_assert_msg(got_msg != NULL && strstr(got_msg, msg) != NULL, "error \"%s\", want \"%s\"",
		      got_msg ? got_msg : "(none)", msg);
	json_decref(doc);
}

static size_t result_len(json_t *doc, const long *statusp)
{
	long status = *statusp;
	size_t n;

	ck_assert_msg(doc != NULL && status == 200, "HTTP %ld: %s", status,
		      doc ? json_string_value(json_object_get(doc, "error")) : "no reply");
	ck_assert_str_eq(json_string_value(json_object_get(doc, "status")), "success");
	n = json_array_size(json_object_get(json_object_get(doc, "data"), "result"));
	json_decref(doc);
	return n;
}

/* The value of one sample line of /metrics ("name{labels}"), or -1. */
static double metric(const char *line_start)
{
	long status;
	char *body = vg_t_http_get(rcv.http_port, "/metrics", &status), *p;
	double v = -1;
	size_t n = strlen(line_start);

	ck_assert_ptr_nonnull(body);
	for (p = body; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, line_start, n) == 0 && p[n] == ' ') {
			v = strtod(p + n + 1, NULL);
			break;
		}
	free(body);
	return v;
}

#define TOO_MANY_SAMPLES "query processing would load too many samples into memory in query execution"

/* --- CPU and ingest, from outside ---------------------------------------- */

/* utime + stime of pid, in clock ticks, from /proc/pid/stat. */
static long long cpu_ticks(pid_t pid)
{
	char path[64], buf[2048], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command's closing parenthesis: state is 3rd,
	 * utime the 14th and stime the 15th of the line. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

/* Whether the receiver's CPU use falls to idle (under a tenth of a core
 * over half a second) within bound_ms. */
static bool becomes_idle(int bound_ms)
{
	long hz = sysconf(_SC_CLK_TCK);
	int64_t deadline = vg_t_now_ms() + bound_ms;

	while (vg_t_now_ms() < deadline) {
		long long a = cpu_ticks(rcv.proc.pid), b;
		vg_t_sleep_ms(500);
		b = cpu_ticks(rcv.proc.pid);
		if (a >= 0 && b >= 0 && (b - a) * 10 < hz / 2)
			return true;
	}
	return false;
}

/* Whether the receiver is busy (over half a core over 300 ms). */
static bool is_busy(void)
{
	long hz = sysconf(_SC_CLK_TCK);
	long long a = cpu_ticks(rcv.proc.pid), b;

	vg_t_sleep_ms(300);
	b = cpu_ticks(rcv.proc.pid);
	return a >= 0 && b >= 0 && (b - a) * 10 >= hz * 3 * 5 / 10;
}

/* A raw agent: one series, one sample a batch, each acknowledged. */
struct agent {
	int fd;
	uint64_t seq, acked;
};

static void agent_open(struct agent *a, const char *name)
{
	a->fd = vg_t_connect(rcv.port);
	ck_assert_int_ge(a->fd, 0);
	ck_assert_int_eq(vg_t_hello(a->fd, name, 1, &a->acked), 0);
	vg_t_define_series(a->fd, "ql_agent", name);
	a->seq = 0;
}

/* One batch, and its ACK (5 s at most). */
static void agent_batch(struct agent *a)
{
	a->seq++;
	vg_t_send_sample(a->fd, a->seq, wall_ms(), (double)a->seq);
	a->acked = vg_t_wait_ack(a->fd, a->seq);
	ck_assert_uint_ge(a->acked, a->seq);
}

/* An agent in a thread, sending batches one after another until told to
 * stop; acked is how far its ACKs have come. */
struct feeder {
	pthread_t th;
	struct agent a;
	_Atomic bool is_stopping;
	_Atomic uint64_t acked;
};

static void *feeder_run(void *arg)
{
	struct feeder *f = arg;

	while (!atomic_load(&f->is_stopping)) {
		agent_batch(&f->a);
		atomic_store(&f->acked, f->a.acked);
	}
	return NULL;
}

static void feeder_start(struct feeder *f, const char *name)
{
	memset(f, 0, sizeof(*f));
	agent_open(&f->a, name);
	ck_assert_int_eq(pthread_create(&f->th, NULL, feeder_run, f), 0);
}

static uint64_t feeder_stop(struct feeder *f)
{
	atomic_store(&f->is_stopping, true);
	pthread_join(f->th, NULL);
	close(f->a.fd);
	return atomic_load(&f->acked);
}

/* --- a query in a thread ------------------------------------------------- */

struct bg {
	pthread_t th;
	const char *path;
	char *form;
	long status;
	char *body;
	_Atomic bool is_done;
};

static void *bg_run(void *arg)
{
	struct bg *b = arg;

	b->body = vg_t_http_post(rcv.http_port, b->path, b->form, strlen(b->form), &b->status);
	atomic_store(&b->is_done, true);
	return NULL;
}

static void bg_start(struct bg *b, const char *path, char *form_owned)
{
	memset(b, 0, sizeof(*b));
	b->path = path;
	b->form = form_owned;
	ck_assert_int_eq(pthread_create(&b->th, NULL, bg_run, b), 0);
}

static void bg_join(struct bg *b)
{
	pthread_join(b->th, NULL);
	free(b->form);
}

static void bg_free(struct bg *b)
{
	free(b->body);
	b->body = NULL;
}

/* A range query that would run for minutes: 3,600 steps, each a
 * subquery of 600 steps over ql_small, with timeout (may be ""). */
static char *heavy_form(const char *timeout)
{
	char tail[256];

	snprintf(tail, sizeof(tail), "&start=%.3f&end=%.3f&step=1%s%s", now_ms / 1000.0 - 3600, now_ms / 1000.0,
		 *timeout ? "&timeout=" : "", timeout);
	return form("sum_over_time(sum(ql_small)[10m:1s])", tail);
}

/* --- configuration ---------------------------------------------------------- */

/* vigil-receiver --check-config on config text plus one flag: the exit
 * status, stderr in *err (caller frees). */
static int check_config(const char *config, const char *flag, char **err)
{
	char path[600], cfg_arg[640], *out = NULL;
	FILE *f;
	int rc;

	dir = vg_t_tmpdir("vg-qlimits");
	snprintf(path, sizeof(path), "%s/receiver.yaml", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(config, f);
	fclose(f);
	snprintf(cfg_arg, sizeof(cfg_arg), "--config=%s", path);
	{
		char *argv[] = { (char *)vg_t_bin("vigil-receiver"), cfg_arg, "--check-config", (char *)flag, NULL };
		if (flag == NULL)
			argv[3] = NULL;
		rc = vg_t_run(argv, &out, err, 10000);
	}
	free(out);
	vg_t_rmrf(dir);
	free(dir);
	dir = NULL;
	return rc;
}

START_TEST(test_config_keys_and_flags_checked)
{
	char *err = NULL;

	ck_assert_int_eq(check_config("query:\n  timeout: 30s\n  max_samples: 1000\n  max_series: 10\n"
				      "  max_response_size: 1MiB\n  max_concurrency: 3\n  max_queued: 5\n",
				      NULL, &err), 0);
	free(err);
	ck_assert_int_ne(check_config("query:\n  timeout: soon\n", NULL, &err), 0);
	ck_assert_msg(strstr(err, "query.timeout") != NULL || strstr(err, "timeout") != NULL, "%s", err);
	free(err);
	ck_assert_int_ne(check_config("query:\n  max_queued: 0\n", NULL, &err), 0);
	free(err);
	ck_assert_int_ne(check_config("query:\n  max_sample: 5\n", NULL, &err), 0);
	free(err);
	ck_assert_int_eq(check_config("", "--query.max-samples=1000", &err), 0);
	free(err);
	ck_assert_int_ne(check_config("", "--query.max-samples=lots", &err), 0);
	ck_assert_msg(strstr(err, "--query.max-samples") != NULL, "%s", err);
	free(err);
	ck_assert_int_ne(check_config("", "--query.timeout=2x", &err), 0);
	ck_assert_msg(strstr(err, "--query.timeout") != NULL, "%s", err);
	free(err);
	ck_assert_int_ne(check_config("", "--query.max-concurrency=5000", &err), 0);
	ck_assert_msg(strstr(err, "out of range") != NULL, "%s", err);
	free(err);
	ck_assert_int_eq(check_config("", "--query.max-response-size=64MiB", &err), 0);
	free(err);
	ck_assert_int_eq(check_config("", "--query.lookback-delta=2m", &err), 0);
	free(err);
	ck_assert_int_ne(check_config("", "--query.lookback-delta=2x", &err), 0);
	ck_assert_msg(strstr(err, "--query.lookback-delta") != NULL, "%s", err);
	free(err);
	ck_assert_int_ne(check_config("", "--query.lookback-delta=10ms", &err), 0);
	ck_assert_msg(strstr(err, "out of range") != NULL, "%s", err);
	free(err);
}
END_TEST

/* --query.lookback-delta, Prometheus's flag, sets the file's
 * lookback_delta: ql_small has a sample every 10 s, so 5.5 s after the
 * last one a 5 s lookback finds nothing, 3 s after it one sample; the
 * request's lookback_delta still wins. */
START_TEST(test_lookback_delta_flag)
{
	long status;
	char at[96];
	double last_s;

	start_flag("--query.lookback-delta=5s");
	load_small();
	last_s = (double)(now_ms - 10000) / 1000.0;
	snprintf(at, sizeof(at), "&time=%.3f", last_s + 5.5);
	ck_assert_uint_eq(result_len(instant("ql_small{i=\"1\"}", at, &status), &status), 0);
	snprintf(at, sizeof(at), "&time=%.3f&lookback_delta=1m", last_s + 5.5);
	ck_assert_uint_eq(result_len(instant("ql_small{i=\"1\"}", at, &status), &status), 1);
	snprintf(at, sizeof(at), "&time=%.3f", last_s + 3);
	ck_assert_uint_eq(result_len(instant("ql_small{i=\"1\"}", at, &status), &status), 1);
}
END_TEST

START_TEST(test_flag_overrides_the_file)
{
	long status;

	start_flag("--query.max-samples=1000");
	load_small();
	assert_error(instant("count_over_time(ql_small[1h])", "", &status), &status, 422, "execution",
		     TOO_MANY_SAMPLES);
}
END_TEST

/* --- each limit ------------------------------------------------------------ */

START_TEST(test_max_samples_refused_with_prometheus_error)
{
	long status;

	start("query:\n  max_samples: 10000\n");
	load_small();
	/* 100 series x 720 points: over 10,000 held. */
	assert_error(range("ql_small", 7200, 10, "", &status), &status, 422, "execution", TOO_MANY_SAMPLES);
	/* A range vector of 100 x 360 samples, in an instant query. */
	assert_error(instant("count_over_time(ql_small[1h])", "", &status), &status, 422, "execution",
		     TOO_MANY_SAMPLES);
	/* Through a function at each step: rate over 100 series x 30 points
	 * a window, 120 steps: the points held grow past the limit. */
	assert_error(range("rate(ql_small[5m])", 7200, 10, "", &status), &status, 422, "execution",
		     TOO_MANY_SAMPLES);
	/* Under the limit, answered. */
	ck_assert_uint_eq(result_len(range("ql_small{i=\"7\"}", 3600, 10, "", &status), &status), 1);
	ck_assert_uint_eq(result_len(instant("count_over_time(ql_small[5m])", "", &status), &status), N_SMALL);
	/* And counted. */
	ck_assert(metric("vigil_receiver_queries_total{outcome=\"too_many_samples\"}") == 3);
	ck_assert(metric("vigil_receiver_queries_total{outcome=\"ok\"}") == 2);
	/* The worker counts itself idle just after it handed the answer
	 * over, so the last answer may arrive a moment before that. */
	for (int64_t deadline = vg_t_now_ms() + 5000;
	     metric("vigil_receiver_queries_running") != 0 && vg_t_now_ms() < deadline;)
		vg_t_sleep_ms(10);
	ck_assert(metric("vigil_receiver_queries_running") == 0);
}
END_TEST

START_TEST(test_max_series_refused)
{
	long status;

	start("query:\n  max_series: 50\n");
	load_small();
	assert_error(instant("ql_small", "", &status), &status, 422, "execution",
		     "query processing would load too many series into memory");
	assert_error(range("sum(ql_small)", 600, 60, "", &status), &status, 422, "execution",
		     "too many series");
	ck_assert_uint_eq(result_len(instant("ql_small{i=~\"1.\"}", "", &status), &status), 10);
}
END_TEST

START_TEST(test_max_response_size_stops_the_body)
{
	long status;

	start("query:\n  max_response_size: 4KiB\n");
	load_small();
	assert_error(range("ql_small", 3600, 10, "", &status), &status, 422, "execution",
		     "the response would be larger than 4096 bytes (query.max_response_size)");
	assert_error(instant("ql_small", "", &status), &status, 422, "execution", "larger than 4096 bytes");
	ck_assert_uint_eq(result_len(instant("ql_small{i=\"3\"}", "", &status), &status), 1);
}
END_TEST

START_TEST(test_points_per_series_bad_data)
{
	long status;

	start(NULL);
	load_small();
	assert_error(range("ql_small", 11001, 1, "", &status), &status, 400, "bad_data",
		     "exceeded maximum resolution of 11,000 points per timeseries. "
		     "Try decreasing the query resolution (?step=XX)");
	ck_assert_uint_eq(result_len(range("ql_small{i=\"1\"}", 11000, 1, "", &status), &status), 1);
}
END_TEST

START_TEST(test_timeout_stops_evaluation)
{
	long status;
	char *f;
	json_t *doc;

	start("query:\n  timeout: 1s\n");
	load_small();
	ck_assert(becomes_idle(15000));
	f = heavy_form("");
	doc = post_query("/api/v1/query_range", f, &status);
	free(f);
	assert_error(doc, &status, 503, "timeout", "query timed out in expression evaluation");
	/* It stopped, not just answered: the CPU falls back to idle. */
	ck_assert_msg(becomes_idle(15000), "the receiver kept busy after the timeout");
	/* And the receiver still answers. */
	ck_assert_uint_eq(result_len(instant("ql_small{i=\"1\"}", "", &status), &status), 1);
}
END_TEST

START_TEST(test_request_timeout_shortens_the_server_s)
{
	long status;
	char *f = heavy_form("1s");
	json_t *doc;

	start(NULL); /* query.timeout 2m */
	load_small();
	doc = post_query("/api/v1/query_range", f, &status);
	free(f);
	assert_error(doc, &status, 503, "timeout", "query timed out in expression evaluation");
	ck_assert(becomes_idle(15000));
}
END_TEST

START_TEST(test_sigterm_does_not_wait_for_a_query)
{
	struct bg b;

	start(NULL);
	load_small();
	bg_start(&b, "/api/v1/query_range", heavy_form(""));
	/* Running: the receiver is busy (bounded wait). */
	for (int i = 0; i < 30 && !is_busy(); i++)
		;
	ck_assert(!atomic_load(&b.is_done));
	/* The query would run for minutes; the stop waits 10 s at most. */
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 10000), 0);
	rcv.proc.pid = 0;
	bg_join(&b);
	bg_free(&b);
}
END_TEST

START_TEST(test_concurrent_queries_all_answered)
{
	enum { N = 12 };
	struct bg b[N];

	start("query:\n  max_concurrency: 2\n  max_queued: 20\n");
	load_small();
	for (int i = 0; i < N; i++) {
		char sel[64], tail[128];
		snprintf(sel, sizeof(sel), "sum(rate(ql_small{i!=\"%d\"}[5m]))", i);
		snprintf(tail, sizeof(tail), "&start=%.3f&end=%.3f&step=15", now_ms / 1000.0 - 3600, now_ms / 1000.0);
		bg_start(&b[i], "/api/v1/query_range", form(sel, tail));
	}
	for (int i = 0; i < N; i++) {
		json_t *doc;
		bg_join(&b[i]);
		ck_assert_msg(b[i].status == 200, "query %d: HTTP %ld: %s", i, b[i].status,
			      b[i].body ? b[i].body : "-");
		doc = json_loads(b[i].body, 0, NULL);
		ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(doc, "data"), "result")), 1);
		json_decref(doc);
		bg_free(&b[i]);
	}
}
END_TEST

START_TEST(test_full_queue_refused_503)
{
	enum { N = 3 };
	struct bg b[N];
	int n_refused = 0, n_timeout = 0;

	/* One worker, one waiting: of three long queries, one is refused. */
	start("query:\n  max_concurrency: 1\n  max_queued: 1\n");
	load_small();
	for (int i = 0; i < N; i++)
		bg_start(&b[i], "/api/v1/query_range", heavy_form("3s"));
	for (int i = 0; i < N; i++) {
		json_t *doc;
		bg_join(&b[i]);
		doc = b[i].body ? json_loads(b[i].body, 0, NULL) : NULL;
		ck_assert_msg(doc != NULL, "query %d: no reply", i);
		ck_assert_int_eq(b[i].status, 503);
		if (strcmp(json_string_value(json_object_get(doc, "errorType")), "unavailable") == 0) {
			ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(doc, "error")),
						     "too many queries waiting (query.max_queued is 1)"));
			n_refused++;
		} else {
			/* The one that ran, and the one that waited (in the
			 * queue or running) past its 3 s. */
			ck_assert_str_eq(json_string_value(json_object_get(doc, "errorType")), "timeout");
			ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(doc, "error")),
						     "query timed out in"));
			n_timeout++;
		}
		json_decref(doc);
		bg_free(&b[i]);
	}
	ck_assert_int_eq(n_refused, 1);
	ck_assert_int_eq(n_timeout, 2);
	ck_assert(metric("vigil_receiver_queries_total{outcome=\"queue_full\"}") == 1);
	ck_assert(metric("vigil_receiver_queries_total{outcome=\"timeout\"}") == 2);
}
END_TEST

/* Polls /metrics until line reaches want (bounded_ms at most); its last value. */
static double metric_reaches(const char *line, double want, int bound_ms)
{
	int64_t deadline = vg_t_now_ms() + bound_ms;
	double v;

	while ((v = metric(line)) != want && vg_t_now_ms() < deadline)
		vg_t_sleep_ms(50);
	return v;
}

START_TEST(test_client_gone_cancels_the_query)
{
	char req[1024], *f;
	long status;
	int fd, n;

	/* One worker: the query that follows is answered only if the
	 * abandoned one let go of it. */
	start("query:\n  max_concurrency: 1\n");
	load_small();
	f = heavy_form("");
	n = snprintf(req, sizeof(req),
		     "POST /api/v1/query_range HTTP/1.1\r\nHost: x\r\n"
		     "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n\r\n%s",
		     strlen(f), f);
	free(f);
	ck_assert(n > 0 && (size_t)n < sizeof(req));
	fd = vg_t_connect(rcv.http_port);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, req, (size_t)n), n);
	ck_assert_msg(metric_reaches("vigil_receiver_queries_running", 1, 30000) == 1, "the query never ran");
	/* The query would run for minutes; its client goes now. */
	close(fd);
	ck_assert_msg(metric_reaches("vigil_receiver_queries_total{outcome=\"client_gone\"}", 1, 30000) == 1,
		      "the abandoned query was not stopped");
	ck_assert(metric_reaches("vigil_receiver_queries_running", 0, 30000) == 0);
	ck_assert(metric("vigil_receiver_queries_total{outcome=\"ok\"}") == 0);
	ck_assert(metric("vigil_receiver_queries_total{outcome=\"error\"}") == 0);
	/* The worker is free: the next query is answered. */
	ck_assert_uint_eq(result_len(instant("ql_small{i=\"1\"}", "", &status), &status), 1);
	ck_assert(metric("vigil_receiver_queries_total{outcome=\"ok\"}") == 1);
	ck_assert(metric("vigil_receiver_queries_total{outcome=\"client_gone\"}") == 1);
}
END_TEST

/* --- ingest under a heavy query ----------------------------------------- */

START_TEST(test_ingest_acknowledged_during_heavy_query)
{
	struct agent a;
	struct bg b;

	start(NULL);
	load_small();
	agent_open(&a, "during-query");
	bg_start(&b, "/api/v1/query_range", heavy_form("50s"));
	for (int i = 0; i < 30 && !is_busy(); i++)
		;
	/* Twenty batches acknowledged while the query runs. */
	for (int i = 0; i < 20; i++)
		agent_batch(&a);
	ck_assert_msg(!atomic_load(&b.is_done), "the query ended before the batches were acknowledged");
	ck_assert_uint_ge(a.acked, 20);
	close(a.fd);
	vg_t_stop(&rcv.proc, SIGTERM, 10000);
	rcv.proc.pid = 0;
	bg_join(&b);
	bg_free(&b);
}
END_TEST

/* --- hostile queries (issue 14's list) ---------------------------------- */

/* A clear error (an errorType and a message, 4xx or 5xx) or a result,
 * and an agent's batch acknowledged after it. */
static void hostile(struct agent *a, const char *what, json_t *doc, const long *statusp)
{
	long status = *statusp;
	const char *s;

	ck_assert_msg(doc != NULL, "%s: no reply (HTTP %ld)", what, status);
	s = json_string_value(json_object_get(doc, "status"));
	if (status == 200) {
		ck_assert_str_eq(s, "success");
	} else {
		ck_assert_msg(status == 400 || status == 422 || status == 503, "%s: HTTP %ld", what, status);
		ck_assert_str_eq(s, "error");
		ck_assert_ptr_nonnull(json_string_value(json_object_get(doc, "errorType")));
		ck_assert_msg(strlen(json_string_value(json_object_get(doc, "error"))) > 0, "%s: no message", what);
	}
	printf("hostile %s: HTTP %ld %s\n", what, status,
	       status == 200 ? "success" : json_string_value(json_object_get(doc, "error")));
	json_decref(doc);
	agent_batch(a);
}

static char *repeat(const char *open, const char *mid, const char *close, int n)
{
	size_t lo = strlen(open), lc = strlen(close), lm = strlen(mid);
	char *s = malloc(n * (lo + lc) + lm + 1), *p = s;

	ck_assert_ptr_nonnull(s);
	for (int i = 0; i < n; i++, p += lo)
		memcpy(p, open, lo);
	memcpy(p, mid, lm);
	p += lm;
	for (int i = 0; i < n; i++, p += lc)
		memcpy(p, close, lc);
	*p = '\0';
	return s;
}

START_TEST(test_hostile_queries_clear_answers_while_ingesting)
{
	struct agent a;
	struct feeder f;
	long status;
	uint64_t before;
	char *e;

	start(NULL);
	load_small();
	load_re();
	agent_open(&a, "hostile");
	/* Another agent ingests all along. */
	feeder_start(&f, "hostile-feeder");
	/* Deeply nested expressions. */
	e = repeat("(", "1", ")", 20000);
	hostile(&a, "20,000 parentheses", instant(e, "", &status), &status);
	free(e);
	e = repeat("-", "ql_small", "", 20000);
	hostile(&a, "20,000 unary minus", instant(e, "", &status), &status);
	free(e);
	e = repeat("abs(", "ql_small", ")", 5000);
	hostile(&a, "5,000 nested calls", instant(e, "", &status), &status);
	free(e);
	e = repeat("sum(", "ql_small", ")", 5000);
	hostile(&a, "5,000 nested aggregations", instant(e, "", &status), &status);
	free(e);
	/* Huge ranges. */
	hostile(&a, "count_over_time [100y]", instant("count_over_time(ql_small[100y])", "", &status), &status);
	hostile(&a, "rate [10y] offset", instant("rate(ql_small[10y] offset 5y)", "", &status), &status);
	hostile(&a, "range query over 100y at 1d", range("ql_small", 100LL * 365 * 86400, 86400, "", &status),
		&status);
	/* Tiny steps over a year. */
	hostile(&a, "range query over 1y at 1ms", range("ql_small", 365LL * 86400, 0.001, "", &status), &status);
	hostile(&a, "subquery over 1y at 1ms", instant("max_over_time(ql_small[1y:1ms])", "", &status), &status);
	before = atomic_load(&f.acked);
	hostile(&a, "range query over 1y at 1h of a subquery",
		range("max_over_time(ql_small[1d:1s])", 365LL * 86400, 3600, "&timeout=10s", &status), &status);
	/* That one ran until its timeout: the feeder's batches were
	 * acknowledged meanwhile. */
	ck_assert_uint_gt(atomic_load(&f.acked), before);
	/* Regexes that would backtrack, over long values. */
	hostile(&a, "(a+)+$", instant("count({__name__=\"ql_re\",v=~\"(a+)+$\"})", "", &status), &status);
	hostile(&a, "(a|aa)+!", instant("count({__name__=\"ql_re\",v=~\"(a|aa)+[0-9]+!\"})", "", &status),
		&status);
	hostile(&a, "(.*a){20}", instant("count(ql_re{v!~\"(.*a){20}\"})", "", &status), &status);
	hostile(&a, "backreference", instant("ql_re{v=~\"(a)\\\\1\"}", "", &status), &status);
	ck_assert_uint_gt(feeder_stop(&f), 0);
	close(a.fd);
	ck_assert(vg_t_alive(&rcv.proc));
}
END_TEST

START_TEST(test_hostile_100k_series_within_limits)
{
	struct agent a;
	long status, rss0, rss1, rss2, rss3;
	json_t *doc;

	start(NULL);
	load_big();
	agent_open(&a, "big");
	rss0 = vg_t_rss_kb(rcv.proc.pid);
	/* Every series in one instant vector: 100,000 results. */
	doc = instant("ql_big", "", &status);
	ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(doc, "data"), "result")), N_BIG);
	hostile(&a, "100,000 series, instant", doc, &status);
	hostile(&a, "count of 100,000", instant("count(ql_big)", "", &status), &status);
	/* (Under a sanitizer this one may reach its timeout: a clear error.) */
	hostile(&a, "sum by pool over 100,000",
		range("sum by (pool) (rate(ql_big[5m]))", 600, 60, "&timeout=40s", &status), &status);
	/* A range query over all of them, 11 steps: 1.1 M points, answered. */
	doc = range("ql_big", 600, 60, "", &status);
	ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(doc, "data"), "result")), N_BIG);
	hostile(&a, "100,000 series, range 10m at 60s", doc, &status);
	rss1 = vg_t_rss_kb(rcv.proc.pid);
	/* At a 2 s step, 18 M points: past query.max_samples, refused. */
	doc = range("ql_big", 3600, 2, "", &status);
	ck_assert_int_eq(status, 422);
	hostile(&a, "100,000 series, range 1h at 2s", doc, &status);
	rss2 = vg_t_rss_kb(rcv.proc.pid);
	/* The same through the evaluator's steps (not a plain selector). */
	doc = range("ql_big * 2", 300, 1, "&timeout=40s", &status);
	/* (A build with sanitizers may reach the timeout first.) */
	ck_assert_msg(status == 422 || status == 503, "HTTP %ld", status);
	hostile(&a, "100,000 series, range 5m at 1s, ql_big * 2", doc, &status);
	rss3 = vg_t_rss_kb(rcv.proc.pid);
	printf("RSS of the receiver: %ld kB after loading 100,000 series, %ld kB after the answered queries, "
	       "%ld kB after the refused selector, %ld kB after the refused expression\n",
	       rss0, rss1, rss2, rss3);
	close(a.fd);
}
END_TEST

static Suite *query_limits_suite(void)
{
	Suite *s = suite_create("query_limits");
	TCase *tc = tcase_create("limits");
	TCase *big = tcase_create("big");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_config_keys_and_flags_checked);
	tcase_add_test(tc, test_flag_overrides_the_file);
	tcase_add_test(tc, test_lookback_delta_flag);
	tcase_add_test(tc, test_max_samples_refused_with_prometheus_error);
	tcase_add_test(tc, test_max_series_refused);
	tcase_add_test(tc, test_max_response_size_stops_the_body);
	tcase_add_test(tc, test_points_per_series_bad_data);
	tcase_add_test(tc, test_timeout_stops_evaluation);
	tcase_add_test(tc, test_request_timeout_shortens_the_server_s);
	tcase_add_test(tc, test_sigterm_does_not_wait_for_a_query);
	tcase_add_test(tc, test_client_gone_cancels_the_query);
	tcase_add_test(tc, test_concurrent_queries_all_answered);
	tcase_add_test(tc, test_full_queue_refused_503);
	tcase_add_test(tc, test_ingest_acknowledged_during_heavy_query);
	tcase_add_test(tc, test_hostile_queries_clear_answers_while_ingesting);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(big, NULL, teardown);
	tcase_set_timeout(big, 300);
	tcase_add_test(big, test_hostile_100k_series_within_limits);
	suite_add_tcase(s, big);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(query_limits_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
