/*
 * storage.c: the read interface of storage.h over the head and the block
 * files.
 *
 * Owns: the list of open blocks (a reference each), loading it at start,
 * the merge of one series' samples from several places. Does not own the
 * head's locking (head.h) or the block format (block_read.c).
 *
 * A selection (struct vg_storage_set) is built in three steps: the head's
 * matching ids and each overlapping block's (raw only, or every tier for a
 * rollup resolution) matching indexes become
 * entries (key, place), the keys copied into the set; the entries are
 * sorted by key in the one series order; runs of equal keys are one series.
 * Of a large selection (SELECT_PAR_MIN head series), the second half of
 * the head's is keyed and sorted on a thread of its own meanwhile, joined
 * and merged in before the runs are made (docs/threads.md).
 * The set holds a reference to every block it names, so a block dropped
 * from the storage meanwhile stays readable until the set is freed, and a
 * snapshot of every head series it selected (head.h), taken while the
 * head's read lock is held for the selection: a read of the set returns
 * what each series held then, never what was appended since.
 *
 * Locks: st->mu guards the block list and is held only to copy it. The
 * head's read lock is held while its ids and keys are copied, dropped
 * every SLICE series, and held again for each series read (head.h).
 *
 * Resolutions: a raw selection reads raw blocks and the head only. A
 * rollup selection (1m or 1h) cuts its range once into segments, each
 * served by one source, the first in the resolution's order whose blocks
 * cover it: 1h: 1h blocks, 1m blocks (coarsened), raw; 1m: 1m blocks,
 * raw, 1h blocks (coarser than asked: old data only the 1h tier still
 * holds). "Raw" is the raw blocks and the head, and covers, besides its
 * blocks' ranges, everything after the newest block of any tier (where the
 * head is). Block ranges are multiples of an hour, so no 1h bucket
 * straddles two segments: each instant is read from one tier, never two.
 *
 * Blocks are named <min_t>-<max_t>-<stamp>.vgb; stamps only grow
 * (vg_storage_next_stamp). At open, a compacted block (VG_BLOCK_F_COMPACTED)
 * removes every block of its tier within its range with a lower stamp:
 * what a compaction that crashed before deleting its inputs left.
 */
#include "config.h"

#include "receiver/storage/storage.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "receiver/storage/block_read.h"
#include "receiver/storage/chunk.h"
#include "receiver/storage/head.h"
#include "receiver/storage/postings.h"
#include "receiver/storage/tombstone.h"
#include "receiver/storage/rollup.h"

#include <dirent.h>
#include <inttypes.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/banned.h"

#define SLICE 4096 /* head series copied per hold of its read lock */
#define PLACE_HEAD UINT32_MAX

struct vg_storage {
	char *dir;
	struct vg_head *head;
	pthread_mutex_t mu;
	struct vg_block **blocks; /* under mu; ascending by min_t */
	size_t n_blocks, cap_blocks;
	uint64_t damaged_blocks;
	struct vg_tombstones *tomb; /* deleted ranges (tombstone.h) */
	int64_t max_stamp;        /* under mu */
	bool is_multicore;        /* a large selection is keyed on two threads */
};

struct segment {
	int64_t a, b; /* [a, b) */
	int source;   /* a tier */
};

struct entry {
	uint64_t key_off;
	uint32_t key_len;
	uint32_t place; /* PLACE_HEAD, or an index into set->blocks */
	uint32_t id;    /* head id or block series index */
	struct vg_head_snap snap; /* head: what the series held at selection */
};

struct run {
	size_t first, n; /* entries[first .. first + n) */
	uint32_t del_first, del_n; /* its deleted ranges: dels[del_first ..) */
};

struct point {
	int64_t t;
	double v;
	uint32_t rank; /* lower wins for one timestamp: head 0, newer blocks next */
};

/* What reading a series' raw samples writes to. */
struct scratch {
	struct vg_block_cursor *cursor;
	struct vg_samples cols; /* a block series' columns, decoded */
	struct point *pts;
	size_t cap_pts;
};

struct vg_storage_reader {
	struct vg_storage_set *set; /* borrowed, read only */
	struct scratch sc;
};

struct vg_storage_set {
	struct vg_head *head;     /* borrowed: the set may outlive the storage, not the head */
	uint64_t pin;             /* vg_head_pin: the frozen set stays while the set lives */
	struct vg_block **blocks; /* a reference each */
	int64_t *stamps;          /* of each block */
	size_t n_blocks;
	int64_t res_ms;           /* 0 raw, or a rollup width */
	struct segment *segs;
	size_t n_segs;
	struct vg_buf keys;
	struct entry *entries;
	size_t n_entries, cap_entries;
	struct run *runs;
	size_t n_runs;
	struct vg_interval *dels; /* deleted ranges, per run (tombstone.h) */
	size_t n_dels, cap_dels;
	/* Scratch of the thread reading the set (a vg_storage_reader has
	 * its own sc, for another thread). */
	struct scratch sc;
	struct vg_block_cursor *cursor; /* of the buckets' reads */
	struct vg_samples raw;    /* raw samples of a segment */
	struct vg_buckets tier_b; /* one tier's buckets of a segment, to be merged */
};

/* --- the block list ------------------------------------------------------ */

