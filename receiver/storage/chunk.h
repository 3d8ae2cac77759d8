/*
 * chunk.h: the sample codecs of the storage engine: the head's appendable
 * chunk of (timestamp, value) pairs, and whole-array columns for block files.
 * The byte and bit layouts are at the top of chunk.c and in
 * docs/storage-format.md ("Chunk and column encodings").
 *
 * Owns: encoding and decoding only. No locks, no files, no globals: the
 * head decides when to cut a chunk and who may read it; the block writer
 * decides how columns are grouped and compressed.
 *
 * Invariants:
 *  - A head chunk's bytes are self-describing at every moment: the header
 *    holds the format version, the value encoding and the sample count, and
 *    an append writes the new bits before it bumps the count. A reader may
 *    copy [0, len) from vg_chunk_enc_bytes under the same lock as appends
 *    and decode the copy anywhere later.
 *  - Values round-trip bit for bit, whatever they are (NaN payloads, -0.0,
 *    infinities, denormals): a decimal scale is used only when decoding it
 *    gives the very same bits, XOR floats otherwise.
 *  - Decoders never read outside the bytes they are given and return
 *    VG_EINVAL with a message for any damage.
 */
#ifndef VG_CHUNK_H
#define VG_CHUNK_H

#include "common/buf.h"
#include "common/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Format version written in byte 0 of every head chunk. */
#define VG_CHUNK_VERSION 1
/* At most this many samples per head chunk (2,400 s at a 10 s interval).
 * Measured in docs/performance.md: 240 costs fewer bytes per sample than
 * 120; a head series at 720 samples fills 3 and holds them merged. */
#define VG_CHUNK_MAX_SAMPLES 240
/* A finished chunk in columns (VG_CHUNK_COLS) holds up to this many: the
 * head merges a series' finished chunks into one while they fit (a 2-hour
 * block at 10 s), for one header and one pair of columns instead of three
 * (docs/performance.md). */
#define VG_CHUNK_MAX_MERGED 720
/* A timestamp step larger than this (24 days) does not fit a head chunk:
 * append answers VG_ELIMIT and the head starts a new chunk. */
#define VG_CHUNK_MAX_STEP_MS INT32_MAX
/* Columns hold at most this many entries (checked before any allocation). */
#define VG_COL_MAX_N (1u << 24)

/* ---- A. The head's open chunk ------------------------------------------- */

/*
 * 48 bytes on LP64, plus the byte buffer (grown 32 bytes at a time, so at
 * most 31 bytes of slack before vg_chunk_enc_finish trims it to fit).
 * Fields are private to chunk.c; the struct is public so the head can embed
 * it in its per-series record without another allocation.
 */
struct vg_chunk_enc {
	uint8_t *buf;      /* header + bit stream; NULL before the first append */
	uint32_t cap;      /* bytes allocated */
	uint32_t nbits;    /* bits used, header included */
	int64_t last_ts;   /* timestamp of the last sample */
	uint64_t last_v;   /* XOR: bits of the last value; decimal: its integer */
	int64_t last_dv;   /* decimal delta-of-delta: the last delta */
	int32_t last_dts;  /* last timestamp step, ms */
	uint8_t win_a;     /* XOR: leading zeros of the window (0xff: none); decimal: width */
	uint8_t win_b;     /* XOR: trailing zeros of the window */
	uint8_t flags;     /* VG_CHUNK_F_* below */
};

/* Lifecycle: init (or zero the struct), appends, release frees the bytes. */
void vg_chunk_enc_init(struct vg_chunk_enc *e);
void vg_chunk_enc_release(struct vg_chunk_enc *e);

/*
 * Where an encoder's bytes live, for the _in functions (the head's slab.h
 * allocator); the others use malloc. free is given the size alloc was
 * asked for. One encoder's bytes come from one allocator from its first
 * append to its release: mixing the two forms on one encoder is a bug.
 */
struct vg_chunk_alloc {
	void *(*alloc)(void *ctx, size_t n);
	void (*free)(void *ctx, void *p, size_t n);
	void *ctx;
};
int vg_chunk_enc_append_in(struct vg_chunk_enc *e, const struct vg_chunk_alloc *al, int64_t ts_ms, double v);
int vg_chunk_enc_finish_in(struct vg_chunk_enc *e, const struct vg_chunk_alloc *al);
void vg_chunk_enc_release_in(struct vg_chunk_enc *e, const struct vg_chunk_alloc *al);

