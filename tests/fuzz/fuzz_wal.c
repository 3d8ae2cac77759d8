/*
 * fuzz_wal.c: libFuzzer target for WAL replay (receiver/storage/wal.c): the input
 * becomes the segment files of a WAL directory, which vg_wal_open replays
 * and repairs; then a record is appended and synced, and a second open must
 * find the repaired WAL clean with that record last.
 *
 * Input layout:
 *   byte 0    control: bits 0-1 the first segment number (1, 2, 99999999,
 *             4294967294: the move to nine digits and the end of the
 *             numbers); bit 2 numbers step by 2 (a gap); bit 3 a tiny
 *             segment_bytes, so the sync rolls; bit 4 a replay callback
 *             returns an error after bits 5-6 records; bit 7 raw: the
 *             segments are written exactly as given (bad magic and the
 *             like), with none of the help below.
 *   the rest  segment contents, split on "=SEG=" (at most 4 segments).
 * A segment that does not start with "VGWAL" gets a valid header put in
 * front (a strict prefix of "VGWAL", the empty string included, is kept as
 * a torn header); in one that does, a zero segment number and a zero header
 * check are filled in. Records whose checksum field is zero get their
 * checksum (segment number and offset seeded, as docs/wal.md says) filled
 * in, so mutations reach the body decoder instead of dying at the checksum.
 *
 * Checked: the callbacks get keys and batches within the limits; the counts
 * in *replayed match what the callbacks saw; an open that fails (callback
 * stop, newer version, numbers exhausted) changed no file; after a good
 * open, append, sync and close, the next open replays two more records, the
 * appended ones last, and finds no damaged tail. Each run uses a fresh
 * temporary directory, removed at the end; a leaked descriptor aborts.
 * fdatasync is a no-op through the WAL's file-operations seam: durability
 * is not under test here, and it keeps runs fast.
 */
#include "config.h" /* _GNU_SOURCE, before any system header */

#include "receiver/storage/wal.h"
#include "common/fs.h"
#include "common/err.h"
#include "common/log.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SEGS 4
#define MARKER "=SEG="
#define MARKER_LEN 5
#define HEADER_BYTES 16
#define MAGIC "VGWAL"
#define MAGIC_LEN 5

static const uint32_t first_segnos[4] = { 1, 2, 99999999, 4294967294u };

/* What the appended records are, so the second replay can find them. */
static const uint8_t fuzz_key[] = "fuzz_up\xffjob\xffwal\xff";
#define FUZZ_ID 0xabcdefu
#define FUZZ_HASH 0x1122334455667788ull

struct seen {
	uint64_t records, samples;
	int stop_after; /* -1: never */
	bool was_series_last;
	uint32_t last_id;
	uint64_t last_key_hash;
	size_t last_key_len;
	uint64_t last_agent_hash, last_seq;
	size_t last_n;
	uint64_t last_batch_hash; /* of the ids, timestamps and value bits */
};

/* dir/name into out; a path that does not fit aborts the run. */
static void join_path(char *out, size_t size, const char *dir, const char *name)
{
	int n = snprintf(out, size, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= size)
		abort();
}

static int noop_fdatasync(int fd)
{
	(void)fd;
	return 0;
}

static const struct vg_fileops fast_ops = { NULL, noop_fdatasync, NULL };

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int on_series(void *arg, uint32_t id, const uint8_t *key, size_t key_len)
{
	struct seen *s = arg;

	if (key_len > VG_WAL_MAX_KEY_BYTES || (key_len > 0 && key == NULL))
		abort();
	s->last_key_hash = XXH3_64bits(key, key_len); /* reads every byte */
	s->last_key_len = key_len;
	s->last_id = id;
	s->was_series_last = true;
	s->records++;
	if (s->stop_after >= 0 && s->records > (uint64_t)s->stop_after)
		return VG_EPROTO;
	return 0;
}

static uint64_t batch_hash(const struct vg_wal_samples *b)
{
	XXH3_state_t *h = XXH3_createState();
	uint64_t v;

	if (h == NULL)
		abort();
	XXH3_64bits_reset(h);
	XXH3_64bits_update(h, b->ids, b->n * sizeof(*b->ids));
	XXH3_64bits_update(h, b->ts_ms, b->n * sizeof(*b->ts_ms));
	XXH3_64bits_update(h, b->values, b->n * sizeof(*b->values));
	v = XXH3_64bits_digest(h);
	XXH3_freeState(h);
	return v;
}

static int on_samples(void *arg, const struct vg_wal_samples *b)
{
	struct seen *s = arg;

	if (b->n > VG_WAL_MAX_SAMPLES)
		abort();
	if (b->n > 0 && (b->ids == NULL || b->ts_ms == NULL || b->values == NULL))
		abort();
	s->last_agent_hash = b->agent_hash;
	s->last_seq = b->seq;
	s->last_n = b->n;
	s->last_batch_hash = batch_hash(b); /* reads every element */
	s->was_series_last = false;
	s->samples += b->n;
	s->records++;
	if (s->stop_after >= 0 && s->records > (uint64_t)s->stop_after)
		return VG_EPROTO;
	return 0;
}

