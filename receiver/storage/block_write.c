/*
 * block_write.c: the block file writer of block_write.h, and the format.
 *
 * Owns the byte layout of block files (this comment and
 * docs/storage-format.md, "Block files"), symbol and postings building,
 * column grouping and the write order. Does not own what columns mean
 * (chunk.c encodes them), which series go in a block or when (the head and
 * compaction), nor reading (block_read.c, which checks every rule below).
 *
 * FILE (format version 1). Little-endian fixed-width integers; "uvarint"
 * is LEB128 (common/buf.h). Sections tile the file in this order, each
 * starting where the previous ends:
 *
 *   header | columns | groups | symbols | series | postings | footer
 *
 * Column data comes first so it can stream to disk while the index is
 * built; the index sections follow; the footer, last, says where each
 * section is. A reader starts from the footer.
 *
 * HEADER (40 bytes at offset 0):
 *   0  4  magic "VGBK"
 *   4  2  format version (2; 1 is read too)
 *   6  1  tier (0 raw, 1 1m, 2 1h)
 *   7  1  columns per series (2 for raw, 8 for 1m and 1h)
 *   8  8  min_t, i64 ms (first instant covered)
 *  16  8  max_t, i64 ms (exclusive; min_t < max_t)
 *  24  8  flags: bit 0 compacted (version 2), the rest 0
 *  32  8  XXH3_64(bytes 0..31, seed 0)
 *
 * FOOTER (152 bytes, the end of the file):
 *   0  4  magic "VGBF"
 *   4  4  number of sections (5)
 *   8  8  the header's checksum again (a header from another file fails)
 *  16 120 five entries, columns, groups, symbols, series, postings, each
 *         u64 offset, u64 length, u64 XXH3_64(section bytes, seed = its
 *         section number: columns 1, groups 2, symbols 3, series 4,
 *         postings 5)
 * 136  8  file length
 * 144  8  XXH3_64(footer bytes 0..143, seed 0)
 *
 * COLUMNS: zstd frames back to back, one per column group. A group holds
 * the columns of consecutive series, each series' columns back to back
 * (column 0, column 1, ...); a group is closed before a series that would
 * take it past group_bytes (32 KiB by default), so a group is at most
 * max(group_bytes, one series) <= 64 MiB uncompressed. The reader checks
 * this section's checksum only in a full verify; each group has its own,
 * checked when the group is read.
 *
 * GROUPS: u32 count G, then G entries of 24 bytes:
 *   u64 offset in the columns section, u32 compressed length (>= 1),
 *   u32 uncompressed length (1..64 MiB), u64 XXH3_64(compressed bytes, 0).
 *   Groups are contiguous from offset 0 and end at the section's end.
 *
 * SYMBOLS: every distinct string (metric names, label names and values,
 * and "__name__") once, sorted bytewise, so comparing refs compares
 * strings. u32 count S, then S + 1 u32 offsets into the string bytes
 * (0 first, strictly ascending: no string is empty; the last is the byte
 * count), then the bytes. No string holds 0xFF (the key separator) or is
 * longer than 4096 bytes.
 *
 * SERIES: u32 count N, then N u32 offsets of the entries (relative to the
 * first entry; 0 first, strictly ascending), then the entries, each:
 *   uvarint P, the label pairs (1..65), then P pairs of uvarint name ref,
 *     uvarint value ref: the metric name is the pair ("__name__", name);
 *     names strictly ascending, "__name__" exactly once;
 *   uvarint min_t - block min_t, uvarint max_t - min_t (the series' first
 *     and last timestamps, inside the block's range);
 *   uvarint number of points;
 *   uvarint group, uvarint offset in the group's uncompressed bytes, then
 *     one uvarint length per column; the columns lie inside the group. A
 *     series whose columns are all empty may name group G (none).
 * An entry ends exactly where the next begins. Series are strictly
 * ascending in vg_series_key_cmp order, which on pairs is: compare pair
 * by pair (name ref, then value ref), a prefix first. The series index
 * (0..N-1) is what postings hold.
 *
 * POSTINGS: u32 name count L, u32 pair count Q, then L entries
 *   u32 name ref, u32 first pair (strictly ascending names; the pairs of
 *   name i are [first_i, first_{i+1}), at least one; first_0 = 0),
 * then Q entries u32 value ref, u32 id count (>= 1), u32 data offset
 *   (value refs strictly ascending within a name; offsets from 0,
 *   ascending; a pair's data ends where the next pair's begins),
 * then the data: per pair its series indexes, ascending, as uvarints, the
 *   first as is and each next as the difference from the one before (>= 1).
 *
 * WRITE ORDER: the temporary file "<path>.tmp" gets the header and the
 * groups as they fill, then at finish the index sections and the footer;
 * then fdatasync, rename to path, fdatasync the directory. A reader that
 * can open path sees a complete file; a crash leaves at most a .tmp file.
 */