/*
 * Appends one sample. 0; VG_EINVAL if ts_ms <= the last timestamp or the
 * chunk was finished; VG_ELIMIT when the chunk holds VG_CHUNK_MAX_SAMPLES or
 * the step from the last timestamp exceeds VG_CHUNK_MAX_STEP_MS (start a new
 * chunk); VG_ENOMEM. On any error the chunk is as it was.
 * A value that does not fit the chunk's decimal scale re-encodes the chunk
 * with a larger scale, or as XOR floats when no scale works: O(samples),
 * at most a few times per chunk; at 16 samples the encoding is chosen
 * again from the samples held.
 */
int vg_chunk_enc_append(struct vg_chunk_enc *e, int64_t ts_ms, double v);

size_t vg_chunk_enc_samples(const struct vg_chunk_enc *e);
/* Timestamps of the first and last sample; 0 when the chunk is empty. */
int64_t vg_chunk_enc_min_ts(const struct vg_chunk_enc *e);
int64_t vg_chunk_enc_max_ts(const struct vg_chunk_enc *e);

/* Bytes allocated for the chunk (its bytes and the room to grow). */
size_t vg_chunk_enc_alloc_bytes(const struct vg_chunk_enc *e);

/* Borrows the current bytes (valid until the next append, finish or
 * release); NULL and *len = 0 while the chunk is empty. */
const uint8_t *vg_chunk_enc_bytes(const struct vg_chunk_enc *e, size_t *len);

/* Re-encodes the chunk in the smallest of its encodings and trims the
 * allocation to the bytes: as columns (VG_CHUNK_COLS: a timestamp column
 * and a value column of part B, which take a block's minimum and gcd out
 * of its deltas) when they are smaller than the bit stream, else the bit
 * stream in its smallest mode (XOR, decimal delta, decimal delta-of-delta,
 * decimal with corrections in units in the last place).
 * After this, appends answer VG_EINVAL. 0 or VG_ENOMEM (chunk unchanged). */
int vg_chunk_enc_finish(struct vg_chunk_enc *e);

bool vg_chunk_enc_is_finished(const struct vg_chunk_enc *e);

/*
 * n samples (1..VG_CHUNK_MAX_MERGED, timestamps strictly ascending, each
 * step at most VG_CHUNK_MAX_STEP_MS) as one finished chunk in columns
 * (VG_CHUNK_COLS), appended to out: how the head merges the finished
 * chunks of a series. 0, VG_EINVAL (nothing appended) or VG_ENOMEM (out
 * has failed).
 */
int vg_chunk_encode_cols(const int64_t *ts, const double *v, size_t n, struct vg_buf *out);

/* Value encodings of a head chunk (header byte 1). */
enum vg_chunk_mode {
	VG_CHUNK_XOR = 0,
	VG_CHUNK_DEC_DELTA = 1,
	VG_CHUNK_DEC_DOD = 2,
	VG_CHUNK_DEC_ULP = 3, /* decimal + a few units in the last place */
	VG_CHUNK_COLS = 4,    /* finished only: two columns, timestamps and values */
};
/* The chunk's value encoding and decimal scale, for figures and tests. */
enum vg_chunk_mode vg_chunk_enc_mode(const struct vg_chunk_enc *e, int *scale);
/* Finishes the chunk in the given encoding (benchmarks compare them):
 * 0, VG_EINVAL if a value has no decimal form for a decimal mode (chunk
 * unchanged), VG_ENOMEM. */
int vg_chunk_enc_finish_as(struct vg_chunk_enc *e, enum vg_chunk_mode mode);

/* Decoding a chunk: the iterator borrows p[0..len) until it is done. A
 * chunk in columns is decoded whole by init, into the iterator itself. */
struct vg_chunk_it {
	const uint8_t *p;
	size_t nbits;      /* len * 8 */
	size_t pos;        /* next bit */
	uint32_t n, i;     /* samples in the chunk, samples read */
	uint8_t mode, scale;
	uint8_t win_a, win_b;
	int64_t ts, dts;
	uint64_t v;
	int64_t dv;
	struct vg_err *err;
	/* VG_CHUNK_COLS only (init does not clear them otherwise) */
	int64_t col_ts[VG_CHUNK_MAX_MERGED];
	double col_v[VG_CHUNK_MAX_MERGED];
};

/* 0, or VG_EVERSION / VG_EINVAL (with a message) if the header is bad, or
 * for a chunk in columns, if any of it is. */
int vg_chunk_it_init(struct vg_chunk_it *it, const uint8_t *p, size_t len, struct vg_err *err);
/* 1 and the next sample; 0 at the end; VG_EINVAL with a message in the
 * err given to init if the bytes are damaged (and on every later call). */
