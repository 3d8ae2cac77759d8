/*
 * samples2.h: the SAMPLES payload of wire protocol 2: values as scaled
 * decimals, each sent as the difference from the same series' previous
 * value on the connection. docs/protocol.md ("Protocol 2") has the byte
 * layout; samples2.c's opening comment has it too.
 *
 * Both ends keep one struct vg_samples2_state per connection, started
 * empty when the connection is: the encoder's and the decoder's states
 * stay equal as long as every frame the encoder produced is decoded, in
 * order, which TCP gives. A retried batch is encoded afresh against the
 * state of the connection it goes on.
 *
 * Memory: a state holds 8 bytes a ref it has seen and 4 a ref of the
 * previous group unless that group was every ref from 0 in order (then
 * only its count), sized exactly the first time and doubled after; the
 * decoder keeps nothing else between frames (a group's exceptions are
 * read from the payload twice, checked and then applied); the encoder
 * keeps two growing buffers.
 *
 * Invariants: decoding checks every count against the bytes left before
 * sizing anything, never grows the state past the refs the connection has
 * defined (n_defined), and reproduces every value bit for bit (a value
 * that is not exactly a decimal of at most 15 digits after the point
 * travels as its 8 IEEE-754 bytes). After a decode error the state is
 * undefined: the connection must be closed.
 */
#ifndef VG_SAMPLES2_H
#define VG_SAMPLES2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

struct vg_err;
struct vg_sample_batch;

/* 8 bytes: mantissas stay within +-2^53, scales within -1..15. */
struct vg_samples2_ref {
	int64_t mantissa : 56; /* the previous value is mantissa / 10^scale */
	int64_t scale : 8;     /* -1: no decimal base (none yet, or a float) */
};
_Static_assert(sizeof(struct vg_samples2_ref) == 8, "a ref's state is one word");

struct vg_samples2_state {
	int64_t prev_ts_ms;
	uint32_t *prev_refs;   /* the refs of the previous group, in order */
	size_t n_prev_refs, cap_prev_refs;
	bool is_prev_dense;    /* they were 0 .. n_prev_refs - 1: prev_refs unused */
	struct vg_samples2_ref *refs; /* by ref; refs [0, n_refs) are known */
	size_t n_refs, cap_refs;
	/* encoder scratch: one group's exceptions and deltas */
	struct vg_buf enc_exc, enc_deltas;
};

void vg_samples2_state_init(struct vg_samples2_state *st);
void vg_samples2_state_release(struct vg_samples2_state *st);
/* Forgets everything, as on a new connection; keeps the memory. */
void vg_samples2_state_reset(struct vg_samples2_state *st);

/*
 * Encoding a SAMPLES payload: vg_samples2_encode_begin with the number of
 * groups, then each group: n samples at ts_ms, refs[i] (<= VG_FRAME_MAX_REF)
 * with values[i]. Updates st as the decoder will. VG_ELIMIT for a ref over
 * the limit, VG_ENOMEM; after either st and raw are unusable: reset both.
 */
void vg_samples2_encode_begin(struct vg_buf *raw, uint32_t n_groups);
int vg_samples2_encode_group(struct vg_samples2_state *st, int64_t ts_ms, size_t n, const uint64_t *refs,
			     const double *values, struct vg_buf *raw);

/*
 * Decodes a SAMPLES payload of protocol 2 into b (as vg_samples_decode
 * does for protocol 1), updating st. A ref at or above n_defined is
 * VG_ENOENT; malformed input VG_EINVAL; limits VG_ELIMIT; VG_ENOMEM.
 */
int vg_samples2_decode(struct vg_samples2_state *st, const uint8_t *raw, size_t len,
		       uint32_t n_defined, struct vg_sample_batch *b, struct vg_err *err);

#endif
