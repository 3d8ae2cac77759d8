/*
 * test_restart.c: what an ACK promises. A raw client sends numbered
 * batches and notes each ACK; the receiver is killed with SIGKILL right
 * after the last one and started again on the same data directory: every
 * acknowledged sample must be there, a retried batch must not be stored
 * twice, a damaged WAL tail must not stop the receiver, and a real agent
 * must resend what the dead receiver never acknowledged, even across a
 * SIGKILL of the agent itself (its disk spool).
 */
#include "tests/harness.h"
#include "common/buf.h"
#include "common/frame.h"
#include "common/mpack.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char *dir;
/* The batches' times: an hour ago, on a whole second, so the receiver
 * takes them (it refuses agents' samples past max_sample_age). */
static int64_t base_ms;
static char data[600];
static struct vg_t_receiver rcv;

static void setup(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	base_ms = ((int64_t)now.tv_sec - 3600) * 1000;
	dir = vg_t_tmpdir("vigil-restart");
	snprintf(data, sizeof(data), "%s/data", dir);
	ck_assert_int_eq(vg_t_receiver_start(&rcv, data, NULL), 0);
}

static void teardown(void)
{
	int r = vg_t_stop(&rcv.proc, SIGTERM, 5000);

	ck_assert_msg(r == 0, "vigil-receiver exited with %d (see %s)", r, rcv.proc.log_path);
	vg_t_rmrf(dir);
	free(dir);
}

/* Restarts the receiver on the same data directory and ports. */
static void restart(void)
{
	char listen[64];
	uint16_t port = rcv.port;

	/* The extra argument overrides the ephemeral --listen, so an agent
	 * finds the receiver where it was; HTTP moves to a new port. */
	snprintf(listen, sizeof(listen), "--listen=127.0.0.1:%u", port);
	ck_assert_int_eq(vg_t_receiver_start(&rcv, data, listen), 0);
	ck_assert_uint_eq(rcv.port, port);
}

static void define_series(int fd, const char *name)
{
	vg_t_define_series(fd, name, "restart");
}

static void send_sample(int fd, uint64_t seq, int64_t ts, double v)
{
	vg_t_send_sample(fd, seq, ts, v);
}

static uint64_t wait_ack(int fd, uint64_t seq)
{
	return vg_t_wait_ack(fd, seq);
}

/* The values of selector at start, start+step, ... end (ms). */
static json_t *range(const char *selector, int64_t start_ms, int64_t end_ms, const char *step)
{
	char *q = vg_t_urlencode(selector);
	char path[1024];
	long status;
	json_t *doc, *res;

	snprintf(path, sizeof(path), "/api/v1/query_range?query=%s&start=%.3f&end=%.3f&step=%s", q,
		 start_ms / 1000.0, end_ms / 1000.0, step);
	free(q);
	doc = vg_t_http_json(rcv.http_port, path, &status);
	ck_assert_ptr_nonnull(doc);
	ck_assert_int_eq(status, 200);
	res = json_incref(json_object_get(json_object_get(doc, "data"), "result"));
	json_decref(doc);
	return res;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The raw samples of selector between two wall times (ms): a range query
 * with a 1 ms step and a 1 ms lookback returns exactly the stored samples.
 * Returns the response document (caller json_decref's) and its one
 * series' values in *values. */
static json_t *raw_samples(const char *selector, int64_t from_ms, int64_t to_ms, json_t **values)
{
	char path[1024];
	char *q = vg_t_urlencode(selector);
	long status;
	json_t *doc, *res;

	snprintf(path, sizeof(path), "/api/v1/query_range?query=%s&start=%.3f&end=%.3f&step=0.001&lookback_delta=0.001",
		 q, from_ms / 1000.0, to_ms / 1000.0);
	free(q);
	doc = vg_t_http_json(rcv.http_port, path, &status);
	ck_assert_int_eq(status, 200);
	res = json_object_get(json_object_get(doc, "data"), "result");
	ck_assert_uint_eq(json_array_size(res), 1);
	*values = json_object_get(json_array_get(res, 0), "values");
	return doc;
}

#define N_BATCHES 60
#define BASE_MS base_ms

START_TEST(test_acked_samples_survive_kill9)
{
	int fd = vg_t_connect(rcv.port);
	json_t *res, *values;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vg_t_hello(fd, "restart-client", 42, NULL), 0);
	define_series(fd, "restart_test");
	for (int i = 1; i <= N_BATCHES; i++)
		send_sample(fd, (uint64_t)i, BASE_MS + i * 1000, i * 1.5);
	ck_assert_uint_eq(wait_ack(fd, N_BATCHES), N_BATCHES);
	/* Right after the last ACK: no clean shutdown, no final sync. */
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGKILL, 5000), 128 + SIGKILL);
	close(fd);
	restart();
	res = range("restart_test{job=\"restart\"}", BASE_MS + 1000, BASE_MS + N_BATCHES * 1000, "1");
	ck_assert_uint_eq(json_array_size(res), 1);
	values = json_object_get(json_array_get(res, 0), "values");
	ck_assert_uint_eq(json_array_size(values), N_BATCHES);
	for (int i = 1; i <= N_BATCHES; i++) {
		json_t *p = json_array_get(values, (size_t)i - 1);
		ck_assert(strtod(json_string_value(json_array_get(p, 1)), NULL) == i * 1.5);
	}
	json_decref(res);
}
END_TEST