/* Fills in zero checksums of the records in seg[0..len) of segment segno. */
static void fill_checksums(uint8_t *seg, size_t len, uint32_t segno)
{
	size_t off = HEADER_BYTES;

	while (len - off >= 8) {
		uint32_t rec_len = get_le32(seg + off);
		if (rec_len == 0 || rec_len > len - off - 8)
			break;
		if (get_le32(seg + off + 4) == 0)
			put_le32(seg + off + 4, (uint32_t)XXH3_64bits_withSeed(
				seg + off + 8, rec_len, (uint64_t)segno << 40 ^ off));
		off += 8 + (size_t)rec_len;
	}
}

/* Writes one segment file built from part[0..n), as it is when is_raw. */
static void write_segment(const char *dir, uint32_t segno, const uint8_t *part, size_t n,
			  bool is_raw)
{
	char path[4200], name[16];
	uint8_t *seg = malloc(n + HEADER_BYTES + 1);
	size_t len = 0;
	int fd;

	if (seg == NULL)
		abort();
	if (is_raw || (n < MAGIC_LEN && memcmp(part, MAGIC, n) == 0)) {
		if (n > 0)
			memcpy(seg, part, n); /* raw, or a torn header */
		len = n;
	} else {
		if (n < MAGIC_LEN || memcmp(part, MAGIC, MAGIC_LEN) != 0) {
			memcpy(seg, MAGIC "\x01\0\0", 8); /* version 1, flags 0 */
			put_le32(seg + 8, 0);
			put_le32(seg + 12, 0);
			len = HEADER_BYTES;
		}
		if (n > 0)
			memcpy(seg + len, part, n);
		len += n;
		if (len >= HEADER_BYTES) {
			if (get_le32(seg + 8) == 0)
				put_le32(seg + 8, segno);
			if (get_le32(seg + 12) == 0)
				put_le32(seg + 12, (uint32_t)XXH3_64bits(seg, 12));
			fill_checksums(seg, len, segno);
		}
	}
	snprintf(name, sizeof(name), "%08" PRIu32, segno);
	join_path(path, sizeof(path), dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || (len > 0 && write(fd, seg, len) != (ssize_t)len))
		abort();
	close(fd);
	free(seg);
}

struct listing {
	size_t n;
	char names[MAX_SEGS + 1][16];
	off_t sizes[MAX_SEGS + 1];
};

/* The files of dir, sorted by name; aborts past MAX_SEGS + 1 (the WAL makes
 * at most a few files here). */
static void list_dir(const char *dir, struct listing *l)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	memset(l, 0, sizeof(*l));
	if (d == NULL)
		abort();
	while ((de = readdir(d)) != NULL) {
		char path[4200];
		struct stat sb;
		size_t i;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (l->n == MAX_SEGS + 1 || strlen(de->d_name) >= sizeof(l->names[0]))
			abort();
		join_path(path, sizeof(path), dir, de->d_name);
		if (stat(path, &sb) != 0)
			abort();
		for (i = l->n; i > 0 && strcmp(l->names[i - 1], de->d_name) > 0; i--) {
			memcpy(l->names[i], l->names[i - 1], sizeof(l->names[0]));
			l->sizes[i] = l->sizes[i - 1];
		}
		memcpy(l->names[i], de->d_name, strlen(de->d_name) + 1);
		l->sizes[i] = sb.st_size;
		l->n++;
	}
	closedir(d);
}

static void remove_tree(const char *top, const char *wal)
{
	struct dirent *de;
	DIR *d = opendir(wal);

	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			char path[4200];
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			join_path(path, sizeof(path), wal, de->d_name);
			if (unlink(path) != 0)
				abort();
		}
		closedir(d);
		if (rmdir(wal) != 0)
			abort();
	}
	if (rmdir(top) != 0)
		abort();
}

/* Appends a SERIES and a SAMPLES record and syncs; the sync may fail only
 * when the roll after it runs out of segment numbers. */
