/*
 * block_read.c: the block file reader of block_read.h.
 *
 * Owns opening, checking and reading block files; the format itself is
 * described at the top of block_write.c. Does not own selection logic
 * (postings.c: this file only implements its label-index callbacks) nor
 * what columns mean.
 *
 * Invariant: open checks every rule of the format for the header, footer
 * and index sections, so the accessors decode the index with no checks of
 * their own (they keep their bounds anyway: get_uv never reads past its
 * end). Only column groups are checked when read, because checking them at
 * open would read the whole file.
 *
 * Every length from the file is compared against what is left of its
 * region before it is used, with subtractions that cannot wrap (a + b <=
 * end is written b <= end - a with a <= end known).
 */
#include "receiver/storage/block_read.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/selector.h"
#include "common/series.h"
#include "receiver/storage/postings.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include "common/banned.h"

#define HEADER_BYTES 40
#define FOOTER_BYTES 152
#define N_SECTIONS 5
#define GROUP_ENTRY_BYTES 24
#define NAME_ENTRY_BYTES 8
#define PAIR_ENTRY_BYTES 12
#define MAX_PAIRS (VG_SERIES_MAX_LABELS + 1)
#define MAX_SYMBOL_BYTES VG_SERIES_MAX_VALUE
#define NONE UINT32_MAX

static const char name_label[] = "__name__";

/* Indexes of struct vg_block.sec, in file order. */
enum { S_COLUMNS, S_GROUPS, S_SYMBOLS, S_SERIES, S_POSTINGS };

struct region {
	uint64_t offset, length;
};

struct vg_block {
	atomic_uint refs;
	char *name;
	const uint8_t *base;
	size_t size;
	bool is_mapped;

	enum vg_tier tier;
	unsigned n_cols;
	uint64_t flags;
	int64_t min_t, max_t;
	uint64_t tag; /* the footer's checksum: what a cursor's cache is keyed by */
	struct region sec[N_SECTIONS];
	uint64_t columns_hash;

	const uint8_t *groups;
	uint32_t n_groups;

	const uint8_t *sym_off, *sym_bytes;
	uint32_t n_syms;
	uint32_t name_ref; /* ref of "__name__", NONE if absent */

	const uint8_t *ser_off, *ser_entries;
	uint64_t ser_entries_len;
	uint32_t n_series;
	uint64_t n_points;

	const uint8_t *names, *pairs, *pdata;
	uint32_t n_names, n_pairs;
	uint64_t pdata_len;
};

struct vg_block_cursor {
	ZSTD_DCtx *dctx;
	uint8_t *buf;
	size_t cap, len;
	bool has_group;
	uint64_t tag, group;
};

/* A decoded series entry. */
struct entry {
	uint32_t n_pairs;
	uint32_t name[MAX_PAIRS], value[MAX_PAIRS];
	int64_t min_t, max_t;
	uint64_t n_points;
	uint64_t group, offset;
	uint64_t col_len[VG_BLOCK_MAX_COLUMNS];
	uint64_t total;
};

static const char *const section_names[] = {
	"header", "columns", "groups", "symbols", "series", "postings", "footer",
};

/* ---- little helpers ------------------------------------------------------ */

/* Reads a uvarint at *p (< end), advancing *p; false when truncated. */
static inline bool get_uv(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	size_t n;

	if (*p < end && **p < 0x80) {
		*v = **p;
		(*p)++;
		return true;
	}
	n = vg_get_uvarint(*p, (size_t)(end - *p), v);
	if (n == 0)
		return false;
	*p += n;
	return true;
}

