/*
 * head.c: the receiver's in-memory head (head.h): the series table, the
 * samples of each series, and the inverted index used to select series.
 *
 * Owns: series ids, series keys, sample arrays, postings. Does not own the
 * WAL (the ingest side logs a new series before acknowledging it) nor query
 * semantics (query.c decides what a sample in a window means).
 *
 * Layout:
 *  - Every string of every series (metric name, label names and values)
 *    is interned once in the symbol table (symtab.h). A series holds its
 *    key as symbol ids, uvarints in an arena of 64 KiB blocks that are only
 *    freed with the head (so the pointer is stable for the life of the
 *    head): the number of labels, the metric name's id, then each label's
 *    name and value ids in the canonical order. The key in series.h's form
 *    is rebuilt from them with vg_series_key when a reader asks for it
 *    (vg_head_series_key_locked); postings and label names hold ids too.
 *  - The series table holds each id's record in pages of 1,024 records,
 *    reached through a directory of page pointers: a page is allocated
 *    when its first id is created and never moves, so there is no copy
 *    as the table grows and no capacity held beyond the last page.
 *  - A record holds the key pointer and its samples: finished chunks
 *    (chunk.h) in time order, then the open chunk being appended to, and
 *    late samples (older than the newest) apart, merged when read. A chunk
 *    is finished (into its smaller finished form) as soon as it is full,
 *    and copied into a slot of its own. When a chunk is finished and the
 *    one before it has room (VG_CHUNK_MAX_MERGED), the two are merged into
 *    one chunk in columns (merge_open), so 720 samples take one header and
 *    one pair of columns.
 *  - Every chunk and every open chunk's buffer (through chunk.h's
 *    vg_chunk_alloc hook) is a slot of the head's slab allocator (slab.h):
 *    size classes in 64 KiB slabs, a slab emptied given back to the kernel
 *    or to the next class. A fleet's series cut and merge at the same
 *    sample, so the 240- and 480-sample chunks and the open buffers freed
 *    at 720 samples leave whole slabs, where malloc left sub-page holes
 *    between the live chunks (bench_head at 720 samples: RSS 1,377 bytes
 *    a series with malloc, 1,072 with the slabs). A chunk over VG_SLAB_MAX
 *    bytes is malloc's.
 *  - An open-addressing table (linear probing, load <= 4/5) maps the series
 *    hash to the id; a hash match is confirmed on the key bytes.
 *  - Postings: one per label pair, the metric name counting as the pair
 *    (__name__, name). Each holds the ids of its series in ascending order:
 *    ids are handed out ascending, so appending keeps them sorted. A second
 *    open-addressing table maps the XXH3 of the pair's two symbol ids to
 *    the posting; a third maps each label name's symbol id to the chain of
 *    its postings, for /labels and /label/<name>/values.
 *
 * Memory (docs/performance.md, vg_head_memory, bench/bench_head): per
 * series a 40-byte record, in pages of 1,024 (the last page's unused
 * records are never written, so mostly not resident) and 8 bytes of
 * directory a page; while a chunk is open, its 48-byte encoder in a slab
 * slot; a late part for the few with late data;
 * its key's symbol ids (1-3 bytes each), the strings no other series had
 * before it, 10-20 bytes of hash slots and 4-8 bytes per label pair
 * in postings; per sample what the
 * chunk codec needs (1-3 bytes on node-style data), plus the open chunk's
 * slack and 24 bytes of header per finished chunk (one per 720 samples,
 * merged), and the slabs' rounding to their class (under 8 bytes up to
 * 1 KiB) and their partly filled pages (vg_head_mem.alloc_waste: 25 bytes
 * a series at 720 samples, more mid-chunk, when open buffers of one size
 * are scattered over their class's slabs).
 *
 * Locking (head.h): h->lock guards the index (symbols included) and is
 * written only when a series is created, so a string is interned and its
 * id published under the write lock and readers see both under the read
 * lock; h->stripes guard the samples of each series. The series table
 * grows under the write lock too (a new page, and the directory, which
 * moves when it grows); records never move. Only the writer thread
 * changes the table, so it reads it without the lock.
 * The slab allocator has a mutex of its own, a leaf taken under a stripe
 * (or none) for each allocation and free: the writer allocates, the writer
 * and the sealer (vg_head_drop_frozen) free, a chunk only once no reader
 * can reach it (as with malloc before).
 *
 * Invariants: ids are dense from 0 and never reused; the chunks of a series
 * are strictly ascending in time and do not overlap; late samples are all
 * older than the newest in-order one; every series is in the postings of
 * each of its label pairs exactly once. Creating a series reserves
 * everything it needs before changing anything, so an allocation failure
 * leaves the head as it was.
 */
#include "config.h" /* _GNU_SOURCE, for the writer-preferring rwlock */

#include "receiver/storage/head.h"
#include "receiver/storage/chunk.h"
#include "receiver/storage/postings.h"
#include "receiver/storage/slab.h"
#include "receiver/storage/symtab.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/selector.h"
#include "common/series.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "common/banned.h"

#define NONE UINT32_MAX
#define ARENA_BLOCK_BYTES ((size_t)1 << 16)
/* A key's symbol ids, at most: the label count, the metric name and two
 * ids a label, 5 bytes each. */
#define MAX_KEY_IDS_BYTES (5 * (2 + 2 * VG_SERIES_MAX_LABELS))
#define MAX_PAIRS (VG_SERIES_MAX_LABELS + 1)
#define HEAD_STRIPES 1024
/* Series ids share a stripe in runs of 64: a frame of consecutive ids takes
 * a couple of locks, a reader of one series holds one. */
#define STRIPE_SHIFT 6
#define LATE_CHUNK 240
/* Series records a page of the series table holds. */
#define SERIES_PAGE_SHIFT 10
#define SERIES_PAGE (1u << SERIES_PAGE_SHIFT)
#define PREFETCH_AHEAD 8
#define SCAN_SLICE 4096 /* series a full scan checks per hold of the read lock */ /* late samples sorted into a chunk at a time */

static const char name_label[] = "__name__";

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	uint8_t data[];
};

/* A finished chunk (chunk.h), immutable: 24 bytes before its bytes. Its
 * time range is min_t and a 32-bit span (49 days); a wider one (a chunk's
 * steps may each be up to VG_CHUNK_MAX_STEP_MS) says SPAN_WIDE and keeps
 * max_t in the 8 bytes after the chunk's bytes (chunk_max_t). A late chunk
 * also says, after those (struct late_meta), when its samples arrived
 * (snapshots, below): its samples are among the late samples numbered
 * ord_lo .. ord_hi - 1 of the series (a buffer sorted into several chunks
 * spreads its numbers over them; a repeated timestamp is stored once), the
 * k-th in time order being number ord_lo + arrival[k]. */
struct hchunk {
	struct hchunk *next;
	int64_t min_t;
	uint32_t span;       /* max_t - min_t, or SPAN_WIDE */
	uint16_t len;        /* bytes in data (at most 27 a sample: chunk.c) */
	uint16_t n;          /* samples */
	uint8_t data[];
};

#define SPAN_WIDE UINT32_MAX
_Static_assert(VG_CHUNK_MAX_SAMPLES <= UINT16_MAX, "hchunk.n holds a chunk's sample count");

struct late_meta {
	uint64_t ord_lo, ord_hi;
	uint32_t arrival[];  /* n */
};

/* A late sample: older than the series' newest, not yet in a chunk. */
struct late {
	int64_t t;
	double v;
};

/*
 * The samples of a series: in time order, finished chunks (oldest first)
 * then the open chunk being appended to. A sample older than the newest
 * (late data, an agent's spool replayed out of order) goes to the late
 * buffer in arrival order; every LATE_CHUNK of them are sorted into chunks
 * of their own (one, or more where a chunk's count or step ends one). A
 * read merges the three; so a late sample costs an append and, once per
 * LATE_CHUNK, a sort, never a shift of what is stored.
 */
/* The late data of a series, apart from its record since few series have
 * any: allocated at its first late sample and kept (ever counts on across
 * freezes) until the head is freed. */
struct late_part {
	struct hchunk *chunks; /* each sorted; any order among them */
	struct late *buf;      /* in arrival order, not yet in a chunk */
	uint32_t n, cap;
	uint64_t ever;         /* late samples stored: see series.in_ever */
};

struct series {
	/* Its key as symbol ids, in the arena (the layout above); NULL for an
	 * absent slot: an id the WAL never defined (a record lost to damage),
	 * which decodes as no series and matches no selector. */
	const uint8_t *key;
	/* In order, oldest first. No tail pointer: a series holds one chunk
	 * or a few (merged, up to VG_CHUNK_MAX_MERGED samples each), and the
	 * last is walked to once per chunk cut (chunks_last). */
	struct hchunk *chunks;
	/* Snapshots (vg_head_snap_locked): samples are numbered as they are
	 * stored, in-order and late ones apart, from 0 for the life of the
	 * head, freezes included. in_ever and late->ever count them (written
	 * under the stripe with __atomic stores, read at selection without
	 * it). The number of the first in-order sample in chunks is not
	 * kept: the ones before went to a frozen set, so it is in_ever less
	 * the samples in chunks and open (in_base). */
	uint64_t in_ever;
	/* NULL until the first late sample. Set once, under the stripe, with
	 * an __atomic release store after the part is filled in, and read at
	 * selection without the stripe with an acquire load; never freed
	 * before the head. Its other fields are read and written under the
	 * stripe only. */
	struct late_part *late;
	/* The open chunk's encoder, in a slot of the chunk slabs from its
	 * first sample until it is finished (cut or merged); NULL between, so
	 * a series whose chunk has just been finished, or that has stopped,
	 * holds 8 bytes for it instead of 48. Written under the stripe by
	 * the writer only (which reads it without the stripe). */
	struct vg_chunk_enc *open;
};

