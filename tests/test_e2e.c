/*
 * test_e2e.c: one sample's whole way. A real vigil-receiver and a real
 * vigil-agent on loopback; the agent samples this host every 500 ms; the
 * test reads the samples back through the HTTP API and through the vigil
 * CLI, and checks them against the host's own /proc. The agent speaks
 * protocol 2 to it; against a receiver that knows only protocol 1 (played
 * by the test) it falls back to 1.
 */
#include "tests/harness.h"

#include "common/buf.h"
#include "common/frame.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *dir;
static struct vg_t_receiver rcv;
static struct vg_t_proc agent;
static char server_url[64];
#define HOST "e2e-host"

/* Polls an instant query until it returns at least min_series series. */
static json_t *wait_for(const char *selector, size_t min_series, int timeout_ms)
{
	char *q = vg_t_urlencode(selector);
	char path[1024];
	int64_t deadline = vg_t_now_ms() + timeout_ms;
	json_t *doc = NULL;
	long status;

	snprintf(path, sizeof(path), "/api/v1/query?query=%s", q);
	free(q);
	while (vg_t_now_ms() < deadline) {
		doc = vg_t_http_json(rcv.http_port, path, &status);
		if (doc && status == 200 &&
		    json_array_size(json_object_get(json_object_get(doc, "data"), "result")) >= min_series)
			return doc;
		json_decref(doc);
		doc = NULL;
		vg_t_sleep_ms(100);
	}
	return NULL;
}

/* Whether the query returns min_series series within timeout_ms. */
static bool arrives(const char *selector, size_t min_series, int timeout_ms)
{
	json_t *doc = wait_for(selector, min_series, timeout_ms);
	bool ok = doc != NULL;

	json_decref(doc);
	return ok;
}

static void setup(void)
{
	char data[600];

	dir = vg_t_tmpdir("vigil-e2e");
	ck_assert_ptr_nonnull(dir);
	snprintf(data, sizeof(data), "%s/data", dir);
	ck_assert_int_eq(vg_t_receiver_start(&rcv, data, NULL), 0);
	ck_assert_int_eq(vg_t_agent_start(&agent, dir, rcv.port, "500ms", HOST), 0);
	snprintf(server_url, sizeof(server_url), "http://127.0.0.1:%u", rcv.http_port);
	/* The agent is up (its signal handlers too) once its data is here. */
	ck_assert_msg(arrives("vigil_agent_series{instance=\"" HOST "\"}", 1, 15000),
		      "no data from the agent within 15 s");
}

static void teardown(void)
{
	/* Both stop cleanly on SIGTERM: status 0, which under the sanitizer
	 * build also means no leak and no error report at exit. */
	int a = vg_t_stop(&agent, SIGTERM, 5000), r = vg_t_stop(&rcv.proc, SIGTERM, 5000);

	ck_assert_msg(a == 0 || a == -1, "vigil-agent exited with %d (see %s)", a, agent.log_path);
	ck_assert_msg(r == 0 || r == -1, "vigil-receiver exited with %d (see %s)", r, rcv.proc.log_path);
	vg_t_rmrf(dir);
	free(dir);
}

static double meminfo_kb(const char *field)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	double v = -1;

	while (f && fgets(line, sizeof(line), f)) {
		size_t n = strlen(field);
		if (strncmp(line, field, n) == 0 && line[n] == ':') {
			v = strtod(line + n + 1, NULL);
			break;
		}
	}
	if (f)
		fclose(f);
	return v;
}

