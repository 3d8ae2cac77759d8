/*
 * ring.h: the consistent-hash ring that places each host's data on
 * replication_factor receivers. Agents route by it and receivers compute
 * the same ring to know where a host's data lives, so the algorithm is a
 * format: docs/ring.md describes it exactly, and a change to it is a
 * protocol change.
 *
 * Members are identified by their address as configured ("host:port",
 * byte for byte); each has vnodes points on a 64-bit circle at
 * XXH3_64("<address>#<i>") for i in [0, vnodes). A key (a host's identity,
 * the agent's instance label) sits at XXH3_64(key); its replicas are the
 * first distinct members met walking clockwise from there, the point at
 * the key's own position included.
 *
 * Invariants: the ring is immutable once built (build a new one when the
 * member list changes); lookups allocate nothing and are thread-safe.
 */
#ifndef VG_RING_H
#define VG_RING_H

#include <stddef.h>
#include <stdint.h>

struct vg_err;
struct vg_ring;

#define VG_RING_DEFAULT_VNODES 128
#define VG_RING_MAX_MEMBERS 4096
#define VG_RING_MAX_VNODES 4096

/* A new ring of n members (addresses copied; 1 <= n <= VG_RING_MAX_MEMBERS,
 * no duplicates, none empty) with vnodes points each (1..VG_RING_MAX_VNODES).
 * VG_EINVAL, VG_ELIMIT or VG_ENOMEM with a message. */
int vg_ring_new(const char *const *members, size_t n, unsigned vnodes, struct vg_ring **out,
		struct vg_err *err);
void vg_ring_free(struct vg_ring *r);

size_t vg_ring_size(const struct vg_ring *r);
/* The address of member i (< vg_ring_size), as given; borrowed. */
const char *vg_ring_member(const struct vg_ring *r, size_t i);

/* Writes the indexes of the min(rf, size) members that hold key, primary
 * first, into out[]; returns how many. */
size_t vg_ring_lookup(const struct vg_ring *r, const void *key, size_t key_len, size_t rf, size_t *out);

#endif