/* Reports damage in section sec at file offset off. */
static int damaged(const char *name, struct vg_block_damage *d, struct vg_err *err, int code,
		   int sec, uint64_t off, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static int damaged(const char *name, struct vg_block_damage *d, struct vg_err *err, int code,
		   int sec, uint64_t off, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (d != NULL) {
		d->section = (enum vg_block_section)sec;
		d->offset = off;
	}
	return vg_err_set(err, code, "%s: %s section at offset %" PRIu64 ": %s", name,
			  section_names[sec], off, what);
}

/* The file section (VG_BLOCK_SECTION_*) of sec[i]. */
static int file_section(int i)
{
	return i + 1;
}

static struct vg_str sym(const struct vg_block *b, uint32_t ref)
{
	uint32_t o0 = vg_get_le32(b->sym_off + 4 * (size_t)ref);
	uint32_t o1 = vg_get_le32(b->sym_off + 4 * ((size_t)ref + 1));

	return (struct vg_str){ (const char *)b->sym_bytes + o0, o1 - o0 };
}

/* The ref of string s, or NONE. */
static uint32_t sym_find(const struct vg_block *b, struct vg_str s)
{
	uint32_t lo = 0, hi = b->n_syms;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = vg_str_cmp(sym(b, mid), s);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NONE;
}

/* ---- series entries ------------------------------------------------------ */

static uint64_t entry_start(const struct vg_block *b, uint32_t i)
{
	return vg_get_le32(b->ser_off + 4 * (size_t)i);
}

static uint64_t entry_end(const struct vg_block *b, uint32_t i)
{
	return i + 1 < b->n_series ? entry_start(b, i + 1) : b->ser_entries_len;
}

/* Decodes entry i. NULL on success, else what is wrong (open reports it;
 * after open it cannot happen). */
static const char *decode_entry(const struct vg_block *b, uint32_t i, struct entry *e)
{
	const uint8_t *p = b->ser_entries + entry_start(b, i);
	const uint8_t *end = b->ser_entries + entry_end(b, i);
	uint64_t v, dmin, dt;

	if (!get_uv(&p, end, &v))
		return "truncated entry";
	if (v == 0 || v > MAX_PAIRS)
		return "bad number of labels";
	e->n_pairs = (uint32_t)v;
	for (uint32_t k = 0; k < e->n_pairs; k++) {
		uint64_t n, val;
		if (!get_uv(&p, end, &n) || !get_uv(&p, end, &val))
			return "truncated labels";
		if (n >= b->n_syms || val >= b->n_syms)
			return "symbol ref out of range";
		e->name[k] = (uint32_t)n;
		e->value[k] = (uint32_t)val;
	}
	if (!get_uv(&p, end, &dmin) || !get_uv(&p, end, &dt) || !get_uv(&p, end, &e->n_points) ||
	    !get_uv(&p, end, &e->group) || !get_uv(&p, end, &e->offset))
		return "truncated entry";
	/* min_t + dmin + dt < max_t, computed without overflow. */
	if (dmin >= (uint64_t)b->max_t - (uint64_t)b->min_t ||
	    dt >= (uint64_t)b->max_t - (uint64_t)b->min_t - dmin)
		return "times outside the block's range";
	e->min_t = (int64_t)((uint64_t)b->min_t + dmin);
	e->max_t = (int64_t)((uint64_t)e->min_t + dt);
	e->total = 0;
	for (unsigned c = 0; c < b->n_cols; c++) {
		if (!get_uv(&p, end, &e->col_len[c]))
			return "truncated column lengths";
		if (e->col_len[c] > VG_BLOCK_MAX_SERIES_BYTES - e->total)
			return "columns too long";
		e->total += e->col_len[c];
	}
	if (p != end)
		return "entry longer than its fields";
	return NULL;
}

static void fill_series(const struct vg_block *b, const struct entry *e, struct vg_series *s)
{
	s->n_labels = 0;
	s->name = (struct vg_str){ "", 0 };
	for (uint32_t k = 0; k < e->n_pairs; k++) {
		if (e->name[k] == b->name_ref) {
			s->name = sym(b, e->value[k]);
			continue;
		}
		if (s->n_labels < VG_SERIES_MAX_LABELS) {
			s->labels[s->n_labels].name = sym(b, e->name[k]);
			s->labels[s->n_labels].value = sym(b, e->value[k]);
			s->n_labels++;
		}
	}
}

/* ---- open: the checks ----------------------------------------------------- */

struct ctx {
	struct vg_block *b;
	struct vg_block_damage *d;
	struct vg_err *err;
};

#define BAD(c, code, sec, off, ...) damaged((c)->b->name, (c)->d, (c)->err, code, sec, off, __VA_ARGS__)

static int check_header_footer(struct ctx *c)
{
	struct vg_block *b = c->b;
	const uint8_t *h = b->base, *f;
	uint64_t expect, foff;
	uint16_t version;

	if (b->size < HEADER_BYTES)
		return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_HEADER, 0,
			   "file is %zu bytes, shorter than a header", b->size);
	if (memcmp(h, "VGBK", 4) != 0)
		return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_HEADER, 0, "bad magic (not a block file)");
	if (vg_get_le64(h + 32) != XXH3_64bits(h, 32))
		return BAD(c, VG_ECHECKSUM, VG_BLOCK_SECTION_HEADER, 32, "checksum mismatch");
	version = vg_get_le16(h + 4);
	if (version > VG_BLOCK_VERSION)
		return BAD(c, VG_EVERSION, VG_BLOCK_SECTION_HEADER, 4,
			   "format version %u is newer than this reader's %d", version,
			   VG_BLOCK_VERSION);
	if (version == 0)
		return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_HEADER, 4, "format version 0");
	b->tier = (enum vg_tier)h[6];
	b->n_cols = h[7];
	if (vg_block_tier_columns(h[6]) == 0)
		return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_HEADER, 6, "no such tier %u", h[6]);
	if (b->n_cols != vg_block_tier_columns(h[6]))
		return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_HEADER, 7,
			   "%u columns, tier %s has %u", b->n_cols, vg_tier_name(h[6]),
			   vg_block_tier_columns(h[6]));
	b->min_t = (int64_t)vg_get_le64(h + 8);
	b->max_t = (int64_t)vg_get_le64(h + 16);
	if (b->min_t >= b->max_t)
		return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_HEADER, 8, "empty time range");
	b->flags = vg_get_le64(h + 24);
	if ((version == 1 && b->flags != 0) || (b->flags & ~(uint64_t)VG_BLOCK_F_COMPACTED) != 0)
		return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_HEADER, 24, "unknown flags");

	if (b->size < HEADER_BYTES + FOOTER_BYTES)
		return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_FOOTER, b->size,
			   "file is %zu bytes, too short for a footer (truncated?)", b->size);
	foff = b->size - FOOTER_BYTES;
	f = b->base + foff;
	if (memcmp(f, "VGBF", 4) != 0)
		return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_FOOTER, foff, "bad magic (truncated?)");
	if (vg_get_le64(f + 144) != XXH3_64bits(f, 144))
		return BAD(c, VG_ECHECKSUM, VG_BLOCK_SECTION_FOOTER, foff + 144, "checksum mismatch");
	if (vg_get_le32(f + 4) != N_SECTIONS)
		return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_FOOTER, foff + 4, "%" PRIu32 " sections",
			   vg_get_le32(f + 4));
	if (vg_get_le64(f + 8) != vg_get_le64(h + 32))
		return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_FOOTER, foff + 8,
			   "footer belongs to another header");
	if (vg_get_le64(f + 136) != b->size)
		return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_FOOTER, foff + 136,
			   "file length %" PRIu64 " recorded, %zu found", vg_get_le64(f + 136), b->size);
	/* The sections tile [header, footer). */
	expect = HEADER_BYTES;
	for (int i = 0; i < N_SECTIONS; i++) {
		const uint8_t *e = f + 16 + 24 * i;
		b->sec[i].offset = vg_get_le64(e);
		b->sec[i].length = vg_get_le64(e + 8);
		if (b->sec[i].offset != expect || b->sec[i].length > foff - expect)
			return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_FOOTER, foff + 16 + 24 * (uint64_t)i,
				   "%s section out of place", section_names[file_section(i)]);
		if (i != S_COLUMNS && b->sec[i].length > VG_BLOCK_MAX_SECTION_BYTES)
			return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_FOOTER, foff + 16 + 24 * (uint64_t)i,
				   "%s section too long", section_names[file_section(i)]);
		expect += b->sec[i].length;
	}
	if (expect != foff)
		return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_FOOTER, foff + 16,
			   "sections end at %" PRIu64 ", the footer is at %" PRIu64, expect, foff);
	b->columns_hash = vg_get_le64(f + 16 + 16);
	b->tag = vg_get_le64(f + 144);
	for (int i = S_GROUPS; i < N_SECTIONS; i++) {
		const uint8_t *e = f + 16 + 24 * i;
		if (XXH3_64bits_withSeed(b->base + b->sec[i].offset, b->sec[i].length,
					 (XXH64_hash_t)file_section(i)) != vg_get_le64(e + 16))
			return BAD(c, VG_ECHECKSUM, file_section(i), b->sec[i].offset,
				   "checksum mismatch");
	}
	return 0;
}

