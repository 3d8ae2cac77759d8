/*
 * wal.c: the receiver's write-ahead log of wal.h.
 *
 * Owns the files of the WAL directory, the record format, group commit and
 * replay. Does not own what records mean (ingest and the head do) or when
 * old segments may go (the caller's checkpoint; vg_wal_remove_before).
 * docs/wal.md has the full description with a diagram.
 *
 * FILES. The directory holds segment files named by their number, eight
 * decimal digits at least ("00000001"); other names are ignored. Records
 * are appended to the highest-numbered segment only.
 *
 * SEGMENT HEADER (16 bytes, written and fsynced when the file is created):
 *
 *   0   5  magic "VGWAL"
 *   5   1  format version (1)
 *   6   2  flags, 0
 *   8   4  segment number (must match the file name)
 *   12  4  low 32 bits of XXH3_64(bytes 0..11, seed 0)
 *
 * RECORD (back to back from offset 16 to the end of the file):
 *
 *   0   4  body length L, 1 <= L <= 64 MiB
 *   4   4  checksum: low 32 bits of XXH3_64(body, seed = segno << 40 ^ off)
 *   8   L  body: u8 type, then the type's fields
 *
 * where off is the file offset of the record's length field. Seeding with
 * both means a record is valid only in the segment and at the place it was
 * written: a stale record from another segment (a recycled file, filesystem
 * blocks of a deleted segment showing up in a crashed file's tail) or a
 * record copied within a segment fails its checksum like random bytes do.
 *
 *   SERIES  (1): uvarint id, uvarint key length (<= 64 KiB), key bytes
 *   SAMPLES (2): u64 agent hash, uvarint epoch, uvarint seq, uvarint n,
 *                then n samples of:
 *                  varint id delta from the previous sample's id (first from 0)
 *                  varint ts delta from the previous sample's ts (first from 0)
 *                  value: uvarint zigzag(i) << 1 when the value is an integer
 *                         i with |i| <= 2^53 whose double has the same bits;
 *                         otherwise the byte 0x01 and the 8 IEEE-754 bytes
 * Fixed-width integers and raw values are little-endian; "varint" is a
 * zigzag-encoded uvarint (common/buf.h). The body must be consumed exactly.
 * A sample takes at least 3 bytes, so n <= (bytes left) / 3 before any array
 * is sized. Counters and byte gauges, most of a host's series, are integers
 * and take 2-6 bytes instead of 8; ids of one frame are mostly consecutive
 * and samples of one frame share a timestamp, so both deltas are one byte.
 *
 * FSYNC ORDER. Creating a segment: write the header, fdatasync the file,
 * fdatasync the directory; only then is a record appended to it. Group
 * commit (vg_wal_commit, vg_wal_sync): the owner hands the buffered records
 * to the writer (a thread of the WAL's own once vg_wal_start_writer ran,
 * else the owner itself), which writes every queued commit in order,
 * fdatasyncs the segment once, and then reports the highest durable
 * ticket; after a commit that leaves the segment past segment_bytes it
 * creates the next one as above. So every
 * segment but the last is complete and synced before its successor exists,
 * and only the last can end in a torn record. Cutting a damaged tail at
 * open: ftruncate, fdatasync. A failed write or fdatasync breaks the WAL
 * (wal.h says why); the writer then cuts the segment back to its last
 * synced byte and starts the next segment, retrying until the disk takes
 * it (recover), and the owner resumes there (vg_wal_resume).
 *
 * RECOVERY at open, for each segment in numeric order:
 *  - header shorter than 16 bytes: the last segment is rewritten with a
 *    fresh header (a crash during creation); an earlier one is skipped;
 *  - bad magic, checksum, flags or number: warn, skip the file (and append
 *    to a new segment when it was the last); a newer version fails the open;
 *  - a record with a bad length, short body, bad checksum or malformed body:
 *    in the last segment the file is cut there and appends continue from
 *    that offset; in an earlier segment the rest of that file is skipped.
 * Each case logs one warning with the file and offset.
 */
#include "receiver/storage/wal.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/banned.h"

#define SEG_MAGIC "VGWAL"
#define SEG_VERSION 1
#define SEG_HEADER_BYTES 16
#define REC_HEADER_BYTES 8
#define REC_SERIES 1
#define REC_SAMPLES 2
#define SAMPLE_MIN_BYTES 3
#define SAMPLE_MAX_BYTES 24 /* id 5 (zigzag of a 33-bit delta), ts 10, value 9 */
#define FLUSH_BYTES (1u << 20)
/* Drained items kept for the next commits, and the largest buffer one
 * keeps: a commit of a round at a steady rate fits in it, one of a burst
 * (a crowd of agents defining their series, FLUSH_BYTES at a time) gives
 * its buffer back. */
#define SPARE_ITEMS 2
#define SPARE_ITEM_BYTES (256u << 10)
#define READ_CHUNK_BYTES (1u << 20)
#define MAX_EXACT_INT 9007199254740992.0 /* 2^53 */
#define SEG_NAME_MAX 16

struct seg_info {
	uint32_t segno;
	uint64_t size_bytes; /* on disk; for the current segment see vg_wal.seg_bytes */
};

/* A commit: records appended between two vg_wal_commit calls, on their way
 * to the file. */
struct wal_item {
	struct wal_item *next;
	uint32_t segno;     /* the segment these bytes belong at the end of */
	bool is_sync;       /* fdatasync once written */
	bool is_roll;       /* then start the next segment even if not full */
	uint32_t gen;       /* the owner's generation when committed (recovery) */
	uint64_t ticket;
	struct vg_buf bytes;
};

struct vg_wal {
	char *dir;
	int dir_fd;
	uint64_t segment_bytes; /* roll threshold */
	struct vg_fileops ops;

	/* The owner's side (appends, commits). */
	struct vg_buf buf;      /* records appended since the last commit */
	uint32_t app_segno;     /* the segment the next record lands in */
	uint64_t app_off;       /* and its offset there */
	uint64_t next_ticket;   /* the last ticket handed out */
	uint32_t gen;           /* generation of what the owner appends */
	_Atomic bool is_broken; /* set by the writer, cleared by the owner's resume */

	/* The writer's side: the sync thread, or the owner without one. */
	int fd;                 /* the current segment, open for writing */
	uint32_t segno;         /* its number */
	uint64_t seg_bytes;     /* bytes in its file */
	bool has_unsynced;      /* bytes written since the last fdatasync */
	uint64_t durable_off;   /* bytes of the current segment known synced */
	uint32_t writer_gen;    /* items of another generation are dropped */

	/* Shared, under mu. */
	pthread_mutex_t mu;
	pthread_cond_t work_cv;  /* the queue has items, or stop */
	pthread_cond_t done_cv;  /* durable_ticket moved, or the WAL broke */
	struct wal_item *q_head, *q_tail;
	uint64_t q_bytes;
	struct wal_item *spare;  /* drained items, their buffers kept */
	unsigned n_spare;
	uint64_t durable_ticket; /* every commit up to this one is durable */
	char broken_msg[VG_ERR_MSG_MAX];
	uint32_t ready_gen;      /* recovery done: the owner may resume at ready_segno */
	uint32_t ready_segno;
	bool has_thread, is_stopping;
	pthread_t thread;
	void (*on_durable)(void *arg, uint64_t ticket, int rc);
	void *on_durable_arg;
	struct seg_info *segs; /* every segment file, ascending; the last is current */
	size_t n_segs, cap_segs;
	struct vg_wal_stats st;

