/* test_wal.c: the write-ahead log (receiver/storage/wal.c): round trips, segment
 * rolls, crash and corruption recovery through the I/O seam, hostile
 * records, the on-disk format pinned by hand-built bytes and a fixture, and
 * the replay rate (printed, not asserted). Each test runs in its own
 * temporary directory. */
#include "config.h" /* _GNU_SOURCE, before any system header: nftw */

#include "receiver/storage/wal.h"
#include "common/fs.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/banned.h"

#define STALE_NAN_BITS 0x7ff0000000000002ULL

static char tmpdir[64];
static char waldir[128];

/* ---- fixture and file helpers -------------------------------------------- */

enum fault { FAULT_NONE, FAULT_CRASH_HALFWAY, FAULT_GARBLE };
static enum fault write_fault;
static int fdatasync_passes;   /* let this many calls through, then */
static int fdatasync_failures; /* fail this many, then succeed again */
static int fdatasync_calls;

/* A full disk: while disk_full, writes take what is left of room_bytes,
 * then fail with ENOSPC (the writer thread calls these: atomics). */
static _Atomic bool disk_full;
static _Atomic long room_bytes;

static ssize_t fault_write(int fd, const void *p, size_t n)
{
	if (atomic_load(&disk_full)) {
		long room = atomic_load(&room_bytes);
		if (room <= 0) {
			errno = ENOSPC;
			return -1;
		}
		if ((size_t)room < n)
			n = (size_t)room;
		atomic_fetch_sub(&room_bytes, (long)n);
		return write(fd, p, n);
	}
	if (write_fault == FAULT_CRASH_HALFWAY) {
		/* Half the bytes reach the file, then the process "dies". */
		ssize_t r = write(fd, p, n / 2);
		(void)r;
		errno = EIO;
		return -1;
	}
	if (write_fault == FAULT_GARBLE && n > 16) {
		uint8_t *copy = malloc(n);
		ssize_t r;
		ck_assert_ptr_nonnull(copy);
		memcpy(copy, p, n);
		copy[n / 2] ^= 0x10;
		r = write(fd, copy, n);
		free(copy);
		return r;
	}
	return write(fd, p, n);
}

static int fault_fdatasync(int fd)
{
	fdatasync_calls++;
	if (fdatasync_passes > 0)
		fdatasync_passes--;
	else if (fdatasync_failures > 0) {
		fdatasync_failures--;
		errno = EIO;
		return -1;
	}
	return fdatasync(fd);
}

static const struct vg_fileops fault_ops = { fault_write, fault_fdatasync, NULL };

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vg-test-wal-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(waldir, sizeof(waldir), "%s/wal", tmpdir);
	write_fault = FAULT_NONE;
	fdatasync_passes = 0;
	fdatasync_failures = 0;
	fdatasync_calls = 0;
	atomic_store(&disk_full, false);
	atomic_store(&room_bytes, 0);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	return remove(path);
}

static void teardown(void)
{
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void seg_path(char *out, size_t n, uint32_t segno)
{
	snprintf(out, n, "%s/%08" PRIu32, waldir, segno);
}

static off_t file_size(const char *path)
{
	struct stat sb;
	ck_assert_int_eq(stat(path, &sb), 0);
	return sb.st_size;
}

static bool file_exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0;
}

static size_t read_file(const char *path, uint8_t **out)
{
	off_t size = file_size(path);
	uint8_t *p = malloc((size_t)size + 1);
	FILE *f = fopen(path, "rb");

	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fread(p, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	*out = p;
	return (size_t)size;
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

static void append_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "ab");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

static void patch_file(const char *path, off_t off, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, p, n, off), (ssize_t)n);
	close(fd);
}

static size_t count_segments(void)
{
	char path[256];
	size_t n = 0;
	uint32_t i;

	for (i = 1; i < 10000; i++) {
		seg_path(path, sizeof(path), i);
		if (file_exists(path))
			n++;
	}
	return n;
}

/* Record offsets in a segment file, walking the length fields. */
static size_t record_offsets(uint32_t segno, uint64_t *offs, size_t max)
{
	char path[256];
	uint8_t *p;
	size_t size, off = 16, n = 0;

	seg_path(path, sizeof(path), segno);
	size = read_file(path, &p);
	while (off + 8 <= size && n < max) {
		uint32_t len = (uint32_t)p[off] | (uint32_t)p[off + 1] << 8 |
			       (uint32_t)p[off + 2] << 16 | (uint32_t)p[off + 3] << 24;
		if (off + 8 + len > size)
			break;
		offs[n++] = off;
		off += 8 + len;
	}
	free(p);
	return n;
}

/* ---- the record log: what was appended, what replay saw ------------------ */

/* Every record as bytes (values by their bits), and where each one ends, so
 * a test can compare all of it or slices of it. */
struct reclog {
	struct vg_buf bytes;
	size_t *ends;
	size_t n, cap;
	size_t samples;
	/* replay control */
	size_t calls;
	size_t stop_at_call; /* 0: never */
	int stop_code;
	size_t unlink_at_call; /* 0: never; else removes segment unlink_segno then */
	uint32_t unlink_segno;
};

static void reclog_release(struct reclog *l)
{
	vg_buf_release(&l->bytes);
	free(l->ends);
	memset(l, 0, sizeof(*l));
}

static void reclog_end(struct reclog *l)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->ends = realloc(l->ends, l->cap * sizeof(*l->ends));
		ck_assert_ptr_nonnull(l->ends);
	}
	l->ends[l->n++] = l->bytes.len;
}

static void reclog_series(struct reclog *l, uint32_t id, const uint8_t *key, size_t len)
{
	vg_buf_putc(&l->bytes, 'S');
	vg_buf_append(&l->bytes, &id, sizeof(id));
	vg_buf_append(&l->bytes, &len, sizeof(len));
	vg_buf_append(&l->bytes, key, len);
	reclog_end(l);
}

static void reclog_samples(struct reclog *l, const struct vg_wal_samples *s)
{
	size_t i;

	vg_buf_putc(&l->bytes, 'B');
	vg_buf_append(&l->bytes, &s->agent_hash, 8);
	vg_buf_append(&l->bytes, &s->epoch, 8);
	vg_buf_append(&l->bytes, &s->seq, 8);
	vg_buf_append(&l->bytes, &s->n, sizeof(s->n));
	for (i = 0; i < s->n; i++) {
		uint64_t bits;
		memcpy(&bits, &s->values[i], 8);
		vg_buf_append(&l->bytes, &s->ids[i], 4);
		vg_buf_append(&l->bytes, &s->ts_ms[i], 8);
		vg_buf_append(&l->bytes, &bits, 8);
	}
	l->samples += s->n;
	reclog_end(l);
}

/* What another process sharing the directory would do in the middle of a
 * replay: remove a segment that the open already listed. */
static void maybe_unlink(struct reclog *l)
{
	char path[256];

	if (l->calls != l->unlink_at_call)
		return;
	seg_path(path, sizeof(path), l->unlink_segno);
	ck_assert_int_eq(unlink(path), 0);
}

static int on_series(void *arg, uint32_t id, const uint8_t *key, size_t key_len)
{
	struct reclog *l = arg;
	if (++l->calls == l->stop_at_call)
		return l->stop_code;
	maybe_unlink(l);
	reclog_series(l, id, key, key_len);
	return 0;
}

static int on_samples(void *arg, const struct vg_wal_samples *s)
{
	struct reclog *l = arg;
	if (++l->calls == l->stop_at_call)
		return l->stop_code;
	maybe_unlink(l);
	reclog_samples(l, s);
	return 0;
}

/* got equals the records [from, to) of want, concatenated with the records
 * [from2, to2). */
static void assert_log_slices(const struct reclog *want, const struct reclog *got, size_t from,
			      size_t to, size_t from2, size_t to2)
{
	struct vg_buf exp = VG_BUF_INIT;
	size_t a, b;

	if (to > from) {
		a = from ? want->ends[from - 1] : 0;
		b = want->ends[to - 1];
		vg_buf_append(&exp, want->bytes.data + a, b - a);
	}
	if (to2 > from2) {
		a = from2 ? want->ends[from2 - 1] : 0;
		b = want->ends[to2 - 1];
		vg_buf_append(&exp, want->bytes.data + a, b - a);
	}
	ck_assert_uint_eq(got->n, (to - from) + (to2 - from2));
	ck_assert_uint_eq(got->bytes.len, exp.len);
	ck_assert(exp.len == 0 || memcmp(got->bytes.data, exp.data, exp.len) == 0);
	vg_buf_release(&exp);
}

static void assert_log_eq(const struct reclog *want, const struct reclog *got)
{
	assert_log_slices(want, got, 0, want->n, 0, 0);
}

/* got holds the first records of want, at least min of them and not all:
 * what a crash may leave of appends that were written but never synced. */
static size_t assert_log_prefix(const struct reclog *want, const struct reclog *got, size_t min)
{
	ck_assert_uint_ge(got->n, min);
	ck_assert_uint_lt(got->n, want->n);
	assert_log_slices(want, got, 0, got->n, 0, 0);
	return got->n;
}

/* ---- generating and appending -------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

/* A frame's worth of node-like samples: consecutive ids, one timestamp,
 * counters, gauges with fractions, now and then a stale marker. */
static void append_batch(struct vg_wal *w, struct reclog *want, uint64_t seq, size_t n)
{
	uint32_t *ids = malloc(n * sizeof(*ids) + 1);
	int64_t *ts = malloc(n * sizeof(*ts) + 1);
	double *values = malloc(n * sizeof(*values) + 1);
	uint32_t base = (uint32_t)(rng() % 100000);
	int64_t t = 1700000000000LL + (int64_t)seq * 10000;
	struct vg_wal_samples s;
	struct vg_err err;
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t r = rng();
		ids[i] = base + (uint32_t)i;
		ts[i] = t;
		switch (r % 4) {
		case 0: values[i] = (double)(r >> 20); break;
		case 1: values[i] = (double)(r % 100000) / 100.0; break;
		case 2: values[i] = (double)(r % 1000); break;
		default:
			if (r % 97 == 0) {
				uint64_t bits = STALE_NAN_BITS;
				memcpy(&values[i], &bits, 8);
			} else {
				values[i] = (double)(int64_t)(r % 5000) * 0.25 - 300.0;
			}
		}
	}
	s = (struct vg_wal_samples){ 0xabcdef0123456789ULL, 7, seq, n, ids, ts, values };
	ck_assert_int_eq(vg_wal_append_samples(w, &s, &err), 0);
	if (want)
		reclog_samples(want, &s);
	free(ids);
	free(ts);
	free(values);
}