static int check_groups(struct ctx *c)
{
	struct vg_block *b = c->b;
	const struct region *r = &b->sec[S_GROUPS];
	const uint8_t *p = b->base + r->offset;
	uint64_t expect = 0;

	if (r->length < 4)
		return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_GROUPS, r->offset, "truncated count");
	b->n_groups = vg_get_le32(p);
	if ((r->length - 4) / GROUP_ENTRY_BYTES != b->n_groups ||
	    (r->length - 4) % GROUP_ENTRY_BYTES != 0)
		return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_GROUPS, r->offset,
			   "%" PRIu32 " groups do not fill %" PRIu64 " bytes", b->n_groups, r->length);
	b->groups = p + 4;
	for (uint32_t i = 0; i < b->n_groups; i++) {
		const uint8_t *g = b->groups + (size_t)GROUP_ENTRY_BYTES * i;
		uint64_t off = r->offset + 4 + (uint64_t)GROUP_ENTRY_BYTES * i;
		uint32_t comp = vg_get_le32(g + 8), raw = vg_get_le32(g + 12);

		if (vg_get_le64(g) != expect)
			return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_GROUPS, off,
				   "group %" PRIu32 " not where the previous ends", i);
		if (comp == 0 || comp > b->sec[S_COLUMNS].length - expect)
			return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_GROUPS, off + 8,
				   "group %" PRIu32 " runs past the columns", i);
		if (raw == 0 || raw > VG_BLOCK_MAX_GROUP_BYTES)
			return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_GROUPS, off + 12,
				   "group %" PRIu32 " of %" PRIu32 " bytes", i, raw);
		expect += comp;
	}
	if (expect != b->sec[S_COLUMNS].length)
		return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_GROUPS, r->offset,
			   "groups cover %" PRIu64 " of %" PRIu64 " column bytes", expect,
			   b->sec[S_COLUMNS].length);
	return 0;
}