#include "receiver/storage/block_write.h"
#include "receiver/storage/symtab.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/series.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>
#include <zstd.h>

#include "common/banned.h"

#define HEADER_BYTES 40
#define FOOTER_BYTES 152
#define N_SECTIONS 5
#define FLUSH_BYTES (1u << 20)
#define MAX_PAIRS (VG_SERIES_MAX_LABELS + 1)
#define NONE UINT32_MAX

static const char name_label[] = "__name__";

/* An open-addressing set of u32 ids keyed by a 64-bit hash; the owner
 * compares candidates. Load stays <= 1/2. */
struct idtab {
	uint32_t *slot; /* NONE when empty */
	size_t mask;    /* slots - 1; 0 when unallocated */
	size_t n;
};

struct group {
	uint64_t offset;
	uint32_t comp_len, raw_len;
	uint64_t hash;
};

struct section {
	uint64_t offset, length, hash;
};

struct vg_block_writer {
	char *path, *tmp_path;
	int fd;
	struct vg_fileops ops;
	enum vg_tier tier;
	unsigned n_cols;
	uint64_t flags;
	int64_t min_t, max_t;
	size_t group_bytes;
	int zstd_level;
	bool is_failed;
	char failed_msg[VG_ERR_MSG_MAX];

	/* Output: bytes written so far, the buffer, the section being hashed. */
	uint64_t off;
	struct vg_buf out;
	XXH3_state_t hs;
	struct section sec[N_SECTIONS]; /* columns, groups, symbols, series, postings */

	/* Symbols: each string once, ids from 0 in order of first use
	 * (symtab.h); sorted into refs only at the end. */
	struct vg_symtab *syms;

	/* Label pairs by symbol id; counts of series holding each. */
	uint32_t *pair_name, *pair_value, *pair_count;
	size_t n_pairs, cap_pairs;
	struct idtab pair_tab;

	/* Series: their pairs (pair ids) in ser_pairs[ser_pstart[i]..
	 * ser_pstart[i+1]), and their tail (times, counts, location, column
	 * lengths as uvarints) in ser_tail from ser_toff[i]. */
	uint32_t *ser_pairs;
	size_t n_ser_pairs, cap_ser_pairs;
	uint32_t *ser_pstart, *ser_toff;
	size_t n_series, cap_series;
	struct vg_buf ser_tail;
	struct vg_buf prev_key;
	uint64_t n_points, column_bytes;

	/* The group being filled, and the groups written. */
	struct vg_buf grp;
	struct vg_buf comp;
	ZSTD_CCtx *cctx;
	struct group *groups;
	size_t n_groups, cap_groups;
};

/* ---- little helpers ------------------------------------------------------ */

/* Grows *arr (of elem-byte entries, *cap of them) to hold need. */
static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t c;
	void *p;

	if (need <= *cap)
		return 0;
	c = *cap ? *cap : 64;
	while (c < need)
		c *= 2;
	if (c > SIZE_MAX / elem)
		return VG_ENOMEM;
	p = realloc(*arr, c * elem);
	if (p == NULL)
		return VG_ENOMEM;
	*arr = p;
	*cap = c;
	return 0;
}

/* Grows n parallel uint32_t arrays, all of *cap entries, to hold need;
 * *cap changes only once every array has its room. */
static int grow_u32s(uint32_t **arrs[], size_t n, size_t *cap, size_t need)
{
	for (size_t i = 0; i < n; i++) {
		size_t c = *cap;
		if (grow((void **)arrs[i], &c, need, sizeof(uint32_t)) != 0)
			return VG_ENOMEM;
		if (i + 1 == n)
			*cap = c;
	}
	return 0;
}

static int idtab_grow(struct idtab *t)
{
	size_t slots = t->mask ? (t->mask + 1) * 2 : 1024;
	uint32_t *s;

	if (slots > SIZE_MAX / sizeof(*s))
		return VG_ENOMEM;
	s = malloc(slots * sizeof(*s));
	if (s == NULL)
		return VG_ENOMEM;
	memset(s, 0xff, slots * sizeof(*s));
	free(t->slot);
	t->slot = s;
	t->mask = slots - 1;
	return 0;
}

/* ---- output -------------------------------------------------------------- */

static int fail(struct vg_block_writer *w, struct vg_err *err, const char *what, int e)
{
	w->is_failed = true;
	snprintf(w->failed_msg, sizeof(w->failed_msg), "%s %s: %s", what, w->tmp_path, strerror(e));
	return vg_err_set(err, VG_EIO, "%s", w->failed_msg);
}

static int flush_out(struct vg_block_writer *w, struct vg_err *err)
{
	if (w->out.len == 0)
		return 0;
	if (vg_fs_write_all(&w->ops, w->fd, w->out.data, w->out.len) != 0)
		return fail(w, err, "write", errno);
	vg_buf_reset(&w->out);
	return 0;
}

