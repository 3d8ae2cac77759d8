/*
 * test_scrape.c: local scrapes (agent/collect/scrape.c) on real processes. A tiny
 * HTTP server forked by the test serves Prometheus text on loopback: a good
 * body, one that answers only after seconds, one with a malformed third
 * line, and a 404. A real agent scrapes it into a real receiver, and the
 * test reads what was stored through the HTTP API.
 *
 * What must hold: the good body's samples are stored with the target's job
 * and labels and the host's instance, with up 1 and scrape_duration_seconds;
 * the slow target times out and its up is 0; the malformed body stores none
 * of its lines (even the good ones before the bad line), its up is 0 and the
 * agent names the line; so does a 404 and a body over sample_limit; and an agent without scrape targets never maps
 * libcurl (one with them does).
 */
#include "tests/harness.h"
#include "agent/agent_config.h"
#include "common/err.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static char *dir;
static pid_t server_pid;
static uint16_t server_port;

static const char good_body[] = "# HELP queue_depth Messages waiting.\n"
				"# TYPE queue_depth gauge\n"
				"queue_depth{queue=\"orders\"} 7\n"
				"queue_depth{queue=\"mail\",instance=\"from-the-exporter\"} 9\n";
static const char bad_body[] = "bad_body_first 1\n"
			       "bad_body_second 2\n"
			       "bad_body_third{oops 3\n"
			       "bad_body_fourth 4\n";

static void respond(int fd, const char *status, const char *body)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %s\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 status, strlen(body));

	if (write(fd, head, (size_t)n) < 0 || write(fd, body, strlen(body)) < 0)
		return;
}

/* One connection: read the request line, answer by path. */
static void serve_one(int fd)
{
	char req[2048];
	size_t got = 0;
	ssize_t r;

	while (got < sizeof(req) - 1 && (r = read(fd, req + got, sizeof(req) - 1 - got)) > 0) {
		got += (size_t)r;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	req[got] = '\0';
	if (strncmp(req, "GET /good ", 10) == 0) {
		respond(fd, "200 OK", good_body);
	} else if (strncmp(req, "GET /bad ", 9) == 0) {
		respond(fd, "200 OK", bad_body);
	} else if (strncmp(req, "GET /slow ", 10) == 0) {
		sleep(3);
		respond(fd, "200 OK", "slow_metric 1\n");
	} else {
		respond(fd, "404 Not Found", "no such page\n");
	}
}

/* The server: a child that forks one grandchild per connection (the slow
 * page must not hold up the others); all die with the test. */
static void start_server(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd, p[2];

	ck_assert_int_eq(pipe(p), 0);
	server_pid = fork();
	ck_assert_int_ge(server_pid, 0);
	if (server_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGCHLD, SIG_IGN); /* no zombies from the grandchildren */
		fd = socket(AF_INET, SOCK_STREAM, 0);
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64) != 0 ||
		    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0)
			_exit(1);
		uint16_t port = ntohs(sa.sin_port);
		if (write(p[1], &port, sizeof(port)) != sizeof(port))
			_exit(1);
		for (;;) {
			int c = accept(fd, NULL, NULL);
			if (c < 0)
				continue;
			if (fork() == 0) {
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				close(fd);
				serve_one(c);
				close(c);
				_exit(0);
			}
			close(c);
		}
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &server_port, sizeof(server_port)), (ssize_t)sizeof(server_port));
	close(p[0]);
}

static void setup(void)
{
	dir = vg_t_tmpdir("vigil-scrape");
	ck_assert_ptr_nonnull(dir);
	start_server();
}

static void teardown(void)
{
	kill(server_pid, SIGKILL);
	waitpid(server_pid, NULL, 0);
	vg_t_rmrf(dir);
	free(dir);
}

/* Starts an agent sending to r with these extra config lines. */
static void start_agent(struct vg_t_proc *p, const struct vg_t_receiver *r, const char *host, const char *extra)
{
	char conf[700], log_path[700];
	FILE *f;

	snprintf(conf, sizeof(conf), "%s/agent-%s.yaml", dir, host);
	snprintf(log_path, sizeof(log_path), "%s/agent-%s.log", dir, host);
	f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "server: \"127.0.0.1:%u\"\ninterval: 300ms\nhostname: %s\nspool_dir: \"\"\n%s", r->port, host,
		extra);
	fclose(f);
	char *argv[] = { (char *)vg_t_bin("vigil-agent"), "--config", conf, NULL };
	ck_assert_int_eq(vg_t_spawn(p, log_path, argv), 0);
}

