/*
 * frame.c: the wire codec of frame.h, shared by the agent and the receiver.
 *
 * The header layout and the payload shapes are at the top of frame.h; the
 * full description, with examples, is docs/protocol.md. This file owns
 * framing, checksums, compression and the msgpack shapes of the payloads.
 * It does not own connections, sequencing or the series dictionary: the
 * agent's sender and the receiver's ingest keep those.
 *
 * Decoding order, so that hostile input costs little and allocates nothing
 * it has not justified: header fields and limits first (24 bytes read),
 * then the checksum over the payload, then the zstd frame's declared
 * content size against VG_FRAME_MAX_RAW, then decompression into a buffer
 * sized by that bound, then the msgpack cursor (mpack.h), which checks every
 * count against the bytes left.
 */
#include "common/frame.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/hash.h"
#include "common/mpack.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "common/banned.h"

/*
 * The zstd contexts are made at their first use: an agent, whose ACKs are
 * too small to compress, never makes a decompression context (96 KiB).
 * Compression keeps small tables (a 128 KiB window, 4 KiB-entry hash and
 * chain tables) whatever the level and the first frame's size: zstd sizes
 * its workspace from the level and the frame, and zeroes the tables, so a
 * large first frame (the agent's series dictionary) left an agent holding
 * half a MiB for its lifetime. On Vigil's frames the ratio is the same
 * within 0.2 % (docs/performance.md, "Agent footprint").
 */
#define CCTX_WINDOW_LOG 17
#define CCTX_TABLE_LOG 12
/* The compressed output of a frame larger than this (an agent's series
 * dictionary, sent as a connection starts) is not kept for the next: the
 * steady state's frames are a few KiB. */
#define SCRATCH_KEEP_BYTES (16 * 1024)

struct vg_frame_codec {
	ZSTD_CCtx *cctx; /* NULL until the first frame to compress */
	ZSTD_DCtx *dctx; /* NULL until the first compressed frame decoded */
	int level;
	struct vg_buf scratch; /* decompressed payloads, compressed output */
};

const char *vg_frame_type_name(int type)
{
	switch (type) {
	case VG_FRAME_HELLO: return "HELLO";
	case VG_FRAME_SERIES: return "SERIES";
	case VG_FRAME_SAMPLES: return "SAMPLES";
	case VG_FRAME_ACK: return "ACK";
	case VG_FRAME_ERROR: return "ERROR";
	}
	return "UNKNOWN";
}

enum vg_wire_error vg_wire_error_from(int code)
{
	switch (code) {
	case VG_EVERSION: return VG_WIRE_VERSION;
	case VG_ELIMIT: return VG_WIRE_TOO_LARGE;
	case VG_ENOENT: return VG_WIRE_UNKNOWN_REF;
	case VG_EPROTO: return VG_WIRE_PROTOCOL;
	case VG_EAUTH: return VG_WIRE_AUTH;
	case VG_EIO: case VG_ENOMEM: return VG_WIRE_INTERNAL;
	}
	return VG_WIRE_MALFORMED;
}

static uint32_t frame_checksum(const uint8_t *hdr, const uint8_t *payload, size_t len)
{
	/* Seeding with the header's hash covers type, flags, seq and length
	 * too, at the cost of hashing 20 more bytes. */
	return (uint32_t)XXH3_64bits_withSeed(payload, len, XXH3_64bits(hdr, 20));
}

int vg_frame_header_decode(const uint8_t *p, struct vg_frame_header *h, struct vg_err *err)
{
	uint32_t magic = vg_get_be32(p);

	if (magic != VG_FRAME_MAGIC)
		return vg_err_set(err, VG_EINVAL, "bad frame magic 0x%08x (expected \"VGIL\")", magic);
	h->version = p[4];
	h->type = p[5];
	h->flags = vg_get_be16(p + 6);
	h->seq = vg_get_be64(p + 8);
	h->payload_len = vg_get_be32(p + 16);
	h->checksum = vg_get_be32(p + 20);
	if (h->version < VG_FRAME_VERSION || h->version > VG_PROTO_MAX)
		return vg_err_set(err, VG_EVERSION, "unsupported frame version %u (this side speaks %d to %d)",
				  h->version, VG_FRAME_VERSION, VG_PROTO_MAX);
	if (h->type < VG_FRAME_HELLO || h->type > VG_FRAME_ERROR)
		return vg_err_set(err, VG_EINVAL, "unknown frame type %u", h->type);
	if (h->flags & ~(unsigned)VG_FRAME_F_ZSTD)
		return vg_err_set(err, VG_EINVAL, "unknown frame flags 0x%04x", h->flags);
	if (h->payload_len > VG_FRAME_MAX_PAYLOAD)
		return vg_err_set(err, VG_ELIMIT, "frame payload of %u bytes exceeds the limit of %u",
				  h->payload_len, VG_FRAME_MAX_PAYLOAD);
	return 0;
}