static int check_symbols(struct ctx *c)
{
	struct vg_block *b = c->b;
	const struct region *r = &b->sec[S_SYMBOLS];
	const uint8_t *p = b->base + r->offset;
	uint64_t table, bytes_len, prev = 0;
	struct vg_str last = { "", 0 };

	if (r->length < 4)
		return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_SYMBOLS, r->offset, "truncated count");
	b->n_syms = vg_get_le32(p);
	table = 4 * ((uint64_t)b->n_syms + 1);
	if (table > r->length - 4)
		return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_SYMBOLS, r->offset,
			   "%" PRIu32 " symbols do not fit", b->n_syms);
	b->sym_off = p + 4;
	b->sym_bytes = p + 4 + table;
	bytes_len = r->length - 4 - table;
	for (uint32_t i = 0; i <= b->n_syms; i++) {
		uint64_t o = vg_get_le32(b->sym_off + 4 * (size_t)i);
		uint64_t at = r->offset + 4 + 4 * (uint64_t)i;

		if (i == 0 ? o != 0 : o <= prev || o - prev > MAX_SYMBOL_BYTES)
			return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_SYMBOLS, at,
				   "symbol %" PRIu32 " has a bad offset", i);
		if (o > bytes_len)
			return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_SYMBOLS, at,
				   "symbol %" PRIu32 " past the section", i);
		if (i > 0) {
			struct vg_str s = { (const char *)b->sym_bytes + prev, (uint32_t)(o - prev) };
			if (memchr(s.p, 0xFF, s.len) != NULL)
				return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_SYMBOLS,
					   r->offset + 4 + table + prev, "symbol %" PRIu32 " holds 0xFF",
					   i - 1);
			if (i > 1 && vg_str_cmp(last, s) >= 0)
				return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_SYMBOLS,
					   r->offset + 4 + table + prev,
					   "symbol %" PRIu32 " out of order", i - 1);
			last = s;
		}
		prev = o;
	}
	if (prev != bytes_len)
		return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_SYMBOLS, r->offset + 4 + table,
			   "%" PRIu64 " bytes after the last symbol", bytes_len - prev);
	b->name_ref = sym_find(b, (struct vg_str){ name_label, sizeof(name_label) - 1 });
	return 0;
}

/* Whether entry a sorts strictly before entry e (pair by pair). */
static bool entry_before(const struct entry *a, const struct entry *e)
{
	for (uint32_t k = 0; k < a->n_pairs && k < e->n_pairs; k++) {
		if (a->name[k] != e->name[k])
			return a->name[k] < e->name[k];
		if (a->value[k] != e->value[k])
			return a->value[k] < e->value[k];
	}
	return a->n_pairs < e->n_pairs;
}

static int check_series(struct ctx *c)
{
	struct vg_block *b = c->b;
	const struct region *r = &b->sec[S_SERIES];
	const uint8_t *p = b->base + r->offset;
	struct entry e[2];
	uint64_t table;

	if (r->length < 4)
		return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_SERIES, r->offset, "truncated count");
	b->n_series = vg_get_le32(p);
	table = 4 * (uint64_t)b->n_series;
	if (table > r->length - 4)
		return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_SERIES, r->offset,
			   "%" PRIu32 " series do not fit", b->n_series);
	if (b->n_series == UINT32_MAX)
		return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_SERIES, r->offset, "too many series");
	b->ser_off = p + 4;
	b->ser_entries = p + 4 + table;
	b->ser_entries_len = r->length - 4 - table;
	if (b->n_series > 0 && b->name_ref == NONE)
		return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_SYMBOLS, b->sec[S_SYMBOLS].offset,
			   "no \"__name__\" symbol");
	/* Every offset first: decoding an entry reads up to the next one. */
	for (uint32_t i = 0; i < b->n_series; i++) {
		uint64_t s0 = entry_start(b, i);
		if ((i == 0 && s0 != 0) || (i > 0 && s0 <= entry_start(b, i - 1)) ||
		    s0 >= b->ser_entries_len)
			return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_SERIES, r->offset + 4 + 4 * (uint64_t)i,
				   "series %" PRIu32 " has a bad offset", i);
	}
	if (b->n_series == 0 && b->ser_entries_len != 0)
		return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_SERIES, r->offset + 4,
			   "entries without series");
	b->n_points = 0;
	for (uint32_t i = 0; i < b->n_series; i++) {
		struct entry *cur = &e[i & 1], *prev = &e[(i & 1) ^ 1];
		uint64_t at = r->offset + 4 + table + entry_start(b, i);
		uint64_t key_len = 0;
		uint32_t n_names = 0;
		const char *why;

		if ((why = decode_entry(b, i, cur)) != NULL)
			return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_SERIES, at, "series %" PRIu32 ": %s",
				   i, why);
		for (uint32_t k = 0; k < cur->n_pairs; k++) {
			if (k > 0 && cur->name[k] <= cur->name[k - 1])
				return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_SERIES, at,
					   "series %" PRIu32 ": labels out of order", i);
			if (cur->name[k] == b->name_ref)
				n_names++;
			else
				key_len += sym(b, cur->name[k]).len + 2;
			key_len += sym(b, cur->value[k]).len;
		}
		if (n_names != 1)
			return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_SERIES, at,
				   "series %" PRIu32 ": no metric name", i);
		if (key_len + 1 > VG_SERIES_MAX_KEY || cur->n_pairs - 1 > VG_SERIES_MAX_LABELS)
			return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_SERIES, at,
				   "series %" PRIu32 ": key too long", i);
		if (i > 0 && !entry_before(prev, cur))
			return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_SERIES, at,
				   "series %" PRIu32 " is not after the one before", i);
		if (cur->total > 0) {
			const uint8_t *g;
			if (cur->group >= b->n_groups)
				return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_SERIES, at,
					   "series %" PRIu32 ": no group %" PRIu64, i, cur->group);
			g = b->groups + (size_t)GROUP_ENTRY_BYTES * cur->group;
			if (cur->offset > vg_get_le32(g + 12) || cur->total > vg_get_le32(g + 12) - cur->offset)
				return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_SERIES, at,
					   "series %" PRIu32 ": columns past group %" PRIu64, i,
					   cur->group);
		} else if (cur->group > b->n_groups) {
			return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_SERIES, at,
				   "series %" PRIu32 ": no group %" PRIu64, i, cur->group);
		}
		if (cur->n_points > UINT64_MAX - b->n_points)
			return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_SERIES, at,
				   "series %" PRIu32 ": point count overflows", i);
		b->n_points += cur->n_points;
	}
	return 0;
}

