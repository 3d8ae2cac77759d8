/*
 * symtab.h: a symbol table: each distinct string of a set of series
 * (metric names, label names, label values) stored once, under a dense
 * 32-bit id handed out from 0 in order of first use. The head keeps a
 * series as the ids of its strings (head.c), and its postings and label
 * names as ids, so a string that a thousand series share costs its bytes
 * once; a block writer keeps its block's strings in one until it sorts
 * them into the symbols section (block_write.c).
 *
 * Not locked: the caller orders the one writer (vg_symtab_intern) against
 * readers. The head interns only under its index write lock and reads
 * under the read lock (docs/threads.md); a block writer's table is its
 * own thread's. A string's bytes never move once
 * interned, so the views vg_symtab_str returns stay valid for the life of
 * the table; ids are never reused (strings are not freed before the table,
 * so a string interned for a series that could not be created stays,
 * unused, and is found again by the next series that has it).
 */
#ifndef VG_SYMTAB_H
#define VG_SYMTAB_H

#include <stddef.h>
#include <stdint.h>

#include "common/series.h"

/* Returned by vg_symtab_find for a string the table does not hold. */
#define VG_SYMTAB_NONE UINT32_MAX
/* The longest string the table takes (a label value is at most
 * VG_SERIES_MAX_VALUE). */
#define VG_SYMTAB_MAX_LEN 32768

struct vg_symtab;

struct vg_symtab *vg_symtab_new(void);
void vg_symtab_free(struct vg_symtab *t);

/* The id of s, adding it if new. 0; VG_ELIMIT past VG_SYMTAB_MAX_LEN bytes
 * or when ids or room run out (4 GiB of strings); VG_ENOMEM. On error the
 * table is as it was. */
int vg_symtab_intern(struct vg_symtab *t, struct vg_str s, uint32_t *id);
/* The id of s, or VG_SYMTAB_NONE. */
uint32_t vg_symtab_find(const struct vg_symtab *t, struct vg_str s);
/* The string of id (< vg_symtab_count), a view valid for the table's life. */
struct vg_str vg_symtab_str(const struct vg_symtab *t, uint32_t id);
uint32_t vg_symtab_count(const struct vg_symtab *t);

/* Bytes the table holds: *used for its strings (with their lengths) and
 * the id table, *index for its hash table, *slack for room allocated and
 * not yet used; *allocs counts its allocations. */
void vg_symtab_memory(const struct vg_symtab *t, size_t *used, size_t *index, size_t *slack,
		      size_t *allocs);

#endif