/* Appends to the file (buffered) and to the section hash. */
static int emit(struct vg_block_writer *w, const void *p, size_t n, struct vg_err *err)
{
	if (n == 0)
		return 0;
	XXH3_64bits_update(&w->hs, p, n);
	w->off += n;
	if (n >= FLUSH_BYTES) {
		if (flush_out(w, err) != 0)
			return VG_EIO;
		if (vg_fs_write_all(&w->ops, w->fd, p, n) != 0)
			return fail(w, err, "write", errno);
		return 0;
	}
	vg_buf_append(&w->out, p, n);
	if (vg_buf_failed(&w->out))
		return vg_err_set(err, VG_ENOMEM, "block %s: out of memory", w->path);
	if (w->out.len >= FLUSH_BYTES)
		return flush_out(w, err);
	return 0;
}

static int emit_u32(struct vg_block_writer *w, uint32_t v, struct vg_err *err)
{
	uint8_t b[4];

	vg_put_le32(b, v);
	return emit(w, b, 4, err);
}

static int emit_uv(struct vg_block_writer *w, uint64_t v, struct vg_err *err)
{
	uint8_t b[10];

	return emit(w, b, (size_t)(vg_put_uvarint(b, v) - b), err);
}

/* Section i (0 = columns) starts here. */
static void section_begin(struct vg_block_writer *w, int i)
{
	w->sec[i].offset = w->off;
	XXH3_64bits_reset_withSeed(&w->hs, (XXH64_hash_t)(i + 1));
}

static int section_end(struct vg_block_writer *w, int i, struct vg_err *err)
{
	w->sec[i].length = w->off - w->sec[i].offset;
	w->sec[i].hash = XXH3_64bits_digest(&w->hs);
	if (i > 0 && w->sec[i].length > VG_BLOCK_MAX_SECTION_BYTES)
		return vg_err_set(err, VG_ELIMIT, "block %s: section %d is past 4 GiB", w->path, i + 1);
	return 0;
}

/* ---- symbols and pairs -------------------------------------------------- */

static struct vg_str sym_str(const struct vg_block_writer *w, uint32_t id)
{
	return vg_symtab_str(w->syms, id);
}

static uint64_t pair_hash(uint32_t name, uint32_t value)
{
	return XXH3_64bits_withSeed(&value, sizeof(value), name);
}

static int pair_intern(struct vg_block_writer *w, uint32_t name, uint32_t value, uint32_t *id)
{
	size_t i;

	if ((w->pair_tab.n + 1) * 2 > w->pair_tab.mask + 1) {
		if (idtab_grow(&w->pair_tab) != 0)
			return VG_ENOMEM;
		for (size_t k = 0; k < w->n_pairs; k++) {
			size_t j = pair_hash(w->pair_name[k], w->pair_value[k]) & w->pair_tab.mask;
			while (w->pair_tab.slot[j] != NONE)
				j = (j + 1) & w->pair_tab.mask;
			w->pair_tab.slot[j] = (uint32_t)k;
		}
	}
	for (i = pair_hash(name, value) & w->pair_tab.mask; w->pair_tab.slot[i] != NONE;
	     i = (i + 1) & w->pair_tab.mask) {
		uint32_t p = w->pair_tab.slot[i];
		if (w->pair_name[p] == name && w->pair_value[p] == value) {
			*id = p;
			return 0;
		}
	}
	if (w->n_pairs >= UINT32_MAX - 1)
		return VG_ELIMIT;
	{
		uint32_t **arrs[] = { &w->pair_name, &w->pair_value, &w->pair_count };
		if (grow_u32s(arrs, 3, &w->cap_pairs, w->n_pairs + 1) != 0)
			return VG_ENOMEM;
	}
	*id = (uint32_t)w->n_pairs;
	w->pair_name[*id] = name;
	w->pair_value[*id] = value;
	w->pair_count[*id] = 0;
	w->n_pairs++;
	w->pair_tab.slot[i] = *id;
	w->pair_tab.n++;
	return 0;
}

/* ---- groups --------------------------------------------------------------- */

static int flush_group(struct vg_block_writer *w, struct vg_err *err)
{
	size_t bound, n;
	struct group *g;

	if (w->grp.len == 0)
		return 0;
	if (grow((void **)&w->groups, &w->cap_groups, w->n_groups + 1, sizeof(*w->groups)) != 0)
		return vg_err_set(err, VG_ENOMEM, "block %s: out of memory", w->path);
	bound = ZSTD_compressBound(w->grp.len);
	vg_buf_reset(&w->comp);
	if (vg_buf_grow(&w->comp, bound) != 0)
		return vg_err_set(err, VG_ENOMEM, "block %s: out of memory", w->path);
	n = ZSTD_compressCCtx(w->cctx, w->comp.data, bound, w->grp.data, w->grp.len, w->zstd_level);
	if (ZSTD_isError(n))
		return vg_err_set(err, VG_EIO, "block %s: zstd: %s", w->path, ZSTD_getErrorName(n));
	g = &w->groups[w->n_groups];
	g->offset = w->off - w->sec[0].offset;
	g->comp_len = (uint32_t)n;
	g->raw_len = (uint32_t)w->grp.len;
	g->hash = XXH3_64bits(w->comp.data, n);
	{
		int rc = emit(w, w->comp.data, n, err);
		if (rc != 0)
			return rc;
	}
	w->n_groups++;
	vg_buf_reset(&w->grp);
	return 0;
}

