/*
 * test_hostile_http.c: a real vigil-receiver's HTTP side under floods:
 * many connections that send nothing, and many that send a head and never
 * end it (slowloris). With small configured limits (http_max_connections,
 * http_header_timeout, http_max_header_size) the receiver's RSS stays
 * within what those limits allow, the slow connections are answered 408
 * and closed, the listener pauses at the cap (counted), and a normal
 * query from another client is still answered.
 */
#include "config.h"

#include "tests/harness.h"
#include "common/buf.h"

#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/banned.h"

#define CAP 40
#define FLOOD 110 /* within the listen backlog (128) plus the cap */

static char *dir;
static struct vg_t_receiver rcv;

static const char config[] =
	"http_max_connections: 40\n"
	"http_header_timeout: 1s\n"
	"http_max_header_size: 8KiB\n";

static void setup(void)
{
	dir = vg_t_tmpdir("vigil-hostile-http");
	ck_assert_ptr_nonnull(dir);
	ck_assert_msg(vg_t_receiver_start_config(&rcv, dir, config, 0) == 0, "receiver did not start (%s)", dir);
}

static void teardown(void)
{
	int r = vg_t_stop(&rcv.proc, SIGTERM, 10000);

	ck_assert_msg(r == 0, "vigil-receiver exited with %d (see %s)", r, rcv.proc.log_path);
	vg_t_rmrf(dir);
	free(dir);
}

static long rss_kb(void)
{
	return vg_t_rss_kb(rcv.proc.pid);
}

/* A connection that does not wait for its accept (the flood outruns the
 * cap; the kernel's backlog holds the rest). */