	/* Replay scratch, freed when the open ends. */
	struct vg_buf rbuf;
	uint32_t *ids;
	int64_t *ts_ms;
	double *values;
	size_t cap_samples;
};

/* ---- little helpers ------------------------------------------------------ */

static inline void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static inline uint8_t *put_uv(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* vg_get_uvarint with the one-byte case inline: most fields of a sample. */
static inline size_t get_uv(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
	if (p < end && p[0] < 0x80) {
		*v = p[0];
		return 1;
	}
	return vg_get_uvarint(p, (size_t)(end - p), v);
}

static inline uint8_t *put_value(uint8_t *p, double v)
{
	uint64_t bits, back_bits;
	double back;
	int64_t i;

	memcpy(&bits, &v, 8);
	/* NaN fails both comparisons, so the cast below is always defined. */
	if (v >= -MAX_EXACT_INT && v <= MAX_EXACT_INT) {
		i = (int64_t)v;
		back = (double)i;
		memcpy(&back_bits, &back, 8);
		if (back_bits == bits) /* not -0.0, not a fraction */
			return put_uv(p, vg_zigzag(i) << 1);
	}
	*p++ = 1;
	put_le64(p, bits);
	return p + 8;
}

static uint64_t record_seed(uint32_t segno, uint64_t off)
{
	return (uint64_t)segno << 40 ^ off;
}

static uint32_t record_checksum(const uint8_t *body, size_t len, uint32_t segno, uint64_t off)
{
	return (uint32_t)XXH3_64bits_withSeed(body, len, record_seed(segno, off));
}

static void seg_name(char out[SEG_NAME_MAX], uint32_t segno)
{
	snprintf(out, SEG_NAME_MAX, "%08" PRIu32, segno);
}

/* Eight to ten digits that print back the same and fit in 32 bits. */
static bool parse_seg_name(const char *name, uint32_t *out)
{
	char back[SEG_NAME_MAX];
	uint64_t v = 0;
	size_t n = strlen(name), i;

	if (n < 8 || n > 10)
		return false;
	for (i = 0; i < n; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	if (v == 0 || v > UINT32_MAX)
		return false;
	seg_name(back, (uint32_t)v);
	if (strcmp(back, name) != 0)
		return false;
	*out = (uint32_t)v;
	return true;
}

static void header_encode(uint8_t h[SEG_HEADER_BYTES], uint32_t segno)
{
	memcpy(h, SEG_MAGIC, 5);
	h[5] = SEG_VERSION;
	h[6] = 0;
	h[7] = 0;
	put_le32(h + 8, segno);
	put_le32(h + 12, (uint32_t)XXH3_64bits(h, 12));
}

/* 0 good, 1 bad (*why says how), VG_EVERSION for a newer format. */
static int header_check(const uint8_t *h, uint32_t segno, const char **why)
{
	if (memcmp(h, SEG_MAGIC, 5) != 0) {
		*why = "bad magic";
		return 1;
	}
	if (get_le32(h + 12) != (uint32_t)XXH3_64bits(h, 12)) {
		*why = "header checksum mismatch";
		return 1;
	}
	if (h[5] > SEG_VERSION)
		return VG_EVERSION;
	if (h[5] == 0 || h[6] != 0 || h[7] != 0) {
		*why = "bad version or flags";
		return 1;
	}
	if (get_le32(h + 8) != segno) {
		*why = "segment number does not match the file name";
		return 1;
	}
	return 0;
}

/* Marks the WAL broken and fills err; every later append and sync repeats it. */
static int set_broken(struct vg_wal *w, struct vg_err *err, const char *what, const char *name)
{
	int e = errno;

	pthread_mutex_lock(&w->mu);
	snprintf(w->broken_msg, sizeof(w->broken_msg), "%s %s/%s: %s", what, w->dir, name,
		 strerror(e));
	w->st.write_failures++;
	atomic_store(&w->is_broken, true);
	vg_err_set(err, VG_EIO, "%s", w->broken_msg);
	pthread_mutex_unlock(&w->mu);
	return VG_EIO;
}

static int broken_err(struct vg_wal *w, struct vg_err *err)
{
	pthread_mutex_lock(&w->mu);
	vg_err_set(err, VG_EIO, "WAL failed and waits for the disk to take writes again: %s",
		   w->broken_msg);
	pthread_mutex_unlock(&w->mu);
	return VG_EIO;
}

static int push_seg(struct vg_wal *w, uint32_t segno, uint64_t size_bytes)
{
	if (w->n_segs == w->cap_segs) {
		size_t cap = w->cap_segs ? w->cap_segs * 2 : 16;
		struct seg_info *s = realloc(w->segs, cap * sizeof(*s));
		if (s == NULL)
			return VG_ENOMEM;
		w->segs = s;
		w->cap_segs = cap;
	}
	w->segs[w->n_segs].segno = segno;
	w->segs[w->n_segs].size_bytes = size_bytes;
	w->n_segs++;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* The segment numbers in the directory, ascending; caller frees *out. */
static int list_segments(const struct vg_wal *w, uint32_t **out, size_t *n_out, struct vg_err *err)
{
	uint32_t *v = NULL, *nv;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	d = opendir(w->dir);
	if (d == NULL)
		return vg_err_set(err, VG_EIO, "opendir %s: %s", w->dir, strerror(errno));
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		uint32_t segno;
		if (!parse_seg_name(de->d_name, &segno))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				free(v);
				closedir(d);
				return vg_err_set(err, VG_ENOMEM, "listing %s: out of memory", w->dir);
			}
			v = nv;
		}
		v[n++] = segno;
		errno = 0;
	}
	if (errno != 0) {
		int e = errno;
		free(v);
		closedir(d);
		return vg_err_set(err, VG_EIO, "readdir %s: %s", w->dir, strerror(e));
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_u32);
	*out = v;
	*n_out = n;
	return 0;
}

/* Creates segment segno with its header, synced, and its directory entry,
 * synced. *fd_out is open for writing at the end of the header. */