/* ---- open, add ------------------------------------------------------------ */

static char *str_dup2(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 1);

	if (s == NULL)
		return NULL;
	memcpy(s, a, la);
	memcpy(s + la, b, lb + 1);
	return s;
}

static void writer_free(struct vg_block_writer *w)
{
	free(w->path);
	free(w->tmp_path);
	vg_buf_release(&w->out);
	vg_symtab_free(w->syms);
	free(w->pair_name);
	free(w->pair_value);
	free(w->pair_count);
	free(w->pair_tab.slot);
	free(w->ser_pairs);
	free(w->ser_pstart);
	free(w->ser_toff);
	vg_buf_release(&w->ser_tail);
	vg_buf_release(&w->prev_key);
	vg_buf_release(&w->grp);
	vg_buf_release(&w->comp);
	ZSTD_freeCCtx(w->cctx);
	free(w->groups);
	free(w);
}

void vg_block_writer_abort(struct vg_block_writer *w)
{
	if (w == NULL)
		return;
	if (w->fd >= 0) {
		close(w->fd);
		unlink(w->tmp_path);
	}
	writer_free(w);
}

int vg_block_writer_open(const char *path, const struct vg_block_writer_options *opts,
			 struct vg_block_writer **out, struct vg_err *err)
{
	struct vg_block_writer *w;
	uint8_t h[HEADER_BYTES];
	int rc;

	*out = NULL;
	if (vg_block_tier_columns((int)opts->tier) == 0)
		return vg_err_set(err, VG_EINVAL, "block %s: no such tier %d", path, (int)opts->tier);
	if (opts->min_t >= opts->max_t)
		return vg_err_set(err, VG_EINVAL, "block %s: empty time range [%" PRId64 ", %" PRId64 ")",
				  path, opts->min_t, opts->max_t);
	if (opts->group_bytes > VG_BLOCK_MAX_GROUP_BYTES)
		return vg_err_set(err, VG_EINVAL, "block %s: group size past %u bytes", path,
				  VG_BLOCK_MAX_GROUP_BYTES);
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return vg_err_set(err, VG_ENOMEM, "block %s: out of memory", path);
	w->fd = -1;
	w->path = str_dup2(path, "");
	w->tmp_path = str_dup2(path, ".tmp");
	w->cctx = ZSTD_createCCtx();
	w->syms = vg_symtab_new();
	if (w->path == NULL || w->tmp_path == NULL || w->cctx == NULL || w->syms == NULL) {
		writer_free(w);
		return vg_err_set(err, VG_ENOMEM, "block %s: out of memory", path);
	}
	if (opts->ops != NULL)
		w->ops = *opts->ops;
	w->tier = opts->tier;
	w->flags = opts->flags & VG_BLOCK_F_COMPACTED;
	w->n_cols = vg_block_tier_columns((int)opts->tier);
	w->min_t = opts->min_t;
	w->max_t = opts->max_t;
	w->group_bytes = opts->group_bytes ? opts->group_bytes : VG_BLOCK_DEFAULT_GROUP_BYTES;
	w->zstd_level = opts->zstd_level ? opts->zstd_level : 3;
	w->fd = open(w->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		rc = vg_err_set(err, VG_EIO, "create %s: %s", w->tmp_path, strerror(errno));
		writer_free(w);
		return rc;
	}

	memcpy(h, "VGBK", 4);
	vg_put_le16(h + 4, VG_BLOCK_VERSION);
	h[6] = (uint8_t)w->tier;
	h[7] = (uint8_t)w->n_cols;
	vg_put_le64(h + 8, (uint64_t)w->min_t);
	vg_put_le64(h + 16, (uint64_t)w->max_t);
	vg_put_le64(h + 24, w->flags);
	vg_put_le64(h + 32, XXH3_64bits(h, 32));
	XXH3_64bits_reset(&w->hs);
	if ((rc = emit(w, h, sizeof(h), err)) != 0) {
		vg_block_writer_abort(w);
		return rc;
	}
	section_begin(w, 0);
	*out = w;
	return 0;
}

