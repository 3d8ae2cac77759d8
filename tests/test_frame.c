/* test_frame.c: the wire codec (common/frame.c) and the msgpack reader
 * (common/mpack.c): round trips, and every malformed or hostile case. */
#include "common/buf.h"
#include "common/err.h"
#include "common/frame.h"
#include "common/samples2.h"
#include "common/mpack.h"
#include "common/series.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

static struct vg_frame_codec *codec;

static void setup(void)
{
	codec = vg_frame_codec_new(3);
	ck_assert_ptr_nonnull(codec);
}

static void teardown(void)
{
	vg_frame_codec_free(codec);
}

/* Encodes raw as a frame, then decodes header and payload back. */
static int roundtrip(enum vg_frame_type type, uint64_t seq, const struct vg_buf *raw,
		     struct vg_buf *wire, struct vg_frame_header *h, const uint8_t **out,
		     size_t *out_len, struct vg_err *err)
{
	int rc = vg_frame_encode(codec, type, seq, raw->data, raw->len, wire, err);
	if (rc)
		return rc;
	ck_assert_uint_ge(wire->len, VG_FRAME_HEADER_SIZE);
	rc = vg_frame_header_decode(wire->data, h, err);
	if (rc)
		return rc;
	ck_assert_uint_eq(h->payload_len, wire->len - VG_FRAME_HEADER_SIZE);
	return vg_frame_open(codec, h, wire->data + VG_FRAME_HEADER_SIZE, out, out_len, err);
}

START_TEST(test_hello_roundtrip)
{
	struct vg_buf raw = VG_BUF_INIT, wire = VG_BUF_INIT;
	struct vg_hello in = { VG_PROTO_VERSION, vg_str_c("web-17"), 0xdeadbeefcafeULL,
			       vg_str_c("s3cret"), vg_str_c("vigil-agent 0.1.0") }, out;
	struct vg_frame_header h;
	struct vg_err err;
	const uint8_t *p;
	size_t n;

	vg_hello_pack(&in, &raw);
	ck_assert_int_eq(roundtrip(VG_FRAME_HELLO, 0, &raw, &wire, &h, &p, &n, &err), 0);
	ck_assert_uint_eq(h.type, VG_FRAME_HELLO);
	ck_assert_int_eq(vg_hello_decode(p, n, &out, &err), 0);
	ck_assert_uint_eq(out.proto, VG_PROTO_VERSION);
	ck_assert(vg_str_eq_c(out.agent, "web-17"));
	ck_assert(vg_str_eq_c(out.token, "s3cret"));
	ck_assert(vg_str_eq_c(out.software, "vigil-agent 0.1.0"));
	ck_assert_uint_eq(out.epoch, 0xdeadbeefcafeULL);
	vg_buf_release(&raw);
	vg_buf_release(&wire);
}
END_TEST

START_TEST(test_hello_rejects_other_proto_and_missing_agent)
{
	struct vg_buf raw = VG_BUF_INIT;
	struct vg_hello in = { 3, vg_str_c("a"), 1, vg_str_c(""), vg_str_c("") }, out;
	struct vg_err err;
	msgpack_packer pk;

	vg_hello_pack(&in, &raw);
	ck_assert_int_eq(vg_hello_decode(raw.data, raw.len, &out, &err), VG_EVERSION);
	/* Protocol 2 is accepted. */
	in.proto = 2;
	vg_buf_reset(&raw);
	vg_hello_pack(&in, &raw);
	ck_assert_int_eq(vg_hello_decode(raw.data, raw.len, &out, &err), 0);
	ck_assert_uint_eq(out.proto, 2);
	vg_buf_reset(&raw);
	vg_mp_packer_init(&pk, &raw);
	msgpack_pack_map(&pk, 1);
	vg_mp_pack_cstr(&pk, "proto");
	msgpack_pack_uint32(&pk, 1);
	ck_assert_int_eq(vg_hello_decode(raw.data, raw.len, &out, &err), VG_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "agent"));
	vg_buf_release(&raw);
}
END_TEST

struct collected {
	int n;
	uint64_t refs[8];
	struct vg_buf text;
};

static int collect_series(void *arg, uint64_t ref, struct vg_series *s, struct vg_err *err)
{
	struct collected *c = arg;

	(void)err;
	c->refs[c->n++] = ref;
	vg_series_format(s, &c->text);
	vg_buf_putc(&c->text, ';');
	return 0;
}

START_TEST(test_series_roundtrip_canonicalizes)
{
	struct vg_buf raw = VG_BUF_INIT, wire = VG_BUF_INIT;
	struct collected c = { 0, { 0 }, VG_BUF_INIT };
	struct vg_series a, b;
	struct vg_frame_header h;
	struct vg_err err;
	msgpack_packer pk;
	const uint8_t *p;
	size_t n;

	vg_series_init(&a, "node_cpu_seconds_total");
	vg_series_add(&a, "mode", "idle");
	vg_series_add(&a, "cpu", "0");
	vg_series_init(&b, "node_load1");
	vg_series_add(&b, "instance", "h\"1\\\n");
	vg_mp_packer_init(&pk, &raw);
	vg_series_pack_begin(&pk, 2);
	vg_series_pack_entry(&pk, 7, &a); /* deliberately not canonical */
	vg_series_pack_entry(&pk, 16777215, &b);
	ck_assert_int_eq(roundtrip(VG_FRAME_SERIES, 0, &raw, &wire, &h, &p, &n, &err), 0);
	ck_assert_int_eq(vg_series_decode(p, n, collect_series, &c, &err), 0);
	ck_assert_int_eq(c.n, 2);
	ck_assert_uint_eq(c.refs[0], 7);
	ck_assert_uint_eq(c.refs[1], 16777215);
	ck_assert_str_eq(vg_buf_cstr(&c.text),
			 "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"};node_load1{instance=\"h\\\"1\\\\\\n\"};");
	vg_buf_release(&raw);
	vg_buf_release(&wire);
	vg_buf_release(&c.text);
}
END_TEST

