/* mpack.c: the msgpack writer glue and the allocation-free reader of mpack.h. */
#include "common/mpack.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/series.h"

#include <math.h>
#include <string.h>

#include "common/banned.h"

static int buf_write(void *data, const char *p, size_t len)
{
	struct vg_buf *b = data;

	vg_buf_append(b, p, len);
	return vg_buf_failed(b) ? -1 : 0;
}

void vg_mp_packer_init(msgpack_packer *pk, struct vg_buf *out)
{
	msgpack_packer_init(pk, out, buf_write);
}

void vg_mp_pack_value(msgpack_packer *pk, double v)
{
	/* 2^63 is the first double past int64; -2^63 is exact. */
	if (v >= -9223372036854775808.0 && v < 9223372036854775808.0 && v == floor(v) &&
	    !(v == 0 && signbit(v)))
		msgpack_pack_int64(pk, (int64_t)v);
	else
		msgpack_pack_double(pk, v);
}

void vg_mp_pack_strn(msgpack_packer *pk, const char *p, size_t len)
{
	msgpack_pack_str(pk, len);
	msgpack_pack_str_body(pk, p, len);
}

void vg_mp_pack_cstr(msgpack_packer *pk, const char *s)
{
	vg_mp_pack_strn(pk, s, strlen(s));
}

static uint64_t be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Reads a container header: 0x90-0x9f/0xdc/0xdd for arrays (is_map false),
 * 0x80-0x8f/0xde/0xdf for maps. */
static int read_container(struct vg_mp_reader *r, uint32_t *n, bool is_map)
{
	size_t avail = vg_mp_remaining(r), hdr;
	uint64_t count;
	uint8_t c;

	if (avail < 1)
		return VG_EINVAL;
	c = r->p[0];
	if ((c & 0xF0) == (is_map ? 0x80 : 0x90)) {
		count = c & 0x0F;
		hdr = 1;
	} else if (c == (is_map ? 0xDE : 0xDC)) {
		if (avail < 3)
			return VG_EINVAL;
		count = be(r->p + 1, 2);
		hdr = 3;
	} else if (c == (is_map ? 0xDF : 0xDD)) {
		if (avail < 5)
			return VG_EINVAL;
		count = be(r->p + 1, 4);
		hdr = 5;
	} else {
		return VG_EINVAL;
	}
	/* Every element takes at least one byte: a count the remaining bytes
	 * cannot hold is a lie, refused before anyone sizes a buffer by it. */
	if (count * (is_map ? 2 : 1) > avail - hdr)
		return VG_EINVAL;
	r->p += hdr;
	*n = (uint32_t)count;
	return 0;
}

int vg_mp_read_array(struct vg_mp_reader *r, uint32_t *n)
{
	return read_container(r, n, false);
}

int vg_mp_read_map(struct vg_mp_reader *r, uint32_t *n)
{
	return read_container(r, n, true);
}

/* Any msgpack integer as a sign and a magnitude. */
static int read_integer(struct vg_mp_reader *r, bool *neg, uint64_t *mag, size_t *used)
{
	size_t avail = vg_mp_remaining(r);
	uint8_t c;
	int n;

	if (avail < 1)
		return VG_EINVAL;
	c = r->p[0];
	if (c <= 0x7F) {
		*neg = false;
		*mag = c;
		*used = 1;
		return 0;
	}
	if (c >= 0xE0) {
		*neg = true;
		*mag = (uint64_t)(-(int64_t)(int8_t)c);
		*used = 1;
		return 0;
	}
	switch (c) {
	case 0xCC: case 0xD0: n = 1; break;
	case 0xCD: case 0xD1: n = 2; break;
	case 0xCE: case 0xD2: n = 4; break;
	case 0xCF: case 0xD3: n = 8; break;
	default: return VG_EINVAL;
	}
	if (avail < (size_t)n + 1)
		return VG_EINVAL;
	uint64_t raw = be(r->p + 1, n);
	if (c >= 0xD0) { /* signed */
		int64_t sv;
		switch (n) {
		case 1: sv = (int8_t)raw; break;
		case 2: sv = (int16_t)raw; break;
		case 4: sv = (int32_t)raw; break;
		default: sv = (int64_t)raw; break;
		}
		*neg = sv < 0;
		*mag = sv < 0 ? (uint64_t)0 - (uint64_t)sv : (uint64_t)sv;
	} else {
		*neg = false;
		*mag = raw;
	}
	*used = (size_t)n + 1;
	return 0;
}

int vg_mp_read_uint(struct vg_mp_reader *r, uint64_t *v)
{
	bool neg;
	uint64_t mag;
	size_t used;

	if (read_integer(r, &neg, &mag, &used) != 0 || (neg && mag != 0))
		return VG_EINVAL;
	r->p += used;
	*v = mag;
	return 0;
}

int vg_mp_read_int(struct vg_mp_reader *r, int64_t *v)
{
	bool neg;
	uint64_t mag;
	size_t used;

	if (read_integer(r, &neg, &mag, &used) != 0)
		return VG_EINVAL;
	if (neg ? mag > (uint64_t)INT64_MAX + 1 : mag > (uint64_t)INT64_MAX)
		return VG_EINVAL;
	r->p += used;
	*v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	return 0;
}

