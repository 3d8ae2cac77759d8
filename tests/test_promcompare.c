/*
 * test_promcompare.c: Vigil's answers against a real Prometheus's.
 *
 * One generated dataset (node-style counters and gauges, a classic
 * histogram, 3 h at 10 s from 2026-01-01T00:00:00Z, with a counter reset,
 * a 25-minute gap and a few NaN samples) is written twice: as OpenMetrics,
 * made into blocks by `promtool tsdb create-blocks-from openmetrics` and
 * served by Debian's `prometheus` (2.42) on 127.0.0.1 with no scrape
 * targets and a retention longer than the data's age; and as the text
 * format, posted to a real vigil-receiver's import endpoint, whose
 * calendar is driven (testing_clock_file) to just after the data, so the
 * data is inside its sample-age window. The same instant and range
 * queries go to both and the answers are compared value by value (float
 * tolerance, same label sets, same timestamps), as are errors (HTTP code
 * and errorType), the metadata endpoints, and what `promtool query`
 * prints against each.
 *
 * Prometheus 2.42's range windows and lookback are closed on the left,
 * 3.x's (Vigil's) open: samples sit 3 s past each 10 s and every
 * evaluation time 5 s past, and subquery steps (multiples of their step
 * from the epoch) fall on whole 10 s, so no sample is ever on a window's
 * edge; functions 2.42 lacks (mad_over_time, first_over_time,
 * sort_by_label, limitk) are left out, as are the answers where 3.x
 * deliberately differs from 2.42 (noted where they would be).
 *
 * Every difference is printed as a DIFF line and counted, and each test
 * fails at its end if there was one, so one run lists them all.
 * VG_PROMCOMPARE_VERBOSE=1 lists every comparison; VG_KEEP=1 keeps the
 * directory (data, blocks, logs).
 *
 * Both daemons are started once for the suite and stopped by PID.
 */
#include "common/buf.h"
#include "tests/harness.h"

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/banned.h"

#define T0 1767225600LL /* 2026-01-01T00:00:00Z, seconds */
#define STEP_S 10
/* Samples sit 3 s past each 10 s, so that no evaluation time (5 s past)
 * and no subquery step (a multiple of 10 s from the epoch) meets one. */
#define GRID_OFF_S 3
#define N_STEPS 1080 /* 3 h */
#define N_INST 8
#define RESET_INST 3 /* its counters restart at RESET_AT */
#define RESET_AT 500
#define GAP_INST 5 /* no samples at all in [GAP_FROM, GAP_TO) */
#define GAP_FROM 600
#define GAP_TO 750
#define NAN_INST 2 /* node_load1 is NaN in [NAN_FROM, NAN_TO) */
#define NAN_FROM 300
#define NAN_TO 305

static char *dir;
static struct vg_t_receiver rcv;
static struct vg_t_proc prom;
static uint16_t prom_port;
static bool is_up;

/* --- the dataset ------------------------------------------------------------- */

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* A uniform number in [0, 1) for (series s, step i). */
static double u01(uint64_t s, int64_t i)
{
	return (double)(mix(s * 1000003ULL + (uint64_t)i) >> 11) / 9007199254740992.0;
}

/* Two hundredths-rounded values print the same either way. */
static double cents(double v)
{
	return floor(v * 100.0) / 100.0;
}

struct out {
	FILE *om;  /* OpenMetrics, seconds */
	FILE *txt; /* the text format, milliseconds */
	size_t n_samples;
};

static void family(struct out *o, const char *name, const char *type)
{
	fprintf(o->om, "# TYPE %s %s\n", name, type);
}

static bool skipped(int inst, int64_t i)
{
	return inst == GAP_INST && i >= GAP_FROM && i < GAP_TO;
}

static void sample(struct out *o, const char *series, int64_t i, double v)
{
	int64_t t = T0 + GRID_OFF_S + i * STEP_S;

	if (isnan(v)) {
		fprintf(o->om, "%s NaN %" PRId64 "\n", series, t);
		fprintf(o->txt, "%s NaN %" PRId64 "000\n", series, t);
	} else {
		fprintf(o->om, "%s %.17g %" PRId64 "\n", series, v, t);
		fprintf(o->txt, "%s %.17g %" PRId64 "000\n", series, v, t);
	}
	o->n_samples++;
}

static const char *const modes[] = { "idle", "user", "system", "iowait" };
static const double mode_base[] = { 7.0, 1.2, 0.6, 0.1 };
static const char *const devices[] = { "eth0", "eth1", "lo" };
static const char *const les[] = { "0.05", "0.1", "0.25", "0.5", "1", "+Inf" };
static const double le_frac[] = { 0.2, 0.45, 0.7, 0.85, 0.95, 1.0 };

/* The requests of instance inst at step i in bucket k (cumulative in le). */
static double bucket_inc(int inst, int64_t i, int k)
{
	double n = 50 + floor(50 * u01(9000 + (uint64_t)inst, i)), prev = 0;

	for (int j = 0; j <= k; j++) {
		double c = j == 5 ? n : floor(n * le_frac[j] * (0.9 + 0.2 * u01(9100 + (uint64_t)(inst * 8 + j), i)));
		if (c < prev)
			c = prev;
		if (c > n)
			c = n;
		prev = c;
	}
	return prev;
}

static void gen(struct out *o)
{
	char s[256];
	uint64_t sid = 0;

	family(o, "node_cpu_seconds", "counter");
	for (int h = 0; h < N_INST; h++)
		for (int cpu = 0; cpu < 4; cpu++)
			for (int m = 0; m < 4; m++, sid++) {
				double v = 1000.0 * (double)(sid + 1);
				snprintf(s, sizeof(s),
					 "node_cpu_seconds_total{cpu=\"%d\",instance=\"h%02d\",job=\"node\",mode=\"%s\"}",
					 cpu, h, modes[m]);
				for (int64_t i = 0; i < N_STEPS; i++) {
					double inc = cents(mode_base[m] * (0.5 + u01(sid, i)) +
							   0.3 * sin((double)i / 50.0 + (double)h));
					if (inc < 0)
						inc = 0;
					v += inc;
					if (h == RESET_INST && i == RESET_AT)
						v = inc;
					if (!skipped(h, i))
						sample(o, s, i, v);
				}
			}
	family(o, "node_load1", "gauge");
	for (int h = 0; h < N_INST; h++, sid++) {
		snprintf(s, sizeof(s), "node_load1{instance=\"h%02d\",job=\"node\"}", h);
		for (int64_t i = 0; i < N_STEPS; i++) {
			double v = cents(1.2 + 0.8 * sin((double)i / 37.0 + h) + 0.3 * u01(sid, i));
			if (h == NAN_INST && i >= NAN_FROM && i < NAN_TO)
				v = NAN;
			if (!skipped(h, i))
				sample(o, s, i, v);
		}
	}
	family(o, "node_memory_MemAvailable_bytes", "gauge");
	for (int h = 0; h < N_INST; h++, sid++) {
		snprintf(s, sizeof(s), "node_memory_MemAvailable_bytes{instance=\"h%02d\",job=\"node\"}", h);
		for (int64_t i = 0; i < N_STEPS; i++)
			if (!skipped(h, i))
				sample(o, s, i,
				       floor(4e9 + 1e9 * sin((double)i / 100.0 + h) + 1e6 * u01(sid, i)));
	}
	family(o, "node_network_receive_bytes", "counter");
	for (int h = 0; h < N_INST; h++)
		for (int d = 0; d < 3; d++, sid++) {
			double v = 1e9 * (double)(h + 1) + 1e6 * d;
			snprintf(s, sizeof(s),
				 "node_network_receive_bytes_total{device=\"%s\",instance=\"h%02d\",job=\"node\"}",
				 devices[d], h);
			for (int64_t i = 0; i < N_STEPS; i++) {
				double inc = floor((d == 2 ? 1e3 : 1e5) * u01(sid, i));
				v += inc;
				if (h == RESET_INST && i == RESET_AT)
					v = inc;
				if (!skipped(h, i))
					sample(o, s, i, v);
			}
		}
	family(o, "node_filesystem_avail_bytes", "gauge");
	for (int h = 0; h < N_INST; h++)
		for (int m = 0; m < 2; m++, sid++) {
			snprintf(s, sizeof(s),
				 "node_filesystem_avail_bytes{instance=\"h%02d\",job=\"node\",mountpoint=\"%s\"}", h,
				 m ? "/var" : "/");
			for (int64_t i = 0; i < N_STEPS; i++)
				if (!skipped(h, i))
					sample(o, s, i,
					       floor(5e10 - (double)i * 1000.0 * (h + 1) * (m + 1) +
						     5e4 * u01(sid, i)));
		}
	family(o, "http_request_duration_seconds_bucket", "unknown");
	for (int h = 0; h < N_INST; h++)
		for (int k = 0; k < 6; k++) {
			double v = 0;
			snprintf(s, sizeof(s),
				 "http_request_duration_seconds_bucket{instance=\"h%02d\",job=\"node\",le=\"%s\"}",
				 h, les[k]);
			for (int64_t i = 0; i < N_STEPS; i++) {
				v += bucket_inc(h, i, k);
				if (!skipped(h, i))
					sample(o, s, i, v);
			}
		}
	family(o, "http_requests", "counter");
	for (int h = 0; h < N_INST; h++)
		for (int c = 0; c < 2; c++)
			for (int m = 0; m < 2; m++, sid++) {
				double v = 0;
				snprintf(s, sizeof(s),
					 "http_requests_total{code=\"%s\",instance=\"h%02d\",job=\"node\",method=\"%s\"}",
					 c ? "500" : "200", h, m ? "POST" : "GET");
				for (int64_t i = 0; i < N_STEPS; i++) {
					v += floor((c ? 2.0 : 20.0) * u01(sid, i));
					if (!skipped(h, i))
						sample(o, s, i, v);
				}
			}
	fprintf(o->om, "# EOF\n");
}