/* The pairs of canonical s in name order, "__name__" in its place. */
static size_t series_pairs(const struct vg_series *s, struct vg_str *names, struct vg_str *values)
{
	static const struct vg_str nl = { name_label, sizeof(name_label) - 1 };
	size_t n = 0;
	bool is_name_done = false;

	for (uint32_t i = 0; i < s->n_labels; i++) {
		if (!is_name_done && vg_str_cmp(nl, s->labels[i].name) < 0) {
			names[n] = nl;
			values[n++] = s->name;
			is_name_done = true;
		}
		names[n] = s->labels[i].name;
		values[n++] = s->labels[i].value;
	}
	if (!is_name_done) {
		names[n] = nl;
		values[n++] = s->name;
	}
	return n;
}

int vg_block_writer_add(struct vg_block_writer *w, const uint8_t *key, size_t key_len,
			int64_t min_t, int64_t max_t, uint64_t n_points,
			const struct vg_block_col *cols, struct vg_err *err)
{
	struct vg_str names[MAX_PAIRS], values[MAX_PAIRS];
	uint32_t pairs[MAX_PAIRS];
	uint8_t tail[10 * (5 + VG_BLOCK_MAX_COLUMNS)], *t = tail;
	struct vg_buf canon = VG_BUF_INIT;
	struct vg_series s;
	uint64_t total = 0;
	size_t n_pairs, tail_off;
	int rc;

	if (w->is_failed)
		return vg_err_set(err, VG_EIO, "block writer failed earlier: %s", w->failed_msg);
	/* The key: canonical (it survives canonicalizing unchanged) and after
	 * the previous one. */
	if (key_len > VG_SERIES_MAX_KEY || vg_series_from_key(key, key_len, &s) != 0)
		return vg_err_set(err, VG_EINVAL, "block %s: series %zu: not a series key", w->path,
				  w->n_series);
	if ((rc = vg_series_canonicalize(&s, err)) != 0) {
		vg_err_prefix(err, "block %s: series %zu", w->path, w->n_series);
		return VG_EINVAL;
	}
	vg_series_key(&s, &canon);
	rc = vg_buf_failed(&canon) ? VG_ENOMEM :
	     canon.len != key_len || memcmp(canon.data, key, key_len) != 0 ? VG_EINVAL : 0;
	vg_buf_release(&canon);
	if (rc == VG_ENOMEM)
		return vg_err_set(err, rc, "block %s: out of memory", w->path);
	if (rc != 0)
		return vg_err_set(err, rc, "block %s: series %zu: key is not canonical", w->path,
				  w->n_series);
	if (w->n_series > 0 &&
	    vg_series_key_cmp(w->prev_key.data, w->prev_key.len, key, key_len) >= 0)
		return vg_err_set(err, VG_EINVAL,
				  "block %s: series %zu is not after the one before (keys must ascend)",
				  w->path, w->n_series);
	if (min_t > max_t || min_t < w->min_t || max_t >= w->max_t)
		return vg_err_set(err, VG_EINVAL,
				  "block %s: series %zu: times [%" PRId64 ", %" PRId64
				  "] outside the block's [%" PRId64 ", %" PRId64 ")",
				  w->path, w->n_series, min_t, max_t, w->min_t, w->max_t);
	for (unsigned c = 0; c < w->n_cols; c++) {
		if (cols[c].len > VG_BLOCK_MAX_SERIES_BYTES - total)
			return vg_err_set(err, VG_ELIMIT, "block %s: series %zu: columns past %u bytes",
					  w->path, w->n_series, VG_BLOCK_MAX_SERIES_BYTES);
		total += cols[c].len;
	}
	if (w->n_series >= UINT32_MAX - 1)
		return vg_err_set(err, VG_ELIMIT, "block %s: too many series", w->path);

	/* Reserve everything, so a failure below leaves the writer as it was
	 * (but a symbol or pair interned before a later failure stays, which
	 * costs a few bytes of index and changes nothing a reader sees). */
	n_pairs = series_pairs(&s, names, values);
	if (grow((void **)&w->ser_pairs, &w->cap_ser_pairs, w->n_ser_pairs + n_pairs,
		 sizeof(*w->ser_pairs)) != 0 ||
	    w->n_ser_pairs + n_pairs > UINT32_MAX ||
	    w->ser_tail.len > UINT32_MAX - sizeof(tail))
		goto nomem;
	{
		uint32_t **arrs[] = { &w->ser_pstart, &w->ser_toff };
		if (grow_u32s(arrs, 2, &w->cap_series, w->n_series + 2) != 0)
			goto nomem;
	}
	if (vg_buf_grow(&w->ser_tail, sizeof(tail)) != 0 ||
	    vg_buf_grow(&w->prev_key, key_len) != 0)
		goto nomem;
	for (size_t i = 0; i < n_pairs; i++) {
		uint32_t ni, vi;
		if ((rc = vg_symtab_intern(w->syms, names[i], &ni)) != 0 ||
		    (rc = vg_symtab_intern(w->syms, values[i], &vi)) != 0 ||
		    (rc = pair_intern(w, ni, vi, &pairs[i])) != 0) {
			if (rc == VG_ELIMIT)
				return vg_err_set(err, rc, "block %s: too many strings", w->path);
			goto nomem;
		}
	}

	/* The columns go to the group (a new one if this series would take
	 * the current one past its size). */
	if (w->grp.len > 0 && w->grp.len + total > w->group_bytes &&
	    (rc = flush_group(w, err)) != 0)
		return rc;
	if (vg_buf_grow(&w->grp, (size_t)total) != 0)
		goto nomem;
	t = vg_put_uvarint(t, (uint64_t)min_t - (uint64_t)w->min_t);
	t = vg_put_uvarint(t, (uint64_t)max_t - (uint64_t)min_t);
	t = vg_put_uvarint(t, n_points);
	t = vg_put_uvarint(t, w->n_groups);
	t = vg_put_uvarint(t, w->grp.len);
	for (unsigned c = 0; c < w->n_cols; c++) {
		t = vg_put_uvarint(t, cols[c].len);
		if (cols[c].len > 0)
			vg_buf_append(&w->grp, cols[c].p, cols[c].len);
	}

	/* Nothing below fails. */
	tail_off = w->ser_tail.len;
	vg_buf_append(&w->ser_tail, tail, (size_t)(t - tail));
	if (w->n_series == 0)
		w->ser_pstart[0] = 0;
	w->ser_toff[w->n_series] = (uint32_t)tail_off;
	for (size_t i = 0; i < n_pairs; i++) {
		w->ser_pairs[w->n_ser_pairs++] = pairs[i];
		w->pair_count[pairs[i]]++;
	}
	w->ser_pstart[++w->n_series] = (uint32_t)w->n_ser_pairs;
	vg_buf_reset(&w->prev_key);
	vg_buf_append(&w->prev_key, key, key_len);
	w->n_points += n_points;
	w->column_bytes += total;
	return 0;
nomem:
	return vg_err_set(err, VG_ENOMEM, "block %s: out of memory", w->path);
}