static uint64_t pair_data_start(const struct vg_block *b, uint32_t q)
{
	return vg_get_le32(b->pairs + (size_t)PAIR_ENTRY_BYTES * q + 8);
}

static uint64_t pair_data_end(const struct vg_block *b, uint32_t q)
{
	return q + 1 < b->n_pairs ? pair_data_start(b, q + 1) : b->pdata_len;
}

static uint32_t name_first_pair(const struct vg_block *b, uint32_t l)
{
	return vg_get_le32(b->names + (size_t)NAME_ENTRY_BYTES * l + 4);
}

static uint32_t name_end_pair(const struct vg_block *b, uint32_t l)
{
	return l + 1 < b->n_names ? name_first_pair(b, l + 1) : b->n_pairs;
}

static int check_postings(struct ctx *c)
{
	struct vg_block *b = c->b;
	const struct region *r = &b->sec[S_POSTINGS];
	const uint8_t *p = b->base + r->offset;
	uint64_t tables, data_at;

	if (r->length < 8)
		return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_POSTINGS, r->offset, "truncated counts");
	b->n_names = vg_get_le32(p);
	b->n_pairs = vg_get_le32(p + 4);
	tables = (uint64_t)NAME_ENTRY_BYTES * b->n_names + (uint64_t)PAIR_ENTRY_BYTES * b->n_pairs;
	if (tables > r->length - 8 || b->n_names > b->n_pairs)
		return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_POSTINGS, r->offset,
			   "%" PRIu32 " names and %" PRIu32 " pairs do not fit", b->n_names,
			   b->n_pairs);
	b->names = p + 8;
	b->pairs = b->names + (size_t)NAME_ENTRY_BYTES * b->n_names;
	b->pdata = p + 8 + tables;
	b->pdata_len = r->length - 8 - tables;
	data_at = r->offset + 8 + tables;
	for (uint32_t l = 0; l < b->n_names; l++) {
		uint64_t at = r->offset + 8 + (uint64_t)NAME_ENTRY_BYTES * l;
		uint32_t ref = vg_get_le32(b->names + (size_t)NAME_ENTRY_BYTES * l);
		uint32_t first = name_first_pair(b, l), end = name_end_pair(b, l);

		if (ref >= b->n_syms ||
		    (l > 0 && ref <= vg_get_le32(b->names + (size_t)NAME_ENTRY_BYTES * (l - 1))))
			return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_POSTINGS, at,
				   "label name %" PRIu32 ": bad ref", l);
		if ((l == 0 && first != 0) || first >= end || end > b->n_pairs)
			return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_POSTINGS, at,
				   "label name %" PRIu32 ": bad pair range", l);
		for (uint32_t q = first; q < end; q++) {
			const uint8_t *e = b->pairs + (size_t)PAIR_ENTRY_BYTES * q;
			uint64_t qat = r->offset + 8 + (uint64_t)NAME_ENTRY_BYTES * b->n_names +
				       (uint64_t)PAIR_ENTRY_BYTES * q;
			uint32_t vref = vg_get_le32(e), count = vg_get_le32(e + 4);
			uint64_t d0 = pair_data_start(b, q), d1;
			const uint8_t *dp, *dend;
			uint64_t id = 0, v;

			if (vref >= b->n_syms || (q > first && vref <= vg_get_le32(e - PAIR_ENTRY_BYTES)))
				return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_POSTINGS, qat,
					   "pair %" PRIu32 ": bad value ref", q);
			if ((q == 0 && d0 != 0) || (q > 0 && d0 < pair_data_start(b, q - 1)))
				return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_POSTINGS, qat,
					   "pair %" PRIu32 ": bad data offset", q);
			d1 = pair_data_end(b, q);
			if (d1 < d0 || d1 > b->pdata_len || count == 0 || count > b->n_series ||
			    count > d1 - d0)
				return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_POSTINGS, qat,
					   "pair %" PRIu32 ": bad data range or count", q);
			dp = b->pdata + d0;
			dend = b->pdata + d1;
			for (uint32_t k = 0; k < count; k++) {
				if (!get_uv(&dp, dend, &v) || (k > 0 && v == 0) ||
				    v >= (uint64_t)b->n_series - id)
					return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_POSTINGS,
						   data_at + (uint64_t)(dp - b->pdata),
						   "pair %" PRIu32 ": bad series index", q);
				id += v;
			}
			if (dp != dend)
				return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_POSTINGS,
					   data_at + (uint64_t)(dp - b->pdata),
					   "pair %" PRIu32 ": data longer than its ids", q);
		}
	}
	if (b->n_names > 0 ? name_end_pair(b, b->n_names - 1) != b->n_pairs : b->n_pairs != 0)
		return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_POSTINGS, r->offset, "pairs without a name");
	if (b->n_pairs == 0 && b->pdata_len != 0)
		return BAD(c, VG_EINVAL, VG_BLOCK_SECTION_POSTINGS, data_at, "data without pairs");
	return 0;
}