START_TEST(test_agent_samples_reach_the_api)
{
	json_t *doc, *result, *s;
	size_t i;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	/* Every CPU has at least user, system and idle. */
	doc = wait_for("node_cpu_seconds_total{instance=\"" HOST "\",mode=\"idle\"}", (size_t)ncpu, 15000);
	ck_assert_msg(doc != NULL, "no idle CPU series for each of %ld CPUs within 15 s", ncpu);
	result = json_object_get(json_object_get(doc, "data"), "result");
	json_array_foreach(result, i, s) {
		json_t *metric = json_object_get(s, "metric");
		const char *v = json_string_value(json_array_get(json_object_get(s, "value"), 1));
		ck_assert_str_eq(json_string_value(json_object_get(metric, "__name__")), "node_cpu_seconds_total");
		ck_assert_str_eq(json_string_value(json_object_get(metric, "instance")), HOST);
		ck_assert_ptr_nonnull(json_object_get(metric, "cpu"));
		ck_assert_msg(strtod(v, NULL) > 0, "idle seconds %s", v);
	}
	json_decref(doc);
	doc = wait_for("node_memory_MemAvailable_bytes{instance=\"" HOST "\"}", 1, 5000);
	ck_assert_ptr_nonnull(doc);
	json_decref(doc);
	doc = wait_for("node_filesystem_size_bytes{instance=\"" HOST "\"}", 1, 5000);
	ck_assert_ptr_nonnull(doc);
	json_decref(doc);
	doc = wait_for("node_load1{instance=\"" HOST "\"}", 1, 5000);
	ck_assert_ptr_nonnull(doc);
	json_decref(doc);
}
END_TEST

START_TEST(test_cli_query_memory_is_plausible)
{
	char *out = NULL, *err = NULL, *line, *save = NULL;
	double total = meminfo_kb("MemTotal") * 1024, v = -1;
	int rc, rows = 0;

	ck_assert(arrives("node_memory_MemAvailable_bytes{instance=\"" HOST "\"}", 1, 15000));
	char *argv[] = { (char *)vg_t_bin("vigil"), "--server", server_url, "query",
			 "node_memory_MemAvailable_bytes{instance=\"" HOST "\"}", "-o", "csv", NULL };
	rc = vg_t_run(argv, &out, &err, 10000);
	ck_assert_msg(rc == 0, "vigil query exited %d: %s", rc, err);
	/* series,timestamp,value; one data row. */
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *last = strrchr(line, ',');
		if (rows++ == 0) {
			ck_assert_str_eq(line, "series,timestamp,value");
			continue;
		}
		ck_assert_ptr_nonnull(strstr(line, "node_memory_MemAvailable_bytes"));
		ck_assert_ptr_nonnull(last);
		v = strtod(last + 1, NULL);
	}
	ck_assert_int_eq(rows, 2);
	ck_assert_msg(v > 0 && v <= total, "MemAvailable %f not in (0, MemTotal %f]", v, total);
	free(out);
	free(err);

	/* The default table output names the series too. */
	char *argv2[] = { (char *)vg_t_bin("vigil"), "--server", server_url, "query",
			  "node_memory_MemTotal_bytes{instance=\"" HOST "\"}", NULL };
	rc = vg_t_run(argv2, &out, &err, 10000);
	ck_assert_msg(rc == 0, "vigil query exited %d: %s", rc, err);
	ck_assert_ptr_nonnull(strstr(out, "node_memory_MemTotal_bytes"));
	char want[64];
	snprintf(want, sizeof(want), "%.0f", total);
	ck_assert_msg(strstr(out, want) != NULL, "MemTotal %s not in:\n%s", want, out);
	free(out);
	free(err);
}
END_TEST

START_TEST(test_cli_range_counters_are_monotone)
{
	char *out = NULL, *err = NULL;
	json_t *doc, *result, *s;
	size_t i, j;
	int rc;

	ck_assert(arrives("node_cpu_seconds_total{instance=\"" HOST "\"}", 1, 15000));
	vg_t_sleep_ms(3000); /* a few more samples */
	char *argv[] = { (char *)vg_t_bin("vigil"), "--server", server_url, "query",
			 "node_cpu_seconds_total{instance=\"" HOST "\"}", "--start", "-1m", "--step", "500ms",
			 "-o", "json", NULL };
	rc = vg_t_run(argv, &out, &err, 10000);
	ck_assert_msg(rc == 0, "vigil query exited %d: %s", rc, err);
	doc = json_loads(out, 0, NULL);
	ck_assert_msg(doc != NULL, "not JSON: %s", out);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "status")), "success");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "data"), "resultType")), "matrix");
	result = json_object_get(json_object_get(doc, "data"), "result");
	ck_assert_uint_ge(json_array_size(result), 4);
	json_array_foreach(result, i, s) {
		json_t *values = json_object_get(s, "values"), *p;
		double prev = -1;
		ck_assert_uint_ge(json_array_size(values), 4);
		json_array_foreach(values, j, p) {
			double v = strtod(json_string_value(json_array_get(p, 1)), NULL);
			ck_assert_msg(v >= prev, "counter went down: %f after %f", v, prev);
			prev = v;
		}
	}
	json_decref(doc);
	free(out);
	free(err);
}
END_TEST