START_TEST(test_retry_after_restart_is_stored_once)
{
	int fd = vg_t_connect(rcv.port);
	uint64_t acked = 99;
	json_t *res, *values;

	ck_assert_int_eq(vg_t_hello(fd, "retry-client", 7, &acked), 0);
	ck_assert_uint_eq(acked, 0);
	define_series(fd, "retry_test");
	for (int i = 1; i <= 5; i++)
		send_sample(fd, (uint64_t)i, BASE_MS + i * 1000, i);
	wait_ack(fd, 5);
	close(fd);
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGKILL, 5000), 128 + SIGKILL);
	restart();
	/* Same agent, same epoch: the receiver says what it already has. */
	fd = vg_t_connect(rcv.port);
	ck_assert_int_eq(vg_t_hello(fd, "retry-client", 7, &acked), 0);
	ck_assert_uint_eq(acked, 5);
	define_series(fd, "retry_test");
	/* A retry of batch 5 carrying another value, then batch 6. */
	send_sample(fd, 5, BASE_MS + 5000, 500);
	send_sample(fd, 6, BASE_MS + 6000, 6);
	ck_assert_uint_eq(wait_ack(fd, 6), 6);
	close(fd);
	res = range("retry_test", BASE_MS + 1000, BASE_MS + 6000, "1");
	values = json_object_get(json_array_get(res, 0), "values");
	ck_assert_uint_eq(json_array_size(values), 6);
	ck_assert_str_eq(json_string_value(json_array_get(json_array_get(values, 4), 1)), "5");
	ck_assert_str_eq(json_string_value(json_array_get(json_array_get(values, 5), 1)), "6");
	json_decref(res);
	/* A new epoch (the agent restarted) starts numbering again. */
	fd = vg_t_connect(rcv.port);
	ck_assert_int_eq(vg_t_hello(fd, "retry-client", 8, &acked), 0);
	ck_assert_uint_eq(acked, 0);
	close(fd);
}
END_TEST

/* The newest WAL segment file in data/wal. */
static void newest_segment(char *out, size_t cap)
{
	char wal[700];
	struct dirent *de;
	DIR *d;

	snprintf(wal, sizeof(wal), "%s/wal", data);
	d = opendir(wal);
	ck_assert_ptr_nonnull(d);
	out[0] = '\0';
	char best[256] = "";
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && strcmp(de->d_name, best) > 0)
			snprintf(best, sizeof(best), "%s", de->d_name);
	closedir(d);
	ck_assert(best[0] != '\0');
	snprintf(out, cap, "%s/%s", wal, best);
}