static uint64_t append_and_sync(struct vg_wal *w, uint32_t last_segno)
{
	static const uint32_t ids[3] = { FUZZ_ID, 7, UINT32_MAX };
	static const int64_t ts[3] = { 1700000000000, -5, INT64_MIN };
	const double values[3] = { 0.25, NAN, -42 };
	struct vg_wal_samples b = { FUZZ_HASH, 3, 99, 3, ids, ts, values };
	struct vg_err err;

	if (vg_wal_append_series(w, FUZZ_ID, fuzz_key, sizeof(fuzz_key) - 1, &err) != 0 ||
	    vg_wal_append_samples(w, &b, &err) != 0)
		abort();
	if (vg_wal_sync(w, &err) != 0 && last_segno != UINT32_MAX)
		abort();
	return batch_hash(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd_baseline = -1;
	const char *tmp = getenv("TMPDIR");
	char top[4096], wal[4200];
	struct vg_wal_options opts = { 0, &fast_ops };
	struct vg_wal_replay_cb cb = { on_series, on_samples, NULL };
	struct vg_wal_stats st, st2, now;
	struct listing before, after;
	struct seen seen, seen2;
	struct vg_wal *w;
	struct vg_err err;
	uint32_t segno = 1, step = 1, last_segno = 0;
	uint8_t ctl = size > 0 ? data[0] : 0;
	uint64_t appended_hash;
	int rc, probe;

	if (fd_baseline < 0)
		vg_log_init("fuzz_wal", VG_LOG_ERROR); /* replay warns on every damage */
	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	join_path(top, sizeof(top), tmp, "vg-fuzz-wal-XXXXXX");
	if (mkdtemp(top) == NULL)
		abort();
	join_path(wal, sizeof(wal), top, "wal");

	memset(&before, 0, sizeof(before));
	if (size > 1) {
		const uint8_t *p = data + 1, *end = data + size;
		int n_segs = 0;

		segno = first_segnos[ctl & 3];
		step = ctl & 4 ? 2 : 1;
		if (mkdir(wal, 0755) != 0)
			abort();
		while (n_segs < MAX_SEGS) {
			const uint8_t *m = n_segs + 1 < MAX_SEGS ?
				memmem(p, (size_t)(end - p), MARKER, MARKER_LEN) : NULL;
			const uint8_t *stop = m ? m : end;

			write_segment(wal, segno, p, (size_t)(stop - p), ctl & 128);
			last_segno = segno;
			n_segs++;
			if (m == NULL || segno > UINT32_MAX - step)
				break;
			segno += step;
			p = m + MARKER_LEN;
		}
		list_dir(wal, &before);
	}
	if (ctl & 8)
		opts.segment_bytes = 32;

	memset(&seen, 0, sizeof(seen));
	seen.stop_after = ctl & 16 ? (ctl >> 5) & 3 : -1;
	cb.arg = &seen;
	vg_err_clear(&err);
	rc = vg_wal_open(wal, &opts, &cb, &w, &st, &err);
	if (rc != 0) {
		/* Only these may fail an open here, and none changes a file. */
		if (!(rc == VG_EPROTO && seen.stop_after >= 0) && rc != VG_EVERSION &&
		    !(rc == VG_ELIMIT && last_segno == UINT32_MAX))
			abort();
		if (w != NULL || err.msg[0] == '\0')
			abort();
		list_dir(wal, &after);
		if (memcmp(&before, &after, sizeof(before)) != 0)
			abort();
		goto out;
	}
	if (st.records != seen.records || st.samples != seen.samples)
		abort();
	vg_wal_stats(w, &now);
	if (now.last_segment != st.last_segment || now.first_segment != st.first_segment ||
	    now.last_segment < now.first_segment)
		abort();
	appended_hash = append_and_sync(w, st.last_segment);
	vg_wal_close(w);

	/* The repaired WAL replays clean, with the appended records last. */
	memset(&seen2, 0, sizeof(seen2));
	seen2.stop_after = -1;
	cb.arg = &seen2;
	rc = vg_wal_open(wal, &opts, &cb, &w, &st2, &err);
	if (rc != 0)
		abort();
	vg_wal_close(w);
	if (st2.records != st.records + 2 || st2.samples != st.samples + 3)
		abort();
	if (st2.corrupt_tails != 0 || st2.damaged_segments != st.damaged_segments ||
	    st2.bad_segments != st.bad_segments)
		abort();
	if (seen2.was_series_last || seen2.last_agent_hash != FUZZ_HASH || seen2.last_seq != 99 ||
	    seen2.last_n != 3 || seen2.last_batch_hash != appended_hash)
		abort();
	if (seen2.last_id != FUZZ_ID || seen2.last_key_len != sizeof(fuzz_key) - 1 ||
	    seen2.last_key_hash != XXH3_64bits(fuzz_key, sizeof(fuzz_key) - 1))
		abort();
out:
	remove_tree(top, wal);
	/* A leaked descriptor would hold the lowest free number. Another
	 * thread of the process (libFuzzer's, the sanitizers') may hold one for
	 * a moment, as one run in CI saw once: only a number taken three times
	 * in a row, a millisecond apart, is a leak, which stays. */
	for (int tries = 0;; tries++) {
		probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (probe < 0)
			abort();
		close(probe);
		if (fd_baseline < 0)
			fd_baseline = probe;
		if (probe == fd_baseline)
			break;
		if (tries == 2)
			abort();
		usleep(1000);
	}
	return 0;
}
