/*
 * symtab.c: the symbol table of symtab.h (the head's, a block writer's).
 *
 * Layout: strings, each after its length as a uvarint (buf.h), packed in
 * blocks of 64 KiB that are freed only with the table; id i's string is
 * at refs[i], a 32-bit reference (block << 16 | offset), so the id table
 * costs 4 bytes a string and a string never moves. A string that does not
 * fit the newest block's rest starts a new block (at most the rest of one
 * block is lost, and strings are short: names and label values). An
 * open-addressing table (linear probing, load <= 1/2) maps the low 32 bits
 * of a string's XXH3 to its id; a match is confirmed on the bytes.
 *
 * Invariants: refs[0..n) point at strings in blocks[0..n_blocks); every
 * id is in the hash table exactly once.
 */
#include "config.h"

#include "receiver/storage/symtab.h"
#include "common/buf.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "common/banned.h"

#define BLOCK_SHIFT 16
#define BLOCK_BYTES ((uint32_t)1 << BLOCK_SHIFT)
#define MAX_BLOCKS ((uint32_t)1 << (32 - BLOCK_SHIFT))
#define NONE VG_SYMTAB_NONE

_Static_assert(VG_SYMTAB_MAX_LEN + 10 <= BLOCK_BYTES, "a string and its length fit one block");

struct slot {
	uint32_t hash, id; /* id NONE: empty */
};

struct vg_symtab {
	uint8_t **blocks;
	uint32_t n_blocks, cap_blocks;
	uint32_t used;      /* bytes used in the newest block */
	uint32_t *refs;     /* [n]: where each id's string starts */
	uint32_t n, cap;
	struct slot *slots; /* [mask + 1], or NULL before the first string */
	uint32_t mask;
};

struct vg_symtab *vg_symtab_new(void)
{
	return calloc(1, sizeof(struct vg_symtab));
}

void vg_symtab_free(struct vg_symtab *t)
{
	if (t == NULL)
		return;
	for (uint32_t i = 0; i < t->n_blocks; i++)
		free(t->blocks[i]);
	free(t->blocks);
	free(t->refs);
	free(t->slots);
	free(t);
}

uint32_t vg_symtab_count(const struct vg_symtab *t)
{
	return t->n;
}

struct vg_str vg_symtab_str(const struct vg_symtab *t, uint32_t id)
{
	uint32_t ref = t->refs[id];
	const uint8_t *p = t->blocks[ref >> BLOCK_SHIFT] + (ref & (BLOCK_BYTES - 1));
	uint32_t len = p[0] & 0x7F;

	/* Lengths are at most VG_SYMTAB_MAX_LEN: one to three bytes. */
	if (p[0] & 0x80) {
		len |= (uint32_t)(p[1] & 0x7F) << 7;
		if (p[1] & 0x80) {
			len |= (uint32_t)p[2] << 14;
			return (struct vg_str){ (const char *)p + 3, len };
		}
		return (struct vg_str){ (const char *)p + 2, len };
	}
	return (struct vg_str){ (const char *)p + 1, len };
}

/* The slot holding s (hash its XXH3), or the empty slot where it would go. */
static uint32_t probe(const struct vg_symtab *t, struct vg_str s, uint64_t hash)
{
	uint32_t i = (uint32_t)hash & t->mask;

	/* Load <= 1/2 guarantees an empty slot, so the walk ends. */
	for (; t->slots[i].id != NONE; i = (i + 1) & t->mask)
		if (t->slots[i].hash == (uint32_t)hash && vg_str_eq(vg_symtab_str(t, t->slots[i].id), s))
			break;
	return i;
}

uint32_t vg_symtab_find(const struct vg_symtab *t, struct vg_str s)
{
	if (t->slots == NULL)
		return NONE;
	return t->slots[probe(t, s, XXH3_64bits(s.p, s.len))].id;
}