static int create_segment(struct vg_wal *w, uint32_t segno, int *fd_out, struct vg_err *err)
{
	uint8_t h[SEG_HEADER_BYTES];
	char name[SEG_NAME_MAX];
	const char *what;
	int fd;

	seg_name(name, segno);
	fd = openat(w->dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return vg_err_set(err, VG_EIO, "create %s/%s: %s", w->dir, name, strerror(errno));
	header_encode(h, segno);
	what = "write";
	if (vg_fs_write_all(&w->ops, fd, h, sizeof(h)) != 0)
		goto fail;
	what = "fdatasync";
	if (vg_fs_fdatasync(&w->ops, fd) != 0)
		goto fail;
	what = "fsync the directory after creating";
	if (vg_fs_fdatasync(&w->ops, w->dir_fd) != 0)
		goto fail;
	*fd_out = fd;
	return 0;
fail:
	{
		int e = errno;
		vg_err_set(err, VG_EIO, "%s %s/%s: %s", what, w->dir, name, strerror(e));
		close(fd);
		unlinkat(w->dir_fd, name, 0);
		return VG_EIO;
	}
}

/* ---- replay ------------------------------------------------------------- */

/* A window over a segment file: data[pos..len) of rbuf is unread, and
 * data[0] is at file offset base. */
struct seg_reader {
	int fd;
	const char *dir;
	const char *name;
	struct vg_buf *buf;
	size_t pos;
	uint64_t base;
	bool is_eof;
};

/* 1 when need bytes are available at data + pos, 0 at end of file before
 * that, or a negative error code. */
static int reader_fill(struct seg_reader *r, size_t need, struct vg_err *err)
{
	struct vg_buf *b = r->buf;

	if (b->len - r->pos >= need)
		return 1;
	if (r->is_eof)
		return 0;
	if (r->pos > 0) {
		vg_buf_consume(b, r->pos);
		r->base += r->pos;
		r->pos = 0;
	}
	while (b->len < need) {
		size_t want = need - b->len;
		ssize_t n;

		if (want < READ_CHUNK_BYTES)
			want = READ_CHUNK_BYTES;
		if (vg_buf_grow(b, want) != 0)
			return vg_err_set(err, VG_ENOMEM, "reading %s/%s: out of memory", r->dir, r->name);
		n = read(r->fd, b->data + b->len, b->cap - b->len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return vg_err_set(err, VG_EIO, "read %s/%s: %s", r->dir, r->name, strerror(errno));
		}
		if (n == 0) {
			r->is_eof = true;
			return 0;
		}
		b->len += (size_t)n;
		b->data[b->len] = 0;
	}
	return 1;
}

static int grow_samples(struct vg_wal *w, size_t n)
{
	size_t cap = w->cap_samples ? w->cap_samples : 1024;
	uint32_t *ids;
	int64_t *ts;
	double *values;

	while (cap < n)
		cap *= 2;
	ids = realloc(w->ids, cap * sizeof(*ids));
	if (ids == NULL)
		return VG_ENOMEM;
	w->ids = ids;
	ts = realloc(w->ts_ms, cap * sizeof(*ts));
	if (ts == NULL)
		return VG_ENOMEM;
	w->ts_ms = ts;
	values = realloc(w->values, cap * sizeof(*values));
	if (values == NULL)
		return VG_ENOMEM;
	w->values = values;
	w->cap_samples = cap;
	return 0;
}

enum { DEC_OK = 0, DEC_BAD = 1, DEC_STOP = 2 };

/* Decodes one checksummed body and calls back. DEC_OK; DEC_BAD with why
 * filled; DEC_STOP with the callback's code in *cb_rc; or VG_ENOMEM. */
static int decode_record(struct vg_wal *w, const uint8_t *body, size_t len,
			 const struct vg_wal_replay_cb *cb, struct vg_wal_stats *st,
			 int *cb_rc, char *why, size_t why_len)
{
	const uint8_t *p = body + 1, *end = body + len;
	uint64_t id, klen, n, u, i;
	size_t k;

	if (body[0] == REC_SERIES) {
		if ((k = get_uv(p, end, &id)) == 0 || id > UINT32_MAX)
			goto bad_field;
		p += k;
		if ((k = get_uv(p, end, &klen)) == 0)
			goto bad_field;
		p += k;
		if (klen > VG_WAL_MAX_KEY_BYTES || klen != (uint64_t)(end - p)) {
			snprintf(why, why_len, "SERIES key length %" PRIu64 " with %zu bytes left", klen,
				 (size_t)(end - p));
			return DEC_BAD;
		}
		if (cb && cb->series) {
			*cb_rc = cb->series(cb->arg, (uint32_t)id, p, (size_t)klen);
			if (*cb_rc != 0)
				return DEC_STOP;
		}
		return DEC_OK;
	}
	if (body[0] == REC_SAMPLES) {
		struct vg_wal_samples s;
		int64_t prev_id = 0;
		uint64_t prev_ts = 0;

		if (end - p < 8)
			goto bad_field;
		s.agent_hash = get_le64(p);
		p += 8;
		if ((k = get_uv(p, end, &s.epoch)) == 0)
			goto bad_field;
		p += k;
		if ((k = get_uv(p, end, &s.seq)) == 0)
			goto bad_field;
		p += k;
		if ((k = get_uv(p, end, &n)) == 0)
			goto bad_field;
		p += k;
		if (n > VG_WAL_MAX_SAMPLES || n > (uint64_t)(end - p) / SAMPLE_MIN_BYTES) {
			snprintf(why, why_len, "SAMPLES count %" PRIu64 " with %zu bytes left", n,
				 (size_t)(end - p));
			return DEC_BAD;
		}
		if (n > w->cap_samples && grow_samples(w, (size_t)n) != 0)
			return VG_ENOMEM;
		for (i = 0; i < n; i++) {
			int64_t d;

			if ((k = get_uv(p, end, &u)) == 0)
				goto bad_sample;
			p += k;
			d = vg_unzigzag(u);
			if (d > (int64_t)UINT32_MAX || d < -(int64_t)UINT32_MAX)
				goto bad_sample;
			prev_id += d;
			if (prev_id < 0 || prev_id > (int64_t)UINT32_MAX)
				goto bad_sample;
			w->ids[i] = (uint32_t)prev_id;
			if ((k = get_uv(p, end, &u)) == 0)
				goto bad_sample;
			p += k;
			prev_ts += (uint64_t)vg_unzigzag(u); /* wraps like the writer's */
			w->ts_ms[i] = (int64_t)prev_ts;
			if ((k = get_uv(p, end, &u)) == 0)
				goto bad_sample;
			p += k;
			if (u == 1) {
				uint64_t bits;
				if (end - p < 8)
					goto bad_sample;
				bits = get_le64(p);
				memcpy(&w->values[i], &bits, 8);
				p += 8;
			} else if (u & 1) {
				goto bad_sample;
			} else {
				w->values[i] = (double)vg_unzigzag(u >> 1);
			}
		}
		if (p != end) {
			snprintf(why, why_len, "SAMPLES record has %zu bytes after its samples",
				 (size_t)(end - p));
			return DEC_BAD;
		}
		st->samples += n;
		if (cb && cb->samples) {
			s.n = (size_t)n;
			s.ids = w->ids;
			s.ts_ms = w->ts_ms;
			s.values = w->values;
			*cb_rc = cb->samples(cb->arg, &s);
			if (*cb_rc != 0)
				return DEC_STOP;
		}
		return DEC_OK;
	bad_sample:
		snprintf(why, why_len, "SAMPLES record: sample %" PRIu64 " malformed", i);
		return DEC_BAD;
	}
	snprintf(why, why_len, "unknown record type %u", body[0]);
	return DEC_BAD;
bad_field:
	snprintf(why, why_len, "%s record: truncated or malformed field",
		 body[0] == REC_SERIES ? "SERIES" : "SAMPLES");
	return DEC_BAD;
}

/* Cuts the last segment at off and leaves it open for appends there. */
static int adopt_last(struct vg_wal *w, int fd, uint32_t segno, const char *name, uint64_t off,
		      bool is_cut, struct vg_err *err)
{
	if (is_cut) {
		if (ftruncate(fd, (off_t)off) != 0)
			return vg_err_set(err, VG_EIO, "ftruncate %s/%s to %" PRIu64 ": %s", w->dir, name,
					  off, strerror(errno));
		if (vg_fs_fdatasync(&w->ops, fd) != 0)
			return vg_err_set(err, VG_EIO, "fdatasync %s/%s: %s", w->dir, name, strerror(errno));
	}
	if (lseek(fd, (off_t)off, SEEK_SET) < 0)
		return vg_err_set(err, VG_EIO, "lseek %s/%s: %s", w->dir, name, strerror(errno));
	w->fd = fd;
	w->segno = segno;
	w->seg_bytes = off;
	w->durable_off = off;
	return 0;
}

/*
 * Replays one segment. For the last segment (is_last) a usable file is left
 * open in w->fd and *is_adopted set; otherwise the file is closed. *size_out
 * gets the file's size as it is left on disk. Returns 1 when the file is
 * no longer there (counted in missing_segments).
 */
static int replay_segment(struct vg_wal *w, uint32_t segno, bool is_last,
			  const struct vg_wal_replay_cb *cb, struct vg_wal_stats *st,
			  bool *is_adopted, uint64_t *size_out, struct vg_err *err)
{
	char name[SEG_NAME_MAX], why[160];
	struct seg_reader r;
	const char *hwhy = NULL;
	uint64_t size, off;
	struct stat sb;
	int fd, rc, cb_rc = 0;

	*is_adopted = false;
	seg_name(name, segno);
	fd = openat(w->dir_fd, name, (is_last ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		/* Listed a moment ago, gone now: removed by something else than
		 * this WAL (which removes nothing while it opens). Whatever it
		 * held is lost; the rest still replays. */
		vg_warn("wal: %s/%s: removed while the WAL was being opened; its records are lost",
			w->dir, name);
		st->missing_segments++;
		return 1;
	}
	if (fd < 0)
		return vg_err_set(err, VG_EIO, "open %s/%s: %s", w->dir, name, strerror(errno));
	if (fstat(fd, &sb) != 0) {
		rc = vg_err_set(err, VG_EIO, "fstat %s/%s: %s", w->dir, name, strerror(errno));
		goto fail;
	}
	size = (uint64_t)sb.st_size;
	*size_out = size;

	vg_buf_reset(&w->rbuf);
	r = (struct seg_reader){ fd, w->dir, name, &w->rbuf, 0, 0, false };
	rc = reader_fill(&r, SEG_HEADER_BYTES, err);
	if (rc < 0)
		goto fail;
	if (rc == 0) {
		st->skipped_bytes += w->rbuf.len;
		if (!is_last) {
			vg_warn("wal: %s/%s: header torn (%zu bytes); skipping the file", w->dir, name,
				w->rbuf.len);
			st->bad_segments++;
			close(fd);
			return 0;
		}
		/* A crash while the segment was being created: nothing in it was
		 * ever promised, so it is safe to start it again. */
		vg_warn("wal: %s/%s: header torn (%zu bytes); rewriting it", w->dir, name, w->rbuf.len);
		st->corrupt_tails++;
		if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) < 0) {
			rc = vg_err_set(err, VG_EIO, "truncate %s/%s: %s", w->dir, name, strerror(errno));
			goto fail;
		}
		{
			uint8_t h[SEG_HEADER_BYTES];
			header_encode(h, segno);
			if (vg_fs_write_all(&w->ops, fd, h, sizeof(h)) != 0 || vg_fs_fdatasync(&w->ops, fd) != 0 ||
			    vg_fs_fdatasync(&w->ops, w->dir_fd) != 0) {
				rc = vg_err_set(err, VG_EIO, "rewrite header of %s/%s: %s", w->dir, name,
						strerror(errno));
				goto fail;
			}
		}
		*size_out = SEG_HEADER_BYTES;
		st->segments++;
		st->bytes += SEG_HEADER_BYTES;
		rc = adopt_last(w, fd, segno, name, SEG_HEADER_BYTES, false, err);
		if (rc != 0)
			goto fail;
		*is_adopted = true;
		return 0;
	}
	rc = header_check(w->rbuf.data, segno, &hwhy);
	if (rc == VG_EVERSION) {
		rc = vg_err_set(err, VG_EVERSION, "%s/%s: WAL format version %u is newer than %u",
				w->dir, name, w->rbuf.data[5], SEG_VERSION);
		goto fail;
	}
	if (rc != 0) {
		vg_warn("wal: %s/%s: %s at offset 0; skipping the file", w->dir, name, hwhy);
		st->bad_segments++;
		st->skipped_bytes += size;
		close(fd);
		return 0;
	}
	st->segments++;
	st->bytes += SEG_HEADER_BYTES;
	r.pos = SEG_HEADER_BYTES;
	off = SEG_HEADER_BYTES;

	for (;;) {
		const uint8_t *hdr, *body;
		uint32_t len;

		rc = reader_fill(&r, REC_HEADER_BYTES, err);
		if (rc < 0)
			goto fail;
		if (rc == 0) {
			if (w->rbuf.len == r.pos)
				break; /* a clean end */
			snprintf(why, sizeof(why), "torn record header (%zu bytes)", w->rbuf.len - r.pos);
			goto damaged;
		}
		hdr = w->rbuf.data + r.pos;
		len = get_le32(hdr);
		if (len == 0 || len > VG_WAL_MAX_RECORD_BYTES) {
			snprintf(why, sizeof(why), "record length %" PRIu32 " out of range", len);
			goto damaged;
		}
		rc = reader_fill(&r, REC_HEADER_BYTES + (size_t)len, err);
		if (rc < 0)
			goto fail;
		if (rc == 0) {
			snprintf(why, sizeof(why), "torn record (length %" PRIu32 ", %zu bytes left)", len,
				 w->rbuf.len - r.pos - REC_HEADER_BYTES);
			goto damaged;
		}
		hdr = w->rbuf.data + r.pos; /* the fill may have moved the window */
		body = hdr + REC_HEADER_BYTES;
		if (get_le32(hdr + 4) != record_checksum(body, len, segno, off)) {
			snprintf(why, sizeof(why), "record checksum mismatch (length %" PRIu32 ")", len);
			goto damaged;
		}
		rc = decode_record(w, body, len, cb, st, &cb_rc, why, sizeof(why));
		if (rc == DEC_BAD)
			goto damaged;
		if (rc == DEC_STOP) {
			rc = vg_err_set(err, cb_rc, "WAL replay stopped by the callback (code %d) at %s/%s offset %" PRIu64,
					cb_rc, w->dir, name, off);
			goto fail;
		}
		if (rc < 0) {
			rc = vg_err_set(err, rc, "replay %s/%s offset %" PRIu64 ": out of memory", w->dir,
					name, off);
			goto fail;
		}
		r.pos += REC_HEADER_BYTES + len;
		off += REC_HEADER_BYTES + len;
		st->records++;
		st->bytes += REC_HEADER_BYTES + len;
	}
	if (is_last) {
		rc = adopt_last(w, fd, segno, name, off, off != size, err);
		if (rc != 0)
			goto fail;
		*is_adopted = true;
		return 0;
	}
	close(fd);
	return 0;

damaged:
	st->skipped_bytes += size > off ? size - off : 0;
	if (is_last) {
		vg_warn("wal: %s/%s: %s at offset %" PRIu64 "; cutting the last %" PRIu64
			" bytes and appending from there",
			w->dir, name, why, off, size - off);
		st->corrupt_tails++;
		rc = adopt_last(w, fd, segno, name, off, true, err);
		if (rc != 0)
			goto fail;
		*size_out = off;
		*is_adopted = true;
		return 0;
	}
	vg_warn("wal: %s/%s: %s at offset %" PRIu64 "; skipping the rest of the file (%" PRIu64
		" bytes)", w->dir, name, why, off, size - off);
	st->damaged_segments++;
	close(fd);
	return 0;
fail:
	close(fd);
	return rc;
}