START_TEST(test_torn_wal_tail_is_cut_and_data_kept)
{
	int fd = vg_t_connect(rcv.port);
	char seg[1024];
	json_t *res;
	int wfd;

	ck_assert_int_eq(vg_t_hello(fd, "torn-client", 1, NULL), 0);
	define_series(fd, "torn_test");
	for (int i = 1; i <= 10; i++)
		send_sample(fd, (uint64_t)i, BASE_MS + i * 1000, i);
	wait_ack(fd, 10);
	close(fd);
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGKILL, 5000), 128 + SIGKILL);
	/* A crash in the middle of a write: half a record of garbage. */
	newest_segment(seg, sizeof(seg));
	wfd = open(seg, O_WRONLY | O_APPEND);
	ck_assert_int_ge(wfd, 0);
	ck_assert_int_eq(write(wfd, "\x00\x00\x01\x00garbage-garbage", 19), 19);
	close(wfd);
	restart();
	res = range("torn_test", BASE_MS + 1000, BASE_MS + 10000, "1");
	ck_assert_uint_eq(json_array_size(json_object_get(json_array_get(res, 0), "values")), 10);
	json_decref(res);
	ck_assert_double_eq(vg_t_metric(rcv.http_port, "vigil_receiver_wal_corrupt_tails"), 1);
	ck_assert_double_eq(vg_t_metric(rcv.http_port, "vigil_receiver_wal_damaged_segments"), 0);
	/* And it keeps taking data after the cut. */
	fd = vg_t_connect(rcv.port);
	ck_assert_int_eq(vg_t_hello(fd, "torn-client", 2, NULL), 0);
	define_series(fd, "torn_test");
	send_sample(fd, 1, BASE_MS + 11000, 11);
	wait_ack(fd, 1);
	close(fd);
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGKILL, 5000), 128 + SIGKILL);
	restart();
	res = range("torn_test", BASE_MS + 1000, BASE_MS + 11000, "1");
	ck_assert_uint_eq(json_array_size(json_object_get(json_array_get(res, 0), "values")), 11);
	json_decref(res);
}
END_TEST

/* Damage in the middle of an older segment loses that segment's rest, and
 * only that: the receiver starts, and later segments are all there. */
START_TEST(test_damaged_older_segment_loses_only_its_rest)
{
	char conf[700], seg1[800];
	FILE *f;
	int fd, wfd;
	json_t *res;

	/* Small segments, so 200 series and their samples span several. */
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGTERM, 5000), 0);
	snprintf(conf, sizeof(conf), "%s/small-segments.yaml", dir);
	f = fopen(conf, "w");
	fputs("wal_segment_size: 4KiB\n", f);
	fclose(f);
	char config_arg[760];
	snprintf(config_arg, sizeof(config_arg), "--config=%s", conf);
	ck_assert_int_eq(vg_t_receiver_start(&rcv, data, config_arg), 0);
	fd = vg_t_connect(rcv.port);
	ck_assert_int_eq(vg_t_hello(fd, "segments-client", 1, NULL), 0);
	for (int i = 0; i < 200; i++) {
		struct vg_buf raw = VG_BUF_INIT;
		struct vg_series s;
		char v[16];
		msgpack_packer pk;
		snprintf(v, sizeof(v), "%d", i);
		vg_series_init(&s, "seg_test");
		vg_series_add(&s, "i", v);
		vg_mp_packer_init(&pk, &raw);
		vg_series_pack_begin(&pk, 1);
		vg_series_pack_entry(&pk, (uint64_t)i, &s);
		vg_t_send_frame(fd, VG_FRAME_SERIES, 0, &raw);
		vg_buf_reset(&raw);
		vg_mp_packer_init(&pk, &raw);
		vg_samples_pack_begin(&pk, 1);
		vg_samples_pack_group(&pk, BASE_MS, 1);
		vg_samples_pack_sample(&pk, (uint64_t)i, i);
		vg_t_send_frame(fd, VG_FRAME_SAMPLES, (uint64_t)i + 1, &raw);
		vg_buf_release(&raw);
	}
	wait_ack(fd, 200);
	close(fd);
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGKILL, 5000), 128 + SIGKILL);
	/* Flip a byte in the middle of the first segment. */
	snprintf(seg1, sizeof(seg1), "%s/wal/00000001", data);
	wfd = open(seg1, O_RDWR);
	ck_assert_int_ge(wfd, 0);
	ck_assert_int_eq(pwrite(wfd, "\xA5", 1, 2000), 1);
	close(wfd);
	ck_assert_msg(vg_t_receiver_start(&rcv, data, config_arg) == 0, "the receiver did not start on a damaged WAL");
	res = range("{__name__=\"seg_test\"}", BASE_MS, BASE_MS, "1");
	size_t n = json_array_size(res);
	/* Something before the damage and everything of the later segments
	 * survived; the damaged segment's rest did not. */
	ck_assert_msg(n > 100 && n < 200, "%zu of 200 series survived", n);
	json_decref(res);
	/* The series of the last one are there. */
	res = range("seg_test{i=\"199\"}", BASE_MS, BASE_MS, "1");
	ck_assert_uint_eq(json_array_size(res), 1);
	json_decref(res);
	ck_assert_double_eq(vg_t_metric(rcv.http_port, "vigil_receiver_wal_damaged_segments"), 1);
	ck_assert_double_eq(vg_t_metric(rcv.http_port, "vigil_receiver_wal_bad_segments"), 0);
	/* A segment removed by hand from the middle: the start says so,
	 * counts it in /metrics, and serves the rest. */
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGKILL, 5000), 128 + SIGKILL);
	snprintf(seg1, sizeof(seg1), "%s/wal/00000003", data);
	ck_assert_int_eq(access(seg1, F_OK), 0); /* so 2 lies between two */
	snprintf(seg1, sizeof(seg1), "%s/wal/00000002", data);
	ck_assert_int_eq(unlink(seg1), 0);
	ck_assert_msg(vg_t_receiver_start(&rcv, data, config_arg) == 0, "the receiver did not start without a segment");
	ck_assert(vg_t_log_contains(&rcv.proc, "segments 00000002 to 00000002 are missing"));
	ck_assert_double_eq(vg_t_metric(rcv.http_port, "vigil_receiver_wal_missing_segments"), 1);
	res = range("seg_test{i=\"0\"}", BASE_MS, BASE_MS, "1"); /* in segment 1 */
	ck_assert_uint_eq(json_array_size(res), 1);
	json_decref(res);
	/* A segment whose header is damaged is skipped whole, and counted. */
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGKILL, 5000), 128 + SIGKILL);
	snprintf(seg1, sizeof(seg1), "%s/wal/00000001", data);
	{
		char last[1024];
		newest_segment(last, sizeof(last));
		ck_assert_str_ne(last, seg1); /* a damaged last header is written anew */
	}
	wfd = open(seg1, O_RDWR);
	ck_assert_int_ge(wfd, 0);
	ck_assert_int_eq(pwrite(wfd, "XXXX", 4, 0), 4);
	close(wfd);
	ck_assert_msg(vg_t_receiver_start(&rcv, data, config_arg) == 0, "the receiver did not start with a bad header");
	ck_assert_double_eq(vg_t_metric(rcv.http_port, "vigil_receiver_wal_bad_segments"), 1);
	ck_assert(vg_t_log_contains(&rcv.proc, "00000001: bad magic at offset 0; skipping the file"));
}
END_TEST

