/*
 * spool.c: the agent's unacknowledged batches (spool.h), in memory or in a
 * directory on disk.
 *
 * Owns segments, records, the read cursor, overflow and, on disk, the
 * files below and their recovery. Does not own what a batch means (the
 * sender encodes frames) nor the dictionary (dict.c; the spool only keeps
 * a copy of its keys on disk).
 *
 * SEGMENTS. Batches are appended to the newest segment; a segment holds
 * consecutive seqs only and is closed at segment_bytes (max_bytes / 16,
 * between 64 KiB and 4 MiB) or at a gap in the seqs. A segment goes as a
 * whole: when an ACK covers its last seq, or as the oldest on overflow (its
 * unacknowledged batches counted as dropped). So the bound holds within one
 * segment, and unacknowledged batches cost no memory on disk.
 *
 * RECORD (segments in memory and on disk alike; integers big-endian):
 *
 *   0   4  frame length L, 1 <= L <= 24 + VG_FRAME_MAX_PAYLOAD
 *   4   8  seq
 *   12  4  n_refs: refs [0, n_refs) must be defined before the frame
 *   16  4  n_samples
 *   20  4  checksum: low 32 bits of XXH3_64(frame, seed = XXH3_64(bytes 0..19))
 *   24  L  the SAMPLES frame of protocol 1, as it goes on the wire: its
 *          payload zstd-compressed or not (flag bit 0; the sender spools
 *          a batch it sends at once uncompressed)
 *
 * FILES in the spool directory (names not listed are ignored):
 *   state           32 bytes, written once per open (temporary name, fsync,
 *                   rename, fsync of the directory):
 *                     0 "VGSP", 4 u32 version 1, 8 u64 epoch, 16 u64 next
 *                     seq, 24 u32 0, 28 u32 checksum of bytes 0..27
 *   acked           16 bytes rewritten in place on each ACK that advances:
 *                     0 u64 highest acknowledged seq, 8 u64 XXH3_64 of it;
 *                     never fsynced: a stale value only resends batches
 *                     the receiver already has, which it ignores.
 *   series          the dictionary's keys in ref order, records of
 *                     0 u32 key length (1..65535), 4 u32 low 32 bits of
 *                     XXH3_64(key), 8 key (common/series.h key codec)
 *   seg-<16 hex>    a segment, named by its first seq, records back to back
 *   lock            the pid of the agent using the directory, under an
 *                   exclusive flock held while the spool is open
 *                   (vg_fs_lock_dir): a second agent is refused, since two
 *                   writers of one epoch would corrupt each other.
 *
 * FSYNC ORDER. A key reaches the series file, and that file is fdatasynced,
 * before a batch needing it is appended; each batch is fdatasynced to its
 * segment before vg_spool_append returns.
 *
 * RECOVERY at open: no valid state file: a new epoch, and whatever else is
 * in the directory is removed (its batches counted as dropped: they cannot
 * be sent under an epoch we do not know). Otherwise the series file is read
 * up to its first bad record (the rest cut off), then each segment in seq
 * order up to its first bad record, seq out of order, or n_refs beyond the
 * keys read (the rest dropped, logged, counted; the file cut there). The
 * next seq continues from the highest of the state file, the acked file and
 * the segments. When no batch is left unacknowledged, the dictionary starts
 * afresh: the series file is emptied, so it cannot grow without bound
 * across restarts.
 */
#include "agent/spool.h"
#include "agent/dict.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/fs.h"
#include "common/err.h"
#include "common/frame.h"
#include "common/hash.h"
#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/banned.h"

#define REC_HEADER 24
#define REC_MAX_FRAME (VG_FRAME_HEADER_SIZE + VG_FRAME_MAX_PAYLOAD)
#define KEY_HEADER 8
#define KEY_MAX 65535
#define STATE_SIZE 32
#define STATE_MAGIC 0x56475350u /* "VGSP" */
#define SEG_MIN (64u << 10)
#define SEG_MAX (4u << 20)