struct vg_frame_codec *vg_frame_codec_new(int zstd_level)
{
	struct vg_frame_codec *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->level = zstd_level;
	vg_buf_init(&c->scratch);
	return c;
}

void vg_frame_codec_free(struct vg_frame_codec *c)
{
	if (c == NULL)
		return;
	ZSTD_freeCCtx(c->cctx);
	ZSTD_freeDCtx(c->dctx);
	vg_buf_release(&c->scratch);
	free(c);
}

static ZSTD_CCtx *cctx_get(struct vg_frame_codec *c)
{
	if (c->cctx == NULL && (c->cctx = ZSTD_createCCtx()) != NULL) {
		ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_compressionLevel, c->level);
		ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_windowLog, CCTX_WINDOW_LOG);
		ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_hashLog, CCTX_TABLE_LOG);
		ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_chainLog, CCTX_TABLE_LOG);
	}
	return c->cctx;
}

int vg_frame_encode(struct vg_frame_codec *c, enum vg_frame_type type, uint64_t seq,
		    const uint8_t *raw, size_t raw_len, struct vg_buf *out, struct vg_err *err)
{
	return vg_frame_encode_version(c, VG_FRAME_VERSION, type, seq, raw, raw_len, out, err);
}

/* Appends the frame of payload[0, payload_len) with flags to out. */
static int put_frame(uint8_t version, enum vg_frame_type type, uint64_t seq, uint16_t flags,
		     const uint8_t *payload, size_t payload_len, struct vg_buf *out, struct vg_err *err)
{
	size_t start = out->len;
	uint8_t *hdr;

	if (payload_len > VG_FRAME_MAX_PAYLOAD)
		return vg_err_set(err, VG_ELIMIT, "%s payload of %zu bytes exceeds the limit of %u",
				  vg_frame_type_name(type), payload_len, VG_FRAME_MAX_PAYLOAD);
	if (vg_buf_grow(out, VG_FRAME_HEADER_SIZE + payload_len) != 0)
		return vg_err_set(err, VG_ENOMEM, "out of memory building a frame");
	hdr = out->data + start;
	vg_put_be32(hdr, VG_FRAME_MAGIC);
	hdr[4] = version;
	hdr[5] = (uint8_t)type;
	vg_put_be16(hdr + 6, flags);
	vg_put_be64(hdr + 8, seq);
	vg_put_be32(hdr + 16, (uint32_t)payload_len);
	if (payload_len)
		memcpy(hdr + VG_FRAME_HEADER_SIZE, payload, payload_len);
	vg_put_be32(hdr + 20, frame_checksum(hdr, hdr + VG_FRAME_HEADER_SIZE, payload_len));
	out->len = start + VG_FRAME_HEADER_SIZE + payload_len;
	out->data[out->len] = 0;
	return 0;
}

int vg_frame_encode_plain(uint8_t version, enum vg_frame_type type, uint64_t seq, const uint8_t *raw,
			  size_t raw_len, struct vg_buf *out, struct vg_err *err)
{
	if (raw_len > VG_FRAME_MAX_RAW)
		return vg_err_set(err, VG_ELIMIT, "%s payload of %zu bytes exceeds the limit of %u",
				  vg_frame_type_name(type), raw_len, VG_FRAME_MAX_RAW);
	return put_frame(version, type, seq, 0, raw, raw_len, out, err);
}

int vg_frame_encode_version(struct vg_frame_codec *c, uint8_t version, enum vg_frame_type type,
			    uint64_t seq, const uint8_t *raw, size_t raw_len, struct vg_buf *out,
			    struct vg_err *err)
{
	const uint8_t *payload = raw;
	size_t payload_len = raw_len;
	uint16_t flags = 0;
	int rc;