START_TEST(test_agent_resends_after_receiver_outage)
{
	struct vg_t_proc agent;
	int64_t t_kill, t_back;
	char sel[] = "vigil_agent_rounds_total{instance=\"outage-agent\"}";
	int64_t deadline;

	ck_assert_int_eq(vg_t_agent_start(&agent, dir, rcv.port, "200ms", "outage-agent"), 0);
	vg_t_sleep_ms(1500);
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGKILL, 5000), 128 + SIGKILL);
	t_kill = wall_ms();
	vg_t_sleep_ms(3000); /* the agent queues ~15 batches */
	t_back = wall_ms();
	restart();
	/* Wait until the agent's queue is empty again. */
	deadline = vg_t_now_ms() + 20000;
	for (;;) {
		char *q = vg_t_urlencode("vigil_agent_queue_batches{instance=\"outage-agent\"}");
		char path[512];
		long status;
		json_t *doc;
		const char *v = NULL;

		/* A 1 s lookback: only a sample sent after the restart counts. */
		snprintf(path, sizeof(path), "/api/v1/query?query=%s&lookback_delta=1", q);
		free(q);
		doc = vg_t_http_json(rcv.http_port, path, &status);
		json_t *r0 = json_array_get(json_object_get(json_object_get(doc, "data"), "result"), 0);
		v = json_string_value(json_array_get(json_object_get(r0, "value"), 1));
		bool empty = v && strcmp(v, "0") == 0;
		json_decref(doc);
		if (empty)
			break;
		ck_assert_msg(vg_t_now_ms() < deadline, "the agent's queue never drained");
		vg_t_sleep_ms(200);
	}
	/* Every round of the outage is there: each round carries the
	 * agent's round counter, so the raw samples (a 1 ms step and a 1 ms
	 * lookback) from before the kill to after the restart are
	 * consecutive numbers, whatever the rounds' timing under load; a
	 * lost batch leaves a number out, a batch stored twice repeats one.
	 * The window stays under the API's 11,000 points. */
	int64_t t_end = wall_ms();
	if (t_end > t_kill - 1000 + 10000)
		t_end = t_kill - 1000 + 10000;
	json_t *values, *p;
	json_t *doc = raw_samples(sel, t_kill - 1000, t_end, &values);
	size_t i;
	double prev_round = 0, first_t = 0, last_t = 0;
	json_array_foreach(values, i, p) {
		double t = json_number_value(json_array_get(p, 0));
		double round = strtod(json_string_value(json_array_get(p, 1)), NULL);
		if (i > 0)
			ck_assert_msg(round == prev_round + 1, "round %.0f follows round %.0f: a batch was lost", round,
				      prev_round);
		else
			first_t = t;
		prev_round = round;
		last_t = t;
	}
	ck_assert_msg(json_array_size(values) >= 2 && first_t * 1000 < (double)t_kill && last_t * 1000 > (double)t_back,
		      "the rounds held (%zu, %.3f to %.3f) do not span the outage (%.3f to %.3f)",
		      json_array_size(values), first_t, last_t, t_kill / 1000.0, t_back / 1000.0);
	json_decref(doc);
	ck_assert_int_eq(vg_t_stop(&agent, SIGTERM, 5000), 0);
}
END_TEST

