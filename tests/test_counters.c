/*
 * test_counters.c: every counter of a real receiver's /metrics counts.
 * The test reads the exposition, takes every sample of every family
 * whose TYPE is counter, makes each one's event happen against real
 * receivers on loopback (raw agent clients, HTTP requests, floods past
 * small configured limits, a damaged block on disk), and fails naming any
 * counter that never moved. A counter added later without an event here
 * fails the test until one is added: that is the point.
 *
 * Three receivers: A takes every event but the descriptor limit and the
 * self scrape's; B runs under a low RLIMIT_NOFILE (prlimit) for the
 * listeners' accept pauses, with authentication on for the HTTP refusals
 * of credentials; C, on a driven clock, writes its own metrics and has
 * its ingest thread stopped and its WAL refused (self_events).
 */
#include "config.h"

#include "tests/harness.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/frame.h"
#include "common/mpack.h"
#include "common/samples2.h"
#include "common/series.h"

#include <check.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/banned.h"

/* Counters (a family, or one sample of it) no event here can move, and why. */
static const char *const exempt[][2] = {
	{ "vigil_rule_group_iterations_missed_total", "needs a clock jump or an evaluation longer than its interval: test_rules drives the clock past two and checks it moves" },
	{ "vigil_receiver_queries_total{outcome=\"canceled\"}",
	  "only stopping the receiver cancels a query, and /metrics goes with it: test_query_limits stops one under a query" },
	{ "vigil_receiver_queries_total{outcome=\"queue_full\"}",
	  "needs queries of seconds: test_query_limits fills the queue and checks it moves" },
	{ "vigil_receiver_queries_total{outcome=\"client_gone\"}",
	  "needs a query of seconds whose client leaves: test_query_limits closes one's socket and checks it moves" },
	{ NULL, NULL },
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	vg_buf_append(arg, p, size * n);
	return size * n;
}

/* GET (or method) path from port, with "Authorization: Bearer token"
 * when token is not NULL; the body in out, the status returned. */
static long http(const char *method, uint16_t port, const char *path, const char *token, struct vg_buf *out)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	char url[512], auth[128];
	long status = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	if (token) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		hdrs = curl_slist_append(hdrs, auth);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	}
	if (strcmp(method, "GET") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "POST") == 0)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return status;
}

/* The value of the sample line named name (with its labels) in text, or -1. */
static double sample_value(const char *text, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

/* --- agent events ------------------------------------------------------------ */

static int hello(uint16_t port, const char *agent)
{
	int fd = vg_t_connect(port);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vg_t_hello(fd, agent, 1, NULL), 0);
	return fd;
}

/* Sends a frame header of type and payload length len (what follows, if
 * anything, is the caller's). */
static void send_header(int fd, uint8_t type, uint64_t seq, uint32_t len)
{
	uint8_t hdr[VG_FRAME_HEADER_SIZE] = { 'V', 'G', 'I', 'L', 1, type, 0, 0 };

	vg_put_be64(hdr + 8, seq);
	vg_put_be32(hdr + 16, len);
	ck_assert_int_eq(vg_t_write_all(fd, hdr, sizeof(hdr)), 0);
}

/* A SERIES frame defining the n series name{i="<k>"} (and pad="<pad>"
 * when pad is not NULL) of refs k = 0..n-1. */
static void series_frame(struct vg_buf *raw, const char *name, int n, const char *pad)
{
	msgpack_packer pk;

	vg_mp_packer_init(&pk, raw);
	vg_series_pack_begin(&pk, (uint32_t)n);
	for (int k = 0; k < n; k++) {
		struct vg_series s;
		char v[16];
		snprintf(v, sizeof(v), "%d", k);
		vg_series_init(&s, name);
		vg_series_add(&s, "i", v);
		if (pad)
			vg_series_add(&s, "pad", pad);
		ck_assert_int_eq(vg_series_canonicalize(&s, NULL), 0);
		vg_series_pack_entry(&pk, (uint64_t)k, &s);
	}
}