	if (raw_len > VG_FRAME_MAX_RAW)
		return vg_err_set(err, VG_ELIMIT, "%s payload of %zu bytes exceeds the limit of %u",
				  vg_frame_type_name(type), raw_len, VG_FRAME_MAX_RAW);
	if (raw_len >= VG_FRAME_COMPRESS_MIN) {
		size_t bound = ZSTD_compressBound(raw_len), n;

		vg_buf_reset(&c->scratch);
		if (cctx_get(c) == NULL || vg_buf_grow(&c->scratch, bound) != 0)
			return vg_err_set(err, VG_ENOMEM, "out of memory compressing a frame");
		/* One-shot compression records the content size in the zstd
		 * frame header, which the decoder checks before allocating. */
		n = ZSTD_compress2(c->cctx, c->scratch.data, bound, raw, raw_len);
		if (ZSTD_isError(n))
			return vg_err_set(err, VG_EIO, "zstd: %s", ZSTD_getErrorName(n));
		/* Protocol 2's payloads are dense already: a small one may not
		 * shrink, and then goes raw. */
		if (version == VG_FRAME_VERSION || n < raw_len) {
			payload = c->scratch.data;
			payload_len = n;
			flags |= VG_FRAME_F_ZSTD;
		}
	}
	if ((rc = put_frame(version, type, seq, flags, payload, payload_len, out, err)) != 0)
		return rc;
	if (raw_len >= VG_FRAME_COMPRESS_MIN && c->scratch.cap > SCRATCH_KEEP_BYTES)
		vg_buf_release(&c->scratch); /* (which this call overwrote) */
	return 0;
}

int vg_frame_open(struct vg_frame_codec *c, const struct vg_frame_header *h,
		  const uint8_t *payload, const uint8_t **raw, size_t *raw_len, struct vg_err *err)
{
	uint8_t hdr[20];
	unsigned long long content;
	size_t n;

	/* Recompute over the header as decoded, so the sum covers it too. */
	vg_put_be32(hdr, VG_FRAME_MAGIC);
	hdr[4] = h->version;
	hdr[5] = h->type;
	vg_put_be16(hdr + 6, h->flags);
	vg_put_be64(hdr + 8, h->seq);
	vg_put_be32(hdr + 16, h->payload_len);
	if (frame_checksum(hdr, payload, h->payload_len) != h->checksum)
		return vg_err_set(err, VG_ECHECKSUM, "%s frame seq %llu: checksum mismatch",
				  vg_frame_type_name(h->type), (unsigned long long)h->seq);
	if (!(h->flags & VG_FRAME_F_ZSTD)) {
		*raw = payload;
		*raw_len = h->payload_len;
		return 0;
	}
	content = ZSTD_getFrameContentSize(payload, h->payload_len);
	if (content == ZSTD_CONTENTSIZE_ERROR)
		return vg_err_set(err, VG_EINVAL, "%s frame seq %llu: payload is not a zstd frame",
				  vg_frame_type_name(h->type), (unsigned long long)h->seq);
	if (content == ZSTD_CONTENTSIZE_UNKNOWN)
		return vg_err_set(err, VG_EINVAL, "%s frame seq %llu: zstd frame without a content size",
				  vg_frame_type_name(h->type), (unsigned long long)h->seq);
	if (content > VG_FRAME_MAX_RAW)
		return vg_err_set(err, VG_ELIMIT, "%s frame seq %llu: declares %llu bytes uncompressed, over the limit of %u",
				  vg_frame_type_name(h->type), (unsigned long long)h->seq, content, VG_FRAME_MAX_RAW);
	vg_buf_reset(&c->scratch);
	if ((c->dctx == NULL && (c->dctx = ZSTD_createDCtx()) == NULL) ||
	    vg_buf_grow(&c->scratch, (size_t)content) != 0)
		return vg_err_set(err, VG_ENOMEM, "out of memory decompressing a frame");
	n = ZSTD_decompressDCtx(c->dctx, c->scratch.data, (size_t)content, payload, h->payload_len);
	if (ZSTD_isError(n) || n != content)
		return vg_err_set(err, VG_EINVAL, "%s frame seq %llu: corrupt zstd payload (%s)",
				  vg_frame_type_name(h->type), (unsigned long long)h->seq,
				  ZSTD_isError(n) ? ZSTD_getErrorName(n) : "size differs from the declared one");
	c->scratch.len = n;
	*raw = c->scratch.data;
	*raw_len = n;
	return 0;
}