/* --- the daemons ----------------------------------------------------------- */

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_ge(n, 0);
	rewind(f);
	p = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(fread(p, 1, (size_t)n, f), (size_t)n);
	p[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return p;
}

/* A port nobody listens on now (bound, then let go). */
static uint16_t free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static int run_quiet(char *const argv[], int timeout_ms)
{
	char *out = NULL, *err = NULL;
	int st = vg_t_run(argv, &out, &err, timeout_ms);

	if (st != 0)
		fprintf(stderr, "%s: exit %d\n%s%s", argv[0], st, out ? out : "", err ? err : "");
	free(out);
	free(err);
	return st;
}

/* Starts prometheus on the blocks; a few tries, since the port is picked
 * before prometheus binds it. */
static void start_prometheus(void)
{
	char cfg[600], tsdb[600], log[600], listen[64];

	snprintf(cfg, sizeof(cfg), "%s/prometheus.yml", dir);
	snprintf(tsdb, sizeof(tsdb), "--storage.tsdb.path=%s/blocks", dir);
	snprintf(log, sizeof(log), "%s/prometheus.log", dir);
	for (int attempt = 0; attempt < 5; attempt++) {
		char cfg_arg[700];
		int64_t deadline;

		prom_port = free_port();
		snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%u", prom_port);
		snprintf(cfg_arg, sizeof(cfg_arg), "--config.file=%s", cfg);
		char *argv[] = { "/usr/bin/prometheus", cfg_arg, tsdb, listen,
				 "--storage.tsdb.retention.time=20y", "--log.level=warn",
				 "--web.enable-admin-api", NULL };
		ck_assert_int_eq(vg_t_spawn(&prom, log, argv), 0);
		deadline = vg_t_now_ms() + 30000;
		while (vg_t_now_ms() < deadline && vg_t_alive(&prom)) {
			long status = 0;
			char *b = vg_t_http_get(prom_port, "/-/ready", &status);
			free(b);
			if (status == 200)
				return;
			vg_t_sleep_ms(100);
		}
		vg_t_stop(&prom, SIGTERM, 10000);
	}
	ck_abort_msg("prometheus did not start (see %s)", log);
}

static void setup(void)
{
	char om[600], txt[600], blocks[600], path[600];
	struct out o = { 0 };
	FILE *f;
	size_t len;
	char *body, *reply;
	long status;
	int64_t t_start = vg_t_now_ms();

	ck_assert_msg(access("/usr/bin/prometheus", X_OK) == 0 && access("/usr/bin/promtool", X_OK) == 0,
		      "Debian's prometheus package (prometheus, promtool) is needed");
	dir = vg_t_tmpdir("vigil-promcompare");
	snprintf(om, sizeof(om), "%s/data.om", dir);
	snprintf(txt, sizeof(txt), "%s/data.txt", dir);
	snprintf(blocks, sizeof(blocks), "%s/blocks", dir);
	o.om = fopen(om, "w");
	o.txt = fopen(txt, "w");
	ck_assert(o.om != NULL && o.txt != NULL);
	gen(&o);
	ck_assert_int_eq(fclose(o.om), 0);
	ck_assert_int_eq(fclose(o.txt), 0);

	char *mk[] = { "/usr/bin/promtool", "tsdb", "create-blocks-from", "openmetrics", om, blocks, NULL };
	ck_assert_int_eq(run_quiet(mk, 60000), 0);
	snprintf(path, sizeof(path), "%s/prometheus.yml", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "global:\n  scrape_interval: 1m\n  evaluation_interval: 1m\nscrape_configs: []\n");
	ck_assert_int_eq(fclose(f), 0);
	start_prometheus();

	/* The receiver's calendar: 10 minutes after the last sample. */
	snprintf(path, sizeof(path), "%s/clock", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%lld\n", (T0 + N_STEPS * STEP_S + 600) * 1000);
	ck_assert_int_eq(fclose(f), 0);
	char rcfg[700];
	snprintf(rcfg, sizeof(rcfg), "testing_clock_file: %s/clock\n", dir);
	ck_assert_int_eq(vg_t_receiver_start_config(&rcv, dir, rcfg, 0), 0);
	body = read_file(txt, &len);
	reply = vg_t_http_post(rcv.http_port, "/api/v1/import/prometheus", body, len, &status);
	ck_assert_ptr_nonnull(reply);
	ck_assert_msg(status == 204, "import: HTTP %ld: %s", status, reply);
	free(reply);
	free(body);
	is_up = true;
	fprintf(stderr, "promcompare: %zu samples loaded into both in %" PRId64 " ms\n", o.n_samples,
		vg_t_now_ms() - t_start);
}

static void teardown(void)
{
	if (prom.pid > 0)
		vg_t_stop(&prom, SIGTERM, 10000);
	if (rcv.proc.pid > 0)
		vg_t_stop(&rcv.proc, SIGTERM, 10000);
	if (dir != NULL && getenv("VG_KEEP") == NULL)
		vg_t_rmrf(dir);
	free(dir);
	dir = NULL;
}

/* --- comparing answers ------------------------------------------------------- */

struct answer {
	long status;
	json_t *doc; /* NULL if the body is not JSON */
	char *body;
};

static void ask(uint16_t port, const char *path, const char *form, struct answer *a)
{
	json_error_t e;

	if (form != NULL)
		a->body = vg_t_http_post(port, path, form, strlen(form), &a->status);
	else
		a->body = vg_t_http_get(port, path, &a->status);
	ck_assert_msg(a->body != NULL, "%s: no answer from port %u", path, port);
	a->doc = json_loads(a->body, 0, &e);
}

static void answer_release(struct answer *a)
{
	json_decref(a->doc);
	free(a->body);
}

static bool same_number(double a, double b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	if (a == b)
		return true;
	return fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b)) + 1e-12;
}

