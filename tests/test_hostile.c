/*
 * test_hostile.c: a receiver under hostile input. A well-behaved agent
 * stays connected the whole time; raw clients send garbage, corrupt
 * frames, lying lengths and frames out of order. Each gets an ERROR frame
 * or a closed connection, the receiver logs it and stays up, and the agent
 * is served throughout without losing a batch.
 */
#include "tests/harness.h"
#include "common/buf.h"
#include "common/frame.h"
#include "common/mpack.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#define CALM "calm-agent"

static char *dir;
static struct vg_t_receiver rcv;
static struct vg_t_proc agent;

static double instant(const char *selector, bool *found)
{
	char *q = vg_t_urlencode(selector);
	char path[1024];
	long status;
	json_t *doc, *res;
	double v = -1;

	snprintf(path, sizeof(path), "/api/v1/query?query=%s", q);
	free(q);
	doc = vg_t_http_json(rcv.http_port, path, &status);
	res = json_object_get(json_object_get(doc, "data"), "result");
	*found = json_array_size(res) == 1;
	if (*found)
		v = strtod(json_string_value(json_array_get(json_object_get(json_array_get(res, 0), "value"), 1)), NULL);
	json_decref(doc);
	return v;
}

static void wait_agent(void)
{
	int64_t deadline = vg_t_now_ms() + 15000;
	bool found = false;

	while (!found && vg_t_now_ms() < deadline) {
		instant("vigil_agent_batches_acked_total{instance=\"" CALM "\"}", &found);
		if (!found)
			vg_t_sleep_ms(100);
	}
	ck_assert_msg(found, "the agent's data never arrived");
}

/* Waits until the agent has had n more batches acknowledged than now:
 * its counters then tell what happened after the attack. */
static void wait_batches(int n)
{
	int64_t deadline = vg_t_now_ms() + 15000;
	bool found;
	double first = instant("vigil_agent_batches_acked_total{instance=\"" CALM "\"}", &found), now = first;

	while (now < first + n && vg_t_now_ms() < deadline) {
		vg_t_sleep_ms(50);
		now = instant("vigil_agent_batches_acked_total{instance=\"" CALM "\"}", &found);
	}
	ck_assert_msg(now >= first + n, "the agent's counters stopped at %g batches acknowledged", now);
}

/* The HELLO deadline is 2 s here, not the default 10 s (test_config
 * checks the default), so the silent connection's case waits 2 s. */
static void setup(void)
{
	dir = vg_t_tmpdir("vigil-hostile");
	ck_assert_int_eq(vg_t_receiver_start_config(&rcv, dir, "agent_hello_timeout: 2s\n", 0), 0);
	ck_assert_int_eq(vg_t_agent_start(&agent, dir, rcv.port, "200ms", CALM), 0);
	wait_agent();
}

static void teardown(void)
{
	/* After the attack both still stop cleanly (under the sanitizer
	 * build: no leak, no error report). */
	int a = vg_t_stop(&agent, SIGTERM, 5000), r = vg_t_stop(&rcv.proc, SIGTERM, 5000);

	ck_assert_msg(a == 0, "vigil-agent exited with %d (see %s)", a, agent.log_path);
	ck_assert_msg(r == 0, "vigil-receiver exited with %d (see %s)", r, rcv.proc.log_path);
	vg_t_rmrf(dir);
	free(dir);
}

/* Expects an ERROR frame with code (0: any) and then the close. */
static void expect_error_and_close(int fd, uint32_t code)
{
	struct vg_frame_header h;
	struct vg_buf payload = VG_BUF_INIT;
	struct vg_error_msg em;
	int rc = vg_t_read_frame(fd, 5000, &h, &payload);

	ck_assert_msg(rc == 0 || rc == 1, "neither an ERROR frame nor a close (rc %d)", rc);
	if (rc == 0) {
		ck_assert_uint_eq(h.type, VG_FRAME_ERROR);
		ck_assert_int_eq(vg_error_decode(payload.data, payload.len, &em, NULL), 0);
		if (code)
			ck_assert_msg(em.code == code, "error code %u, expected %u (%.*s)", em.code, code,
				      (int)em.message.len, em.message.p);
		ck_assert_int_eq(vg_t_read_frame(fd, 5000, &h, &payload), 1);
	}
	vg_buf_release(&payload);
	close(fd);
}