/* --- HELLO ---------------------------------------------------------------- */

void vg_hello_pack(const struct vg_hello *h, struct vg_buf *raw)
{
	msgpack_packer pk;

	vg_mp_packer_init(&pk, raw);
	msgpack_pack_map(&pk, 5);
	vg_mp_pack_cstr(&pk, "proto");
	msgpack_pack_uint32(&pk, h->proto);
	vg_mp_pack_cstr(&pk, "agent");
	vg_mp_pack_strn(&pk, h->agent.p, h->agent.len);
	vg_mp_pack_cstr(&pk, "epoch");
	msgpack_pack_uint64(&pk, h->epoch);
	vg_mp_pack_cstr(&pk, "token");
	vg_mp_pack_strn(&pk, h->token.p, h->token.len);
	vg_mp_pack_cstr(&pk, "software");
	vg_mp_pack_strn(&pk, h->software.p, h->software.len);
}

static int read_ident(struct vg_mp_reader *r, struct vg_str *out, const char *what, struct vg_err *err)
{
	if (vg_mp_read_str(r, out) != 0)
		return vg_err_set(err, VG_EINVAL, "HELLO: \"%s\" is not a string", what);
	if (out->len > VG_FRAME_MAX_IDENT)
		return vg_err_set(err, VG_ELIMIT, "HELLO: \"%s\" is longer than %d bytes", what, VG_FRAME_MAX_IDENT);
	if (!vg_utf8_valid(out->p, out->len))
		return vg_err_set(err, VG_EINVAL, "HELLO: \"%s\" is not valid UTF-8", what);
	return 0;
}

int vg_hello_decode(const uint8_t *raw, size_t len, struct vg_hello *out, struct vg_err *err)
{
	struct vg_mp_reader r;
	uint32_t n;
	bool has_proto = false, has_agent = false;
	int rc;

	memset(out, 0, sizeof(*out));
	out->token.p = out->software.p = out->agent.p = "";
	vg_mp_reader_init(&r, raw, len);
	if (vg_mp_read_map(&r, &n) != 0)
		return vg_err_set(err, VG_EINVAL, "HELLO: payload is not a map");
	for (uint32_t i = 0; i < n; i++) {
		struct vg_str key;
		uint64_t v;

		if (vg_mp_read_str(&r, &key) != 0)
			return vg_err_set(err, VG_EINVAL, "HELLO: a key is not a string");
		if (vg_str_eq_c(key, "proto")) {
			if (vg_mp_read_uint(&r, &v) != 0 || v > UINT32_MAX)
				return vg_err_set(err, VG_EINVAL, "HELLO: \"proto\" is not an unsigned integer");
			out->proto = (uint32_t)v;
			has_proto = true;
		} else if (vg_str_eq_c(key, "agent")) {
			if ((rc = read_ident(&r, &out->agent, "agent", err)) != 0)
				return rc;
			has_agent = true;
		} else if (vg_str_eq_c(key, "epoch")) {
			if (vg_mp_read_uint(&r, &out->epoch) != 0)
				return vg_err_set(err, VG_EINVAL, "HELLO: \"epoch\" is not an unsigned integer");
		} else if (vg_str_eq_c(key, "token")) {
			if ((rc = read_ident(&r, &out->token, "token", err)) != 0)
				return rc;
		} else if (vg_str_eq_c(key, "software")) {
			if ((rc = read_ident(&r, &out->software, "software", err)) != 0)
				return rc;
		} else if (vg_mp_skip(&r) != 0) {
			return vg_err_set(err, VG_EINVAL, "HELLO: truncated value");
		}
	}
	if (vg_mp_remaining(&r) != 0)
		return vg_err_set(err, VG_EINVAL, "HELLO: %zu bytes after the map", vg_mp_remaining(&r));
	if (!has_proto || !has_agent)
		return vg_err_set(err, VG_EINVAL, "HELLO: \"proto\" and \"agent\" are required");
	if (out->proto < VG_PROTO_VERSION || out->proto > VG_PROTO_MAX)
		return vg_err_set(err, VG_EVERSION, "HELLO: protocol version %u is not supported (this side speaks %d to %d)",
				  out->proto, VG_PROTO_VERSION, VG_PROTO_MAX);
	if (out->agent.len == 0)
		return vg_err_set(err, VG_EINVAL, "HELLO: \"agent\" is empty");
	return 0;
}