static void append_series(struct vg_wal *w, struct reclog *want, uint32_t id)
{
	char key[64];
	int n = snprintf(key, sizeof(key), "node_load1\xffinstance\xffhost-%u\xff", id);
	struct vg_err err;

	ck_assert_int_eq(vg_wal_append_series(w, id, (const uint8_t *)key, (size_t)n, &err), 0);
	if (want)
		reclog_series(want, id, (const uint8_t *)key, (size_t)n);
}

static void sync_ok(struct vg_wal *w)
{
	struct vg_err err;
	int rc = vg_wal_sync(w, &err);
	ck_assert_msg(rc == 0, "sync: %s", err.msg);
}

static struct vg_wal *open_ok(uint64_t segment_bytes, const struct vg_fileops *ops,
			      struct reclog *got, struct vg_wal_stats *st)
{
	struct vg_wal_options opts = { segment_bytes, ops };
	struct vg_wal_replay_cb cb = { on_series, on_samples, got };
	struct vg_wal *w = NULL;
	struct vg_err err;
	int rc;

	rc = vg_wal_open(waldir, &opts, got ? &cb : NULL, &w, st, &err);
	ck_assert_msg(rc == 0, "open: %s", err.msg);
	ck_assert_ptr_nonnull(w);
	return w;
}

/* Writes a log of series and batches, syncing after each, into segments of
 * segment_bytes; returns how many segments hold it. */
static size_t write_log(struct reclog *want, uint64_t segment_bytes, size_t batches, size_t n)
{
	struct vg_wal *w = open_ok(segment_bytes, NULL, NULL, NULL);
	size_t i;

	for (i = 0; i < batches; i++) {
		append_series(w, want, (uint32_t)i);
		append_batch(w, want, i + 1, n);
		sync_ok(w);
	}
	vg_wal_close(w);
	return count_segments();
}

/* ---- round trips ----------------------------------------------------------- */

START_TEST(test_wal_roundtrip_keeps_values_bit_for_bit)
{
	static const uint64_t value_bits[] = {
		STALE_NAN_BITS,             /* the stale marker */
		0x7ff8000000000000ULL,      /* quiet NaN */
		0xfff8000000000001ULL,      /* negative NaN with a payload */
		0x7ff0000000000000ULL,      /* +inf */
		0xfff0000000000000ULL,      /* -inf */
		0x8000000000000000ULL,      /* -0.0 */
		0x0000000000000000ULL,      /* +0.0 */
		0x0000000000000001ULL,      /* smallest denormal */
		0x4340000000000000ULL,      /* 2^53 */
		0xc340000000000000ULL,      /* -2^53 */
		0x4340000000000001ULL,      /* 2^53 + 2: integral, past the exact range */
		0x43e0000000000000ULL,      /* 2^63 */
		0x3fb999999999999aULL,      /* 0.1 */
		0xbff0000000000000ULL,      /* -1 */
		0x419d6f3454000000ULL,      /* 123456789 */
		0x7fefffffffffffffULL,      /* DBL_MAX */
	};
	enum { N = sizeof(value_bits) / sizeof(value_bits[0]) };
	static const int64_t ts[N] = {
		-5, INT64_MIN, INT64_MAX, 0, 1700000000000LL, -1700000000000LL, INT64_MAX, INT64_MIN,
		1, -1, 2, 3, 1700000000000LL, 1700000000000LL, 1700000010000LL, 42,
	};
	static const uint32_t ids[N] = {
		0, UINT32_MAX, 0, 5, UINT32_MAX, UINT32_MAX - 1, 1, 2, 3, 1000000, 999999, 0,
		UINT32_MAX, 17, 18, 19,
	};
	static const uint8_t odd_key[] = { 'a', 0x00, 0xff, 'b', 0xff };
	double values[N];
	struct reclog want = { 0 }, got = { 0 };
	struct vg_wal_samples s;
	struct vg_wal_stats st;
	struct vg_wal *w;
	struct vg_err err;
	size_t i;

	for (i = 0; i < N; i++)
		memcpy(&values[i], &value_bits[i], 8);
	w = open_ok(0, NULL, NULL, NULL);
	ck_assert_int_eq(vg_wal_append_series(w, 0, (const uint8_t *)"up\xff", 3, &err), 0);
	reclog_series(&want, 0, (const uint8_t *)"up\xff", 3);
	ck_assert_int_eq(vg_wal_append_series(w, UINT32_MAX, odd_key, sizeof(odd_key), &err), 0);
	reclog_series(&want, UINT32_MAX, odd_key, sizeof(odd_key));
	ck_assert_int_eq(vg_wal_append_series(w, 7, NULL, 0, &err), 0);
	reclog_series(&want, 7, NULL, 0);
	s = (struct vg_wal_samples){ UINT64_MAX, UINT64_MAX, 1ULL << 63, N, ids, ts, values };
	ck_assert_int_eq(vg_wal_append_samples(w, &s, &err), 0);
	reclog_samples(&want, &s);
	s = (struct vg_wal_samples){ 0, 0, 0, 0, NULL, NULL, NULL }; /* an empty frame */
	ck_assert_int_eq(vg_wal_append_samples(w, &s, &err), 0);
	reclog_samples(&want, &s);
	sync_ok(w);
	vg_wal_close(w);

	w = open_ok(0, NULL, &got, &st);
	assert_log_eq(&want, &got);
	ck_assert_uint_eq(st.records, 5);
	ck_assert_uint_eq(st.samples, N);
	ck_assert_uint_eq(st.segments, 1);
	ck_assert_uint_eq(st.corrupt_tails + st.damaged_segments + st.bad_segments, 0);
	ck_assert_uint_eq(got.n, 5);
	vg_wal_close(w);
	reclog_release(&want);
	reclog_release(&got);
}
END_TEST

START_TEST(test_wal_many_records_span_segments)
{
	struct reclog want = { 0 }, got = { 0 };
	struct vg_wal_stats st, now;
	size_t segs;
	struct vg_wal *w;
	uint32_t i;

	segs = write_log(&want, 4096, 200, 20);
	ck_assert_uint_ge(segs, 5);
	w = open_ok(4096, NULL, &got, &st);
	assert_log_eq(&want, &got);
	ck_assert_uint_eq(st.segments, segs);
	ck_assert_uint_eq(st.records, 400);
	ck_assert_uint_eq(st.samples, 200 * 20);
	vg_wal_stats(w, &now);
	ck_assert_uint_eq(now.first_segment, 1);
	ck_assert_uint_eq(now.last_segment, segs);
	ck_assert_uint_eq(now.segments, segs);
	vg_wal_close(w);
	/* Every full segment stopped at a record boundary past the size. */
	for (i = 1; i < segs; i++) {
		char path[256];
		seg_path(path, sizeof(path), i);
		ck_assert_int_ge(file_size(path), 4096);
	}
	reclog_release(&want);
	reclog_release(&got);
}
END_TEST

START_TEST(test_wal_reopen_appends_after_replay)
{
	struct reclog want = { 0 }, got = { 0 }, got2 = { 0 };
	struct vg_wal_stats st;
	struct vg_wal *w;

	write_log(&want, 0, 3, 50);
	w = open_ok(0, NULL, &got, &st);
	assert_log_eq(&want, &got);
	ck_assert_uint_eq(st.last_segment, 1);
	append_series(w, &want, 1000);
	append_batch(w, &want, 100, 75);
	sync_ok(w);
	vg_wal_close(w);
	ck_assert_uint_eq(count_segments(), 1);
	w = open_ok(0, NULL, &got2, &st);
	assert_log_eq(&want, &got2);
	ck_assert_uint_eq(st.records, 8);
	vg_wal_close(w);
	reclog_release(&want);
	reclog_release(&got);
	reclog_release(&got2);
}
END_TEST

START_TEST(test_wal_stats_count_appends_and_skip_idle_syncs)
{
	struct vg_wal_stats st;
	struct vg_wal *w = open_ok(0, &fault_ops, NULL, &st);
	int calls;

	ck_assert_uint_eq(st.records, 0);
	ck_assert_uint_eq(st.first_segment, 1);
	ck_assert_uint_eq(st.last_segment, 1);
	vg_wal_stats(w, &st);
	ck_assert_uint_eq(st.segments, 1);
	ck_assert_uint_eq(st.bytes, 16);
	append_series(w, NULL, 1);
	append_batch(w, NULL, 1, 10);
	vg_wal_stats(w, &st);
	ck_assert_uint_eq(st.records, 2);
	ck_assert_uint_eq(st.samples, 10);
	ck_assert_uint_gt(st.bytes, 16 + 2 * 8 + 10 * 3);
	sync_ok(w);
	calls = fdatasync_calls;
	sync_ok(w); /* nothing new: no fdatasync */
	ck_assert_int_eq(fdatasync_calls, calls);
	vg_wal_stats(w, &st);
	ck_assert_uint_eq(st.syncs, 1);
	vg_wal_close(w);
}
END_TEST

/* ---- directory cases --------------------------------------------------------- */

START_TEST(test_wal_empty_dir_creates_segment_1)
{
	struct vg_wal_stats st;
	char path[256];
	uint8_t *p;
	struct vg_wal *w;

	ck_assert_int_eq(mkdir(waldir, 0755), 0);
	w = open_ok(0, NULL, NULL, &st);
	vg_wal_close(w);
	seg_path(path, sizeof(path), 1);
	ck_assert_uint_eq(read_file(path, &p), 16);
	ck_assert(memcmp(p, "VGWAL\x01\x00\x00\x01\x00\x00\x00", 12) == 0);
	ck_assert_uint_eq(st.records, 0);
	ck_assert_uint_eq(count_segments(), 1);
	free(p);
}
END_TEST

START_TEST(test_wal_missing_directory_created)
{
	char path[256];
	struct vg_wal *w;

	snprintf(waldir, sizeof(waldir), "%s/data/deeper/wal/", tmpdir);
	w = open_ok(0, NULL, NULL, NULL);
	append_batch(w, NULL, 1, 3);
	sync_ok(w);
	vg_wal_close(w);
	snprintf(waldir, sizeof(waldir), "%s/data/deeper/wal", tmpdir);
	seg_path(path, sizeof(path), 1);
	ck_assert_int_gt(file_size(path), 16);
}
END_TEST