/* ---- open, close -------------------------------------------------------- */

static void block_free(struct vg_block *b)
{
	if (b->is_mapped)
		munmap((void *)b->base, b->size);
	free(b->name);
	free(b);
}

static int open_common(struct vg_block *b, struct vg_block **out, struct vg_block_damage *damage,
		       struct vg_err *err)
{
	struct ctx c = { b, damage, err };
	int rc;

	if ((rc = check_header_footer(&c)) != 0 || (rc = check_groups(&c)) != 0 ||
	    (rc = check_symbols(&c)) != 0 || (rc = check_series(&c)) != 0 ||
	    (rc = check_postings(&c)) != 0) {
		block_free(b);
		return rc;
	}
	atomic_init(&b->refs, 1);
	*out = b;
	return 0;
}

static struct vg_block *block_new(const char *name)
{
	struct vg_block *b = calloc(1, sizeof(*b));
	size_t n = strlen(name);

	if (b == NULL)
		return NULL;
	b->name = malloc(n + 1);
	if (b->name == NULL) {
		free(b);
		return NULL;
	}
	memcpy(b->name, name, n + 1);
	return b;
}

int vg_block_open_mem(const void *data, size_t len, const char *name, struct vg_block **out,
		      struct vg_block_damage *damage, struct vg_err *err)
{
	struct vg_block *b;

	*out = NULL;
	if ((b = block_new(name)) == NULL)
		return vg_err_set(err, VG_ENOMEM, "%s: out of memory", name);
	b->base = data;
	b->size = len;
	return open_common(b, out, damage, err);
}

int vg_block_open(const char *path, struct vg_block **out, struct vg_block_damage *damage,
		  struct vg_err *err)
{
	struct vg_block *b;
	struct stat sb;
	void *m;
	int fd, e;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return vg_err_set(err, VG_EIO, "open %s: %s", path, strerror(errno));
	if (fstat(fd, &sb) != 0) {
		e = errno;
		close(fd);
		return vg_err_set(err, VG_EIO, "stat %s: %s", path, strerror(e));
	}
	if ((b = block_new(path)) == NULL) {
		close(fd);
		return vg_err_set(err, VG_ENOMEM, "%s: out of memory", path);
	}
	if (sb.st_size < HEADER_BYTES + FOOTER_BYTES) {
		/* Too short to be a block (an empty file cannot be mapped): let
		 * the checks say what is wrong from what there is. */
		uint8_t small[HEADER_BYTES + FOOTER_BYTES];
		ssize_t n = sb.st_size > 0 ? pread(fd, small, sizeof(small), 0) : 0;
		close(fd);
		if (n < 0) {
			e = errno;
			block_free(b);
			return vg_err_set(err, VG_EIO, "read %s: %s", path, strerror(e));
		}
		b->base = small;
		b->size = (size_t)n;
		return open_common(b, out, damage, err); /* always fails: too short */
	}
	m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	e = errno;
	close(fd);
	if (m == MAP_FAILED) {
		block_free(b);
		return vg_err_set(err, VG_EIO, "mmap %s: %s", path, strerror(e));
	}
	b->base = m;
	b->size = (size_t)sb.st_size;
	b->is_mapped = true;
	return open_common(b, out, damage, err);
}

struct vg_block *vg_block_ref(struct vg_block *b)
{
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
	return b;
}

void vg_block_close(struct vg_block *b)
{
	if (b == NULL)
		return;
	if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
		block_free(b);
}

void vg_block_info(const struct vg_block *b, struct vg_block_info *out)
{
	out->tier = b->tier;
	out->n_columns = b->n_cols;
	out->flags = (unsigned)b->flags;
	out->min_t = b->min_t;
	out->max_t = b->max_t;
	out->n_series = b->n_series;
	out->n_points = b->n_points;
	out->n_groups = b->n_groups;
	out->n_symbols = b->n_syms;
	out->n_pairs = b->n_pairs;
	out->file_bytes = b->size;
	out->columns_bytes = b->sec[S_COLUMNS].length;
	out->index_bytes = b->size - b->sec[S_COLUMNS].length;
}

const char *vg_block_name(const struct vg_block *b)
{
	return b->name;
}

/* ---- series ------------------------------------------------------------- */

void vg_block_series(const struct vg_block *b, uint32_t idx, struct vg_series *out)
{
	struct entry e;

	out->name = (struct vg_str){ "", 0 };
	out->n_labels = 0;
	if (idx >= b->n_series || decode_entry(b, idx, &e) != NULL)
		return;
	fill_series(b, &e, out);
}

