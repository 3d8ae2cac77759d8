/*
 * dict.c: the series dictionary of dict.h: keys back to back in one
 * buffer, an offset and a hash per ref, and an open-addressing table
 * (linear probing, at most half full) from hash to ref.
 */
#include "agent/dict.h"
#include "common/err.h"
#include "common/frame.h"

#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

void vg_dict_init(struct vg_dict *d)
{
	memset(d, 0, sizeof(*d));
	vg_buf_init(&d->keys);
}

void vg_dict_release(struct vg_dict *d)
{
	vg_buf_release(&d->keys);
	free(d->key_off);
	free(d->ref_hash);
	free(d->table);
	vg_dict_init(d);
}

static int table_grow(struct vg_dict *d)
{
	size_t cap = d->table_cap ? d->table_cap * 2 : 1024;
	uint32_t *t = calloc(cap, sizeof(*t));

	if (t == NULL)
		return VG_ENOMEM;
	for (uint32_t ref = 0; ref < d->n_refs; ref++) {
		size_t i = d->ref_hash[ref] & (cap - 1);
		while (t[i])
			i = (i + 1) & (cap - 1);
		t[i] = ref + 1;
	}
	free(d->table);
	d->table = t;
	d->table_cap = cap;
	return 0;
}

/* Looks up key[0, len); returns its ref, or the free slot in *slot and
 * UINT32_MAX. */
static uint32_t find(const struct vg_dict *d, const uint8_t *key, size_t len, uint64_t hash,
		     size_t *slot)
{
	size_t i;

	for (i = hash & (d->table_cap - 1); d->table[i]; i = (i + 1) & (d->table_cap - 1)) {
		uint32_t r = d->table[i] - 1;
		size_t off = d->key_off[r];
		if (d->ref_hash[r] == hash && d->key_off[r + 1] - off == len &&
		    memcmp(d->keys.data + off, key, len) == 0)
			return r;
	}
	*slot = i;
	return UINT32_MAX;
}

/* Makes the key at keys[start, len) the next ref, in table slot slot. */
static int insert(struct vg_dict *d, size_t start, uint64_t hash, size_t slot, uint32_t *ref)
{
	if (d->n_refs >= VG_FRAME_MAX_REF)
		return VG_ELIMIT;
	if (d->n_refs + 1 >= d->cap_refs) {
		uint32_t cap = d->cap_refs ? d->cap_refs * 2 : 256;
		size_t *ko = realloc(d->key_off, (cap + 1) * sizeof(*ko));
		if (ko == NULL)
			return VG_ENOMEM;
		d->key_off = ko;
		uint64_t *rh = realloc(d->ref_hash, cap * sizeof(*rh));
		if (rh == NULL)
			return VG_ENOMEM;
		d->ref_hash = rh;
		d->cap_refs = cap;
	}
	d->key_off[d->n_refs] = start;
	d->key_off[d->n_refs + 1] = d->keys.len;
	d->ref_hash[d->n_refs] = hash;
	d->table[slot] = d->n_refs + 1;
	*ref = d->n_refs++;
	return 0;
}

int vg_dict_ref(struct vg_dict *d, const struct vg_series *s, uint64_t hash, uint32_t *ref,
		bool *is_new)
{
	size_t start = d->keys.len, slot = 0;
	uint32_t r;
	int rc;

	*is_new = false;
	/* The key is needed to compare on a hash match and to store. */
	vg_series_key(s, &d->keys);
	if (vg_buf_failed(&d->keys))
		return VG_ENOMEM;
	if ((d->n_refs + 1) * 2 > d->table_cap && (rc = table_grow(d)) != 0)
		goto fail;
	if ((r = find(d, d->keys.data + start, d->keys.len - start, hash, &slot)) != UINT32_MAX) {
		d->keys.len = start;
		*ref = r;
		return 0;
	}
	if ((rc = insert(d, start, hash, slot, ref)) != 0)
		goto fail;
	*is_new = true;
	return 0;
fail:
	d->keys.len = start;
	return rc;
}

int vg_dict_ref_key(struct vg_dict *d, const uint8_t *key, size_t len, uint64_t hash,
		    uint32_t *ref, bool *is_new)
{
	size_t start = d->keys.len, slot = 0;
	uint32_t r;
	int rc;

	*is_new = false;
	if ((d->n_refs + 1) * 2 > d->table_cap && (rc = table_grow(d)) != 0)
		return rc;
	if ((r = find(d, key, len, hash, &slot)) != UINT32_MAX) {
		*ref = r;
		return 0;
	}
	/* Copied only when new: a known series costs no copy. */
	vg_buf_append(&d->keys, key, len);
	if (vg_buf_failed(&d->keys))
		return VG_ENOMEM;
	if ((rc = insert(d, start, hash, slot, ref)) != 0) {
		d->keys.len = start;
		return rc;
	}
	*is_new = true;
	return 0;
}

int vg_dict_add_key(struct vg_dict *d, const uint8_t *key, size_t len)
{
	struct vg_series s;
	size_t start = d->keys.len, slot = 0;
	uint64_t hash;
	uint32_t ref;
	int rc;

	if (vg_series_from_key(key, len, &s) != 0)
		return VG_EINVAL;
	hash = vg_series_key_hash(key, len);
	vg_buf_append(&d->keys, key, len);
	if (vg_buf_failed(&d->keys))
		return VG_ENOMEM;
	if ((d->n_refs + 1) * 2 > d->table_cap && (rc = table_grow(d)) != 0)
		goto fail;
	if (find(d, d->keys.data + start, len, hash, &slot) != UINT32_MAX) {
		d->keys.len = start;
		return VG_EINVAL;
	}
	if ((rc = insert(d, start, hash, slot, &ref)) != 0)
		goto fail;
	return 0;
fail:
	d->keys.len = start;
	return rc;
}