/* ---- finish -------------------------------------------------------------- */

struct sym_sort {
	const struct vg_block_writer *w;
	uint32_t id;
};

static int sym_sort_cmp(const void *a, const void *b)
{
	const struct sym_sort *x = a, *y = b;

	return vg_str_cmp(sym_str(x->w, x->id), sym_str(y->w, y->id));
}

struct pair_sort {
	uint32_t name, value; /* final symbol refs */
	uint32_t id;
};

static int pair_sort_cmp(const void *a, const void *b)
{
	const struct pair_sort *x = a, *y = b;

	if (x->name != y->name)
		return x->name < y->name ? -1 : 1;
	return x->value < y->value ? -1 : x->value > y->value;
}

/* Scratch of finish, freed at its end. */
struct fin {
	uint32_t *sym_ref;   /* symbol id -> ref */
	uint32_t *sym_order; /* ref -> symbol id */
	struct pair_sort *pairs; /* by (name ref, value ref) */
	uint32_t *pair_rank;     /* pair id -> rank */
	uint32_t *post_start;    /* rank -> first slot in post */
	uint32_t *post;          /* series indexes of every pair, by rank */
};

static int write_groups(struct vg_block_writer *w, struct vg_err *err)
{
	int rc;

	section_begin(w, 1);
	if ((rc = emit_u32(w, (uint32_t)w->n_groups, err)) != 0)
		return rc;
	for (size_t i = 0; i < w->n_groups; i++) {
		uint8_t b[24];
		vg_put_le64(b, w->groups[i].offset);
		vg_put_le32(b + 8, w->groups[i].comp_len);
		vg_put_le32(b + 12, w->groups[i].raw_len);
		vg_put_le64(b + 16, w->groups[i].hash);
		if ((rc = emit(w, b, sizeof(b), err)) != 0)
			return rc;
	}
	return section_end(w, 1, err);
}

static int write_symbols(struct vg_block_writer *w, struct fin *f, struct vg_err *err)
{
	size_t n_syms = vg_symtab_count(w->syms);
	struct sym_sort *ss;
	uint32_t off = 0;
	int rc;

	ss = malloc((n_syms ? n_syms : 1) * sizeof(*ss));
	f->sym_ref = malloc((n_syms ? n_syms : 1) * sizeof(uint32_t));
	f->sym_order = malloc((n_syms ? n_syms : 1) * sizeof(uint32_t));
	if (ss == NULL || f->sym_ref == NULL || f->sym_order == NULL) {
		free(ss);
		return vg_err_set(err, VG_ENOMEM, "block %s: out of memory", w->path);
	}
	for (size_t i = 0; i < n_syms; i++)
		ss[i] = (struct sym_sort){ w, (uint32_t)i };
	qsort(ss, n_syms, sizeof(*ss), sym_sort_cmp);
	for (size_t r = 0; r < n_syms; r++) {
		f->sym_order[r] = ss[r].id;
		f->sym_ref[ss[r].id] = (uint32_t)r;
	}
	free(ss);

	section_begin(w, 2);
	if ((rc = emit_u32(w, (uint32_t)n_syms, err)) != 0)
		return rc;
	for (size_t r = 0; r <= n_syms; r++) {
		if ((rc = emit_u32(w, off, err)) != 0)
			return rc;
		if (r < n_syms)
			off += sym_str(w, f->sym_order[r]).len;
	}
	for (size_t r = 0; r < n_syms; r++) {
		struct vg_str s = sym_str(w, f->sym_order[r]);
		if ((rc = emit(w, s.p, s.len, err)) != 0)
			return rc;
	}
	return section_end(w, 2, err);
}

