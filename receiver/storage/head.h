/*
 * head.h: the receiver's in-memory store of recent samples, per series, with
 * an inverted index (label pair -> sorted series ids) for selection.
 *
 * Series ids are dense, assigned from 0 in order of creation, never reused
 * while the head lives; the WAL records them, so replay recreates the same
 * ids. Samples of a series are kept in compressed chunks (chunk.h), in time
 * order; a sample older than the newest is kept apart and merged when read;
 * a timestamp is stored once (against the in-order samples the first one
 * stored wins; retried batches carry the same values anyway).
 *
 * Threads and locks (docs/threads.md): one writer thread (ingest's) creates
 * series and appends samples; any number of readers. The index (series
 * table, keys, the symbol table of their strings, postings, label names)
 * is guarded by an rwlock that the
 * writer takes only to create a series; functions ending in _locked expect
 * the caller to hold the read lock (vg_head_rdlock / vg_head_unlock) and
 * return views valid until it is released. The samples of each series are
 * guarded by a stripe mutex (shared by runs of 64 ids) that an append and
 * a read of that series take for microseconds. So a query that reads many
 * series holds the read lock for one series at a time, and the writer's
 * appends never wait for a query. Lock order: the index lock, then a
 * stripe, then the chunk allocator's own mutex (slab.h, a leaf); no other
 * lock is taken while holding any of them.
 *
 * Sealing the head into block files, and dropping what they hold, belongs
 * to the block layer (docs/storage-format.md).
 */
#ifndef VG_HEAD_H
#define VG_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/series.h"
#include "receiver/storage/samples.h"

struct vg_buf;
struct vg_err;
struct vg_selector;

struct vg_head;

struct vg_head *vg_head_new(void);
void vg_head_free(struct vg_head *h);

/*
 * Looks up canonical s (hash = vg_series_hash(s)) and returns its id,
 * creating the series if new (then *is_new is true and the caller must log
 * it to the WAL before acknowledging anything that uses it).
 */
int vg_head_get_or_create(struct vg_head *h, const struct vg_series *s, uint64_t hash,
			  uint32_t *id, bool *is_new);

/*
 * Recreates series id from its key during WAL replay. Ids the WAL skipped
 * (records lost to damage) become absent slots: never selected, refused by
 * vg_head_append. The same (id, key) twice is accepted; VG_EINVAL if the
 * key is not a valid canonical series, or conflicts with a known id or key.
 */
int vg_head_restore(struct vg_head *h, uint32_t id, const uint8_t *key, size_t key_len);

/* The id of canonical s, or VG_ENOENT. */
int vg_head_lookup(struct vg_head *h, const struct vg_series *s, uint64_t hash, uint32_t *id);
/* The id the next created series will get. Ingest logs a new series to the
 * WAL under this id before creating it, which holds because one thread
 * (ingest's) creates series. */
uint32_t vg_head_next_id(struct vg_head *h);

/* Appends n samples under one write lock. Ids must exist and not be absent
 * (else VG_EINVAL and nothing is appended). */
int vg_head_append(struct vg_head *h, size_t n, const uint32_t *ids, const int64_t *ts_ms,
		   const double *values);

size_t vg_head_num_series(struct vg_head *h);
uint64_t vg_head_num_samples(struct vg_head *h);

/*
 * Where the head's memory goes, in bytes as the head asks malloc or its
 * chunk allocator (slab.h) for them (malloc's own headers and rounding are
 * not seen here: allocs counts the separate malloc allocations, each of
 * which costs one; the allocator's are, in alloc_waste). Every part the
 * head holds is in exactly one field. Takes the read lock and each stripe
 * in turn, so it is for figures (bench/bench_head), not for a hot path.
 */
struct vg_head_mem {
	size_t series;        /* the series table's records (its capacity) */
	size_t keys;          /* series keys (or their symbol ids) */
	size_t symbols;       /* interned label strings and their table */
	size_t key_slack;     /* key and symbol arenas beyond what they hold */
	size_t series_index;  /* the hash table from key to id */
	size_t postings;      /* posting records, id arrays (capacity), their hash table, label names */
	size_t chunk_bytes;   /* finished chunks' encoded bytes */
	size_t chunk_headers; /* their headers and late-arrival numbers */
	size_t open_bytes;    /* open chunks' encoded bytes */
	size_t open_slack;    /* room allocated for open chunks beyond their bytes, and their encoders */
	size_t late;          /* late-sample buffers and per-series late records */
	size_t frozen;        /* the frozen set's table */
	/* The chunk allocator's pages that may be resident beyond the chunk
	 * and open bytes it holds (in the fields above): its class rounding,
	 * free slots, slab tails and record pages, empty slabs kept. */
	size_t alloc_waste;
	/* All its pages that may be resident, waste included: mapped memory,
	 * not in malloc's heap (mallinfo2); chunks over VG_SLAB_MAX bytes are
	 * in the heap and not here. Not a part: the sum of the others. */
	size_t alloc_resident;
	size_t allocs;        /* separate malloc allocations among the above */
	uint64_t chunks, open_chunks;
};
void vg_head_memory(struct vg_head *h, struct vg_head_mem *out);