static double value_of(json_t *v)
{
	const char *s = json_string_value(v);

	ck_assert_ptr_nonnull(s);
	if (strcmp(s, "+Inf") == 0)
		return INFINITY;
	if (strcmp(s, "-Inf") == 0)
		return -INFINITY;
	return strtod(s, NULL);
}

/* [t, "v"] pairs equal within tolerance. */
static bool same_point(json_t *p, json_t *v)
{
	return json_is_array(p) && json_is_array(v) &&
	       fabs(json_number_value(json_array_get(p, 0)) - json_number_value(json_array_get(v, 0))) < 1e-6 &&
	       same_number(value_of(json_array_get(p, 1)), value_of(json_array_get(v, 1)));
}

static int by_metric(const void *a, const void *b)
{
	char *sa = json_dumps(json_object_get(*(json_t *const *)a, "metric"), JSON_SORT_KEYS | JSON_COMPACT);
	char *sb = json_dumps(json_object_get(*(json_t *const *)b, "metric"), JSON_SORT_KEYS | JSON_COMPACT);
	int r = strcmp(sa, sb);

	free(sa);
	free(sb);
	return r;
}

/* The series of result, sorted by label set unless is_ordered. */
static json_t **series_of(json_t *result, size_t *n, bool is_ordered)
{
	json_t **v;

	*n = json_array_size(result);
	v = calloc(*n + 1, sizeof(*v));
	ck_assert_ptr_nonnull(v);
	for (size_t i = 0; i < *n; i++)
		v[i] = json_array_get(result, i);
	if (!is_ordered)
		qsort(v, *n, sizeof(*v), by_metric);
	return v;
}

static size_t n_compared, n_points;

static size_t n_diffs;

/* A difference: said on stderr and counted; each test ends asserting
 * there were none, so one run lists every difference. */
#define DIFF(...)                                      \
	do {                                           \
		fprintf(stderr, "DIFF: " __VA_ARGS__); \
		fputc('\n', stderr);                   \
		n_diffs++;                             \
	} while (0)

static char *dump(json_t *j)
{
	static char buf[4][512];
	static int next;
	char *s = j ? json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	char *out = buf[next++ % 4];

	snprintf(out, 512, "%s", s ? s : "none");
	free(s);
	return out;
}

/* Prometheus's data and Vigil's equal: same type, label sets, points. */
static void compare_data(const char *what, json_t *pd, json_t *vd, bool is_ordered)
{
	const char *pt = json_string_value(json_object_get(pd, "resultType"));
	const char *vt = json_string_value(json_object_get(vd, "resultType"));
	json_t *pr = json_object_get(pd, "result"), *vr = json_object_get(vd, "result");
	json_t **ps, **vs;
	size_t pn, vn;

	if (pt == NULL || vt == NULL || strcmp(pt, vt) != 0) {
		DIFF("%s: resultType %s, Vigil %s", what, pt, vt);
		return;
	}
	if (strcmp(pt, "scalar") == 0 || strcmp(pt, "string") == 0) {
		if (!(strcmp(pt, "string") == 0 ? json_equal(pr, vr) : same_point(pr, vr)))
			DIFF("%s: Prometheus %s, Vigil %s", what, dump(pr), dump(vr));
		n_points++;
		return;
	}
	ps = series_of(pr, &pn, is_ordered);
	vs = series_of(vr, &vn, is_ordered);
	for (size_t i = 0; i < pn || i < vn; i++) {
		json_t *pm = i < pn ? json_object_get(ps[i], "metric") : NULL;
		json_t *vm = i < vn ? json_object_get(vs[i], "metric") : NULL;
		json_t *pp, *vp;

		if (pm == NULL || vm == NULL || !json_equal(pm, vm)) {
			DIFF("%s: series %zu: Prometheus %s, Vigil %s (%zu and %zu series)", what, i, dump(pm),
			     dump(vm), pn, vn);
			break;
		}
		if (strcmp(pt, "vector") == 0) {
			pp = json_object_get(ps[i], "value");
			vp = json_object_get(vs[i], "value");
			if (!same_point(pp, vp))
				DIFF("%s: %s: Prometheus %s, Vigil %s", what, dump(pm), dump(pp), dump(vp));
			n_points++;
			continue;
		}
		pp = json_object_get(ps[i], "values");
		vp = json_object_get(vs[i], "values");
		for (size_t j = 0; j < json_array_size(pp) || j < json_array_size(vp); j++) {
			if (!same_point(json_array_get(pp, j), json_array_get(vp, j))) {
				DIFF("%s: %s point %zu: Prometheus %s, Vigil %s (%zu and %zu points)", what,
				     dump(pm), j, dump(json_array_get(pp, j)), dump(json_array_get(vp, j)),
				     json_array_size(pp), json_array_size(vp));
				break;
			}
			n_points++;
		}
	}
	free(ps);
	free(vs);
}

/* Error texts equal but for case: 2.42 wrote "Invalid time value for",
 * 3.x (and Vigil) "invalid time value for". */
static bool same_error(json_t *p, json_t *v)
{
	const char *a = json_string_value(p), *b = json_string_value(v);

	return a != NULL && b != NULL && strcasecmp(a, b) == 0;
}

/* The same request to both; success answers compared as data, errors by
 * HTTP code and errorType (and text when is_same_text). */
static void compare_request(const char *path, const char *form, bool is_ordered, bool is_same_text)
{
	struct answer p, v;
	json_t *pd, *vd;
	char what[1024];

	snprintf(what, sizeof(what), "%s%s%s", path, form ? " POST " : "", form ? form : "");
	ask(prom_port, path, form, &p);
	ask(rcv.http_port, path, form, &v);
	n_compared++;
	if (p.doc == NULL || v.doc == NULL) {
		DIFF("%s: not JSON: Prometheus %ld %s, Vigil %ld %s", what, p.status, p.body, v.status, v.body);
		goto out;
	}
	if (p.status != v.status) {
		DIFF("%s: HTTP %ld from Prometheus (%.300s), %ld from Vigil (%.300s)", what, p.status, p.body,
		     v.status, v.body);
		goto out;
	}
	pd = json_object_get(p.doc, "data");
	vd = json_object_get(v.doc, "data");
	if (p.status != 200) {
		if (!json_equal(json_object_get(p.doc, "errorType"), json_object_get(v.doc, "errorType")) ||
		    (is_same_text && !same_error(json_object_get(p.doc, "error"), json_object_get(v.doc, "error"))))
			DIFF("%s: Prometheus %s, Vigil %s", what, p.body, v.body);
	} else if (json_is_object(pd) && json_object_get(pd, "resultType") != NULL) {
		compare_data(what, pd, vd, is_ordered);
		if (getenv("VG_PROMCOMPARE_VERBOSE") != NULL)
			fprintf(stderr, "compared: %s: %zu series\n", what,
				json_array_size(json_object_get(pd, "result")));
	} else if (!json_equal(pd, vd)) {
		DIFF("%s: Prometheus %.400s, Vigil %.400s", what, p.body, v.body);
	}
out:
	answer_release(&p);
	answer_release(&v);
}

/* Ends a test: every DIFF line above fails it. */
static void no_diffs(void)
{
	size_t n = n_diffs;

	n_diffs = 0;
	ck_assert_msg(n == 0, "%zu differences (the DIFF lines above)", n);
}

