/*
 * test_hostile_run.c: a randomised run of hostile clients of every kind at
 * once against one real vigil-receiver, with a calm agent beside them
 * whose acknowledged samples must all be queryable at the end.
 *
 * Kinds (one thread each, every choice drawn from a seeded generator):
 * garbage on the agent port, HELLO then most of a large frame held open,
 * floods of agent and HTTP connections, HTTP heads never finished,
 * cardinality floods past max_series_per_agent, oversized HTTP bodies, and
 * malformed HTTP requests. The run is bounded in time (VG_HOSTILE_SECONDS,
 * default 60; ./scripts/test gives the sanitizer build 15; a longer soak
 * by hand: VG_HOSTILE_SECONDS=600) and in count (every loop stops after a
 * fixed number of rounds); the seed is printed, and VG_HOSTILE_SEED
 * repeats a run.
 *
 * The calm agent is the harness's raw protocol 1 client: it sends one
 * sample a round, numbered, at synthetic timestamps one second apart, and
 * waits for each ACK; at the end a range query must return every
 * acknowledged one with its value.
 */
#include "config.h"

#include "tests/harness.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/frame.h"
#include "common/mpack.h"
#include "common/series.h"

#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/banned.h"

#define MAX_ROUNDS 5000
#define MAX_CALM 2000

static struct vg_t_receiver rcv;
static int64_t deadline_ms;
static unsigned base_seed;
static _Atomic uint64_t hostile_rounds;

static const char config[] =
	"max_connections: 300\n"
	"http_max_connections: 64\n"
	"http_header_timeout: 1s\n"
	"agent_hello_timeout: 500ms\n"
	"agent_frame_timeout: 1s\n"
	"agent_buffer_budget: 4MiB\n"
	"max_series_per_agent: 50\n"
	"max_new_series_per_minute: 2000\n";

static bool running(int round)
{
	return round < MAX_ROUNDS && vg_t_now_ms() < deadline_ms;
}

