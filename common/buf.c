/* buf.c: the growable byte buffer of buf.h. */
#include "common/buf.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/banned.h"

void vg_buf_init(struct vg_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->is_failed = false;
}

void vg_buf_release(struct vg_buf *b)
{
	free(b->data);
	vg_buf_init(b);
}

int vg_buf_grow(struct vg_buf *b, size_t extra)
{
	size_t need, cap;
	uint8_t *p;

	if (b->is_failed)
		return VG_ENOMEM;
	/* +1 keeps room for the NUL after the bytes. */
	if (extra > SIZE_MAX / 2 - b->len - 1)
		goto fail;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	p = realloc(b->data, cap);
	if (p == NULL)
		goto fail;
	if (b->cap == 0)
		p[0] = '\0'; /* a new buffer holds the empty string */
	b->data = p;
	b->cap = cap;
	return 0;
fail:
	b->is_failed = true;
	return VG_ENOMEM;
}

void vg_buf_append(struct vg_buf *b, const void *p, size_t n)
{
	/* The common case, room already there for the bytes and the NUL,
	 * without the call to vg_buf_grow. */
	if (!b->is_failed && b->len < b->cap && n < b->cap - b->len) {
		if (n)
			memcpy(b->data + b->len, p, n); /* (p may be NULL when n is 0) */
		b->len += n;
		b->data[b->len] = 0;
		return;
	}
	if (vg_buf_grow(b, n) != 0)
		return;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
}

void vg_buf_puts(struct vg_buf *b, const char *s)
{
	vg_buf_append(b, s, strlen(s));
}

void vg_buf_putc(struct vg_buf *b, char c)
{
	vg_buf_append(b, &c, 1);
}

void vg_buf_vprintf(struct vg_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	if (vg_buf_grow(b, 64) != 0)
		return;
	va_copy(cp, ap);
	n = vsnprintf((char *)b->data + b->len, b->cap - b->len, fmt, cp);
	va_end(cp);
	if (n < 0) {
		b->is_failed = true;
		return;
	}
	if ((size_t)n >= b->cap - b->len) {
		if (vg_buf_grow(b, (size_t)n) != 0)
			return;
		vsnprintf((char *)b->data + b->len, b->cap - b->len, fmt, ap);
	}
	b->len += (size_t)n;
}

void vg_buf_printf(struct vg_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vg_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void vg_buf_consume(struct vg_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
	} else {
		memmove(b->data, b->data + n, b->len - n);
		b->len -= n;
	}
	if (b->cap)
		b->data[b->len] = 0;
}

char *vg_buf_detach(struct vg_buf *b, size_t *len_out)
{
	char *p;

	if (b->is_failed) {
		vg_buf_release(b);
		return NULL;
	}
	if (b->cap == 0 && vg_buf_grow(b, 0) != 0)
		return NULL;
	p = (char *)b->data;
	if (len_out)
		*len_out = b->len;
	vg_buf_init(b);
	return p;
}

void vg_buf_put_uvarint(struct vg_buf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;

	while (v >= 0x80) {
		tmp[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t)v;
	vg_buf_append(b, tmp, n);
}

size_t vg_get_uvarint(const uint8_t *p, size_t n, uint64_t *v)
{
	uint64_t x = 0;
	unsigned shift = 0;
	size_t i;

	for (i = 0; i < n && i < 10; i++) {
		uint8_t c = p[i];
		if (i == 9 && c > 1)
			return 0; /* overflows 64 bits */
		x |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*v = x;
			return i + 1;
		}
		shift += 7;
	}
	return 0;
}