/* Series entry i into b (room for a whole entry); returns its length. */
static size_t encode_entry(const struct vg_block_writer *w, const struct fin *f, size_t i,
			   uint8_t *b)
{
	uint32_t p0 = w->ser_pstart[i], p1 = w->ser_pstart[i + 1];
	size_t t0 = w->ser_toff[i];
	size_t t1 = i + 1 < w->n_series ? w->ser_toff[i + 1] : w->ser_tail.len;
	uint8_t *p = b;

	p = vg_put_uvarint(p, p1 - p0);
	for (uint32_t k = p0; k < p1; k++) {
		uint32_t pair = w->ser_pairs[k];
		p = vg_put_uvarint(p, f->sym_ref[w->pair_name[pair]]);
		p = vg_put_uvarint(p, f->sym_ref[w->pair_value[pair]]);
	}
	memcpy(p, w->ser_tail.data + t0, t1 - t0);
	return (size_t)(p - b) + (t1 - t0);
}

static int write_series(struct vg_block_writer *w, struct fin *f, struct vg_err *err)
{
	uint8_t b[10 + MAX_PAIRS * 10 + 10 * (5 + VG_BLOCK_MAX_COLUMNS)];
	uint64_t off = 0;
	int rc;

	section_begin(w, 3);
	if ((rc = emit_u32(w, (uint32_t)w->n_series, err)) != 0)
		return rc;
	for (size_t i = 0; i < w->n_series; i++) {
		if (off > VG_BLOCK_MAX_SECTION_BYTES)
			return vg_err_set(err, VG_ELIMIT, "block %s: series section past 4 GiB", w->path);
		if ((rc = emit_u32(w, (uint32_t)off, err)) != 0)
			return rc;
		off += encode_entry(w, f, i, b);
	}
	for (size_t i = 0; i < w->n_series; i++)
		if ((rc = emit(w, b, encode_entry(w, f, i, b), err)) != 0)
			return rc;
	return section_end(w, 3, err);
}

static int write_postings(struct vg_block_writer *w, struct fin *f, struct vg_err *err)
{
	size_t np = w->n_pairs, n_names = 0;
	uint64_t total = 0, data_off = 0;
	int rc;

	f->pairs = malloc((np ? np : 1) * sizeof(*f->pairs));
	f->pair_rank = malloc((np ? np : 1) * sizeof(uint32_t));
	f->post_start = malloc((np + 1) * sizeof(uint32_t));
	if (f->pairs == NULL || f->pair_rank == NULL || f->post_start == NULL)
		goto nomem;
	for (size_t i = 0; i < np; i++)
		f->pairs[i] = (struct pair_sort){ f->sym_ref[w->pair_name[i]],
						  f->sym_ref[w->pair_value[i]], (uint32_t)i };
	qsort(f->pairs, np, sizeof(*f->pairs), pair_sort_cmp);
	for (size_t r = 0; r < np; r++) {
		f->pair_rank[f->pairs[r].id] = (uint32_t)r;
		f->post_start[r] = (uint32_t)total;
		total += w->pair_count[f->pairs[r].id];
		if (r == 0 || f->pairs[r].name != f->pairs[r - 1].name)
			n_names++;
	}
	f->post_start[np] = (uint32_t)total;
	f->post = malloc((total ? total : 1) * sizeof(uint32_t));
	if (f->post == NULL)
		goto nomem;
	/* Series in index order, so each pair's list fills ascending. The
	 * counts are used as fill cursors and restored after. */
	for (size_t i = 0; i < w->n_series; i++)
		for (uint32_t k = w->ser_pstart[i]; k < w->ser_pstart[i + 1]; k++) {
			uint32_t r = f->pair_rank[w->ser_pairs[k]];
			f->post[f->post_start[r]++] = (uint32_t)i;
		}
	for (size_t r = np; r > 0; r--)
		f->post_start[r] = f->post_start[r - 1];
	f->post_start[0] = 0;

	section_begin(w, 4);
	if ((rc = emit_u32(w, (uint32_t)n_names, err)) != 0 ||
	    (rc = emit_u32(w, (uint32_t)np, err)) != 0)
		return rc;
	for (size_t r = 0; r < np; r++) {
		if (r > 0 && f->pairs[r].name == f->pairs[r - 1].name)
			continue;
		if ((rc = emit_u32(w, f->pairs[r].name, err)) != 0 ||
		    (rc = emit_u32(w, (uint32_t)r, err)) != 0)
			return rc;
	}
	for (size_t r = 0; r < np; r++) {
		uint32_t prev = 0;
		if (data_off > VG_BLOCK_MAX_SECTION_BYTES)
			return vg_err_set(err, VG_ELIMIT, "block %s: postings past 4 GiB", w->path);
		if ((rc = emit_u32(w, f->pairs[r].value, err)) != 0 ||
		    (rc = emit_u32(w, f->post_start[r + 1] - f->post_start[r], err)) != 0 ||
		    (rc = emit_u32(w, (uint32_t)data_off, err)) != 0)
			return rc;
		for (uint32_t k = f->post_start[r]; k < f->post_start[r + 1]; k++) {
			data_off += vg_uvarint_len(k == f->post_start[r] ? f->post[k] : f->post[k] - prev);
			prev = f->post[k];
		}
	}
	for (size_t r = 0; r < np; r++) {
		uint32_t prev = 0;
		for (uint32_t k = f->post_start[r]; k < f->post_start[r + 1]; k++) {
			rc = emit_uv(w, k == f->post_start[r] ? f->post[k] : f->post[k] - prev, err);
			if (rc != 0)
				return rc;
			prev = f->post[k];
		}
	}
	return section_end(w, 4, err);
nomem:
	return vg_err_set(err, VG_ENOMEM, "block %s: out of memory", w->path);
}