static void instant_at(const char *q, int64_t t_s, bool is_ordered)
{
	char *e = vg_t_urlencode(q);
	struct vg_buf path = VG_BUF_INIT;

	vg_buf_printf(&path, "/api/v1/query?query=%s&time=%" PRId64, e, t_s);
	compare_request(vg_buf_cstr(&path), NULL, is_ordered, false);
	vg_buf_release(&path);
	free(e);
}

/* An instant query both refuse: same code, errorType and text. */
static void compare_error_at(const char *q, int64_t t_s)
{
	char *e = vg_t_urlencode(q);
	struct vg_buf path = VG_BUF_INIT;

	vg_buf_printf(&path, "/api/v1/query?query=%s&time=%" PRId64, e, t_s);
	compare_request(vg_buf_cstr(&path), NULL, false, true);
	vg_buf_release(&path);
	free(e);
}

/* Off the grid: 5 s past a sample. Near the reset, inside the gap, near
 * the end. */
static const int64_t instant_times[] = {
	T0 + RESET_AT * STEP_S + 125,
	T0 + GAP_FROM * STEP_S + 605,
	T0 + GAP_TO * STEP_S + 65,
	T0 + NAN_FROM * STEP_S + 35,
	T0 + N_STEPS * STEP_S - 25,
};

static void instant(const char *q)
{
	for (size_t i = 0; i < sizeof(instant_times) / sizeof(instant_times[0]); i++)
		instant_at(q, instant_times[i], false);
}

static void instant_ordered(const char *q)
{
	for (size_t i = 0; i < sizeof(instant_times) / sizeof(instant_times[0]); i++)
		instant_at(q, instant_times[i], true);
}

static void range_q(const char *q, int64_t start_s, int64_t end_s, const char *step)
{
	char *e = vg_t_urlencode(q);
	struct vg_buf path = VG_BUF_INIT;

	vg_buf_printf(&path, "/api/v1/query_range?query=%s&start=%" PRId64 "&end=%" PRId64 "&step=%s", e,
		      start_s, end_s, step);
	compare_request(vg_buf_cstr(&path), NULL, false, false);
	vg_buf_release(&path);
	free(e);
}

/* The whole 3 h minus the first 5 minutes, at 60 s from 5 s past. */
static void range_all(const char *q)
{
	range_q(q, T0 + 305, T0 + N_STEPS * STEP_S - 55, "60");
}

/* --- the queries ------------------------------------------------------------ */

START_TEST(test_promcompare_selectors)
{
	ck_assert(is_up);
	instant("node_load1");
	instant("node_cpu_seconds_total{mode=\"idle\",cpu=\"0\"}");
	instant("node_cpu_seconds_total{mode=~\"user|system\",instance!=\"h01\",cpu=\"2\"}");
	instant("node_cpu_seconds_total{mode!~\"idle|iowait\",cpu=\"1\",instance=~\"h0[3-5]\"}");
	instant("{__name__=~\"node_(load1|memory_.*)\",instance=\"h05\"}");
	instant("node_load1 offset 7m");
	instant("node_load1 offset -2m");
	instant_at("node_load1 @ 1767229205.5", T0 + 9005, false);
	instant_at("node_load1 @ 1767229205 offset 1m", T0 + 9005, false);
	instant_at("node_cpu_seconds_total{cpu=\"0\",mode=\"user\"}[1m]", T0 + 3005, false);
	instant_at("node_load1{instance=\"h02\"}[2m]", T0 + NAN_FROM * STEP_S + 35, false);
	instant_at("node_load1{instance=\"h05\"}[30m]", T0 + GAP_TO * STEP_S + 65, false);
	instant("nonexistent_metric");
	no_diffs();
}
END_TEST

START_TEST(test_promcompare_range_functions)
{
	static const char *const qs[] = {
		"rate(node_cpu_seconds_total{mode=\"user\"}[5m])",
		"rate(node_network_receive_bytes_total[10m])",
		"irate(node_cpu_seconds_total{cpu=\"3\"}[1m])",
		"increase(node_network_receive_bytes_total[10m])",
		"increase(http_requests_total[7m])",
		"delta(node_load1[10m])",
		"idelta(node_load1[2m])",
		"resets(node_cpu_seconds_total{cpu=\"0\"}[2h])",
		"changes(node_load1[30m])",
		"deriv(node_filesystem_avail_bytes[15m])",
		"predict_linear(node_filesystem_avail_bytes[15m], 3600)",
		"avg_over_time(node_load1[10m])",
		"min_over_time(node_load1[10m])",
		"max_over_time(node_load1[10m])",
		"sum_over_time(node_load1[10m])",
		"count_over_time(node_load1[10m])",
		"last_over_time(node_load1[10m])",
		"quantile_over_time(0.9, node_load1[10m])",
		"quantile_over_time(0, node_memory_MemAvailable_bytes[5m])",
		"stddev_over_time(node_load1[10m])",
		"stdvar_over_time(node_memory_MemAvailable_bytes[10m])",
		"present_over_time(node_load1[1m])",
		"absent_over_time(node_load1{instance=\"h05\"}[1m])",
		"absent_over_time(nonexistent{job=\"x\"}[5m])",
		"max_over_time(rate(node_cpu_seconds_total{mode=\"user\",cpu=\"0\"}[5m])[30m:1m])",
		"avg_over_time(node_load1[1h:5m])",
		"min_over_time(sum by (instance) (node_load1)[20m:])",
	};

	ck_assert(is_up);
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
		instant(qs[i]);
	no_diffs();
}
END_TEST

START_TEST(test_promcompare_instant_functions)
{
	static const char *const qs[] = {
		"abs(delta(node_load1[5m]))", "ceil(node_load1)", "floor(node_load1)",
		"round(node_load1)", "round(node_load1, 0.25)", "exp(node_load1)", "ln(node_load1)",
		"log2(node_memory_MemAvailable_bytes)", "log10(node_memory_MemAvailable_bytes)",
		"sqrt(node_load1)", "sgn(delta(node_load1[5m]))", "clamp(node_load1, 0.8, 1.5)",
		"clamp_min(node_load1, 1)", "clamp_max(node_load1, 1)", "time()",
		"timestamp(node_load1)", "vector(1)", "vector(time())", "scalar(sum(node_load1))",
		"scalar(node_load1)", "absent(node_load1)", "absent(nonexistent{job=\"x\",a=~\"b\"})",
		"absent(node_load1{instance=\"h05\"})",
		"label_replace(node_load1, \"host\", \"$1\", \"instance\", \"h(.*)\")",
		"label_replace(node_load1, \"instance\", \"\", \"instance\", \".*\")",
		"label_join(node_load1, \"x\", \"-\", \"instance\", \"job\")",
		"histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
		"histogram_quantile(0.5, rate(http_request_duration_seconds_bucket[5m]))",
		"histogram_quantile(0.99, sum by (le, instance) (rate(http_request_duration_seconds_bucket[10m])))",
		"day_of_month()", "day_of_week()", "days_in_month()", "hour()", "minute()", "month()", "year()",
		"hour(timestamp(node_load1))", "minute(node_memory_MemAvailable_bytes * 0 + 1767229205)",
	};

	ck_assert(is_up);
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
		instant(qs[i]);
	instant_ordered("sort(node_load1)");
	instant_ordered("sort_desc(node_memory_MemAvailable_bytes)");
	instant_ordered("sort_desc(node_load1)");
	instant_ordered("sort(node_memory_MemAvailable_bytes)");
	no_diffs();
}
END_TEST

