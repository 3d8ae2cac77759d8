/*
 * frame.h: the wire protocol between agents and receivers. The one codec
 * both sides use; docs/protocol.md has the byte-for-byte description.
 *
 * A frame is a 24-byte header and a payload:
 *
 *   0      4  magic "VGIL" (56 47 49 4C)
 *   4      1  version: the protocol of the connection, 1 or 2
 *   5      1  type: 1 HELLO, 2 SERIES, 3 SAMPLES, 4 ACK, 5 ERROR
 *   6      2  flags: bit 0 = payload is one zstd frame; others must be 0
 *   8      8  sequence number
 *   16     4  payload length in bytes, <= VG_FRAME_MAX_PAYLOAD
 *   20     4  checksum: low 32 bits of XXH3_64 over the payload, seeded
 *             with XXH3_64 of header bytes 0..19
 *   24     -  payload: msgpack (zstd-compressed when flag 0 is set)
 * All integers big-endian.
 *
 * Payloads, after decompression (msgpack):
 *   HELLO   map {"proto": 1 or 2, "agent": str, "epoch": uint, "token": str,
 *                "software": str}; unknown keys are skipped
 *   SERIES  array of [ref uint, name str, {label str: value str, ...}]
 *   SAMPLES protocol 1: array of groups; group = [ts_ms int, ref, value, ...];
 *           protocol 2: scaled-decimal deltas, common/samples2.h
 *   ACK     header seq = highest SAMPLES seq now durable; protocol 1: empty;
 *           protocol 2: map {"refused_samples": uint, "refused_series": uint,
 *           "limit": str}, all optional (absent = 0, ""): what a limit kept
 *           out of the batches this ACK newly covers, stored otherwise
 *   ERROR   map {"code": uint, "message": str}; header seq = the frame at fault
 * Values are msgpack ints or floats. The SAMPLES seq counts batches of one
 * agent epoch from 1 upward, across reconnects; other frames from an agent
 * carry seq 0. Every frame of a connection has the version its HELLO
 * named; a receiver accepts 1 and 2, and one that knows only 1 answers a
 * version 2 HELLO with ERROR VERSION, on which an agent falls back to 1.
 *
 * Invariant: every limit below is checked before anything is allocated from
 * a length or count read from the input; decoders never trust a count the
 * remaining bytes cannot hold.
 */
#ifndef VG_FRAME_H
#define VG_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "common/series.h"

struct vg_buf;
struct vg_err;

#define VG_FRAME_MAGIC 0x5647494Cu /* "VGIL" */
#define VG_FRAME_VERSION 1               /* protocol 1, what vg_frame_encode writes */
#define VG_PROTO_V2 2
#define VG_PROTO_MAX 2                   /* the newest protocol this side speaks */
#define VG_FRAME_HEADER_SIZE 24
#define VG_FRAME_MAX_PAYLOAD (8u << 20)  /* bytes after the header, on the wire */
#define VG_FRAME_MAX_RAW (32u << 20)     /* bytes after decompression */
#define VG_FRAME_MAX_SERIES 100000       /* entries in one SERIES frame */
#define VG_FRAME_MAX_SAMPLES 1000000     /* samples in one SAMPLES frame */
#define VG_FRAME_MAX_REF 16777215u       /* largest series ref (dictionary size) */
#define VG_FRAME_MAX_IDENT 256           /* agent, token, software, message bytes */
#define VG_PROTO_VERSION 1

enum vg_frame_type {
	VG_FRAME_HELLO = 1,
	VG_FRAME_SERIES = 2,
	VG_FRAME_SAMPLES = 3,
	VG_FRAME_ACK = 4,
	VG_FRAME_ERROR = 5,
};

enum vg_frame_flag {
	VG_FRAME_F_ZSTD = 1,
};

/* Codes carried in ERROR frames. */
enum vg_wire_error {
	VG_WIRE_MALFORMED = 1,  /* bad magic, shape, checksum or compression */
	VG_WIRE_VERSION = 2,    /* protocol version not supported */
	VG_WIRE_TOO_LARGE = 3,  /* a limit was exceeded */
	VG_WIRE_UNKNOWN_REF = 4,/* SAMPLES used a ref no SERIES defined */
	VG_WIRE_PROTOCOL = 5,   /* frame out of order (e.g. SAMPLES before HELLO) */
	VG_WIRE_AUTH = 6,       /* token refused */
	VG_WIRE_INTERNAL = 7,   /* the receiver could not store the batch */
};

struct vg_frame_header {
	uint8_t version;
	uint8_t type;
	uint16_t flags;
	uint64_t seq;
	uint32_t payload_len;
	uint32_t checksum;
};

const char *vg_frame_type_name(int type);
/* The wire code for a VG_E* error from a decoder. */
enum vg_wire_error vg_wire_error_from(int code);

/* Decodes and checks a header from 24 bytes: magic, version, type, flags and
 * the payload limit. VG_EINVAL, VG_EVERSION or VG_ELIMIT with a message. */
int vg_frame_header_decode(const uint8_t *p, struct vg_frame_header *h, struct vg_err *err);

/* Per-connection (or per-thread) compression state and scratch space;
 * not thread-safe. */
struct vg_frame_codec;
struct vg_frame_codec *vg_frame_codec_new(int zstd_level);
void vg_frame_codec_free(struct vg_frame_codec *c);