START_TEST(test_series_rejects_invalid_names_and_big_refs)
{
	struct vg_buf raw = VG_BUF_INIT;
	struct collected c = { 0, { 0 }, VG_BUF_INIT };
	struct vg_series s;
	struct vg_err err;
	msgpack_packer pk;

	vg_series_init(&s, "1bad");
	vg_mp_packer_init(&pk, &raw);
	vg_series_pack_begin(&pk, 1);
	vg_series_pack_entry(&pk, 1, &s);
	ck_assert_int_eq(vg_series_decode(raw.data, raw.len, collect_series, &c, &err), VG_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "invalid metric name"));

	vg_buf_reset(&raw);
	vg_series_init(&s, "ok");
	vg_series_add(&s, "__reserved", "x");
	vg_mp_packer_init(&pk, &raw);
	vg_series_pack_begin(&pk, 1);
	vg_series_pack_entry(&pk, 1, &s);
	ck_assert_int_eq(vg_series_decode(raw.data, raw.len, collect_series, &c, &err), VG_EINVAL);

	vg_buf_reset(&raw);
	vg_series_init(&s, "ok");
	vg_mp_packer_init(&pk, &raw);
	vg_series_pack_begin(&pk, 1);
	vg_series_pack_entry(&pk, (uint64_t)VG_FRAME_MAX_REF + 1, &s);
	ck_assert_int_eq(vg_series_decode(raw.data, raw.len, collect_series, &c, &err), VG_ELIMIT);

	/* Invalid UTF-8 in a label value. */
	vg_buf_reset(&raw);
	vg_series_init(&s, "ok");
	vg_series_add(&s, "a", "\xc3\x28");
	vg_mp_packer_init(&pk, &raw);
	vg_series_pack_begin(&pk, 1);
	vg_series_pack_entry(&pk, 1, &s);
	ck_assert_int_eq(vg_series_decode(raw.data, raw.len, collect_series, &c, &err), VG_EINVAL);
	ck_assert_int_eq(c.n, 0);
	vg_buf_release(&raw);
	vg_buf_release(&c.text);
}
END_TEST

/* vg_samples_encode_group writes what the packer calls write, byte for
 * byte, at every integer form's edges and for the values that go as floats. */
START_TEST(test_samples_encode_group_as_packer)
{
	const double vals[] = { 0.0, -0.0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295.0, 4294967296.0,
				-1, -32, -33, -128, -129, -32768, -32769, -2147483648.0, -2147483649.0,
				-9223372036854775808.0, 9223372036854775807.0, 9223372036854775808.0,
				-9223372036854777856.0, 1e300, 0.5, -1.5, 211221.16, INFINITY, -INFINITY, NAN, 1e-300 };
	const uint32_t refs[] = { 0, 1, 127, 128, 255, 256, 65535, 65536, 16777215, 4000000000u };
	const size_t nv = sizeof(vals) / sizeof(vals[0]), nr = sizeof(refs) / sizeof(refs[0]);
	const int64_t stamps[] = { 0, 5, -5, 1700000000123LL, -1700000000123LL, 200, -200 };
	const size_t counts[] = { 0, 1, 7, 15, 16, 100, 40000 };
	uint32_t *r = malloc(40000 * sizeof(*r));
	double *v = malloc(40000 * sizeof(*v));

	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(v);
	for (size_t i = 0; i < 40000; i++) {
		r[i] = refs[i % nr];
		v[i] = vals[(i / nr + i) % nv];
	}
	for (size_t t = 0; t < sizeof(stamps) / sizeof(stamps[0]); t++)
		for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
			struct vg_buf want = VG_BUF_INIT, got = VG_BUF_INIT;
			msgpack_packer pk;
			vg_mp_packer_init(&pk, &want);
			vg_samples_pack_begin(&pk, 1);
			vg_samples_pack_group(&pk, stamps[t], (uint32_t)counts[c]);
			for (size_t i = 0; i < counts[c]; i++)
				vg_samples_pack_sample(&pk, r[i], v[i]);
			ck_assert_int_eq(vg_samples_encode_group(&got, stamps[t], counts[c], r, v), 0);
			ck_assert_uint_eq(got.len, want.len);
			ck_assert(memcmp(got.data, want.data, want.len) == 0);
			vg_buf_release(&want);
			vg_buf_release(&got);
		}
	free(r);
	free(v);
}
END_TEST