/* --- SERIES --------------------------------------------------------------- */

void vg_series_pack_begin(msgpack_packer *pk, uint32_t n)
{
	msgpack_pack_array(pk, n);
}

void vg_series_pack_entry(msgpack_packer *pk, uint64_t ref, const struct vg_series *s)
{
	msgpack_pack_array(pk, 3);
	msgpack_pack_uint64(pk, ref);
	vg_mp_pack_strn(pk, s->name.p, s->name.len);
	msgpack_pack_map(pk, s->n_labels);
	for (uint32_t i = 0; i < s->n_labels; i++) {
		vg_mp_pack_strn(pk, s->labels[i].name.p, s->labels[i].name.len);
		vg_mp_pack_strn(pk, s->labels[i].value.p, s->labels[i].value.len);
	}
}

int vg_series_decode(const uint8_t *raw, size_t len, vg_series_cb cb, void *arg, struct vg_err *err)
{
	struct vg_mp_reader r;
	struct vg_series s;
	uint32_t n, i, fields, n_labels;
	uint64_t ref;
	int rc;

	vg_mp_reader_init(&r, raw, len);
	if (vg_mp_read_array(&r, &n) != 0)
		return vg_err_set(err, VG_EINVAL, "SERIES: payload is not an array");
	if (n > VG_FRAME_MAX_SERIES)
		return vg_err_set(err, VG_ELIMIT, "SERIES: %u entries exceed the limit of %d", n, VG_FRAME_MAX_SERIES);
	for (i = 0; i < n; i++) {
		if (vg_mp_read_array(&r, &fields) != 0 || fields != 3)
			return vg_err_set(err, VG_EINVAL, "SERIES: entry %u is not [ref, name, labels]", i);
		if (vg_mp_read_uint(&r, &ref) != 0)
			return vg_err_set(err, VG_EINVAL, "SERIES: entry %u: ref is not an unsigned integer", i);
		if (ref > VG_FRAME_MAX_REF)
			return vg_err_set(err, VG_ELIMIT, "SERIES: entry %u: ref %llu exceeds the limit of %u",
					  i, (unsigned long long)ref, VG_FRAME_MAX_REF);
		if (vg_mp_read_str(&r, &s.name) != 0)
			return vg_err_set(err, VG_EINVAL, "SERIES: entry %u: name is not a string", i);
		if (vg_mp_read_map(&r, &n_labels) != 0)
			return vg_err_set(err, VG_EINVAL, "SERIES: entry %u: labels are not a map", i);
		if (n_labels > VG_SERIES_MAX_LABELS)
			return vg_err_set(err, VG_ELIMIT, "SERIES: entry %u: %u labels exceed the limit of %d",
					  i, n_labels, VG_SERIES_MAX_LABELS);
		s.n_labels = n_labels;
		for (uint32_t j = 0; j < n_labels; j++) {
			if (vg_mp_read_str(&r, &s.labels[j].name) != 0 ||
			    vg_mp_read_str(&r, &s.labels[j].value) != 0)
				return vg_err_set(err, VG_EINVAL, "SERIES: entry %u: label %u is not a string pair", i, j);
		}
		if ((rc = vg_series_canonicalize(&s, err)) != 0) {
			vg_err_prefix(err, "SERIES: entry %u (ref %llu)", i, (unsigned long long)ref);
			return rc;
		}
		if ((rc = cb(arg, ref, &s, err)) != 0)
			return rc;
	}
	if (vg_mp_remaining(&r) != 0)
		return vg_err_set(err, VG_EINVAL, "SERIES: %zu bytes after the entries", vg_mp_remaining(&r));
	return 0;
}

/* --- SAMPLES -------------------------------------------------------------- */