static int add_block_locked(struct vg_storage *st, struct vg_block *b)
{
	struct vg_block_info bi, oi;
	size_t at;

	if (st->n_blocks == st->cap_blocks) {
		size_t cap = st->cap_blocks ? st->cap_blocks * 2 : 16;
		struct vg_block **p = realloc(st->blocks, cap * sizeof(*p));
		if (p == NULL)
			return VG_ENOMEM;
		st->blocks = p;
		st->cap_blocks = cap;
	}
	vg_block_info(b, &bi);
	for (at = st->n_blocks; at > 0; at--) {
		vg_block_info(st->blocks[at - 1], &oi);
		if (oi.min_t <= bi.min_t)
			break;
	}
	memmove(st->blocks + at + 1, st->blocks + at, (st->n_blocks - at) * sizeof(*st->blocks));
	st->blocks[at] = b;
	st->n_blocks++;
	return 0;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

int64_t vg_storage_block_stamp(const char *path)
{
	const char *base = strrchr(path, '/');
	long long a, b, stamp;
	char tail[8];

	base = base ? base + 1 : path;
	if (sscanf(base, "%lld-%lld-%lld%7s", &a, &b, &stamp, tail) != 4 || strcmp(tail, ".vgb") != 0)
		return 0;
	return (int64_t)stamp;
}

/* Whether x is replaced by the compacted block c (see the top). */
static bool is_superseded(const struct vg_block *x, const struct vg_block *c)
{
	struct vg_block_info xi, ci;

	if (x == c)
		return false;
	vg_block_info(x, &xi);
	vg_block_info(c, &ci);
	return (ci.flags & VG_BLOCK_F_COMPACTED) && xi.tier == ci.tier && xi.min_t >= ci.min_t &&
	       xi.max_t <= ci.max_t &&
	       vg_storage_block_stamp(vg_block_name(x)) < vg_storage_block_stamp(vg_block_name(c));
}

/* Drops and deletes the blocks a compacted one replaces (at open). */
static int drop_superseded(struct vg_storage *st)
{
	bool *is_gone = calloc(st->n_blocks ? st->n_blocks : 1, sizeof(*is_gone));
	size_t k = 0;

	if (is_gone == NULL)
		return VG_ENOMEM;
	for (size_t i = 0; i < st->n_blocks; i++)
		for (size_t j = 0; j < st->n_blocks && !is_gone[i]; j++)
			is_gone[i] = is_superseded(st->blocks[i], st->blocks[j]);
	for (size_t i = 0; i < st->n_blocks; i++) {
		if (!is_gone[i]) {
			st->blocks[k++] = st->blocks[i];
			continue;
		}
		if (unlink(vg_block_name(st->blocks[i])) == 0)
			vg_info("storage: removed %s, which a compacted block replaces",
				vg_block_name(st->blocks[i]));
		vg_block_close(st->blocks[i]);
	}
	st->n_blocks = k;
	free(is_gone);
	return 0;
}

/* Opens every block of one tier's directory; damage is logged, counted,
 * and not an error. */
static int load_tier(struct vg_storage *st, enum vg_tier tier, struct vg_err *err)
{
	char dir[4096], path[4352];
	struct dirent *de;
	DIR *d;
	int rc = 0;

	snprintf(dir, sizeof(dir), "%s/blocks/%s", st->dir, vg_tier_name(tier));
	if ((rc = vg_fs_mkdir_p(dir, NULL, err)) != 0)
		return rc;
	if ((d = opendir(dir)) == NULL)
		return vg_err_set(err, VG_EIO, "cannot read %s: %s", dir, strerror(errno));
	while (rc == 0 && (de = readdir(d)) != NULL) {
		struct vg_block_info bi;
		struct vg_block *b;
		struct vg_err e;

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (has_suffix(de->d_name, ".tmp")) {
			/* A block a crash left half-written: never a block. */
			if (unlink(path) == 0)
				vg_info("storage: removed %s, a block file left unfinished", path);
			continue;
		}
		if (!has_suffix(de->d_name, ".vgb"))
			continue;
		if (vg_block_open(path, &b, NULL, &e) != 0) {
			if (e.code == VG_ENOMEM) {
				rc = vg_err_set(err, VG_ENOMEM, "%s", e.msg);
				break;
			}
			st->damaged_blocks++;
			vg_error("storage: %s; the block is not served", e.msg);
			continue;
		}
		vg_block_info(b, &bi);
		if (bi.tier != tier) {
			st->damaged_blocks++;
			vg_error("storage: %s holds tier %s but lies in the %s directory; the block is not served",
				 path, vg_tier_name(bi.tier), vg_tier_name(tier));
			vg_block_close(b);
			continue;
		}
		if (add_block_locked(st, b) != 0) {
			vg_block_close(b);
			rc = vg_err_set(err, VG_ENOMEM, "out of memory loading blocks");
		}
	}
	closedir(d);
	return rc;
}

int vg_storage_open(const struct vg_storage_options *opts, struct vg_storage **out,
		    struct vg_err *err)
{
	struct vg_storage *st = calloc(1, sizeof(*st));
	int rc = 0;

	*out = NULL;
	if (st == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	pthread_mutex_init(&st->mu, NULL);
	st->head = opts->head;
	st->is_multicore = sysconf(_SC_NPROCESSORS_ONLN) >= 2;
	if ((rc = vg_tombstones_open(opts->data_dir, &st->tomb, err)) != 0) {
		vg_storage_close(st);
		return rc;
	}
	if (opts->data_dir) {
		st->dir = strdup(opts->data_dir);
		if (st->dir == NULL) {
			vg_storage_close(st);
			return vg_err_set(err, VG_ENOMEM, "out of memory");
		}
		for (int t = 0; t < VG_TIER_COUNT && rc == 0; t++)
			rc = load_tier(st, (enum vg_tier)t, err);
		if (rc != 0) {
			vg_storage_close(st);
			return rc;
		}
		if (drop_superseded(st) != 0) {
			vg_storage_close(st);
			return vg_err_set(err, VG_ENOMEM, "out of memory opening blocks");
		}
		for (size_t i = 0; i < st->n_blocks; i++) {
			int64_t stamp = vg_storage_block_stamp(vg_block_name(st->blocks[i]));
			if (stamp > st->max_stamp)
				st->max_stamp = stamp;
		}
	}
	*out = st;
	return 0;
}

void vg_storage_close(struct vg_storage *st)
{
	if (st == NULL)
		return;
	for (size_t i = 0; i < st->n_blocks; i++)
		vg_block_close(st->blocks[i]);
	free(st->blocks);
	vg_tombstones_free(st->tomb);
	pthread_mutex_destroy(&st->mu);
	free(st->dir);
	free(st);
}

int vg_storage_add_block(struct vg_storage *st, const char *path, struct vg_err *err)
{
	struct vg_block *b;
	int rc;

	if ((rc = vg_block_open(path, &b, NULL, err)) != 0)
		return rc;
	pthread_mutex_lock(&st->mu);
	rc = add_block_locked(st, b);
	if (rc == 0 && vg_storage_block_stamp(path) > st->max_stamp)
		st->max_stamp = vg_storage_block_stamp(path);
	pthread_mutex_unlock(&st->mu);
	if (rc != 0) {
		vg_block_close(b);
		return vg_err_set(err, rc, "out of memory adding %s", path);
	}
	return 0;
}

int64_t vg_storage_next_stamp(struct vg_storage *st, int64_t now_ms)
{
	int64_t s;

	pthread_mutex_lock(&st->mu);
	s = now_ms > st->max_stamp ? now_ms : st->max_stamp + 1;
	st->max_stamp = s;
	pthread_mutex_unlock(&st->mu);
	return s;
}

int vg_storage_blocks(struct vg_storage *st, struct vg_block ***out, size_t *n)
{
	struct vg_block **v;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&st->mu);
	v = malloc((st->n_blocks ? st->n_blocks : 1) * sizeof(*v));
	if (v == NULL) {
		pthread_mutex_unlock(&st->mu);
		return VG_ENOMEM;
	}
	for (size_t i = 0; i < st->n_blocks; i++)
		v[i] = vg_block_ref(st->blocks[i]);
	*n = st->n_blocks;
	pthread_mutex_unlock(&st->mu);
	*out = v;
	return 0;
}

void vg_storage_blocks_free(struct vg_block **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		vg_block_close(v[i]);
	free(v);
}

static bool is_same_dir(const char *a, const char *b)
{
	const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');

	return sa && sb && sa - a == sb - b && memcmp(a, b, (size_t)(sa - a)) == 0;
}

int vg_storage_swap(struct vg_storage *st, const char *const *add, size_t n_add,
		    struct vg_block *const *remove, size_t n_remove, struct vg_err *err)
{
	struct vg_block **opened = calloc(n_add ? n_add : 1, sizeof(*opened));
	struct vg_block **gone = calloc(n_remove ? n_remove : 1, sizeof(*gone));
	size_t n_gone = 0;
	int rc = 0;

	if (opened == NULL || gone == NULL) {
		rc = vg_err_set(err, VG_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; rc == 0 && i < n_add; i++)
		rc = vg_block_open(add[i], &opened[i], NULL, err);
	if (rc != 0)
		goto out;
	pthread_mutex_lock(&st->mu);
	if (st->n_blocks + n_add > st->cap_blocks) {
		size_t cap = st->cap_blocks ? st->cap_blocks : 16;
		while (cap < st->n_blocks + n_add)
			cap *= 2;
		struct vg_block **p = realloc(st->blocks, cap * sizeof(*p));
		if (p == NULL) {
			pthread_mutex_unlock(&st->mu);
			rc = vg_err_set(err, VG_ENOMEM, "out of memory");
			goto out;
		}
		st->blocks = p;
		st->cap_blocks = cap;
	}
	/* Nothing below fails: readers see the old list or the new one. */
	for (size_t i = 0; i < n_add; i++) {
		(void)add_block_locked(st, opened[i]);
		if (vg_storage_block_stamp(add[i]) > st->max_stamp)
			st->max_stamp = vg_storage_block_stamp(add[i]);
		opened[i] = NULL;
	}
	for (size_t i = 0; i < st->n_blocks;) {
		bool is_removed = false;
		for (size_t j = 0; j < n_remove && !is_removed; j++)
			is_removed = st->blocks[i] == remove[j];
		if (!is_removed) {
			i++;
			continue;
		}
		gone[n_gone++] = st->blocks[i];
		memmove(st->blocks + i, st->blocks + i + 1, (st->n_blocks - i - 1) * sizeof(*st->blocks));
		st->n_blocks--;
	}
	pthread_mutex_unlock(&st->mu);
	for (size_t i = 0; i < n_gone; i++) {
		if (unlink(vg_block_name(gone[i])) != 0 && errno != ENOENT)
			vg_warn("storage: cannot remove %s: %s", vg_block_name(gone[i]), strerror(errno));
		if (i + 1 == n_gone || !is_same_dir(vg_block_name(gone[i]), vg_block_name(gone[i + 1])))
			(void)vg_fs_sync_dir_of(vg_block_name(gone[i]), NULL, NULL);
		vg_block_close(gone[i]);
	}
out:
	for (size_t i = 0; opened && i < n_add; i++)
		vg_block_close(opened[i]);
	free(opened);
	free(gone);
	return rc;
}

void vg_storage_stats(struct vg_storage *st, struct vg_storage_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&st->mu);
	for (size_t i = 0; i < st->n_blocks; i++) {
		struct vg_block_info bi;
		struct vg_storage_tier_stats *t;

		vg_block_info(st->blocks[i], &bi);
		if ((unsigned)bi.tier >= VG_TIER_COUNT)
			continue;
		t = &out->tier[bi.tier];
		if (t->blocks == 0 || bi.min_t < t->oldest_ms)
			t->oldest_ms = bi.min_t;
		if (t->blocks == 0 || bi.max_t > t->newest_ms)
			t->newest_ms = bi.max_t;
		t->blocks++;
		t->bytes += bi.file_bytes;
		t->points += bi.n_points;
		t->series += bi.n_series;
	}
	out->damaged_blocks = st->damaged_blocks;
	pthread_mutex_unlock(&st->mu);
}

/* --- selections ---------------------------------------------------------- */

/* An entry for the key at set->keys[key_off ..) (written there already). */
static int add_entry(struct vg_storage_set *set, size_t key_off, size_t key_len, uint32_t place, uint32_t id)
{
	if (set->n_entries == set->cap_entries) {
		size_t cap = set->cap_entries ? set->cap_entries * 2 : 256;
		struct entry *p = realloc(set->entries, cap * sizeof(*p));
		if (p == NULL)
			return VG_ENOMEM;
		set->entries = p;
		set->cap_entries = cap;
	}
	set->entries[set->n_entries++] = (struct entry){ key_off, (uint32_t)key_len, place, id, { 0, 0 } };
	return 0;
}

static int push_entry(struct vg_storage_set *set, const uint8_t *key, size_t key_len,
		      uint32_t place, uint32_t id)
{
	size_t off = set->keys.len;

	vg_buf_append(&set->keys, key, key_len);
	return vg_buf_failed(&set->keys) ? VG_ENOMEM : add_entry(set, off, key_len, place, id);
}

/* Entries of the head's ids[0..n) into set, its read lock taken again
 * every SLICE series. */
static int key_head_ids(struct vg_storage_set *set, const uint32_t *ids, size_t n, bool is_locked)
{
	struct vg_head *h = set->head;
	int rc = 0;

	if (!is_locked)
		vg_head_rdlock(h);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		size_t off = set->keys.len;
		if (i % SLICE == SLICE - 1) {
			vg_head_unlock(h);
			vg_head_rdlock(h);
		}
		/* written straight into the set's keys */
		if ((rc = vg_head_series_key_locked(h, ids[i], &set->keys)) == 0)
			rc = add_entry(set, off, set->keys.len - off, PLACE_HEAD, ids[i]);
		if (rc == 0)
			vg_head_snap_locked(h, ids[i], &set->entries[set->n_entries - 1].snap);
	}
	vg_head_unlock(h);
	return rc;
}