START_TEST(test_wal_path_that_is_a_file_fails)
{
	struct vg_wal *w = (struct vg_wal *)&w;
	struct vg_err err;

	write_file(waldir, "x", 1);
	ck_assert_int_eq(vg_wal_open(waldir, NULL, NULL, &w, NULL, &err), VG_EINVAL);
	ck_assert_ptr_null(w);
	ck_assert_ptr_nonnull(strstr(err.msg, "not a directory"));
}
END_TEST

START_TEST(test_wal_other_files_ignored)
{
	char path[256];
	struct vg_wal *w;

	ck_assert_int_eq(mkdir(waldir, 0755), 0);
	snprintf(path, sizeof(path), "%s/README", waldir);
	write_file(path, "hello", 5);
	snprintf(path, sizeof(path), "%s/0000001", waldir); /* seven digits */
	write_file(path, "junk", 4);
	snprintf(path, sizeof(path), "%s/00000003.tmp", waldir);
	write_file(path, "junk", 4);
	snprintf(path, sizeof(path), "%s/000000002", waldir); /* not as we print 2 */
	write_file(path, "junk", 4);
	w = open_ok(0, NULL, NULL, NULL);
	vg_wal_close(w);
	seg_path(path, sizeof(path), 1);
	ck_assert_int_eq(file_size(path), 16);
	snprintf(path, sizeof(path), "%s/README", waldir);
	ck_assert_int_eq(file_size(path), 5);
}
END_TEST

/* ---- damaged tails of the last segment ----------------------------------- */

START_TEST(test_wal_truncated_tail_is_cut_and_appending_continues)
{
	struct reclog want = { 0 }, got = { 0 }, got2 = { 0 };
	struct vg_wal_stats st;
	uint64_t offs[64];
	char path[256];
	size_t n;
	struct vg_wal *w;

	write_log(&want, 0, 5, 40);
	n = record_offsets(1, offs, 64);
	ck_assert_uint_eq(n, 10);
	seg_path(path, sizeof(path), 1);
	ck_assert_int_eq(truncate(path, (off_t)offs[9] + 13), 0); /* into the last record */

	w = open_ok(0, NULL, &got, &st);
	assert_log_slices(&want, &got, 0, 9, 0, 0);
	ck_assert_uint_eq(st.corrupt_tails, 1);
	ck_assert_uint_eq(st.skipped_bytes, 13);
	ck_assert_int_eq(file_size(path), (off_t)offs[9]);
	/* Appends continue at the cut. */
	append_batch(w, &want, 99, 30);
	sync_ok(w);
	vg_wal_close(w);

	/* Old records but the torn one, then the new one, and nothing else. */
	w = open_ok(0, NULL, &got2, &st);
	assert_log_slices(&want, &got2, 0, 9, 10, 11);
	ck_assert_uint_eq(st.corrupt_tails, 0);
	ck_assert_uint_eq(st.records, 10);
	vg_wal_close(w);
	reclog_release(&want);
	reclog_release(&got);
	reclog_release(&got2);
}
END_TEST

START_TEST(test_wal_torn_record_header_is_cut)
{
	struct reclog want = { 0 }, got = { 0 };
	struct vg_wal_stats st;
	uint64_t offs[16];
	char path[256];
	struct vg_wal *w;

	write_log(&want, 0, 2, 10);
	ck_assert_uint_eq(record_offsets(1, offs, 16), 4);
	seg_path(path, sizeof(path), 1);
	ck_assert_int_eq(truncate(path, (off_t)offs[3] + 5), 0); /* 5 of 8 header bytes */
	w = open_ok(0, NULL, &got, &st);
	assert_log_slices(&want, &got, 0, 3, 0, 0);
	ck_assert_uint_eq(st.corrupt_tails, 1);
	ck_assert_int_eq(file_size(path), (off_t)offs[3]);
	vg_wal_close(w);
	reclog_release(&want);
	reclog_release(&got);
}
END_TEST

static void check_tail_garbage_is_cut(const void *junk, size_t junk_len)
{
	struct reclog want = { 0 }, got = { 0 }, got2 = { 0 };
	struct vg_wal_stats st;
	char path[256];
	off_t size;
	struct vg_wal *w;

	write_log(&want, 0, 4, 25);
	seg_path(path, sizeof(path), 1);
	size = file_size(path);
	append_file(path, junk, junk_len);
	w = open_ok(0, NULL, &got, &st);
	assert_log_eq(&want, &got);
	ck_assert_uint_eq(st.corrupt_tails, 1);
	ck_assert_uint_eq(st.skipped_bytes, junk_len);
	ck_assert_int_eq(file_size(path), size);
	append_batch(w, &want, 50, 5);
	sync_ok(w);
	vg_wal_close(w);
	w = open_ok(0, NULL, &got2, &st);
	assert_log_eq(&want, &got2);
	ck_assert_uint_eq(st.corrupt_tails, 0);
	vg_wal_close(w);
	reclog_release(&want);
	reclog_release(&got);
	reclog_release(&got2);
}

START_TEST(test_wal_garbage_tail_is_cut)
{
	uint8_t junk[300];
	size_t i;

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)rng();
	junk[0] = 40; /* a plausible length, so the checksum is what rejects it */
	junk[1] = junk[2] = junk[3] = 0;
	check_tail_garbage_is_cut(junk, sizeof(junk));
}
END_TEST

START_TEST(test_wal_zero_filled_tail_is_cut)
{
	static const uint8_t zeros[4096];
	check_tail_garbage_is_cut(zeros, sizeof(zeros));
}
END_TEST

START_TEST(test_wal_record_claiming_4gib_is_cut)
{
	uint8_t junk[64] = { 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 2 };
	check_tail_garbage_is_cut(junk, sizeof(junk));
}
END_TEST

START_TEST(test_wal_record_longer_than_limit_is_cut)
{
	/* 64 MiB + 1: over the limit, though the file is what is short. */
	uint8_t junk[16] = { 0x01, 0x00, 0x00, 0x04, 0, 0, 0, 0, 1 };
	check_tail_garbage_is_cut(junk, sizeof(junk));
}
END_TEST

/* Appends to segment segno, at its end, a record with the given body and a
 * checksum computed by the documented rule. */
static void append_raw_record(uint32_t segno, const uint8_t *body, uint32_t len)
{
	char path[256];
	uint8_t hdr[8];
	uint64_t off, seed;
	uint32_t sum;

	seg_path(path, sizeof(path), segno);
	off = (uint64_t)file_size(path);
	seed = (uint64_t)segno << 40 ^ off;
	sum = (uint32_t)XXH3_64bits_withSeed(body, len, seed);
	hdr[0] = (uint8_t)len; hdr[1] = (uint8_t)(len >> 8); hdr[2] = (uint8_t)(len >> 16); hdr[3] = (uint8_t)(len >> 24);
	hdr[4] = (uint8_t)sum; hdr[5] = (uint8_t)(sum >> 8); hdr[6] = (uint8_t)(sum >> 16); hdr[7] = (uint8_t)(sum >> 24);
	append_file(path, hdr, 8);
	append_file(path, body, len);
}

static void check_valid_checksum_bad_body_is_cut(const uint8_t *body, uint32_t len)
{
	struct reclog want = { 0 }, got = { 0 };
	struct vg_wal_stats st;
	char path[256];
	off_t size;
	struct vg_wal *w;

	write_log(&want, 0, 2, 10);
	seg_path(path, sizeof(path), 1);
	size = file_size(path);
	append_raw_record(1, body, len);
	w = open_ok(0, NULL, &got, &st);
	assert_log_eq(&want, &got);
	ck_assert_uint_eq(st.corrupt_tails, 1);
	ck_assert_int_eq(file_size(path), size);
	vg_wal_close(w);
	reclog_release(&want);
	reclog_release(&got);
}

START_TEST(test_wal_samples_count_exceeding_bytes_is_cut)
{
	/* type 2, agent hash, epoch 1, seq 1, n = 1000, then room for 2 samples */
	uint8_t body[] = { 2, 1, 2, 3, 4, 5, 6, 7, 8, 1, 1, 0xe8, 0x07, 2, 0, 2, 2, 0, 2 };
	check_valid_checksum_bad_body_is_cut(body, sizeof(body));
}
END_TEST

START_TEST(test_wal_samples_huge_count_is_cut)
{
	/* n = 2^63: refused before any array is sized */
	uint8_t body[] = { 2, 1, 2, 3, 4, 5, 6, 7, 8, 1, 1,
			   0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 0, 0 };
	check_valid_checksum_bad_body_is_cut(body, sizeof(body));
}
END_TEST

START_TEST(test_wal_samples_trailing_bytes_are_cut)
{
	/* one sample (id 1, ts 0, value 1) then a stray byte */
	uint8_t body[] = { 2, 1, 2, 3, 4, 5, 6, 7, 8, 1, 1, 1, 2, 0, 2, 9 };
	check_valid_checksum_bad_body_is_cut(body, sizeof(body));
}
END_TEST

START_TEST(test_wal_samples_id_out_of_range_is_cut)
{
	/* id delta +2^32: past uint32 */
	uint8_t body[] = { 2, 1, 2, 3, 4, 5, 6, 7, 8, 1, 1, 1, 0x80, 0x80, 0x80, 0x80, 0x20, 0, 2 };
	check_valid_checksum_bad_body_is_cut(body, sizeof(body));
}
END_TEST

START_TEST(test_wal_series_key_length_mismatch_is_cut)
{
	/* key length 10, 3 bytes given */
	uint8_t body[] = { 1, 5, 10, 'a', 'b', 'c' };
	check_valid_checksum_bad_body_is_cut(body, sizeof(body));
}
END_TEST

START_TEST(test_wal_series_key_over_limit_is_cut)
{
	/* key length 65537 claimed and present */
	size_t len = 1 + 1 + 3 + 65537;
	uint8_t *body = calloc(1, len);
	ck_assert_ptr_nonnull(body);
	body[0] = 1;
	body[1] = 5;
	body[2] = 0x81; body[3] = 0x80; body[4] = 0x04; /* 65537 */
	check_valid_checksum_bad_body_is_cut(body, (uint32_t)len);
	free(body);
}
END_TEST

START_TEST(test_wal_unknown_record_type_is_cut)
{
	uint8_t body[] = { 9, 1, 2, 3 };
	check_valid_checksum_bad_body_is_cut(body, sizeof(body));
}
END_TEST