/* The value of the one series sel selects on r, waiting up to timeout_ms
 * for it to exist; NAN when it does not. */
static double value_of(const struct vg_t_receiver *r, const char *sel, int timeout_ms)
{
	char path[1024], *q = vg_t_urlencode(sel);
	int64_t deadline = vg_t_now_ms() + timeout_ms;
	double v = 0.0 / 0.0;

	snprintf(path, sizeof(path), "/api/v1/query?query=%s", q);
	free(q);
	for (;;) {
		long status;
		json_t *doc = vg_t_http_json(r->http_port, path, &status);
		json_t *res = json_object_get(json_object_get(doc, "data"), "result");
		if (json_array_size(res) == 1)
			v = atof(json_string_value(json_array_get(json_object_get(json_array_get(res, 0), "value"), 1)));
		json_decref(doc);
		if (v == v || vg_t_now_ms() >= deadline)
			return v;
		vg_t_sleep_ms(100);
	}
}

static size_t count_of(const struct vg_t_receiver *r, const char *sel)
{
	char path[1024], *q = vg_t_urlencode(sel);
	long status;
	json_t *doc;
	size_t n;

	snprintf(path, sizeof(path), "/api/v1/query?query=%s", q);
	free(q);
	doc = vg_t_http_json(r->http_port, path, &status);
	n = json_array_size(json_object_get(json_object_get(doc, "data"), "result"));
	json_decref(doc);
	return n;
}

START_TEST(test_good_target_stored_with_job_labels_and_up)
{
	struct vg_t_receiver r;
	struct vg_t_proc a;
	char data[700], extra[600];

	snprintf(data, sizeof(data), "%s/good", dir);
	ck_assert_int_eq(vg_t_receiver_start(&r, data, NULL), 0);
	snprintf(extra, sizeof(extra),
		 "scrape:\n  - job: broker\n    url: http://127.0.0.1:%u/good\n    interval: 300ms\n"
		 "    labels: {team: ops}\n",
		 server_port);
	start_agent(&a, &r, "scrape-good", extra);
	ck_assert(value_of(&r, "queue_depth{job=\"broker\",instance=\"scrape-good\",team=\"ops\",queue=\"orders\"}",
			   10000) == 7);
	/* The exporter's own instance label gives way to the host's. */
	ck_assert(value_of(&r, "queue_depth{queue=\"mail\",instance=\"scrape-good\"}", 5000) == 9);
	ck_assert_uint_eq(count_of(&r, "queue_depth{instance=\"from-the-exporter\"}"), 0);
	ck_assert(value_of(&r, "up{job=\"broker\",instance=\"scrape-good\",team=\"ops\"}", 5000) == 1);
	ck_assert(value_of(&r, "scrape_samples_scraped{job=\"broker\"}", 5000) == 2);
	ck_assert(value_of(&r, "scrape_duration_seconds{job=\"broker\"}", 5000) >= 0);
	ck_assert_int_eq(vg_t_maps_contain(a.pid, "libcurl"), 1);
	fprintf(stderr, "test_scrape: agent with a scrape target: VmRSS %ld KiB\n", vg_t_rss_kb(a.pid));
	ck_assert_int_eq(vg_t_stop(&a, SIGTERM, 10000), 0);
	ck_assert_int_eq(vg_t_stop(&r.proc, SIGTERM, 10000), 0);
}
END_TEST

START_TEST(test_slow_target_times_out_up_0)
{
	struct vg_t_receiver r;
	struct vg_t_proc a;
	char data[700], extra[600];

	snprintf(data, sizeof(data), "%s/slow", dir);
	ck_assert_int_eq(vg_t_receiver_start(&r, data, NULL), 0);
	snprintf(extra, sizeof(extra),
		 "scrape:\n  - job: slow\n    url: http://127.0.0.1:%u/slow\n    interval: 1s\n    timeout: 200ms\n"
		 "  - job: fine\n    url: http://127.0.0.1:%u/good\n    interval: 300ms\n",
		 server_port, server_port);
	start_agent(&a, &r, "scrape-slow", extra);
	ck_assert(value_of(&r, "up{job=\"slow\"}", 10000) == 0);
	ck_assert_uint_eq(count_of(&r, "slow_metric"), 0);
	ck_assert(vg_t_log_contains(&a, "(job slow) failed: Timeout"));
	/* The other target and the host's own sampling carry on meanwhile. */
	ck_assert(value_of(&r, "up{job=\"fine\"}", 5000) == 1);
	ck_assert(value_of(&r, "node_load1{instance=\"scrape-slow\"}", 5000) >= 0);
	ck_assert_int_eq(vg_t_stop(&a, SIGTERM, 10000), 0);
	ck_assert_int_eq(vg_t_stop(&r.proc, SIGTERM, 10000), 0);
}
END_TEST