START_TEST(test_cli_series_lists_host_series)
{
	char *out = NULL, *err = NULL;
	int rc;

	ck_assert(arrives("node_load1{instance=\"" HOST "\"}", 1, 15000));
	char *argv[] = { (char *)vg_t_bin("vigil"), "--server", server_url, "series",
			 "{__name__=~\"node_load.*\",instance=\"" HOST "\"}", NULL };
	rc = vg_t_run(argv, &out, &err, 10000);
	ck_assert_msg(rc == 0, "vigil series exited %d: %s", rc, err);
	ck_assert_ptr_nonnull(strstr(out, "node_load1{"));
	ck_assert_ptr_nonnull(strstr(out, "node_load5{"));
	ck_assert_ptr_nonnull(strstr(out, "node_load15{"));
	ck_assert_ptr_null(strstr(out, "node_cpu"));
	free(out);
	free(err);
}
END_TEST

START_TEST(test_cli_invalid_selector_fails_clearly)
{
	char *out = NULL, *err = NULL;
	int rc;
	char *argv[] = { (char *)vg_t_bin("vigil"), "--server", server_url, "query", "node_load1{", NULL };

	rc = vg_t_run(argv, &out, &err, 10000);
	ck_assert_int_eq(rc, 1);
	/* the message, then the expression with a caret under the column */
	ck_assert_str_eq(err, "vigil: invalid query: 1:12: parse error: unexpected end of input inside braces\n"
			      "  node_load1{\n"
			      "             ^\n");
	ck_assert_str_eq(out, "");
	free(out);
	free(err);
}
END_TEST

START_TEST(test_cli_syntax_error_caret_on_its_line)
{
	char *out = NULL, *err = NULL;
	int rc;
	char *argv[] = { (char *)vg_t_bin("vigil"), "--server", server_url, "query",
			 "sum(rate(x[5m]))\n  / on(job) \xC3\xA9{a=\"b\"}", NULL };
	char *argv2[] = { (char *)vg_t_bin("vigil"), "--server", server_url, "series", "up", "x{a=~\"(a)\\\\1\"}",
			  NULL };

	rc = vg_t_run(argv, &out, &err, 10000);
	ck_assert_int_eq(rc, 1);
	/* a multi-byte character before the caret takes one column */
	ck_assert_str_eq(err, "vigil: invalid query: 2:13: parse error: unexpected character: '\xC3\xA9'\n"
			      "    / on(job) \xC3\xA9{a=\"b\"}\n"
			      "              ^\n");
	free(out);
	free(err);
	rc = vg_t_run(argv2, &out, &err, 10000);
	ck_assert_int_eq(rc, 1);
	/* a bad regex is the matcher's fault: the caret under its label,
	 * where Prometheus puts it */
	ck_assert_str_eq(err, "vigil: invalid selector: 1:3: parse error: error parsing regexp: invalid escape sequence: `\\1`\n"
			      "  x{a=~\"(a)\\\\1\"}\n"
			      "    ^\n");
	free(out);
	free(err);
}
END_TEST

START_TEST(test_cli_unreachable_server_fails_clearly)
{
	char *out = NULL, *err = NULL;
	int rc;
	char url[64];

	/* The receiver's own port, once it is gone: nobody listens there. */
	ck_assert_int_eq(vg_t_stop(&agent, SIGTERM, 5000), 0);
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 5000), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", rcv.http_port);
	char *argv[] = { (char *)vg_t_bin("vigil"), "--server", url, "query", "up", NULL };
	rc = vg_t_run(argv, &out, &err, 15000);
	ck_assert_int_eq(rc, 3);
	ck_assert_msg(strstr(err, "127.0.0.1") != NULL, "message does not name the server: %s", err);
	free(out);
	free(err);
}
END_TEST