/* A posting's ids, ascending, are kept as uvarint deltas (the first from
 * 0): a label pair's series were mostly created together, so a delta
 * takes a byte or two where an id took four. Up to POSTING_INLINE bytes
 * (a pair of one or a few series) live in the record itself. */
#define POSTING_INLINE 8
struct posting {
	uint32_t name, value;     /* symbol ids */
	union {
		uint8_t *p;                   /* cap > POSTING_INLINE */
		uint8_t in[POSTING_INLINE];   /* cap == POSTING_INLINE */
	} ids;
	uint32_t len, cap;        /* bytes of ids used, allocated */
	uint32_t n, last;         /* ids, and the last (greatest) one */
	uint32_t next_value;      /* next posting of the same label name, or NONE */
};

struct lname {
	uint32_t name;          /* symbol id */
	uint32_t first_posting; /* chain through posting.next_value */
};

/* Open addressing, cap a power of 2: each slot the low 32 bits of an
 * entry's hash (which place it, and so are all a rehash needs) and its
 * index (NONE = empty), side by side for one cache miss a probe. Callers
 * confirm a match on the bytes, so 32 bits only cost a rare extra compare;
 * 8 bytes a slot instead of 12 (bench_head: 10 bytes a series). */
struct hslot {
	uint32_t hash, idx;
};

struct htab {
	struct hslot *slots;
	uint32_t cap, n;
};

/* The samples a series held when the head was frozen for sealing: read
 * with the live ones until the blocks that hold them are served. */
struct frozen {
	struct hchunk *chunks;
	struct hchunk *late_chunks;
	struct late *late;
	uint32_t n_late;
	uint64_t in_base;  /* the number of its first in-order sample */
	uint64_t late_end; /* late samples stored before the freeze: its buffer's end */
};

struct vg_head {
	pthread_rwlock_t lock;      /* the index: series table, keys, postings */
	pthread_mutex_t stripes[HEAD_STRIPES]; /* samples of series id by stripe(id) */
	struct arena_block *arena;  /* series keys' symbol ids; newest block first */
	struct vg_symtab *syms;     /* every string of every series, once */
	uint32_t name_sym;          /* the symbol id of "__name__" */
	/* The frozen set (vg_head_freeze): the array is set and cleared under
	 * the write lock, its entries under their stripes. */
	struct frozen *frozen;
	uint32_t n_frozen;
	/* The series table: record id is pages[id / SERIES_PAGE][id %
	 * SERIES_PAGE] (series_at), absent slots included. A page is
	 * allocated when the first id in it is created and neither moves nor
	 * is freed before the head; only the directory grows. */
	struct series **pages;      /* [n_pages] */
	uint32_t n_series, n_pages, cap_pages;
	uint32_t n_absent;          /* slots without a key */
	struct htab series_tab;
	struct posting *postings;
	uint32_t n_postings, cap_postings;
	struct htab posting_tab;
	struct lname *lnames;
	uint32_t n_lnames, cap_lnames;
	struct htab lname_tab;
	/* Readers' pins (vg_head_pin): how many of each of the last two
	 * generations are held; vg_head_drop_frozen starts a generation and
	 * waits for the one before to be released. A leaf lock. */
	pthread_mutex_t pin_mu;
	pthread_cond_t pin_cv;
	uint64_t pins[2], pin_gen;
	/* The writer's: a merged chunk being encoded (merge_open). */
	struct vg_buf merge_buf;
	/* Every chunk's bytes, every open chunk's encoder and its buffer
	 * (enc_alloc): slabs by size class, so chunks freed together leave
	 * whole pages. A leaf lock of its own; chunks are freed only when no
	 * reader sees them. */
	struct vg_slab *slab;
	struct vg_chunk_alloc enc_alloc;
	/* Written under the write lock, read without it (stats). */
	_Atomic uint64_t num_series;
	_Atomic uint64_t num_samples;
};

/* --- small helpers ------------------------------------------------------ */

static bool is_absent(const struct series *s)
{
	return s->key == NULL;
}

static uint64_t pair_hash(uint32_t name, uint32_t value)
{
	uint32_t v[2] = { name, value };

	return XXH3_64bits(v, sizeof(v));
}

static uint64_t name_hash(uint32_t name)
{
	return XXH3_64bits(&name, sizeof(name));
}