static int connect_nowait(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(rcv.http_port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	ck_assert_int_ge(fd, 0);
	sa.sin_addr.s_addr = htonl(0x7f000001);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		ck_assert_msg(errno == EINPROGRESS, "connect: %s", strerror(errno));
	return fd;
}

/* A counter's value in /metrics. */
static double metric(const char *name)
{
	long status = 0;
	char *body = vg_t_http_get(rcv.http_port, "/metrics", &status);
	const char *p;
	double v = -1;
	size_t n = strlen(name);

	ck_assert_ptr_nonnull(body);
	for (p = body; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == ' ')
			v = strtod(p + n + 1, NULL);
	free(body);
	return v;
}

/* A normal query answers while the flood holds on; bounded. */
static void check_query_answers(void)
{
	int64_t deadline = vg_t_now_ms() + 30000;
	long status = 0;

	while (vg_t_now_ms() < deadline) {
		char *body = vg_t_http_get(rcv.http_port, "/api/v1/query?query=up", &status);
		if (body != NULL && status == 200) {
			ck_assert_ptr_nonnull(strstr(body, "\"status\":\"success\""));
			free(body);
			return;
		}
		free(body);
	}
	ck_abort_msg("no answer to a query during the flood (last status %ld)", status);
}

static void flood(const char *prefix, size_t prefix_len)
{
	int fds[FLOOD];
	long before = rss_kb(), peak = before;

	for (int i = 0; i < FLOOD; i++) {
		fds[i] = connect_nowait();
		if (prefix_len)
			(void)send(fds[i], prefix, prefix_len, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	vg_t_sleep_ms(300);
	if (rss_kb() > peak)
		peak = rss_kb();
	check_query_answers();
	if (rss_kb() > peak)
		peak = rss_kb();
	fprintf(stderr, "test_hostile_http: %d connections (%zu head bytes each, cap %d): RSS %ld -> %ld kB\n",
		FLOOD, prefix_len, CAP, before, peak);
	/* What the cap allows: CAP connections with a head of at most 8 KiB
	 * each and their buffers; 8 MiB is far above that, and far below
	 * FLOOD unbounded heads. */
	ck_assert_msg(peak - before < 8 * 1024, "RSS grew by %ld kB", peak - before);
	for (int i = 0; i < FLOOD; i++)
		close(fds[i]);
}

START_TEST(test_hostile_http_connection_flood)
{
	flood(NULL, 0);
	ck_assert(metric("vigil_receiver_http_connection_pauses_total") >= 1);
	ck_assert(metric("vigil_receiver_http_head_timeouts_total") >= 1);
	ck_assert(vg_t_alive(&rcv.proc));
}
END_TEST

START_TEST(test_hostile_http_unfinished_header_flood)
{
	struct vg_buf head = VG_BUF_INIT;

	vg_buf_puts(&head, "GET /api/v1/query?query=up HTTP/1.1\r\nHost: x\r\nX-Slow: ");
	while (head.len < 7 * 1024)
		vg_buf_putc(&head, 'z');
	flood((const char *)head.data, head.len);
	vg_buf_release(&head);
	ck_assert(metric("vigil_receiver_http_head_timeouts_total") >= 1);
	ck_assert(vg_t_alive(&rcv.proc));
}
END_TEST

START_TEST(test_hostile_http_slow_head_gets_408_json)
{
	static const char part[] = "GET /api/v1/labels HTTP/1.1\r\nHost: x\r\n";
	char buf[4096];
	int fd = vg_t_connect(rcv.http_port);
	ssize_t n, got = 0;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vg_t_write_all(fd, part, sizeof(part) - 1), 0);
	/* The server answers once the head timeout (1 s) passes, then closes. */
	while ((n = read(fd, buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	buf[got] = '\0';
	close(fd);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 408 ", 13) == 0, "%s", buf);
	ck_assert_ptr_nonnull(strstr(buf, "Content-Type: application/json\r\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\"status\":\"error\""));
}
END_TEST

/* Sends req on a new connection and reads until the server closes; the
 * bytes read (caller frees), NUL-terminated. */
static char *exchange(const char *req)
{
	struct vg_buf got = VG_BUF_INIT;
	char buf[4096];
	int fd = vg_t_connect(rcv.http_port);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vg_t_write_all(fd, req, strlen(req)), 0);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		vg_buf_append(&got, buf, (size_t)n);
	close(fd);
	vg_buf_putc(&got, '\0');
	ck_assert(!vg_buf_failed(&got));
	return vg_buf_detach(&got, NULL);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/*
 * Hundreds of connections that end with Connection: close (evhttp's
 * replies, the import's own answer, a refusal), mixed with keep-alive,
 * pipelined and HTTP/1.0 ones. evhttp frees such a connection from
 * inside the filter's write callback; libevent 2.1.12 then re-armed the
 * freed filter's write timeout, leaving freed memory in the timer heap
 * (the receiver crashed within seconds, or spun in event_base_free at
 * SIGTERM; see import.c, under_read_cb). The receiver must stay up,
 * answer, and stop on SIGTERM with status 0 (teardown).
 */
START_TEST(test_hostile_http_connection_close_mix)
{
	static const char close_get[] = "GET /api/v1/alerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	static const char pipelined[] = "GET /api/v1/labels HTTP/1.1\r\nHost: x\r\n\r\n"
					"GET /api/v1/query?query=up HTTP/1.1\r\nHost: x\r\n\r\n"
					"GET /api/v1/alerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	static const char http10[] = "GET /api/v1/status/buildinfo HTTP/1.0\r\n\r\n";
	static const char import[] = "POST /api/v1/import/prometheus HTTP/1.1\r\nHost: x\r\n"
				     "Connection: close\r\nContent-Length: 12\r\n\r\nclose_mix 1\n";
	static const char refused[] = "PATCH /api/v1/alerts HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

	for (int i = 0; i < 300; i++) {
		const char *req = close_get;
		const char *want = "HTTP/1.1 200 ";
		size_t n_want = 1;
		char *got;

		switch (i % 6) {
		case 1: req = pipelined; n_want = 3; break;
		case 2: req = http10; want = "HTTP/1.0 200 "; break;
		case 3: req = import; want = "HTTP/1.1 204 "; break;
		case 4: req = refused; want = "HTTP/1.1 405 "; break;
		default: break;
		}
		got = exchange(req);
		ck_assert_msg(strncmp(got, want, strlen(want)) == 0 && count(got, want) == n_want,
			      "request %d: %.200s", i, got);
		free(got);
	}
	ck_assert(vg_t_alive(&rcv.proc));
	check_query_answers();
}
END_TEST

static Suite *hostile_http_suite(void)
{
	Suite *s = suite_create("hostile_http");
	TCase *tc = tcase_create("floods");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_hostile_http_connection_flood);
	tcase_add_test(tc, test_hostile_http_unfinished_header_flood);
	tcase_add_test(tc, test_hostile_http_slow_head_gets_408_json);
	suite_add_tcase(s, tc);

	tc = tcase_create("close");
	tcase_set_timeout(tc, 20);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_hostile_http_connection_close_mix);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int nf;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	sr = srunner_create(hostile_http_suite());
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