void vg_head_rdlock(struct vg_head *h);
void vg_head_unlock(struct vg_head *h);

/*
 * The ids of the series matching sel, ascending, in a new array the caller
 * frees (NULL when n is 0): postings.h's selection over the head's
 * postings, so a regex runs once per distinct label value, not per series.
 */
int vg_head_select_locked(struct vg_head *h, const struct vg_selector *sel, uint32_t **ids,
			  size_t *n);

/* Series id as a view of its strings, valid under the lock (each string
 * is held once, in the head's symbol table); false for an absent id (one
 * the WAL never defined, or past the last). */
bool vg_head_series_locked(struct vg_head *h, uint32_t id, struct vg_series *out);
/* Appends the key of series id (series.h) to out, nothing for an absent
 * id; 0 or VG_ENOMEM. */
int vg_head_series_key_locked(struct vg_head *h, uint32_t id, struct vg_buf *out);

/* Decodes the samples of series id within [min_t, max_t] into out
 * (replacing what it held). 0, VG_ENOMEM, or VG_EINVAL for a damaged
 * chunk (a bug: the head wrote it). */
int vg_head_read_locked(struct vg_head *h, uint32_t id, int64_t min_t, int64_t max_t,
			struct vg_samples *out);

/*
 * Snapshots: what series id holds now, as two numbers (the samples stored
 * in order, and apart as late data, since the head began), taken in
 * nanoseconds without the series' stripe, so a selection can take one
 * for each series it selects. A read given the snapshot returns exactly
 * the samples stored before it was taken, whatever was appended, sorted
 * into chunks or frozen since (a frozen set stays while the reader holds
 * a pin, vg_head_pin).
 */
struct vg_head_snap {
	uint64_t in_ord, late_ord;
};
void vg_head_snap_locked(struct vg_head *h, uint32_t id, struct vg_head_snap *out);
/* vg_head_read_locked of what snap saw; snap NULL: all. */
int vg_head_read_snap_locked(struct vg_head *h, uint32_t id, const struct vg_head_snap *snap,
			     int64_t min_t, int64_t max_t, struct vg_samples *out);
/* The same, and asks the cache for series next, the one the caller reads
 * after it (UINT32_MAX: none): its record, and its chunks where one
 * stripe guards both; a query reading thousands of series one after
 * another waits for memory at the start of each. */
int vg_head_read_snap_ahead_locked(struct vg_head *h, uint32_t id, const struct vg_head_snap *snap,
				   int64_t min_t, int64_t max_t, uint32_t next, struct vg_samples *out);

/* Every label name (with "__name__"), and every value of one label, sorted,
 * each once, in a new array the caller frees (NULL when n is 0); the strings
 * are views valid under the lock. */
int vg_head_label_names_locked(struct vg_head *h, struct vg_str **names, size_t *n);
int vg_head_label_values_locked(struct vg_head *h, const char *name, struct vg_str **values,
				size_t *n);

/*
 * Sealing (seal.h). vg_head_freeze, on the writer thread, moves every
 * sample the head holds into a frozen set: reads still see it, merged with
 * what arrives after; the sealer reads it series by series
 * (vg_head_read_frozen: every frozen sample of id, ascending, each
 * timestamp once) into block files, and once those are served drops it
 * (vg_head_drop_frozen, any thread). One frozen set at a time: VG_EINVAL
 * while one exists; VG_ENOMEM leaves the head as it was. Series created
 * after the freeze have no frozen samples (vg_head_frozen_series says how
 * many ids the set covers; 0 when there is none).
 */
int vg_head_freeze(struct vg_head *h);
/* A reader that may read frozen samples pins the head first and unpins
 * when done; vg_head_drop_frozen waits until every pin taken before it was
 * called is released (it never waits for a later one), so a selection
 * made before a seal served its blocks still finds what it selected. Any
 * thread; the pin is a leaf lock's counter, held for nanoseconds. */
uint64_t vg_head_pin(struct vg_head *h);
void vg_head_unpin(struct vg_head *h, uint64_t pin);
uint32_t vg_head_frozen_series(struct vg_head *h);
int vg_head_read_frozen(struct vg_head *h, uint32_t id, struct vg_samples *out);
void vg_head_drop_frozen(struct vg_head *h);

#endif