/* ---- open and close ----------------------------------------------------- */

static void free_scratch(struct vg_wal *w)
{
	vg_buf_release(&w->rbuf);
	free(w->ids);
	free(w->ts_ms);
	free(w->values);
	w->ids = NULL;
	w->ts_ms = NULL;
	w->values = NULL;
	w->cap_samples = 0;
}

void vg_wal_close(struct vg_wal *w)
{
	struct wal_item *it, *next;

	if (w == NULL)
		return;
	vg_wal_stop_writer(w);
	for (it = w->q_head; it; it = next) {
		next = it->next;
		vg_buf_release(&it->bytes);
		free(it);
	}
	for (it = w->spare; it; it = next) {
		next = it->next;
		vg_buf_release(&it->bytes);
		free(it);
	}
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->work_cv);
	pthread_cond_destroy(&w->done_cv);
	if (w->fd >= 0)
		close(w->fd);
	if (w->dir_fd >= 0)
		close(w->dir_fd);
	free_scratch(w);
	vg_buf_release(&w->buf);
	free(w->segs);
	free(w->dir);
	free(w);
}

int vg_wal_open(const char *dir, const struct vg_wal_options *opts,
		const struct vg_wal_replay_cb *cb, struct vg_wal **out,
		struct vg_wal_stats *replayed, struct vg_err *err)
{
	struct vg_wal_stats st;
	struct vg_wal *w;
	uint32_t *nums = NULL;
	size_t n_nums = 0, i, len;
	bool is_adopted = false;
	int rc;