/* Two agents on one spool directory would write one epoch's batches
 * over each other: the second is refused, and starts once the first is
 * gone. */
START_TEST(test_second_agent_on_a_spool_is_refused)
{
	struct vg_t_proc first, twin;
	char server[64], log_path[600], spool[600];

	ck_assert_int_eq(vg_t_agent_start(&first, dir, rcv.port, "200ms", "twin-agent"), 0);
	ck_assert(vg_t_wait_log(&first, "sampling every", 10000));
	snprintf(server, sizeof(server), "127.0.0.1:%u", rcv.port);
	snprintf(log_path, sizeof(log_path), "%s/agent-twin-second.log", dir);
	snprintf(spool, sizeof(spool), "%s/spool-twin-agent", dir); /* the first one's */
	char *argv[] = { (char *)vg_t_bin("vigil-agent"), "--server", server, "--interval", "200ms",
			 "--hostname", "twin-agent", "--config", "/dev/null", "--spool-dir", spool, NULL };
	ck_assert_int_eq(vg_t_spawn(&twin, log_path, argv), 0);
	ck_assert(vg_t_wait_log(&twin, "is in use by another process", 10000));
	/* It exits by itself (signal 0 only waits): a SIGTERM sent now could
	 * arrive before that exit on a loaded machine and answer 143. */
	ck_assert_int_eq(vg_t_stop(&twin, 0, 10000), 1);
	ck_assert(!vg_t_log_contains(&twin, "sampling every")); /* no memory spool instead */
	ck_assert(vg_t_alive(&first));
	ck_assert_int_eq(vg_t_stop(&first, SIGTERM, 10000), 0);
	ck_assert_int_eq(vg_t_spawn(&twin, log_path, argv), 0);
	ck_assert(vg_t_wait_log(&twin, "sampling every", 10000));
	ck_assert_int_eq(vg_t_stop(&twin, SIGTERM, 10000), 0);
}
END_TEST

/* The value of an instant query (1 s lookback) as a string, or NULL. */
static char *instant(const char *selector)
{
	char *q = vg_t_urlencode(selector), *out = NULL;
	char path[512];
	long status;
	json_t *doc, *r0;

	snprintf(path, sizeof(path), "/api/v1/query?query=%s&lookback_delta=1", q);
	free(q);
	doc = vg_t_http_json(rcv.http_port, path, &status);
	r0 = json_array_get(json_object_get(json_object_get(doc, "data"), "result"), 0);
	if (json_string_value(json_array_get(json_object_get(r0, "value"), 1)))
		out = strdup(json_string_value(json_array_get(json_object_get(r0, "value"), 1)));
	json_decref(doc);
	return out;
}

/*
 * The disk spool: the receiver is down; the agent spools batches, is
 * killed with SIGKILL, and started again on its spool while the receiver
 * is still down. Once the receiver is back, the batches the first agent
 * process spooled arrive (under the epoch and seqs it gave them), each
 * stored once, in order, and the agent reports nothing dropped.
 */