static int write_footer(struct vg_block_writer *w, struct vg_err *err)
{
	uint8_t b[FOOTER_BYTES], h[HEADER_BYTES];

	memcpy(b, "VGBF", 4);
	vg_put_le32(b + 4, N_SECTIONS);
	/* The header's checksum, recomputed as written at open. */
	memcpy(h, "VGBK", 4);
	vg_put_le16(h + 4, VG_BLOCK_VERSION);
	h[6] = (uint8_t)w->tier;
	h[7] = (uint8_t)w->n_cols;
	vg_put_le64(h + 8, (uint64_t)w->min_t);
	vg_put_le64(h + 16, (uint64_t)w->max_t);
	vg_put_le64(h + 24, w->flags);
	vg_put_le64(b + 8, XXH3_64bits(h, 32));
	for (int i = 0; i < N_SECTIONS; i++) {
		vg_put_le64(b + 16 + 24 * i, w->sec[i].offset);
		vg_put_le64(b + 24 + 24 * i, w->sec[i].length);
		vg_put_le64(b + 32 + 24 * i, w->sec[i].hash);
	}
	vg_put_le64(b + 136, w->off + FOOTER_BYTES);
	vg_put_le64(b + 144, XXH3_64bits(b, 144));
	XXH3_64bits_reset(&w->hs);
	return emit(w, b, sizeof(b), err);
}

int vg_block_writer_finish(struct vg_block_writer *w, struct vg_block_write_stats *st,
			   struct vg_err *err)
{
	struct fin f;
	int rc;

	memset(&f, 0, sizeof(f));
	if (w->is_failed) {
		rc = vg_err_set(err, VG_EIO, "block writer failed earlier: %s", w->failed_msg);
		goto out;
	}
	if ((rc = flush_group(w, err)) != 0 || (rc = section_end(w, 0, err)) != 0 ||
	    (rc = write_groups(w, err)) != 0 || (rc = write_symbols(w, &f, err)) != 0 ||
	    (rc = write_series(w, &f, err)) != 0 || (rc = write_postings(w, &f, err)) != 0 ||
	    (rc = write_footer(w, err)) != 0 || (rc = flush_out(w, err)) != 0)
		goto out;
	rc = vg_fs_publish(&w->ops, w->fd, w->tmp_path, w->path, err);
	close(w->fd);
	w->fd = -1; /* published, or vg_fs_publish removed the temporary file */
	if (rc != 0)
		goto out;
	if (st != NULL) {
		st->n_series = w->n_series;
		st->n_points = w->n_points;
		st->n_groups = w->n_groups;
		st->n_symbols = vg_symtab_count(w->syms);
		st->n_pairs = w->n_pairs;
		st->column_bytes = w->column_bytes;
		st->file_bytes = w->off;
		st->columns_section_bytes = w->sec[0].length;
		st->index_bytes = w->off - w->sec[0].length;
	}
out:
	free(f.sym_ref);
	free(f.sym_order);
	free(f.pairs);
	free(f.pair_rank);
	free(f.post_start);
	free(f.post);
	vg_block_writer_abort(w);
	return rc;
}