	*out = NULL;
	memset(&st, 0, sizeof(st));
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return vg_err_set(err, VG_ENOMEM, "WAL %s: out of memory", dir);
	w->fd = -1;
	w->dir_fd = -1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->work_cv, NULL);
	pthread_cond_init(&w->done_cv, NULL);
	vg_buf_init(&w->buf);
	vg_buf_init(&w->rbuf);
	if (opts && opts->ops)
		w->ops = *opts->ops;
	w->segment_bytes = opts && opts->segment_bytes ? opts->segment_bytes : VG_WAL_DEFAULT_SEGMENT_BYTES;
	len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	w->dir = malloc(len + 1);
	if (w->dir == NULL) {
		rc = vg_err_set(err, VG_ENOMEM, "WAL %s: out of memory", dir);
		goto fail;
	}
	memcpy(w->dir, dir, len);
	w->dir[len] = 0;

	rc = vg_fs_mkdir_p(w->dir, &w->ops, err);
	if (rc != 0)
		goto fail;
	w->dir_fd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->dir_fd < 0) {
		rc = vg_err_set(err, VG_EIO, "open %s: %s", w->dir, strerror(errno));
		goto fail;
	}
	rc = list_segments(w, &nums, &n_nums, err);
	if (rc != 0)
		goto fail;
	for (i = 0; i < n_nums; i++) {
		uint64_t size = 0;
		bool is_last = i + 1 == n_nums;

		/* Segments go lowest first, each removal synced
		 * (vg_wal_remove_before), so what is left is a contiguous
		 * range: a hole was made by something else and held records
		 * replay needed. */
		if (i > 0 && nums[i] != nums[i - 1] + 1) {
			vg_warn("wal: %s: segments %08" PRIu32 " to %08" PRIu32 " are missing; their records are lost",
				w->dir, nums[i - 1] + 1, nums[i] - 1);
			st.missing_segments += nums[i] - nums[i - 1] - 1;
		}
		rc = replay_segment(w, nums[i], is_last, cb, &st, &is_adopted, &size, err);
		if (rc == 1)
			continue;
		if (rc != 0)
			goto fail;
		rc = push_seg(w, nums[i], size);
		if (rc != 0) {
			rc = vg_err_set(err, rc, "WAL %s: out of memory", w->dir);
			goto fail;
		}
	}
	if (!is_adopted) {
		uint32_t segno = n_nums ? nums[n_nums - 1] + 1 : 1;
		if (segno == 0) {
			rc = vg_err_set(err, VG_ELIMIT, "WAL %s: segment numbers exhausted", w->dir);
			goto fail;
		}
		rc = create_segment(w, segno, &w->fd, err);
		if (rc != 0)
			goto fail;
		w->segno = segno;
		w->seg_bytes = SEG_HEADER_BYTES;
		w->durable_off = SEG_HEADER_BYTES;
		rc = push_seg(w, segno, SEG_HEADER_BYTES);
		if (rc != 0) {
			rc = vg_err_set(err, rc, "WAL %s: out of memory", w->dir);
			goto fail;
		}
	}
	free(nums);
	free_scratch(w);
	w->st.corrupt_tails = st.corrupt_tails;
	w->st.damaged_segments = st.damaged_segments;
	w->st.bad_segments = st.bad_segments;
	w->st.missing_segments = st.missing_segments;
	w->st.skipped_bytes = st.skipped_bytes;
	st.first_segment = w->segs[0].segno;
	st.last_segment = w->segno;
	w->app_segno = w->segno;
	w->app_off = w->seg_bytes;
	if (replayed)
		*replayed = st;
	*out = w;
	return 0;
fail:
	free(nums);
	vg_wal_close(w);
	return rc;
}

/* ---- appending ---------------------------------------------------------- */

/*
 * The owner appends records to w->buf, each sealed with the segment number
 * and offset it will have in the file (app_segno, app_off), and hands the
 * buffer over with commit_locked. The writer writes items in queue order,
 * creating the next segment when an item belongs to it, and fdatasyncs
 * after the last item of a group that asked for it. Because the owner
 * decides where each record lands before the writer sees it, the two
 * agree without talking: the owner starts a new segment after a commit
 * that took app_off past segment_bytes (or an explicit roll), and the
 * writer, after writing that item, finds its file past the same threshold
 * (or the roll flag) and starts the next one.
 */

static uint64_t commit(struct vg_wal *w, bool is_sync, bool is_roll);

/* Room for a record of up to body_max bytes at the end of the buffer;
 * returns where its header goes, or NULL: out of memory, or the WAL broke
 * (is_broken). A record that could take the buffer past FLUSH_BYTES sends
 * what the buffer holds to the writer first, unsynced, so a buffer never
 * grows past FLUSH_BYTES for records that fit in it (doubling past it left
 * buffers of 2 MiB, half of them touched). A failed grow leaves the buffer
 * as it was (the bytes already in it are still good), so clear the failed
 * flag. */
static uint8_t *reserve(struct vg_wal *w, size_t body_max)
{
	size_t need = REC_HEADER_BYTES + body_max;

	if (w->buf.len > 0 && w->buf.len + need + 1 > FLUSH_BYTES && commit(w, false, false) == 0)
		return NULL;
	if (vg_buf_grow(&w->buf, need) != 0) {
		w->buf.is_failed = false;
		return NULL;
	}
	return w->buf.data + w->buf.len;
}

/* Seals the record whose header is at rec (body_len bytes follow it). */
static int finish_record(struct vg_wal *w, uint8_t *rec, size_t body_len, struct vg_err *err)
{
	put_le32(rec, (uint32_t)body_len);
	put_le32(rec + 4, record_checksum(rec + REC_HEADER_BYTES, body_len, w->app_segno, w->app_off));
	w->buf.len += REC_HEADER_BYTES + body_len;
	w->buf.data[w->buf.len] = 0;
	w->app_off += REC_HEADER_BYTES + body_len;
	w->st.records++;
	w->st.appended_bytes += REC_HEADER_BYTES + body_len;
	/* Past the flush size the bytes go to the writer now, unsynced, so
	 * the buffer stays small whatever the commit interval. */
	if (w->buf.len >= FLUSH_BYTES && commit(w, false, false) == 0)
		return broken_err(w, err);
	return 0;
}

int vg_wal_append_series(struct vg_wal *w, uint32_t id, const uint8_t *key, size_t key_len,
			 struct vg_err *err)
{
	uint8_t *rec, *p;

