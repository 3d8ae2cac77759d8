/*
 * dict.h: the agent's series dictionary: every series the agent sampled,
 * as its key (common/series.h), its hash and its ref.
 *
 * Invariants: refs are dense, from 0, in order of first sight, and never
 * reused while the dictionary lives (a spool on disk keeps the keys, so
 * an agent restarted on that spool has the same refs: see spool.h). Keys
 * are kept because each new connection defines every ref again: the
 * receiver's dictionary belongs to the connection.
 */
#ifndef VG_DICT_H
#define VG_DICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/series.h"

struct vg_dict {
	struct vg_buf keys;  /* all keys, back to back */
	size_t *key_off;     /* ref -> offset in keys; key_off[n] = end */
	uint64_t *ref_hash;  /* ref -> hash */
	uint32_t n_refs, cap_refs;
	uint32_t *table;     /* open addressing: ref + 1, 0 = empty */
	size_t table_cap;
};

void vg_dict_init(struct vg_dict *d);
void vg_dict_release(struct vg_dict *d);

/*
 * The ref of canonical series s (hash = vg_series_hash(s)), creating it;
 * *is_new says whether it was created. VG_ENOMEM, or VG_ELIMIT past
 * VG_FRAME_MAX_REF refs; on failure the dictionary is as it was.
 */
int vg_dict_ref(struct vg_dict *d, const struct vg_series *s, uint64_t hash, uint32_t *ref,
		bool *is_new);
/* The same for the key of a canonical series (vg_series_key) and its hash
 * (vg_series_key_hash), which the caller built once for every dictionary
 * it asks. */
int vg_dict_ref_key(struct vg_dict *d, const uint8_t *key, size_t len, uint64_t hash,
		    uint32_t *ref, bool *is_new);
/* Adds a key read back from a spool as the next ref: VG_EINVAL if it is
 * not a series key or is already there, VG_ENOMEM, VG_ELIMIT. */
int vg_dict_add_key(struct vg_dict *d, const uint8_t *key, size_t len);

/* The key of ref (< d->n_refs); borrows d until the next change. */
static inline const uint8_t *vg_dict_key(const struct vg_dict *d, uint32_t ref, size_t *len)
{
	*len = d->key_off[ref + 1] - d->key_off[ref];
	return d->keys.data + d->key_off[ref];
}

#endif