static void send_frame(int fd, enum vg_frame_type type, uint64_t seq, const struct vg_buf *raw)
{
	struct vg_frame_codec *c = vg_frame_codec_new(1);
	struct vg_buf wire = VG_BUF_INIT;

	ck_assert_int_eq(vg_frame_encode(c, type, seq, raw ? raw->data : NULL, raw ? raw->len : 0, &wire, NULL), 0);
	vg_t_write_all(fd, wire.data, wire.len);
	vg_buf_release(&wire);
	vg_frame_codec_free(c);
}

/* The agent was served all along: one connection, nothing dropped, every
 * batch acknowledged (within the last interval or two), receiver alive;
 * and, when the attack deserved an ERROR, the receiver logged it. */
static void check_agent_unharmed(bool was_refused)
{
	bool found;
	double connects, dropped, sent, acked;

	ck_assert(vg_t_alive(&rcv.proc));
	wait_batches(2); /* the next batches carry the counters */
	connects = instant("vigil_agent_connects_total{instance=\"" CALM "\"}", &found);
	ck_assert(found);
	ck_assert_msg(connects == 1, "the agent reconnected (%g connections)", connects);
	dropped = instant("vigil_agent_batches_dropped_total{instance=\"" CALM "\"}", &found);
	ck_assert(found);
	ck_assert(dropped == 0);
	sent = instant("vigil_agent_batches_sent_total{instance=\"" CALM "\"}", &found);
	acked = instant("vigil_agent_batches_acked_total{instance=\"" CALM "\"}", &found);
	ck_assert_msg(sent - acked <= 2, "%g batches sent, %g acknowledged", sent, acked);
	if (was_refused)
		ck_assert(vg_t_log_contains(&rcv.proc, "closing it"));
}

START_TEST(test_garbage_bytes)
{
	int fd = vg_t_connect(rcv.port);
	const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n\x01\x02\x03 garbage garbage";

	ck_assert_int_ge(fd, 0);
	vg_t_write_all(fd, junk, sizeof(junk));
	expect_error_and_close(fd, VG_WIRE_MALFORMED);
	check_agent_unharmed(true);
}
END_TEST

START_TEST(test_hello_then_corrupt_frame)
{
	int fd = vg_t_connect(rcv.port);
	struct vg_frame_codec *c = vg_frame_codec_new(1);
	struct vg_buf raw = VG_BUF_INIT, wire = VG_BUF_INIT;
	msgpack_packer pk;

	ck_assert_int_eq(vg_t_hello(fd, "hostile-1", 1, NULL), 0);
	vg_mp_packer_init(&pk, &raw);
	vg_samples_pack_begin(&pk, 1);
	vg_samples_pack_group(&pk, 1000, 1);
	vg_samples_pack_sample(&pk, 0, 1.0);
	vg_frame_encode(c, VG_FRAME_SAMPLES, 1, raw.data, raw.len, &wire, NULL);
	wire.data[wire.len - 1] ^= 0xFF; /* checksum no longer matches */
	vg_t_write_all(fd, wire.data, wire.len);
	expect_error_and_close(fd, VG_WIRE_MALFORMED);
	vg_frame_codec_free(c);
	vg_buf_release(&raw);
	vg_buf_release(&wire);
	check_agent_unharmed(true);
}
END_TEST

START_TEST(test_frame_claiming_4gib)
{
	int fd = vg_t_connect(rcv.port);
	uint8_t hdr[VG_FRAME_HEADER_SIZE] = { 'V', 'G', 'I', 'L', 1, VG_FRAME_SAMPLES, 0, 0 };

	ck_assert_int_eq(vg_t_hello(fd, "hostile-2", 1, NULL), 0);
	vg_put_be32(hdr + 16, 0xFFFFFFFFu);
	vg_t_write_all(fd, hdr, sizeof(hdr));
	expect_error_and_close(fd, VG_WIRE_TOO_LARGE);
	check_agent_unharmed(true);
}
END_TEST