	if (atomic_load(&w->is_broken))
		return broken_err(w, err);
	if (key_len > VG_WAL_MAX_KEY_BYTES)
		return vg_err_set(err, VG_ELIMIT, "WAL SERIES record: key of %zu bytes (limit %u)",
				  key_len, VG_WAL_MAX_KEY_BYTES);
	rec = reserve(w, 1 + 10 + 10 + key_len);
	if (rec == NULL)
		return atomic_load(&w->is_broken) ? broken_err(w, err) : vg_err_set(err, VG_ENOMEM, "WAL SERIES record: out of memory");
	p = rec + REC_HEADER_BYTES;
	*p++ = REC_SERIES;
	p = put_uv(p, id);
	p = put_uv(p, key_len);
	if (key_len)
		memcpy(p, key, key_len);
	p += key_len;
	return finish_record(w, rec, (size_t)(p - rec) - REC_HEADER_BYTES, err);
}

int vg_wal_append_samples(struct vg_wal *w, const struct vg_wal_samples *s, struct vg_err *err)
{
	uint8_t *rec, *p;
	uint64_t prev_ts = 0;
	int64_t prev_id = 0;
	size_t i, body_len;

	if (atomic_load(&w->is_broken))
		return broken_err(w, err);
	if (s->n > VG_WAL_MAX_SAMPLES)
		return vg_err_set(err, VG_ELIMIT, "WAL SAMPLES record: %zu samples (limit %u)", s->n,
				  VG_WAL_MAX_SAMPLES);
	rec = reserve(w, 1 + 8 + 3 * 10 + s->n * SAMPLE_MAX_BYTES);
	if (rec == NULL)
		return atomic_load(&w->is_broken) ? broken_err(w, err) : vg_err_set(err, VG_ENOMEM, "WAL SAMPLES record of %zu samples: out of memory",
				  s->n);
	p = rec + REC_HEADER_BYTES;
	*p++ = REC_SAMPLES;
	put_le64(p, s->agent_hash);
	p += 8;
	p = put_uv(p, s->epoch);
	p = put_uv(p, s->seq);
	p = put_uv(p, s->n);
	for (i = 0; i < s->n; i++) {
		int64_t id = s->ids[i];
		uint64_t ts = (uint64_t)s->ts_ms[i];

		p = put_uv(p, vg_zigzag(id - prev_id));
		prev_id = id;
		/* Wrapping difference: the reader adds it back the same way. */
		p = put_uv(p, vg_zigzag((int64_t)(ts - prev_ts)));
		prev_ts = ts;
		p = put_value(p, s->values[i]);
	}
	body_len = (size_t)(p - rec) - REC_HEADER_BYTES;
	if (body_len > VG_WAL_MAX_RECORD_BYTES)
		return vg_err_set(err, VG_ELIMIT, "WAL SAMPLES record: %zu bytes (limit %u)", body_len,
				  VG_WAL_MAX_RECORD_BYTES);
	w->st.samples += s->n;
	return finish_record(w, rec, body_len, err);
}

/* ---- the writer ----------------------------------------------------------- */

/* Closes the current segment (synced by the caller) and starts the next. */
static int roll_segment(struct vg_wal *w, struct vg_err *err)
{
	uint32_t segno = w->segno + 1;
	char name[SEG_NAME_MAX];
	struct vg_err e;
	int fd, rc;

	if (segno == 0) {
		seg_name(name, w->segno);
		errno = EOVERFLOW;
		return set_broken(w, err, "segment numbers exhausted after", name);
	}
	rc = create_segment(w, segno, &fd, &e);
	pthread_mutex_lock(&w->mu);
	if (rc == 0 && push_seg(w, segno, SEG_HEADER_BYTES) != 0) {
		close(fd);
		rc = VG_ENOMEM;
		snprintf(e.msg, sizeof(e.msg), "WAL %s: out of memory", w->dir);
	}
	if (rc != 0) {
		memcpy(w->broken_msg, e.msg, sizeof(w->broken_msg));
		w->st.write_failures++;
		atomic_store(&w->is_broken, true);
		pthread_cond_broadcast(&w->done_cv);
		pthread_mutex_unlock(&w->mu);
		return vg_err_set(err, VG_EIO, "%s", e.msg);
	}
	w->segs[w->n_segs - 2].size_bytes = w->seg_bytes;
	pthread_mutex_unlock(&w->mu);
	close(w->fd);
	w->fd = fd;
	w->segno = segno;
	w->seg_bytes = SEG_HEADER_BYTES;
	w->durable_off = SEG_HEADER_BYTES;
	return 0;
}

static int sync_file(struct vg_wal *w, struct vg_err *err)
{
	char name[SEG_NAME_MAX];

	if (!w->has_unsynced)
		return 0;
	if (vg_fs_fdatasync(&w->ops, w->fd) != 0) {
		seg_name(name, w->segno);
		return set_broken(w, err, "fdatasync", name);
	}
	w->has_unsynced = false;
	w->durable_off = w->seg_bytes;
	pthread_mutex_lock(&w->mu);
	w->st.syncs++;
	pthread_mutex_unlock(&w->mu);
	return 0;
}

/* Writes one item where it belongs. */
static int write_item(struct vg_wal *w, const struct wal_item *it, struct vg_err *err)
{
	char name[SEG_NAME_MAX];

	/* The owner moved on to a later segment: this one is complete. */
	while (it->segno != w->segno) {
		if (sync_file(w, err) != 0 || roll_segment(w, err) != 0)
			return VG_EIO;
	}
	if (it->bytes.len > 0) {
		if (vg_fs_write_all(&w->ops, w->fd, it->bytes.data, it->bytes.len) != 0) {
			seg_name(name, w->segno);
			return set_broken(w, err, "write", name);
		}
		w->seg_bytes += it->bytes.len;
		w->has_unsynced = true;
	}
	if (it->is_sync && sync_file(w, err) != 0)
		return VG_EIO;
	/* Where the owner rolled after this item, roll too. */
	if (it->is_roll || w->seg_bytes >= w->segment_bytes) {
		if (sync_file(w, err) != 0 || roll_segment(w, err) != 0)
			return VG_EIO;
	}
	return 0;
}

/*
 * Writes a detached list of items in order and reports the outcome.
 * durable_ticket moves to the last item synced. When a write or sync
 * fails, the WAL breaks and every later item of that list fails too;
 * items of an older generation (committed before the owner saw an earlier
 * failure, sealed for places that recovery abandoned) are dropped unwritten
 * and fail. Reports go out in ticket order: durable first, then failed
 * (wal.h, vg_wal_start_writer). *is_failed_out (may be NULL): whether this
 * list broke the WAL, so that the writer starts recovery.
 */
/*
 * Frees a drained item's buffer. A large one (a burst's, or a commit
 * past SPARE_ITEM_BYTES) gives its whole pages back to the kernel first:
 * freed, they would stay resident in malloc's heap, a hole of up to
 * FLUSH_BYTES until a trim, and the last commits of a busy spell leave
 * a few (about 2 MiB at 1,000 agents).
 */