void vg_samples_pack_begin(msgpack_packer *pk, uint32_t n_groups)
{
	msgpack_pack_array(pk, n_groups);
}

void vg_samples_pack_group(msgpack_packer *pk, int64_t ts_ms, uint32_t n_samples)
{
	msgpack_pack_array(pk, 1 + 2 * n_samples);
	msgpack_pack_int64(pk, ts_ms);
}

void vg_samples_pack_sample(msgpack_packer *pk, uint64_t ref, double value)
{
	msgpack_pack_uint64(pk, ref);
	vg_mp_pack_value(pk, value);
}

/* msgpack's shortest form of an unsigned and of a signed integer, as
 * msgpack_pack_uint64 and msgpack_pack_int64 write them. */
static uint8_t *put_mp_uint(uint8_t *p, uint64_t v)
{
	if (v < 128) {
		*p = (uint8_t)v;
		return p + 1;
	}
	if (v < 1ull << 8) {
		p[0] = 0xcc;
		p[1] = (uint8_t)v;
		return p + 2;
	}
	if (v < 1ull << 16) {
		p[0] = 0xcd;
		vg_put_be16(p + 1, (uint16_t)v);
		return p + 3;
	}
	if (v < 1ull << 32) {
		p[0] = 0xce;
		vg_put_be32(p + 1, (uint32_t)v);
		return p + 5;
	}
	p[0] = 0xcf;
	vg_put_be64(p + 1, v);
	return p + 9;
}

static uint8_t *put_mp_int(uint8_t *p, int64_t v)
{
	if (v >= -32) /* positive: the unsigned forms; -32..-1: a negative fixint */
		return v >= 0 ? put_mp_uint(p, (uint64_t)v) : (*p = (uint8_t)v, p + 1);
	if (v >= -128) {
		p[0] = 0xd0;
		p[1] = (uint8_t)v;
		return p + 2;
	}
	if (v >= -32768) {
		p[0] = 0xd1;
		vg_put_be16(p + 1, (uint16_t)v);
		return p + 3;
	}
	if (v >= -2147483648LL) {
		p[0] = 0xd2;
		vg_put_be32(p + 1, (uint32_t)v);
		return p + 5;
	}
	p[0] = 0xd3;
	vg_put_be64(p + 1, (uint64_t)v);
	return p + 9;
}

static uint8_t *put_mp_array(uint8_t *p, uint32_t n)
{
	if (n < 16) {
		*p = (uint8_t)(0x90 | n);
		return p + 1;
	}
	if (n < 1u << 16) {
		p[0] = 0xdc;
		vg_put_be16(p + 1, (uint16_t)n);
		return p + 3;
	}
	p[0] = 0xdd;
	vg_put_be32(p + 1, n);
	return p + 5;
}

int vg_samples_encode_group(struct vg_buf *out, int64_t ts_ms, size_t n, const uint32_t *refs,
			    const double *values)
{
	uint8_t *p, *end;

	/* arrays 2 * 5, ts 9; a sample at most 5 + 9: room is made as the
	 * bytes come (most samples take far less than the most), so the
	 * buffer, kept for the next batch, is no larger than they need */
	if (n > VG_FRAME_MAX_SAMPLES || vg_buf_grow(out, 19) != 0)
		return VG_ENOMEM;
	p = out->data + out->len;
	p = put_mp_array(p, 1);
	p = put_mp_array(p, (uint32_t)(1 + 2 * n));
	p = put_mp_int(p, ts_ms);
	end = out->data + out->cap - 1;
	for (size_t i = 0; i < n; i++) {
		double v = values[i];
		if (end - p < 14) {
			out->len = (size_t)(p - out->data);
			if (vg_buf_grow(out, 14) != 0)
				return VG_ENOMEM;
			p = out->data + out->len;
			end = out->data + out->cap - 1;
		}
		p = put_mp_uint(p, refs[i]);
		/* vg_mp_pack_value's choice: an integral double in int64's
		 * range (not -0) as an integer, any other as a float64 */
		if (v >= -9223372036854775808.0 && v < 9223372036854775808.0 && (double)(int64_t)v == v &&
		    !(v == 0 && signbit(v))) {
			p = put_mp_int(p, (int64_t)v);
		} else {
			uint64_t bits;
			memcpy(&bits, &v, 8);
			p[0] = 0xcb;
			vg_put_be64(p + 1, bits);
			p += 9;
		}
	}
	out->len = (size_t)(p - out->data);
	out->data[out->len] = 0;
	return 0;
}