START_TEST(test_samples_roundtrip_large_compressed)
{
	struct vg_buf raw = VG_BUF_INIT, wire = VG_BUF_INIT;
	struct vg_sample_batch b;
	struct vg_frame_header h;
	struct vg_err err;
	msgpack_packer pk;
	const uint8_t *p;
	size_t n;
	const double special[] = { 0.0, -1.5, 211221.16, 1e300, -9223372036854775808.0,
				   9223372036854775807.0, INFINITY, -INFINITY, 0.1 };

	vg_mp_packer_init(&pk, &raw);
	vg_samples_pack_begin(&pk, 2);
	vg_samples_pack_group(&pk, 1700000000123LL, 1000);
	for (int i = 0; i < 1000; i++)
		vg_samples_pack_sample(&pk, (uint64_t)i, i < 9 ? special[i] : i * 1.25);
	vg_samples_pack_group(&pk, -5, 1);
	vg_samples_pack_sample(&pk, 3, NAN);
	ck_assert_int_eq(roundtrip(VG_FRAME_SAMPLES, 42, &raw, &wire, &h, &p, &n, &err), 0);
	ck_assert(h.flags & VG_FRAME_F_ZSTD);
	ck_assert_uint_eq(h.seq, 42);
	ck_assert_uint_lt(wire.len, raw.len); /* compression paid off */
	vg_sample_batch_init(&b);
	ck_assert_int_eq(vg_samples_decode(p, n, &b, &err), 0);
	ck_assert_uint_eq(b.n, 1001);
	for (int i = 0; i < 1000; i++) {
		double want = i < 9 ? special[i] : i * 1.25;
		ck_assert_uint_eq(b.refs[i], (uint64_t)i);
		ck_assert_int_eq(b.ts_ms[i], 1700000000123LL);
		ck_assert(memcmp(&b.values[i], &want, sizeof(double)) == 0 || b.values[i] == want);
	}
	ck_assert_int_eq(b.ts_ms[1000], -5);
	ck_assert(isnan(b.values[1000]));
	vg_sample_batch_release(&b);
	vg_buf_release(&raw);
	vg_buf_release(&wire);
}
END_TEST

START_TEST(test_small_payload_not_compressed_and_ack_empty)
{
	struct vg_buf wire = VG_BUF_INIT;
	struct vg_frame_header h;
	struct vg_err err;
	const uint8_t *p;
	size_t n;

	ck_assert_int_eq(vg_frame_encode(codec, VG_FRAME_ACK, 99, NULL, 0, &wire, &err), 0);
	ck_assert_uint_eq(wire.len, VG_FRAME_HEADER_SIZE);
	ck_assert_mem_eq(wire.data, "VGIL\x01\x04", 6);
	ck_assert_int_eq(vg_frame_header_decode(wire.data, &h, &err), 0);
	ck_assert_uint_eq(h.flags, 0);
	ck_assert_uint_eq(h.seq, 99);
	ck_assert_int_eq(vg_frame_open(codec, &h, wire.data + VG_FRAME_HEADER_SIZE, &p, &n, &err), 0);
	ck_assert_uint_eq(n, 0);
	vg_buf_release(&wire);
}
END_TEST

START_TEST(test_error_roundtrip)
{
	struct vg_buf raw = VG_BUF_INIT;
	struct vg_error_msg m;
	struct vg_err err;

	vg_error_pack(VG_WIRE_UNKNOWN_REF, "ref 12 was never defined", &raw);
	ck_assert_int_eq(vg_error_decode(raw.data, raw.len, &m, &err), 0);
	ck_assert_uint_eq(m.code, VG_WIRE_UNKNOWN_REF);
	ck_assert(vg_str_eq_c(m.message, "ref 12 was never defined"));
	vg_buf_release(&raw);
}
END_TEST

/* A valid SAMPLES frame to damage in the malformed-input tests. */
static void good_frame(struct vg_buf *wire, int n_samples)
{
	struct vg_buf raw = VG_BUF_INIT;
	msgpack_packer pk;
	struct vg_err err;

	vg_mp_packer_init(&pk, &raw);
	vg_samples_pack_begin(&pk, 1);
	vg_samples_pack_group(&pk, 1000, (uint32_t)n_samples);
	for (int i = 0; i < n_samples; i++)
		vg_samples_pack_sample(&pk, (uint64_t)i, i);
	ck_assert_int_eq(vg_frame_encode(codec, VG_FRAME_SAMPLES, 1, raw.data, raw.len, wire, &err), 0);
	vg_buf_release(&raw);
}

START_TEST(test_header_bad_magic)
{
	struct vg_buf wire = VG_BUF_INIT;
	struct vg_frame_header h;
	struct vg_err err;

	good_frame(&wire, 1);
	wire.data[0] = 'X';
	ck_assert_int_eq(vg_frame_header_decode(wire.data, &h, &err), VG_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "magic"));
	vg_buf_release(&wire);
}
END_TEST

START_TEST(test_header_bad_version)
{
	struct vg_buf wire = VG_BUF_INIT;
	struct vg_frame_header h;
	struct vg_err err;

	good_frame(&wire, 1);
	wire.data[4] = 3;
	ck_assert_int_eq(vg_frame_header_decode(wire.data, &h, &err), VG_EVERSION);
	wire.data[4] = 0;
	ck_assert_int_eq(vg_frame_header_decode(wire.data, &h, &err), VG_EVERSION);
	vg_buf_release(&wire);
}
END_TEST

START_TEST(test_header_unknown_type_and_flags)
{
	struct vg_buf wire = VG_BUF_INIT;
	struct vg_frame_header h;
	struct vg_err err;

	good_frame(&wire, 1);
	wire.data[5] = 0;
	ck_assert_int_eq(vg_frame_header_decode(wire.data, &h, &err), VG_EINVAL);
	wire.data[5] = 6;
	ck_assert_int_eq(vg_frame_header_decode(wire.data, &h, &err), VG_EINVAL);
	wire.data[5] = VG_FRAME_SAMPLES;
	wire.data[7] |= 0x80;
	ck_assert_int_eq(vg_frame_header_decode(wire.data, &h, &err), VG_EINVAL);
	vg_buf_release(&wire);
}
END_TEST