int vg_block_series_key(const struct vg_block *b, uint32_t idx, struct vg_buf *out)
{
	struct vg_series s;

	vg_block_series(b, idx, &s);
	vg_series_key(&s, out);
	return vg_buf_failed(out) ? VG_ENOMEM : 0;
}

void vg_block_series_info(const struct vg_block *b, uint32_t idx, struct vg_block_series_info *out)
{
	struct entry e;

	memset(out, 0, sizeof(*out));
	if (idx >= b->n_series || decode_entry(b, idx, &e) != NULL)
		return;
	out->min_t = e.min_t;
	out->max_t = e.max_t;
	out->n_points = e.n_points;
}

int vg_block_find(const struct vg_block *b, const uint8_t *key, size_t key_len, uint32_t *idx)
{
	struct vg_buf k = VG_BUF_INIT;
	uint32_t lo = 0, hi = b->n_series;
	int rc = VG_ENOENT;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c;

		vg_buf_reset(&k);
		if (vg_block_series_key(b, mid, &k) != 0) {
			rc = VG_ENOMEM;
			break;
		}
		c = vg_series_key_cmp(k.data, k.len, key, key_len);
		if (c == 0) {
			*idx = mid;
			rc = 0;
			break;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	vg_buf_release(&k);
	return rc;
}

/* ---- labels and selection ---------------------------------------------- */

/* The index in the names table of name, or NONE. */
static uint32_t name_find(const struct vg_block *b, struct vg_str name)
{
	uint32_t ref = sym_find(b, name), lo = 0, hi = b->n_names;

	if (ref == NONE)
		return NONE;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		uint32_t r = vg_get_le32(b->names + (size_t)NAME_ENTRY_BYTES * mid);
		if (r == ref)
			return mid;
		if (r < ref)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NONE;
}

static int str_array(size_t n, struct vg_str **out)
{
	*out = NULL;
	if (n == 0)
		return 0;
	if (n > SIZE_MAX / sizeof(**out))
		return VG_ENOMEM;
	*out = malloc(n * sizeof(**out));
	return *out == NULL ? VG_ENOMEM : 0;
}

int vg_block_label_names(const struct vg_block *b, struct vg_str **names, size_t *n)
{
	*n = 0;
	if (str_array(b->n_names, names) != 0)
		return VG_ENOMEM;
	for (uint32_t l = 0; l < b->n_names; l++)
		(*names)[l] = sym(b, vg_get_le32(b->names + (size_t)NAME_ENTRY_BYTES * l));
	*n = b->n_names;
	return 0;
}

int vg_block_label_values(const struct vg_block *b, const char *name, struct vg_str **values,
			  size_t *n)
{
	uint32_t l = name_find(b, vg_str_c(name)), first, end;

	*n = 0;
	*values = NULL;
	if (l == NONE)
		return 0;
	first = name_first_pair(b, l);
	end = name_end_pair(b, l);
	if (str_array(end - first, values) != 0)
		return VG_ENOMEM;
	for (uint32_t q = first; q < end; q++)
		(*values)[q - first] = sym(b, vg_get_le32(b->pairs + (size_t)PAIR_ENTRY_BYTES * q));
	*n = end - first;
	return 0;
}

static int ix_label_values(void *index, struct vg_str name, vg_label_value_fn fn, void *arg)
{
	const struct vg_block *b = index;
	uint32_t l = name_find(b, name);
	int rc;

	if (l == NONE)
		return 0;
	for (uint32_t q = name_first_pair(b, l), end = name_end_pair(b, l); q < end; q++)
		if ((rc = fn(arg, sym(b, vg_get_le32(b->pairs + (size_t)PAIR_ENTRY_BYTES * q)), q)) != 0)
			return rc;
	return 0;
}

static int ix_postings_ref(void *index, uint64_t ref, struct vg_postings *out)
{
	const struct vg_block *b = index;
	uint32_t q = (uint32_t)ref, count;
	const uint8_t *p, *end;
	uint64_t id = 0, v;

	if (ref >= b->n_pairs)
		return 0;
	count = vg_get_le32(b->pairs + (size_t)PAIR_ENTRY_BYTES * q + 4);
	if (vg_postings_reserve(out, count) != 0)
		return VG_ENOMEM;
	p = b->pdata + pair_data_start(b, q);
	end = b->pdata + pair_data_end(b, q);
	for (uint32_t k = 0; k < count && get_uv(&p, end, &v); k++) {
		id += v;
		out->ids[out->n++] = (uint32_t)id;
	}
	return 0;
}

static int ix_postings(void *index, struct vg_str name, struct vg_str value,
		       struct vg_postings *out)
{
	const struct vg_block *b = index;
	uint32_t l = name_find(b, name), vref, lo, hi;

	if (l == NONE || (vref = sym_find(b, value)) == NONE)
		return 0;
	lo = name_first_pair(b, l);
	hi = name_end_pair(b, l);
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		uint32_t r = vg_get_le32(b->pairs + (size_t)PAIR_ENTRY_BYTES * mid);
		if (r == vref)
			return ix_postings_ref(index, mid, out);
		if (r < vref)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int ix_all(void *index, struct vg_postings *out)
{
	const struct vg_block *b = index;

	if (vg_postings_reserve(out, b->n_series) != 0)
		return VG_ENOMEM;
	for (uint32_t i = 0; i < b->n_series; i++)
		out->ids[out->n++] = i;
	return 0;
}

static const struct vg_label_index_ops block_index_ops = {
	ix_label_values, ix_postings_ref, ix_postings, ix_all,
};

int vg_block_select(const struct vg_block *b, const struct vg_selector *sel,
		    struct vg_postings *out, struct vg_err *err)
{
	/* The callbacks only read the block; the cast drops const for the
	 * generic void * of the index interface. */
	struct vg_label_index ix = { &block_index_ops, (void *)(uintptr_t)b };
	int rc = vg_postings_select(&ix, sel, out, err);

	if (rc != 0)
		vg_err_prefix(err, "%s", b->name);
	return rc;
}

/* ---- columns ------------------------------------------------------------- */

struct vg_block_cursor *vg_block_cursor_new(void)
{
	struct vg_block_cursor *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->dctx = ZSTD_createDCtx();
	if (c->dctx == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

void vg_block_cursor_free(struct vg_block_cursor *c)
{
	if (c == NULL)
		return;
	ZSTD_freeDCtx(c->dctx);
	free(c->buf);
	free(c);
}

/* Decompresses group g of b into c, checking it. */
static int load_group(const struct vg_block *b, uint64_t g, struct vg_block_cursor *c,
		      struct vg_block_damage *d, struct vg_err *err)
{
	const uint8_t *e = b->groups + (size_t)GROUP_ENTRY_BYTES * g;
	uint64_t off = vg_get_le64(e), at = b->sec[S_COLUMNS].offset + off;
	uint32_t comp = vg_get_le32(e + 8), raw = vg_get_le32(e + 12);
	const uint8_t *src = b->base + at;
	unsigned long long content;
	size_t n;

	if (c->has_group && c->tag == b->tag && c->group == g)
		return 0;
	c->has_group = false;
	if (XXH3_64bits(src, comp) != vg_get_le64(e + 16))
		return damaged(b->name, d, err, VG_ECHECKSUM, VG_BLOCK_SECTION_COLUMNS, at,
			       "group %" PRIu64 ": checksum mismatch", g);
	content = ZSTD_getFrameContentSize(src, comp);
	if (content != raw)
		return damaged(b->name, d, err, VG_EINVAL, VG_BLOCK_SECTION_COLUMNS, at,
			       "group %" PRIu64 ": frame size is not the group's", g);
	if (c->cap < raw) {
		uint8_t *nb = realloc(c->buf, raw);
		if (nb == NULL)
			return vg_err_set(err, VG_ENOMEM, "%s: out of memory", b->name);
		c->buf = nb;
		c->cap = raw;
	}
	n = ZSTD_decompressDCtx(c->dctx, c->buf, raw, src, comp);
	if (ZSTD_isError(n) || n != raw)
		return damaged(b->name, d, err, VG_EINVAL, VG_BLOCK_SECTION_COLUMNS, at,
			       "group %" PRIu64 ": %s", g,
			       ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short frame");
	c->len = raw;
	c->tag = b->tag;
	c->group = g;
	c->has_group = true;
	return 0;
}

int vg_block_read_columns(const struct vg_block *b, uint32_t idx, struct vg_block_cursor *c,
			  struct vg_block_col *cols, struct vg_err *err)
{
	struct entry e;
	uint64_t off;
	int rc;

	if (idx >= b->n_series)
		return vg_err_set(err, VG_ENOENT, "%s: no series %" PRIu32, b->name, idx);
	if (decode_entry(b, idx, &e) != NULL)
		return vg_err_set(err, VG_EINVAL, "%s: series %" PRIu32 " unreadable", b->name, idx);
	if (e.total == 0) {
		for (unsigned k = 0; k < b->n_cols; k++)
			cols[k] = (struct vg_block_col){ (const uint8_t *)"", 0 };
		return 0;
	}
	if ((rc = load_group(b, e.group, c, NULL, err)) != 0)
		return rc;
	off = e.offset;
	for (unsigned k = 0; k < b->n_cols; k++) {
		cols[k] = (struct vg_block_col){ c->buf + off, (size_t)e.col_len[k] };
		off += e.col_len[k];
	}
	return 0;
}

int vg_block_verify(const struct vg_block *b, struct vg_block_cursor *c,
		    struct vg_block_damage *damage, struct vg_err *err)
{
	const struct region *r = &b->sec[S_COLUMNS];
	int rc;

	if (XXH3_64bits_withSeed(b->base + r->offset, r->length, VG_BLOCK_SECTION_COLUMNS) !=
	    b->columns_hash)
		return damaged(b->name, damage, err, VG_ECHECKSUM, VG_BLOCK_SECTION_COLUMNS,
			       r->offset, "checksum mismatch");
	for (uint32_t g = 0; g < b->n_groups; g++) {
		c->has_group = false;
		if ((rc = load_group(b, g, c, damage, err)) != 0)
			return rc;
	}
	return 0;
}