START_TEST(test_wal_samples_bad_value_tag_is_cut)
{
	/* value uvarint 3: odd but not the raw marker 1 */
	uint8_t body[] = { 2, 1, 2, 3, 4, 5, 6, 7, 8, 1, 1, 1, 2, 0, 3 };
	check_valid_checksum_bad_body_is_cut(body, sizeof(body));
}
END_TEST

START_TEST(test_wal_stale_records_from_elsewhere_fail_their_checksum)
{
	struct reclog want = { 0 }, got = { 0 }, got2 = { 0 };
	struct vg_wal_stats st;
	uint64_t offs1[64], offs_last[64];
	char path1[256], path_last[256];
	uint8_t *p1, *plast;
	size_t n1, nlast, segs, size_last;
	struct vg_wal *w;

	segs = write_log(&want, 2048, 40, 10);
	ck_assert_uint_ge(segs, 3);
	/* Two more records in the last segment, with no roll after them. */
	w = open_ok(1 << 20, NULL, NULL, NULL);
	append_batch(w, &want, 100, 10);
	append_batch(w, &want, 101, 10);
	sync_ok(w);
	vg_wal_close(w);
	n1 = record_offsets(1, offs1, 64);
	nlast = record_offsets((uint32_t)segs, offs_last, 64);
	ck_assert_uint_ge(n1, 2);
	ck_assert_uint_ge(nlast, 2);
	seg_path(path1, sizeof(path1), 1);
	seg_path(path_last, sizeof(path_last), (uint32_t)segs);
	read_file(path1, &p1);
	size_last = read_file(path_last, &plast);

	/* A copy of the last segment's own first record, at its end. */
	append_file(path_last, plast + offs_last[0], offs_last[1] - offs_last[0]);
	w = open_ok(1 << 20, NULL, &got, &st);
	assert_log_eq(&want, &got);
	ck_assert_uint_eq(st.corrupt_tails, 1);
	ck_assert_int_eq(file_size(path_last), (off_t)size_last);
	vg_wal_close(w);

	/* A whole valid record of segment 1, at the end of the last segment. */
	append_file(path_last, p1 + offs1[1], offs1[2] - offs1[1]);
	w = open_ok(1 << 20, NULL, &got2, &st);
	assert_log_eq(&want, &got2);
	ck_assert_uint_eq(st.corrupt_tails, 1);
	ck_assert_int_eq(file_size(path_last), (off_t)size_last);
	vg_wal_close(w);
	free(p1);
	free(plast);
	reclog_release(&want);
	reclog_release(&got);
	reclog_release(&got2);
}
END_TEST

/* ---- damage in earlier segments ------------------------------------------------ */

START_TEST(test_wal_flipped_bit_in_earlier_segment_skips_its_rest)
{
	struct reclog want = { 0 }, got = { 0 };
	struct vg_wal_stats st;
	uint64_t offs1[64], offs2[64];
	char path[256];
	size_t n1, n2, segs, total, m;
	off_t size2;
	uint8_t byte;
	struct vg_wal *w;

	segs = write_log(&want, 2048, 60, 10);
	ck_assert_uint_ge(segs, 4);
	total = want.n;
	n1 = record_offsets(1, offs1, 64);
	n2 = record_offsets(2, offs2, 64);
	ck_assert_uint_ge(n2, 3);
	m = n2 / 2;
	seg_path(path, sizeof(path), 2);
	size2 = file_size(path);
	{
		int fd = open(path, O_RDWR);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(pread(fd, &byte, 1, (off_t)offs2[m] + 8 + 4), 1);
		byte ^= 0x04;
		ck_assert_int_eq(pwrite(fd, &byte, 1, (off_t)offs2[m] + 8 + 4), 1);
		close(fd);
	}
	w = open_ok(2048, NULL, &got, &st);
	/* Segment 1, segment 2 before the flipped record, then segments 3.. */
	assert_log_slices(&want, &got, 0, n1 + m, n1 + n2, total);
	ck_assert_uint_eq(st.damaged_segments, 1);
	ck_assert_uint_eq(st.corrupt_tails, 0);
	ck_assert_uint_eq(st.skipped_bytes, (uint64_t)size2 - offs2[m]);
	ck_assert_int_eq(file_size(path), size2); /* an earlier segment is never cut */
	append_batch(w, NULL, 1000, 5);
	sync_ok(w);
	vg_wal_close(w);
	reclog_release(&want);
	reclog_release(&got);
}
END_TEST

START_TEST(test_wal_zero_length_earlier_segment_skipped)
{
	struct reclog want = { 0 }, got = { 0 };
	struct vg_wal_stats st;
	uint64_t offs1[64];
	char path[256];
	size_t n1, segs;
	struct vg_wal *w;

	segs = write_log(&want, 2048, 30, 10);
	ck_assert_uint_ge(segs, 3);
	n1 = record_offsets(1, offs1, 64);
	seg_path(path, sizeof(path), 1);
	ck_assert_int_eq(truncate(path, 0), 0);
	w = open_ok(2048, NULL, &got, &st);
	assert_log_slices(&want, &got, n1, want.n, 0, 0);
	ck_assert_uint_eq(st.bad_segments, 1);
	ck_assert_uint_eq(st.segments, segs - 1);
	vg_wal_close(w);
	reclog_release(&want);
	reclog_release(&got);
}
END_TEST

START_TEST(test_wal_zero_length_last_segment_is_reinitialized)
{
	struct reclog want = { 0 }, got = { 0 };
	struct vg_wal_stats st;
	char path[256];
	struct vg_wal *w;

	ck_assert_int_eq(mkdir(waldir, 0755), 0);
	seg_path(path, sizeof(path), 1);
	write_file(path, "", 0);
	w = open_ok(0, NULL, &got, &st);
	ck_assert_uint_eq(got.n, 0);
	ck_assert_uint_eq(st.corrupt_tails, 1);
	ck_assert_int_eq(file_size(path), 16);
	append_batch(w, &want, 1, 10);
	sync_ok(w);
	vg_wal_close(w);
	ck_assert_uint_eq(count_segments(), 1);
	w = open_ok(0, NULL, &got, &st);
	assert_log_eq(&want, &got);
	ck_assert_uint_eq(st.corrupt_tails, 0);
	vg_wal_close(w);
	reclog_release(&want);
	reclog_release(&got);
}
END_TEST

START_TEST(test_wal_bad_header_earlier_segment_skipped)
{
	struct reclog want = { 0 }, got = { 0 };
	struct vg_wal_stats st;
	uint64_t offs1[64];
	char path[256];
	size_t n1, segs;
	struct vg_wal *w;

	segs = write_log(&want, 2048, 30, 10);
	ck_assert_uint_ge(segs, 3);
	n1 = record_offsets(1, offs1, 64);
	seg_path(path, sizeof(path), 1);
	patch_file(path, 0, "XX", 2);
	w = open_ok(2048, NULL, &got, &st);
	assert_log_slices(&want, &got, n1, want.n, 0, 0);
	ck_assert_uint_eq(st.bad_segments, 1);
	ck_assert_uint_eq(st.skipped_bytes, (uint64_t)file_size(path));
	vg_wal_close(w);
	reclog_release(&want);
	reclog_release(&got);
}
END_TEST

START_TEST(test_wal_bad_header_last_segment_starts_next)
{
	struct reclog want = { 0 }, got = { 0 }, got2 = { 0 };
	struct vg_wal_stats st;
	char path1[256], path2[256];
	off_t size1;
	struct vg_wal *w;

	write_log(&want, 0, 3, 10);
	seg_path(path1, sizeof(path1), 1);
	seg_path(path2, sizeof(path2), 2);
	size1 = file_size(path1);
	patch_file(path1, 8, "\x09", 1); /* segment number 9 in file 1: checksum fails */
	w = open_ok(0, NULL, &got, &st);
	ck_assert_uint_eq(got.n, 0);
	ck_assert_uint_eq(st.bad_segments, 1);
	ck_assert_uint_eq(st.last_segment, 2);
	ck_assert_int_eq(file_size(path1), size1); /* left alone */
	append_batch(w, &want, 77, 3);
	sync_ok(w);
	vg_wal_close(w);
	ck_assert_int_gt(file_size(path2), 16);
	w = open_ok(0, NULL, &got2, &st);
	assert_log_slices(&want, &got2, want.n - 1, want.n, 0, 0);
	ck_assert_uint_eq(st.bad_segments, 1);
	vg_wal_close(w);
	reclog_release(&want);
	reclog_release(&got);
	reclog_release(&got2);
}
END_TEST

START_TEST(test_wal_renamed_segment_skipped)
{
	struct reclog want = { 0 }, got = { 0 };
	struct vg_wal_stats st;
	char path1[256], path5[256];
	struct vg_wal *w;

	write_log(&want, 0, 3, 10);
	seg_path(path1, sizeof(path1), 1);
	seg_path(path5, sizeof(path5), 5);
	ck_assert_int_eq(rename(path1, path5), 0);
	w = open_ok(0, NULL, &got, &st);
	ck_assert_uint_eq(got.n, 0);
	ck_assert_uint_eq(st.bad_segments, 1);
	ck_assert_uint_eq(st.last_segment, 6);
	vg_wal_close(w);
	reclog_release(&want);
	reclog_release(&got);
}
END_TEST

START_TEST(test_wal_newer_version_refused)
{
	uint8_t h[16];
	uint32_t sum;
	char path[256];
	struct vg_wal *w = NULL;
	struct vg_err err;

	ck_assert_int_eq(mkdir(waldir, 0755), 0);
	memcpy(h, "VGWAL\x02\x00\x00\x01\x00\x00\x00", 12);
	sum = (uint32_t)XXH3_64bits(h, 12);
	h[12] = (uint8_t)sum; h[13] = (uint8_t)(sum >> 8); h[14] = (uint8_t)(sum >> 16); h[15] = (uint8_t)(sum >> 24);
	seg_path(path, sizeof(path), 1);
	write_file(path, h, sizeof(h));
	ck_assert_int_eq(vg_wal_open(waldir, NULL, NULL, &w, NULL, &err), VG_EVERSION);
	ck_assert_ptr_null(w);
	ck_assert_ptr_nonnull(strstr(err.msg, "00000001"));
	ck_assert_int_eq(file_size(path), 16);
	ck_assert_uint_eq(count_segments(), 1);
}
END_TEST

/* ---- the on-disk format --------------------------------------------------------- */

/* Builds a segment by the documented rules alone and checks what replay
 * hands back: the reader against docs/wal.md, not against the writer. */