START_TEST(test_header_oversized_length_4gib)
{
	struct vg_buf wire = VG_BUF_INIT;
	struct vg_frame_header h;
	struct vg_err err;

	good_frame(&wire, 1);
	vg_put_be32(wire.data + 16, 0xFFFFFFFFu);
	ck_assert_int_eq(vg_frame_header_decode(wire.data, &h, &err), VG_ELIMIT);
	ck_assert_ptr_nonnull(strstr(err.msg, "4294967295"));
	vg_put_be32(wire.data + 16, VG_FRAME_MAX_PAYLOAD + 1);
	ck_assert_int_eq(vg_frame_header_decode(wire.data, &h, &err), VG_ELIMIT);
	vg_buf_release(&wire);
}
END_TEST

START_TEST(test_checksum_mismatch_payload_and_header)
{
	struct vg_buf wire = VG_BUF_INIT;
	struct vg_frame_header h;
	struct vg_err err;
	const uint8_t *p;
	size_t n;

	good_frame(&wire, 50);
	wire.data[wire.len - 1] ^= 1;
	ck_assert_int_eq(vg_frame_header_decode(wire.data, &h, &err), 0);
	ck_assert_int_eq(vg_frame_open(codec, &h, wire.data + VG_FRAME_HEADER_SIZE, &p, &n, &err),
			 VG_ECHECKSUM);
	wire.data[wire.len - 1] ^= 1;
	/* The sequence number is covered too. */
	wire.data[15] ^= 1;
	ck_assert_int_eq(vg_frame_header_decode(wire.data, &h, &err), 0);
	ck_assert_int_eq(vg_frame_open(codec, &h, wire.data + VG_FRAME_HEADER_SIZE, &p, &n, &err),
			 VG_ECHECKSUM);
	vg_buf_release(&wire);
}
END_TEST

/* Builds a frame around payload bytes as given (checksum filled in by
 * open_forged): what a hostile but protocol-aware client sends. */
static void forge(struct vg_buf *wire, int type, uint16_t flags, const void *payload, size_t len)
{
	vg_buf_reset(wire);
	ck_assert_int_eq(vg_buf_grow(wire, VG_FRAME_HEADER_SIZE + len), 0);
	vg_put_be32(wire->data, VG_FRAME_MAGIC);
	wire->data[4] = VG_FRAME_VERSION;
	wire->data[5] = (uint8_t)type;
	vg_put_be16(wire->data + 6, flags);
	vg_put_be64(wire->data + 8, 1);
	vg_put_be32(wire->data + 16, (uint32_t)len);
	memcpy(wire->data + VG_FRAME_HEADER_SIZE, payload, len);
	wire->len = VG_FRAME_HEADER_SIZE + len;
}

#include <xxhash.h>
static void fix_checksum(struct vg_buf *wire)
{
	uint32_t len = vg_get_be32(wire->data + 16);
	uint32_t sum = (uint32_t)XXH3_64bits_withSeed(wire->data + VG_FRAME_HEADER_SIZE, len,
						      XXH3_64bits(wire->data, 20));
	vg_put_be32(wire->data + 20, sum);
}

static int open_forged(struct vg_buf *wire, const uint8_t **p, size_t *n, struct vg_err *err)
{
	struct vg_frame_header h;
	int rc;

	fix_checksum(wire);
	if ((rc = vg_frame_header_decode(wire->data, &h, err)) != 0)
		return rc;
	return vg_frame_open(codec, &h, wire->data + VG_FRAME_HEADER_SIZE, p, n, err);
}

START_TEST(test_corrupt_zstd)
{
	struct vg_buf wire = VG_BUF_INIT;
	struct vg_err err;
	const uint8_t *p;
	size_t n;
	uint8_t junk[200];

	memset(junk, 0xAB, sizeof(junk));
	forge(&wire, VG_FRAME_SAMPLES, VG_FRAME_F_ZSTD, junk, sizeof(junk));
	ck_assert_int_eq(open_forged(&wire, &p, &n, &err), VG_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "zstd"));

	/* A real zstd frame, damaged in the middle. */
	good_frame(&wire, 500);
	ck_assert(vg_get_be16(wire.data + 6) & VG_FRAME_F_ZSTD);
	for (size_t i = VG_FRAME_HEADER_SIZE + 20; i < wire.len - 4; i += 7)
		wire.data[i] ^= 0x5A;
	ck_assert_int_eq(open_forged(&wire, &p, &n, &err), VG_EINVAL);
	vg_buf_release(&wire);
}
END_TEST