/* Waits (bounded) until the peer closes fd. */
static void wait_closed(int fd)
{
	struct vg_frame_header h;
	struct vg_buf payload = VG_BUF_INIT;
	int64_t deadline = vg_t_now_ms() + 10000;

	while (vg_t_now_ms() < deadline && vg_t_read_frame(fd, 2000, &h, &payload) == 0)
		;
	vg_buf_release(&payload);
	close(fd);
}

static void agent_events(uint16_t port)
{
	int64_t now = vg_clock_now_ms();
	int fd, fds[40];
	struct vg_buf raw = VG_BUF_INIT;
	static char junk[65536];

	/* hello, series, samples, received, created, bytes, acks, syncs,
	 * WAL bytes; then a retry (duplicate), too old, too new. */
	fd = hello(port, "good");
	vg_t_define_series(fd, "walk_metric", "good");
	vg_t_send_sample(fd, 1, now, 1);
	ck_assert_uint_ge(vg_t_wait_ack(fd, 1), 1);
	vg_t_send_sample(fd, 1, now, 1);
	vg_t_send_sample(fd, 2, now - 30LL * 24 * 3600 * 1000, 2);
	vg_t_send_sample(fd, 3, now + 3600 * 1000, 3);
	ck_assert_uint_ge(vg_t_wait_ack(fd, 3), 3);
	close(fd);

	/* An ACK and an ERROR from an agent: counted, then refused. */
	fd = hello(port, "acker");
	vg_t_send_frame(fd, VG_FRAME_ACK, 0, &raw);
	wait_closed(fd);
	fd = hello(port, "errer");
	vg_error_pack(1, "x", &raw);
	vg_t_send_frame(fd, VG_FRAME_ERROR, 0, &raw);
	wait_closed(fd);
	/* A frame of an unknown type; a corrupt one (decode errors). */
	fd = hello(port, "odd");
	send_header(fd, 9, 0, 0);
	wait_closed(fd);

	/* Past max_series_per_agent (5): refused, per agent and in all. */
	fd = hello(port, "many");
	vg_buf_reset(&raw);
	series_frame(&raw, "many_metric", 8, NULL);
	vg_t_send_frame(fd, VG_FRAME_SERIES, 0, &raw);
	wait_closed(fd);
	/* The same in protocol 2: the connection stays, and the samples of
	 * the refused series are counted and told in the ACK. */
	{
		struct vg_hello h2 = { VG_PROTO_V2, vg_str_c("many2"), 1, vg_str_c(""), vg_str_c("test") };
		struct vg_buf hraw = VG_BUF_INIT, sraw = VG_BUF_INIT, payload = VG_BUF_INIT;
		struct vg_samples2_state st;
		struct vg_frame_header fh;
		struct vg_ack ack;
		uint64_t refs[8];
		double values[8];

		fd = vg_t_connect(port);
		ck_assert_int_ge(fd, 0);
		vg_hello_pack(&h2, &hraw);
		vg_t_send_frame_v2(fd, VG_FRAME_HELLO, 0, &hraw);
		ck_assert_int_eq(vg_t_read_frame(fd, 5000, &fh, &payload), 0);
		ck_assert_int_eq(fh.type, VG_FRAME_ACK);
		vg_t_send_frame_v2(fd, VG_FRAME_SERIES, 0, &raw);
		for (int k = 0; k < 8; k++) {
			refs[k] = (uint64_t)k;
			values[k] = k;
		}
		vg_samples2_state_init(&st);
		vg_samples2_encode_begin(&sraw, 1);
		ck_assert_int_eq(vg_samples2_encode_group(&st, now, 8, refs, values, &sraw), 0);
		vg_t_send_frame_v2(fd, VG_FRAME_SAMPLES, 1, &sraw);
		ck_assert_int_eq(vg_t_read_frame(fd, 5000, &fh, &payload), 0);
		ck_assert_int_eq(fh.type, VG_FRAME_ACK);
		ck_assert_int_eq(vg_ack_decode(payload.data, payload.len, &ack, NULL), 0);
		ck_assert_uint_eq(ack.refused_samples, 3);
		vg_samples2_state_release(&st);
		vg_buf_release(&hraw);
		vg_buf_release(&sraw);
		vg_buf_release(&payload);
		close(fd);
	}

	/* Idle past agent_idle_timeout (2 s: longer than the frame timeout
	 * and the one-second check of it together); large frames (256 KiB, past
	 * agent_connection_buffer) that do not come within
	 * agent_frame_timeout, more of them than the budget (1 MiB) holds,
	 * so that reading pauses. */
	fd = hello(port, "idler");
	memset(junk, 'j', sizeof(junk));
	for (int i = 0; i < 6; i++) {
		char name[16];
		snprintf(name, sizeof(name), "big-%d", i);
		fds[i] = hello(port, name);
		send_header(fds[i], VG_FRAME_SAMPLES, 1, 256 << 10);
		for (int k = 0; k < 2; k++) /* half of it: the rest never comes */
			(void)send(fds[i], junk, sizeof(junk), MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	wait_closed(fd);
	for (int i = 0; i < 6; i++)
		wait_closed(fds[i]);

	/* Connections that never say HELLO, more than max_connections (30)
	 * at once: refused past the cap, the rest closed for no HELLO. */
	for (int i = 0; i < 40; i++)
		fds[i] = vg_t_connect(port);
	for (int i = 0; i < 40; i++)
		if (fds[i] >= 0)
			wait_closed(fds[i]);
	vg_buf_release(&raw);
}

/* --- HTTP events --------------------------------------------------------------- */

static void http_events(uint16_t port)
{
	struct vg_buf b = VG_BUF_INIT;
	int fds[12];

	ck_assert_int_eq(http("GET", port, "/api/v1/labels", NULL, &b), 200);
	ck_assert_int_eq(http("BREW", port, "/api/v1/labels", NULL, &b), 405); /* refused in the filter */
	/* A head that does not end within http_header_timeout (500 ms). */
	fds[0] = vg_t_connect(port);
	ck_assert_int_ge(fds[0], 0);
	ck_assert_int_eq(vg_t_write_all(fds[0], "GET / HTTP/1.1\r\n", 16), 0);
	{
		char buf[512];
		while (read(fds[0], buf, sizeof(buf)) > 0)
			;
	}
	close(fds[0]);
	/* More connections than http_max_connections (8): the listener
	 * pauses. */
	for (int i = 0; i < 12; i++)
		fds[i] = vg_t_connect(port);
	vg_t_sleep_ms(200);
	for (int i = 0; i < 12; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	vg_buf_release(&b);
}

/* --- query events (query: limits configured on receiver A) ------------------ */

static void query_get(uint16_t port, const char *expr, const char *extra, long want)
{
	struct vg_buf b = VG_BUF_INIT;
	char *q = vg_t_urlencode(expr), path[1024];

	snprintf(path, sizeof(path), "/api/v1/query?query=%s%s", q, extra);
	free(q);
	ck_assert_int_eq(http("GET", port, path, NULL, &b), want);
	vg_buf_release(&b);
}

/* 100 series qc{i} of 3 samples; then a query of each outcome. */
static void query_events(uint16_t port)
{
	struct vg_buf text = VG_BUF_INIT;
	int64_t now = vg_clock_now_ms();
	long status = 0;
	char *body;

	for (int i = 0; i < 100; i++)
		for (int k = 0; k < 3; k++)
			vg_buf_printf(&text, "qc{i=\"%d\"} %d %lld\n", i, k, (long long)(now - 30000 + k * 10000));
	body = vg_t_http_post(port, "/api/v1/import/prometheus", text.data, text.len, &status);
	free(body);
	ck_assert_int_eq(status, 204);
	vg_buf_release(&text);
	query_get(port, "qc{i=\"1\"}", "", 200);                               /* ok */
	query_get(port, "qc{i=\"1\"}", "&timeout=0s", 503);                    /* timeout */
	query_get(port, "count_over_time(qc{i=~\"1.|2.\"}[1m])", "", 422);     /* 60 samples > 50 */
	query_get(port, "qc", "", 422);                                         /* 100 series > 60 */
	query_get(port, "qc{i=~\"1.|2.|3.\"}", "", 422);                       /* 30 series > 1 KiB */
	query_get(port, "qc{i=\"1\"} + on() qc{i=~\"2|3\"}", "", 422);       /* error: many-to-one */
}

/* --- a damaged block ------------------------------------------------------------ */

/* Fills data_dir with one sealed block and damages it, with a receiver
 * that is stopped again. */
static void damaged_block(const char *dir)
{
	struct vg_t_receiver r;
	char blocks[700], path[1400];
	long status = 0;
	char *body;
	FILE *p;
	struct stat sb;
	int fd;

	ck_assert_int_eq(vg_t_receiver_start_config(&r, dir, NULL, 0), 0);
	{
		char line[128];
		snprintf(line, sizeof(line), "damaged_metric 1 %lld\n", (long long)vg_clock_now_ms() - 3 * 3600 * 1000);
		body = vg_t_http_post(r.http_port, "/api/v1/import/prometheus", line, strlen(line), &status);
		free(body);
		ck_assert_int_eq(status, 204);
	}
	body = vg_t_http_post(r.http_port, "/api/v1/admin/seal", "", 0, &status);
	free(body);
	ck_assert_int_eq(status, 200);
	ck_assert_int_eq(vg_t_stop(&r.proc, SIGTERM, 10000), 0);
	snprintf(blocks, sizeof(blocks), "ls %s/data/blocks/raw/*.vgb", dir);
	p = popen(blocks, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(fgets(path, sizeof(path), p));
	pclose(p);
	path[strcspn(path, "\n")] = '\0';
	ck_assert_int_eq(stat(path, &sb), 0);
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	{
		uint8_t byte;
		ck_assert_int_eq(pread(fd, &byte, 1, sb.st_size - 200), 1);
		byte ^= 0x5a;
		ck_assert_int_eq(pwrite(fd, &byte, 1, sb.st_size - 200), 1);
	}
	close(fd);
}

/* --- the self scrape and the last-seen table (receiver C) ------------------- */

#define C_INTERVAL_MS 15000

/* Counters of C that this machine cannot move, and why (ptrace refused). */
static char unmovable[2][300];

/* Moves C's driven clock one interval on and waits (bounded) for its
 * self scrape to see it and counter to be above 0; whether it is. */
static bool step_until(uint16_t http_port, const char *clock_path, int64_t *t, const char *counter)
{
	for (int step = 0; step < 40; step++) {
		double scrapes = vg_t_metric(http_port, "vigil_receiver_self_scrapes_total");
		*t += C_INTERVAL_MS;
		ck_assert_int_eq(vg_t_write_clock(clock_path, *t), 0);
		/* Until the counter moves, or the scrape is done without it. */
		for (int64_t deadline = vg_t_now_ms() + 500; vg_t_now_ms() < deadline; vg_t_sleep_ms(20)) {
			if (vg_t_metric(http_port, counter) > 0)
				return true;
			if (vg_t_metric(http_port, "vigil_receiver_self_scrapes_total") > scrapes)
				break;
		}
	}
	return vg_t_metric(http_port, counter) > 0;
}

/* The highest segment number in the WAL directory wal. */
static unsigned long last_segment(const char *wal)
{
	DIR *d = opendir(wal);
	struct dirent *e;
	unsigned long max = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		char *end;
		unsigned long n = strtoul(e->d_name, &end, 10);
		if (end != e->d_name && *end == '\0' && n > max)
			max = n;
	}
	closedir(d);
	return max;
}

/*
 * C runs on a driven clock with self metrics every 15 s, a last-seen
 * table of one agent, and 4 KiB WAL segments:
 *  - a second agent's batches find the table full (untracked);
 *  - with C's ingest loop (its main thread) stopped, as a stalled disk
 *    would hold it, a scrape's batch stays queued past the next interval
 *    (missed);
 *  - directories where the WAL's next segments go make it fail to start
 *    one (a write failure), which refuses the scrape's batch (a self
 *    scrape error); once they are gone the WAL recovers.
 */
static void self_events(struct vg_t_receiver *c, const char *dir, int64_t t)
{
	char clock_path[700], wal[700], path[800];
	unsigned long seg;
	bool ok;
	int fd;

	snprintf(clock_path, sizeof(clock_path), "%s/clock", dir);
	for (int i = 0; i < 2; i++) {
		char agent[32];
		snprintf(agent, sizeof(agent), "seen-%d", i);
		fd = hello(c->port, agent);
		vg_t_define_series(fd, "seen_metric", agent);
		vg_t_send_sample(fd, 1, t, 1);
		ck_assert_uint_ge(vg_t_wait_ack(fd, 1), 1);
		close(fd);
	}

	if (vg_t_thread_stop(c->proc.pid) != 0) {
		snprintf(unmovable[0], sizeof(unmovable[0]),
			 "vigil_receiver_self_scrapes_missed_total: stopping the ingest thread needs ptrace: %s",
			 strerror(errno));
		printf("test_counters: %s\n", unmovable[0]);
	} else {
		ok = step_until(c->http_port, clock_path, &t, "vigil_receiver_self_scrapes_missed_total");
		ck_assert_int_eq(vg_t_thread_resume(c->proc.pid), 0);
		ck_assert_msg(ok, "no self scrape was missed with ingest stopped");
	}

	/* Every name the next segments could take: the WAL may start one
	 * between the listing and the mkdir. */
	snprintf(wal, sizeof(wal), "%s/wal", c->data_dir);
	seg = last_segment(wal);
	for (unsigned long n = seg + 1; n <= seg + 16; n++) {
		snprintf(path, sizeof(path), "%s/%08lu", wal, n);
		ck_assert(mkdir(path, 0755) == 0 || errno == EEXIST);
	}
	/* Scrapes alone are not synced (their bytes wait in the WAL's
	 * buffer until it holds enough): an agent's batch behind 100 new
	 * series is, and the bytes it commits take the segment past its size.
	 * (A HELLO refused up front: the WAL failed already.) */
	fd = vg_t_connect(c->port);
	ck_assert_int_ge(fd, 0);
	if (vg_t_hello(fd, "seen-0", 1, NULL) == 0) {
		struct vg_buf raw = VG_BUF_INIT;
		char pad[128];

		memset(pad, 'p', sizeof(pad) - 1);
		pad[sizeof(pad) - 1] = '\0';
		series_frame(&raw, "fat_metric", 100, pad);
		vg_t_send_frame(fd, VG_FRAME_SERIES, 0, &raw);
		vg_t_send_sample(fd, 2, t, 2);
		vg_buf_release(&raw);
	}
	wait_closed(fd); /* an ERROR: the WAL failed */
	ok = step_until(c->http_port, clock_path, &t, "vigil_receiver_self_scrape_errors_total");
	for (unsigned long n = seg + 1; n <= seg + 16; n++) {
		snprintf(path, sizeof(path), "%s/%08lu", wal, n);
		(void)rmdir(path);
	}
	ck_assert_msg(ok, "no self scrape failed with the WAL failing");
	ck_assert_msg(step_until(c->http_port, clock_path, &t, "vigil_receiver_wal_recoveries_total"),
		      "the WAL did not recover");
}

/* --- the walk ---------------------------------------------------------------------- */

static bool is_exempt(const char *family)
{
	for (size_t i = 0; exempt[i][0]; i++)
		if (strcmp(exempt[i][0], family) == 0)
			return true;
	for (size_t i = 0; i < sizeof(unmovable) / sizeof(unmovable[0]); i++) {
		size_t n = strlen(family);
		if (unmovable[i][0] && strncmp(unmovable[i], family, n) == 0 && unmovable[i][n] == ':')
			return true;
	}
	return false;
}

/* The sum of the sample name over the expositions of A, B and C (each
 * that has it). */
static double total(const char *const text[3], const char *name)
{
	double sum = 0;

	for (int i = 0; i < 3; i++) {
		double v = sample_value(text[i], name);
		if (v > 0)
			sum += v;
	}
	return sum;
}

START_TEST(test_every_counter_counts)
{
	char *dir_a = vg_t_tmpdir("vigil-counters-a"), *dir_b = vg_t_tmpdir("vigil-counters-b");
	char *dir_c = vg_t_tmpdir("vigil-counters-c");
	struct vg_t_receiver a, b, c;
	struct vg_buf ma = VG_BUF_INIT, mb = VG_BUF_INIT, mc = VG_BUF_INIT, missing = VG_BUF_INIT;
	int64_t t_c = vg_clock_now_ms();
	const char *texts[3];
	int fds[120];
	size_t n_counters = 0;

	damaged_block(dir_a);
	/* Rules: a group evaluated every second whose second rule fails
	 * (over its limit), and whose third goes past query.max_series once
	 * query_events has imported qc, for the rule engine's counters. */
	{
		char path[600];
		FILE *f;
		snprintf(path, sizeof(path), "%s/counters-rules.yaml", dir_a);
		ck_assert_ptr_nonnull(f = fopen(path, "w"));
		fputs("groups:\n- name: counters\n  interval: 1s\n  limit: 1\n  rules:\n"
		      "  - record: counters:one\n    expr: vector(1)\n"
		      "  - record: counters:two\n"
		      "    expr: label_replace(vector(1), \"a\", \"x\", \"\", \"\") or label_replace(vector(1), \"a\", \"y\", \"\", \"\")\n"
		      "  - record: counters:wide\n    expr: count(qc)\n",
		      f);
		ck_assert_int_eq(fclose(f), 0);
	}
	ck_assert_int_eq(vg_t_receiver_start_config(&a, dir_a,
						    "rule_files: [counters-rules.yaml]\n"
						    "self_metrics_interval: 1s\n"
						    "max_connections: 30\n"
						    "agent_hello_timeout: 300ms\n"
						    "agent_idle_timeout: 2s\n"
						    "agent_frame_timeout: 300ms\n"
						    "agent_buffer_budget: 1MiB\n"
						    "agent_connection_buffer: 16KiB\n"
						    "max_series_per_agent: 5\n"
						    "http_max_connections: 8\n"
						    "http_header_timeout: 500ms\n"
						    "query: {max_samples: 50, max_series: 60, max_response_size: 1KiB}\n",
						    0),
			 0);
	/* B: few descriptors, far more connections allowed than it has. */
	ck_assert_int_eq(vg_t_receiver_start_config(&b, dir_b,
						    "max_connections: 1000\nhttp_max_connections: 1000\n"
						    "http_read_token: r\n",
						    64),
			 0);

	/* C: a driven clock, self metrics, a small last-seen table and WAL
	 * segments. */
	{
		char cfg[1200], clock_path[700];
		snprintf(clock_path, sizeof(clock_path), "%s/clock", dir_c);
		ck_assert_int_eq(vg_t_write_clock(clock_path, t_c), 0);
		snprintf(cfg, sizeof(cfg),
			 "testing_clock_file: %s\nself_metrics_interval: 15s\nself_metrics_instance: counters-c\n"
			 "agent_last_seen_max_agents: 1\nwal_segment_size: 4KiB\n",
			 clock_path);
		ck_assert_int_eq(vg_t_receiver_start_config(&c, dir_c, cfg, 0), 0);
	}

	self_events(&c, dir_c, t_c);
	agent_events(a.port);
	query_events(a.http_port);
	http_events(a.http_port);
	/* B: the agent listener meets its limit, then HTTP's does too;
	 * requests without the token are refused. */
	for (int i = 0; i < 100; i++)
		fds[i] = vg_t_connect(b.port);
	vg_t_sleep_ms(300);
	{
		struct vg_buf x = VG_BUF_INIT;
		int h = vg_t_connect(b.http_port);
		vg_t_sleep_ms(300);
		if (h >= 0)
			close(h);
		for (int i = 0; i < 100; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		vg_t_sleep_ms(300);
		ck_assert_int_eq(http("GET", b.http_port, "/api/v1/labels", NULL, &x), 401);
		vg_buf_release(&x);
	}

	/* The rules' next evaluation after query_events (at most 1 s). */
	for (int64_t deadline = vg_clock_mono_ms() + 5000;; vg_t_sleep_ms(50)) {
		vg_buf_reset(&ma);
		ck_assert_int_eq(http("GET", a.http_port, "/metrics", NULL, &ma), 200);
		const char *p = strstr(vg_buf_cstr(&ma), "\nvigil_rule_group_query_limit_failures_total{");
		if ((p && strchr(p, '}') && strtod(strchr(p, '}') + 1, NULL) > 0) || vg_clock_mono_ms() > deadline)
			break;
	}
	ck_assert_int_eq(http("GET", b.http_port, "/metrics", "r", &mb), 200);
	ck_assert_int_eq(http("GET", c.http_port, "/metrics", NULL, &mc), 200);
	/* Every sample of every counter family, in A's exposition. */
	texts[0] = vg_buf_cstr(&ma);
	texts[1] = vg_buf_cstr(&mb);
	texts[2] = vg_buf_cstr(&mc);
	for (const char *p = vg_buf_cstr(&ma); p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		char family[256];
		size_t flen;
		const char *q;

		if (strncmp(p, "# TYPE ", 7) != 0)
			continue;
		q = strchr(p + 7, ' ');
		if (q == NULL || strncmp(q, " counter\n", 9) != 0)
			continue;
		flen = (size_t)(q - (p + 7));
		ck_assert_uint_lt(flen, sizeof(family));
		memcpy(family, p + 7, flen);
		family[flen] = '\0';
		n_counters++;
		if (is_exempt(family))
			continue;
		/* Its samples: the lines that follow, until the next comment. */
		{
			const char *s = strchr(q, '\n') + 1;
			bool has_sample = false;
			while (*s && *s != '#') {
				const char *eol = strchr(s, '\n'), *sp = strrchr(s, ' ');
				char name[512];
				size_t nlen;
				if (eol == NULL)
					break;
				for (sp = eol; sp > s && sp[-1] != ' '; sp--)
					;
				nlen = (size_t)(sp - 1 - s);
				if (nlen < sizeof(name)) {
					memcpy(name, s, nlen);
					name[nlen] = '\0';
					has_sample = true;
					if (!is_exempt(name) && total(texts, name) <= 0)
						vg_buf_printf(&missing, " %s", name);
				}
				s = eol + 1;
			}
			if (!has_sample)
				vg_buf_printf(&missing, " %s(no sample)", family);
		}
	}
	printf("test_counters: %zu counter families walked\n", n_counters);
	ck_assert_uint_ge(n_counters, 20);
	ck_assert_msg(missing.len == 0, "counters that never moved:%s", vg_buf_cstr(&missing));

	ck_assert_int_eq(vg_t_stop(&a.proc, SIGTERM, 10000), 0);
	ck_assert_int_eq(vg_t_stop(&b.proc, SIGTERM, 10000), 0);
	ck_assert_int_eq(vg_t_stop(&c.proc, SIGTERM, 10000), 0);
	vg_buf_release(&ma);
	vg_buf_release(&mb);
	vg_buf_release(&mc);
	vg_buf_release(&missing);
	vg_t_rmrf(dir_a);
	vg_t_rmrf(dir_b);
	vg_t_rmrf(dir_c);
	free(dir_a);
	free(dir_b);
	free(dir_c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("counters");
	TCase *tc = tcase_create("walk");
	SRunner *sr;
	int nf;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_every_counter_counts);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