static int sort_entries(struct vg_storage_set *set);

/*
 * The second half of a large selection's head series, keyed and sorted on
 * a thread of its own while the selecting thread keys the first half and
 * the blocks (select_head): its entries and keys in a set of its own
 * (part: only those fields used), merged into the selection after the
 * join (merge_part).
 */
struct key_job {
	pthread_t th;
	bool is_running;
	struct vg_storage_set part;
	uint32_t *ids; /* the head's selection, both halves; freed after the join */
	size_t from, n;
	int rc;
};

/* Head selections of this many series or more are keyed on two threads. */
#define SELECT_PAR_MIN 8192

static void *key_job_main(void *arg)
{
	struct key_job *j = arg;

	j->rc = key_head_ids(&j->part, j->ids + j->from, j->n - j->from, false);
	if (j->rc == 0)
		j->rc = sort_entries(&j->part);
	return NULL;
}

/* Joins j's thread (if it runs) and frees what it holds: its rc. */
static int key_job_end(struct key_job *j)
{
	if (j->is_running)
		pthread_join(j->th, NULL);
	j->is_running = false;
	vg_buf_release(&j->part.keys);
	free(j->part.entries);
	free(j->ids);
	memset(&j->part, 0, sizeof(j->part));
	j->ids = NULL;
	return j->rc;
}

