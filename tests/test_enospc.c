/*
 * test_enospc.c: a full disk is survived (issue 10, point 7), on a real
 * filesystem. The receiver runs on a small tmpfs that the test mounts
 * (in a mount namespace of its own, so the mount goes with the test);
 * a raw agent sends batches; a filler file takes every free page. Then:
 *  - batches are refused with ERROR INTERNAL saying why (no space), a new
 *    connection's HELLO is refused up front, /metrics says the WAL fails;
 *  - the filler goes and, with no restart, HELLO and batches are taken
 *    again, the HELLO's ACK names the last batch acknowledged before (the
 *    refused ones are not counted as stored), the agent sends the refused
 *    batches again;
 *  - every acknowledged sample is queryable exactly once, before and after
 *    a kill -9 and restart (so the series records the failure cost were
 *    written again).
 * Without the privilege to mount (not root) the suite is skipped with the
 * reason; CI runs as root, so it runs there.
 */
#include "config.h"

#include "tests/harness.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/frame.h"
#include "common/mpack.h"
#include "common/series.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/banned.h"

#define FS_BYTES "8m"
#define MAX_SEQ 5000 /* a 7 ms step: the query of them stays under 11,000 points */

static char *top;
static char mnt[600];
static char data_dir[700];
static char fill_path[700];
static char raw_dir[800]; /* data_dir/blocks/raw */
static struct vg_t_receiver rcv;

/* Per agent: which seqs were acknowledged, and their sample. */
struct agent_log {
	const char *name;
	const char *job;
	int64_t base_ms;
	bool acked[MAX_SEQ + 1];
	uint64_t last_acked;
	uint64_t max_seq; /* the highest sent */
};

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t ts_of(const struct agent_log *a, uint64_t seq)
{
	return a->base_ms + (int64_t)seq * 7;
}

static double value_of(uint64_t seq)
{
	return (double)seq * 1.5;
}