START_TEST(test_promcompare_aggregations)
{
	static const char *const qs[] = {
		"sum by (mode) (rate(node_cpu_seconds_total[5m]))",
		"avg without (cpu) (rate(node_cpu_seconds_total[5m]))",
		"min(node_load1)", "max by (job) (node_load1)",
		"count by (mode) (node_cpu_seconds_total)",
		"stddev(node_load1)", "stdvar by (job) (node_memory_MemAvailable_bytes)",
		"quantile(0.75, node_load1)", "quantile by (mode) (0.2, rate(node_cpu_seconds_total[5m]))",
		"count_values(\"v\", ceil(node_load1))",
		"count_values by (instance) (\"le2\", ceil(rate(node_cpu_seconds_total[5m])))",
		"group by (instance) (node_cpu_seconds_total)",
		"sum(node_cpu_seconds_total) by (instance, mode)",
		"avg(node_load1)", "sum without (instance) (node_load1)",
	};

	ck_assert(is_up);
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
		instant(qs[i]);
	instant_ordered("topk(3, node_load1)");
	instant_ordered("bottomk(2, node_memory_MemAvailable_bytes)");
	instant("topk by (mode) (2, rate(node_cpu_seconds_total[5m]))");
	instant("bottomk(1, rate(node_cpu_seconds_total[5m])) by (cpu)");
	no_diffs();
}
END_TEST

START_TEST(test_promcompare_operators)
{
	static const char *const qs[] = {
		"node_memory_MemAvailable_bytes / 1024 / 1024",
		"node_load1 > 1", "node_load1 > bool 1", "1 < node_load1", "2 * node_load1 + 1",
		"node_load1 ^ 2", "node_load1 % 0.3", "-node_load1", "node_load1 == bool node_load1",
		"1 + 2 * 3", "2 ^ 3 ^ 2", "5 % 3 == bool 2",
		"rate(http_requests_total{code=\"500\"}[5m]) / ignoring(code) rate(http_requests_total{code=\"200\"}[5m])",
		"rate(http_requests_total[5m]) / on(instance, method) group_left sum by (instance, method) (rate(http_requests_total[5m]))",
		"node_load1 * on(instance) group_right node_cpu_seconds_total{mode=\"idle\",cpu=\"0\"}",
		"node_load1 * on(instance) group_left(mountpoint) node_filesystem_avail_bytes{mountpoint=\"/\"}",
		"node_filesystem_avail_bytes{mountpoint=\"/\"} > ignoring(mountpoint) node_filesystem_avail_bytes{mountpoint=\"/var\"}",
		"node_filesystem_avail_bytes{mountpoint=\"/\"} < bool on(instance) node_filesystem_avail_bytes{mountpoint=\"/var\"}",
		"node_load1 and node_load1 > 1", "node_load1 > 1.5 or node_memory_MemAvailable_bytes < 3.5e9",
		"node_load1 unless on(instance) node_memory_MemAvailable_bytes > 4e9",
		"node_load1 and on(instance) node_cpu_seconds_total{mode=\"user\",cpu=\"1\"}",
		"sum by (instance) (rate(node_cpu_seconds_total{mode!=\"idle\"}[5m])) / on(instance) sum by (instance) (rate(node_cpu_seconds_total[5m]))",
		"node_load1 / 0", "-node_load1 / 0", "node_load1 * 0 / 0",
	};

	ck_assert(is_up);
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
		instant(qs[i]);
	no_diffs();
}
END_TEST

START_TEST(test_promcompare_errors)
{
	static const char *const qs[] = {
		"node_cpu_seconds_total / on(instance) node_cpu_seconds_total",
		"node_cpu_seconds_total + on(instance) group_left node_cpu_seconds_total",
		"node_load1{", "rate(node_load1)", "1 > 2", "node_load1[5m] + 1",
		"label_replace(node_load1, \"x\", \"$1\", \"instance\", \"(\")",
		"label_replace(node_load1, \"instance\", \"x\", \"\", \"\")",
		"label_replace(node_load1, \"1x\", \"x\", \"\", \"\")",
		"histogram_quantile(0.5)", "{__name__=~\".*\"}", "topk(\"x\", node_load1)",
		"node_load1 + on(job) group_left node_memory_MemAvailable_bytes",
		"sum by (instance) (node_load1) * on(job) group_right node_load1",
		"node_load1 and 1", "count_values(\"1x\", node_load1)", "abs(1)", "node_load1 offset",
		"foo bar", "1 +", "rate(node_load1[5m:])[5m]",
		"sum(", "(1", "rate(node_load1[5m]", "node_load1[5m", "topk(1,", "sum(node_load1{",
		"sum(rate(node_load1[5m])", "node_load1[5m:1m:1m]", "node_load1 )", "sum(node_load1))",
		"node_load1]", "node_load1}", "node_load1[5m:1m",
	};
	/* Parse errors both give, in other words (none left). */
	static const char *const parse_errors[] = { "node_load1[5m:" };

	ck_assert(is_up);
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
		compare_error_at(qs[i], T0 + 3005);
	for (size_t i = 0; i < sizeof(parse_errors) / sizeof(parse_errors[0]); i++)
		instant_at(parse_errors[i], T0 + 3005, false);
	no_diffs();
}
END_TEST

START_TEST(test_promcompare_range_queries)
{
	ck_assert(is_up);
	range_all("rate(node_cpu_seconds_total{instance=\"h03\",cpu=\"0\"}[5m])");
	range_all("node_load1");
	range_all("sum by (mode) (rate(node_cpu_seconds_total[2m]))");
	range_all("avg_over_time(node_load1[5m])");
	range_all("max_over_time(node_load1[5m])");
	range_all("min_over_time(node_load1{instance=\"h02\"}[30s])");
	range_all("histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))");
	range_all("topk(2, node_memory_MemAvailable_bytes)");
	range_all("bottomk(3, rate(node_network_receive_bytes_total[5m]))");
	range_all("time()");
	range_all("scalar(node_load1{instance=\"h01\"})");
	range_all("vector(time()) - 1767225600");
	range_all("predict_linear(node_filesystem_avail_bytes{mountpoint=\"/\"}[10m], 600)");
	range_all("node_load1 @ end()");
	range_all("node_load1 @ start()");
	range_all("rate(node_network_receive_bytes_total[5m] offset 10m)");
	range_all("count_over_time(node_load1[2m])");
	range_all("absent(node_load1{instance=\"h05\"})");
	range_all("deriv(node_memory_MemAvailable_bytes[10m])");
	range_all("increase(node_cpu_seconds_total{instance=\"h05\",mode=\"idle\"}[10m])");
	range_all("max_over_time(irate(node_cpu_seconds_total{cpu=\"1\",mode=\"user\"}[1m])[5m:30s])");
	/* Over the whole 3 h: the reset, the gap and the NaN go through
	 * every window. */
	{
		static const char *const qs[] = {
			"irate(node_network_receive_bytes_total{instance=~\"h0[2-5]\"}[1m])",
			"increase(http_requests_total{instance=\"h05\"}[3m])",
			"delta(node_load1[3m])", "idelta(node_load1[1m])",
			"resets(node_cpu_seconds_total{cpu=\"2\",instance=~\"h0[345]\"}[10m])",
			"changes(node_load1[5m])",
			"sum_over_time(node_load1[2m])", "stddev_over_time(node_load1[2m])",
			"quantile_over_time(0.5, node_load1[3m])", "last_over_time(node_load1[1m])",
			"present_over_time(node_load1{instance=\"h05\"}[1m])",
			"absent_over_time(node_load1{instance=\"h05\"}[1m])",
			"avg by (instance) (rate(node_cpu_seconds_total{mode!=\"idle\"}[5m]))",
			"count by (instance) (node_cpu_seconds_total)",
			"quantile(0.9, node_load1)", "stddev by (job) (node_load1)",
			"count_values(\"v\", ceil(node_load1))",
			"node_load1 > bool 1.5", "node_load1 and node_load1 > 1.5",
			"node_load1 unless on(instance) node_memory_MemAvailable_bytes > 4e9",
			"label_replace(node_load1, \"host\", \"$1\", \"instance\", \"h0(.)\")",
			"clamp(node_load1, 1, 2)", "round(node_load1, 0.5)", "timestamp(node_load1{instance=\"h05\"})",
			"hour() + minute() / 60",
			/* aggregations of range functions, all steps at once
			 * (eval.c's fused_aggregate): groups by and without,
			 * each aggregation, offset and @, inside a subquery */
			"sum without (cpu) (increase(node_cpu_seconds_total[3m]))",
			"max by (instance) (irate(node_network_receive_bytes_total[1m]))",
			"min without (mode) (idelta(node_cpu_seconds_total{cpu=\"0\"}[1m]))",
			"stddev by (mode) (rate(node_cpu_seconds_total[5m]))",
			"stdvar(delta(node_load1[3m]))", "count(rate(http_requests_total[1m]))",
			"group by (instance) (changes(node_load1[5m]))",
			"sum by (instance) (avg_over_time(node_load1[2m]))",
			"avg(resets(node_cpu_seconds_total{mode=\"user\"}[10m]))",
			"sum(rate(node_network_receive_bytes_total[5m] offset 10m))",
			"sum by (instance) (rate(node_cpu_seconds_total{cpu=\"1\"}[5m] @ 1767232805))",
			"max_over_time(sum by (instance) (rate(node_cpu_seconds_total[2m]))[10m:1m])",
			"sum by (instance) (rate(node_cpu_seconds_total[5m])) / 2",
		};
		for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
			range_all(qs[i]);
	}
	range_q("node_load1", T0 + 5005, T0 + 5605, "35");
	range_q("rate(http_requests_total[1m])", T0 + 7205, T0 + 7805, "1m30s");
	range_q("node_load1", T0 + 305, T0 + 305, "10");
	no_diffs();
}
END_TEST