int vg_mp_read_double(struct vg_mp_reader *r, double *v)
{
	size_t avail = vg_mp_remaining(r);
	bool neg;
	uint64_t mag;
	size_t used;

	if (avail >= 1 && r->p[0] == 0xCB) {
		uint64_t bits;
		if (avail < 9)
			return VG_EINVAL;
		bits = be(r->p + 1, 8);
		memcpy(v, &bits, 8);
		r->p += 9;
		return 0;
	}
	if (avail >= 1 && r->p[0] == 0xCA) {
		uint32_t bits;
		float f;
		if (avail < 5)
			return VG_EINVAL;
		bits = (uint32_t)be(r->p + 1, 4);
		memcpy(&f, &bits, 4);
		*v = f;
		r->p += 5;
		return 0;
	}
	if (read_integer(r, &neg, &mag, &used) != 0)
		return VG_EINVAL;
	*v = neg ? -(double)mag : (double)mag;
	r->p += used;
	return 0;
}

int vg_mp_read_str(struct vg_mp_reader *r, struct vg_str *s)
{
	size_t avail = vg_mp_remaining(r), hdr;
	uint64_t len;
	uint8_t c;

	if (avail < 1)
		return VG_EINVAL;
	c = r->p[0];
	if ((c & 0xE0) == 0xA0) {
		len = c & 0x1F;
		hdr = 1;
	} else if (c == 0xD9) {
		if (avail < 2)
			return VG_EINVAL;
		len = r->p[1];
		hdr = 2;
	} else if (c == 0xDA) {
		if (avail < 3)
			return VG_EINVAL;
		len = be(r->p + 1, 2);
		hdr = 3;
	} else if (c == 0xDB) {
		if (avail < 5)
			return VG_EINVAL;
		len = be(r->p + 1, 4);
		hdr = 5;
	} else {
		return VG_EINVAL;
	}
	if (len > avail - hdr)
		return VG_EINVAL;
	s->p = (const char *)r->p + hdr;
	s->len = (uint32_t)len;
	r->p += hdr + len;
	return 0;
}

int vg_mp_read_bool(struct vg_mp_reader *r, bool *v)
{
	if (vg_mp_remaining(r) < 1 || (r->p[0] != 0xC2 && r->p[0] != 0xC3))
		return VG_EINVAL;
	*v = r->p[0] == 0xC3;
	r->p++;
	return 0;
}

bool vg_mp_next_is_nil(const struct vg_mp_reader *r)
{
	return vg_mp_remaining(r) >= 1 && r->p[0] == 0xC0;
}

static int skip(struct vg_mp_reader *r, int depth)
{
	size_t avail = vg_mp_remaining(r);
	uint64_t len;
	uint32_t n;
	uint8_t c;

	if (depth > 32 || avail < 1)
		return VG_EINVAL;
	c = r->p[0];
	if (c <= 0x7F || c >= 0xE0 || c == 0xC0 || c == 0xC2 || c == 0xC3) {
		r->p++;
		return 0;
	}
	if ((c & 0xE0) == 0xA0 || c == 0xD9 || c == 0xDA || c == 0xDB) {
		struct vg_str s;
		return vg_mp_read_str(r, &s);
	}
	if ((c & 0xF0) == 0x90 || c == 0xDC || c == 0xDD || (c & 0xF0) == 0x80 || c == 0xDE || c == 0xDF) {
		bool is_map = (c & 0xF0) == 0x80 || c == 0xDE || c == 0xDF;
		const uint8_t *start = r->p;
		if (read_container(r, &n, is_map) != 0)
			return VG_EINVAL;
		for (uint64_t i = 0; i < (uint64_t)n * (is_map ? 2 : 1); i++) {
			if (skip(r, depth + 1) != 0) {
				r->p = start;
				return VG_EINVAL;
			}
		}
		return 0;
	}
	switch (c) {
	case 0xCC: case 0xD0: len = 1; break;
	case 0xCD: case 0xD1: len = 2; break;
	case 0xCE: case 0xD2: case 0xCA: len = 4; break;
	case 0xCF: case 0xD3: case 0xCB: len = 8; break;
	case 0xD4: len = 2; break;  /* fixext 1: type + 1 */
	case 0xD5: len = 3; break;
	case 0xD6: len = 5; break;
	case 0xD7: len = 9; break;
	case 0xD8: len = 17; break;
	case 0xC4: /* bin 8/16/32, ext 8/16/32 */
	case 0xC5: case 0xC6: case 0xC7: case 0xC8: case 0xC9: {
		int w = (c == 0xC4 || c == 0xC7) ? 1 : (c == 0xC5 || c == 0xC8) ? 2 : 4;
		if (avail < (size_t)w + 1)
			return VG_EINVAL;
		len = be(r->p + 1, w) + (uint64_t)w + (c >= 0xC7 ? 1 : 0);
		break;
	}
	default:
		return VG_EINVAL; /* 0xC1 is never used */
	}
	if (len > avail - 1)
		return VG_EINVAL;
	r->p += 1 + len;
	return 0;
}

int vg_mp_skip(struct vg_mp_reader *r)
{
	return skip(r, 0);
}