void vg_sample_batch_init(struct vg_sample_batch *b)
{
	memset(b, 0, sizeof(*b));
}

void vg_sample_batch_release(struct vg_sample_batch *b)
{
	free(b->refs);
	free(b->ts_ms);
	free(b->values);
	vg_sample_batch_init(b);
}

int vg_sample_batch_reserve(struct vg_sample_batch *b, size_t need)
{
	size_t cap;
	void *p;

	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	if ((p = realloc(b->refs, cap * sizeof(*b->refs))) == NULL)
		return VG_ENOMEM;
	b->refs = p;
	if ((p = realloc(b->ts_ms, cap * sizeof(*b->ts_ms))) == NULL)
		return VG_ENOMEM;
	b->ts_ms = p;
	if ((p = realloc(b->values, cap * sizeof(*b->values))) == NULL)
		return VG_ENOMEM;
	b->values = p;
	b->cap = cap;
	return 0;
}

int vg_samples_decode(const uint8_t *raw, size_t len, struct vg_sample_batch *b, struct vg_err *err)
{
	struct vg_mp_reader r;
	uint32_t groups, g, items;
	int64_t ts;

	b->n = 0;
	vg_mp_reader_init(&r, raw, len);
	if (vg_mp_read_array(&r, &groups) != 0)
		return vg_err_set(err, VG_EINVAL, "SAMPLES: payload is not an array");
	for (g = 0; g < groups; g++) {
		size_t n_samples;

		if (vg_mp_read_array(&r, &items) != 0 || items % 2 != 1)
			return vg_err_set(err, VG_EINVAL, "SAMPLES: group %u is not [ts, ref, value, ...]", g);
		if (vg_mp_read_int(&r, &ts) != 0)
			return vg_err_set(err, VG_EINVAL, "SAMPLES: group %u: timestamp is not an integer", g);
		n_samples = items / 2;
		if (b->n + n_samples > VG_FRAME_MAX_SAMPLES)
			return vg_err_set(err, VG_ELIMIT, "SAMPLES: more than %d samples in one frame", VG_FRAME_MAX_SAMPLES);
		/* items was checked against the bytes left, so this is bounded
		 * by the payload, itself bounded by VG_FRAME_MAX_RAW. */
		if (vg_sample_batch_reserve(b, b->n + n_samples) != 0)
			return vg_err_set(err, VG_ENOMEM, "SAMPLES: out of memory");
		for (size_t i = 0; i < n_samples; i++) {
			uint64_t ref;
			double v;

			if (vg_mp_read_uint(&r, &ref) != 0 || ref > VG_FRAME_MAX_REF)
				return vg_err_set(err, VG_EINVAL, "SAMPLES: group %u, sample %zu: bad series ref", g, i);
			if (vg_mp_read_double(&r, &v) != 0)
				return vg_err_set(err, VG_EINVAL, "SAMPLES: group %u, sample %zu: value is not a number", g, i);
			b->refs[b->n] = ref;
			b->ts_ms[b->n] = ts;
			b->values[b->n] = v;
			b->n++;
		}
	}
	if (vg_mp_remaining(&r) != 0)
		return vg_err_set(err, VG_EINVAL, "SAMPLES: %zu bytes after the groups", vg_mp_remaining(&r));
	return 0;
}

/* --- ACK (protocol 2) ------------------------------------------------------ */

void vg_ack_pack(const struct vg_ack *a, struct vg_buf *raw)
{
	msgpack_packer pk;

	vg_mp_packer_init(&pk, raw);
	msgpack_pack_map(&pk, 3);
	vg_mp_pack_cstr(&pk, "refused_samples");
	msgpack_pack_uint64(&pk, a->refused_samples);
	vg_mp_pack_cstr(&pk, "refused_series");
	msgpack_pack_uint64(&pk, a->refused_series);
	vg_mp_pack_cstr(&pk, "limit");
	vg_mp_pack_strn(&pk, a->limit.p, a->limit.len > VG_FRAME_MAX_IDENT ? VG_FRAME_MAX_IDENT : a->limit.len);
}

