/*
 * mpack.h: msgpack for the wire protocol.
 *
 * Writing uses msgpack-c's packer, pointed at a struct vg_buf
 * (vg_mp_packer_init). Reading does not use msgpack-c's unpacker: that one
 * builds an object tree and allocates for an array from the count the input
 * declares, before it knows the elements exist, which a hostile frame turns
 * into a multi-gigabyte allocation. The reader here is a cursor over the
 * bytes: it checks every declared count and length against the bytes that
 * remain (every element takes at least one byte), allocates nothing, and
 * fails with VG_EINVAL on anything truncated or of the wrong type.
 *
 * Strings returned by the reader borrow the input buffer.
 */
#ifndef VG_MPACK_H
#define VG_MPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

struct vg_buf;
struct vg_str;

/* Sets pk up to append to out. */
void vg_mp_packer_init(msgpack_packer *pk, struct vg_buf *out);
/* Packs a sample value: as an integer when it is one exactly (counters and
 * most gauges are, and take 1 to 5 bytes so), else as a float64. */
void vg_mp_pack_value(msgpack_packer *pk, double v);
void vg_mp_pack_strn(msgpack_packer *pk, const char *p, size_t len);
void vg_mp_pack_cstr(msgpack_packer *pk, const char *s);

struct vg_mp_reader {
	const uint8_t *p;
	const uint8_t *end;
};

static inline void vg_mp_reader_init(struct vg_mp_reader *r, const uint8_t *p, size_t len)
{
	r->p = p;
	r->end = p + len;
}
static inline size_t vg_mp_remaining(const struct vg_mp_reader *r) { return (size_t)(r->end - r->p); }

/* Each returns 0, or VG_EINVAL when the next object is truncated or not of
 * the type asked for; on failure the cursor is left where it was. */
int vg_mp_read_array(struct vg_mp_reader *r, uint32_t *n);
int vg_mp_read_map(struct vg_mp_reader *r, uint32_t *n);
int vg_mp_read_uint(struct vg_mp_reader *r, uint64_t *v);  /* non-negative ints */
int vg_mp_read_int(struct vg_mp_reader *r, int64_t *v);    /* any int fitting int64 */
int vg_mp_read_double(struct vg_mp_reader *r, double *v);  /* float32/64 or any int */
int vg_mp_read_str(struct vg_mp_reader *r, struct vg_str *s);
int vg_mp_read_bool(struct vg_mp_reader *r, bool *v);
bool vg_mp_next_is_nil(const struct vg_mp_reader *r);
/* Skips one object of any type, nesting at most 32 deep. */
int vg_mp_skip(struct vg_mp_reader *r);

#endif