/* Takes every free page of the filesystem. */
static void fill_disk(void)
{
	static char chunk[4096];
	int fd = open(fill_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	memset(chunk, 0x5a, sizeof(chunk));
	do
		n = write(fd, chunk, sizeof(chunk));
	while (n > 0);
	ck_assert_int_eq(errno, ENOSPC);
	/* The last partial page too. */
	do
		n = write(fd, chunk, 1);
	while (n > 0);
	close(fd);
}

enum reply { R_ACK, R_ERROR, R_CLOSED };

/* Reads one reply: an ACK (its seq in *seq), or an ERROR (code and
 * message). */
static enum reply read_reply(int fd, uint64_t *seq, uint32_t *code, char *msg, size_t msg_len)
{
	struct vg_frame_header h;
	struct vg_buf payload = VG_BUF_INIT;
	enum reply r = R_CLOSED;
	int rc = vg_t_read_frame(fd, 10000, &h, &payload);

	ck_assert_int_ge(rc, 0);
	if (rc == 0 && h.type == VG_FRAME_ACK) {
		*seq = h.seq;
		r = R_ACK;
	} else if (rc == 0) {
		struct vg_error_msg em;
		struct vg_err err;
		ck_assert_uint_eq(h.type, VG_FRAME_ERROR);
		ck_assert_int_eq(vg_error_decode(payload.data, payload.len, &em, &err), 0);
		*code = em.code;
		snprintf(msg, msg_len, "%.*s", (int)em.message.len, em.message.p);
		r = R_ERROR;
	}
	vg_buf_release(&payload);
	return r;
}

/* Connects and says HELLO: the fd, with *reply what came back. */
static int hello(struct agent_log *a, enum reply *reply, uint64_t *acked, char *msg, size_t msg_len)
{
	struct vg_hello hl = { VG_PROTO_VERSION, vg_str_c(a->name), 1, vg_str_c(""), vg_str_c("test") };
	struct vg_buf raw = VG_BUF_INIT;
	uint32_t code = 0;
	int fd = vg_t_connect(rcv.port);

	ck_assert_int_ge(fd, 0);
	vg_hello_pack(&hl, &raw);
	vg_t_send_frame(fd, VG_FRAME_HELLO, 0, &raw);
	vg_buf_release(&raw);
	*reply = read_reply(fd, acked, &code, msg, msg_len);
	if (*reply == R_ERROR)
		ck_assert_uint_eq(code, VG_WIRE_INTERNAL);
	return fd;
}

/* Sends batch seq (one sample of ref 0) and reads the reply; an ACK
 * covering it marks it acknowledged. */
static enum reply send_batch(int fd, struct agent_log *a, uint64_t seq, char *msg, size_t msg_len)
{
	uint64_t acked = 0;
	uint32_t code = 0;
	enum reply r;

	vg_t_send_sample(fd, seq, ts_of(a, seq), value_of(seq));
	if (seq > a->max_seq)
		a->max_seq = seq;
	r = read_reply(fd, &acked, &code, msg, msg_len);
	if (r == R_ACK) {
		ck_assert_uint_ge(acked, seq);
		a->acked[seq] = true;
		a->last_acked = seq;
	} else if (r == R_ERROR) {
		ck_assert_uint_eq(code, VG_WIRE_INTERNAL);
	}
	return r;
}

static bool metric_is(const char *name, const char *want)
{
	long status;
	char *body = vg_t_http_get(rcv.http_port, "/metrics", &status);
	char line[256];
	bool is_equal;

	ck_assert_ptr_nonnull(body);
	snprintf(line, sizeof(line), "\n%s %s\n", name, want);
	is_equal = strstr(body, line) != NULL;
	free(body);
	return is_equal;
}

static uint64_t metric_value(const char *name)
{
	long status;
	char *body = vg_t_http_get(rcv.http_port, "/metrics", &status);
	char pat[256];
	const char *p;
	uint64_t v = 0;

	ck_assert_ptr_nonnull(body);
	snprintf(pat, sizeof(pat), "\n%s ", name);
	p = strstr(body, pat);
	ck_assert_msg(p != NULL, "no %s in /metrics", name);
	v = strtoull(p + strlen(pat), NULL, 10);
	free(body);
	return v;
}

static void wait_metric(const char *name, const char *want)
{
	int64_t deadline = vg_t_now_ms() + 10000;

	while (!metric_is(name, want) && vg_t_now_ms() < deadline)
		vg_t_sleep_ms(20);
	ck_assert_msg(metric_is(name, want), "%s never became %s", name, want);
}

/* Every acknowledged sample of a is stored exactly once (with its value);
 * any other sample there is one of a batch that was refused (its
 * retry stored it, or its refusal left it in the head). */
static void check_stored(const struct agent_log *a)
{
	char sel[128], path[1024], *q;
	json_t *doc, *res, *values;
	long status;
	size_t i, n_acked = 0, n_found = 0;
	int64_t prev = INT64_MIN;

	snprintf(sel, sizeof(sel), "enospc_test{job=\"%s\"}", a->job);
	q = vg_t_urlencode(sel);
	snprintf(path, sizeof(path),
		 "/api/v1/query_range?query=%s&start=%.3f&end=%.3f&step=0.001&lookback_delta=0.001", q,
		 (a->base_ms - 1) / 1000.0, (ts_of(a, a->max_seq + 1) + 1) / 1000.0);
	free(q);
	doc = vg_t_http_json(rcv.http_port, path, &status);
	ck_assert_ptr_nonnull(doc);
	ck_assert_int_eq(status, 200);
	res = json_object_get(json_object_get(doc, "data"), "result");
	for (uint64_t s = 1; s <= MAX_SEQ; s++)
		n_acked += a->acked[s];
	ck_assert_uint_gt(n_acked, 0);
	ck_assert_msg(json_array_size(res) == 1, "%s: %zu series", path, json_array_size(res));
	values = json_object_get(json_array_get(res, 0), "values");
	for (i = 0; i < json_array_size(values); i++) {
		json_t *pt = json_array_get(values, i);
		int64_t t = (int64_t)(json_number_value(json_array_get(pt, 0)) * 1000.0 + 0.5);
		double v = strtod(json_string_value(json_array_get(pt, 1)), NULL);
		uint64_t seq = (uint64_t)((t - a->base_ms) / 7);

		ck_assert_int_gt(t, prev); /* none twice */
		prev = t;
		ck_assert_int_eq(t, ts_of(a, seq));
		ck_assert(v == value_of(seq));
		n_found += a->acked[seq];
	}
	ck_assert_msg(n_found == n_acked, "%zu of %zu acknowledged samples of job %s found", n_found,
		      n_acked, a->job);
	json_decref(doc);
}

START_TEST(test_full_disk_refuses_then_resumes_without_restart)
{
	static struct agent_log a = { "enospc-a", "a", 0, { 0 }, 0, 0 };
	static struct agent_log b = { "enospc-b", "b", 0, { 0 }, 0, 0 };
	char msg[512];
	uint64_t seq = 0, seq_b = 0, first_refused = 0, acked = 0;
	enum reply r = R_ACK;
	int fd, fd_b;
	int64_t deadline;

	a.base_ms = wall_ms() - 120000;
	b.base_ms = a.base_ms + 1;
	ck_assert_int_eq(vg_t_receiver_start(&rcv, data_dir, NULL), 0);
	fd = hello(&a, &r, &acked, msg, sizeof(msg));
	ck_assert_int_eq(r, R_ACK);
	vg_t_define_series(fd, "enospc_test", a.job);
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(send_batch(fd, &a, ++seq, msg, sizeof(msg)), R_ACK);
	/* Agent b says HELLO now and defines its series only once the disk is
	 * full: that series' record is lost with the failure. */
	fd_b = hello(&b, &r, &acked, msg, sizeof(msg));
	ck_assert_int_eq(r, R_ACK);

	fill_disk();
	vg_t_define_series(fd_b, "enospc_test", b.job);
	r = send_batch(fd_b, &b, ++seq_b, msg, sizeof(msg));
	/* The WAL's last page may have room for a few batches more. */
	while (r == R_ACK && seq < MAX_SEQ - 100)
		r = send_batch(fd, &a, ++seq, msg, sizeof(msg));
	ck_assert_int_eq(r, R_ERROR);
	ck_assert_msg(strstr(msg, "No space left on device") != NULL, "refusal says: %s", msg);
	first_refused = seq;
	close(fd);
	close(fd_b);
	wait_metric("vigil_receiver_wal_failing", "1");
	ck_assert_uint_ge(metric_value("vigil_receiver_wal_sync_errors_total"), 1);

	/* While full, a new connection is refused up front, with the reason. */
	for (int i = 0; i < 3; i++) {
		fd = hello(&a, &r, &acked, msg, sizeof(msg));
		ck_assert_int_eq(r, R_ERROR);
		ck_assert_msg(strstr(msg, "No space left on device") != NULL, "refusal says: %s", msg);
		close(fd);
		vg_t_sleep_ms(50);
	}
	/* And an import: 503 unavailable in the JSON envelope, with its
	 * counts. */
	{
		static const char lines[] = "enospc_import 1\n";
		long status = 0;
		char *body = vg_t_http_post(rcv.http_port, "/api/v1/import/prometheus", lines, sizeof(lines) - 1,
					    &status);
		json_t *j = body ? json_loads(body, 0, NULL) : NULL;
		ck_assert_msg(status == 503 && j != NULL, "import while full: %ld %s", status, body ? body : "");
		ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "error");
		ck_assert_str_eq(json_string_value(json_object_get(j, "errorType")), "unavailable");
		ck_assert(json_is_object(json_object_get(j, "data")));
		json_decref(j);
		free(body);
	}
	ck_assert(vg_t_alive(&rcv.proc));

	/* Space again: no restart, the receiver takes batches by itself. */
	ck_assert_int_eq(unlink(fill_path), 0);
	deadline = vg_t_now_ms() + 10000;
	for (;;) {
		fd = hello(&a, &r, &acked, msg, sizeof(msg));
		if (r == R_ACK || vg_t_now_ms() > deadline)
			break;
		close(fd);
		vg_t_sleep_ms(50);
	}
	ck_assert_int_eq(r, R_ACK);
	/* What the receiver says it has is what it acknowledged: the refused
	 * batches must be sent again. */
	ck_assert_uint_eq(acked, a.last_acked);
	vg_t_define_series(fd, "enospc_test", a.job);
	for (uint64_t s = a.last_acked + 1; s <= first_refused; s++)
		ck_assert_int_eq(send_batch(fd, &a, s, msg, sizeof(msg)), R_ACK);
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(send_batch(fd, &a, ++seq, msg, sizeof(msg)), R_ACK);
	fd_b = hello(&b, &r, &acked, msg, sizeof(msg));
	ck_assert_int_eq(r, R_ACK);
	ck_assert_uint_eq(acked, b.last_acked);
	vg_t_define_series(fd_b, "enospc_test", b.job);
	for (uint64_t s = b.last_acked + 1; s <= seq_b + 5; s++)
		ck_assert_int_eq(send_batch(fd_b, &b, s, msg, sizeof(msg)), R_ACK);
	close(fd);
	close(fd_b);
	ck_assert(metric_is("vigil_receiver_wal_failing", "0"));
	ck_assert_uint_ge(metric_value("vigil_receiver_wal_recoveries_total"), 1);
	check_stored(&a);
	check_stored(&b);
	ck_assert(vg_t_log_contains(&rcv.proc, "refusing agents' batches until the disk takes writes again"));
	ck_assert(vg_t_log_contains(&rcv.proc, "WAL writes work again"));

	/* A seal while the disk is full fails, leaves no file behind, and is
	 * tried again by the receiver once there is room. */
	fill_disk();
	{
		long status = 0;
		char *body = vg_t_http_post(rcv.http_port, "/api/v1/admin/seal", "", 0, &status);
		ck_assert_int_eq(status, 503);
		ck_assert_ptr_nonnull(body);
		ck_assert_msg(strstr(body, "No space left on device") != NULL, "seal says: %s", body);
		free(body);
	}
	ck_assert_int_eq(vg_t_count_files(raw_dir, ".vgb"), 0);
	ck_assert_int_eq(vg_t_count_files(raw_dir, ".tmp"), 0);
	ck_assert_int_eq(unlink(fill_path), 0);
	deadline = vg_t_now_ms() + 20000;
	while (vg_t_count_files(raw_dir, ".vgb") == 0 && vg_t_now_ms() < deadline)
		vg_t_sleep_ms(100);
	ck_assert_msg(vg_t_count_files(raw_dir, ".vgb") > 0, "the failed seal was not tried again");
	wait_metric("vigil_receiver_wal_failing", "0");
	check_stored(&a);
	check_stored(&b);

	/* What the WAL and the blocks hold reads the same: kill -9, start again. */
	ck_assert_int_eq(vg_t_stop(&rcv.proc, SIGKILL, 5000), 128 + SIGKILL);
	ck_assert_int_eq(vg_t_receiver_start(&rcv, data_dir, NULL), 0);
	check_stored(&a);
	check_stored(&b);
	ck_assert(!vg_t_log_contains(&rcv.proc, "samples of unknown series were dropped"));
	vg_t_stop(&rcv.proc, SIGTERM, 10000);
}
END_TEST

