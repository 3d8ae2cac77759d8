/*
 * test_crash.c: kill -9 at random moments (issue 10, "Crash safety").
 *
 * Three raw agents send batches (one sample each, the value being the
 * batch's sequence number) as fast as the receiver acknowledges them,
 * a window of batches in flight; a killer thread sends SIGKILL to the
 * receiver after a random pause, in some rounds just after asking for a
 * seal, so that the kill lands while blocks are written or the WAL is cut.
 * After each restart the agents say HELLO again (which tells them what the
 * receiver holds) and send on from there, and the test checks that every
 * batch ever acknowledged is stored, each once, with its value; that no
 * block was refused as damaged; that no half-written block file is left.
 *
 * Seeded (VG_CRASH_SEED, else a fixed seed; printed), ROUNDS rounds, each
 * bounded in time: the whole suite takes seconds.
 */
#include "config.h"

#include "tests/harness.h"
#include "common/buf.h"
#include "common/frame.h"
#include "common/mpack.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/banned.h"

#define ROUNDS 8
#define AGENTS 3
#define WINDOW 24
#define STEP_MS 10
#define MAX_SEQ 9000 /* per agent: the check's query stays under 11,000 points */

struct agent {
	char name[32];
	int fd;
	uint64_t acked;  /* highest acknowledged */
	uint64_t sent;   /* highest sent on this connection */
};

static char *dir;
static char data_dir[600];
static char raw_dir[700]; /* data_dir/blocks/raw */
static struct vg_t_receiver rcv;
static int64_t base_ms;
static uint64_t rng_state;

struct killer {
	pid_t pid;
	uint16_t http_port;
	int delay_ms;
	bool with_seal;
};