struct seg {
	struct seg *next;
	uint64_t first_seq, last_seq;
	uint64_t bytes;
	struct vg_buf mem; /* memory spools: the records */
};

struct vg_spool {
	char *dir;            /* NULL: memory only */
	uint64_t max_bytes, seg_bytes;
	struct seg *head, *tail;
	uint64_t bytes;       /* sum of the segments' bytes */
	uint64_t acked;       /* highest acknowledged seq */
	int tail_fd;          /* disk: the newest segment, open for appends; -1 */
	int series_fd;        /* disk: the series file, open for appends; -1 */
	bool is_series_dirty; /* keys written since the last fdatasync */
	int acked_fd;
	int lock_fd;          /* disk: the directory's lock, held while open; -1 */
	/* read cursor: the next record to read is at roff in rseg */
	struct seg *rseg;
	uint64_t roff;
	int read_fd;          /* disk: rseg's file, or -1 */
	struct seg *read_fd_seg;
	struct vg_buf scratch;
	struct vg_complaint overflow;
	struct vg_spool_stats stats;
};

static uint32_t rec_checksum(const uint8_t *hdr, const uint8_t *frame, size_t len)
{
	return (uint32_t)XXH3_64bits_withSeed(frame, len, XXH3_64bits(hdr, 20));
}

static void seg_path(const struct vg_spool *sp, uint64_t first_seq, char *out, size_t size)
{
	snprintf(out, size, "%s/seg-%016" PRIx64, sp->dir, first_seq);
}

static void file_path(const struct vg_spool *sp, const char *name, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", sp->dir, name);
}