START_TEST(test_wal_reads_hand_encoded_records)
{
	static const uint8_t header[12] = { 'V', 'G', 'W', 'A', 'L', 1, 0, 0, 1, 0, 0, 0 };
	static const uint8_t series[] = { 1, 0xac, 0x02, 3, 'u', 'p', 0xff }; /* id 300 */
	static const uint8_t samples[] = {
		2, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, /* agent hash */
		5, 9, 3,                       /* epoch 5, seq 9, n 3 */
		0xd8, 0x04, 0x03, 0xa8, 0x01,  /* id +300, ts -2, value 42 */
		0x02, 0x00,                    /* id +1, ts +0, */
		0x01, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, /* raw 1.5 */
		0x01, 0x14, 0x02,              /* id -1, ts +10, value -1 */
	};
	struct reclog got = { 0 };
	struct vg_wal_stats st;
	uint8_t h[16];
	uint32_t sum;
	char path[256];
	const uint8_t *p;
	uint64_t bits;
	double v;
	struct vg_wal *w;

	ck_assert_int_eq(mkdir(waldir, 0755), 0);
	memcpy(h, header, 12);
	sum = (uint32_t)XXH3_64bits(h, 12);
	h[12] = (uint8_t)sum; h[13] = (uint8_t)(sum >> 8); h[14] = (uint8_t)(sum >> 16); h[15] = (uint8_t)(sum >> 24);
	seg_path(path, sizeof(path), 1);
	write_file(path, h, sizeof(h));
	append_raw_record(1, series, sizeof(series));
	append_raw_record(1, samples, sizeof(samples));

	w = open_ok(0, NULL, &got, &st);
	ck_assert_uint_eq(st.records, 2);
	ck_assert_uint_eq(st.samples, 3);
	ck_assert_uint_eq(st.corrupt_tails, 0);
	vg_wal_close(w);
	ck_assert_uint_eq(got.n, 2);
	p = got.bytes.data;
	ck_assert_int_eq(p[0], 'S');
	ck_assert(memcmp(p + 1, &(uint32_t){ 300 }, 4) == 0);
	ck_assert(memcmp(p + 1 + 4 + sizeof(size_t), "up\xff", 3) == 0);
	p = got.bytes.data + got.ends[0];
	ck_assert_int_eq(p[0], 'B');
	ck_assert(memcmp(p + 1, &(uint64_t){ 0x1122334455667788ULL }, 8) == 0);
	ck_assert(memcmp(p + 9, &(uint64_t){ 5 }, 8) == 0);
	ck_assert(memcmp(p + 17, &(uint64_t){ 9 }, 8) == 0);
	p += 1 + 24 + sizeof(size_t);
	/* sample: id u32, ts i64, value bits u64 */
	ck_assert(memcmp(p, &(uint32_t){ 300 }, 4) == 0);
	ck_assert(memcmp(p + 4, &(int64_t){ -2 }, 8) == 0);
	memcpy(&bits, p + 12, 8); memcpy(&v, &bits, 8);
	ck_assert(v == 42.0);
	p += 20;
	ck_assert(memcmp(p, &(uint32_t){ 301 }, 4) == 0);
	ck_assert(memcmp(p + 4, &(int64_t){ -2 }, 8) == 0);
	memcpy(&bits, p + 12, 8); memcpy(&v, &bits, 8);
	ck_assert(v == 1.5);
	p += 20;
	ck_assert(memcmp(p, &(uint32_t){ 300 }, 4) == 0);
	ck_assert(memcmp(p + 4, &(int64_t){ 8 }, 8) == 0);
	memcpy(&bits, p + 12, 8); memcpy(&v, &bits, 8);
	ck_assert(v == -1.0);
	reclog_release(&got);
}
END_TEST

/* The fixed sequence behind tests/data/wal/v1/00000001. */
static void append_fixture_sequence(struct vg_wal *w)
{
	static const uint32_t ids[4] = { 10, 11, 12, 4000000000u };
	static const int64_t ts[4] = { 1700000000000LL, 1700000000000LL, 1700000000000LL, -1 };
	double values[4] = { 123456.0, 0.5, -7.0, 0 };
	uint64_t stale = STALE_NAN_BITS;
	struct vg_wal_samples s = { 0x0102030405060708ULL, 3, 1, 4, ids, ts, values };
	struct vg_err err;

	memcpy(&values[3], &stale, 8);
	ck_assert_int_eq(vg_wal_append_series(w, 10, (const uint8_t *)"up\xffjob\xffnode\xff", 12, &err), 0);
	ck_assert_int_eq(vg_wal_append_samples(w, &s, &err), 0);
}

/* The writer's bytes are pinned: a change to the format must come with a
 * new version and a new fixture (VG_WAL_FIXTURE_OUT=dir writes it). */
START_TEST(test_wal_writes_the_v1_fixture_bytes)
{
	char path[256], fixture[512];
	uint8_t *got, *want;
	size_t got_len, want_len;
	const char *out = getenv("VG_WAL_FIXTURE_OUT");
	struct vg_wal *w;

	w = open_ok(0, NULL, NULL, NULL);
	append_fixture_sequence(w);
	sync_ok(w);
	vg_wal_close(w);
	seg_path(path, sizeof(path), 1);
	got_len = read_file(path, &got);
	if (out) {
		snprintf(fixture, sizeof(fixture), "%s/00000001", out);
		write_file(fixture, got, got_len);
	}
	snprintf(fixture, sizeof(fixture), "%s/wal/v1/00000001", VG_TEST_DATA);
	want_len = read_file(fixture, &want);
	ck_assert_uint_eq(got_len, want_len);
	ck_assert(memcmp(got, want, want_len) == 0);
	free(got);
	free(want);
}
END_TEST

START_TEST(test_wal_reads_the_v1_fixture)
{
	char path[256], fixture[512];
	struct reclog want = { 0 }, got = { 0 };
	struct vg_wal_stats st;
	uint8_t *p;
	size_t n;
	struct vg_wal *w;

	/* The expected records, logged by replaying a fresh WAL of the same sequence. */
	snprintf(fixture, sizeof(fixture), "%s/wal/v1/00000001", VG_TEST_DATA);
	n = read_file(fixture, &p);
	ck_assert_int_eq(mkdir(waldir, 0755), 0);
	seg_path(path, sizeof(path), 1);
	write_file(path, p, n);
	free(p);
	w = open_ok(0, NULL, &got, &st);
	vg_wal_close(w);
	ck_assert_uint_eq(st.records, 2);
	ck_assert_uint_eq(st.samples, 4);
	ck_assert_uint_eq(st.corrupt_tails, 0);
	{
		static const uint32_t ids[4] = { 10, 11, 12, 4000000000u };
		static const int64_t ts[4] = { 1700000000000LL, 1700000000000LL, 1700000000000LL, -1 };
		double values[4] = { 123456.0, 0.5, -7.0, 0 };
		uint64_t stale = STALE_NAN_BITS;
		struct vg_wal_samples s = { 0x0102030405060708ULL, 3, 1, 4, ids, ts, values };

		memcpy(&values[3], &stale, 8);
		reclog_series(&want, 10, (const uint8_t *)"up\xffjob\xffnode\xff", 12);
		reclog_samples(&want, &s);
	}
	assert_log_eq(&want, &got);
	reclog_release(&want);
	reclog_release(&got);
}
END_TEST

/* ---- failures through the I/O seam ----------------------------------------------- */

/* ---- the writer thread ------------------------------------------------------ */

struct durable_log {
	pthread_mutex_t mu;
	uint64_t last;   /* highest ticket reported durable */
	int calls, failures;
	int last_rc;
	uint64_t last_failed; /* highest ticket reported failed */
};

static void on_durable_cb(void *arg, uint64_t ticket, int rc)
{
	struct durable_log *d = arg;

	pthread_mutex_lock(&d->mu);
	d->calls++;
	if (rc == 0) {
		ck_assert_uint_ge(ticket, d->last); /* reported in order */
		/* A failed ticket never turns durable. */
		ck_assert_uint_gt(ticket, d->last_failed);
		d->last = ticket;
	} else {
		d->failures++;
		d->last_rc = rc;
		if (ticket > d->last_failed)
			d->last_failed = ticket;
	}
	pthread_mutex_unlock(&d->mu);
}

START_TEST(test_wal_writer_thread_commits_replay_in_order)
{
	struct durable_log d = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, 0 };
	struct reclog want = { 0 }, got = { 0 };
	struct vg_wal_stats st;
	struct vg_err err;
	uint64_t t, prev = 0;
	struct vg_wal *w;
	uint32_t i;

	/* Small segments, so the owner and the writer must agree on where
	 * every one of hundreds of rolls happens. */
	w = open_ok(4096, NULL, NULL, NULL);
	ck_assert_int_eq(vg_wal_start_writer(w, on_durable_cb, &d, &err), 0);
	for (i = 0; i < 300; i++) {
		append_series(w, &want, i);
		append_batch(w, &want, i + 1, 20);
		t = vg_wal_commit(w);
		ck_assert_uint_gt(t, prev);
		prev = t;
	}
	/* vg_wal_sync still means durable when it returns. Stopping the
	 * writer joins it, so every report it had to make is made. */
	sync_ok(w);
	vg_wal_stop_writer(w);
	pthread_mutex_lock(&d.mu);
	ck_assert_uint_ge(d.last, prev);
	ck_assert_int_eq(d.failures, 0);
	ck_assert_int_gt(d.calls, 0);
	pthread_mutex_unlock(&d.mu);
	/* Back on the owner's thread, appends still work. */
	append_series(w, &want, 300);
	sync_ok(w);
	vg_wal_close(w);
	w = open_ok(4096, NULL, &got, &st);
	assert_log_eq(&want, &got);
	ck_assert_uint_eq(st.corrupt_tails + st.damaged_segments + st.bad_segments, 0);
	ck_assert_uint_ge(st.segments, 10);
	vg_wal_close(w);
	reclog_release(&want);
	reclog_release(&got);
}
END_TEST