/*
 * Appends a whole frame (header and payload) for the raw msgpack payload to
 * out. Payloads of VG_FRAME_COMPRESS_MIN bytes or more are zstd-compressed.
 * VG_ELIMIT if the payload would exceed the limits.
 */
#define VG_FRAME_COMPRESS_MIN 128
int vg_frame_encode(struct vg_frame_codec *c, enum vg_frame_type type, uint64_t seq,
		    const uint8_t *raw, size_t raw_len, struct vg_buf *out, struct vg_err *err);
/* The same with the header's version (1 or 2); a compressed payload that
 * is not smaller than the raw one is sent raw. */
int vg_frame_encode_version(struct vg_frame_codec *c, uint8_t version, enum vg_frame_type type,
			    uint64_t seq, const uint8_t *raw, size_t raw_len, struct vg_buf *out,
			    struct vg_err *err);
/* The same, never compressed (flags 0): for a frame about to be read back
 * at once, where compressing it would cost more than it saves. */
int vg_frame_encode_plain(uint8_t version, enum vg_frame_type type, uint64_t seq, const uint8_t *raw,
			  size_t raw_len, struct vg_buf *out, struct vg_err *err);

/*
 * Checks the payload (h->payload_len bytes) against the header's checksum
 * and decompresses it when flagged. *raw then points at the msgpack bytes,
 * in the caller's payload or in the codec's scratch buffer: valid until the
 * next call on c or until payload changes.
 */
int vg_frame_open(struct vg_frame_codec *c, const struct vg_frame_header *h,
		  const uint8_t *payload, const uint8_t **raw, size_t *raw_len, struct vg_err *err);

/* --- HELLO ---------------------------------------------------------------- */
struct vg_hello {
	uint32_t proto;
	struct vg_str agent;    /* the agent's identity, e.g. its host name */
	uint64_t epoch;         /* fixed for the life of one spool of batches */
	struct vg_str token;    /* empty when none */
	struct vg_str software; /* "vigil-agent 0.1.0" */
};
void vg_hello_pack(const struct vg_hello *h, struct vg_buf *raw);
/* The strings of out borrow raw. */
int vg_hello_decode(const uint8_t *raw, size_t len, struct vg_hello *out, struct vg_err *err);

/* --- SERIES --------------------------------------------------------------- */
/* Appending entries: vg_series_pack_begin(pk, n) and then n times
 * vg_series_pack_entry; s must be canonical. */
void vg_series_pack_begin(msgpack_packer *pk, uint32_t n);
void vg_series_pack_entry(msgpack_packer *pk, uint64_t ref, const struct vg_series *s);

/* Called once per entry with a canonical series (strings borrow raw);
 * a non-zero return stops the decode and is returned. */
typedef int (*vg_series_cb)(void *arg, uint64_t ref, struct vg_series *s, struct vg_err *err);
int vg_series_decode(const uint8_t *raw, size_t len, vg_series_cb cb, void *arg, struct vg_err *err);

/* --- SAMPLES -------------------------------------------------------------- */
void vg_samples_pack_begin(msgpack_packer *pk, uint32_t n_groups);
void vg_samples_pack_group(msgpack_packer *pk, int64_t ts_ms, uint32_t n_samples);
void vg_samples_pack_sample(msgpack_packer *pk, uint64_t ref, double value);
/* Appends a whole payload of one group (ts_ms, n samples) to out: the
 * bytes the three calls above write, without the packer's call per item.
 * VG_ENOMEM. */
int vg_samples_encode_group(struct vg_buf *out, int64_t ts_ms, size_t n, const uint32_t *refs,
			    const double *values);

/* Decoded samples, one entry per sample; reused across frames. */
struct vg_sample_batch {
	size_t n;
	size_t cap;
	uint64_t *refs;
	int64_t *ts_ms;
	double *values;
};
void vg_sample_batch_init(struct vg_sample_batch *b);
void vg_sample_batch_release(struct vg_sample_batch *b);
/* Room for need samples in all three arrays; VG_ENOMEM. */
int vg_sample_batch_reserve(struct vg_sample_batch *b, size_t need);
int vg_samples_decode(const uint8_t *raw, size_t len, struct vg_sample_batch *b, struct vg_err *err);

/* --- ACK (protocol 2) ------------------------------------------------------ */
/* A non-fatal refusal: the batches an ACK newly covers are stored, except
 * what a limit (receiver hardening: series per agent, labels...) refused. */
struct vg_ack {
	uint64_t refused_samples;
	uint64_t refused_series;
	struct vg_str limit; /* the limit's name, "" when nothing was refused */
};
void vg_ack_pack(const struct vg_ack *a, struct vg_buf *raw);
/* An empty payload is all zeros; limit borrows raw. */
int vg_ack_decode(const uint8_t *raw, size_t len, struct vg_ack *out, struct vg_err *err);

/* --- ERROR ---------------------------------------------------------------- */
struct vg_error_msg {
	uint32_t code;
	struct vg_str message;
};
void vg_error_pack(uint32_t code, const char *message, struct vg_buf *raw);
int vg_error_decode(const uint8_t *raw, size_t len, struct vg_error_msg *out, struct vg_err *err);

#endif