START_TEST(test_agent_spool_survives_agent_kill9_during_outage)
{
	struct vg_t_proc agent;
	int64_t t_kill, t_agent_kill, t_agent_back, t_back, deadline;
	char *v;

	ck_assert_int_eq(vg_t_agent_start(&agent, dir, rcv.port, "400ms", "spool-agent"), 0);
	/* Wait for the first stored batch. */
	deadline = vg_t_now_ms() + 10000;
	while ((v = instant("vigil_agent_batches_acked_total{instance=\"spool-agent\"}")) == NULL) {
		ck_assert_msg(vg_t_now_ms() < deadline, "the agent never delivered");
		vg_t_sleep_ms(100);
	}
	free(v);
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGKILL, 5000), 128 + SIGKILL);
	t_kill = wall_ms();
	vg_t_sleep_ms(1400); /* three or four batches spooled */
	ck_assert_int_eq(vg_t_stop(&agent, SIGKILL, 5000), 128 + SIGKILL);
	t_agent_kill = wall_ms();
	vg_t_sleep_ms(200);
	ck_assert_int_eq(vg_t_agent_start(&agent, dir, rcv.port, "400ms", "spool-agent"), 0);
	t_agent_back = wall_ms();
	vg_t_sleep_ms(1000);
	t_back = wall_ms();
	restart();
	deadline = vg_t_now_ms() + 20000;
	for (;;) {
		bool is_empty;
		v = instant("vigil_agent_queue_batches{instance=\"spool-agent\"}");
		is_empty = v && strcmp(v, "0") == 0;
		free(v);
		if (is_empty)
			break;
		ck_assert_msg(vg_t_now_ms() < deadline, "the agent's spool never drained");
		vg_t_sleep_ms(200);
	}
	ck_assert_msg(vg_t_log_contains(&agent, "resuming epoch"), "the restarted agent did not resume its spool");

	/* Raw samples over the outage (1 ms step and lookback): the first
	 * process's spooled rounds are there, about one each 400 ms. */
	json_t *values, *p;
	json_t *doc = raw_samples("node_load1{instance=\"spool-agent\"}", t_kill - 500, t_back, &values);
	size_t i, n_first = 0, n_second = 0;
	double prev = 0;
	json_array_foreach(values, i, p) {
		double t = json_number_value(json_array_get(p, 0));
		ck_assert_msg(t > prev, "samples out of order or twice at %.3f", t);
		prev = t;
		if (t * 1000 >= t_kill && t * 1000 <= t_agent_kill)
			n_first++;
		if (t * 1000 >= t_agent_back)
			n_second++;
	}
	ck_assert_msg(n_first >= 2, "only %zu of the first process's spooled rounds arrived", n_first);
	ck_assert_msg(n_second >= 1, "none of the second process's rounds arrived");
	json_decref(doc);

	v = instant("vigil_agent_batches_dropped_total{instance=\"spool-agent\"}");
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v, "0");
	free(v);
	ck_assert_int_eq(vg_t_stop(&agent, SIGTERM, 5000), 0);
}
END_TEST

static void write_agent_config(const char *path, const char *env, const char *backoff)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fprintf(f, "interval: 500ms\nlabels:\n  env: %s\nbackoff_max: %s\n", env, backoff);
	ck_assert_int_eq(fclose(f), 0);
}

/*
 * SIGHUP during a receiver outage: the new labels apply from the next
 * round, and a change that replaces the sender (backoff_max here) keeps
 * what the disk spool holds: the rounds sampled before the reload still
 * arrive, under the old labels, once the receiver is back.
 */
