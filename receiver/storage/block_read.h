/*
 * block_read.h: reading one immutable block file (block.h; the layout is
 * at the top of block_write.c and in docs/storage-format.md).
 *
 * vg_block_open maps the file read-only and checks, before it returns a
 * block: the header and footer (magic, version, checksums, that the
 * sections tile the file), the checksums of the index sections (groups,
 * symbols, series, postings), and every offset, length, count and ref in
 * them against its bounds and order. So once open succeeds, the accessors
 * below cannot fail on the file's contents except in reading columns,
 * whose groups are checked (checksum, zstd, lengths) when read. A damaged
 * file fails the open with VG_ECHECKSUM (a checksum), VG_EVERSION (a newer
 * format) or VG_EINVAL (anything else), and a message that names the file,
 * the section and the file offset of the fault:
 *   "blocks/raw/x.vgb: symbols section at offset 5120: checksum mismatch"
 * Nothing in a file can make the reader read outside it or allocate more
 * than the limits of block.h.
 *
 * Threads: an open block is immutable. Any number of threads may call any
 * function on it at once, each with its own struct vg_block_cursor (a
 * cursor is one thread's). References (vg_block_ref / vg_block_close) are
 * atomic, so a block can be dropped from a list while queries still read
 * it: the last close unmaps it.
 *
 * Views: strings and struct vg_series returned by the block point into the
 * mapping and stay valid until the last close. Column bytes point into the
 * cursor and stay valid until that cursor's next read or its free.
 */
#ifndef VG_BLOCK_READ_H
#define VG_BLOCK_READ_H

#include <stddef.h>
#include <stdint.h>

#include "common/series.h"
#include "receiver/storage/block.h"

struct vg_buf;
struct vg_err;
struct vg_postings;
struct vg_selector;

struct vg_block;
struct vg_block_cursor;

/* Where open found damage (when it returns VG_ECHECKSUM, VG_EVERSION or
 * VG_EINVAL for the file's contents). offset is from the file's start. */
struct vg_block_damage {
	enum vg_block_section section;
	uint64_t offset;
};

struct vg_block_info {
	enum vg_tier tier;
	unsigned n_columns;
	unsigned flags;         /* VG_BLOCK_F_* */
	int64_t min_t, max_t;   /* the block's range [min_t, max_t), ms */
	uint32_t n_series;
	uint64_t n_points;      /* sum over the series */
	uint64_t n_groups;
	uint64_t n_symbols;
	uint64_t n_pairs;       /* distinct label pairs, "__name__" included */
	uint64_t file_bytes;
	uint64_t columns_bytes; /* the compressed column data */
	uint64_t index_bytes;   /* file_bytes - columns_bytes */
};

struct vg_block_series_info {
	int64_t min_t, max_t; /* first and last timestamps */
	uint64_t n_points;
};

/*
 * Opens and checks the block file at path (see above). On success *out has
 * one reference. damage (may be NULL) says where a damaged file failed.
 * VG_EIO when the file cannot be opened or mapped; VG_ENOMEM.
 */
int vg_block_open(const char *path, struct vg_block **out, struct vg_block_damage *damage,
		  struct vg_err *err);
/* The same over bytes already in memory, borrowed (they must outlive the
 * block); name is used in messages. */
int vg_block_open_mem(const void *data, size_t len, const char *name, struct vg_block **out,
		      struct vg_block_damage *damage, struct vg_err *err);

/* Takes one more reference; returns b. */
struct vg_block *vg_block_ref(struct vg_block *b);
/* Drops a reference; the last one unmaps and frees (NULL is fine). */
void vg_block_close(struct vg_block *b);

void vg_block_info(const struct vg_block *b, struct vg_block_info *out);
/* The path or name it was opened with. */
const char *vg_block_name(const struct vg_block *b);

/* The indexes (0 .. n_series-1, ascending) of the series matching sel
 * (postings.h semantics); out is set, not appended to. The selector is
 * the calling thread's (its regexes hold match data). */
int vg_block_select(const struct vg_block *b, const struct vg_selector *sel,
		    struct vg_postings *out, struct vg_err *err);

/* Every label name ("__name__" included), and every value of one name,
 * ascending, each once, in a new array the caller frees (NULL when n is
 * 0); the strings are views into the block. VG_ENOMEM. */
int vg_block_label_names(const struct vg_block *b, struct vg_str **names, size_t *n);
int vg_block_label_values(const struct vg_block *b, const char *name, struct vg_str **values,
			  size_t *n);

/* Series idx (< n_series): its labels as a view into the block, its key
 * appended to out (VG_ENOMEM), its times and point count. */
void vg_block_series(const struct vg_block *b, uint32_t idx, struct vg_series *out);
int vg_block_series_key(const struct vg_block *b, uint32_t idx, struct vg_buf *out);
void vg_block_series_info(const struct vg_block *b, uint32_t idx, struct vg_block_series_info *out);

/* The index of the series with this key (a binary search in
 * vg_series_key_cmp order), or VG_ENOENT. */
int vg_block_find(const struct vg_block *b, const uint8_t *key, size_t key_len, uint32_t *idx);

/* A thread's scratch for reading columns: a zstd context and the last
 * column group it decompressed (read again for free when the next series
 * is in it, as series of one metric usually are). Any block may be read
 * through any cursor. NULL on ENOMEM. */
struct vg_block_cursor *vg_block_cursor_new(void);
void vg_block_cursor_free(struct vg_block_cursor *c);

/*
 * Sets cols[0 .. n_columns) to the columns of series idx, as the writer was
 * given them: views into c, valid until c's next read or its free. Checks
 * the series' group (checksum, zstd frame, length) unless c holds it
 * already. VG_ECHECKSUM or VG_EINVAL, with file, section and offset, for a
 * damaged group; VG_ENOMEM.
 */
int vg_block_read_columns(const struct vg_block *b, uint32_t idx, struct vg_block_cursor *c,
			  struct vg_block_col *cols, struct vg_err *err);

/* Checks everything open does not: the columns section's checksum and
 * that every group decompresses to its length. For scrubbing and tests;
 * reads the whole file. */
int vg_block_verify(const struct vg_block *b, struct vg_block_cursor *c,
		    struct vg_block_damage *damage, struct vg_err *err);

#endif