/* Every time and duration form each accepts, and those it refuses. */
START_TEST(test_promcompare_parameter_forms)
{
	static const char *const times[] = {
		"1767232805", "1767232805.5", "1767232805.1234", "1.767232805e9", "2026-01-01T02:00:05Z",
		"2026-01-01T02:00:05.123Z", "2026-01-01T03:00:05.5+01:00", "2026-01-01T01:00:05-01:00",
		"2026-01-01T02:00:05.123456789Z", "1767232805000", "abc", "2026-01-01", "2026-01-01 02:00:05Z",
		"", "-1e3", "1767232805.",
	};
	/* Go's ParseFloat takes these, so Prometheus evaluates at a time of
	 * int64(NaN) or 2^30 s; Vigil refuses them as not a time. */
	static const char *const refused_times[] = { "NaN", "Inf", "-Inf", "0x1p30" };
	/* Both refuse these steps (400 bad_data), in other words. */
	static const char *const odd_steps[] = { "NaN", "Inf", "1e400" };
	static const char *const steps[] = {
		"60", "1m", "1m30s", "90.5", "1.5e2", "2h", "1h1m", "0.5", "500ms", "1d", "1w", "1y",
		"1.5m", "abc", "0", "-10", "", "1m1h", "30s5ms", "1e10", "-9.3e9", "9.2e9",
	};
	static const char *const timeouts[] = { "30s", "1m", "10", "0.5", "abc", "1.5m", "2m30s" };
	char path[512];

	ck_assert(is_up);
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		char *e = vg_t_urlencode(times[i]);
		snprintf(path, sizeof(path), "/api/v1/query?query=node_load1%%7Binstance%%3D%%22h01%%22%%7D&time=%s", e);
		compare_request(path, NULL, false, true);
		snprintf(path, sizeof(path), "/api/v1/query_range?query=node_load1%%7Binstance%%3D%%22h01%%22%%7D&start=%s&end=1767233105&step=60", e);
		compare_request(path, NULL, false, false);
		free(e);
	}
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		char *e = vg_t_urlencode(steps[i]);
		snprintf(path, sizeof(path), "/api/v1/query_range?query=node_load1%%7Binstance%%3D%%22h01%%22%%7D&start=1767232805&end=1767233105&step=%s", e);
		compare_request(path, NULL, false, true);
		free(e);
	}
	for (size_t i = 0; i < sizeof(odd_steps) / sizeof(odd_steps[0]); i++) {
		char *e = vg_t_urlencode(odd_steps[i]);
		snprintf(path, sizeof(path), "/api/v1/query_range?query=node_load1&start=1767232805&end=1767233105&step=%s", e);
		compare_request(path, NULL, false, false);
		free(e);
	}
	for (size_t i = 0; i < sizeof(refused_times) / sizeof(refused_times[0]); i++) {
		long status;
		char *e = vg_t_urlencode(refused_times[i]), *body;
		snprintf(path, sizeof(path), "/api/v1/query?query=node_load1&time=%s", e);
		body = vg_t_http_get(rcv.http_port, path, &status);
		ck_assert_ptr_nonnull(body);
		if (status != 400 || strstr(body, "\"bad_data\"") == NULL)
			DIFF("%s: Vigil said %ld %s, not 400 bad_data", path, status, body);
		free(body);
		free(e);
	}
	for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
		char *e = vg_t_urlencode(timeouts[i]);
		snprintf(path, sizeof(path), "/api/v1/query?query=node_load1&time=1767232805&timeout=%s", e);
		compare_request(path, NULL, false, true);
		free(e);
	}
	/* POST form bodies. */
	compare_request("/api/v1/query", "query=sum(node_load1)&time=1767232805", false, false);
	compare_request("/api/v1/query_range", "query=sum(node_load1)&start=1767232805&end=1767233105&step=30s",
			false, false);
	compare_request("/api/v1/query_range", "query=sum(node_load1)&start=1767232805&end=1767232705&step=30s",
			false, true);
	compare_request("/api/v1/query_range", "query=sum(node_load1)&start=1767225605&end=1767235605&step=0.5",
			false, true);
	no_diffs();
}
END_TEST