START_TEST(test_malformed_body_skipped_whole)
{
	struct vg_t_receiver r;
	struct vg_t_proc a;
	char data[700], extra[600];

	snprintf(data, sizeof(data), "%s/bad", dir);
	ck_assert_int_eq(vg_t_receiver_start(&r, data, NULL), 0);
	snprintf(extra, sizeof(extra),
		 "scrape:\n  - job: bad\n    url: http://127.0.0.1:%u/bad\n    interval: 300ms\n"
		 "  - job: gone\n    url: http://127.0.0.1:%u/nothing\n    interval: 300ms\n"
		 "  - job: many\n    url: http://127.0.0.1:%u/good\n    interval: 300ms\n    sample_limit: 1\n",
		 server_port, server_port, server_port);
	start_agent(&a, &r, "scrape-bad", extra);
	ck_assert(value_of(&r, "up{job=\"bad\"}", 10000) == 0);
	ck_assert(value_of(&r, "scrape_samples_scraped{job=\"bad\"}", 5000) == 0);
	/* Not even the lines before the bad one. */
	ck_assert_uint_eq(count_of(&r, "bad_body_first"), 0);
	ck_assert_uint_eq(count_of(&r, "bad_body_second"), 0);
	ck_assert(vg_t_log_contains(&a, "(job bad) failed: line 3: "));
	ck_assert(value_of(&r, "up{job=\"gone\"}", 5000) == 0);
	ck_assert(vg_t_log_contains(&a, "(job gone) failed: HTTP status 404"));
	/* Two samples where one is allowed: none stored. */
	ck_assert(value_of(&r, "up{job=\"many\"}", 5000) == 0);
	ck_assert_uint_eq(count_of(&r, "queue_depth{job=\"many\"}"), 0);
	ck_assert(vg_t_log_contains(&a, "(job many) failed: more than sample_limit (1) samples"));
	ck_assert_int_eq(vg_t_stop(&a, SIGTERM, 10000), 0);
	ck_assert_int_eq(vg_t_stop(&r.proc, SIGTERM, 10000), 0);
}
END_TEST

START_TEST(test_no_scrape_configured_no_libcurl)
{
	struct vg_t_receiver r;
	struct vg_t_proc a;
	char data[700];

	snprintf(data, sizeof(data), "%s/plain", dir);
	ck_assert_int_eq(vg_t_receiver_start(&r, data, NULL), 0);
	start_agent(&a, &r, "scrape-none", "");
	ck_assert(value_of(&r, "node_load1{instance=\"scrape-none\"}", 10000) >= 0);
	ck_assert_int_eq(vg_t_maps_contain(a.pid, "libcurl"), 0);
	ck_assert_int_eq(vg_t_maps_contain(a.pid, "libssl"), 0);
	fprintf(stderr, "test_scrape: agent without scrape targets: VmRSS %ld KiB\n", vg_t_rss_kb(a.pid));
	ck_assert_int_eq(vg_t_stop(&a, SIGTERM, 10000), 0);
	ck_assert_int_eq(vg_t_stop(&r.proc, SIGTERM, 10000), 0);
}
END_TEST

START_TEST(test_sighup_replaces_targets_with_one_in_flight)
{
	struct vg_t_receiver r;
	struct vg_t_proc a;
	char data[700], conf[700], extra[600];
	FILE *f;

	snprintf(data, sizeof(data), "%s/reload", dir);
	ck_assert_int_eq(vg_t_receiver_start(&r, data, NULL), 0);
	/* The slow target is mid-transfer most of the time. */
	snprintf(extra, sizeof(extra),
		 "scrape:\n  - job: before\n    url: http://127.0.0.1:%u/slow\n    interval: 2600ms\n    timeout: 2500ms\n"
		 "  - job: quick\n    url: http://127.0.0.1:%u/good\n    interval: 300ms\n",
		 server_port, server_port);
	start_agent(&a, &r, "scrape-reload", extra);
	ck_assert(value_of(&r, "up{job=\"quick\"}", 10000) == 1);
	/* Its first scrape timed out: the next one started 0.1 s later and
	 * waits for the next 2.5 s. */
	ck_assert(value_of(&r, "up{job=\"before\"}", 10000) == 0);
	snprintf(conf, sizeof(conf), "%s/agent-scrape-reload.yaml", dir);
	f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "server: \"127.0.0.1:%u\"\ninterval: 300ms\nhostname: scrape-reload\nspool_dir: \"\"\n"
		"scrape:\n  - job: after\n    url: http://127.0.0.1:%u/good\n    interval: 300ms\n",
		r.port, server_port);
	fclose(f);
	ck_assert_int_eq(kill(a.pid, SIGHUP), 0);
	ck_assert(value_of(&r, "up{job=\"after\"}", 10000) == 1);
	ck_assert(vg_t_alive(&a));
	/* The agent stops cleanly (under the sanitizers: no leak, no use of
	 * the old targets' events). */
	ck_assert_int_eq(vg_t_stop(&a, SIGTERM, 10000), 0);
	ck_assert_int_eq(vg_t_stop(&r.proc, SIGTERM, 10000), 0);
}
END_TEST