START_TEST(test_wal_writer_thread_failure_reported_and_sticky)
{
	struct durable_log d = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, 0 };
	struct vg_wal_samples s = { 0 };
	struct vg_err err;
	struct vg_wal *w;
	uint64_t t1;

	w = open_ok(0, &fault_ops, NULL, NULL);
	ck_assert_int_eq(vg_wal_start_writer(w, on_durable_cb, &d, &err), 0);
	append_batch(w, NULL, 1, 10);
	t1 = vg_wal_commit(w);
	ck_assert_uint_gt(t1, 0);
	sync_ok(w);
	fdatasync_failures = 1;
	append_batch(w, NULL, 2, 10);
	ck_assert_int_eq(vg_wal_sync(w, &err), VG_EIO);
	ck_assert_ptr_nonnull(strstr(err.msg, "fdatasync"));
	vg_wal_stop_writer(w);
	pthread_mutex_lock(&d.mu);
	ck_assert_int_ge(d.failures, 1);
	ck_assert_int_eq(d.last_rc, VG_EIO);
	ck_assert_uint_ge(d.last, t1); /* the first commit stayed durable */
	pthread_mutex_unlock(&d.mu);
	/* Sticky, as without the thread. */
	ck_assert_int_eq(vg_wal_append_samples(w, &s, &err), VG_EIO);
	ck_assert_uint_eq(vg_wal_commit(w), 0);
	vg_wal_close(w);
}
END_TEST

/* ---- a full disk: recovery without reopening ------------------------------- */

/* Reopening replays exactly want, with no damage found; releases want. */
static void assert_replays_clean(struct reclog *want)
{
	struct reclog got = { 0 };
	struct vg_wal_stats st;
	struct vg_wal *w = open_ok(0, NULL, &got, &st);

	assert_log_eq(want, &got);
	ck_assert_uint_eq(st.corrupt_tails + st.damaged_segments + st.bad_segments, 0);
	vg_wal_close(w);
	reclog_release(want);
	reclog_release(&got);
}

START_TEST(test_wal_enospc_resume_cuts_back_and_starts_a_segment)
{
	struct reclog want = { 0 };
	struct vg_wal_stats st;
	struct vg_err err;
	uint64_t failed_through = 0;
	off_t synced_size;
	char path1[256], path2[256];
	struct vg_wal *w;

	w = open_ok(0, &fault_ops, NULL, NULL);
	append_series(w, &want, 1);
	append_batch(w, &want, 1, 50);
	sync_ok(w);
	seg_path(path1, sizeof(path1), 1);
	synced_size = file_size(path1);
	atomic_store(&room_bytes, 100); /* part of the next write lands */
	atomic_store(&disk_full, true);
	append_batch(w, NULL, 2, 200);
	ck_assert_int_eq(vg_wal_sync(w, &err), VG_EIO);
	ck_assert_ptr_nonnull(strstr(err.msg, strerror(ENOSPC)));
	ck_assert_int_gt(file_size(path1), synced_size); /* the torn write */
	/* Still full: the new segment's header does not fit. */
	ck_assert_int_eq(vg_wal_resume(w, &failed_through, &err), VG_EIO);
	ck_assert_ptr_nonnull(strstr(err.msg, strerror(ENOSPC)));
	ck_assert_int_eq(vg_wal_append_series(w, 1, (const uint8_t *)"x", 1, &err), VG_EIO);
	/* Space again: the torn tail is cut off and appends go to segment 2. */
	atomic_store(&disk_full, false);
	ck_assert_int_eq(vg_wal_resume(w, &failed_through, &err), 0);
	ck_assert_int_eq(file_size(path1), synced_size);
	seg_path(path2, sizeof(path2), 2);
	ck_assert(file_exists(path2));
	vg_wal_stats(w, &st);
	ck_assert_uint_eq(st.last_segment, 2);
	ck_assert_uint_ge(st.write_failures, 1);
	ck_assert_uint_eq(st.recoveries, 1);
	append_series(w, &want, 1); /* what the owner must append again */
	append_batch(w, &want, 3, 50);
	sync_ok(w);
	vg_wal_close(w);
	/* Batch 2 is gone, nothing is damaged, 1 and 3 are there once. */
	assert_replays_clean(&want);
}
END_TEST

START_TEST(test_wal_failed_fdatasync_data_never_replayed_after_resume)
{
	struct reclog want = { 0 }, got = { 0 };
	struct vg_wal_stats st;
	struct vg_err err;
	uint64_t failed_through;
	struct vg_wal *w;

	w = open_ok(0, &fault_ops, NULL, NULL);
	append_batch(w, &want, 1, 40);
	sync_ok(w);
	append_batch(w, NULL, 2, 40); /* written, but its sync fails */
	fdatasync_failures = 1;
	ck_assert_int_eq(vg_wal_sync(w, &err), VG_EIO);
	ck_assert_int_eq(vg_wal_resume(w, &failed_through, &err), 0);
	append_batch(w, &want, 3, 40);
	sync_ok(w);
	vg_wal_close(w);
	w = open_ok(0, NULL, &got, &st);
	assert_log_eq(&want, &got);
	vg_wal_close(w);
	reclog_release(&want);
	reclog_release(&got);
}
END_TEST

static void wait_for(struct durable_log *d, bool (*cond)(struct durable_log *d, uint64_t t), uint64_t t)
{
	int64_t deadline = (int64_t)time(NULL) + 10;
	bool is_met = false;

	while (!is_met && (int64_t)time(NULL) < deadline) {
		pthread_mutex_lock(&d->mu);
		is_met = cond(d, t);
		pthread_mutex_unlock(&d->mu);
		if (!is_met)
			usleep(2000);
	}
	ck_assert_msg(is_met, "the writer did not report in time");
}

static bool has_failed(struct durable_log *d, uint64_t t)
{
	return d->last_failed >= t;
}

static bool is_durable(struct durable_log *d, uint64_t t)
{
	return d->last >= t;
}

START_TEST(test_wal_writer_thread_recovers_by_itself_when_space_returns)
{
	struct durable_log d = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, 0 };
	struct reclog want = { 0 };
	struct vg_wal_stats st;
	struct vg_err err;
	uint64_t t1, t2, t3, failed_through = 0;
	struct vg_wal *w;
	int64_t deadline;
	int rc;

	w = open_ok(0, &fault_ops, NULL, NULL);
	ck_assert_int_eq(vg_wal_start_writer(w, on_durable_cb, &d, &err), 0);
	append_series(w, &want, 1);
	append_batch(w, &want, 1, 30);
	t1 = vg_wal_commit(w);
	wait_for(&d, is_durable, t1);
	atomic_store(&disk_full, true);
	append_batch(w, NULL, 2, 30);
	t2 = vg_wal_commit(w);
	ck_assert_uint_gt(t2, t1);
	wait_for(&d, has_failed, t2);
	/* While full: appends and commits refused, resume not yet. */
	{
		struct vg_wal_samples s = { 0 };
		ck_assert_int_eq(vg_wal_append_samples(w, &s, &err), VG_EIO);
	}
	ck_assert_uint_eq(vg_wal_commit(w), 0);
	ck_assert_int_eq(vg_wal_resume(w, &failed_through, &err), VG_EIO);
	/* Room again: the writer's own retries find it, with no reopen. */
	atomic_store(&disk_full, false);
	deadline = (int64_t)time(NULL) + 10;
	while ((rc = vg_wal_resume(w, &failed_through, &err)) != 0 && (int64_t)time(NULL) < deadline)
		usleep(2000);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_ge(failed_through, t2);
	append_series(w, &want, 1);
	append_batch(w, &want, 3, 30);
	t3 = vg_wal_commit(w);
	ck_assert_uint_gt(t3, t2);
	wait_for(&d, is_durable, t3);
	vg_wal_stop_writer(w);
	vg_wal_stats(w, &st);
	ck_assert_uint_eq(st.recoveries, 1);
	vg_wal_close(w);
	assert_replays_clean(&want);
}
END_TEST

START_TEST(test_wal_fdatasync_failure_is_sticky)
{
	struct vg_err err;
	struct vg_wal *w;
	struct vg_wal_samples s = { 0 };

	w = open_ok(0, &fault_ops, NULL, NULL);
	append_batch(w, NULL, 1, 10);
	fdatasync_failures = 1;
	ck_assert_int_eq(vg_wal_sync(w, &err), VG_EIO);
	ck_assert_ptr_nonnull(strstr(err.msg, "fdatasync"));
	ck_assert_ptr_nonnull(strstr(err.msg, "00000001"));
	ck_assert_ptr_nonnull(strstr(err.msg, strerror(EIO)));
	ck_assert_int_eq(fdatasync_failures, 0);
	/* The next fdatasync would succeed; the WAL must not believe it. */
	ck_assert_int_eq(vg_wal_sync(w, &err), VG_EIO);
	ck_assert_ptr_nonnull(strstr(err.msg, "fdatasync"));
	ck_assert_int_eq(vg_wal_append_samples(w, &s, &err), VG_EIO);
	ck_assert_int_eq(vg_wal_append_series(w, 1, (const uint8_t *)"x", 1, &err), VG_EIO);
	ck_assert_int_eq(vg_wal_roll(w, NULL, &err), VG_EIO);
	vg_wal_close(w);
	/* Reopening recovers. */
	w = open_ok(0, NULL, NULL, NULL);
	append_batch(w, NULL, 2, 10);
	sync_ok(w);
	vg_wal_close(w);
}
END_TEST

START_TEST(test_wal_crash_mid_write_then_reopen)
{
	struct reclog want = { 0 }, got = { 0 }, got2 = { 0 };
	struct vg_wal_stats st;
	struct vg_err err;
	size_t kept;
	struct vg_wal *w;

	w = open_ok(0, &fault_ops, NULL, NULL);
	append_series(w, &want, 1);
	append_batch(w, &want, 1, 100);
	sync_ok(w);
	append_batch(w, &want, 2, 100);
	sync_ok(w);
	kept = want.n;
	write_fault = FAULT_CRASH_HALFWAY;
	append_batch(w, &want, 3, 100);
	append_batch(w, &want, 4, 100);
	ck_assert_int_eq(vg_wal_sync(w, &err), VG_EIO);
	ck_assert_ptr_nonnull(strstr(err.msg, "write"));
	vg_wal_close(w); /* the "crash": nothing more reaches the file */
	write_fault = FAULT_NONE;

	w = open_ok(0, NULL, &got, &st);
	kept = assert_log_prefix(&want, &got, kept);
	ck_assert_uint_eq(st.corrupt_tails, 1);
	append_batch(w, &want, 5, 10);
	sync_ok(w);
	vg_wal_close(w);
	w = open_ok(0, NULL, &got2, &st);
	assert_log_slices(&want, &got2, 0, kept, want.n - 1, want.n);
	ck_assert_uint_eq(st.corrupt_tails, 0);
	vg_wal_close(w);
	reclog_release(&want);
	reclog_release(&got);
	reclog_release(&got2);
}
END_TEST