START_TEST(test_truncated_frame_then_close)
{
	int fd = vg_t_connect(rcv.port);
	uint8_t hdr[VG_FRAME_HEADER_SIZE] = { 'V', 'G', 'I', 'L', 1, VG_FRAME_SAMPLES, 0, 0 };
	char part[100] = { 0 };

	/* Promises the largest allowed payload, delivers 100 bytes, leaves. */
	vg_put_be32(hdr + 16, VG_FRAME_MAX_PAYLOAD);
	vg_t_write_all(fd, hdr, sizeof(hdr));
	vg_t_write_all(fd, part, sizeof(part));
	close(fd);
	/* And a slow one: half a header, then silence while others work. */
	int slow = vg_t_connect(rcv.port);
	vg_t_write_all(slow, hdr, 10);
	check_agent_unharmed(false);
	close(slow);
}
END_TEST

START_TEST(test_samples_before_hello)
{
	int fd = vg_t_connect(rcv.port);
	struct vg_buf raw = VG_BUF_INIT;
	msgpack_packer pk;

	vg_mp_packer_init(&pk, &raw);
	vg_samples_pack_begin(&pk, 0);
	send_frame(fd, VG_FRAME_SAMPLES, 1, &raw);
	expect_error_and_close(fd, VG_WIRE_PROTOCOL);
	vg_buf_release(&raw);
	check_agent_unharmed(true);
}
END_TEST

START_TEST(test_unknown_series_ref)
{
	int fd = vg_t_connect(rcv.port);
	struct vg_buf raw = VG_BUF_INIT;
	msgpack_packer pk;

	ck_assert_int_eq(vg_t_hello(fd, "hostile-3", 1, NULL), 0);
	vg_mp_packer_init(&pk, &raw);
	vg_samples_pack_begin(&pk, 1);
	vg_samples_pack_group(&pk, 1000, 1);
	vg_samples_pack_sample(&pk, 5, 1.0);
	send_frame(fd, VG_FRAME_SAMPLES, 1, &raw);
	expect_error_and_close(fd, VG_WIRE_UNKNOWN_REF);
	vg_buf_release(&raw);
	check_agent_unharmed(true);
}
END_TEST

START_TEST(test_zstd_bomb)
{
	int fd = vg_t_connect(rcv.port);
	size_t raw_len = 512u << 20, bound;
	uint8_t *zeros = calloc(1, raw_len);
	struct vg_buf z = VG_BUF_INIT, wire = VG_BUF_INIT;
	uint8_t hdr[VG_FRAME_HEADER_SIZE] = { 'V', 'G', 'I', 'L', 1, VG_FRAME_SAMPLES, 0, VG_FRAME_F_ZSTD };
	size_t n;

	ck_assert_int_eq(vg_t_hello(fd, "hostile-4", 1, NULL), 0);
	bound = ZSTD_compressBound(raw_len);
	vg_buf_grow(&z, bound);
	n = ZSTD_compress(z.data, bound, zeros, raw_len, 1);
	ck_assert(!ZSTD_isError(n));
	free(zeros);
	vg_put_be64(hdr + 8, 1);
	vg_put_be32(hdr + 16, (uint32_t)n);
	vg_buf_append(&wire, hdr, sizeof(hdr));
	vg_buf_append(&wire, z.data, n);
	/* A correct checksum, computed as docs/protocol.md defines it. */
	vg_put_be32(wire.data + 20, (uint32_t)XXH3_64bits_withSeed(wire.data + VG_FRAME_HEADER_SIZE, n,
								  XXH3_64bits(wire.data, 20)));
	vg_t_write_all(fd, wire.data, wire.len);
	expect_error_and_close(fd, VG_WIRE_TOO_LARGE);
	vg_buf_release(&z);
	vg_buf_release(&wire);
	check_agent_unharmed(true);
}
END_TEST