/* Unacknowledged batches in g: its seqs are consecutive. */
static uint64_t seg_unacked(const struct vg_spool *sp, const struct seg *g)
{
	uint64_t from = sp->acked >= g->first_seq ? sp->acked + 1 : g->first_seq;

	return g->last_seq >= from ? g->last_seq - from + 1 : 0;
}

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static int pread_all(int fd, void *p, size_t n, uint64_t off)
{
	uint8_t *b = p;

	while (n > 0) {
		ssize_t r = pread(fd, b, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

/* Reads a whole file of at most max bytes into b (reset first). */
static int read_file(const char *path, uint64_t max, struct vg_buf *b)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;

	vg_buf_reset(b);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || (uint64_t)st.st_size > max || vg_buf_grow(b, (size_t)st.st_size + 1) != 0)
		goto out;
	if (st.st_size > 0 && pread_all(fd, b->data, (size_t)st.st_size, 0) != 0)
		goto out;
	b->len = (size_t)st.st_size;
	rc = 0;
out:
	close(fd);
	return rc;
}

/* --- segments ------------------------------------------------------------- */

static void read_fd_close(struct vg_spool *sp)
{
	if (sp->read_fd >= 0)
		close(sp->read_fd);
	sp->read_fd = -1;
	sp->read_fd_seg = NULL;
}

/* Removes the oldest segment (its file too). */
static void seg_pop(struct vg_spool *sp)
{
	struct seg *g = sp->head;
	char path[4096];

	if (sp->rseg == g) {
		sp->rseg = g->next;
		sp->roff = 0;
	}
	if (sp->read_fd_seg == g)
		read_fd_close(sp);
	if (g == sp->tail) {
		sp->tail = NULL;
		if (sp->tail_fd >= 0)
			close(sp->tail_fd);
		sp->tail_fd = -1;
	}
	if (sp->dir) {
		seg_path(sp, g->first_seq, path, sizeof(path));
		if (unlink(path) != 0 && errno != ENOENT)
			vg_warn("spool: cannot remove %s: %s", path, strerror(errno));
	}
	sp->head = g->next;
	sp->bytes -= g->bytes;
	vg_buf_release(&g->mem);
	free(g);
}

/* Counts the samples of g's unacknowledged batches up to seq upto, for
 * the drop counters. */
static uint64_t seg_unacked_samples(struct vg_spool *sp, struct seg *g, uint64_t upto)
{
	uint8_t hdr[REC_HEADER];
	uint64_t off = 0, n = 0;
	int fd = -1;
	char path[4096];

	if (sp->dir) {
		seg_path(sp, g->first_seq, path, sizeof(path));
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return 0;
	}
	while (off + REC_HEADER <= g->bytes) {
		const uint8_t *h = hdr;
		if (fd >= 0) {
			if (pread_all(fd, hdr, REC_HEADER, off) != 0)
				break;
		} else {
			h = g->mem.data + off;
		}
		uint64_t seq = vg_get_be64(h + 4);
		if (seq > upto)
			break;
		if (seq > sp->acked)
			n += vg_get_be32(h + 16);
		off += REC_HEADER + vg_get_be32(h);
	}
	if (fd >= 0)
		close(fd);
	return n;
}

static void drop_oldest(struct vg_spool *sp, const char *why)
{
	struct seg *g = sp->head;
	uint64_t n = seg_unacked(sp, g);

	sp->stats.batches_dropped += n;
	sp->stats.samples_dropped += seg_unacked_samples(sp, g, UINT64_MAX);
	if (n > 0)
		vg_log_complain(&sp->overflow, VG_LOG_WARN,
				"spool %s: dropping the oldest %llu batches (seq %llu..%llu); %llu dropped so far",
				why, (unsigned long long)n, (unsigned long long)g->first_seq,
				(unsigned long long)g->last_seq, (unsigned long long)sp->stats.batches_dropped);
	seg_pop(sp);
}

static int seg_new(struct vg_spool *sp, uint64_t first_seq, struct vg_err *err)
{
	struct seg *g = calloc(1, sizeof(*g));
	char path[4096];

	if (g == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	vg_buf_init(&g->mem);
	g->first_seq = first_seq;
	g->last_seq = first_seq - 1;
	if (sp->dir) {
		if (sp->tail_fd >= 0)
			close(sp->tail_fd);
		seg_path(sp, first_seq, path, sizeof(path));
		sp->tail_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
		if (sp->tail_fd < 0) {
			free(g);
			return vg_err_set(err, VG_EIO, "spool: cannot create %s: %s", path, strerror(errno));
		}
	}
	if (sp->tail)
		sp->tail->next = g;
	else
		sp->head = g;
	sp->tail = g;
	if (sp->rseg == NULL) {
		sp->rseg = g;
		sp->roff = 0;
	}
	return 0;
}

int vg_spool_append(struct vg_spool *sp, const struct vg_spool_batch *b, struct vg_err *err)
{
	uint8_t hdr[REC_HEADER];
	struct seg *g = sp->tail;
	int rc;

	if (b->len == 0 || b->len > REC_MAX_FRAME)
		return vg_err_set(err, VG_ELIMIT, "spool: batch of %zu bytes", b->len);
	if (sp->dir && sp->is_series_dirty) {
		if (fdatasync(sp->series_fd) != 0)
			return vg_err_set(err, VG_EIO, "spool: fdatasync %s/series: %s", sp->dir, strerror(errno));
		sp->is_series_dirty = false;
	}
	/* On disk, a segment found at open is never appended to: its tail
	 * may be torn. */
	if (g == NULL || g->last_seq + 1 != b->seq || g->bytes >= sp->seg_bytes || (sp->dir && sp->tail_fd < 0)) {
		if ((rc = seg_new(sp, b->seq, err)) != 0)
			return rc;
		g = sp->tail;
	}
	vg_put_be32(hdr, (uint32_t)b->len);
	vg_put_be64(hdr + 4, b->seq);
	vg_put_be32(hdr + 12, b->n_refs);
	vg_put_be32(hdr + 16, b->n_samples);
	vg_put_be32(hdr + 20, rec_checksum(hdr, b->frame, b->len));
	if (sp->dir) {
		if (write_all(sp->tail_fd, hdr, sizeof(hdr)) != 0 || write_all(sp->tail_fd, b->frame, b->len) != 0 ||
		    fdatasync(sp->tail_fd) != 0) {
			rc = vg_err_set(err, VG_EIO, "spool: cannot write to %s/seg-%016" PRIx64 ": %s", sp->dir,
					g->first_seq, strerror(errno));
			/* Whatever part reached the file is cut off again. */
			if (ftruncate(sp->tail_fd, (off_t)g->bytes) != 0)
				vg_warn("spool: cannot cut %s/seg-%016" PRIx64 " back: %s", sp->dir, g->first_seq,
					strerror(errno));
			return rc;
		}
	} else {
		vg_buf_append(&g->mem, hdr, sizeof(hdr));
		vg_buf_append(&g->mem, b->frame, b->len);
		if (vg_buf_failed(&g->mem)) {
			g->mem.len = (size_t)g->bytes;
			g->mem.is_failed = false;
			return vg_err_set(err, VG_ENOMEM, "out of memory spooling a batch");
		}
	}
	g->bytes += REC_HEADER + b->len;
	g->last_seq = b->seq;
	sp->bytes += REC_HEADER + b->len;
	while (sp->bytes > sp->max_bytes && sp->head != sp->tail)
		drop_oldest(sp, "is full");
	return 0;
}

/* --- acknowledgements ----------------------------------------------------- */

static void write_acked(struct vg_spool *sp)
{
	uint8_t b[16];

	if (sp->acked_fd < 0)
		return;
	vg_put_be64(b, sp->acked);
	vg_put_be64(b + 8, XXH3_64bits(b, 8));
	if (pwrite(sp->acked_fd, b, sizeof(b), 0) != (ssize_t)sizeof(b))
		vg_warn("spool: cannot write %s/acked: %s", sp->dir, strerror(errno));
}

uint64_t vg_spool_ack(struct vg_spool *sp, uint64_t seq)
{
	uint64_t before = 0, after = 0;

	if (seq <= sp->acked)
		return 0;
	for (struct seg *g = sp->head; g; g = g->next)
		before += seg_unacked(sp, g);
	sp->acked = seq;
	write_acked(sp);
	while (sp->head && sp->head->last_seq <= sp->acked)
		seg_pop(sp);
	for (struct seg *g = sp->head; g; g = g->next)
		after += seg_unacked(sp, g);
	return before - after;
}

bool vg_spool_refuse(struct vg_spool *sp, uint64_t seq)
{
	uint64_t first = vg_spool_first_seq(sp);

	if (first == 0 || first != seq)
		return false;
	sp->stats.batches_dropped++;
	sp->stats.samples_dropped += seg_unacked_samples(sp, sp->head, seq);
	sp->acked = seq;
	write_acked(sp);
	while (sp->head && sp->head->last_seq <= sp->acked)
		seg_pop(sp);
	return true;
}

/* --- reading -------------------------------------------------------------- */

void vg_spool_rewind(struct vg_spool *sp)
{
	sp->rseg = sp->head;
	sp->roff = 0;
}

int vg_spool_next(struct vg_spool *sp, struct vg_spool_batch *out, struct vg_err *err)
{
	char path[4096];

	for (;;) {
		struct seg *g = sp->rseg;
		const uint8_t *h, *frame;
		uint8_t hdr[REC_HEADER];
		uint32_t len;

		if (g == NULL)
			return 1;
		if (sp->roff + REC_HEADER > g->bytes) {
			if (g->next == NULL)
				return 1; /* the cursor waits at the end of the newest */
			sp->rseg = g->next;
			sp->roff = 0;
			continue;
		}
		if (sp->dir) {
			if (sp->read_fd_seg != g) {
				read_fd_close(sp);
				seg_path(sp, g->first_seq, path, sizeof(path));
				if ((sp->read_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
					return vg_err_set(err, VG_EIO, "spool: cannot open %s: %s", path, strerror(errno));
				sp->read_fd_seg = g;
			}
			if (pread_all(sp->read_fd, hdr, REC_HEADER, sp->roff) != 0)
				return vg_err_set(err, VG_EIO, "spool: cannot read %s/seg-%016" PRIx64 ": %s",
						  sp->dir, g->first_seq, strerror(errno));
			h = hdr;
			len = vg_get_be32(h);
			vg_buf_reset(&sp->scratch);
			if (len > REC_MAX_FRAME || sp->roff + REC_HEADER + len > g->bytes ||
			    vg_buf_grow(&sp->scratch, len) != 0 ||
			    pread_all(sp->read_fd, sp->scratch.data, len, sp->roff + REC_HEADER) != 0)
				return vg_err_set(err, VG_EIO, "spool: cannot read %s/seg-%016" PRIx64, sp->dir,
						  g->first_seq);
			frame = sp->scratch.data;
			/* The file may have changed under us since it was written. */
			if (rec_checksum(h, frame, len) != vg_get_be32(h + 20)) {
				vg_warn("spool: %s/seg-%016" PRIx64 " is damaged at offset %" PRIu64
					"; skipping the rest of it", sp->dir, g->first_seq, sp->roff);
				sp->roff = g->bytes;
				continue;
			}
		} else {
			h = g->mem.data + sp->roff;
			len = vg_get_be32(h);
			frame = h + REC_HEADER;
		}
		sp->roff += REC_HEADER + len;
		out->seq = vg_get_be64(h + 4);
		if (out->seq <= sp->acked)
			continue;
		out->n_refs = vg_get_be32(h + 12);
		out->n_samples = vg_get_be32(h + 16);
		out->len = len;
		out->frame = frame;
		return 0;
	}
}

bool vg_spool_is_empty(const struct vg_spool *sp)
{
	return vg_spool_first_seq(sp) == 0;
}

uint64_t vg_spool_first_seq(const struct vg_spool *sp)
{
	for (const struct seg *g = sp->head; g; g = g->next)
		if (seg_unacked(sp, g) > 0)
			return g->first_seq > sp->acked ? g->first_seq : sp->acked + 1;
	return 0;
}

void vg_spool_get_stats(const struct vg_spool *sp, struct vg_spool_stats *out)
{
	*out = sp->stats;
	out->batches = 0;
	for (const struct seg *g = sp->head; g; g = g->next)
		out->batches += seg_unacked(sp, g);
	out->bytes = sp->bytes;
}

/* --- the dictionary on disk ----------------------------------------------- */

int vg_spool_add_series(struct vg_spool *sp, const uint8_t *key, size_t len, struct vg_err *err)
{
	uint8_t hdr[KEY_HEADER];

	if (sp->dir == NULL)
		return 0;
	if (len == 0 || len > KEY_MAX)
		return vg_err_set(err, VG_ELIMIT, "spool: series key of %zu bytes", len);
	vg_put_be32(hdr, (uint32_t)len);
	vg_put_be32(hdr + 4, (uint32_t)XXH3_64bits(key, len));
	if (write_all(sp->series_fd, hdr, sizeof(hdr)) != 0 || write_all(sp->series_fd, key, len) != 0)
		return vg_err_set(err, VG_EIO, "spool: cannot write %s/series: %s", sp->dir, strerror(errno));
	sp->is_series_dirty = true;
	return 0;
}

/* --- opening and recovery --------------------------------------------------- */

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

static bool read_state(struct vg_spool *sp, uint64_t *epoch, uint64_t *next_seq)
{
	char path[4096];
	const uint8_t *p;

	file_path(sp, "state", path, sizeof(path));
	if (read_file(path, STATE_SIZE, &sp->scratch) != 0 || sp->scratch.len != STATE_SIZE)
		return false;
	p = sp->scratch.data;
	if (vg_get_be32(p) != STATE_MAGIC || vg_get_be32(p + 4) != 1 ||
	    vg_get_be32(p + 28) != (uint32_t)XXH3_64bits(p, 28))
		return false;
	*epoch = vg_get_be64(p + 8);
	*next_seq = vg_get_be64(p + 16);
	return *next_seq > 0;
}

static int write_state(struct vg_spool *sp, uint64_t epoch, uint64_t next_seq, struct vg_err *err)
{
	char path[4096], tmp[4096];
	uint8_t b[STATE_SIZE] = { 0 };
	int fd;

	vg_put_be32(b, STATE_MAGIC);
	vg_put_be32(b + 4, 1);
	vg_put_be64(b + 8, epoch);
	vg_put_be64(b + 16, next_seq);
	vg_put_be32(b + 28, (uint32_t)XXH3_64bits(b, 28));
	file_path(sp, "state", path, sizeof(path));
	file_path(sp, "state.tmp", tmp, sizeof(tmp));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, b, sizeof(b)) != 0 || fsync(fd) != 0) {
		if (fd >= 0)
			close(fd);
		return vg_err_set(err, VG_EIO, "spool: cannot write %s: %s", tmp, strerror(errno));
	}
	close(fd);
	if (rename(tmp, path) != 0 || fsync_dir(sp->dir) != 0)
		return vg_err_set(err, VG_EIO, "spool: cannot publish %s: %s", path, strerror(errno));
	return 0;
}

static uint64_t read_acked(struct vg_spool *sp)
{
	char path[4096];
	const uint8_t *p;

	file_path(sp, "acked", path, sizeof(path));
	if (read_file(path, 16, &sp->scratch) != 0 || sp->scratch.len != 16)
		return 0;
	p = sp->scratch.data;
	return vg_get_be64(p + 8) == XXH3_64bits(p, 8) ? vg_get_be64(p) : 0;
}

/* Reads the series file into dict; returns the length of its good part. */
static uint64_t load_series(struct vg_spool *sp, struct vg_dict *dict)
{
	char path[4096];
	size_t off = 0;

	file_path(sp, "series", path, sizeof(path));
	if (read_file(path, (uint64_t)VG_FRAME_MAX_REF * (KEY_HEADER + 256), &sp->scratch) != 0)
		return 0;
	while (off + KEY_HEADER <= sp->scratch.len) {
		const uint8_t *p = sp->scratch.data + off;
		uint32_t len = vg_get_be32(p);
		if (len == 0 || len > KEY_MAX || len > sp->scratch.len - off - KEY_HEADER ||
		    vg_get_be32(p + 4) != (uint32_t)XXH3_64bits(p + KEY_HEADER, len) ||
		    vg_dict_add_key(dict, p + KEY_HEADER, len) != 0)
			break;
		off += KEY_HEADER + len;
	}
	if (off < sp->scratch.len)
		vg_warn("spool: %s is damaged at offset %zu; %u series read, the rest is cut off", path, off,
			dict->n_refs);
	return off;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The first seqs of the segment files, sorted; other names skipped. */
static int list_segments(struct vg_spool *sp, uint64_t **out, size_t *n, struct vg_err *err)
{
	DIR *d = opendir(sp->dir);
	struct dirent *e;
	uint64_t *v = NULL;
	size_t cap = 0;

	*n = 0;
	if (d == NULL)
		return vg_err_set(err, VG_EIO, "spool: cannot read %s: %s", sp->dir, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		uint64_t seq = 0;
		size_t i;
		if (strncmp(e->d_name, "seg-", 4) != 0 || strlen(e->d_name) != 20)
			continue;
		for (i = 4; i < 20; i++) {
			char c = e->d_name[i];
			int x = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
			if (x < 0)
				break;
			seq = seq << 4 | (uint64_t)x;
		}
		if (i < 20 || seq == 0)
			continue;
		if (*n == cap) {
			size_t c2 = cap ? cap * 2 : 64;
			uint64_t *nv = realloc(v, c2 * sizeof(*nv));
			if (nv == NULL) {
				closedir(d);
				free(v);
				return vg_err_set(err, VG_ENOMEM, "out of memory");
			}
			v = nv;
			cap = c2;
		}
		v[(*n)++] = seq;
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_u64);
	*out = v;
	return 0;
}

/* Scans one segment file: keeps its good, in-order prefix as a segment. */
static int load_segment(struct vg_spool *sp, uint64_t first, uint32_t n_keys, uint64_t *last_seen,
			struct vg_err *err)
{
	char path[4096];
	size_t off = 0;
	uint64_t expect = first, dropped = 0;
	struct seg *g;

	seg_path(sp, first, path, sizeof(path));
	if (read_file(path, (uint64_t)SEG_MAX + REC_HEADER + REC_MAX_FRAME, &sp->scratch) != 0) {
		vg_warn("spool: cannot read %s; removing it", path);
		unlink(path);
		return 0;
	}
	while (off + REC_HEADER <= sp->scratch.len) {
		const uint8_t *h = sp->scratch.data + off;
		uint32_t len = vg_get_be32(h);
		if (len == 0 || len > REC_MAX_FRAME || len > sp->scratch.len - off - REC_HEADER ||
		    rec_checksum(h, h + REC_HEADER, len) != vg_get_be32(h + 20) ||
		    vg_get_be64(h + 4) != expect || vg_get_be32(h + 12) > n_keys)
			break;
		off += REC_HEADER + len;
		expect++;
	}
	if (off < sp->scratch.len) {
		/* What follows cannot be trusted; count what looks like batches. */
		for (size_t o = off; o + REC_HEADER <= sp->scratch.len;) {
			uint32_t len = vg_get_be32(sp->scratch.data + o);
			dropped++;
			if (len == 0 || len > sp->scratch.len - o - REC_HEADER)
				break;
			o += REC_HEADER + len;
		}
		vg_warn("spool: %s is damaged or cut at offset %zu; dropping what follows", path, off);
		sp->stats.batches_dropped += dropped;
		if (truncate(path, (off_t)off) != 0)
			vg_warn("spool: cannot cut %s: %s", path, strerror(errno));
	}
	if (off == 0 || expect - 1 <= sp->acked || first <= *last_seen) {
		if (unlink(path) != 0 && errno != ENOENT)
			return vg_err_set(err, VG_EIO, "spool: cannot remove %s: %s", path, strerror(errno));
		if (expect - 1 > *last_seen && off > 0)
			*last_seen = expect - 1;
		return 0;
	}
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	vg_buf_init(&g->mem);
	g->first_seq = first;
	g->last_seq = expect - 1;
	g->bytes = off;
	if (sp->tail)
		sp->tail->next = g;
	else
		sp->head = g;
	sp->tail = g;
	sp->bytes += off;
	*last_seen = g->last_seq;
	return 0;
}

static int clear_dir(struct vg_spool *sp, struct vg_err *err)
{
	uint64_t *segs = NULL;
	size_t n;
	char path[4096];
	int rc;

	if ((rc = list_segments(sp, &segs, &n, err)) != 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		seg_path(sp, segs[i], path, sizeof(path));
		unlink(path);
	}
	if (n)
		vg_warn("spool: %s has no valid state file; removing %zu segments of an unknown epoch", sp->dir, n);
	free(segs);
	file_path(sp, "series", path, sizeof(path));
	unlink(path);
	file_path(sp, "acked", path, sizeof(path));
	unlink(path);
	return 0;
}

static int open_disk(struct vg_spool *sp, struct vg_dict *dict, struct vg_spool_resume *resume,
		     struct vg_err *err)
{
	uint64_t epoch = 0, next_seq = 1, last_seen = 0, series_len = 0, *segs = NULL;
	size_t n_segs = 0;
	char path[4096];
	int rc;

	if (mkdir(sp->dir, 0700) != 0 && errno != EEXIST)
		return vg_err_set(err, VG_EIO, "spool: cannot create %s: %s", sp->dir, strerror(errno));
	if ((rc = vg_fs_lock_dir(sp->dir, &sp->lock_fd, err)) != 0)
		return rc;
	resume->is_resumed = read_state(sp, &epoch, &next_seq);
	if (!resume->is_resumed) {
		if ((rc = clear_dir(sp, err)) != 0)
			return rc;
		epoch = vg_random_u64();
		next_seq = 1;
	} else {
		sp->acked = read_acked(sp);
		series_len = load_series(sp, dict);
		if ((rc = list_segments(sp, &segs, &n_segs, err)) != 0)
			return rc;
		for (size_t i = 0; i < n_segs; i++)
			if ((rc = load_segment(sp, segs[i], dict->n_refs, &last_seen, err)) != 0)
				goto out;
		if (last_seen + 1 > next_seq)
			next_seq = last_seen + 1;
		if (sp->acked + 1 > next_seq)
			next_seq = sp->acked + 1;
	}
	for (struct seg *g = sp->head; g; g = g->next)
		resume->batches += seg_unacked(sp, g);
	file_path(sp, "series", path, sizeof(path));
	if (resume->batches == 0) {
		/* Nothing left to send under the old refs: start the
		 * dictionary afresh. */
		while (sp->head)
			seg_pop(sp);
		vg_dict_release(dict);
		series_len = 0;
	}
	sp->series_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (sp->series_fd < 0 || ftruncate(sp->series_fd, (off_t)series_len) != 0) {
		rc = vg_err_set(err, VG_EIO, "spool: cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	file_path(sp, "acked", path, sizeof(path));
	sp->acked_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (sp->acked_fd < 0) {
		rc = vg_err_set(err, VG_EIO, "spool: cannot open %s: %s", path, strerror(errno));
		goto out;
	}
	if ((rc = write_state(sp, epoch, next_seq, err)) != 0)
		goto out;
	/* Appends start a new segment: an older tail may end mid-record. */
	sp->tail_fd = -1;
	resume->epoch = epoch;
	resume->next_seq = next_seq;
	vg_spool_rewind(sp);
out:
	free(segs);
	return rc;
}

int vg_spool_open(const struct vg_spool_options *opts, struct vg_dict *dict, struct vg_spool **out,
		  struct vg_spool_resume *resume, struct vg_err *err)
{
	struct vg_spool *sp = calloc(1, sizeof(*sp));
	int rc;

	memset(resume, 0, sizeof(*resume));
	if (sp == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	sp->tail_fd = sp->series_fd = sp->acked_fd = sp->read_fd = sp->lock_fd = -1;
	sp->overflow = (struct vg_complaint)VG_COMPLAINT_INIT;
	vg_buf_init(&sp->scratch);
	sp->max_bytes = opts->max_bytes;
	sp->seg_bytes = opts->max_bytes / 16;
	if (sp->seg_bytes < SEG_MIN)
		sp->seg_bytes = SEG_MIN;
	if (sp->seg_bytes > SEG_MAX)
		sp->seg_bytes = SEG_MAX;
	if (opts->dir && opts->dir[0]) {
		if ((sp->dir = strdup(opts->dir)) == NULL) {
			rc = vg_err_set(err, VG_ENOMEM, "out of memory");
			goto fail;
		}
		if ((rc = open_disk(sp, dict, resume, err)) != 0)
			goto fail;
	} else {
		resume->epoch = vg_random_u64();
		resume->next_seq = 1;
	}
	/* Recovery may hold a large file in scratch: give it back. */
	vg_buf_release(&sp->scratch);
	*out = sp;
	return 0;
fail:
	vg_spool_free(sp);
	return rc;
}

void vg_spool_free(struct vg_spool *sp)
{
	if (sp == NULL)
		return;
	read_fd_close(sp);
	if (sp->tail_fd >= 0)
		close(sp->tail_fd);
	sp->tail_fd = -1;
	/* Only the memory goes: files stay for the next start. */
	while (sp->head) {
		struct seg *g = sp->head;
		sp->head = g->next;
		vg_buf_release(&g->mem);
		free(g);
	}
	if (sp->series_fd >= 0)
		close(sp->series_fd);
	if (sp->acked_fd >= 0)
		close(sp->acked_fd);
	if (sp->lock_fd >= 0)
		close(sp->lock_fd); /* last: the files are left whole */
	vg_buf_release(&sp->scratch);
	free(sp->dir);
	free(sp);
}