START_TEST(test_receiver_metrics_count_frames)
{
	long status;
	char *body;

	ck_assert(arrives("node_load1{instance=\"" HOST "\"}", 1, 15000));
	body = vg_t_http_get(rcv.http_port, "/metrics", &status);
	ck_assert_ptr_nonnull(body);
	ck_assert_int_eq(status, 200);
	ck_assert_ptr_nonnull(strstr(body, "vigil_receiver_samples_received_total"));
	ck_assert_ptr_nonnull(strstr(body, "vigil_receiver_connections_open 1"));
	free(body);
}
END_TEST

/* Accepts one connection on lfd within timeout_ms; -1 if none. */
static int accept_within(int lfd, int timeout_ms)
{
	struct pollfd p = { lfd, POLLIN, 0 };

	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	return accept(lfd, NULL, NULL);
}

/*
 * A receiver of protocol 1 only, as the test plays it: it answers a
 * version 2 frame with ERROR VERSION (in a version 1 frame) and closes, as
 * the first release's receiver does; the agent must come back with a
 * protocol 1 HELLO.
 */
START_TEST(test_agent_falls_back_to_protocol_1)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	struct vg_t_proc old_agent;
	struct vg_frame_header h;
	struct vg_buf payload = VG_BUF_INIT, raw = VG_BUF_INIT, wire = VG_BUF_INIT;
	struct vg_frame_codec *codec = vg_frame_codec_new(1);
	struct vg_hello hello;
	char *tmp = vg_t_tmpdir("vigil-e2e-v1");
	int lfd = socket(AF_INET, SOCK_STREAM, 0), fd;

	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	ck_assert_int_eq(vg_t_agent_start(&old_agent, tmp, ntohs(sa.sin_port), "500ms", "v1-agent"), 0);

	fd = accept_within(lfd, 10000);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vg_t_read_frame(fd, 5000, &h, &payload), 0);
	ck_assert_uint_eq(h.type, VG_FRAME_HELLO);
	ck_assert_uint_eq(h.version, 2);
	vg_error_pack(VG_WIRE_VERSION, "unsupported frame version 2 (this side speaks 1)", &raw);
	ck_assert_int_eq(vg_frame_encode(codec, VG_FRAME_ERROR, 0, raw.data, raw.len, &wire, NULL), 0);
	ck_assert_int_eq(vg_t_write_all(fd, wire.data, wire.len), 0);
	close(fd);

	fd = accept_within(lfd, 10000);
	ck_assert_msg(fd >= 0, "the agent did not come back (see %s)", old_agent.log_path);
	ck_assert_int_eq(vg_t_read_frame(fd, 5000, &h, &payload), 0);
	ck_assert_uint_eq(h.type, VG_FRAME_HELLO);
	ck_assert_uint_eq(h.version, 1);
	ck_assert_int_eq(vg_hello_decode(payload.data, payload.len, &hello, NULL), 0);
	ck_assert_uint_eq(hello.proto, 1);
	close(fd);
	close(lfd);
	ck_assert(vg_t_log_contains(&old_agent, "falling back to protocol 1"));
	ck_assert_int_eq(vg_t_stop(&old_agent, SIGTERM, 5000), 0);
	vg_frame_codec_free(codec);
	vg_buf_release(&payload);
	vg_buf_release(&raw);
	vg_buf_release(&wire);
	vg_t_rmrf(tmp);
	free(tmp);
}
END_TEST

static Suite *e2e_suite(void)
{
	Suite *s = suite_create("e2e");
	TCase *tc = tcase_create("agent-receiver-cli");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_agent_samples_reach_the_api);
	tcase_add_test(tc, test_cli_query_memory_is_plausible);
	tcase_add_test(tc, test_cli_range_counters_are_monotone);
	tcase_add_test(tc, test_cli_series_lists_host_series);
	tcase_add_test(tc, test_cli_invalid_selector_fails_clearly);
	tcase_add_test(tc, test_cli_syntax_error_caret_on_its_line);
	tcase_add_test(tc, test_cli_unreachable_server_fails_clearly);
	tcase_add_test(tc, test_receiver_metrics_count_frames);
	suite_add_tcase(s, tc);
	tc = tcase_create("protocol-fallback");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_agent_falls_back_to_protocol_1);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(e2e_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