static void buf_give_back(struct vg_buf *b)
{
	if (b->cap > SPARE_ITEM_BYTES) {
		uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
		uintptr_t lo = ((uintptr_t)b->data + page - 1) & ~(page - 1);
		uintptr_t hi = ((uintptr_t)b->data + b->cap) & ~(page - 1);

		if (hi > lo)
			(void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
	}
	vg_buf_release(b);
}

static void drain(struct vg_wal *w, struct wal_item *items, bool *is_failed_out)
{
	struct wal_item *it, *next, *gone = NULL;
	struct vg_buf big[SPARE_ITEMS];
	unsigned n_big = 0;
	uint64_t synced = 0, bytes = 0, failed = 0;
	struct vg_err err;
	bool is_failed = false;

	for (it = items; it; it = it->next) {
		bytes += it->bytes.len;
		if (it->gen != w->writer_gen || is_failed || atomic_load(&w->is_broken)) {
			failed = it->ticket;
			continue;
		}
		if (write_item(w, it, &err) != 0) {
			is_failed = true;
			failed = it->ticket;
			continue;
		}
		if (it->is_sync)
			synced = it->ticket;
	}
	/* What a failed item wrote but did not sync never counts: after a
	 * failure in this list, nothing past the last successful sync does. */
	pthread_mutex_lock(&w->mu);
	if (synced > w->durable_ticket)
		w->durable_ticket = synced;
	w->q_bytes -= bytes;
	/* Keep a few drained items for the next commits, with their buffers
	 * if small; a burst that queued many, or large ones, gives their
	 * memory back. */
	for (it = items; it; it = next) {
		next = it->next;
		if (w->n_spare < SPARE_ITEMS) {
			if (it->bytes.cap > SPARE_ITEM_BYTES) {
				big[n_big++] = it->bytes;
				vg_buf_init(&it->bytes);
			} else {
				vg_buf_reset(&it->bytes);
			}
			it->next = w->spare;
			w->spare = it;
			w->n_spare++;
		} else {
			it->next = gone;
			gone = it;
		}
	}
	pthread_cond_broadcast(&w->done_cv);
	pthread_mutex_unlock(&w->mu);
	if (w->on_durable && synced)
		w->on_durable(w->on_durable_arg, synced, 0);
	if (w->on_durable && failed)
		w->on_durable(w->on_durable_arg, failed, VG_EIO);
	/* After the report: the ACKs need not wait for this. */
	for (unsigned i = 0; i < n_big; i++)
		buf_give_back(&big[i]);
	for (it = gone; it; it = next) {
		next = it->next;
		buf_give_back(&it->bytes);
		free(it);
	}
	if (is_failed_out)
		*is_failed_out = is_failed;
}

/*
 * One attempt to recover from a failed write or sync, on the writer's side
 * (docs/wal.md, "A failed write or fsync"): cut the current segment back to
 * its last synced byte, so nothing a failed write or sync may have left is
 * ever replayed, then start the next segment (header, fdatasync, directory
 * fdatasync). The failed bytes are never written again and the failed sync
 * is never retried: whatever the kernel did with those pages, the WAL
 * promises only records synced after this. On success the owner may resume
 * there (vg_wal_resume). VG_EIO when the disk still refuses; the caller
 * tries again later.
 */
static int recover(struct vg_wal *w, struct vg_err *err)
{
	char name[SEG_NAME_MAX];
	uint32_t segno = w->segno + 1;
	int fd, rc;

	/* Always: a failed write may have left bytes that seg_bytes does not
	 * count. */
	seg_name(name, w->segno);
	if (ftruncate(w->fd, (off_t)w->durable_off) != 0)
		return vg_err_set(err, VG_EIO, "ftruncate %s/%s to %" PRIu64 ": %s", w->dir, name,
				  w->durable_off, strerror(errno));
	if (vg_fs_fdatasync(&w->ops, w->fd) != 0)
		return vg_err_set(err, VG_EIO, "fdatasync %s/%s after cutting it: %s", w->dir, name,
				  strerror(errno));
	w->seg_bytes = w->durable_off;
	w->has_unsynced = false;
	if (segno == 0)
		return vg_err_set(err, VG_EIO, "WAL %s: segment numbers exhausted", w->dir);
	/* A leftover of a failed creation holds nothing that was promised. */
	seg_name(name, segno);
	(void)unlinkat(w->dir_fd, name, 0);
	if ((rc = create_segment(w, segno, &fd, err)) != 0)
		return rc;
	pthread_mutex_lock(&w->mu);
	if (push_seg(w, segno, SEG_HEADER_BYTES) != 0) {
		pthread_mutex_unlock(&w->mu);
		close(fd);
		(void)unlinkat(w->dir_fd, name, 0);
		return vg_err_set(err, VG_ENOMEM, "WAL %s: out of memory", w->dir);
	}
	w->segs[w->n_segs - 2].size_bytes = w->seg_bytes;
	close(w->fd);
	w->fd = fd;
	w->segno = segno;
	w->seg_bytes = SEG_HEADER_BYTES;
	w->durable_off = SEG_HEADER_BYTES;
	w->writer_gen++;
	w->ready_gen = w->writer_gen;
	w->ready_segno = segno;
	w->st.recoveries++;
	pthread_cond_broadcast(&w->done_cv);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

/* The writer after a failure: recover, retrying with a growing pause
 * until the disk takes writes again or the WAL is stopped. Returns with mu
 * held. */
static void writer_recover_locked(struct vg_wal *w)
{
	uint64_t pause_ms = VG_WAL_RETRY_MIN_MS;
	struct vg_err err;

	while (!w->is_stopping) {
		int rc;

		pthread_mutex_unlock(&w->mu);
		rc = recover(w, &err);
		pthread_mutex_lock(&w->mu);
		if (rc == 0)
			return;
		{
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += (time_t)(pause_ms / 1000);
			ts.tv_nsec += (long)(pause_ms % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&w->work_cv, &w->mu, &ts);
		}
		pause_ms = pause_ms * 2 > VG_WAL_RETRY_MAX_MS ? VG_WAL_RETRY_MAX_MS : pause_ms * 2;
	}
}

static void *writer_main(void *arg)
{
	struct vg_wal *w = arg;
	struct wal_item *items;
	bool is_failed;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->q_head == NULL && !w->is_stopping)
			pthread_cond_wait(&w->work_cv, &w->mu);
		if (w->q_head == NULL)
			break;
		/* Everything queued is one group: one fdatasync for all. */
		items = w->q_head;
		w->q_head = w->q_tail = NULL;
		pthread_mutex_unlock(&w->mu);
		drain(w, items, &is_failed);
		pthread_mutex_lock(&w->mu);
		if (is_failed)
			writer_recover_locked(w);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

bool vg_wal_failure(struct vg_wal *w, struct vg_err *err)
{
	if (!atomic_load(&w->is_broken))
		return false;
	broken_err(w, err);
	return true;
}

int vg_wal_resume(struct vg_wal *w, uint64_t *failed_through, struct vg_err *err)
{
	bool is_ready;

	*failed_through = w->next_ticket;
	if (!atomic_load(&w->is_broken))
		return 0;
	/* Without a writer thread the owner recovers itself. */
	if (!w->has_thread && recover(w, err) != 0)
		return VG_EIO;
	pthread_mutex_lock(&w->mu);
	is_ready = w->ready_gen != w->gen;
	if (is_ready) {
		/* What the owner holds was sealed for places the writer gave
		 * up: it goes, and appends start at the new segment. */
		w->gen = w->ready_gen;
		w->app_segno = w->ready_segno;
		w->app_off = SEG_HEADER_BYTES;
		vg_buf_reset(&w->buf);
		atomic_store(&w->is_broken, false);
	} else {
		vg_err_set(err, VG_EIO, "WAL failed and waits for the disk to take writes again: %s",
			   w->broken_msg);
	}
	pthread_mutex_unlock(&w->mu);
	return is_ready ? 0 : VG_EIO;
}

/*
 * Hands what was appended since the last commit to the writer and returns
 * its ticket, or 0 when the WAL is broken. Without a writer thread the
 * items are written here and now. With one, the owner waits only when the
 * writer is more than VG_WAL_MAX_QUEUED_BYTES behind (a disk slower than
 * ingest): backpressure, instead of memory without bound.
 */
static uint64_t commit(struct vg_wal *w, bool is_sync, bool is_roll)
{
	struct wal_item *it;
	uint64_t ticket;

	if (atomic_load(&w->is_broken))
		return 0;
	pthread_mutex_lock(&w->mu);
	while (w->has_thread && w->q_bytes > VG_WAL_MAX_QUEUED_BYTES && !atomic_load(&w->is_broken))
		pthread_cond_wait(&w->done_cv, &w->mu);
	it = w->spare;
	if (it) {
		w->spare = it->next;
		w->n_spare--;
	}
	pthread_mutex_unlock(&w->mu);
	if (it == NULL) {
		it = calloc(1, sizeof(*it));
		if (it == NULL)
			return 0;
		vg_buf_init(&it->bytes);
	}
	/* The item takes the appended bytes; the owner keeps the (empty)
	 * buffer the item had, so no bytes are copied. */
	{
		struct vg_buf t = it->bytes;
		it->bytes = w->buf;
		w->buf = t;
	}
	it->next = NULL;
	it->segno = w->app_segno;
	it->is_sync = is_sync;
	it->is_roll = is_roll;
	it->gen = w->gen;
	it->ticket = ticket = ++w->next_ticket;
	if (is_roll || w->app_off >= w->segment_bytes) {
		w->app_segno++;
		w->app_off = SEG_HEADER_BYTES;
	}
	pthread_mutex_lock(&w->mu);
	w->q_bytes += it->bytes.len;
	if (w->has_thread) {
		if (w->q_tail)
			w->q_tail->next = it;
		else
			w->q_head = it;
		w->q_tail = it;
		pthread_cond_signal(&w->work_cv);
		pthread_mutex_unlock(&w->mu);
	} else {
		pthread_mutex_unlock(&w->mu);
		drain(w, it, NULL);
	}
	return atomic_load(&w->is_broken) && !w->has_thread ? 0 : ticket;
}

uint64_t vg_wal_commit(struct vg_wal *w)
{
	return commit(w, true, false);
}

/* Waits until ticket is durable: 0, or VG_EIO when the WAL broke. */
static int wait_durable(struct vg_wal *w, uint64_t ticket, struct vg_err *err)
{
	bool is_done;

	if (ticket == 0)
		return broken_err(w, err);
	pthread_mutex_lock(&w->mu);
	while (w->durable_ticket < ticket && !atomic_load(&w->is_broken))
		pthread_cond_wait(&w->done_cv, &w->mu);
	is_done = w->durable_ticket >= ticket;
	pthread_mutex_unlock(&w->mu);
	return is_done ? 0 : broken_err(w, err);
}

int vg_wal_sync(struct vg_wal *w, struct vg_err *err)
{
	if (atomic_load(&w->is_broken))
		return broken_err(w, err);
	return wait_durable(w, commit(w, true, false), err);
}

int vg_wal_roll(struct vg_wal *w, uint32_t *segno_out, struct vg_err *err)
{
	bool is_roll = w->app_off > SEG_HEADER_BYTES;
	int rc;

	if (atomic_load(&w->is_broken))
		return broken_err(w, err);
	rc = wait_durable(w, commit(w, true, is_roll), err);
	if (rc != 0)
		return rc;
	if (segno_out)
		*segno_out = w->app_segno;
	return 0;
}

int vg_wal_remove_before(struct vg_wal *w, uint32_t segno, struct vg_err *err)
{
	char name[SEG_NAME_MAX];
	size_t i, n_old = 0, removed = 0;
	int rc = 0;

	/* Only segments the writer has finished: those below its current one,
	 * which are complete and synced. segs is ascending and only ever
	 * grows at its end (the writer's rolls), so they are its first
	 * n_old entries until they are dropped below. */
	pthread_mutex_lock(&w->mu);
	if (segno > w->segs[w->n_segs - 1].segno)
		segno = w->segs[w->n_segs - 1].segno;
	while (n_old < w->n_segs && w->segs[n_old].segno < segno)
		n_old++;
	pthread_mutex_unlock(&w->mu);
	/* Lowest first, the directory synced after each: whatever a crash
	 * leaves is a contiguous range of segments, so that a hole found at
	 * open always means records lost (vg_wal_open), never a removal half
	 * done. Without the lock: the writer takes it after every commit. */
	for (i = 0; i < n_old; i++) {
		pthread_mutex_lock(&w->mu);
		seg_name(name, w->segs[i].segno);
		pthread_mutex_unlock(&w->mu);
		if (unlinkat(w->dir_fd, name, 0) != 0 && errno != ENOENT) {
			rc = vg_err_set(err, VG_EIO, "unlink %s/%s: %s", w->dir, name, strerror(errno));
			break;
		}
		removed = i + 1;
		if (vg_fs_fdatasync(&w->ops, w->dir_fd) != 0) {
			rc = vg_err_set(err, VG_EIO, "fsync %s after removing %s: %s", w->dir, name,
					strerror(errno));
			break;
		}
	}
	if (removed > 0) {
		pthread_mutex_lock(&w->mu);
		memmove(w->segs, w->segs + removed, (w->n_segs - removed) * sizeof(*w->segs));
		w->n_segs -= removed;
		pthread_mutex_unlock(&w->mu);
	}
	return rc;
}

void vg_wal_stats(struct vg_wal *w, struct vg_wal_stats *out)
{
	size_t i;

	pthread_mutex_lock(&w->mu);
	*out = w->st;
	out->segments = w->n_segs;
	/* Every byte appended, written or not: the owner's segment to its
	 * append offset, and the finished segments before it. */
	out->bytes = w->app_off;
	for (i = 0; i < w->n_segs; i++)
		if (w->segs[i].segno < w->app_segno)
			out->bytes += w->segs[i].size_bytes;
	out->first_segment = w->n_segs ? w->segs[0].segno : w->app_segno;
	out->last_segment = w->app_segno;
	pthread_mutex_unlock(&w->mu);
}

void vg_wal_stop_writer(struct vg_wal *w)
{
	if (!w->has_thread)
		return;
	/* The writer drains the queue before it sees the flag. */
	pthread_mutex_lock(&w->mu);
	w->is_stopping = true;
	pthread_cond_signal(&w->work_cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	w->has_thread = false;
	w->is_stopping = false;
	w->on_durable = NULL;
	w->on_durable_arg = NULL;
}

int vg_wal_start_writer(struct vg_wal *w, void (*on_durable)(void *arg, uint64_t ticket, int rc),
			void *arg, struct vg_err *err)
{
	int rc;

	if (w->has_thread)
		return vg_err_set(err, VG_EINVAL, "WAL %s: writer already started", w->dir);
	w->on_durable = on_durable;
	w->on_durable_arg = arg;
	pthread_mutex_lock(&w->mu);
	rc = pthread_create(&w->thread, NULL, writer_main, w);
	if (rc == 0)
		w->has_thread = true;
	pthread_mutex_unlock(&w->mu);
	if (rc != 0)
		return vg_err_set(err, VG_ENOMEM, "WAL %s: cannot start the writer thread: %s", w->dir,
				  strerror(rc));
	return 0;
}