/* Loads text as the agent's file: the from_args code, err's message. */
static int load(const char *text, struct vg_agent_config *cfg, struct vg_err *err)
{
	char path[700];
	FILE *f;

	snprintf(path, sizeof(path), "%s/conf.yaml", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	char *argv[] = { "vigil-agent", "--config", path, "--hostname", "h", NULL };
	return vg_agent_config_from_args(cfg, 5, argv, err);
}

static void ck_refused(const char *text, const char *want)
{
	struct vg_agent_config cfg;
	struct vg_err err;

	ck_assert_int_lt(load(text, &cfg, &err), 0);
	ck_assert_msg(strstr(err.msg, want) != NULL, "message \"%s\" lacks \"%s\"", err.msg, want);
	vg_agent_config_release(&cfg);
}

START_TEST(test_config_targets_defaults_and_errors)
{
	struct vg_agent_config cfg;
	struct vg_err err;
	const struct vg_scrape_target *t;

	ck_assert_int_eq(load("interval: 30s\nscrape:\n  - job: a\n    url: http://127.0.0.1:1/m\n"
			      "  - job: b\n    url: https://h:2/m\n    interval: 5s\n    timeout: 1s\n"
			      "    labels: {team: ops}\n",
			      &cfg, &err),
			 0);
	ck_assert_uint_eq(cfg.scrape.n, 2);
	t = cfg.scrape.v;
	ck_assert_str_eq(t[0].job, "a");
	ck_assert_int_eq(t[0].interval_ms, 30000); /* the agent's */
	ck_assert_int_eq(t[0].timeout_ms, 10000);  /* at most 10 s */
	ck_assert_int_eq(t[1].interval_ms, 5000);
	ck_assert_int_eq(t[1].timeout_ms, 1000);
	ck_assert_uint_eq(t[1].labels.n, 1);
	vg_agent_config_release(&cfg);

	ck_refused("scrape:\n  - job: a\n    url: http://x/m\n    intervall: 5s\n",
		   "conf.yaml:4: unknown key \"intervall\" in scrape[0]");
	ck_refused("scrape:\n  - job: a\n", "scrape[0]: url is required");
	ck_refused("scrape:\n  - url: http://x/m\n", "scrape[0]: job is required");
	ck_refused("scrape:\n  - job: a\n    url: ftp://x/m\n", "url must start with http:// or https://");
	ck_refused("scrape:\n  - job: a\n    url: http://x/m\n  - job: a\n    url: http://y/m\n",
		   "scrape[1]: job a is used twice");
	ck_refused("scrape:\n  - job: a\n    url: http://x/m\n    interval: 1s\n    timeout: 2s\n",
		   "timeout is longer than the interval");
	ck_refused("scrape:\n  - job: a\n    url: http://x/m\n    labels: {job: x}\n", "label \"job\" is the target's");
	ck_refused("scrape:\n  - just a string\n", "list items must be mappings");
	ck_refused("scrape: http://x/m\n", "expects a list of mappings");
}
END_TEST

static Suite *scrape_suite(void)
{
	Suite *s = suite_create("scrape");
	TCase *tc = tcase_create("scrape");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_good_target_stored_with_job_labels_and_up);
	tcase_add_test(tc, test_slow_target_times_out_up_0);
	tcase_add_test(tc, test_malformed_body_skipped_whole);
	tcase_add_test(tc, test_no_scrape_configured_no_libcurl);
	tcase_add_test(tc, test_config_targets_defaults_and_errors);
	tcase_add_test(tc, test_sighup_replaces_targets_with_one_in_flight);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(scrape_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