static Suite *enospc_suite(void)
{
	Suite *s = suite_create("enospc");
	TCase *tc = tcase_create("full_disk");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_full_disk_refuses_then_resumes_without_restart);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int nf;

	top = vg_t_tmpdir("vg-enospc");
	snprintf(mnt, sizeof(mnt), "%s/fs", top);
	/* The mount itself, so the log and port file lie beside it, outside. */
	snprintf(data_dir, sizeof(data_dir), "%s", mnt);
	snprintf(fill_path, sizeof(fill_path), "%s/fill", mnt);
	snprintf(raw_dir, sizeof(raw_dir), "%s/blocks/raw", data_dir);
	if (mkdir(mnt, 0755) != 0) {
		perror(mnt);
		return 1;
	}
	/* A private mount namespace: the tmpfs goes when the test does. */
	if (unshare(CLONE_NEWNS) == 0)
		(void)mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=" FS_BYTES) != 0) {
		printf("SKIP: test_enospc needs to mount a %s tmpfs at %s and cannot: %s "
		       "(run as root or with CAP_SYS_ADMIN)\n", FS_BYTES, mnt, strerror(errno));
		vg_t_rmrf(top);
		free(top);
		return 77;
	}
	sr = srunner_create(enospc_suite());
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	(void)umount2(mnt, MNT_DETACH);
	vg_t_rmrf(top);
	free(top);
	return nf == 0 ? 0 : 1;
}