START_TEST(test_promcompare_metadata_endpoints)
{
	static const char *const paths[] = {
		"/api/v1/series?match[]=node_load1",
		"/api/v1/series?match[]=node_load1&match[]=node_memory_MemAvailable_bytes%7Binstance%3D%22h01%22%7D",
		"/api/v1/series?match[]=%7Binstance%3D%22h05%22%2Cjob%3D~%22n.*%22%7D",
		"/api/v1/series?match[]=node_load1&start=1767225600&end=1767236400",
		"/api/v1/series?match[]=nonexistent",
		"/api/v1/series",
		"/api/v1/series?match[]=%7B",
		"/api/v1/labels",
		"/api/v1/labels?match[]=node_filesystem_avail_bytes",
		"/api/v1/labels?match[]=http_requests_total&start=1767225600&end=1767236400",
		"/api/v1/label/__name__/values",
		"/api/v1/label/mode/values",
		"/api/v1/label/instance/values?match[]=node_load1",
		"/api/v1/label/le/values?start=2026-01-01T00:00:00Z&end=2026-01-01T03:00:00Z",
		"/api/v1/label/nonexistent/values",
		"/api/v1/metadata",
		"/api/v1/labels?start=abc",
		"/api/v1/series?match[]=node_load1&end=abc",
		"/api/v1/metadata?limit=x", "/api/v1/metadata?limit=5", "/api/v1/metadata?metric=node_load1",
		"/api/v1/series?match[]=%7Bjob%3D~%22.*%22%7D", "/api/v1/series?match[]=%7Bjob%3D%22%22%7D",
		"/api/v1/labels?match[]=%7Bjob%3D~%22.*%22%7D", "/api/v1/label/job/values?match[]=%7Bjob%3D~%22.*%22%7D",
		"/api/v1/labels?match[]=%7B",
		"/api/v1/query_exemplars?query=node_load1&start=1767232805&end=1767233105",
	};
	/* Not compared, 3.x's (and Vigil's) answers differing from 2.42's:
	 * /label/1bad/values and /label/%20/values (3.x takes any UTF-8 name,
	 * 2.42 refuses them) and
	 * /label/U__j_6f_b/values (3.x unescapes it to "job"). */
	/* Methods: the HTTP code only (Prometheus's 405 is plain text). */
	static const char *const posts[] = {
		"/api/v1/metadata", "/api/v1/label/job/values", "/api/v1/status/buildinfo",
		"/api/v1/query_exemplars?query=node_load1&start=1767232805&end=1767233105",
		"/api/v1/labels", "/api/v1/series?match[]=node_load1", "/api/v1/query?query=1",
	};

	ck_assert(is_up);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		compare_request(paths[i], NULL, false, false);
	for (size_t i = 0; i < sizeof(posts) / sizeof(posts[0]); i++) {
		long ps, vs;
		char *pb = vg_t_http_post(prom_port, posts[i], "", 0, &ps);
		char *vb = vg_t_http_post(rcv.http_port, posts[i], "", 0, &vs);

		if (ps != vs)
			DIFF("POST %s: HTTP %ld from Prometheus, %ld from Vigil (%s)", posts[i], ps, vs, vb);
		free(pb);
		free(vb);
		n_compared++;
	}
	compare_request("/api/v1/series", "match[]=node_load1&start=1767225600", false, false);
	compare_request("/api/v1/labels", "match[]=node_load1", false, false);
	no_diffs();
}
END_TEST

/* The keys of two JSON objects the same, recursively. */
static bool same_keys(json_t *a, json_t *b)
{
	const char *k;
	json_t *v;

	if (json_is_object(a) != json_is_object(b))
		return false;
	if (!json_is_object(a))
		return json_typeof(a) == json_typeof(b) ||
		       (json_is_number(a) && json_is_number(b)); /* 0 is an integer */
	if (json_object_size(a) != json_object_size(b))
		return false;
	json_object_foreach(a, k, v)
		if (!same_keys(v, json_object_get(b, k)))
			return false;
	return true;
}

/* stats: the shape of Prometheus's and the same totalQueryableSamples
 * (peakSamples is each engine's own: what it holds at once). */
static void compare_stats(const char *path)
{
	struct answer p, v;
	json_t *ps, *vs;

	ask(prom_port, path, NULL, &p);
	ask(rcv.http_port, path, NULL, &v);
	n_compared++;
	ps = json_object_get(json_object_get(p.doc, "data"), "stats");
	vs = json_object_get(json_object_get(v.doc, "data"), "stats");
	if (ps == NULL || vs == NULL || !same_keys(ps, vs))
		DIFF("%s: stats: Prometheus %.600s, Vigil %.600s", path, p.body, v.body);
	else if (!json_equal(json_object_get(json_object_get(ps, "samples"), "totalQueryableSamples"),
			     json_object_get(json_object_get(vs, "samples"), "totalQueryableSamples")))
		DIFF("%s: samples: Prometheus %s, Vigil %s", path, dump(json_object_get(ps, "samples")),
		     dump(json_object_get(vs, "samples")));
	if (v.doc != NULL)
		compare_data(path, json_object_get(p.doc, "data"), json_object_get(v.doc, "data"), false);
	answer_release(&p);
	answer_release(&v);
}

START_TEST(test_promcompare_stats)
{
	ck_assert(is_up);
	compare_stats("/api/v1/query?query=node_load1&time=1767232805&stats=all");
	compare_stats("/api/v1/query?query=rate(node_cpu_seconds_total%5B5m%5D)&time=1767232805&stats=true");
	compare_stats("/api/v1/query?query=1%2B1&time=1767232805&stats=all");
	compare_stats("/api/v1/query?query=sum(node_load1)&time=1767232805&stats=x");
	compare_stats("/api/v1/query_range?query=node_load1&start=1767232805&end=1767233105&step=60&stats=all");
	compare_stats("/api/v1/query_range?query=max_over_time(node_load1%5B1m%5D)&start=1767232805&end=1767233105&step=60&stats=all");
	no_diffs();
}
END_TEST

/* --- promtool against both ---------------------------------------------------- */

/* promtool's stdout against url, exit status 0 asked. */
static char *promtool(uint16_t port, const char *const *args)
{
	char url[64], *argv[16], *out = NULL, *err = NULL;
	size_t n = 0;
	int st;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
	argv[n++] = "/usr/bin/promtool";
	argv[n++] = "query";
	argv[n++] = (char *)args[0];
	argv[n++] = url;
	for (size_t i = 1; args[i] != NULL && n < 15; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	st = vg_t_run(argv, &out, &err, 20000);
	ck_assert_msg(st == 0, "promtool query %s: exit %d: %s%s", args[0], st, out ? out : "", err ? err : "");
	free(err);
	ck_assert_ptr_nonnull(out);
	return out;
}

/* Whether a fully parses as a number (promtool's values). */
static bool as_number(const char *a, size_t n, double *v)
{
	char buf[64], *end;

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, a, n);
	buf[n] = '\0';
	*v = strtod(buf, &end);
	return *end == '\0';
}

/* Two outputs the same word by word, numbers within the tolerance (the
 * engines sum in different orders, so the last digits may differ). */
static bool same_text(const char *a, const char *b)
{
	for (;;) {
		size_t na, nb;
		double va, vb;

		while (*a == ' ' || *a == '\n' || *a == '@' || *a == '[' || *a == ']')
			a++;
		while (*b == ' ' || *b == '\n' || *b == '@' || *b == '[' || *b == ']')
			b++;
		if (*a == '\0' || *b == '\0')
			return *a == *b;
		na = strcspn(a, " \n@[]");
		nb = strcspn(b, " \n@[]");
		if (!(na == nb && memcmp(a, b, na) == 0) &&
		    !(as_number(a, na, &va) && as_number(b, nb, &vb) && same_number(va, vb)))
			return false;
		a += na;
		b += nb;
	}
}

/* promtool prints the same against the receiver as against Prometheus;
 * and what it prints contains want. */
static void promtool_same(const char *const *args, const char *want)
{
	char *p = promtool(prom_port, args), *v = promtool(rcv.http_port, args);

	if (!same_text(p, v))
		DIFF("promtool query %s %s:\nPrometheus:\n%.2000s\nVigil:\n%.2000s", args[0],
		     args[1] ? args[1] : "", p, v);
	if (strstr(v, want) == NULL)
		DIFF("promtool query %s %s: no \"%s\" in\n%.2000s", args[0], args[1] ? args[1] : "", want, v);
	free(p);
	free(v);
	n_compared++;
}