/* The head's series matching sel into set; of a large selection, the
 * second half keyed on j's thread (SELECT_PAR_MIN; on the calling thread
 * if none can be started), for key_job_end and merge_part. */
static int select_head(struct vg_storage_set *set, const struct vg_selector *sel, bool two_threads,
		       struct key_job *j)
{
	struct vg_head *h = set->head;
	uint32_t *ids = NULL;
	size_t n = 0, mine;
	int rc;

	vg_head_rdlock(h);
	if ((rc = vg_head_select_locked(h, sel, &ids, &n)) != 0) {
		vg_head_unlock(h);
		return rc;
	}
	mine = n;
	if (n >= SELECT_PAR_MIN && two_threads) {
		j->ids = ids;
		j->from = mine = n / 2;
		j->n = n;
		j->part.head = h;
		vg_buf_init(&j->part.keys);
		j->is_running = pthread_create(&j->th, NULL, key_job_main, j) == 0;
		ids = NULL;
	}
	rc = key_head_ids(set, j->ids ? j->ids : ids, mine, true);
	if (rc == 0 && j->ids && !j->is_running)
		key_job_main(j);
	free(ids);
	return rc;
}

/* The sorted entries of j's part merged into set's, sorted (one key's
 * places: the head first, as sort_entries orders them). */
static int merge_part(struct vg_storage_set *set, struct key_job *j)
{
	const struct vg_storage_set *b = &j->part;
	size_t base = set->keys.len, n = set->n_entries + b->n_entries, x = 0, y = 0, k = 0;
	struct entry *m;

	if (b->n_entries == 0)
		return 0;
	if ((m = malloc(n * sizeof(*m))) == NULL)
		return VG_ENOMEM;
	vg_buf_append(&set->keys, b->keys.data, b->keys.len);
	if (vg_buf_failed(&set->keys)) {
		free(m);
		return VG_ENOMEM;
	}
	while (x < set->n_entries && y < b->n_entries) {
		const struct entry *ex = &set->entries[x], *ey = &b->entries[y];
		/* equal keys: ey is the head's, ex a block's */
		if (vg_series_key_cmp(set->keys.data + ex->key_off, ex->key_len, set->keys.data + base + ey->key_off,
				      ey->key_len) < 0) {
			m[k++] = *ex;
			x++;
		} else {
			m[k] = *ey;
			m[k++].key_off += base;
			y++;
		}
	}
	for (; x < set->n_entries; x++)
		m[k++] = set->entries[x];
	for (; y < b->n_entries; y++) {
		m[k] = b->entries[y];
		m[k++].key_off += base;
	}
	free(set->entries);
	set->entries = m;
	set->n_entries = set->cap_entries = n;
	return 0;
}

static int select_block(struct vg_storage_set *set, uint32_t place, const struct vg_selector *sel,
			struct vg_err *err)
{
	struct vg_postings p = VG_POSTINGS_INIT;
	struct vg_buf key = VG_BUF_INIT;
	int rc = vg_block_select(set->blocks[place], sel, &p, err);

	for (size_t i = 0; rc == 0 && i < p.n; i++) {
		vg_buf_reset(&key);
		if ((rc = vg_block_series_key(set->blocks[place], p.ids[i], &key)) == 0)
			rc = push_entry(set, key.data, key.len, place, p.ids[i]);
	}
	if (rc == VG_ENOMEM)
		vg_err_set(err, rc, "out of memory selecting series");
	vg_buf_release(&key);
	vg_postings_release(&p);
	return rc;
}

/*
 * The entries in the one series order (vg_series_key_sort on references
 * to them, then moved). One key's places in merge rank, the head, then
 * newer blocks: the order they were pushed in, which breaks ties.
 */
