/*
 * buf.h: the one growable byte buffer of Vigil (git's strbuf is the model).
 *
 * Invariants:
 *  - data[0..len) are the bytes; cap is the allocation; len <= cap.
 *  - When cap > 0, data[len] is a NUL byte, so text built in a buffer can be
 *    used as a C string; binary data may hold NULs too, always use len.
 *  - An allocation failure sets is_failed and turns every later append into a
 *    no-op: build the whole thing, then check vg_buf_failed() once.
 *
 * Lifecycle: vg_buf_init (or VG_BUF_INIT), appends, vg_buf_release frees the
 * bytes; vg_buf_reset keeps the allocation for reuse (hot paths reuse one
 * buffer per connection); vg_buf_detach hands the bytes to the caller.
 */
#ifndef VG_BUF_H
#define VG_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct vg_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	bool is_failed;
};

#define VG_BUF_INIT { NULL, 0, 0, false }

void vg_buf_init(struct vg_buf *b);
void vg_buf_release(struct vg_buf *b);
static inline void vg_buf_reset(struct vg_buf *b) { b->len = 0; b->is_failed = false; if (b->cap) b->data[0] = 0; }
static inline bool vg_buf_failed(const struct vg_buf *b) { return b->is_failed; }

/* Makes room for at least extra more bytes; 0, or VG_ENOMEM. */
int vg_buf_grow(struct vg_buf *b, size_t extra);

void vg_buf_append(struct vg_buf *b, const void *p, size_t n);
void vg_buf_puts(struct vg_buf *b, const char *s);
void vg_buf_putc(struct vg_buf *b, char c);
void vg_buf_printf(struct vg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vg_buf_vprintf(struct vg_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Removes the first n bytes (n <= len). */
void vg_buf_consume(struct vg_buf *b, size_t n);

/* Returns the bytes (NUL-terminated, caller frees with free()) and leaves b
 * empty; *len_out gets the length when not NULL. NULL if b had failed. */
char *vg_buf_detach(struct vg_buf *b, size_t *len_out);

/* A C string view of the buffer: "" when empty. */
static inline const char *vg_buf_cstr(const struct vg_buf *b) { return b->cap ? (const char *)b->data : ""; }

/* A hex digit's value (either case), or -1. */
static inline int vg_hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Fixed-width integers in network (big-endian) order, as the wire uses. */
static inline void vg_put_be16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = (uint8_t)v; }
static inline void vg_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void vg_put_be64(uint8_t *p, uint64_t v) { vg_put_be32(p, (uint32_t)(v >> 32)); vg_put_be32(p + 4, (uint32_t)v); }
static inline uint16_t vg_get_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t vg_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t vg_get_be64(const uint8_t *p) { return (uint64_t)vg_get_be32(p) << 32 | vg_get_be32(p + 4); }

/* Fixed-width integers in little-endian order, as the WAL and block files
 * store them. */
static inline void vg_put_le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void vg_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void vg_put_le64(uint8_t *p, uint64_t v) { vg_put_le32(p, (uint32_t)v); vg_put_le32(p + 4, (uint32_t)(v >> 32)); }
static inline uint16_t vg_get_le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t vg_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t vg_get_le64(const uint8_t *p) { return (uint64_t)vg_get_le32(p) | (uint64_t)vg_get_le32(p + 4) << 32; }

/* Unsigned LEB128 varints, as the WAL uses. vg_buf_put_uvarint appends;
 * vg_get_uvarint reads from p[0..n), returns bytes used, 0 if truncated or
 * longer than 10 bytes. */
void vg_buf_put_uvarint(struct vg_buf *b, uint64_t v);
size_t vg_get_uvarint(const uint8_t *p, size_t n, uint64_t *v);
/* Writes v at p (room for 10 bytes) and returns the end; the bytes it takes. */
static inline uint8_t *vg_put_uvarint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}
static inline size_t vg_uvarint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}
/* Signed values zigzag-encoded onto the unsigned varint. */
static inline uint64_t vg_zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t vg_unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

#endif