static uint64_t rng(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends one frame; -1 when the receiver is gone (no assertion: it may be). */
static int send_frame(int fd, enum vg_frame_type type, uint64_t seq, const struct vg_buf *raw)
{
	struct vg_frame_codec *c = vg_frame_codec_new(1);
	struct vg_buf wire = VG_BUF_INIT;
	int rc = -1;

	if (vg_frame_encode(c, type, seq, raw->data, raw->len, &wire, NULL) == 0)
		rc = vg_t_write_all(fd, wire.data, wire.len);
	vg_buf_release(&wire);
	vg_frame_codec_free(c);
	return rc;
}

static int send_batch(struct agent *a, uint64_t seq)
{
	struct vg_buf raw = VG_BUF_INIT;
	msgpack_packer pk;
	int rc;

	vg_mp_packer_init(&pk, &raw);
	vg_samples_pack_begin(&pk, 1);
	vg_samples_pack_group(&pk, base_ms + (int64_t)seq * STEP_MS, 1);
	vg_samples_pack_sample(&pk, 0, (double)seq);
	rc = send_frame(a->fd, VG_FRAME_SAMPLES, seq, &raw);
	vg_buf_release(&raw);
	return rc;
}

/* Connects, says HELLO (the ACK names the last batch stored) and defines
 * the agent's one series; false when the receiver does not answer. */
static bool agent_connect(struct agent *a)
{
	uint64_t stored = 0;

	a->fd = vg_t_connect(rcv.port);
	if (a->fd < 0)
		return false;
	if (vg_t_hello(a->fd, a->name, 1, &stored) != 0) {
		close(a->fd);
		a->fd = -1;
		return false;
	}
	/* What it holds covers at least what it acknowledged. */
	ck_assert_uint_ge(stored, a->acked);
	a->acked = stored;
	a->sent = stored;
	vg_t_define_series(a->fd, "crash_test", a->name);
	return true;
}

/* Keeps WINDOW batches in flight; false once the connection broke. */
static bool agent_step(struct agent *a)
{
	struct vg_frame_header h;
	struct vg_buf payload = VG_BUF_INIT;
	int rc;

	while (a->sent < a->acked + WINDOW && a->sent < MAX_SEQ)
		if (send_batch(a, ++a->sent) != 0)
			return false;
	if (a->sent == a->acked)
		return true;
	rc = vg_t_read_frame(a->fd, 2000, &h, &payload);
	vg_buf_release(&payload);
	if (rc != 0)
		return false;
	ck_assert_uint_eq(h.type, VG_FRAME_ACK);
	ck_assert_uint_le(h.seq, a->sent);
	if (h.seq > a->acked)
		a->acked = h.seq;
	return true;
}

static void *killer_main(void *arg)
{
	struct killer *k = arg;

	vg_t_sleep_ms(k->delay_ms);
	if (k->with_seal) {
		/* Ask for a seal without waiting for the answer, then kill
		 * before, during or after the milliseconds it takes. */
		static const char req[] = "POST /api/v1/admin/seal HTTP/1.1\r\nHost: 127.0.0.1\r\n"
					  "Content-Length: 0\r\n\r\n";
		int fd = vg_t_connect(k->http_port);
		if (fd >= 0) {
			(void)vg_t_write_all(fd, req, sizeof(req) - 1);
			vg_t_sleep_ms((int)(rng() % 30));
		}
		kill(k->pid, SIGKILL);
		if (fd >= 0)
			close(fd);
	} else {
		kill(k->pid, SIGKILL);
	}
	return NULL;
}

/* Every acknowledged batch of a is stored, once, with its value. */
static void check_agent(const struct agent *a)
{
	char sel[256], path[1024], *q;
	json_t *doc, *res, *values;
	long status;
	uint64_t next = 1;

	snprintf(sel, sizeof(sel), "crash_test{job=\"%s\"}", a->name);
	q = vg_t_urlencode(sel);
	snprintf(path, sizeof(path),
		 "/api/v1/query_range?query=%s&start=%.3f&end=%.3f&step=0.010&lookback_delta=0.001", q,
		 (base_ms + STEP_MS) / 1000.0, (base_ms + (int64_t)(MAX_SEQ + 1) * STEP_MS) / 1000.0);
	free(q);
	doc = vg_t_http_json(rcv.http_port, path, &status);
	ck_assert_ptr_nonnull(doc);
	ck_assert_int_eq(status, 200);
	res = json_object_get(json_object_get(doc, "data"), "result");
	/* None acknowledged yet: one stored without its ACK may be there. */
	ck_assert_uint_le(json_array_size(res), 1);
	ck_assert(a->acked == 0 || json_array_size(res) == 1);
	values = json_object_get(json_array_get(res, 0), "values");
	/* Batches 1 .. acked, each once and in order; a batch stored and not
	 * yet acknowledged may follow. */
	for (size_t i = 0; i < json_array_size(values); i++) {
		json_t *pt = json_array_get(values, i);
		int64_t t = (int64_t)(json_number_value(json_array_get(pt, 0)) * 1000.0 + 0.5);
		double v = strtod(json_string_value(json_array_get(pt, 1)), NULL);

		ck_assert_msg(t == base_ms + (int64_t)next * STEP_MS,
			      "agent %s: batch %llu missing (found time %lld)", a->name,
			      (unsigned long long)next, (long long)t);
		ck_assert(v == (double)next);
		next++;
	}
	ck_assert_msg(next > a->acked, "agent %s: batches %llu..%llu acknowledged but missing", a->name,
		      (unsigned long long)next, (unsigned long long)a->acked);
	json_decref(doc);
}

START_TEST(test_kill9_at_random_moments_loses_no_acknowledged_batch)
{
	struct agent agents[AGENTS];
	const char *env = getenv("VG_CRASH_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 10) : 20261202;
	int seals = 0;

	rng_state = seed ? seed : 1;
	printf("test_crash: seed %llu (VG_CRASH_SEED)\n", (unsigned long long)seed);
	base_ms = wall_ms() - 3600 * 1000;
	memset(agents, 0, sizeof(agents));
	for (int i = 0; i < AGENTS; i++)
		snprintf(agents[i].name, sizeof(agents[i].name), "crash-%d", i);
	ck_assert_int_eq(vg_t_receiver_start(&rcv, data_dir, NULL), 0);
	for (int round = 0; round < ROUNDS; round++) {
		struct killer k = { rcv.proc.pid, rcv.http_port, 20 + (int)(rng() % 300), rng() % 2 == 0 };
		pthread_t t;
		bool is_alive = true;
		int64_t deadline = vg_t_now_ms() + 5000;

		seals += k.with_seal;
		for (int i = 0; i < AGENTS; i++)
			ck_assert(agent_connect(&agents[i]));
		ck_assert_int_eq(pthread_create(&t, NULL, killer_main, &k), 0);
		while (is_alive && vg_t_now_ms() < deadline)
			for (int i = 0; i < AGENTS && is_alive; i++)
				is_alive = agent_step(&agents[i]);
		pthread_join(t, NULL);
		for (int i = 0; i < AGENTS; i++)
			close(agents[i].fd);
		ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGKILL, 5000), 128 + SIGKILL);
		ck_assert_int_eq(vg_t_receiver_start(&rcv, data_dir, NULL), 0);
		for (int i = 0; i < AGENTS; i++)
			check_agent(&agents[i]);
		ck_assert_int_eq(vg_t_count_files(raw_dir, ".tmp"), 0);
		ck_assert(!vg_t_log_contains(&rcv.proc, "the block is not served"));
	}
	printf("test_crash: %d rounds (%d with a seal), %d blocks, acknowledged %llu, %llu, %llu batches\n",
	       ROUNDS, seals, vg_t_count_files(raw_dir, ".vgb"), (unsigned long long)agents[0].acked,
	       (unsigned long long)agents[1].acked, (unsigned long long)agents[2].acked);
	for (int i = 0; i < AGENTS; i++)
		ck_assert_uint_gt(agents[i].acked, 0);
	vg_t_stop(&rcv.proc, SIGTERM, 10000);
}
END_TEST

static void setup(void)
{
	dir = vg_t_tmpdir("vg-crash");
	snprintf(data_dir, sizeof(data_dir), "%s/data", dir);
	snprintf(raw_dir, sizeof(raw_dir), "%s/blocks/raw", data_dir);
}

static void teardown(void)
{
	vg_t_stop(&rcv.proc, SIGKILL, 5000);
	vg_t_rmrf(dir);
	free(dir);
}

static Suite *crash_suite(void)
{
	Suite *s = suite_create("crash");
	TCase *tc = tcase_create("kill9");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_kill9_at_random_moments_loses_no_acknowledged_batch);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(crash_suite());
	int nf;

	signal(SIGPIPE, SIG_IGN);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? 0 : 1;
}