START_TEST(test_zstd_bomb_declared_size_refused)
{
	struct vg_buf wire = VG_BUF_INIT, big = VG_BUF_INIT;
	struct vg_err err;
	const uint8_t *p;
	size_t n, csize, bound;
	size_t raw = (size_t)VG_FRAME_MAX_RAW + 4096;

	/* 32 MiB + 4 KiB of zeros compress to a few KiB: small on the wire,
	 * over the limit once inflated. Refused from the declared size. */
	uint8_t *zeros = calloc(1, raw);
	ck_assert_ptr_nonnull(zeros);
	bound = ZSTD_compressBound(raw);
	vg_buf_grow(&big, bound);
	csize = ZSTD_compress(big.data, bound, zeros, raw, 1);
	ck_assert(!ZSTD_isError(csize));
	ck_assert_uint_lt(csize, VG_FRAME_MAX_PAYLOAD);
	forge(&wire, VG_FRAME_SAMPLES, VG_FRAME_F_ZSTD, big.data, csize);
	ck_assert_int_eq(open_forged(&wire, &p, &n, &err), VG_ELIMIT);
	free(zeros);
	vg_buf_release(&wire);
	vg_buf_release(&big);
}
END_TEST

START_TEST(test_zstd_without_content_size_refused)
{
	struct vg_buf wire = VG_BUF_INIT, out = VG_BUF_INIT;
	struct vg_err err;
	const uint8_t *p;
	size_t n;
	char text[300];
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	ZSTD_inBuffer in;
	ZSTD_outBuffer ob;

	memset(text, 'a', sizeof(text));
	vg_buf_grow(&out, 1024);
	in = (ZSTD_inBuffer){ text, sizeof(text), 0 };
	ob = (ZSTD_outBuffer){ out.data, 1024, 0 };
	ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
	ck_assert(!ZSTD_isError(ZSTD_compressStream2(cc, &ob, &in, ZSTD_e_end)));
	forge(&wire, VG_FRAME_SAMPLES, VG_FRAME_F_ZSTD, out.data, ob.pos);
	ck_assert_int_eq(open_forged(&wire, &p, &n, &err), VG_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "content size"));
	ZSTD_freeCCtx(cc);
	vg_buf_release(&wire);
	vg_buf_release(&out);
}
END_TEST

START_TEST(test_msgpack_wrong_shapes)
{
	struct vg_sample_batch b;
	struct collected c = { 0, { 0 }, VG_BUF_INIT };
	struct vg_hello hello;
	struct vg_err err;
	/* Each is a whole payload of the wrong shape. */
	static const struct { const char *bytes; size_t len; } samples_bad[] = {
		{ "\x81\xa1x\x01", 4 },           /* a map, not an array */
		{ "\x91\x92\x01\x02", 4 },        /* group of even length */
		{ "\x91\x93\xa1t\x01\x02", 6 },   /* timestamp is a string */
		{ "\x91\x93\x01\xff\x02", 5 },    /* negative ref */
		{ "\x91\x93\x01\x01\xa1v", 6 },   /* value is a string */
		{ "\x91\x93\x01\x01", 4 },        /* truncated group */
		{ "\x91\x91\x01\x00", 4 },        /* trailing byte */
		{ "\xdd\xff\xff\xff\xff", 5 },    /* array claiming 4G entries */
		{ "\x91\xdd\x7f\xff\xff\xff\x01", 7 }, /* group claiming 2G items */
		{ "\x91\x93\x01\xcf\x00\x00\x00\x00\x01\x00\x00\x00\x01", 13 }, /* ref over the limit */
		{ "", 0 },
	};

	vg_sample_batch_init(&b);
	for (size_t i = 0; i < sizeof(samples_bad) / sizeof(samples_bad[0]); i++) {
		int rc = vg_samples_decode((const uint8_t *)samples_bad[i].bytes, samples_bad[i].len, &b, &err);
		ck_assert_msg(rc == VG_EINVAL || rc == VG_ELIMIT, "case %zu decoded (rc %d)", i, rc);
	}
	/* SERIES entries of the wrong shape. */
	ck_assert_int_eq(vg_series_decode((const uint8_t *)"\x91\x92\x01\xa1x", 5, collect_series, &c, &err), VG_EINVAL);
	ck_assert_int_eq(vg_series_decode((const uint8_t *)"\x91\x93\x01\x01\x80", 5, collect_series, &c, &err), VG_EINVAL);
	ck_assert_int_eq(vg_series_decode((const uint8_t *)"\x91\x93\x01\xa1x\x81\xa1" "a\x01", 9, collect_series, &c, &err), VG_EINVAL);
	ck_assert_int_eq(vg_series_decode((const uint8_t *)"\xdf\x00\x00\x00\x01\xa1x\xa1y", 9, collect_series, &c, &err), VG_EINVAL);
	ck_assert_int_eq(c.n, 0);
	/* HELLO of the wrong shape. */
	ck_assert_int_eq(vg_hello_decode((const uint8_t *)"\x90", 1, &hello, &err), VG_EINVAL);
	ck_assert_int_eq(vg_hello_decode((const uint8_t *)"\x81\x01\x01", 3, &hello, &err), VG_EINVAL);
	ck_assert_int_eq(vg_hello_decode((const uint8_t *)"\x81\xa5proto\xa1x", 8, &hello, &err), VG_EINVAL);
	vg_sample_batch_release(&b);
	vg_buf_release(&c.text);
}
END_TEST

START_TEST(test_series_entry_count_over_limit)
{
	struct vg_buf raw = VG_BUF_INIT;
	struct collected c = { 0, { 0 }, VG_BUF_INIT };
	struct vg_err err;
	msgpack_packer pk;

	/* Over the limit and backed by real bytes, so the cursor's own check
	 * passes and the frame limit is what refuses it. */
	vg_mp_packer_init(&pk, &raw);
	vg_series_pack_begin(&pk, VG_FRAME_MAX_SERIES + 1);
	for (int i = 0; i < VG_FRAME_MAX_SERIES + 1; i++)
		msgpack_pack_nil(&pk);
	ck_assert_int_eq(vg_series_decode(raw.data, raw.len, collect_series, &c, &err), VG_ELIMIT);
	ck_assert_int_eq(c.n, 0);
	vg_buf_release(&raw);
	vg_buf_release(&c.text);
}
END_TEST

