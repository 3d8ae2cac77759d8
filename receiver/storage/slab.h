/*
 * slab.h: the head's allocator for chunk bytes: finished chunks, the
 * open chunks' encoders and their growing buffers (head.c, chunk.h's
 * vg_chunk_alloc hook).
 *
 * Size classes (8 bytes apart up to 1 KiB, 16 up to 2 KiB, 32 up to 4 KiB),
 * each served from 64 KiB slabs carved out of 2 MiB mappings; a slab whose
 * slots are all free goes back to a pool any class takes from, and past a
 * few kept resident its pages are given back with madvise(MADV_DONTNEED).
 * So a generation of chunks freed together (every series of a fleet merges
 * its chunks at the same sample) leaves whole slabs, which the next size
 * reuses or the kernel takes back, where malloc left sub-page holes between
 * live chunks. Larger allocations (over VG_SLAB_MAX bytes) go to malloc.
 *
 * No per-allocation header: the caller gives back the size it asked for.
 * Thread-safe: one mutex, a leaf, held for a list operation (and the rare
 * mmap or madvise); the head allocates on the writer thread and frees on it
 * and on the sealer's.
 */
#ifndef VG_SLAB_H
#define VG_SLAB_H

#include <stddef.h>
#include <stdint.h>

/* Allocations up to this many bytes come from slabs. */
#define VG_SLAB_MAX 4096

struct vg_slab;

struct vg_slab *vg_slab_new(void);
/* Unmaps every slab: every allocation from a is gone. */
void vg_slab_free_all(struct vg_slab *a);

/* n bytes (n > 0), 8-aligned, or NULL for no memory. */
void *vg_slab_alloc(struct vg_slab *a, size_t n);
/* Gives back p (NULL: nothing), allocated with vg_slab_alloc(a, n). */
void vg_slab_free(struct vg_slab *a, void *p, size_t n);

/* The bytes an allocation of n takes in its slab (its class's slot). */
size_t vg_slab_slot(size_t n);

/*
 * What the allocator holds. resident is every byte of its mappings that
 * may be in RSS: the slabs' pages touched since they were last given back
 * (slots held or free, page tails, empty slabs kept), the page of slab
 * records of each mapping; asked is what the live allocations asked for,
 * slots what their classes round it to. resident - asked is the
 * allocator's waste. large_* are those served by malloc (in asked too, not
 * in resident: malloc's heap holds them).
 */
struct vg_slab_mem {
	size_t resident, asked, slots, mapped;
	size_t large_bytes, large_n;
	size_t slabs_used, slabs_kept, slabs_returned;
	uint64_t madvised; /* slabs given back so far */
};
void vg_slab_memory(struct vg_slab *a, struct vg_slab_mem *out);

#endif