START_TEST(test_promcompare_promtool_query)
{
	const char *const instant1[] = { "instant", "node_load1{instance=\"h01\"}", "--time=1767232805", NULL };
	const char *const instant2[] = { "instant", "sort_desc(sum by (mode) (rate(node_cpu_seconds_total[5m])))",
					 "--time=2026-01-01T02:00:05Z", NULL };
	const char *const instant3[] = { "instant", "1 + 1", "--time=1767232805", NULL };
	const char *const instant_json[] = { "-o", NULL };
	const char *const range1[] = { "range", "node_load1{instance=\"h02\"}", "--start=1767228605",
				       "--end=1767229205", "--step=1m", NULL };
	const char *const range2[] = { "range", "sum(rate(node_cpu_seconds_total[5m]))", "--start=2026-01-01T01:00:05Z",
				       "--end=2026-01-01T01:30:05Z", "--step=5m", NULL };
	const char *const series1[] = { "series", "--match=node_load1", "--match=node_filesystem_avail_bytes{instance=\"h03\"}", NULL };
	const char *const series2[] = { "series", "--match=http_requests_total{code=\"500\"}",
					"--start=2026-01-01T00:00:00Z", "--end=2026-01-01T03:00:00Z", NULL };
	const char *const labels1[] = { "labels", "mode", NULL };
	const char *const labels2[] = { "labels", "instance", "--match=node_load1", NULL };
	const char *const labels3[] = { "labels", "__name__", "--start=2026-01-01T00:00:00Z", "--end=2026-01-01T03:00:00Z", NULL };

	(void)instant_json;
	ck_assert(is_up);
	promtool_same(instant1, "node_load1{instance=\"h01\", job=\"node\"} => ");
	promtool_same(instant2, "{mode=\"idle\"} => ");
	promtool_same(instant3, "2 @[1767232805]");
	promtool_same(range1, "node_load1{instance=\"h02\", job=\"node\"} =>\n");
	promtool_same(range2, "{} =>\n");
	promtool_same(series1, "{__name__=\"node_filesystem_avail_bytes\", instance=\"h03\", job=\"node\", mountpoint=\"/var\"}");
	promtool_same(series2, "{__name__=\"http_requests_total\", code=\"500\", instance=\"h07\", job=\"node\", method=\"POST\"}");
	promtool_same(labels1, "iowait\nsystem\nuser\n");
	promtool_same(labels2, "h00\nh01\n");
	promtool_same(labels3, "node_load1\n");
	fprintf(stderr, "promcompare: %zu requests compared, %zu points\n", n_compared, n_points);
	no_diffs();
}
END_TEST

/* The text of data.result's point (a scalar's [t, "v"], or the first
 * sample's of a vector) as written: i 1 the value, 0 the time. */
static void point_text(uint16_t port, const char *path, size_t i, char *out, size_t cap)
{
	struct answer a;
	json_t *r, *pt, *x;
	const char *p;

	ask(port, path, NULL, &a);
	r = json_object_get(json_object_get(a.doc, "data"), "result");
	pt = json_is_array(json_array_get(r, 0)) || !json_is_object(json_array_get(r, 0))
		     ? r : json_object_get(json_array_get(r, 0), "value");
	x = json_array_get(pt, i);
	out[0] = '\0';
	if (i == 1 && json_is_string(x)) {
		snprintf(out, cap, "%s", json_string_value(x));
	} else if (i == 0 && json_is_number(x) && (p = strrchr(a.body, '[')) != NULL) {
		/* the time is a JSON number: its text as written */
		snprintf(out, cap, "%s", p + 1);
		out[strcspn(out, ",")] = '\0';
	}
	answer_release(&a);
}

/* The same query to both: the point's text (i 1: the value; 0: the time)
 * the same, byte for byte. */
static void same_point_text(const char *q, const char *t, size_t i)
{
	char *e = vg_t_urlencode(q), pt[512], vt[512];
	struct vg_buf path = VG_BUF_INIT;

	vg_buf_printf(&path, "/api/v1/query?query=%s&time=%s", e, t);
	point_text(prom_port, vg_buf_cstr(&path), i, pt, sizeof(pt));
	point_text(rcv.http_port, vg_buf_cstr(&path), i, vt, sizeof(vt));
	n_compared++;
	if (strcmp(pt, vt) != 0 || pt[0] == '\0')
		DIFF("%s at %s: Prometheus \"%s\", Vigil \"%s\"", q, t, pt, vt);
	vg_buf_release(&path);
	free(e);
}

/* The literal as a scalar and as a vector's sample: Prometheus writes a
 * scalar's value in fixed form always, a sample's in exponent form
 * outside [1e-6, 1e21). */
static void same_number_text(const char *lit)
{
	char q[128];

	same_point_text(lit, "1767225600", 1);
	snprintf(q, sizeof(q), "vector(%s)", lit);
	same_point_text(q, "1767225600", 1);
}

/* Number text (common/json.c) against Go's strconv as Prometheus uses it:
 * the edges of the fixed form, NaN, the infinities, -0, subnormals,
 * integers about 2^53, shortest round trips, and random doubles; and the
 * evaluation time's text. */
START_TEST(test_promcompare_number_text)
{
	static const char *const lits[] = {
		"0", "-0", "1", "-1", "0.1", "0.1 + 0.2", "1 / 3", "2 / 3", "100", "123.456", "1234567",
		"NaN", "Inf", "-Inf", "+Inf", "0 / 0",
		"0.000001", "0.0000009999999999999999", "0.00000099999999999999995", "0.0000015", "1e-7",
		"9.99999e-7", "2.5e-10",
		"1e20", "999999999999999900000", "1e21", "1e21 - 65536", "1e21 + 131072", "1.5e21", "-1e21",
		"123456789012345680000", "1e100", "1.7976931348623157e308", "-1.7976931348623157e308",
		"5e-324", "4.9406564584124654e-324", "2.2250738585072014e-308", "2.2250738585072009e-308",
		"1e-310", "-1.23456789e-320",
		"2^53", "2^53 - 1", "2^53 + 1", "2^53 + 2", "-(2^53)", "9007199254740993", "2^60", "2^63",
		"2^64", "2^70", "2^80", "2^-44", "2^-1022", "2^-1074",
		"1e15", "1e16", "1e17", "123456789012345678", "0.3", "0.7", "1.1", "4.35", "9.95",
		"211221.16", "1e23", "8.41e21", "5e-7", "1.0000000000000002", "0.9999999999999999",
	};
	static const char *const times[] = {
		"1767225600", "1767225600.001", "1767225600.05", "1767225600.5", "1767225600.999", "0.001", "1",
	};
	uint64_t x = 0x9E3779B97F4A7C15ULL;
	char lit[64];

	ck_assert(is_up);
	for (size_t i = 0; i < sizeof(lits) / sizeof(lits[0]); i++)
		same_number_text(lits[i]);
	for (int i = 0; i < 200; i++) {
		double v;
		/* xorshift64*: random bits, and a few digits at a random scale */
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		uint64_t r = x * 2685821657736338717ULL;
		if (i % 2 == 0)
			memcpy(&v, &r, sizeof(v));
		else
			v = (double)(r % 1000000) / 1000.0 * pow(10, (int)((r >> 40) % 40) - 20);
		if (!isfinite(v))
			continue;
		snprintf(lit, sizeof(lit), "%.17g", fabs(v));
		same_number_text(lit);
	}
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++)
		same_point_text("1", times[i], 0);
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		same_point_text("vector(1)", times[i], 0);
		same_point_text("\"text\"", times[i], 0);
	}
	no_diffs();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("promcompare");
	TCase *tc = tcase_create("prometheus");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 300);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_promcompare_selectors);
	tcase_add_test(tc, test_promcompare_range_functions);
	tcase_add_test(tc, test_promcompare_instant_functions);
	tcase_add_test(tc, test_promcompare_aggregations);
	tcase_add_test(tc, test_promcompare_operators);
	tcase_add_test(tc, test_promcompare_errors);
	tcase_add_test(tc, test_promcompare_range_queries);
	tcase_add_test(tc, test_promcompare_parameter_forms);
	tcase_add_test(tc, test_promcompare_metadata_endpoints);
	tcase_add_test(tc, test_promcompare_stats);
	tcase_add_test(tc, test_promcompare_promtool_query);
	tcase_add_test(tc, test_promcompare_number_text);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