/* Grows *arr (of elem bytes each, *cap of them) to hold need; doubling. */
static int grow_array(void **arr, uint32_t *cap, uint32_t need, size_t elem)
{
	uint32_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 16;
	while (ncap < need) {
		if (ncap > UINT32_MAX / 2)
			return VG_ENOMEM;
		ncap *= 2;
	}
	if ((size_t)ncap > SIZE_MAX / elem)
		return VG_ENOMEM;
	p = realloc(*arr, (size_t)ncap * elem);
	if (p == NULL)
		return VG_ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static pthread_mutex_t *stripe(struct vg_head *h, uint32_t id)
{
	return &h->stripes[(id >> STRIPE_SHIFT) & (HEAD_STRIPES - 1)];
}

/* --- the series table --------------------------------------------------- */

static struct series *series_at(const struct vg_head *h, uint32_t id)
{
	return &h->pages[id >> SERIES_PAGE_SHIFT][id & (SERIES_PAGE - 1)];
}

/* Pages for the ids below need (the writer, under the write lock: the
 * directory may move). A page is malloc'd, not cleared: a record is
 * written when its id is created, so the rest of the last page is not
 * touched (nor resident) before its series are. What was reserved stays
 * on failure. */
static int series_reserve(struct vg_head *h, uint64_t need)
{
	uint32_t pages = (uint32_t)((need + SERIES_PAGE - 1) >> SERIES_PAGE_SHIFT);

	if (grow_array((void **)&h->pages, &h->cap_pages, pages, sizeof(*h->pages)) != 0)
		return VG_ENOMEM;
	while (h->n_pages < pages) {
		struct series *page = malloc(SERIES_PAGE * sizeof(*page));
		if (page == NULL)
			return VG_ENOMEM;
		h->pages[h->n_pages++] = page;
	}
	return 0;
}

/* --- the hash tables ---------------------------------------------------- */

static void htab_release(struct htab *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static void htab_put(struct htab *t, uint64_t hash, uint32_t idx)
{
	uint32_t mask = t->cap - 1, i = (uint32_t)hash & mask;

	while (t->slots[i].idx != NONE)
		i = (i + 1) & mask;
	t->slots[i] = (struct hslot){ (uint32_t)hash, idx };
	t->n++;
}

/* Makes room for extra more entries at load <= 4/5: linear probing's
 * misses (an insert, a new series' lookup) then walk about 13 slots of 8
 * bytes on average, two cache lines, and a hit about 3; at <= 1/2 the
 * table took 21 bytes a series at 100,000 series, now 10.5. */
static int htab_reserve(struct htab *t, uint32_t extra)
{
	struct htab nt = { 0 };
	uint64_t need = ((uint64_t)t->n + extra) * 5 / 4 + 1;

	if (need <= t->cap)
		return 0;
	nt.cap = t->cap ? t->cap : 64;
	while (nt.cap < need) {
		if (nt.cap > UINT32_MAX / 2)
			return VG_ENOMEM;
		nt.cap *= 2;
	}
	if ((nt.slots = malloc((size_t)nt.cap * sizeof(*nt.slots))) == NULL)
		return VG_ENOMEM;
	memset(nt.slots, 0xFF, (size_t)nt.cap * sizeof(*nt.slots));
	for (uint32_t i = 0; i < t->cap; i++)
		if (t->slots[i].idx != NONE)
			htab_put(&nt, t->slots[i].hash, t->slots[i].idx);
	htab_release(t);
	*t = nt;
	return 0;
}

/* Probe sequence of hash: *pos starts at 0; returns the next entry whose
 * hash has the same low 32 bits, or NONE at the end of the sequence. */
static uint32_t htab_next(const struct htab *t, uint64_t hash, uint32_t *pos)
{
	uint32_t mask = t->cap - 1;

	/* Load <= 4/5 guarantees an empty slot, so the walk ends. */
	while (*pos < t->cap) {
		uint32_t i = ((uint32_t)hash + *pos) & mask;
		(*pos)++;
		if (t->slots[i].idx == NONE)
			break;
		if (t->slots[i].hash == (uint32_t)hash)
			return t->slots[i].idx;
	}
	*pos = t->cap;
	return NONE;
}

/* --- the key arena ------------------------------------------------------ */

static uint8_t *arena_alloc_in(struct arena_block **head, size_t n)
{
	struct arena_block *b = *head;

	if (b == NULL || b->cap - b->used < n) {
		size_t cap = n > ARENA_BLOCK_BYTES ? n : ARENA_BLOCK_BYTES;
		b = malloc(sizeof(*b) + cap);
		if (b == NULL)
			return NULL;
		b->cap = cap;
		b->used = 0;
		b->next = *head;
		*head = b;
	}
	b->used += n;
	return b->data + b->used - n;
}

static uint8_t *arena_alloc(struct vg_head *h, size_t n)
{
	return arena_alloc_in(&h->arena, n);
}

/* --- keys as symbol ids -------------------------------------------------- */

/* The next uvarint of a stored key or posting (one this file wrote). */
static uint32_t key_next(const uint8_t **p)
{
	const uint8_t *q = *p;
	uint32_t v = 0;
	unsigned shift = 0;

	for (; *q & 0x80; q++, shift += 7)
		v |= (uint32_t)(*q & 0x7F) << shift;
	v |= (uint32_t)*q << shift;
	*p = q + 1;
	return v;
}

/* The series of a stored key, as views into the symbol table. */
static void key_decode(const struct vg_head *h, const uint8_t *key, struct vg_series *s)
{
	const uint8_t *p = key;

	s->n_labels = key_next(&p);
	s->name = vg_symtab_str(h->syms, key_next(&p));
	for (uint32_t i = 0; i < s->n_labels; i++) {
		s->labels[i].name = vg_symtab_str(h->syms, key_next(&p));
		s->labels[i].value = vg_symtab_str(h->syms, key_next(&p));
	}
}

/* Whether the stored key is the key of canonical s. */
static bool key_equals_series(const struct vg_head *h, const uint8_t *key, const struct vg_series *s)
{
	const uint8_t *p = key;

	if (key_next(&p) != s->n_labels || !vg_str_eq(vg_symtab_str(h->syms, key_next(&p)), s->name))
		return false;
	for (uint32_t i = 0; i < s->n_labels; i++) {
		if (!vg_str_eq(vg_symtab_str(h->syms, key_next(&p)), s->labels[i].name) ||
		    !vg_str_eq(vg_symtab_str(h->syms, key_next(&p)), s->labels[i].value))
			return false;
	}
	return true;
}

/* --- lookups ------------------------------------------------------------ */

static uint32_t find_series(const struct vg_head *h, const struct vg_series *s, uint64_t hash)
{
	uint32_t pos = 0, id;

	while ((id = htab_next(&h->series_tab, hash, &pos)) != NONE)
		if (key_equals_series(h, series_at(h, id)->key, s))
			return id;
	return NONE;
}

/* The posting of the pair of symbols (name, value) (hash: pair_hash). */
static uint32_t find_posting(const struct vg_head *h, uint64_t hash, uint32_t name, uint32_t value)
{
	uint32_t pos = 0, i;

	while ((i = htab_next(&h->posting_tab, hash, &pos)) != NONE)
		if (h->postings[i].name == name && h->postings[i].value == value)
			return i;
	return NONE;
}

/* The posting of the pair of strings, or NONE. */
static uint32_t find_posting_str(const struct vg_head *h, struct vg_str name, struct vg_str value)
{
	uint32_t n = vg_symtab_find(h->syms, name), v;

	if (n == VG_SYMTAB_NONE || (v = vg_symtab_find(h->syms, value)) == VG_SYMTAB_NONE)
		return NONE;
	return find_posting(h, pair_hash(n, v), n, v);
}

static uint32_t find_lname(const struct vg_head *h, uint32_t name)
{
	uint32_t pos = 0, i;

	while ((i = htab_next(&h->lname_tab, name_hash(name), &pos)) != NONE)
		if (h->lnames[i].name == name)
			return i;
	return NONE;
}

static uint32_t find_lname_str(const struct vg_head *h, struct vg_str name)
{
	uint32_t n = vg_symtab_find(h->syms, name);

	return n == VG_SYMTAB_NONE ? NONE : find_lname(h, n);
}

/* --- creating series ---------------------------------------------------- */

struct pair {
	uint32_t name, value; /* symbol ids */
	uint64_t hash;
	uint32_t posting;  /* existing posting or NONE */
	bool is_new_lname;
};

static const uint8_t *posting_bytes(const struct posting *p)
{
	return p->cap > POSTING_INLINE ? p->ids.p : p->ids.in;
}

/* Room in p for one more id's delta (5 bytes at most). */
static int posting_reserve(struct posting *p)
{
	uint32_t cap;
	uint8_t *b;

	if (p->cap - p->len >= 5)
		return 0;
	if (p->cap > UINT32_MAX / 2)
		return VG_ENOMEM;
	cap = p->cap * 2 < 16 ? 16 : p->cap * 2;
	if (p->cap > POSTING_INLINE) {
		if ((b = realloc(p->ids.p, cap)) == NULL)
			return VG_ENOMEM;
	} else {
		if ((b = malloc(cap)) == NULL)
			return VG_ENOMEM;
		memcpy(b, p->ids.in, p->len);
	}
	p->ids.p = b;
	p->cap = cap;
	return 0;
}

/* Appends id (greater than every id in p, room reserved). */
static void posting_push(struct posting *p, uint32_t id)
{
	uint8_t *b = p->cap > POSTING_INLINE ? p->ids.p : p->ids.in;
	uint8_t *end = vg_put_uvarint(b + p->len, p->n ? id - p->last : id);

	p->len = (uint32_t)(end - b);
	p->n++;
	p->last = id;
}

/*
 * Adds canonical s as the next id. Everything that can fail happens before
 * the first change, so on failure the head is unchanged (but for strings
 * interned on the way, which stay unused: symtab.h).
 */
static int create_series_wrlocked(struct vg_head *h, const struct vg_series *s, uint64_t hash,
				  uint32_t *id_out)
{
	struct pair pairs[MAX_PAIRS];
	uint8_t key[MAX_KEY_IDS_BYTES], *end = key, *stored = NULL;
	uint32_t n_pairs = 0, new_postings = 0, new_lnames = 0, id = h->n_series;
	int rc;

	if (id == NONE)
		return VG_ELIMIT;
	/* The metric name, then each label: symbol ids, and the key of them. */
	pairs[0] = (struct pair){ .name = h->name_sym };
	if ((rc = vg_symtab_intern(h->syms, s->name, &pairs[0].value)) != 0)
		return rc;
	n_pairs = 1;
	end = vg_put_uvarint(end, s->n_labels);
	end = vg_put_uvarint(end, pairs[0].value);
	for (uint32_t i = 0; i < s->n_labels; i++) {
		struct pair *pr = &pairs[n_pairs];
		*pr = (struct pair){ 0 };
		if ((rc = vg_symtab_intern(h->syms, s->labels[i].name, &pr->name)) != 0 ||
		    (rc = vg_symtab_intern(h->syms, s->labels[i].value, &pr->value)) != 0)
			return rc;
		end = vg_put_uvarint(end, pr->name);
		end = vg_put_uvarint(end, pr->value);
		n_pairs++;
	}

	/* Reserve: the postings' id arrays, new postings, new label names. */
	rc = VG_ENOMEM;
	for (uint32_t i = 0; i < n_pairs; i++) {
		struct pair *pr = &pairs[i];
		pr->hash = pair_hash(pr->name, pr->value);
		pr->posting = find_posting(h, pr->hash, pr->name, pr->value);
		pr->is_new_lname = false;
		if (pr->posting != NONE) {
			if (posting_reserve(&h->postings[pr->posting]) != 0)
				goto fail;
			continue;
		}
		new_postings++; /* its first id fits inline */
		if (find_lname(h, pr->name) == NONE) {
			/* The same new name twice in one series cannot happen:
			 * canonical labels have distinct names. */
			pr->is_new_lname = true;
			new_lnames++;
		}
	}
	if (series_reserve(h, (uint64_t)id + 1) != 0 || htab_reserve(&h->series_tab, 1) != 0 ||
	    grow_array((void **)&h->postings, &h->cap_postings, h->n_postings + new_postings,
		       sizeof(*h->postings)) != 0 ||
	    htab_reserve(&h->posting_tab, new_postings) != 0 ||
	    grow_array((void **)&h->lnames, &h->cap_lnames, h->n_lnames + new_lnames,
		       sizeof(*h->lnames)) != 0 ||
	    htab_reserve(&h->lname_tab, new_lnames) != 0 ||
	    (stored = arena_alloc(h, (size_t)(end - key))) == NULL)
		goto fail;

	/* Commit: nothing below fails. */
	memcpy(stored, key, (size_t)(end - key));
	*series_at(h, id) = (struct series){ .key = stored };
	htab_put(&h->series_tab, hash, id);
	h->n_series++;
	for (uint32_t i = 0; i < n_pairs; i++) {
		struct pair *pr = &pairs[i];
		struct posting *po;
		uint32_t ln;

		if (pr->posting != NONE) {
			posting_push(&h->postings[pr->posting], id);
			continue;
		}
		if (pr->is_new_lname) {
			ln = h->n_lnames++;
			h->lnames[ln] = (struct lname){ .name = pr->name, .first_posting = NONE };
			htab_put(&h->lname_tab, name_hash(pr->name), ln);
		} else {
			ln = find_lname(h, pr->name);
		}
		pr->posting = h->n_postings++;
		po = &h->postings[pr->posting];
		*po = (struct posting){ .name = pr->name, .value = pr->value, .cap = POSTING_INLINE,
			.next_value = h->lnames[ln].first_posting };
		posting_push(po, id);
		h->lnames[ln].first_posting = pr->posting;
		htab_put(&h->posting_tab, pr->hash, pr->posting);
	}
	atomic_store_explicit(&h->num_series, h->n_series - h->n_absent, memory_order_relaxed);
	*id_out = id;
	return 0;
fail:
	/* What was reserved stays: room in postings changes no answer. */
	return rc;
}

/* --- lifecycle ---------------------------------------------------------- */

static void *slab_alloc_fn(void *slab, size_t n)
{
	return vg_slab_alloc(slab, n);
}

static void slab_free_fn(void *slab, void *p, size_t n)
{
	vg_slab_free(slab, p, n);
}

struct vg_head *vg_head_new(void)
{
	struct vg_head *h = calloc(1, sizeof(*h));
	pthread_rwlockattr_t attr;
	int rc;

	if (h == NULL)
		return NULL;
	pthread_rwlockattr_init(&attr);
#ifdef __GLIBC__
	/* Ingest takes the write lock for each batch; a stream of queries must
	 * not starve it (glibc prefers readers by default). */
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
	rc = pthread_rwlock_init(&h->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	for (size_t i = 0; i < HEAD_STRIPES; i++)
		pthread_mutex_init(&h->stripes[i], NULL);
	pthread_mutex_init(&h->pin_mu, NULL);
	pthread_cond_init(&h->pin_cv, NULL);
	if (rc != 0) {
		free(h);
		return NULL;
	}
	if ((h->slab = vg_slab_new()) == NULL || (h->syms = vg_symtab_new()) == NULL ||
	    vg_symtab_intern(h->syms, vg_str_c(name_label), &h->name_sym) != 0) {
		vg_head_free(h);
		return NULL;
	}
	h->enc_alloc = (struct vg_chunk_alloc){ slab_alloc_fn, slab_free_fn, h->slab };
	return h;
}

/* Where a late chunk's arrivals lie: after its bytes (and wide max_t),
 * 8-aligned (the slab aligns the chunk itself). */
static size_t late_meta_off(size_t data_len)
{
	return (sizeof(struct hchunk) + data_len + 7) & ~(size_t)7;
}

/* The bytes chunk c was allocated with: its header, bytes, wide max_t,
 * and for a late chunk its arrivals. */
static size_t chunk_alloc_bytes(const struct hchunk *c, bool is_late)
{
	size_t data_len = c->len + (c->span == SPAN_WIDE ? sizeof(int64_t) : 0);

	return is_late ? late_meta_off(data_len) + sizeof(struct late_meta) + c->n * sizeof(uint32_t)
		       : sizeof(*c) + data_len;
}

static void chunks_free(struct vg_head *h, struct hchunk *c, bool is_late)
{
	for (struct hchunk *next; c != NULL; c = next) {
		next = c->next;
		vg_slab_free(h->slab, c, chunk_alloc_bytes(c, is_late));
	}
}

/* Samples in the open chunk of s (0 when it has none). */
static size_t open_samples(const struct series *s)
{
	return s->open ? vg_chunk_enc_samples(s->open) : 0;
}

/* Gives back the open chunk's encoder and its bytes (none: nothing). */
static void open_release(struct vg_head *h, struct series *s)
{
	if (s->open == NULL)
		return;
	vg_chunk_enc_release_in(s->open, &h->enc_alloc);
	vg_slab_free(h->slab, s->open, sizeof(*s->open));
	s->open = NULL;
}

static void series_release(struct vg_head *h, struct series *s)
{
	chunks_free(h, s->chunks, false);
	if (s->late) {
		chunks_free(h, s->late->chunks, true);
		free(s->late->buf);
		free(s->late);
	}
	open_release(h, s);
}

void vg_head_free(struct vg_head *h)
{
	struct arena_block *b, *next;

	if (h == NULL)
		return;
	for (uint32_t i = 0; i < h->n_series; i++)
		series_release(h, series_at(h, i));
	for (uint32_t i = 0; i < h->n_pages; i++)
		free(h->pages[i]);
	free(h->pages);
	for (uint32_t i = 0; i < h->n_postings; i++)
		if (h->postings[i].cap > POSTING_INLINE)
			free(h->postings[i].ids.p);
	free(h->postings);
	free(h->lnames);
	htab_release(&h->series_tab);
	htab_release(&h->posting_tab);
	htab_release(&h->lname_tab);
	vg_symtab_free(h->syms);
	for (b = h->arena; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	for (uint32_t i = 0; h->frozen && i < h->n_frozen; i++) {
		chunks_free(h, h->frozen[i].chunks, false);
		chunks_free(h, h->frozen[i].late_chunks, true);
		free(h->frozen[i].late);
	}
	free(h->frozen);
	vg_slab_free_all(h->slab);
	vg_buf_release(&h->merge_buf);
	pthread_rwlock_destroy(&h->lock);
	pthread_mutex_destroy(&h->pin_mu);
	pthread_cond_destroy(&h->pin_cv);
	for (size_t i = 0; i < HEAD_STRIPES; i++)
		pthread_mutex_destroy(&h->stripes[i]);
	free(h);
}

void vg_head_rdlock(struct vg_head *h)
{
	pthread_rwlock_rdlock(&h->lock);
}

void vg_head_unlock(struct vg_head *h)
{
	pthread_rwlock_unlock(&h->lock);
}

size_t vg_head_num_series(struct vg_head *h)
{
	return (size_t)atomic_load_explicit(&h->num_series, memory_order_relaxed);
}

uint64_t vg_head_num_samples(struct vg_head *h)
{
	return atomic_load_explicit(&h->num_samples, memory_order_relaxed);
}

/* --- series ------------------------------------------------------------- */

int vg_head_get_or_create(struct vg_head *h, const struct vg_series *s, uint64_t hash,
			  uint32_t *id, bool *is_new)
{
	uint32_t found;
	int rc;

	*is_new = false;
	/* Most lookups find an existing series: a read lock lets queries run. */
	pthread_rwlock_rdlock(&h->lock);
	found = find_series(h, s, hash);
	pthread_rwlock_unlock(&h->lock);
	if (found != NONE) {
		*id = found;
		return 0;
	}

	pthread_rwlock_wrlock(&h->lock);
	/* Another writer may have created it meanwhile. */
	found = find_series(h, s, hash);
	if (found != NONE) {
		*id = found;
		rc = 0;
	} else {
		rc = create_series_wrlocked(h, s, hash, id);
		if (rc == 0)
			*is_new = true;
	}
	pthread_rwlock_unlock(&h->lock);
	return rc;
}

/* Whether the decoded key s is canonical (series.h): the labels strictly
 * sorted, no empty value, names and values valid. */
static bool is_canonical(struct vg_series *s)
{
	for (uint32_t i = 0; i < s->n_labels; i++) {
		if (s->labels[i].value.len == 0)
			return false;
		if (i > 0 && vg_str_cmp(s->labels[i - 1].name, s->labels[i].name) >= 0)
			return false;
	}
	/* Sorted and non-empty: canonicalize only validates, changes nothing. */
	return vg_series_canonicalize(s, NULL) == 0;
}

/* Makes the ids [n_series, id) absent slots, so that id is the next one. */
static int fill_gap_wrlocked(struct vg_head *h, uint32_t id)
{
	if (id <= h->n_series)
		return 0;
	if (series_reserve(h, id) != 0)
		return VG_ENOMEM;
	while (h->n_series < id) {
		*series_at(h, h->n_series++) = (struct series){ .key = NULL };
		h->n_absent++;
	}
	return 0;
}

int vg_head_restore(struct vg_head *h, uint32_t id, const uint8_t *key, size_t key_len)
{
	struct vg_series s;
	uint64_t hash;
	uint32_t got;
	int rc;

	if (key_len == 0 || vg_series_from_key(key, key_len, &s) != 0 || !is_canonical(&s))
		return VG_EINVAL;
	if (id == NONE)
		return VG_ELIMIT;
	hash = vg_series_key_hash(key, key_len);
	pthread_rwlock_wrlock(&h->lock);
	if (id < h->n_series) {
		/* The same record twice is harmless; another key under a known
		 * id, or a known key under another id, is a conflict. */
		const struct series *se = series_at(h, id);
		rc = !is_absent(se) && key_equals_series(h, se->key, &s) ? 0 : VG_EINVAL;
	} else if (find_series(h, &s, hash) != NONE) {
		rc = VG_EINVAL;
	} else if ((rc = fill_gap_wrlocked(h, id)) == 0) {
		rc = create_series_wrlocked(h, &s, hash, &got);
	}
	pthread_rwlock_unlock(&h->lock);
	return rc;
}

int vg_head_lookup(struct vg_head *h, const struct vg_series *s, uint64_t hash, uint32_t *id)
{
	uint32_t found;

	pthread_rwlock_rdlock(&h->lock);
	found = find_series(h, s, hash);
	pthread_rwlock_unlock(&h->lock);
	if (found == NONE)
		return VG_ENOENT;
	*id = found;
	return 0;
}

uint32_t vg_head_next_id(struct vg_head *h)
{
	uint32_t n;

	pthread_rwlock_rdlock(&h->lock);
	n = h->n_series;
	pthread_rwlock_unlock(&h->lock);
	return n;
}

/* --- samples ------------------------------------------------------------ */

static bool span_is_wide(int64_t min_t, int64_t max_t)
{
	return (uint64_t)max_t - (uint64_t)min_t >= SPAN_WIDE;
}

/* The bytes a chunk of finished enc needs after its header: len of its
 * own, and max_t if its span is wide. */
static size_t chunk_data_len(const struct vg_chunk_enc *enc, size_t len)
{
	bool wide = span_is_wide(vg_chunk_enc_min_ts(enc), vg_chunk_enc_max_ts(enc));

	return len + (wide ? sizeof(int64_t) : 0);
}

/* Fills c (of len bytes after its header, and max_t after them if the span
 * is wide) with n samples' chunk bytes p[0..len). */
static void chunk_fill_raw(struct hchunk *c, int64_t min_t, int64_t max_t, size_t n,
			   const uint8_t *p, size_t len)
{
	c->next = NULL;
	c->min_t = min_t;
	c->len = (uint16_t)len;
	c->n = (uint16_t)n;
	memcpy(c->data, p, len);
	if (span_is_wide(min_t, max_t)) {
		c->span = SPAN_WIDE;
		memcpy(c->data + len, &max_t, sizeof(max_t));
	} else {
		c->span = (uint32_t)((uint64_t)max_t - (uint64_t)min_t);
	}
}

/* Fills c (of chunk_data_len bytes after its header) with the finished
 * bytes p[0..len) of enc; len <= UINT16_MAX. */
static void chunk_fill(struct hchunk *c, const struct vg_chunk_enc *enc, const uint8_t *p, size_t len)
{
	chunk_fill_raw(c, vg_chunk_enc_min_ts(enc), vg_chunk_enc_max_ts(enc), vg_chunk_enc_samples(enc), p,
		       len);
}

static int64_t chunk_max_t(const struct hchunk *c)
{
	int64_t max_t;

	if (c->span != SPAN_WIDE)
		return (int64_t)((uint64_t)c->min_t + c->span);
	memcpy(&max_t, c->data + c->len, sizeof(max_t));
	return max_t;
}

/* Copies enc's finished bytes into a new chunk. */
static struct hchunk *chunk_from(struct vg_head *h, struct vg_chunk_enc *enc)
{
	const uint8_t *p;
	size_t len;
	struct hchunk *c;

	if (vg_chunk_enc_finish_in(enc, &h->enc_alloc) != 0)
		return NULL;
	p = vg_chunk_enc_bytes(enc, &len);
	if (len > UINT16_MAX || (c = vg_slab_alloc(h->slab, sizeof(*c) + chunk_data_len(enc, len))) == NULL)
		return NULL;
	chunk_fill(c, enc, p, len);
	return c;
}

static struct late_meta *chunk_late_meta(const struct hchunk *c)
{
	size_t data_len = c->len + (c->span == SPAN_WIDE ? sizeof(int64_t) : 0);

	return (struct late_meta *)(void *)((uint8_t *)(uintptr_t)c + late_meta_off(data_len));
}

/* The last chunk of a list, or NULL. */
static struct hchunk *chunks_last(struct hchunk *c)
{
	while (c != NULL && c->next != NULL)
		c = c->next;
	return c;
}

/* The number of the first in-order sample s holds (under its stripe):
 * every one since the head began is in its chunks or open chunk, or went
 * to a frozen set before them. */
static uint64_t in_base(const struct series *s)
{
	uint64_t n = open_samples(s);

	for (const struct hchunk *c = s->chunks; c != NULL; c = c->next)
		n += c->n;
	return s->in_ever - n;
}

/* The newest in-order timestamp, or INT64_MIN. */
static int64_t series_max_t(const struct series *s)
{
	const struct hchunk *last;

	if (open_samples(s) > 0)
		return vg_chunk_enc_max_ts(s->open);
	last = chunks_last(s->chunks);
	return last ? chunk_max_t(last) : INT64_MIN;
}

/* The late buffer's order for a flush: by time, then by arrival. */
static int late_order_cmp(const void *a, const void *b, void *arg)
{
	const struct late *late = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	if (late[x].t != late[y].t)
		return late[x].t < late[y].t ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* Sorts the late buffer into chunks, each sample's arrival kept beside it
 * (struct hchunk): as many chunks as it needs, a new one started where the
 * last takes no more (VG_ELIMIT: VG_CHUNK_MAX_SAMPLES, or a step over
 * VG_CHUNK_MAX_STEP_MS), as the in-order path does. Samples with equal
 * timestamps are stored once, the first to arrive (a retried batch carries
 * the same values). All or nothing: on a failure the chunks made are
 * freed and the buffer is kept whole. */
static int late_flush(struct vg_head *h, struct late_part *s)
{
	struct vg_chunk_enc enc;
	struct hchunk *made = NULL, **end = &made, *c;
	struct late_meta *m;
	uint32_t i, k, first = 0, lo, hi, out = 0, *order;
	uint64_t base = s->ever - s->n; /* the number of buf[0] */
	const uint8_t *p;
	size_t len;
	int rc = 0;

	if ((order = malloc(s->n * sizeof(*order))) == NULL)
		return VG_ENOMEM;
	for (i = 0; i < s->n; i++)
		order[i] = i;
	qsort_r(order, s->n, sizeof(*order), late_order_cmp, s->buf);
	for (i = 0; i < s->n; i++)
		if (out == 0 || s->buf[order[i]].t != s->buf[order[out - 1]].t)
			order[out++] = order[i];
	vg_chunk_enc_init(&enc);
	for (i = 0; i <= out && rc == 0; i++) {
		if (i < out && (rc = vg_chunk_enc_append(&enc, s->buf[order[i]].t, s->buf[order[i]].v)) != VG_ELIMIT)
			continue;
		/* enc holds order[first .. i): cut it, and start the next chunk
		 * with sample i. */
		if ((rc = vg_chunk_enc_finish(&enc)) != 0)
			break;
		p = vg_chunk_enc_bytes(&enc, &len);
		if (len > UINT16_MAX) {
			rc = VG_ELIMIT;
			break;
		}
		if ((c = vg_slab_alloc(h->slab, late_meta_off(chunk_data_len(&enc, len)) + sizeof(struct late_meta) +
						   (i - first) * sizeof(uint32_t))) == NULL) {
			rc = VG_ENOMEM;
			break;
		}
		chunk_fill(c, &enc, p, len);
		/* Its arrivals, from the first of them to arrive: a snapshot
		 * that counted ord_lo late samples or fewer sees none of it,
		 * one that counted ord_hi or more all of it. */
		for (lo = UINT32_MAX, hi = 0, k = first; k < i; k++) {
			lo = order[k] < lo ? order[k] : lo;
			hi = order[k] > hi ? order[k] : hi;
		}
		m = chunk_late_meta(c);
		m->ord_lo = base + lo;
		m->ord_hi = base + hi + 1;
		for (k = first; k < i; k++)
			m->arrival[k - first] = order[k] - lo;
		c->next = NULL;
		*end = c;
		end = &c->next;
		vg_chunk_enc_release(&enc);
		vg_chunk_enc_init(&enc);
		first = i;
		if (i < out)
			rc = vg_chunk_enc_append(&enc, s->buf[order[i]].t, s->buf[order[i]].v);
	}
	vg_chunk_enc_release(&enc);
	free(order);
	if (rc != 0) {
		/* No memory (a chunk's limits cannot fail a sample that starts
		 * one): the caller tries again at the next sample. */
		chunks_free(h, made, true);
		return rc;
	}
	*end = s->chunks;
	s->chunks = made;
	s->n = 0;
	return 0;
}

/*
 * Merges the open chunk into the series' last finished chunk, as one chunk
 * in columns (chunk.h: VG_CHUNK_MAX_MERGED): 720 samples in one chunk cost
 * one header, one malloc and one pair of column headers instead of three,
 * and the columns of the whole run take their blocks' minimum and gcd over
 * more samples. Both are decoded and encoded again, once per
 * VG_CHUNK_MAX_SAMPLES appended. Readers decode under the stripe, which
 * the caller holds, so the merged chunk replaces the two at once and the
 * old one is freed at once: no reader holds it. The samples keep their
 * order, so the numbers snapshots count (in_base) still hold. 0 when
 * merged; 1 when the two do not merge (too many samples, a step too long,
 * or the columns larger than the two apart) or there is no memory for it:
 * the caller cuts the open chunk alone.
 */
static int merge_open(struct vg_head *h, struct series *s)
{
	int64_t ts[VG_CHUNK_MAX_MERGED];
	double v[VG_CHUNK_MAX_MERGED];
	struct hchunk *t = chunks_last(s->chunks), *m, **at;
	size_t n_open = open_samples(s), n_old, n_new, open_len, len;
	struct vg_buf *b = &h->merge_buf;
	const uint8_t *open_p;
	struct vg_err err;

	if (t == NULL || n_open == 0 || t->n + n_open > VG_CHUNK_MAX_MERGED ||
	    (uint64_t)vg_chunk_enc_min_ts(s->open) - (uint64_t)chunk_max_t(t) > VG_CHUNK_MAX_STEP_MS)
		return 1;
	open_p = vg_chunk_enc_bytes(s->open, &open_len);
	if (vg_chunk_decode(t->data, t->len, INT64_MAX, SIZE_MAX, ts, v, &n_old, &err) != 0 ||
	    n_old != t->n ||
	    vg_chunk_decode(open_p, open_len, INT64_MAX, SIZE_MAX, ts + n_old, v + n_old, &n_new, &err) != 0 ||
	    n_new != n_open)
		return 1; /* cannot happen: the head's own bytes */
	vg_buf_reset(b);
	if (vg_chunk_encode_cols(ts, v, n_old + n_new, b) != 0)
		return 1;
	len = b->len;
	/* Mostly 15-25% smaller than the two; never keep a larger one (values
	 * whose kinds differ from chunk to chunk). */
	if (len > UINT16_MAX || len >= (size_t)t->len + open_len)
		return 1;
	m = vg_slab_alloc(h->slab, sizeof(*m) + len + (span_is_wide(t->min_t, ts[n_old + n_new - 1]) ? sizeof(int64_t) : 0));
	if (m == NULL)
		return 1;
	chunk_fill_raw(m, t->min_t, ts[n_old + n_new - 1], n_old + n_new, b->data, len);
	for (at = &s->chunks; *at != t; at = &(*at)->next)
		;
	*at = m;
	vg_slab_free(h->slab, t, chunk_alloc_bytes(t, false));
	open_release(h, s);
	return 0;
}

/* Finishes the open chunk into a chunk of its own, after the finished
 * ones; 0 or VG_ENOMEM (the chunk stays open). */
static int cut_open(struct vg_head *h, struct series *s)
{
	struct hchunk *c, *last;

	if (s->open == NULL)
		return 0;
	if ((c = chunk_from(h, s->open)) == NULL)
		return VG_ENOMEM;
	if ((last = chunks_last(s->chunks)) != NULL)
		last->next = c;
	else
		s->chunks = c;
	open_release(h, s);
	return 0;
}

/* A full open chunk: merged into the last finished one, else cut alone.
 * (A freeze cuts without merging: the frozen set lives until its blocks
 * are written, and the writer waits for the freeze.) */
static int merge_or_cut(struct vg_head *h, struct series *s)
{
	if (merge_open(h, s) == 0)
		return 0;
	return cut_open(h, s);
}

/* Gives s an empty open chunk (it has none); 0 or VG_ENOMEM. */
static int open_new(struct vg_head *h, struct series *s)
{
	if ((s->open = vg_slab_alloc(h->slab, sizeof(*s->open))) == NULL)
		return VG_ENOMEM;
	vg_chunk_enc_init(s->open);
	return 0;
}

/* Adds one sample; returns 1 if it was stored, 0 if it repeated the
 * newest timestamp (stored once), or a negative error. */
static int series_add_sample(struct vg_head *h, struct series *s, int64_t t, double v)
{
	int64_t max_t = series_max_t(s);
	struct late_part *lp;
	int rc;

	if (t > max_t) {
		/* A cut that finished the chunk but found no room for it in the
		 * arena left it finished here: cut it again first. */
		if (s->open && vg_chunk_enc_is_finished(s->open) && (rc = cut_open(h, s)) != 0)
			return rc;
		if (s->open == NULL && (rc = open_new(h, s)) != 0)
			return rc;
		rc = vg_chunk_enc_append_in(s->open, &h->enc_alloc, t, v);
		if (rc == VG_ELIMIT) {
			if ((rc = merge_or_cut(h, s)) != 0 || (rc = open_new(h, s)) != 0)
				return rc;
			rc = vg_chunk_enc_append_in(s->open, &h->enc_alloc, t, v);
		}
		if (rc != 0)
			return rc;
		__atomic_store_n(&s->in_ever, s->in_ever + 1, __ATOMIC_RELEASE);
		/* A full chunk takes no more: finish it now rather than at the
		 * next sample, so it is kept in its finished (smaller) form. A
		 * failure keeps it open; the next append cuts it. */
		if (open_samples(s) == VG_CHUNK_MAX_SAMPLES)
			(void)merge_or_cut(h, s);
		return 1;
	}
	if (t == max_t)
		return 0;
	if (s->late == NULL) {
		if ((lp = calloc(1, sizeof(*lp))) == NULL)
			return VG_ENOMEM;
		__atomic_store_n(&s->late, lp, __ATOMIC_RELEASE);
	}
	lp = s->late;
	if (lp->n == lp->cap) {
		uint32_t cap = lp->cap ? lp->cap * 2 : 8;
		struct late *p;
		if (lp->cap >= (1u << 26))
			return VG_ELIMIT;
		p = realloc(lp->buf, cap * sizeof(*p));
		if (p == NULL)
			return VG_ENOMEM;
		lp->buf = p;
		lp->cap = cap;
	}
	lp->buf[lp->n++] = (struct late){ t, v };
	__atomic_store_n(&lp->ever, lp->ever + 1, __ATOMIC_RELEASE);
	/* At LATE_CHUNK samples, and at each one after a flush that found no
	 * memory until one finds it. */
	if (lp->n >= LATE_CHUNK && late_flush(h, lp) == 0 && lp->cap > LATE_CHUNK) {
		/* A burst of late data is over: give back its room. */
		free(lp->buf);
		lp->buf = NULL;
		lp->cap = 0;
	}
	return 1;
}

int vg_head_append(struct vg_head *h, size_t n, const uint32_t *ids, const int64_t *ts_ms,
		   const double *values)
{
	pthread_mutex_t *held = NULL;
	uint64_t added = 0;
	int rc = 0;

	/* The writer thread is the only one that changes the series table,
	 * so it reads it without the index lock; each series' samples are
	 * guarded by its stripe, which readers take only for one series. */
	for (size_t i = 0; i < n; i++) {
		if (ids[i] >= h->n_series || is_absent(series_at(h, ids[i]))) {
			rc = VG_EINVAL;
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_t *m = stripe(h, ids[i]);
		int r;

		/* A batch touches each of its series once, in no useful order
		 * for the cache: fetch a few series ahead, and the chunk bytes
		 * of the one after next. */
		if (i + PREFETCH_AHEAD < n)
			__builtin_prefetch(series_at(h, ids[i + PREFETCH_AHEAD]), 1);
		if (i + 4 < n)
			__builtin_prefetch(series_at(h, ids[i + 4])->open, 1);
		if (i + 2 < n && series_at(h, ids[i + 2])->open)
			__builtin_prefetch(series_at(h, ids[i + 2])->open->buf, 1);

		if (m != held) {
			if (held)
				pthread_mutex_unlock(held);
			pthread_mutex_lock(m);
			held = m;
		}
		r = series_add_sample(h, series_at(h, ids[i]), ts_ms[i], values[i]);
		if (r < 0) {
			rc = r;
			break;
		}
		added += (uint64_t)r;
	}
	if (held)
		pthread_mutex_unlock(held);
out:
	atomic_fetch_add_explicit(&h->num_samples, added, memory_order_relaxed);
	return rc;
}

/* --- memory figures ----------------------------------------------------- */

static size_t arena_cap(const struct arena_block *b, size_t *n_blocks)
{
	size_t cap = 0;

	for (; b != NULL; b = b->next, (*n_blocks)++)
		cap += sizeof(*b) + b->cap;
	return cap;
}

/* The bytes of a chunk list in the arena: *bytes encoded, *hdr the rest. */
static uint64_t chunks_mem(const struct hchunk *c, bool is_late, size_t *bytes, size_t *hdr)
{
	uint64_t n = 0;

	for (; c != NULL; c = c->next, n++) {
		*bytes += c->len;
		*hdr += chunk_alloc_bytes(c, is_late) - c->len;
	}
	return n;
}

void vg_head_memory(struct vg_head *h, struct vg_head_mem *out)
{
	size_t arena_blocks = 0, key_arena, sym_index, sym_slack, sym_allocs;
	struct vg_slab_mem sm;

	memset(out, 0, sizeof(*out));
	pthread_rwlock_rdlock(&h->lock);
	out->series = (size_t)h->n_pages * SERIES_PAGE * sizeof(struct series) +
		      (size_t)h->cap_pages * sizeof(*h->pages);
	out->series_index = (size_t)h->series_tab.cap * sizeof(struct hslot);
	out->postings = (size_t)h->cap_postings * sizeof(*h->postings) +
			(size_t)h->posting_tab.cap * sizeof(struct hslot) +
			(size_t)h->cap_lnames * sizeof(*h->lnames) +
			(size_t)h->lname_tab.cap * sizeof(struct hslot);
	out->allocs = 8 + h->n_pages;
	for (uint32_t i = 0; i < h->n_postings; i++) {
		if (h->postings[i].cap > POSTING_INLINE) {
			out->postings += h->postings[i].cap;
			out->allocs++;
		}
	}
	key_arena = arena_cap(h->arena, &arena_blocks);
	for (uint32_t id = 0; id < h->n_series; id++) {
		const struct series *s = series_at(h, id);
		size_t open_len;

		if (!is_absent(s)) {
			const uint8_t *p = s->key;
			uint32_t n = key_next(&p);
			(void)key_next(&p);
			for (uint32_t i = 0; i < 2 * n; i++)
				(void)key_next(&p);
			out->keys += (size_t)(p - s->key);
		}
		pthread_mutex_lock(stripe(h, id));
		out->chunks += chunks_mem(s->chunks, false, &out->chunk_bytes, &out->chunk_headers);
		if (s->late)
			out->chunks += chunks_mem(s->late->chunks, true, &out->chunk_bytes, &out->chunk_headers);
		open_len = 0;
		if (s->open)
			(void)vg_chunk_enc_bytes(s->open, &open_len);
		if (open_len) {
			out->open_chunks++;
			out->open_bytes += open_len;
			out->open_slack += vg_chunk_enc_alloc_bytes(s->open) - open_len;
		}
		if (s->open)
			out->open_slack += sizeof(*s->open);
		if (s->late) {
			out->late += sizeof(*s->late) + s->late->cap * sizeof(*s->late->buf);
			out->allocs += s->late->buf ? 2 : 1;
		}
		if (h->frozen && id < h->n_frozen) {
			const struct frozen *f = &h->frozen[id];
			out->chunks += chunks_mem(f->chunks, false, &out->chunk_bytes, &out->chunk_headers);
			out->chunks += chunks_mem(f->late_chunks, true, &out->chunk_bytes, &out->chunk_headers);
			if (f->late) {
				out->late += f->n_late * sizeof(*f->late);
				out->allocs++;
			}
		}
		pthread_mutex_unlock(stripe(h, id));
	}
	if (h->frozen)
		out->frozen = (size_t)h->n_frozen * sizeof(*h->frozen);
	pthread_rwlock_unlock(&h->lock);
	vg_symtab_memory(h->syms, &out->symbols, &sym_index, &sym_slack, &sym_allocs);
	out->symbols += sym_index;
	out->key_slack = key_arena - out->keys + sym_slack;
	/* Chunks and open buffers are slab slots, not mallocs, but for the few
	 * larger than VG_SLAB_MAX; the slabs' resident pages beyond the bytes
	 * the head asked for are its waste. */
	vg_slab_memory(h->slab, &sm);
	out->alloc_resident = sm.resident;
	out->alloc_waste = sm.resident - (sm.asked - sm.large_bytes);
	out->allocs += arena_blocks + sym_allocs + sm.large_n;
}

/* --- reading under the lock -------------------------------------------- */

bool vg_head_series_locked(struct vg_head *h, uint32_t id, struct vg_series *out)
{
	if (id >= h->n_series || is_absent(series_at(h, id)))
		return false;
	key_decode(h, series_at(h, id)->key, out);
	return true;
}

int vg_head_series_key_locked(struct vg_head *h, uint32_t id, struct vg_buf *out)
{
	struct vg_series s;

	if (!vg_head_series_locked(h, id, &s))
		return 0;
	vg_series_key(&s, out);
	return vg_buf_failed(out) ? VG_ENOMEM : 0;
}

static int samples_push(struct vg_samples *out, int64_t t, double v)
{
	if (out->n == out->cap && vg_samples_reserve(out, out->cap ? out->cap * 2 : 256) != 0)
		return VG_ENOMEM;
	out->ts_ms[out->n] = t;
	out->values[out->n] = v;
	out->n++;
	return 0;
}

/* Appends, of the first k samples of chunk p[0..len) (UINT64_MAX: all,
 * found by seeking), those within [min_t, max_t]. A snapshot reads a
 * chunk appended to since it was taken up to its cut, counting from the
 * start. */
static int decode_first(const uint8_t *p, size_t len, uint64_t k, int64_t min_t, int64_t max_t,
			struct vg_samples *out)
{
	size_t n, i = 0, need = out->n + VG_CHUNK_MAX_MERGED;
	int64_t *ts;
	struct vg_err err;
	int rc;

	if (len == 0 || k == 0)
		return 0;
	/* straight into out, with room for a whole chunk */
	if (need > out->cap && vg_samples_reserve(out, need > 2 * out->cap ? need : 2 * out->cap) != 0)
		return VG_ENOMEM;
	ts = out->ts_ms + out->n;
	if ((rc = vg_chunk_decode(p, len, max_t, k > SIZE_MAX ? SIZE_MAX : (size_t)k, ts, out->values + out->n, &n,
				  &err)) != 0)
		return rc;
	if (n && ts[0] < min_t) {
		while (i < n && ts[i] < min_t)
			i++;
		memmove(ts, ts + i, (n - i) * sizeof(*ts));
		memmove(out->values + out->n, out->values + out->n + i, (n - i) * sizeof(*out->values));
	}
	out->n += n - i;
	return 0;
}

/* Appends the samples of chunk p[0..len) within [min_t, max_t]. */
static int decode_into(const uint8_t *p, size_t len, int64_t min_t, int64_t max_t,
		       struct vg_samples *out)
{
	return decode_first(p, len, UINT64_MAX, min_t, max_t, out);
}

/* Appends the samples of late chunk c within [min_t, max_t] that arrived
 * before late sample number lim. */
static int decode_arrived(const struct hchunk *c, uint64_t lim, int64_t min_t, int64_t max_t,
			  struct vg_samples *out)
{
	const struct late_meta *m = chunk_late_meta(c);
	struct vg_chunk_it it;
	struct vg_err err;
	uint32_t k = 0;
	int64_t t;
	double v;
	int rc;

	if ((rc = vg_chunk_it_init(&it, c->data, c->len, &err)) != 0)
		return rc;
	for (rc = vg_chunk_it_next(&it, &t, &v); rc == 1 && k < c->n && t <= max_t;
	     rc = vg_chunk_it_next(&it, &t, &v), k++)
		if (t >= min_t && m->ord_lo + m->arrival[k] < lim && samples_push(out, t, v) != 0)
			return VG_ENOMEM;
	return rc < 0 ? rc : 0;
}

static int sample_cmp(const void *a, const void *b)
{
	const struct late *x = a, *y = b;
	return x->t < y->t ? -1 : x->t > y->t;
}

/* What a read merges: in-order chunks and an open chunk (either may be
 * absent), and data apart from them: late chunks and late samples. */
struct sview {
	const struct hchunk *chunks;
	const struct vg_chunk_enc *open;
	const struct hchunk *late_chunks;
	const struct late *late;
	uint32_t n_late;
	uint64_t in_first;   /* the number of its first in-order sample */
	uint64_t late_first; /* the number of late[0] */
	const struct vg_head_snap *snap; /* what the read may see; NULL: all */
};

static int read_view(const struct sview *in, const struct sview *extra, int64_t min_t,
		     int64_t max_t, struct vg_samples *out);

static struct sview live_view(const struct series *s, const struct vg_head_snap *snap)
{
	const struct late_part *lp = s->late;

	if (lp == NULL)
		return (struct sview){ s->chunks, s->open, NULL, NULL, 0, in_base(s), 0, snap };
	return (struct sview){ s->chunks, s->open, lp->chunks, lp->buf, lp->n, in_base(s), lp->ever - lp->n, snap };
}

/* The frozen part of a series: its chunks were in order when frozen. */
static struct sview frozen_view(const struct frozen *f, const struct vg_head_snap *snap)
{
	return (struct sview){ f->chunks, NULL, f->late_chunks, f->late, f->n_late, f->in_base,
			       f->late_end - f->n_late, snap };
}

static const struct frozen *frozen_of(const struct vg_head *h, uint32_t id)
{
	return h->frozen && id < h->n_frozen ? &h->frozen[id] : NULL;
}

void vg_head_snap_locked(struct vg_head *h, uint32_t id, struct vg_head_snap *out)
{
	const struct late_part *lp;

	if (id >= h->n_series) {
		out->in_ord = out->late_ord = 0;
		return;
	}
	out->in_ord = __atomic_load_n(&series_at(h, id)->in_ever, __ATOMIC_ACQUIRE);
	lp = __atomic_load_n(&series_at(h, id)->late, __ATOMIC_ACQUIRE);
	out->late_ord = lp ? __atomic_load_n(&lp->ever, __ATOMIC_ACQUIRE) : 0;
}

int vg_head_read_locked(struct vg_head *h, uint32_t id, int64_t min_t, int64_t max_t,
			struct vg_samples *out)
{
	return vg_head_read_snap_locked(h, id, NULL, min_t, max_t, out);
}

int vg_head_read_snap_locked(struct vg_head *h, uint32_t id, const struct vg_head_snap *snap,
			     int64_t min_t, int64_t max_t, struct vg_samples *out)
{
	return vg_head_read_snap_ahead_locked(h, id, snap, min_t, max_t, UINT32_MAX, out);
}

int vg_head_read_snap_ahead_locked(struct vg_head *h, uint32_t id, const struct vg_head_snap *snap,
				   int64_t min_t, int64_t max_t, uint32_t next, struct vg_samples *out)
{
	const struct frozen *f;
	struct sview live, fz;
	int rc;

	out->n = 0;
	if (id >= h->n_series || min_t > max_t)
		return 0;
	/* Decoding under the stripe: a few microseconds for a series of two
	 * hours, and nothing to copy or pin. */
	pthread_mutex_lock(stripe(h, id));
	/* The next series' record (whatever its stripe: only its address is
	 * taken here) and its stripe, fetched while this one decodes; then,
	 * where this stripe guards them too (a host's series are
	 * neighbours), the first lines of its chunks, for the caller's work
	 * on this one's samples. */
	if (next < h->n_series) {
		const struct series *ns = series_at(h, next);
		__builtin_prefetch(ns);
		__builtin_prefetch((const char *)ns + sizeof(*ns) - 1);
		__builtin_prefetch(stripe(h, next));
	}
	live = live_view(series_at(h, id), snap);
	f = frozen_of(h, id);
	if (f)
		fz = frozen_view(f, snap);
	rc = read_view(&live, f ? &fz : NULL, min_t, max_t, out);
	if (next < h->n_series && stripe(h, next) == stripe(h, id)) {
		const struct series *ns = series_at(h, next);
		__builtin_prefetch(ns->chunks);
		if (ns->open)
			__builtin_prefetch(ns->open->buf);
	}
	pthread_mutex_unlock(stripe(h, id));
	return rc;
}

/* Appends the late part of v within [min_t, max_t] to out: of a
 * snapshot, the late samples numbered below its late_ord only. */
static int gather_apart(const struct sview *v, int64_t min_t, int64_t max_t, struct vg_samples *out)
{
	uint64_t lim = v->snap ? v->snap->late_ord : UINT64_MAX;
	int rc = 0;

	for (const struct hchunk *c = v->late_chunks; c && rc == 0; c = c->next) {
		if (chunk_max_t(c) < min_t || c->min_t > max_t || chunk_late_meta(c)->ord_lo >= lim)
			continue;
		if (chunk_late_meta(c)->ord_hi <= lim)
			rc = decode_into(c->data, c->len, min_t, max_t, out);
		else
			rc = decode_arrived(c, lim, min_t, max_t, out);
	}
	for (uint32_t i = 0; i < v->n_late && rc == 0 && v->late_first + i < lim; i++)
		if (v->late[i].t >= min_t && v->late[i].t <= max_t)
			rc = samples_push(out, v->late[i].t, v->late[i].v);
	return rc;
}

/* The in-order part: of a snapshot, the samples numbered below its in_ord
 * (in-order samples are numbered in time order, so that is a prefix). */
static int gather_in_order(const struct sview *v, int64_t min_t, int64_t max_t, struct vg_samples *out)
{
	uint64_t lim = v->snap ? v->snap->in_ord : UINT64_MAX, ord = v->in_first;
	const uint8_t *p;
	size_t len = 0;
	int rc = 0;

	for (const struct hchunk *c = v->chunks; c && rc == 0 && ord < lim; ord += c->n, c = c->next) {
		__builtin_prefetch(c->next);
		if (chunk_max_t(c) < min_t || c->min_t > max_t)
			continue;
		if (lim - ord >= c->n)
			rc = decode_into(c->data, c->len, min_t, max_t, out);
		else
			rc = decode_first(c->data, c->len, lim - ord, min_t, max_t, out);
	}
	p = v->open ? vg_chunk_enc_bytes(v->open, &len) : NULL;
	if (rc == 0 && len && ord < lim && vg_chunk_enc_max_ts(v->open) >= min_t) {
		if (lim - ord >= vg_chunk_enc_samples(v->open))
			rc = decode_into(p, len, min_t, max_t, out);
		else
			rc = decode_first(p, len, lim - ord, min_t, max_t, out);
	}
	return rc;
}

static int read_view(const struct sview *in, const struct sview *extra, int64_t min_t,
		     int64_t max_t, struct vg_samples *out)
{
	struct late *late = NULL;
	size_t n_late = 0, i, j, k, n_in;
	int rc;

	if ((rc = gather_in_order(in, min_t, max_t, out)) != 0)
		return rc;
	if (in->late_chunks == NULL && in->n_late == 0 && extra == NULL)
		return 0;

	/* Data apart: gather it after the in-order samples, then merge. */
	n_in = out->n;
	rc = gather_apart(in, min_t, max_t, out);
	if (rc == 0 && extra)
		rc = gather_in_order(extra, min_t, max_t, out);
	if (rc == 0 && extra)
		rc = gather_apart(extra, min_t, max_t, out);
	if (rc != 0 || out->n == n_in)
		return rc;
	n_late = out->n - n_in;
	late = malloc(n_late * sizeof(*late));
	if (late == NULL)
		return VG_ENOMEM;
	for (i = 0; i < n_late; i++)
		late[i] = (struct late){ out->ts_ms[n_in + i], out->values[n_in + i] };
	qsort(late, n_late, sizeof(*late), sample_cmp);
	/* Merge from the back into out, which has room for both; on equal
	 * times the in-order sample wins, and late duplicates collapse. */
	i = n_in;
	j = n_late;
	k = out->n;
	while (j > 0) {
		if (i > 0 && out->ts_ms[i - 1] >= late[j - 1].t) {
			if (out->ts_ms[i - 1] == late[j - 1].t) {
				j--;
				continue;
			}
			k--;
			out->ts_ms[k] = out->ts_ms[i - 1];
			out->values[k] = out->values[i - 1];
			i--;
		} else {
			if (j > 1 && late[j - 2].t == late[j - 1].t) {
				j--;
				continue;
			}
			k--;
			out->ts_ms[k] = late[j - 1].t;
			out->values[k] = late[j - 1].v;
			j--;
		}
	}
	/* Duplicates left a gap of k - i slots before the merged run. */
	if (k > i) {
		memmove(out->ts_ms + i, out->ts_ms + k, (out->n - k) * sizeof(*out->ts_ms));
		memmove(out->values + i, out->values + k, (out->n - k) * sizeof(*out->values));
		out->n -= k - i;
	}
	free(late);
	return 0;
}

/* --- selection: the head as a label index of postings.h ---------------- */

static int hx_label_values(void *index, struct vg_str name, vg_label_value_fn fn, void *arg)
{
	struct vg_head *h = index;
	uint32_t ln = find_lname_str(h, name);
	int rc = 0;

	if (ln == NONE)
		return 0;
	for (uint32_t p = h->lnames[ln].first_posting; p != NONE && rc == 0;
	     p = h->postings[p].next_value)
		rc = fn(arg, vg_symtab_str(h->syms, h->postings[p].value), p);
	return rc;
}

/* Appends the ids of p, decoded from its deltas. */
static int append_ids(struct vg_postings *out, const struct posting *p)
{
	const uint8_t *b = posting_bytes(p);
	uint32_t id = 0, *o;

	if (vg_postings_reserve(out, p->n) != 0)
		return VG_ENOMEM;
	o = out->ids + out->n;
	for (uint32_t k = 0; k < p->n; k++) {
		id += key_next(&b);
		o[k] = id;
	}
	out->n += p->n;
	return 0;
}

static int hx_postings_ref(void *index, uint64_t ref, struct vg_postings *out)
{
	struct vg_head *h = index;
	const struct posting *p = &h->postings[ref];

	return append_ids(out, p);
}

static int hx_postings(void *index, struct vg_str name, struct vg_str value, struct vg_postings *out)
{
	struct vg_head *h = index;
	uint32_t p = find_posting_str(h, name, value);

	return p == NONE ? 0 : append_ids(out, &h->postings[p]);
}

static int hx_all(void *index, struct vg_postings *out)
{
	struct vg_head *h = index;

	if (vg_postings_reserve(out, h->n_series) != 0)
		return VG_ENOMEM;
	for (uint32_t id = 0; id < h->n_series; id++)
		if (!is_absent(series_at(h, id))) /* absent slots match nothing */
			out->ids[out->n++] = id;
	return 0;
}

static const struct vg_label_index_ops head_index_ops = {
	hx_label_values, hx_postings_ref, hx_postings, hx_all,
};

int vg_head_select_locked(struct vg_head *h, const struct vg_selector *sel, uint32_t **ids,
			  size_t *n)
{
	struct vg_label_index ix = { &head_index_ops, h };
	struct vg_postings out = VG_POSTINGS_INIT;
	int rc = vg_postings_select(&ix, sel, &out, NULL);

	*ids = NULL;
	*n = 0;
	if (rc != 0) {
		vg_postings_release(&out);
		return rc;
	}
	if (out.n == 0) {
		vg_postings_release(&out);
		return 0;
	}
	*ids = out.ids;
	*n = out.n;
	return 0;
}

static int str_cmp(const void *a, const void *b)
{
	return vg_str_cmp(*(const struct vg_str *)a, *(const struct vg_str *)b);
}

int vg_head_label_names_locked(struct vg_head *h, struct vg_str **names, size_t *n)
{
	struct vg_str *v;

	*names = NULL;
	*n = 0;
	if (h->n_lnames == 0)
		return 0;
	v = malloc(h->n_lnames * sizeof(*v));
	if (v == NULL)
		return VG_ENOMEM;
	for (uint32_t i = 0; i < h->n_lnames; i++)
		v[i] = vg_symtab_str(h->syms, h->lnames[i].name);
	qsort(v, h->n_lnames, sizeof(*v), str_cmp);
	*names = v;
	*n = h->n_lnames;
	return 0;
}

int vg_head_label_values_locked(struct vg_head *h, const char *name, struct vg_str **values,
				size_t *n)
{
	size_t count = 0, i = 0;
	uint32_t ln = find_lname_str(h, vg_str_c(name)), p;
	struct vg_str *v;

	*values = NULL;
	*n = 0;
	if (ln == NONE)
		return 0;
	for (p = h->lnames[ln].first_posting; p != NONE; p = h->postings[p].next_value)
		count++;
	if (count == 0)
		return 0;
	v = malloc(count * sizeof(*v));
	if (v == NULL)
		return VG_ENOMEM;
	for (p = h->lnames[ln].first_posting; p != NONE; p = h->postings[p].next_value)
		v[i++] = vg_symtab_str(h->syms, h->postings[p].value);
	qsort(v, count, sizeof(*v), str_cmp);
	*values = v;
	*n = count;
	return 0;
}

/* --- sealing: the frozen set ---------------------------------------------- */

int vg_head_freeze(struct vg_head *h)
{
	struct frozen *fz;
	uint32_t n = h->n_series;

	if (h->frozen != NULL)
		return VG_EINVAL;
	if (n == 0)
		return 0;
	fz = calloc(n, sizeof(*fz));
	if (fz == NULL)
		return VG_ENOMEM;
	/* Finish every open chunk first: nothing after this may fail. */
	for (uint32_t id = 0; id < n; id++) {
		struct series *s = series_at(h, id);
		int rc;

		if (open_samples(s) == 0)
			continue;
		pthread_mutex_lock(stripe(h, id));
		rc = cut_open(h, s);
		pthread_mutex_unlock(stripe(h, id));
		if (rc != 0) {
			free(fz);
			return rc; /* the finished chunks stay: they read the same */
		}
	}
	pthread_rwlock_wrlock(&h->lock);
	h->frozen = fz;
	h->n_frozen = n;
	pthread_rwlock_unlock(&h->lock);
	for (uint32_t id = 0; id < n; id++) {
		struct series *s = series_at(h, id);

		pthread_mutex_lock(stripe(h, id));
		fz[id] = (struct frozen){ s->chunks, NULL, NULL, 0, in_base(s), 0 };
		if (s->late) {
			fz[id].late_chunks = s->late->chunks;
			fz[id].late = s->late->buf;
			fz[id].n_late = s->late->n;
			fz[id].late_end = s->late->ever;
			s->late->chunks = NULL;
			s->late->buf = NULL;
			s->late->n = s->late->cap = 0;
		}
		s->chunks = NULL;
		pthread_mutex_unlock(stripe(h, id));
	}
	return 0;
}

uint32_t vg_head_frozen_series(struct vg_head *h)
{
	uint32_t n;

	pthread_rwlock_rdlock(&h->lock);
	n = h->frozen ? h->n_frozen : 0;
	pthread_rwlock_unlock(&h->lock);
	return n;
}

int vg_head_read_frozen(struct vg_head *h, uint32_t id, struct vg_samples *out)
{
	const struct frozen *f;
	struct sview v;
	int rc = 0;

	out->n = 0;
	pthread_rwlock_rdlock(&h->lock);
	pthread_mutex_lock(stripe(h, id));
	if ((f = frozen_of(h, id)) != NULL) {
		v = frozen_view(f, NULL);
		rc = read_view(&v, NULL, INT64_MIN, INT64_MAX, out);
	}
	pthread_mutex_unlock(stripe(h, id));
	pthread_rwlock_unlock(&h->lock);
	return rc;
}

uint64_t vg_head_pin(struct vg_head *h)
{
	uint64_t g;

	pthread_mutex_lock(&h->pin_mu);
	g = h->pin_gen;
	h->pins[g & 1]++;
	pthread_mutex_unlock(&h->pin_mu);
	return g;
}

void vg_head_unpin(struct vg_head *h, uint64_t pin)
{
	pthread_mutex_lock(&h->pin_mu);
	if (--h->pins[pin & 1] == 0)
		pthread_cond_broadcast(&h->pin_cv);
	pthread_mutex_unlock(&h->pin_mu);
}

void vg_head_drop_frozen(struct vg_head *h)
{
	struct frozen *fz;
	uint32_t n;

	/* Readers that pinned the head before now may still look for these
	 * samples here (their selection names no block that holds them):
	 * wait for them; later ones find the blocks. */
	pthread_mutex_lock(&h->pin_mu);
	{
		uint64_t old = h->pin_gen++;
		while (h->pins[old & 1] > 0)
			pthread_cond_wait(&h->pin_cv, &h->pin_mu);
	}
	pthread_mutex_unlock(&h->pin_mu);

	pthread_rwlock_rdlock(&h->lock);
	fz = h->frozen;
	n = h->n_frozen;
	pthread_rwlock_unlock(&h->lock);
	if (fz == NULL)
		return;
	/* Entry by entry under its stripe, so no read is in the middle of one;
	 * then the array, under the write lock, so no read holds it. */
	for (uint32_t id = 0; id < n; id++) {
		struct frozen f;

		pthread_mutex_lock(stripe(h, id));
		f = fz[id];
		fz[id] = (struct frozen){ NULL, NULL, NULL, 0, 0, 0 };
		pthread_mutex_unlock(stripe(h, id));
		/* no reader reaches them now */
		chunks_free(h, f.chunks, false);
		chunks_free(h, f.late_chunks, true);
		free(f.late);
	}
	pthread_rwlock_wrlock(&h->lock);
	h->frozen = NULL;
	h->n_frozen = 0;
	pthread_rwlock_unlock(&h->lock);
	free(fz);
}