int vg_chunk_it_next(struct vg_chunk_it *it, int64_t *ts_ms, double *v);
/* Skips to the first sample with ts >= t_ms: like vg_chunk_it_next. */
int vg_chunk_it_seek(struct vg_chunk_it *it, int64_t t_ms, int64_t *ts_ms, double *v);

/* The samples of chunk p[0..len) from the first on, at most max_n, up to
 * the last at or before max_t, into ts/v (room for VG_CHUNK_MAX_MERGED):
 * *n of them. What iterating with vg_chunk_it_next gives, faster. 0, or
 * the error of vg_chunk_it_init or vg_chunk_it_next (with its message). */
int vg_chunk_decode(const uint8_t *p, size_t len, int64_t max_t, size_t max_n, int64_t *ts, double *v,
		    size_t *n, struct vg_err *err);

/* ---- Decimal helpers ----------------------------------------------------- */

/*
 * For aggregates (rollup sums, increases) that should stay decimal: a sum
 * of doubles drifts off the decimal grid (0.1 + 0.2 is 0.30000000000000004)
 * and then costs XOR floats' 8 bytes instead of a few bits. Summing the
 * scaled integers and converting once gives the double nearest the exact
 * decimal sum, which the decimal encodings store compactly.
 */
/* The smallest scale k (0..18) at which every v[i] is an exact int64
 * v * 10^k that decodes to the same bits; -1 if none. */
int vg_dec_scale(const double *v, size_t n);
/* v as an integer at scale k; false if v has no exact form there. */
bool vg_dec_int(double v, int k, int64_t *m);
/* m / 10^k, as the decoders compute it (k in 0..18). */
double vg_dec_double(int64_t m, int k);

/* ---- B. Columns for block files ------------------------------------------ */

/*
 * Each encoder appends one self-describing column to out: a tag byte, the
 * entry count, the body. The value column picks the smallest of constant,
 * decimal delta, decimal delta-of-delta and XOR; integer columns the
 * smallest of delta, delta-of-delta and plain; each integer body in blocks
 * of 128 entries, or of 1,024 when that is strictly smaller. 0, VG_EINVAL (ts not strictly
 * ascending), VG_ELIMIT (n > VG_COL_MAX_N) or VG_ENOMEM (out has failed).
 * n == 0 is allowed. Integer arithmetic wraps, so every int64 and uint64
 * sequence round-trips, extremes included.
 */
int vg_col_encode_ts(const int64_t *ts, size_t n, struct vg_buf *out);
int vg_col_encode_i64(const int64_t *v, size_t n, struct vg_buf *out);
int vg_col_encode_u64(const uint64_t *v, size_t n, struct vg_buf *out);
int vg_col_encode_f64(const double *v, size_t n, struct vg_buf *out);

/*
 * Each decoder reads one column from p[0..len) into dst[0..n): the column
 * must hold exactly n entries. Returns the bytes consumed (> 0), or a
 * negative VG_E* code with a message: VG_EINVAL for damage or a count that
 * differs from n, VG_EVERSION for an unknown tag, and for ts a column that
 * is not strictly ascending.
 */
long vg_col_decode_ts(const uint8_t *p, size_t len, int64_t *dst, size_t n, struct vg_err *err);
long vg_col_decode_i64(const uint8_t *p, size_t len, int64_t *dst, size_t n, struct vg_err *err);
long vg_col_decode_u64(const uint8_t *p, size_t len, uint64_t *dst, size_t n, struct vg_err *err);
long vg_col_decode_f64(const uint8_t *p, size_t len, double *dst, size_t n, struct vg_err *err);
/*
 * A value column encoded against a reference column the reader decodes
 * first (rollups: max against last, which counters make equal; sum against
 * count x last; increase against the change of last): either "the same
 * bits" (tag and count, two bytes), the decimal difference from the
 * reference, or, when smaller, the plain encoding of vg_col_encode_f64. The
 * decoder must be given a reference with the same bits as the encoder had:
 * derive it only from columns decoded before. dst may be ref. Returns as
 * the plain encoder and decoder do; a plain column decodes here too.
 */
int vg_col_encode_f64_ref(const double *v, const double *ref, size_t n, struct vg_buf *out);
long vg_col_decode_f64_ref(const uint8_t *p, size_t len, const double *ref, double *dst, size_t n,
			   struct vg_err *err);
/* The entry count a column says it holds, without decoding it: 0, or
 * VG_EINVAL if the bytes are too short. */
int vg_col_count(const uint8_t *p, size_t len, size_t *n, struct vg_err *err);

#endif