START_TEST(test_large_frame_before_hello)
{
	int fd = vg_t_connect(rcv.port);
	uint8_t hdr[VG_FRAME_HEADER_SIZE] = { 'V', 'G', 'I', 'L', 1, VG_FRAME_HELLO, 0, 0 };

	/* A HELLO that claims the largest payload: refused from the header,
	 * before the receiver buffers a byte of it. */
	vg_put_be32(hdr + 16, VG_FRAME_MAX_PAYLOAD);
	vg_t_write_all(fd, hdr, sizeof(hdr));
	expect_error_and_close(fd, VG_WIRE_TOO_LARGE);
	check_agent_unharmed(true);
}
END_TEST

START_TEST(test_silent_connection_closed_without_hello)
{
	int fd = vg_t_connect(rcv.port);
	struct vg_frame_header h;
	struct vg_buf payload = VG_BUF_INIT;
	int64_t t0 = vg_t_now_ms();

	/* Nothing sent: closed after the HELLO deadline (2 s here). */
	ck_assert_int_eq(vg_t_read_frame(fd, 20000, &h, &payload), 1);
	ck_assert_int_ge(vg_t_now_ms() - t0, 1900);
	close(fd);
	vg_buf_release(&payload);
	check_agent_unharmed(false);
}
END_TEST

/* A series over the key limit is refused each time it is sent, and leaves
 * nothing behind that would stop a restart. */
START_TEST(test_oversized_series_refused_every_time)
{
	static char big[4001];
	char names[5][16];
	struct vg_series series;
	struct vg_buf raw = VG_BUF_INIT;
	msgpack_packer pk;

	memset(big, 'x', 4000);
	vg_series_init(&series, "big");
	for (int i = 0; i < 5; i++) {
		snprintf(names[i], sizeof(names[i]), "l%d", i);
		vg_series_add(&series, names[i], big);
	}
	vg_mp_packer_init(&pk, &raw);
	vg_series_pack_begin(&pk, 1);
	vg_series_pack_entry(&pk, 0, &series);
	for (int attempt = 0; attempt < 2; attempt++) {
		int fd = vg_t_connect(rcv.port);
		ck_assert_int_eq(vg_t_hello(fd, "hostile-5", 1, NULL), 0);
		send_frame(fd, VG_FRAME_SERIES, 0, &raw);
		expect_error_and_close(fd, VG_WIRE_TOO_LARGE);
	}
	vg_buf_release(&raw);
	check_agent_unharmed(true);
	/* And the receiver still restarts on its WAL. */
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGKILL, 5000), 128 + SIGKILL);
	char listen[64], data[sizeof(rcv.data_dir)];
	snprintf(listen, sizeof(listen), "--listen=127.0.0.1:%u", rcv.port);
	snprintf(data, sizeof(data), "%s", rcv.data_dir);
	ck_assert_int_eq(vg_t_receiver_start(&rcv, data, listen), 0);
}
END_TEST

START_TEST(test_connection_churn)
{
	for (int i = 0; i < 300; i++) {
		int fd = vg_t_connect(rcv.port);
		ck_assert_int_ge(fd, 0);
		if (i % 3 == 0)
			vg_t_write_all(fd, "VGIL", 4);
		close(fd);
	}
	check_agent_unharmed(false);
}
END_TEST

static Suite *hostile_suite(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc = tcase_create("raw-clients");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_garbage_bytes);
	tcase_add_test(tc, test_hello_then_corrupt_frame);
	tcase_add_test(tc, test_frame_claiming_4gib);
	tcase_add_test(tc, test_truncated_frame_then_close);
	tcase_add_test(tc, test_samples_before_hello);
	tcase_add_test(tc, test_unknown_series_ref);
	tcase_add_test(tc, test_zstd_bomb);
	tcase_add_test(tc, test_connection_churn);
	tcase_add_test(tc, test_large_frame_before_hello);
	tcase_add_test(tc, test_silent_connection_closed_without_hello);
	tcase_add_test(tc, test_oversized_series_refused_every_time);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(hostile_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