int vg_ack_decode(const uint8_t *raw, size_t len, struct vg_ack *out, struct vg_err *err)
{
	struct vg_mp_reader r;
	uint32_t n;

	memset(out, 0, sizeof(*out));
	out->limit = (struct vg_str){ "", 0 };
	if (len == 0)
		return 0;
	vg_mp_reader_init(&r, raw, len);
	if (vg_mp_read_map(&r, &n) != 0)
		return vg_err_set(err, VG_EINVAL, "ACK: payload is not a map");
	for (uint32_t i = 0; i < n; i++) {
		struct vg_str key;

		if (vg_mp_read_str(&r, &key) != 0)
			return vg_err_set(err, VG_EINVAL, "ACK: a key is not a string");
		if (vg_str_eq_c(key, "refused_samples")) {
			if (vg_mp_read_uint(&r, &out->refused_samples) != 0)
				return vg_err_set(err, VG_EINVAL, "ACK: \"refused_samples\" is not an unsigned integer");
		} else if (vg_str_eq_c(key, "refused_series")) {
			if (vg_mp_read_uint(&r, &out->refused_series) != 0)
				return vg_err_set(err, VG_EINVAL, "ACK: \"refused_series\" is not an unsigned integer");
		} else if (vg_str_eq_c(key, "limit")) {
			if (vg_mp_read_str(&r, &out->limit) != 0 || out->limit.len > VG_FRAME_MAX_IDENT ||
			    !vg_utf8_valid(out->limit.p, out->limit.len))
				return vg_err_set(err, VG_EINVAL, "ACK: \"limit\" is not a string of at most %d bytes",
						  VG_FRAME_MAX_IDENT);
		} else if (vg_mp_skip(&r) != 0) {
			return vg_err_set(err, VG_EINVAL, "ACK: truncated value");
		}
	}
	if (vg_mp_remaining(&r) != 0)
		return vg_err_set(err, VG_EINVAL, "ACK: %zu bytes after the map", vg_mp_remaining(&r));
	return 0;
}

/* --- ERROR ---------------------------------------------------------------- */

void vg_error_pack(uint32_t code, const char *message, struct vg_buf *raw)
{
	msgpack_packer pk;
	size_t len = strlen(message);

	if (len > VG_FRAME_MAX_IDENT)
		len = VG_FRAME_MAX_IDENT;
	vg_mp_packer_init(&pk, raw);
	msgpack_pack_map(&pk, 2);
	vg_mp_pack_cstr(&pk, "code");
	msgpack_pack_uint32(&pk, code);
	vg_mp_pack_cstr(&pk, "message");
	vg_mp_pack_strn(&pk, message, len);
}

int vg_error_decode(const uint8_t *raw, size_t len, struct vg_error_msg *out, struct vg_err *err)
{
	struct vg_mp_reader r;
	uint32_t n;

	out->code = 0;
	out->message = (struct vg_str){ "", 0 };
	vg_mp_reader_init(&r, raw, len);
	if (vg_mp_read_map(&r, &n) != 0)
		return vg_err_set(err, VG_EINVAL, "ERROR: payload is not a map");
	for (uint32_t i = 0; i < n; i++) {
		struct vg_str key;
		uint64_t v;

		if (vg_mp_read_str(&r, &key) != 0)
			return vg_err_set(err, VG_EINVAL, "ERROR: a key is not a string");
		if (vg_str_eq_c(key, "code")) {
			if (vg_mp_read_uint(&r, &v) != 0 || v > UINT32_MAX)
				return vg_err_set(err, VG_EINVAL, "ERROR: \"code\" is not an unsigned integer");
			out->code = (uint32_t)v;
		} else if (vg_str_eq_c(key, "message")) {
			if (vg_mp_read_str(&r, &out->message) != 0)
				return vg_err_set(err, VG_EINVAL, "ERROR: \"message\" is not a string");
		} else if (vg_mp_skip(&r) != 0) {
			return vg_err_set(err, VG_EINVAL, "ERROR: truncated value");
		}
	}
	if (vg_mp_remaining(&r) != 0)
		return vg_err_set(err, VG_EINVAL, "ERROR: bytes after the map");
	return 0;
}