START_TEST(test_wal_append_flush_failure_breaks_wal)
{
	struct reclog want = { 0 }, got = { 0 };
	struct vg_wal_stats st;
	struct vg_err err;
	struct vg_wal *w;
	size_t i;
	int rc = 0;

	w = open_ok(0, &fault_ops, NULL, NULL);
	append_batch(w, &want, 1, 50);
	sync_ok(w);
	write_fault = FAULT_CRASH_HALFWAY;
	/* Past 1 MiB of buffer the append itself writes, and fails. */
	for (i = 0; i < 100 && rc == 0; i++) {
		struct vg_wal_samples s;
		static uint32_t ids[5000];
		static int64_t ts[5000];
		static double values[5000];
		size_t j;
		for (j = 0; j < 5000; j++)
			values[j] = 0.1 * (double)j;
		s = (struct vg_wal_samples){ 1, 1, i + 2, 5000, ids, ts, values };
		rc = vg_wal_append_samples(w, &s, &err);
		reclog_samples(&want, &s); /* the failed one too: its bytes were half written */
	}
	ck_assert_int_eq(rc, VG_EIO);
	ck_assert_uint_lt(i, 100);
	ck_assert_int_eq(vg_wal_sync(w, &err), VG_EIO);
	vg_wal_close(w);
	write_fault = FAULT_NONE;
	w = open_ok(0, NULL, &got, &st);
	assert_log_prefix(&want, &got, 1);
	ck_assert_uint_eq(st.corrupt_tails, 1);
	vg_wal_close(w);
	reclog_release(&want);
	reclog_release(&got);
}
END_TEST

START_TEST(test_wal_garbled_write_detected_on_replay)
{
	struct reclog want = { 0 }, got = { 0 };
	struct vg_wal_stats st;
	size_t kept;
	struct vg_wal *w;

	w = open_ok(0, &fault_ops, NULL, NULL);
	append_batch(w, &want, 1, 40);
	append_batch(w, &want, 2, 40);
	sync_ok(w);
	kept = want.n;
	write_fault = FAULT_GARBLE;
	append_batch(w, &want, 3, 40);
	append_batch(w, &want, 4, 40);
	sync_ok(w); /* the disk lied; only replay can tell */
	vg_wal_close(w);
	write_fault = FAULT_NONE;
	w = open_ok(0, NULL, &got, &st);
	assert_log_prefix(&want, &got, kept);
	ck_assert_uint_eq(st.corrupt_tails, 1);
	vg_wal_close(w);
	reclog_release(&want);
	reclog_release(&got);
}
END_TEST

START_TEST(test_wal_segment_creation_failure_fails_open)
{
	struct vg_wal *w = (struct vg_wal *)&w;
	struct vg_err err;

	ck_assert_int_eq(mkdir(waldir, 0755), 0);
	fdatasync_failures = 1;
	{
		struct vg_wal_options opts = { 0, &fault_ops };
		ck_assert_int_eq(vg_wal_open(waldir, &opts, NULL, &w, NULL, &err), VG_EIO);
	}
	ck_assert_ptr_null(w);
	ck_assert_ptr_nonnull(strstr(err.msg, "00000001"));
	ck_assert_uint_eq(count_segments(), 0);
}
END_TEST

START_TEST(test_wal_roll_failure_is_sticky)
{
	struct reclog want = { 0 }, got = { 0 };
	struct vg_wal_stats st;
	struct vg_err err;
	char path2[256];
	struct vg_wal *w = open_ok(1024, &fault_ops, NULL, NULL);

	append_batch(w, &want, 1, 300); /* past 1024 bytes: the sync rolls */
	fdatasync_passes = 1;           /* the data's fdatasync succeeds, */
	fdatasync_failures = 1;         /* the new segment's fails */
	ck_assert_int_eq(vg_wal_sync(w, &err), VG_EIO);
	ck_assert_ptr_nonnull(strstr(err.msg, "00000002"));
	seg_path(path2, sizeof(path2), 2);
	ck_assert(!file_exists(path2));
	ck_assert_int_eq(vg_wal_sync(w, &err), VG_EIO);
	ck_assert_int_eq(vg_wal_append_series(w, 1, (const uint8_t *)"x", 1, &err), VG_EIO);
	vg_wal_close(w);
	/* The synced batch is there; the full segment stays the current one
	 * until the next sync rolls it. */
	w = open_ok(1024, NULL, &got, &st);
	assert_log_eq(&want, &got);
	ck_assert_uint_eq(st.last_segment, 1);
	append_batch(w, NULL, 2, 3);
	sync_ok(w);
	vg_wal_stats(w, &st);
	ck_assert_uint_eq(st.last_segment, 2);
	vg_wal_close(w);
	reclog_release(&want);
	reclog_release(&got);
}
END_TEST

START_TEST(test_wal_callback_nonzero_stops_replay)
{
	struct reclog want = { 0 }, got = { 0 }, got2 = { 0 };
	struct vg_wal_options opts = { 0, NULL };
	struct vg_wal_replay_cb cb = { on_series, on_samples, &got };
	struct vg_wal_stats st;
	struct vg_wal *w = (struct vg_wal *)&w;
	struct vg_err err;
	char path[256];
	off_t size;

	write_log(&want, 0, 5, 10);
	seg_path(path, sizeof(path), 1);
	size = file_size(path);
	got.stop_at_call = 3;
	got.stop_code = 42;
	ck_assert_int_eq(vg_wal_open(waldir, &opts, &cb, &w, NULL, &err), 42);
	ck_assert_ptr_null(w);
	ck_assert_uint_eq(got.calls, 3);
	ck_assert_ptr_nonnull(strstr(err.msg, "callback"));
	ck_assert_int_eq(file_size(path), size); /* nothing cut */
	ck_assert_uint_eq(count_segments(), 1);
	w = open_ok(0, NULL, &got2, &st);
	assert_log_eq(&want, &got2);
	vg_wal_close(w);
	reclog_release(&want);
	reclog_release(&got);
	reclog_release(&got2);
}
END_TEST

/* ---- limits and checkpoints ------------------------------------------------------ */

START_TEST(test_wal_append_limits)
{
	struct reclog want = { 0 }, got = { 0 };
	struct vg_wal_samples s = { 1, 1, 1, (size_t)VG_WAL_MAX_SAMPLES + 1, NULL, NULL, NULL };
	uint8_t *key = malloc(VG_WAL_MAX_KEY_BYTES + 1);
	struct vg_err err;
	struct vg_wal *w;

	ck_assert_ptr_nonnull(key);
	memset(key, 'k', VG_WAL_MAX_KEY_BYTES + 1);
	w = open_ok(0, NULL, NULL, NULL);
	ck_assert_int_eq(vg_wal_append_series(w, 1, key, VG_WAL_MAX_KEY_BYTES + 1, &err), VG_ELIMIT);
	ck_assert_int_eq(vg_wal_append_samples(w, &s, &err), VG_ELIMIT);
	/* Refusals leave the WAL usable and write nothing. */
	ck_assert_int_eq(vg_wal_append_series(w, 2, key, VG_WAL_MAX_KEY_BYTES, &err), 0);
	reclog_series(&want, 2, key, VG_WAL_MAX_KEY_BYTES);
	sync_ok(w);
	vg_wal_close(w);
	w = open_ok(0, NULL, &got, NULL);
	assert_log_eq(&want, &got);
	vg_wal_close(w);
	free(key);
	reclog_release(&want);
	reclog_release(&got);
}
END_TEST

START_TEST(test_wal_roll_and_remove_before)
{
	struct reclog want = { 0 }, got = { 0 };
	struct vg_wal_stats st;
	struct vg_err err;
	uint32_t segno = 0, again = 0;
	char path[256];
	size_t before;
	struct vg_wal *w;

	w = open_ok(0, NULL, NULL, NULL);
	append_batch(w, &want, 1, 10);
	ck_assert_int_eq(vg_wal_roll(w, &segno, &err), 0);
	ck_assert_uint_eq(segno, 2);
	ck_assert_int_eq(vg_wal_roll(w, &again, &err), 0); /* nothing new: no new segment */
	ck_assert_uint_eq(again, 2);
	before = want.n;
	append_batch(w, &want, 2, 10);
	sync_ok(w);
	ck_assert_int_eq(vg_wal_remove_before(w, segno, &err), 0);
	seg_path(path, sizeof(path), 1);
	ck_assert(!file_exists(path));
	/* Never the current segment, whatever the caller asks. */
	ck_assert_int_eq(vg_wal_remove_before(w, 99, &err), 0);
	seg_path(path, sizeof(path), 2);
	ck_assert(file_exists(path));
	vg_wal_stats(w, &st);
	ck_assert_uint_eq(st.first_segment, 2);
	ck_assert_uint_eq(st.segments, 1);
	vg_wal_close(w);
	w = open_ok(0, NULL, &got, &st);
	assert_log_slices(&want, &got, before, want.n, 0, 0);
	ck_assert_uint_eq(st.first_segment, 2);
	vg_wal_close(w);
	reclog_release(&want);
	reclog_release(&got);
}
END_TEST

/* A segment removed while the WAL is opened (listed, then gone: another
 * process on the same directory) loses only its own records: the open
 * goes on with the rest, says so and counts it, as it does for a hole
 * found in the listing (the next open); a vanished last segment is
 * replaced by the next number. The open used to fail with ENOENT. */
START_TEST(test_wal_segment_removed_during_open_is_counted_not_fatal)
{
	struct reclog want = { 0 }, got = { 0 }, got2 = { 0 }, got3 = { 0 };
	uint64_t offs[512];
	size_t segs, in1, in2;
	struct vg_wal_stats st;
	struct vg_wal *w;
	char path[256];

	segs = write_log(&want, 4096, 200, 20);
	ck_assert_uint_ge(segs, 4);
	in1 = record_offsets(1, offs, 512);
	in2 = record_offsets(2, offs, 512);
	/* Segment 2 goes while segment 1 is being replayed. */
	got.unlink_at_call = 1;
	got.unlink_segno = 2;
	w = open_ok(4096, NULL, &got, &st);
	assert_log_slices(&want, &got, 0, in1, in1 + in2, want.n);
	ck_assert_uint_eq(st.missing_segments, 1);
	ck_assert_uint_eq(st.segments, segs - 1);
	vg_wal_close(w);
	/* The next open finds a hole where it was: the same records, the
	 * same count. */
	w = open_ok(4096, NULL, &got2, &st);
	assert_log_slices(&want, &got2, 0, in1, in1 + in2, want.n);
	ck_assert_uint_eq(st.missing_segments, 1);
	vg_wal_close(w);
	/* The last one goes while the first is replayed: appends go on in a
	 * new segment after it. */
	got3.unlink_at_call = 1;
	got3.unlink_segno = (uint32_t)segs;
	w = open_ok(4096, NULL, &got3, &st);
	ck_assert_uint_eq(st.missing_segments, 2);
	ck_assert_uint_eq(st.last_segment, segs + 1);
	vg_wal_close(w);
	seg_path(path, sizeof(path), (uint32_t)segs + 1);
	ck_assert(file_exists(path));
	reclog_release(&want);
	reclog_release(&got);
	reclog_release(&got2);
	reclog_release(&got3);
}
END_TEST