START_TEST(test_agent_sighup_reload_keeps_spool)
{
	struct vg_t_proc agent;
	char conf[700], server[64], spool[700], log_path[700];
	int64_t t_kill, t_hup, deadline;
	json_t *values, *doc;
	char *v;

	snprintf(conf, sizeof(conf), "%s/agent.yaml", dir);
	snprintf(server, sizeof(server), "127.0.0.1:%u", rcv.port);
	snprintf(spool, sizeof(spool), "%s/spool-hup", dir);
	snprintf(log_path, sizeof(log_path), "%s/agent-hup.log", dir);
	write_agent_config(conf, "a", "2s");
	char *argv[] = { (char *)vg_t_bin("vigil-agent"), "--config", conf, "--server", server, "--hostname",
			 "hup-agent", "--spool-dir", spool, NULL };
	ck_assert_int_eq(vg_t_spawn(&agent, log_path, argv), 0);
	deadline = vg_t_now_ms() + 10000;
	while ((v = instant("node_load1{instance=\"hup-agent\",env=\"a\"}")) == NULL) {
		ck_assert_msg(vg_t_now_ms() < deadline, "the agent never delivered");
		vg_t_sleep_ms(100);
	}
	free(v);
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGKILL, 5000), 128 + SIGKILL);
	t_kill = wall_ms();
	vg_t_sleep_ms(1500);
	write_agent_config(conf, "b", "3s");
	ck_assert_int_eq(kill(agent.pid, SIGHUP), 0);
	t_hup = wall_ms();
	vg_t_sleep_ms(1000);
	ck_assert(vg_t_alive(&agent));
	restart();
	deadline = vg_t_now_ms() + 20000;
	while ((v = instant("node_load1{instance=\"hup-agent\",env=\"b\"}")) == NULL) {
		ck_assert_msg(vg_t_now_ms() < deadline, "no sample with the reloaded labels (see %s)", agent.log_path);
		vg_t_sleep_ms(100);
	}
	free(v);
	ck_assert(vg_t_log_contains(&agent, "sender restarted on its spool"));
	/* The rounds sampled during the outage, before the reload. */
	deadline = vg_t_now_ms() + 20000;
	for (;;) {
		size_t n = 0, i;
		json_t *p;
		doc = raw_samples("node_load1{instance=\"hup-agent\",env=\"a\"}", t_kill, t_hup, &values);
		json_array_foreach(values, i, p)
			n++;
		json_decref(doc);
		if (n >= 2)
			break;
		ck_assert_msg(vg_t_now_ms() < deadline, "only %zu of the spooled rounds arrived", n);
		vg_t_sleep_ms(200);
	}
	v = instant("vigil_agent_batches_dropped_total{instance=\"hup-agent\"}");
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v, "0");
	free(v);
	ck_assert_int_eq(vg_t_stop(&agent, SIGTERM, 5000), 0);
}
END_TEST

START_TEST(test_agent_check_config)
{
	char *out = NULL, *errs = NULL, conf[700];
	FILE *f;

	snprintf(conf, sizeof(conf), "%s/check.yaml", dir);
	f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fputs("interval: 5s\n", f);
	fclose(f);
	char *good[] = { (char *)vg_t_bin("vigil-agent"), "--config", conf, "--spool-dir", dir, "--check-config", NULL };
	ck_assert_int_eq(vg_t_run(good, &out, &errs, 10000), 0);
	ck_assert_ptr_nonnull(strstr(out, "OK"));
	ck_assert_ptr_nonnull(strstr(out, "interval 5000 ms"));
	free(out);
	free(errs);
	f = fopen(conf, "w");
	fputs("interval: 5x\n", f);
	fclose(f);
	ck_assert_int_eq(vg_t_run(good, &out, &errs, 10000), 2);
	ck_assert_ptr_nonnull(strstr(errs, "check.yaml:1"));
	free(out);
	free(errs);
	char *nospool[] = { (char *)vg_t_bin("vigil-agent"), "--config", "/dev/null", "--spool-dir",
			    "/proc/no/such/spool", "--check-config", NULL };
	ck_assert_int_eq(vg_t_run(nospool, &out, &errs, 10000), 1);
	ck_assert_ptr_nonnull(strstr(errs, "/proc/no/such/spool"));
	free(out);
	free(errs);
}
END_TEST

static Suite *restart_suite(void)
{
	Suite *s = suite_create("restart");
	TCase *tc = tcase_create("kill9");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_acked_samples_survive_kill9);
	tcase_add_test(tc, test_retry_after_restart_is_stored_once);
	tcase_add_test(tc, test_torn_wal_tail_is_cut_and_data_kept);
	tcase_add_test(tc, test_damaged_older_segment_loses_only_its_rest);
	tcase_add_test(tc, test_agent_resends_after_receiver_outage);
	tcase_add_test(tc, test_second_agent_on_a_spool_is_refused);
	tcase_add_test(tc, test_agent_spool_survives_agent_kill9_during_outage);
	tcase_add_test(tc, test_agent_sighup_reload_keeps_spool);
	tcase_add_test(tc, test_agent_check_config);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(restart_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