static int sort_entries(struct vg_storage_set *set)
{
	struct vg_key_ref *refs;
	struct entry *sorted;
	size_t n = set->n_entries;

	if (n < 2)
		return 0;
	if (n > UINT32_MAX)
		return VG_ENOMEM;
	refs = malloc(n * sizeof(*refs));
	sorted = malloc(n * sizeof(*sorted));
	if (refs == NULL || sorted == NULL) {
		free(refs);
		free(sorted);
		return VG_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		refs[i] = (struct vg_key_ref){ set->keys.data + set->entries[i].key_off, set->entries[i].key_len,
					       (uint32_t)i };
	vg_series_key_sort(refs, n);
	for (size_t i = 0; i < n; i++)
		sorted[i] = set->entries[refs[i].tag];
	free(refs);
	free(set->entries);
	set->entries = sorted;
	set->cap_entries = n;
	return 0;
}

static int read_merged(const struct vg_storage_set *set, struct scratch *sc, size_t i, int64_t min_t,
		       int64_t max_t, struct vg_samples *out, struct vg_err *err);

/* What was deleted, per series, as the list is now (tombstone.h); a series
 * with nothing left in [min_t, max_t] is no longer selected, as
 * Prometheus leaves out a series all of whose samples were deleted. Only
 * series a tombstone matches are read here. */
static int apply_tombstones(struct vg_storage *st, struct vg_storage_set *set, int64_t min_t,
			    int64_t max_t, struct vg_err *err)
{
	struct vg_samples smp = { 0 };
	size_t kept = 0;
	int rc = 0;

	if (vg_tombstones_len(st->tomb) == 0)
		return 0;
	for (size_t i = 0; i < set->n_runs && rc == 0; i++) {
		const struct entry *e = &set->entries[set->runs[i].first];
		size_t before = set->n_dels;

		if (vg_tombstones_match(st->tomb, set->keys.data + e->key_off, e->key_len, &set->dels,
					&set->n_dels, &set->cap_dels) != 0) {
			rc = vg_err_set(err, VG_ENOMEM, "out of memory selecting series");
			break;
		}
		set->runs[i].del_first = (uint32_t)before;
		set->runs[i].del_n = (uint32_t)(set->n_dels - before);
		if (set->runs[i].del_n > 0) {
			if ((rc = read_merged(set, &set->sc, i, min_t, max_t, &smp, err)) != 0)
				break;
			vg_tombstones_cut(set->dels + before, set->runs[i].del_n, &smp);
			if (smp.n == 0 && set->res_ms == 0)
				continue; /* everything of it in range was deleted */
		}
		set->runs[kept++] = set->runs[i];
	}
	if (rc == 0)
		set->n_runs = kept;
	vg_samples_release(&smp);
	return rc;
}

/* The first source of the resolution's order (see the top) that covers
 * [a, b): a tier, whose blocks in the set lie over the whole of it. */
static bool tier_covers(const struct vg_storage_set *set, int tier, int64_t a, int64_t b,
			int64_t head_from)
{
	if (tier == VG_TIER_RAW && a >= head_from)
		return true;
	for (size_t i = 0; i < set->n_blocks; i++) {
		struct vg_block_info bi;
		vg_block_info(set->blocks[i], &bi);
		if ((int)bi.tier == tier && bi.min_t <= a && bi.max_t >= b)
			return true;
	}
	return false;
}

static int i64_cmp(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
	return a < b ? -1 : a > b;
}

/* Cuts [min_t, max_t] into segments by source (rollup resolutions). */
static int plan_segments(struct vg_storage_set *set, int64_t min_t, int64_t max_t)
{
	static const int order_1h[] = { VG_TIER_1H, VG_TIER_1M, VG_TIER_RAW };
	static const int order_1m[] = { VG_TIER_1M, VG_TIER_RAW, VG_TIER_1H };
	const int *order = set->res_ms >= VG_ROLLUP_1H_MS ? order_1h : order_1m;
	size_t n_pts = 0;
	int64_t *pts = malloc((2 * set->n_blocks + 2) * sizeof(*pts));
	int64_t head_from = INT64_MIN, end = max_t == INT64_MAX ? INT64_MAX : max_t + 1;

	if (pts == NULL)
		return VG_ENOMEM;
	set->segs = malloc((2 * set->n_blocks + 2) * sizeof(*set->segs));
	if (set->segs == NULL) {
		free(pts);
		return VG_ENOMEM;
	}
	pts[n_pts++] = min_t;
	pts[n_pts++] = end;
	for (size_t i = 0; i < set->n_blocks; i++) {
		struct vg_block_info bi;
		vg_block_info(set->blocks[i], &bi);
		if (bi.max_t > head_from)
			head_from = bi.max_t;
		if (bi.min_t > min_t && bi.min_t < end)
			pts[n_pts++] = bi.min_t;
		if (bi.max_t > min_t && bi.max_t < end)
			pts[n_pts++] = bi.max_t;
	}
	qsort(pts, n_pts, sizeof(*pts), i64_cmp);
	for (size_t i = 0; i + 1 < n_pts; i++) {
		int64_t a = pts[i], b = pts[i + 1];
		int source = -1;

		if (a == b)
			continue;
		for (int k = 0; k < 3 && source < 0; k++)
			if (tier_covers(set, order[k], a, b, head_from))
				source = order[k];
		if (source < 0)
			continue; /* nothing holds it */
		if (set->n_segs && set->segs[set->n_segs - 1].source == source &&
		    set->segs[set->n_segs - 1].b == a)
			set->segs[set->n_segs - 1].b = b;
		else
			set->segs[set->n_segs++] = (struct segment){ a, b, source };
	}
	free(pts);
	return 0;
}

int vg_storage_select(struct vg_storage *st, const struct vg_selector *sel, int64_t min_t,
		      int64_t max_t, int64_t resolution_ms, struct vg_storage_set **out,
		      struct vg_err *err)
{
	struct vg_storage_set *set = calloc(1, sizeof(*set));
	struct key_job kj = { 0 };
	int rc = 0;

	*out = NULL;
	if (set == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory selecting series");
	set->head = st->head;
	/* Before the block list is copied: a seal that adds blocks after it
	 * keeps the frozen samples until this set is freed. */
	set->pin = vg_head_pin(st->head);
	set->res_ms = resolution_ms >= VG_ROLLUP_1H_MS ? VG_ROLLUP_1H_MS :
		      resolution_ms >= VG_ROLLUP_1M_MS ? VG_ROLLUP_1M_MS : 0;
	vg_buf_init(&set->keys);
	pthread_mutex_lock(&st->mu);
	set->blocks = st->n_blocks ? malloc(st->n_blocks * sizeof(*set->blocks)) : NULL;
	set->stamps = st->n_blocks ? malloc(st->n_blocks * sizeof(*set->stamps)) : NULL;
	if (st->n_blocks && (set->blocks == NULL || set->stamps == NULL))
		rc = VG_ENOMEM;
	for (size_t i = 0; rc == 0 && i < st->n_blocks; i++) {
		struct vg_block_info bi;

		vg_block_info(st->blocks[i], &bi);
		if ((bi.tier == VG_TIER_RAW || set->res_ms > 0) && bi.min_t <= max_t && bi.max_t > min_t) {
			set->stamps[set->n_blocks] = vg_storage_block_stamp(vg_block_name(st->blocks[i]));
			set->blocks[set->n_blocks++] = vg_block_ref(st->blocks[i]);
		}
	}
	pthread_mutex_unlock(&st->mu);
	if (rc == 0 && set->res_ms > 0)
		rc = plan_segments(set, min_t, max_t);
	if (rc != 0) {
		vg_storage_set_free(set);
		return vg_err_set(err, rc, "out of memory selecting series");
	}
	if ((rc = select_head(set, sel, st->is_multicore, &kj)) != 0) {
		key_job_end(&kj);
		vg_storage_set_free(set);
		return vg_err_set(err, rc, "out of memory selecting series");
	}
	/* newest first: the merge rank of one key's places (sort_entries) */
	for (uint32_t i = set->n_blocks; rc == 0 && i > 0; i--)
		rc = select_block(set, i - 1, sel, err);
	if (rc != 0) {
		key_job_end(&kj);
		vg_storage_set_free(set);
		return rc;
	}
	rc = sort_entries(set);
	if (kj.is_running)
		pthread_join(kj.th, NULL);
	kj.is_running = false;
	if (rc == 0 && (rc = kj.rc) == 0)
		rc = merge_part(set, &kj);
	key_job_end(&kj);
	if (rc != 0) {
		vg_storage_set_free(set);
		return vg_err_set(err, rc, "out of memory selecting series");
	}
	if (set->n_entries) {
		set->runs = malloc(set->n_entries * sizeof(*set->runs));
		if (set->runs == NULL) {
			vg_storage_set_free(set);
			return vg_err_set(err, VG_ENOMEM, "out of memory selecting series");
		}
	}
	for (size_t i = 0; i < set->n_entries; i++) {
		const struct entry *e = &set->entries[i];
		struct run *r = set->n_runs ? &set->runs[set->n_runs - 1] : NULL;
		const struct entry *f = r ? &set->entries[r->first] : NULL;

		if (f && f->key_len == e->key_len &&
		    memcmp(set->keys.data + f->key_off, set->keys.data + e->key_off, e->key_len) == 0)
			r->n++;
		else
			set->runs[set->n_runs++] = (struct run){ i, 1, 0, 0 };
	}
	if ((rc = apply_tombstones(st, set, min_t, max_t, err)) != 0) {
		vg_storage_set_free(set);
		return rc;
	}
	*out = set;
	return 0;
}

int vg_storage_delete(struct vg_storage *st, const struct vg_selector *selectors, size_t n,
		      int64_t min_t, int64_t max_t, struct vg_err *err)
{
	return vg_tombstones_add(st->tomb, selectors, n, min_t, max_t, err);
}

int vg_storage_cut_deleted(struct vg_storage *st, const uint8_t *key, size_t key_len,
			   struct vg_samples *s)
{
	struct vg_interval *iv = NULL;
	size_t n = 0, cap = 0;
	int rc = vg_tombstones_match(st->tomb, key, key_len, &iv, &n, &cap);

	if (rc == 0)
		vg_tombstones_cut(iv, n, s);
	free(iv);
	return rc;
}

size_t vg_storage_set_len(const struct vg_storage_set *set)
{
	return set->n_runs;
}

void vg_storage_set_key(const struct vg_storage_set *set, size_t i, const uint8_t **key,
			size_t *len)
{
	const struct entry *e = &set->entries[set->runs[i].first];

	*key = set->keys.data + e->key_off;
	*len = e->key_len;
}

static void scratch_release(struct scratch *sc)
{
	vg_block_cursor_free(sc->cursor);
	vg_samples_release(&sc->cols);
	free(sc->pts);
	memset(sc, 0, sizeof(*sc));
}

void vg_storage_set_free(struct vg_storage_set *set)
{
	if (set == NULL)
		return;
	vg_head_unpin(set->head, set->pin);
	for (size_t i = 0; i < set->n_blocks; i++)
		vg_block_close(set->blocks[i]);
	free(set->blocks);
	free(set->stamps);
	free(set->segs);
	vg_samples_release(&set->raw);
	vg_buckets_release(&set->tier_b);
	vg_buf_release(&set->keys);
	free(set->entries);
	free(set->runs);
	free(set->dels);
	vg_block_cursor_free(set->cursor);
	scratch_release(&set->sc);
	free(set);
}

/* --- reading a series ---------------------------------------------------- */

/* Decodes the raw columns of a block's series into sc->cols;
 * *n gets the point count. */
static int read_block_series(const struct vg_storage_set *set, struct scratch *sc, const struct entry *e,
			     size_t *n, struct vg_err *err)
{
	struct vg_block *b = set->blocks[e->place];
	struct vg_block_col cols[VG_BLOCK_MAX_COLUMNS];
	size_t cnt;
	int rc;

	if (sc->cursor == NULL && (sc->cursor = vg_block_cursor_new()) == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory reading a block");
	if ((rc = vg_block_read_columns(b, e->id, sc->cursor, cols, err)) != 0)
		return rc;
	if ((rc = vg_col_count(cols[0].p, cols[0].len, &cnt, err)) != 0) {
		vg_err_prefix(err, "%s: series %u timestamps", vg_block_name(b), e->id);
		return rc;
	}
	if (cnt > VG_COL_MAX_N)
		return vg_err_set(err, VG_EINVAL, "%s: series %u: %zu points", vg_block_name(b), e->id, cnt);
	if (vg_samples_reserve(&sc->cols, cnt) != 0)
		return vg_err_set(err, VG_ENOMEM, "out of memory reading a block");
	if (vg_col_decode_ts(cols[0].p, cols[0].len, sc->cols.ts_ms, cnt, err) < 0 ||
	    vg_col_decode_f64(cols[1].p, cols[1].len, sc->cols.values, cnt, err) < 0) {
		vg_err_prefix(err, "%s: series %u", vg_block_name(b), e->id);
		return VG_EINVAL;
	}
	*n = cnt;
	return 0;
}

static int push_point(struct scratch *sc, size_t *np, int64_t t, double v, uint32_t rank)
{
	if (*np == sc->cap_pts) {
		size_t cap = sc->cap_pts ? sc->cap_pts * 2 : 1024;
		struct point *p = realloc(sc->pts, cap * sizeof(*p));
		if (p == NULL)
			return VG_ENOMEM;
		sc->pts = p;
		sc->cap_pts = cap;
	}
	sc->pts[(*np)++] = (struct point){ t, v, rank };
	return 0;
}


static int point_cmp(const void *a, const void *b)
{
	const struct point *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

static bool is_raw_place(const struct vg_storage_set *set, uint32_t place)
{
	struct vg_block_info bi;

	if (place == PLACE_HEAD)
		return true;
	vg_block_info(set->blocks[place], &bi);
	return bi.tier == VG_TIER_RAW;
}

static int read_merged(const struct vg_storage_set *set, struct scratch *sc, size_t i, int64_t min_t,
		       int64_t max_t, struct vg_samples *out, struct vg_err *err)
{
	const struct run *r = &set->runs[i];
	size_t np = 0;
	int rc;

	out->n = 0;
	/* The common case, one place: no merge. */
	if (r->n == 1 && set->entries[r->first].place == PLACE_HEAD) {
		struct vg_head *h = set->head;
		const struct entry *ne = i + 1 < set->n_runs ? &set->entries[set->runs[i + 1].first] : NULL;
		vg_head_rdlock(h);
		rc = vg_head_read_snap_ahead_locked(h, set->entries[r->first].id, &set->entries[r->first].snap,
						    min_t, max_t, ne && ne->place == PLACE_HEAD ? ne->id : UINT32_MAX,
						    out);
		vg_head_unlock(h);
		return rc ? vg_err_set(err, rc, "reading the head: %s", vg_strerror(rc)) : 0;
	}
	for (size_t k = 0; k < r->n; k++) {
		const struct entry *e = &set->entries[r->first + k];
		uint32_t rank = (uint32_t)k; /* entries are in merge rank */

		if (!is_raw_place(set, e->place))
			continue;
		if (e->place == PLACE_HEAD) {
			struct vg_head *h = set->head;
			vg_head_rdlock(h);
			rc = vg_head_read_snap_locked(h, e->id, &e->snap, min_t, max_t, out);
			vg_head_unlock(h);
			if (rc != 0)
				return vg_err_set(err, rc, "reading the head: %s", vg_strerror(rc));
			for (size_t j = 0; j < out->n; j++)
				if (push_point(sc, &np, out->ts_ms[j], out->values[j], rank) != 0)
					return vg_err_set(err, VG_ENOMEM, "out of memory merging a series");
			out->n = 0;
			continue;
		}
		size_t n;
		if ((rc = read_block_series(set, sc, e, &n, err)) != 0)
			return rc;
		for (size_t j = 0; j < n; j++)
			if (sc->cols.ts_ms[j] >= min_t && sc->cols.ts_ms[j] <= max_t &&
			    push_point(sc, &np, sc->cols.ts_ms[j], sc->cols.values[j], rank) != 0)
				return vg_err_set(err, VG_ENOMEM, "out of memory merging a series");
	}
	if (np > 1) /* not with none: sc->pts may still be NULL */
		qsort(sc->pts, np, sizeof(*sc->pts), point_cmp);
	if (vg_samples_reserve(out, np) != 0)
		return vg_err_set(err, VG_ENOMEM, "out of memory merging a series");
	for (size_t j = 0; j < np; j++) {
		if (out->n > 0 && out->ts_ms[out->n - 1] == sc->pts[j].t)
			continue; /* the better-ranked sample came first */
		out->ts_ms[out->n] = sc->pts[j].t;
		out->values[out->n] = sc->pts[j].v;
		out->n++;
	}
	return 0;
}

/* Series i merged, less what was deleted, with the scratch sc. */
static int read_series(const struct vg_storage_set *set, struct scratch *sc, size_t i, int64_t min_t,
		       int64_t max_t, struct vg_samples *out, struct vg_err *err)
{
	const struct run *r = &set->runs[i];
	int rc = read_merged(set, sc, i, min_t, max_t, out, err);

	if (rc == 0)
		vg_tombstones_cut(set->dels + r->del_first, r->del_n, out);
	return rc;
}

int vg_storage_set_read(struct vg_storage_set *set, size_t i, int64_t min_t, int64_t max_t,
			struct vg_samples *out, struct vg_err *err)
{
	return read_series(set, &set->sc, i, min_t, max_t, out, err);
}

int vg_storage_reader_new(struct vg_storage_set *set, struct vg_storage_reader **out)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		return VG_ENOMEM;
	(*out)->set = set;
	return 0;
}

int vg_storage_reader_read(struct vg_storage_reader *rd, size_t i, int64_t min_t, int64_t max_t,
			   struct vg_samples *out, struct vg_err *err)
{
	return read_series(rd->set, &rd->sc, i, min_t, max_t, out, err);
}

void vg_storage_reader_free(struct vg_storage_reader *rd)
{
	if (rd == NULL)
		return;
	scratch_release(&rd->sc);
	free(rd);
}

/* --- reading rollup buckets --------------------------------------------- */

struct ranked {
	struct vg_bucket b;
	int64_t stamp;
};

static int ranked_cmp(const void *x, const void *y)
{
	const struct ranked *a = x, *b = y;

	if (a->b.t_ms != b->b.t_ms)
		return a->b.t_ms < b->b.t_ms ? -1 : 1;
	return a->stamp < b->stamp ? -1 : a->stamp > b->stamp;
}

/* One block's buckets of a series in set->tier_b: [off, off + n). */
struct piece {
	size_t off, n;
	int64_t stamp;
};

/* Merges the pieces' buckets by start into out, where blocks overlap
 * (vg_rollup_join, the newer stamp's first and last). */
static int merge_pieces(struct vg_storage_set *set, const struct piece *pc, size_t n_pc,
			struct vg_buckets *out, struct vg_err *err)
{
	struct ranked *rk = malloc((set->tier_b.n ? set->tier_b.n : 1) * sizeof(*rk));
	size_t n_rk = 0;
	int rc = 0;

	if (rk == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory merging buckets");
	for (size_t i = 0; i < n_pc; i++)
		for (size_t j = 0; j < pc[i].n; j++)
			rk[n_rk++] = (struct ranked){ set->tier_b.v[pc[i].off + j], pc[i].stamp };
	if (n_rk > 1)
		qsort(rk, n_rk, sizeof(*rk), ranked_cmp);
	if (vg_buckets_reserve(out, out->n + n_rk) != 0)
		rc = vg_err_set(err, VG_ENOMEM, "out of memory merging buckets");
	for (size_t j = 0; rc == 0 && j < n_rk; j++) {
		if (out->n > 0 && out->v[out->n - 1].t_ms == rk[j].b.t_ms) {
			/* a newer source of the same bucket (sorted by stamp) */
			vg_rollup_join(&out->v[out->n - 1], &rk[j].b, 0);
			continue;
		}
		out->v[out->n++] = rk[j].b;
	}
	free(rk);
	return rc;
}

/* The buckets of one series from the blocks of one tier, starts in [a, b),
 * merged by start, appended to out. Each block's are ascending, one per
 * start, and a run's entries come newest block first; read oldest first,
 * a tier's blocks, which seldom overlap, decode straight into out in
 * order, and only where two overlap (or out's last bucket is not before
 * them) are they merged bucket by bucket. */
static int read_tier(struct vg_storage_set *set, const struct run *r, int tier, int64_t a,
		     int64_t b, struct vg_buckets *out, struct vg_err *err)
{
	struct piece *pc = malloc((r->n ? r->n : 1) * sizeof(*pc));
	size_t n_pc = 0, base = out->n;
	bool is_ordered = true;
	int rc = 0;

	if (pc == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory reading a block");
	for (size_t k = r->n; rc == 0 && k-- > 0;) {
		const struct entry *e = &set->entries[r->first + k];
		struct vg_block_col cols[VG_BLOCK_MAX_COLUMNS];
		struct vg_block_info bi;
		struct vg_block *blk;
		size_t off = out->n, kept = off;

		if (e->place == PLACE_HEAD)
			continue;
		blk = set->blocks[e->place];
		vg_block_info(blk, &bi);
		if ((int)bi.tier != tier || bi.max_t <= a || bi.min_t >= b)
			continue;
		if (set->cursor == NULL && (set->cursor = vg_block_cursor_new()) == NULL) {
			rc = vg_err_set(err, VG_ENOMEM, "out of memory reading a block");
			break;
		}
		if ((rc = vg_block_read_columns(blk, e->id, set->cursor, cols, err)) != 0)
			break;
		if ((rc = vg_rollup_decode(cols, vg_rollup_width((enum vg_tier)tier), out, err)) != 0) {
			vg_err_prefix(err, "%s: series %u", vg_block_name(blk), e->id);
			break;
		}
		for (size_t j = off; j < out->n; j++)
			if (out->v[j].t_ms >= a && out->v[j].t_ms < b)
				out->v[kept++] = out->v[j];
		out->n = kept;
		if (kept == off)
			continue;
		if (off > 0 && out->v[off - 1].t_ms >= out->v[off].t_ms)
			is_ordered = false; /* overlaps what came before */
		pc[n_pc++] = (struct piece){ off - base, kept - off, set->stamps[e->place] };
	}
	if (rc == 0 && !is_ordered) {
		/* Move this tier's buckets aside and merge them back. */
		set->tier_b.n = 0;
		if (vg_buckets_reserve(&set->tier_b, out->n - base) != 0) {
			rc = vg_err_set(err, VG_ENOMEM, "out of memory merging buckets");
		} else {
			memcpy(set->tier_b.v, out->v + base, (out->n - base) * sizeof(*out->v));
			set->tier_b.n = out->n - base;
			out->n = base;
			rc = merge_pieces(set, pc, n_pc, out, err);
		}
	}
	free(pc);
	return rc;
}

static int64_t floor_to(int64_t t, int64_t w)
{
	int64_t q = t / w;
	if (t % w != 0 && t < 0)
		q--;
	return q * w;
}

int vg_storage_set_read_buckets(struct vg_storage_set *set, size_t i, int64_t min_t, int64_t max_t,
				struct vg_buckets *out, struct vg_err *err)
{
	const struct run *r = &set->runs[i];
	struct vg_buckets tmp = { 0 };
	int64_t res = set->res_ms;
	int rc = 0;

	out->n = 0;
	if (res <= 0)
		return vg_err_set(err, VG_EINVAL, "a raw selection has no buckets");
	for (size_t s = 0; rc == 0 && s < set->n_segs; s++) {
		const struct segment *g = &set->segs[s];
		int64_t a = g->a, b = g->b;
		if (g->source == VG_TIER_RAW) {
			/* Whole buckets: from the start of the one min_t is in. */
			int64_t lo = a == min_t ? floor_to(min_t, res) : a;
			int64_t hi = b == INT64_MAX ? INT64_MAX : b - 1;
			if (b != INT64_MAX && max_t != INT64_MAX && b == max_t + 1)
				hi = floor_to(max_t, res) + res - 1;
			if ((rc = vg_storage_set_read(set, i, lo, hi, &set->raw, err)) != 0)
				break;
			if (vg_rollup_compute(set->raw.ts_ms, set->raw.values, set->raw.n, res, out) != 0)
				rc = vg_err_set(err, VG_ENOMEM, "out of memory computing buckets");
			continue;
		}
		if (g->source == VG_TIER_1M && res > VG_ROLLUP_1M_MS) {
			tmp.n = 0;
			if ((rc = read_tier(set, r, g->source, floor_to(a, res), b, &tmp, err)) != 0)
				break;
			if (vg_rollup_coarsen(tmp.v, tmp.n, res, out) != 0)
				rc = vg_err_set(err, VG_ENOMEM, "out of memory computing buckets");
			continue;
		}
		rc = read_tier(set, r, g->source, floor_to(a, vg_rollup_width((enum vg_tier)g->source)), b,
			       out, err);
	}
	vg_buckets_release(&tmp);
	if (rc != 0)
		return rc;
	/* Keep the buckets that overlap [min_t, max_t]; link increases. */
	size_t k = 0;
	for (size_t j = 0; j < out->n; j++) {
		const struct vg_bucket *x = &out->v[j];
		if (x->t_ms > max_t || x->t_ms + x->width_ms <= min_t)
			continue;
		out->v[k++] = *x;
	}
	out->n = k;
	vg_rollup_link(out->v, out->n);
	return 0;
}

/* --- label names and values ---------------------------------------------- */

void vg_strset_release(struct vg_strset *s)
{
	free(s->v);
	free(s->bytes);
	memset(s, 0, sizeof(*s));
}

struct strs {
	struct vg_buf bytes;
	uint64_t *off; /* of each string in bytes; len beside it */
	uint32_t *len;
	size_t n, cap;
};

static int strs_add(struct strs *s, const char *p, size_t len)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		uint64_t *o = realloc(s->off, cap * sizeof(*o));
		uint32_t *l;
		if (o == NULL)
			return VG_ENOMEM;
		s->off = o;
		l = realloc(s->len, cap * sizeof(*l));
		if (l == NULL)
			return VG_ENOMEM;
		s->len = l;
		s->cap = cap;
	}
	s->off[s->n] = s->bytes.len;
	s->len[s->n] = (uint32_t)len;
	s->n++;
	vg_buf_append(&s->bytes, p, len);
	return vg_buf_failed(&s->bytes) ? VG_ENOMEM : 0;
}

static int str_cmp(const void *a, const void *b)
{
	return vg_str_cmp(*(const struct vg_str *)a, *(const struct vg_str *)b);
}

/* Sorts, removes repeats, and hands the strings over as out. */
static int strs_finish(struct strs *s, struct vg_strset *out)
{
	size_t k = 0;

	memset(out, 0, sizeof(*out));
	if (s->n == 0)
		return 0;
	out->v = malloc(s->n * sizeof(*out->v));
	if (out->v == NULL)
		return VG_ENOMEM;
	out->bytes = vg_buf_detach(&s->bytes, NULL);
	for (size_t i = 0; i < s->n; i++)
		out->v[i] = (struct vg_str){ out->bytes + s->off[i], s->len[i] };
	qsort(out->v, s->n, sizeof(*out->v), str_cmp);
	for (size_t i = 0; i < s->n; i++)
		if (k == 0 || vg_str_cmp(out->v[k - 1], out->v[i]) != 0)
			out->v[k++] = out->v[i];
	out->n = k;
	return 0;
}

static int collect_labels(struct vg_storage *st, const char *name, struct vg_strset *out)
{
	struct strs s = { VG_BUF_INIT, NULL, NULL, 0, 0 };
	struct vg_block **blocks = NULL;
	struct vg_str *v = NULL;
	size_t n = 0, n_blocks = 0;
	int rc;

	vg_head_rdlock(st->head);
	rc = name ? vg_head_label_values_locked(st->head, name, &v, &n)
		  : vg_head_label_names_locked(st->head, &v, &n);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = strs_add(&s, v[i].p, v[i].len);
	vg_head_unlock(st->head);
	free(v);
	pthread_mutex_lock(&st->mu);
	if (rc == 0 && st->n_blocks && (blocks = malloc(st->n_blocks * sizeof(*blocks))) == NULL)
		rc = VG_ENOMEM;
	for (size_t i = 0; rc == 0 && i < st->n_blocks; i++)
		blocks[n_blocks++] = vg_block_ref(st->blocks[i]);
	pthread_mutex_unlock(&st->mu);
	for (size_t b = 0; b < n_blocks; b++) {
		v = NULL;
		n = 0;
		if (rc == 0)
			rc = name ? vg_block_label_values(blocks[b], name, &v, &n)
				  : vg_block_label_names(blocks[b], &v, &n);
		for (size_t i = 0; rc == 0 && i < n; i++)
			rc = strs_add(&s, v[i].p, v[i].len);
		free(v);
		vg_block_close(blocks[b]);
	}
	free(blocks);
	if (rc == 0)
		rc = strs_finish(&s, out);
	vg_buf_release(&s.bytes);
	free(s.off);
	free(s.len);
	return rc;
}

int vg_storage_label_names(struct vg_storage *st, struct vg_strset *out)
{
	return collect_labels(st, NULL, out);
}

int vg_storage_label_values(struct vg_storage *st, const char *name, struct vg_strset *out)
{
	return collect_labels(st, name, out);
}
