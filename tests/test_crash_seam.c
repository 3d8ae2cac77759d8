/*
 * test_crash_seam.c: an ACK is sent only for what the disk has. The real
 * ingest path (receiver/ingest/ingest.c with the WAL's writer thread) runs
 * in this process on a WAL whose file operations (common/fs.h) remember,
 * for every segment, how many bytes the last successful fdatasync covered,
 * and make every fdatasync slow, so a batch lies written but unsynced for
 * a while. A raw agent sends batches over loopback; the moment each ACK
 * arrives the test takes what a power cut would leave: every segment cut
 * to its synced length. Replaying that copy must give back every batch the
 * ACK covers. An ACK sent before its sync (kill -9 cannot show that: the
 * page cache survives it) fails here.
 */
#include "config.h"

#include "tests/harness.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "receiver/ingest/ingest.h"
#include "receiver/stats.h"
#include "receiver/storage/head.h"
#include "receiver/storage/wal.h"

#include <check.h>
#include <dirent.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/banned.h"

#define MAX_FILES 64
#define BATCHES 40

/* What the disk is known to hold: per file, the length the last
 * successful fdatasync of it covered. */
struct synced_file {
	char path[PATH_MAX];
	off_t len;
};

static pthread_mutex_t seam_mu = PTHREAD_MUTEX_INITIALIZER;
static struct synced_file files[MAX_FILES];
static int n_files;

static int seam_fdatasync(int fd)
{
	char link[64], path[PATH_MAX];
	struct stat sb;
	ssize_t n;
	int rc;

	/* Slow, so that written-but-unsynced lasts long enough to be seen. */
	usleep(20000);
	rc = fdatasync(fd);
	if (rc != 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
		return rc;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return rc;
	path[n] = '\0';
	pthread_mutex_lock(&seam_mu);
	{
		int i;
		for (i = 0; i < n_files && strcmp(files[i].path, path) != 0; i++)
			;
		if (i == n_files && n_files < MAX_FILES)
			snprintf(files[n_files++].path, PATH_MAX, "%s", path);
		if (i < MAX_FILES)
			files[i].len = sb.st_size;
	}
	pthread_mutex_unlock(&seam_mu);
	return rc;
}

static const struct vg_fileops seam_ops = { NULL, seam_fdatasync, NULL };

/* Copies wal_dir to out as a power cut now would leave it: each segment
 * cut to its synced length; a segment never synced is not there. */
static void power_cut_copy(const char *wal_dir, const char *out)
{
	char src[PATH_MAX], dst[PATH_MAX * 2];
	struct dirent *de;
	DIR *d;

	ck_assert_int_eq(vg_fs_mkdir_p(out, NULL, NULL), 0);
	ck_assert_ptr_nonnull(d = opendir(wal_dir));
	pthread_mutex_lock(&seam_mu);
	while ((de = readdir(d)) != NULL) {
		off_t len = -1;
		int in, o;

		if (de->d_name[0] == '.')
			continue;
		snprintf(src, sizeof(src), "%s/%s", wal_dir, de->d_name);
		for (int i = 0; i < n_files; i++)
			if (strcmp(files[i].path, src) == 0)
				len = files[i].len;
		if (len < 0)
			continue;
		snprintf(dst, sizeof(dst), "%s/%s", out, de->d_name);
		ck_assert_int_ge(in = open(src, O_RDONLY), 0);
		ck_assert_int_ge(o = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644), 0);
		for (off_t off = 0; off < len;) {
			char buf[65536];
			ssize_t n = pread(in, buf, (size_t)(len - off < (off_t)sizeof(buf) ? len - off : (off_t)sizeof(buf)), off);
			ck_assert_int_gt(n, 0);
			ck_assert_int_eq(write(o, buf, (size_t)n), n);
			off += n;
		}
		close(in);
		close(o);
	}
	pthread_mutex_unlock(&seam_mu);
	closedir(d);
}

struct replayed {
	uint64_t max_seq;  /* highest SAMPLES seq of the test's agent */
	size_t samples;
};

static int on_series(void *arg, uint32_t id, const uint8_t *key, size_t key_len)
{
	(void)arg;
	(void)id;
	(void)key;
	(void)key_len;
	return 0;
}

static int on_samples(void *arg, const struct vg_wal_samples *s)
{
	struct replayed *r = arg;

	if (s->n > 0 && s->seq > r->max_seq)
		r->max_seq = s->seq;
	r->samples += s->n;
	return 0;
}

static void *loop_main(void *arg)
{
	event_base_dispatch(arg);
	return NULL;
}

START_TEST(test_every_ack_is_covered_by_a_sync)
{
	char *dir = vg_t_tmpdir("vigil-seam");
	char wal_dir[600], cut[700];
	struct vg_wal_options wo = { 0, &seam_ops };
	struct vg_stats stats;
	struct vg_head *head = vg_head_new();
	struct vg_ingest *ing;
	struct vg_wal *wal;
	struct event_base *base;
	struct vg_err err;
	pthread_t th;
	uint64_t acked = 0;
	int fd;

	vg_log_set_level(VG_LOG_ERROR);
	evthread_use_pthreads();
	base = event_base_new();
	vg_stats_init(&stats);
	snprintf(wal_dir, sizeof(wal_dir), "%s/wal", dir);
	{
		struct vg_ingest_options io = { .host = "127.0.0.1", .port = 0, .max_connections = 16,
						.base = base, .head = head, .stats = &stats };
		ck_assert_int_eq(vg_ingest_new(&io, &ing, &err), 0);
	}
	ck_assert_msg(vg_wal_open(wal_dir, &wo, NULL, &wal, NULL, &err) == 0, "%s", err.msg);
	ck_assert_msg(vg_ingest_listen(ing, wal, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(pthread_create(&th, NULL, loop_main, base), 0);

	fd = vg_t_connect(vg_ingest_port(ing));
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vg_t_hello(fd, "seam-agent", 7, &acked), 0);
	vg_t_define_series(fd, "seam_m", "seam");
	for (uint64_t seq = 1; seq <= BATCHES; seq++) {
		struct replayed r = { 0, 0 };
		struct vg_wal_replay_cb cb = { on_series, on_samples, &r };
		struct vg_wal *w2;

		/* Two batches in flight: the second is written while the
		 * first waits for its sync. */
		vg_t_send_sample(fd, seq, 1700000000000LL + (int64_t)seq * 1000, (double)seq);
		if (seq % 2 == 1 && seq < BATCHES)
			continue;
		acked = vg_t_wait_ack(fd, seq - 1);
		/* The power cut, the moment the ACK is in. */
		snprintf(cut, sizeof(cut), "%s/cut-%llu", dir, (unsigned long long)seq);
		power_cut_copy(wal_dir, cut);
		ck_assert_msg(vg_wal_open(cut, NULL, &cb, &w2, NULL, &err) == 0, "%s", err.msg);
		vg_wal_close(w2);
		ck_assert_msg(r.max_seq >= acked, "ACK for seq %llu, but a power cut keeps only up to %llu",
			      (unsigned long long)acked, (unsigned long long)r.max_seq);
	}
	close(fd);
	event_base_loopexit(base, NULL);
	pthread_join(th, NULL);
	vg_ingest_free(ing);
	vg_wal_close(wal);
	event_base_free(base);
	vg_head_free(head);
	vg_t_rmrf(dir);
	free(dir);
}
END_TEST

static Suite *seam_suite(void)
{
	Suite *s = suite_create("crash_seam");
	TCase *tc = tcase_create("ingest");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_every_ack_is_covered_by_a_sync);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(seam_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