/* A connection to port that does not wait for the accept; -1 if refused. */
static int connect_nowait(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	sa.sin_addr.s_addr = htonl(0x7f000001);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Writes what the socket takes within ms (non-blocking). */
static void send_some(int fd, const void *p, size_t n, int ms)
{
	const char *c = p;
	int64_t until = vg_t_now_ms() + ms;

	while (n > 0 && vg_t_now_ms() < until) {
		struct pollfd pf = { fd, POLLOUT, 0 };
		ssize_t k;
		if (poll(&pf, 1, 50) <= 0)
			continue;
		k = send(fd, c, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k <= 0)
			return;
		c += k;
		n -= (size_t)k;
	}
}

struct worker {
	const char *kind;
	void (*round)(unsigned *seed, int i);
	pthread_t thread;
};

static void garbage(unsigned *seed, int i)
{
	char buf[4096];
	size_t n = 1 + (size_t)(rand_r(seed) % (int)sizeof(buf));
	int fd = connect_nowait(rcv.port);

	(void)i;
	if (fd < 0)
		return;
	for (size_t k = 0; k < n; k++)
		buf[k] = (char)rand_r(seed);
	if (rand_r(seed) % 2)
		memcpy(buf, "VGIL", n < 4 ? n : 4); /* a header that goes wrong later */
	send_some(fd, buf, n, 200);
	vg_t_sleep_ms(rand_r(seed) % 50);
	close(fd);
}

static void partial_frame(unsigned *seed, int i)
{
	uint8_t hdr[VG_FRAME_HEADER_SIZE] = { 'V', 'G', 'I', 'L', 1, VG_FRAME_SAMPLES, 0, 0 };
	static char junk[128 * 1024];
	char agent[32];
	int fd = vg_t_connect(rcv.port);

	if (fd < 0)
		return;
	snprintf(agent, sizeof(agent), "partial-%d", i % 20);
	if (vg_t_hello(fd, agent, 1, NULL) == 0) {
		vg_put_be64(hdr + 8, 1);
		vg_put_be32(hdr + 16, (uint32_t)(1 << 20) + (uint32_t)(rand_r(seed) % (4 << 20)));
		send_some(fd, hdr, sizeof(hdr), 200);
		send_some(fd, junk, (size_t)(rand_r(seed) % (int)sizeof(junk)), 300);
		vg_t_sleep_ms(100 + rand_r(seed) % 700);
	}
	close(fd);
}

static void conn_flood(unsigned *seed, int i)
{
	int fds[64];
	int n = 8 + rand_r(seed) % 56;
	uint16_t port = i % 2 ? rcv.port : rcv.http_port;

	for (int k = 0; k < n; k++)
		fds[k] = connect_nowait(port);
	vg_t_sleep_ms(100 + rand_r(seed) % 500);
	for (int k = 0; k < n; k++)
		if (fds[k] >= 0)
			close(fds[k]);
}

static void unfinished_head(unsigned *seed, int i)
{
	int fds[16];
	int n = 1 + rand_r(seed) % 16;
	char head[2048];
	int len = snprintf(head, sizeof(head), "GET /api/v1/query?query=up HTTP/1.1\r\nHost: x\r\nX-%d: ", i);

	while (len < (int)sizeof(head) - 1 && rand_r(seed) % 64)
		head[len++] = 'a';
	for (int k = 0; k < n; k++) {
		fds[k] = connect_nowait(rcv.http_port);
		if (fds[k] >= 0)
			send_some(fds[k], head, (size_t)len, 100);
	}
	vg_t_sleep_ms(200 + rand_r(seed) % 1500);
	for (int k = 0; k < n; k++)
		if (fds[k] >= 0)
			close(fds[k]);
}

static void cardinality(unsigned *seed, int i)
{
	struct vg_buf raw = VG_BUF_INIT;
	msgpack_packer pk;
	char agent[32];
	int n = 60 + rand_r(seed) % 200;
	int fd = vg_t_connect(rcv.port);

	if (fd < 0)
		return;
	snprintf(agent, sizeof(agent), "card-%d", i % 8);
	if (vg_t_hello(fd, agent, 1, NULL) == 0) {
		vg_mp_packer_init(&pk, &raw);
		vg_series_pack_begin(&pk, (uint32_t)n);
		for (int k = 0; k < n; k++) {
			struct vg_series s;
			char v[24];
			snprintf(v, sizeof(v), "%d-%d", i, k);
			vg_series_init(&s, "card_metric");
			vg_series_add(&s, "id", v);
			if (vg_series_canonicalize(&s, NULL) == 0)
				vg_series_pack_entry(&pk, (uint64_t)k, &s);
		}
		{
			struct vg_frame_codec *c = vg_frame_codec_new(1);
			struct vg_buf wire = VG_BUF_INIT;
			if (vg_frame_encode(c, VG_FRAME_SERIES, 0, raw.data, raw.len, &wire, NULL) == 0)
				send_some(fd, wire.data, wire.len, 500);
			vg_buf_release(&wire);
			vg_frame_codec_free(c);
		}
		vg_t_sleep_ms(50);
	}
	vg_buf_release(&raw);
	close(fd);
}

static void oversized_body(unsigned *seed, int i)
{
	static char body[256 * 1024];
	char head[256];
	int fd = connect_nowait(rcv.http_port);
	int len;

	(void)i;
	if (fd < 0)
		return;
	memset(body, 'a', sizeof(body));
	len = snprintf(head, sizeof(head),
		       "POST /api/v1/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
		       "Content-Length: %d\r\n\r\nquery=",
		       (2 << 20) + rand_r(seed) % (8 << 20));
	send_some(fd, head, (size_t)len, 200);
	send_some(fd, body, (size_t)(rand_r(seed) % (int)sizeof(body)), 300);
	close(fd);
}

static void bad_http(unsigned *seed, int i)
{
	static const char *const reqs[] = {
		"PUT /api/v1/query HTTP/1.1\r\n\r\n",
		"GET / HTTP/9.9\r\n\r\n",
		"POST /api/v1/query HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST /api/v1/import/prometheus HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"GET /api/v1/query?query=%zz HTTP/1.1\r\n\r\n",
		"\r\n\r\n\r\nGARBAGE\r\n\r\n",
		"POST /api/v1/import/prometheus HTTP/1.1\r\nContent-Length: 40\r\n\r\nbad line {{{\nx 1\n",
	};
	int fd = connect_nowait(rcv.http_port);
	const char *r = reqs[(unsigned)(rand_r(seed) + i) % (sizeof(reqs) / sizeof(reqs[0]))];
	char buf[1024];

	if (fd < 0)
		return;
	send_some(fd, r, strlen(r), 200);
	{
		struct pollfd pf = { fd, POLLIN, 0 };
		if (poll(&pf, 1, 500) > 0)
			(void)recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	}
	close(fd);
}

static void *run_worker(void *arg)
{
	struct worker *w = arg;
	unsigned seed = base_seed ^ (unsigned)(uintptr_t)w->kind[0] * 2654435761u ^ (unsigned)strlen(w->kind);

	for (int i = 0; running(i); i++) {
		w->round(&seed, i);
		atomic_fetch_add(&hostile_rounds, 1);
	}
	return NULL;
}

START_TEST(test_hostile_run_calm_agent_loses_nothing)
{
	struct worker workers[] = {
		{ "garbage", garbage, 0 },           { "partial_frame", partial_frame, 0 },
		{ "conn_flood", conn_flood, 0 },     { "unfinished_head", unfinished_head, 0 },
		{ "cardinality", cardinality, 0 },   { "oversized_body", oversized_body, 0 },
		{ "bad_http", bad_http, 0 },
	};
	const char *env_seed = getenv("VG_HOSTILE_SEED"), *env_s = getenv("VG_HOSTILE_SECONDS");
	int seconds = env_s ? (int)strtol(env_s, NULL, 10) : 60;
	char *dir = vg_t_tmpdir("vigil-hostile-run");
	int64_t t0_ms;
	uint64_t acked = 0;
	int fd;

	base_seed = env_seed ? (unsigned)strtoul(env_seed, NULL, 10) : (unsigned)vg_clock_now_ms();
	printf("test_hostile_run: seed=%u (VG_HOSTILE_SEED=%u repeats it), %d s\n", base_seed, base_seed, seconds);
	fflush(stdout);
	ck_assert_int_eq(vg_t_receiver_start_config(&rcv, dir, config, 0), 0);
	deadline_ms = vg_t_now_ms() + (int64_t)seconds * 1000;
	/* Synthetic timestamps, one second apart, ending before now. */
	t0_ms = (vg_clock_now_ms() / 1000 - MAX_CALM - 60) * 1000;

	fd = vg_t_connect(rcv.port);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vg_t_hello(fd, "calm", 1, NULL), 0);
	vg_t_define_series(fd, "calm_metric", "calm");
	for (size_t k = 0; k < sizeof(workers) / sizeof(workers[0]); k++)
		ck_assert_int_eq(pthread_create(&workers[k].thread, NULL, run_worker, &workers[k]), 0);
	for (uint64_t seq = 1; seq <= MAX_CALM && vg_t_now_ms() < deadline_ms; seq++) {
		vg_t_send_sample(fd, seq, t0_ms + (int64_t)(seq - 1) * 1000, (double)seq);
		ck_assert_uint_ge(vg_t_wait_ack(fd, seq), seq);
		acked = seq;
		vg_t_sleep_ms(50);
	}
	for (size_t k = 0; k < sizeof(workers) / sizeof(workers[0]); k++)
		pthread_join(workers[k].thread, NULL);
	close(fd);
	ck_assert(vg_t_alive(&rcv.proc));
	printf("test_hostile_run: %llu hostile rounds, %llu calm batches acknowledged\n",
	       (unsigned long long)atomic_load(&hostile_rounds), (unsigned long long)acked);
	ck_assert_uint_ge(acked, 10);

	/* Every acknowledged sample, with its value. */
	{
		char path[512];
		long status = 0;
		json_t *j, *values;

		snprintf(path, sizeof(path), "/api/v1/query_range?query=calm_metric&start=%lld&end=%lld&step=1",
			 (long long)(t0_ms / 1000), (long long)(t0_ms / 1000 + (int64_t)acked - 1));
		j = vg_t_http_json(rcv.http_port, path, &status);
		ck_assert_msg(j != NULL && status == 200, "status %ld", status);
		values = json_object_get(json_array_get(json_object_get(json_object_get(j, "data"), "result"), 0),
					 "values");
		ck_assert_uint_eq(json_array_size(values), acked);
		for (size_t k = 0; k < acked; k++) {
			const char *v = json_string_value(json_array_get(json_array_get(values, k), 1));
			ck_assert_ptr_nonnull(v);
			ck_assert_msg(strtoull(v, NULL, 10) == k + 1, "point %zu is %s", k, v);
		}
		json_decref(j);
	}
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 10000), 0);
	vg_t_rmrf(dir);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hostile_run");
	TCase *tc = tcase_create("run");
	SRunner *sr;
	int nf;

	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_hostile_run_calm_agent_loses_nothing);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