START_TEST(test_mpack_reader_int_edges)
{
	struct vg_mp_reader r;
	uint64_t u;
	int64_t i;
	double d;

	vg_mp_reader_init(&r, (const uint8_t *)"\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9);
	ck_assert_int_eq(vg_mp_read_uint(&r, &u), 0);
	ck_assert_uint_eq(u, UINT64_MAX);
	vg_mp_reader_init(&r, (const uint8_t *)"\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9);
	ck_assert_int_eq(vg_mp_read_int(&r, &i), VG_EINVAL); /* does not fit int64 */
	ck_assert_uint_eq(vg_mp_remaining(&r), 9);             /* cursor untouched */
	vg_mp_reader_init(&r, (const uint8_t *)"\xd3\x80\x00\x00\x00\x00\x00\x00\x00", 9);
	ck_assert_int_eq(vg_mp_read_int(&r, &i), 0);
	ck_assert_int_eq(i, INT64_MIN);
	vg_mp_reader_init(&r, (const uint8_t *)"\xe0", 1);
	ck_assert_int_eq(vg_mp_read_int(&r, &i), 0);
	ck_assert_int_eq(i, -32);
	vg_mp_reader_init(&r, (const uint8_t *)"\xca\x3f\x80\x00\x00", 5);
	ck_assert_int_eq(vg_mp_read_double(&r, &d), 0);
	ck_assert(d == 1.0);
	vg_mp_reader_init(&r, (const uint8_t *)"\xcb\x3f\xf0\x00", 4);
	ck_assert_int_eq(vg_mp_read_double(&r, &d), VG_EINVAL);
	/* skip: nested too deep */
	uint8_t deep[64];
	memset(deep, 0x91, sizeof(deep));
	vg_mp_reader_init(&r, deep, sizeof(deep));
	ck_assert_int_eq(vg_mp_skip(&r), VG_EINVAL);
	/* skip: str claiming more bytes than there are */
	vg_mp_reader_init(&r, (const uint8_t *)"\xdb\x00\x00\x10\x00" "ab", 7);
	ck_assert_int_eq(vg_mp_skip(&r), VG_EINVAL);
}
END_TEST

START_TEST(test_value_packing_uses_ints_when_exact)
{
	struct vg_buf raw = VG_BUF_INIT;
	msgpack_packer pk;

	vg_mp_packer_init(&pk, &raw);
	vg_mp_pack_value(&pk, 5.0);
	ck_assert_uint_eq(raw.len, 1);
	vg_buf_reset(&raw);
	vg_mp_pack_value(&pk, -0.0); /* the sign of zero must survive */
	ck_assert_uint_eq(raw.len, 9);
	vg_buf_reset(&raw);
	vg_mp_pack_value(&pk, 9223372036854775808.0); /* 2^63: no int64 */
	ck_assert_uint_eq(raw.len, 9);
	ck_assert_uint_eq(raw.data[0], 0xCB);
	vg_buf_release(&raw);
}
END_TEST

/* --- protocol 2 ------------------------------------------------------------ */

/* Encodes groups with st_enc, decodes with st_dec, checks bit for bit. */
static size_t v2_roundtrip(struct vg_samples2_state *enc, struct vg_samples2_state *dec, int64_t ts,
			   size_t n, const uint64_t *refs, const double *values, uint32_t n_defined)
{
	struct vg_buf raw = VG_BUF_INIT;
	struct vg_sample_batch b;
	struct vg_err err;
	size_t len;

	vg_sample_batch_init(&b);
	vg_samples2_encode_begin(&raw, 1);
	ck_assert_int_eq(vg_samples2_encode_group(enc, ts, n, refs, values, &raw), 0);
	ck_assert_msg(vg_samples2_decode(dec, raw.data, raw.len, n_defined, &b, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(b.n, n);
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_eq(b.refs[i], refs[i]);
		ck_assert_int_eq(b.ts_ms[i], ts);
		ck_assert_msg(memcmp(&b.values[i], &values[i], sizeof(double)) == 0, "sample %zu: %.17g != %.17g",
			      i, b.values[i], values[i]);
	}
	len = raw.len;
	vg_buf_release(&raw);
	vg_sample_batch_release(&b);
	return len;
}

START_TEST(test_v2_values_exact_and_steady_state_small)
{
	struct vg_samples2_state enc, dec;
	uint64_t refs[12];
	double v[12] = { 0.57, 1234.56, -0.0, 0.0, NAN, INFINITY, -INFINITY, 1.0 / 3.0, 1e300, 4096.0 * 1e6,
			 5e-324, 123456789.125 };
	size_t first, later;

	vg_samples2_state_init(&enc);
	vg_samples2_state_init(&dec);
	for (int i = 0; i < 12; i++)
		refs[i] = (uint64_t)i;
	first = v2_roundtrip(&enc, &dec, 1764000000000LL, 12, refs, v, 12);
	/* Small changes of the decimals cost a byte or two each. */
	v[0] += 0.01;
	v[1] += 10.25;
	v[9] += 4096;
	v[11] += 1;
	later = v2_roundtrip(&enc, &dec, 1764000010000LL, 12, refs, v, 12);
	ck_assert_uint_lt(later, first);
	/* Unchanged decimal values: one byte each, plus NaN, 1/3, 1e300 and
	 * the denormal, -0 and ±Inf as floats. */
	later = v2_roundtrip(&enc, &dec, 1764000020000LL, 12, refs, v, 12);
	ck_assert_uint_le(later, 8 + 12 + 7 * 10);
	/* A value that needs more decimals than its series had. */
	v[1] = 1234.5678;
	v2_roundtrip(&enc, &dec, 1764000030000LL, 12, refs, v, 12);
	vg_samples2_state_release(&enc);
	vg_samples2_state_release(&dec);
}
END_TEST

START_TEST(test_v2_refs_change_repeat_and_unknown)
{
	struct vg_samples2_state enc, dec;
	uint64_t a[3] = { 5, 2, 7 }, b2[4] = { 7, 7, 0, 1 };
	double va[3] = { 1, 2, 3 }, vb[4] = { 4, 5.5, 6, 7 };
	struct vg_buf raw = VG_BUF_INIT;
	struct vg_sample_batch b;
	struct vg_err err;

	vg_samples2_state_init(&enc);
	vg_samples2_state_init(&dec);
	v2_roundtrip(&enc, &dec, 10, 3, a, va, 8);
	v2_roundtrip(&enc, &dec, 20, 3, a, va, 8);   /* the same refs: one byte for them */
	v2_roundtrip(&enc, &dec, 30, 4, b2, vb, 8);  /* a ref twice in one group */
	v2_roundtrip(&enc, &dec, 5, 4, b2, vb, 8);   /* time going back is allowed */
	/* A ref the connection did not define. */
	vg_sample_batch_init(&b);
	vg_samples2_encode_begin(&raw, 1);
	ck_assert_int_eq(vg_samples2_encode_group(&enc, 40, 3, a, va, &raw), 0);
	ck_assert_int_eq(vg_samples2_decode(&dec, raw.data, raw.len, 6, &b, &err), VG_ENOENT);
	vg_buf_release(&raw);
	vg_sample_batch_release(&b);
	vg_samples2_state_release(&enc);
	vg_samples2_state_release(&dec);
}
END_TEST

/* A group of every ref from 0 in order is kept as its count only; repeats
 * of it, and changes to and from other groups, read the same either way. */
START_TEST(test_v2_refs_dense_kept_as_count)
{
	struct vg_samples2_state enc, dec;
	uint64_t dense[5] = { 0, 1, 2, 3, 4 }, sparse[3] = { 4, 0, 2 }, shorter[4] = { 0, 1, 2, 3 };
	double v[5] = { 1, 2, 3, 4, 5 };

	vg_samples2_state_init(&enc);
	vg_samples2_state_init(&dec);
	v2_roundtrip(&enc, &dec, 10, 5, dense, v, 5);
	ck_assert(enc.is_prev_dense && dec.is_prev_dense);
	ck_assert_ptr_null(dec.prev_refs);
	v2_roundtrip(&enc, &dec, 20, 5, dense, v, 5);   /* repeated */
	v2_roundtrip(&enc, &dec, 30, 3, sparse, v, 5);  /* a copy again */
	ck_assert(!dec.is_prev_dense);
	ck_assert_ptr_nonnull(dec.prev_refs);
	v2_roundtrip(&enc, &dec, 40, 3, sparse, v, 5);  /* repeated from the copy */
	v2_roundtrip(&enc, &dec, 50, 4, shorter, v, 5); /* dense, fewer */
	ck_assert(dec.is_prev_dense);
	v2_roundtrip(&enc, &dec, 60, 4, shorter, v, 5);
	v2_roundtrip(&enc, &dec, 70, 5, dense, v, 5);   /* not a repeat: one more */
	v2_roundtrip(&enc, &dec, 80, 5, dense, v, 5);
	vg_samples2_state_release(&enc);
	vg_samples2_state_release(&dec);
}
END_TEST

START_TEST(test_v2_hostile_payloads_refused)
{
	static const struct {
		const char *name;
		uint8_t bytes[16];
		size_t len;
	} cases[] = {
		{ "empty", { 0 }, 0 },
		{ "groups beyond the bytes", { 0xff, 0xff, 0x03 }, 3 },
		{ "truncated group", { 1, 0 }, 2 },
		{ "samples beyond the bytes", { 1, 0, 100, 0 }, 4 },
		{ "unknown refs mode", { 1, 0, 1, 7, 2, 0, 0 }, 7 },
		{ "repeat with no previous group", { 1, 0, 1, 1, 0, 0 }, 6 },
		{ "delta without a base", { 1, 0, 1, 0, 2, 0, 2 }, 7 },
		{ "exception index out of range", { 1, 0, 1, 0, 2, 1, 5, 0, 2, 0 }, 10 },
		{ "unknown value kind", { 1, 0, 1, 0, 2, 1, 0, 99, 2, 0 }, 10 },
		{ "truncated float", { 1, 0, 1, 0, 2, 1, 0, 255, 1, 2 }, 10 },
		{ "delta beside an exception", { 1, 0, 1, 0, 2, 1, 0, 0, 2, 2 }, 10 },
		{ "negative ref", { 1, 0, 1, 0, 1, 0, 0 }, 7 },
		{ "bytes after the groups", { 1, 0, 1, 0, 2, 1, 0, 0, 2, 0, 9 }, 11 },
		{ "mantissa beyond 2^53", { 1, 0, 1, 0, 2, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f }, 16 },
	};
	struct vg_sample_batch b;
	struct vg_err err;

	vg_sample_batch_init(&b);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vg_samples2_state st;
		vg_samples2_state_init(&st);
		ck_assert_msg(vg_samples2_decode(&st, cases[i].bytes, cases[i].len, 4, &b, &err) < 0,
			      "%s was accepted", cases[i].name);
		vg_samples2_state_release(&st);
	}
	/* And a good one of the same shape: [1 group, ts 0, 1 sample, ref
	 * 0, exception at 0 scale 0 mantissa 1, delta 0]. */
	static const uint8_t good[] = { 1, 0, 1, 0, 2, 1, 0, 0, 2, 0 };
	struct vg_samples2_state st;
	vg_samples2_state_init(&st);
	ck_assert_int_eq(vg_samples2_decode(&st, good, sizeof(good), 4, &b, &err), 0);
	ck_assert_uint_eq(b.n, 1);
	ck_assert(b.values[0] == 1.0);
	vg_samples2_state_release(&st);
	vg_sample_batch_release(&b);
}
END_TEST

START_TEST(test_v2_ack_refusal_roundtrip_and_empty)
{
	struct vg_buf raw = VG_BUF_INIT;
	struct vg_ack in = { 12, 3, { "max_series_per_agent", 20 } }, out;
	struct vg_err err;

	vg_ack_pack(&in, &raw);
	ck_assert_int_eq(vg_ack_decode(raw.data, raw.len, &out, &err), 0);
	ck_assert_uint_eq(out.refused_samples, 12);
	ck_assert_uint_eq(out.refused_series, 3);
	ck_assert(vg_str_eq_c(out.limit, "max_series_per_agent"));
	ck_assert_int_eq(vg_ack_decode(NULL, 0, &out, &err), 0);
	ck_assert_uint_eq(out.refused_samples, 0);
	ck_assert_uint_eq(out.limit.len, 0);
	ck_assert_int_eq(vg_ack_decode((const uint8_t *)"\x93", 1, &out, &err), VG_EINVAL);
	vg_buf_release(&raw);
}
END_TEST

START_TEST(test_v2_frame_version_and_raw_when_not_smaller)
{
	struct vg_frame_codec *c = vg_frame_codec_new(3);
	struct vg_buf out = VG_BUF_INIT;
	struct vg_frame_header h;
	struct vg_err err;
	uint8_t noise[200];

	for (size_t i = 0; i < sizeof(noise); i++)
		noise[i] = (uint8_t)(i * 151 + 7) ^ (uint8_t)(i >> 3) * 29;
	ck_assert_int_eq(vg_frame_encode_version(c, VG_PROTO_V2, VG_FRAME_SAMPLES, 9, noise, sizeof(noise), &out, &err), 0);
	ck_assert_int_eq(vg_frame_header_decode(out.data, &h, &err), 0);
	ck_assert_uint_eq(h.version, 2);
	ck_assert(!(h.flags & VG_FRAME_F_ZSTD) || h.payload_len < sizeof(noise));
	ck_assert_uint_le(h.payload_len, sizeof(noise));
	vg_buf_release(&out);
	vg_frame_codec_free(c);
}
END_TEST

static Suite *frame_suite(void)
{
	Suite *s = suite_create("frame");
	TCase *tc = tcase_create("codec");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_hello_roundtrip);
	tcase_add_test(tc, test_hello_rejects_other_proto_and_missing_agent);
	tcase_add_test(tc, test_series_roundtrip_canonicalizes);
	tcase_add_test(tc, test_series_rejects_invalid_names_and_big_refs);
	tcase_add_test(tc, test_samples_roundtrip_large_compressed);
	tcase_add_test(tc, test_samples_encode_group_as_packer);
	tcase_add_test(tc, test_small_payload_not_compressed_and_ack_empty);
	tcase_add_test(tc, test_error_roundtrip);
	tcase_add_test(tc, test_header_bad_magic);
	tcase_add_test(tc, test_header_bad_version);
	tcase_add_test(tc, test_v2_values_exact_and_steady_state_small);
	tcase_add_test(tc, test_v2_refs_change_repeat_and_unknown);
	tcase_add_test(tc, test_v2_refs_dense_kept_as_count);
	tcase_add_test(tc, test_v2_hostile_payloads_refused);
	tcase_add_test(tc, test_v2_ack_refusal_roundtrip_and_empty);
	tcase_add_test(tc, test_v2_frame_version_and_raw_when_not_smaller);
	tcase_add_test(tc, test_header_unknown_type_and_flags);
	tcase_add_test(tc, test_header_oversized_length_4gib);
	tcase_add_test(tc, test_checksum_mismatch_payload_and_header);
	tcase_add_test(tc, test_corrupt_zstd);
	tcase_add_test(tc, test_zstd_bomb_declared_size_refused);
	tcase_add_test(tc, test_zstd_without_content_size_refused);
	tcase_add_test(tc, test_msgpack_wrong_shapes);
	tcase_add_test(tc, test_series_entry_count_over_limit);
	tcase_add_test(tc, test_mpack_reader_int_edges);
	tcase_add_test(tc, test_value_packing_uses_ints_when_exact);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(frame_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