/* ---- random damage ----------------------------------------------------------- */

static bool record_eq(const struct reclog *a, size_t i, const struct reclog *b, size_t j)
{
	size_t a0 = i ? a->ends[i - 1] : 0, b0 = j ? b->ends[j - 1] : 0;
	size_t alen = a->ends[i] - a0, blen = b->ends[j] - b0;
	return alen == blen && memcmp(a->bytes.data + a0, b->bytes.data + b0, alen) == 0;
}

/* Whatever happens to the files, open succeeds, replays only records that
 * were written, in their order, and leaves a WAL that the next open reads
 * the same way with nothing more to cut. */
START_TEST(test_wal_random_damage_never_invents_records)
{
	struct reclog want = { 0 };
	uint8_t *orig[64];
	size_t orig_len[64], segs, iter, k;

	segs = write_log(&want, 1024, 20, 6);
	ck_assert_uint_ge(segs, 3);
	ck_assert_uint_lt(segs, 64);
	for (k = 0; k < segs; k++) {
		char path[256];
		seg_path(path, sizeof(path), (uint32_t)k + 1);
		orig_len[k] = read_file(path, &orig[k]);
	}
	for (iter = 0; iter < 150; iter++) {
		struct reclog got = { 0 }, got2 = { 0 };
		struct vg_wal_stats st;
		struct vg_wal *w;
		size_t m, i, j;

		nftw(waldir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		ck_assert_int_eq(mkdir(waldir, 0755), 0);
		for (k = 0; k < segs; k++) {
			char path[256];
			seg_path(path, sizeof(path), (uint32_t)k + 1);
			write_file(path, orig[k], orig_len[k]);
		}
		for (m = 1 + rng() % 3; m > 0; m--) {
			uint32_t segno = 1 + (uint32_t)(rng() % segs);
			char path[256];
			uint8_t junk[40];
			off_t size;

			seg_path(path, sizeof(path), segno);
			size = file_size(path);
			switch (rng() % 3) {
			case 0: /* flip a bit */
				if (size > 0) {
					off_t at = (off_t)(rng() % (uint64_t)size);
					uint8_t b;
					int fd = open(path, O_RDWR);
					ck_assert_int_eq(pread(fd, &b, 1, at), 1);
					b ^= (uint8_t)(1u << (rng() % 8));
					ck_assert_int_eq(pwrite(fd, &b, 1, at), 1);
					close(fd);
				}
				break;
			case 1: /* cut */
				ck_assert_int_eq(truncate(path, (off_t)(rng() % ((uint64_t)size + 1))), 0);
				break;
			default: /* junk on the end */
				for (i = 0; i < sizeof(junk); i++)
					junk[i] = (uint8_t)rng();
				append_file(path, junk, 1 + rng() % sizeof(junk));
			}
		}
		w = open_ok(1024, NULL, &got, &st);
		vg_wal_close(w);
		for (i = 0, j = 0; i < got.n; i++, j++) {
			while (j < want.n && !record_eq(&got, i, &want, j))
				j++;
			ck_assert_msg(j < want.n, "iteration %zu: record %zu was never written", iter, i);
		}
		if (got.n < want.n)
			ck_assert_uint_gt(st.corrupt_tails + st.damaged_segments + st.bad_segments, 0);
		w = open_ok(1024, NULL, &got2, &st);
		vg_wal_close(w);
		ck_assert_uint_eq(st.corrupt_tails, 0);
		ck_assert_uint_eq(got2.bytes.len, got.bytes.len);
		ck_assert(got.bytes.len == 0 || memcmp(got2.bytes.data, got.bytes.data, got.bytes.len) == 0);
		reclog_release(&got);
		reclog_release(&got2);
	}
	for (k = 0; k < segs; k++)
		free(orig[k]);
	reclog_release(&want);
}
END_TEST

/* ---- speed -------------------------------------------------------------------- */

struct count_cb {
	uint64_t samples;
	double sum;
};

static int count_samples(void *arg, const struct vg_wal_samples *s)
{
	struct count_cb *c = arg;
	size_t i;

	for (i = 0; i < s->n; i++)
		c->sum += (double)s->ids[i];
	c->samples += s->n;
	return 0;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

START_TEST(test_wal_replay_rate_printed)
{
	enum { BATCHES = 400, PER = 5000 };
	struct count_cb c = { 0, 0 };
	struct vg_wal_replay_cb cb = { NULL, count_samples, &c };
	struct vg_wal_stats st;
	struct vg_err err;
	double t0, t1, t2;
	struct vg_wal *w;
	size_t i;

	w = open_ok(0, NULL, NULL, NULL);
	t0 = now_s();
	for (i = 0; i < BATCHES; i++) {
		append_batch(w, NULL, i + 1, PER);
		if (i % 10 == 9)
			sync_ok(w);
	}
	sync_ok(w);
	t1 = now_s();
	vg_wal_stats(w, &st);
	vg_wal_close(w);
	ck_assert_int_eq(vg_wal_open(waldir, NULL, &cb, &w, &st, &err), 0);
	t2 = now_s();
	vg_wal_close(w);
	ck_assert_uint_eq(c.samples, (uint64_t)BATCHES * PER);
	ck_assert_uint_eq(st.samples, (uint64_t)BATCHES * PER);
	fprintf(stderr,
		"wal: %u samples, %.2f bytes/sample; append+sync %.1f M samples/s; replay %.1f M samples/s\n",
		BATCHES * PER, (double)st.bytes / (BATCHES * PER), BATCHES * PER / (t1 - t0) / 1e6,
		BATCHES * PER / (t2 - t1 > 0 ? t2 - t1 : 1e-9) / 1e6);
}
END_TEST

static Suite *wal_suite(void)
{
	Suite *s = suite_create("wal");
	TCase *tc = tcase_create("wal");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_wal_roundtrip_keeps_values_bit_for_bit);
	tcase_add_test(tc, test_wal_many_records_span_segments);
	tcase_add_test(tc, test_wal_reopen_appends_after_replay);
	tcase_add_test(tc, test_wal_stats_count_appends_and_skip_idle_syncs);
	tcase_add_test(tc, test_wal_empty_dir_creates_segment_1);
	tcase_add_test(tc, test_wal_missing_directory_created);
	tcase_add_test(tc, test_wal_path_that_is_a_file_fails);
	tcase_add_test(tc, test_wal_other_files_ignored);
	tcase_add_test(tc, test_wal_truncated_tail_is_cut_and_appending_continues);
	tcase_add_test(tc, test_wal_torn_record_header_is_cut);
	tcase_add_test(tc, test_wal_garbage_tail_is_cut);
	tcase_add_test(tc, test_wal_zero_filled_tail_is_cut);
	tcase_add_test(tc, test_wal_record_claiming_4gib_is_cut);
	tcase_add_test(tc, test_wal_record_longer_than_limit_is_cut);
	tcase_add_test(tc, test_wal_samples_count_exceeding_bytes_is_cut);
	tcase_add_test(tc, test_wal_samples_huge_count_is_cut);
	tcase_add_test(tc, test_wal_samples_trailing_bytes_are_cut);
	tcase_add_test(tc, test_wal_samples_id_out_of_range_is_cut);
	tcase_add_test(tc, test_wal_series_key_length_mismatch_is_cut);
	tcase_add_test(tc, test_wal_series_key_over_limit_is_cut);
	tcase_add_test(tc, test_wal_unknown_record_type_is_cut);
	tcase_add_test(tc, test_wal_samples_bad_value_tag_is_cut);
	tcase_add_test(tc, test_wal_stale_records_from_elsewhere_fail_their_checksum);
	tcase_add_test(tc, test_wal_flipped_bit_in_earlier_segment_skips_its_rest);
	tcase_add_test(tc, test_wal_zero_length_earlier_segment_skipped);
	tcase_add_test(tc, test_wal_zero_length_last_segment_is_reinitialized);
	tcase_add_test(tc, test_wal_bad_header_earlier_segment_skipped);
	tcase_add_test(tc, test_wal_bad_header_last_segment_starts_next);
	tcase_add_test(tc, test_wal_renamed_segment_skipped);
	tcase_add_test(tc, test_wal_newer_version_refused);
	tcase_add_test(tc, test_wal_reads_hand_encoded_records);
	tcase_add_test(tc, test_wal_writes_the_v1_fixture_bytes);
	tcase_add_test(tc, test_wal_reads_the_v1_fixture);
	tcase_add_test(tc, test_wal_fdatasync_failure_is_sticky);
	tcase_add_test(tc, test_wal_crash_mid_write_then_reopen);
	tcase_add_test(tc, test_wal_append_flush_failure_breaks_wal);
	tcase_add_test(tc, test_wal_garbled_write_detected_on_replay);
	tcase_add_test(tc, test_wal_segment_creation_failure_fails_open);
	tcase_add_test(tc, test_wal_roll_failure_is_sticky);
	tcase_add_test(tc, test_wal_writer_thread_commits_replay_in_order);
	tcase_add_test(tc, test_wal_writer_thread_failure_reported_and_sticky);
	tcase_add_test(tc, test_wal_enospc_resume_cuts_back_and_starts_a_segment);
	tcase_add_test(tc, test_wal_failed_fdatasync_data_never_replayed_after_resume);
	tcase_add_test(tc, test_wal_writer_thread_recovers_by_itself_when_space_returns);
	tcase_add_test(tc, test_wal_callback_nonzero_stops_replay);
	tcase_add_test(tc, test_wal_append_limits);
	tcase_add_test(tc, test_wal_roll_and_remove_before);
	tcase_add_test(tc, test_wal_segment_removed_during_open_is_counted_not_fatal);
	tcase_add_test(tc, test_wal_random_damage_never_invents_records);
	tcase_add_test(tc, test_wal_replay_rate_printed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(wal_suite());
	int nf;

	vg_log_init("test_wal", VG_LOG_WARN);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