/* Doubles the hash table (or makes its first one). */
static int table_grow(struct vg_symtab *t)
{
	uint32_t cap = t->slots ? (t->mask + 1) * 2 : 64, mask = cap - 1;
	struct slot *slots;

	if (cap == 0) /* past 2^31 slots */
		return VG_ELIMIT;
	if ((slots = malloc((size_t)cap * sizeof(*slots))) == NULL)
		return VG_ENOMEM;
	memset(slots, 0xFF, (size_t)cap * sizeof(*slots));
	for (uint32_t k = 0; t->slots && k <= t->mask; k++) {
		uint32_t i;
		if (t->slots[k].id == NONE)
			continue;
		for (i = t->slots[k].hash & mask; slots[i].id != NONE; i = (i + 1) & mask)
			;
		slots[i] = t->slots[k];
	}
	free(t->slots);
	t->slots = slots;
	t->mask = mask;
	return 0;
}

/* Room for need bytes in the newest block (a new block if it lacks them). */
static int block_room(struct vg_symtab *t, uint32_t need)
{
	uint8_t *b;

	if (t->n_blocks > 0 && BLOCK_BYTES - t->used >= need)
		return 0;
	if (t->n_blocks == MAX_BLOCKS)
		return VG_ELIMIT;
	if (t->n_blocks == t->cap_blocks) {
		uint32_t cap = t->cap_blocks ? t->cap_blocks * 2 : 4;
		uint8_t **p = realloc(t->blocks, (size_t)cap * sizeof(*p));
		if (p == NULL)
			return VG_ENOMEM;
		t->blocks = p;
		t->cap_blocks = cap;
	}
	if ((b = malloc(BLOCK_BYTES)) == NULL)
		return VG_ENOMEM;
	t->blocks[t->n_blocks++] = b;
	t->used = 0;
	return 0;
}

int vg_symtab_intern(struct vg_symtab *t, struct vg_str s, uint32_t *id)
{
	uint64_t hash = XXH3_64bits(s.p, s.len);
	uint32_t i, need, ref;
	uint8_t *p;
	int rc;

	if (t->slots != NULL && t->slots[i = probe(t, s, hash)].id != NONE) {
		*id = t->slots[i].id;
		return 0;
	}
	if (s.len > VG_SYMTAB_MAX_LEN || t->n == NONE - 1)
		return VG_ELIMIT;
	/* Reserve everything, then commit: a failure leaves the table as it
	 * was (a bigger hash table or a new empty block changes no answer). */
	if (t->n == t->cap) {
		uint32_t cap = t->cap ? (t->cap > UINT32_MAX / 2 ? NONE : t->cap * 2) : 64;
		uint32_t *r = realloc(t->refs, (size_t)cap * sizeof(*r));
		if (r == NULL)
			return VG_ENOMEM;
		t->refs = r;
		t->cap = cap;
	}
	if ((t->slots == NULL || ((uint64_t)t->n + 1) * 2 > (uint64_t)t->mask + 1) &&
	    (rc = table_grow(t)) != 0)
		return rc;
	need = (uint32_t)vg_uvarint_len(s.len) + s.len;
	if ((rc = block_room(t, need)) != 0)
		return rc;

	ref = (t->n_blocks - 1) << BLOCK_SHIFT | t->used;
	p = vg_put_uvarint(t->blocks[t->n_blocks - 1] + t->used, s.len);
	if (s.len)
		memcpy(p, s.p, s.len);
	t->used += need;
	t->refs[t->n] = ref;
	t->slots[probe(t, s, hash)] = (struct slot){ (uint32_t)hash, t->n };
	*id = t->n++;
	return 0;
}

void vg_symtab_memory(const struct vg_symtab *t, size_t *used, size_t *index, size_t *slack,
		      size_t *allocs)
{
	size_t bytes = t->n_blocks ? (size_t)(t->n_blocks - 1) * BLOCK_BYTES + t->used : 0;

	/* Bytes lost at the end of full blocks count as used: they are few. */
	*used = bytes + (size_t)t->n * sizeof(*t->refs);
	*index = t->slots ? ((size_t)t->mask + 1) * sizeof(*t->slots) : 0;
	*slack = (size_t)t->n_blocks * BLOCK_BYTES - bytes + (size_t)(t->cap - t->n) * sizeof(*t->refs) +
		 (size_t)t->cap_blocks * sizeof(*t->blocks);
	*allocs = t->n_blocks + (t->blocks != NULL) + (t->refs != NULL) + (t->slots != NULL);
}
