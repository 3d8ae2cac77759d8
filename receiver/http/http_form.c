/*
 * http_form.c: HTTP parameter decoding (http_form.h).
 *
 * Owns the urlencoded syntax: splitting on '&' and the first '=', percent
 * escapes, '+' as a space in forms, and refusing what net/url refuses (a bad
 * escape) or what would cut a C string short (a NUL byte). Does not own what
 * a parameter means or its error reply (http_api.c prefixes these messages
 * with "error parsing form values: " and answers 400).
 *
 * Decoded here rather than with evhttp_parse_query_str, which keeps bad
 * escapes as they are and turns %00 into a string end.
 *
 * Invariants: bytes holds, for each pair, the decoded name, a NUL, the
 * decoded value, a NUL; the offsets in v point there and stay valid as bytes
 * grows (offsets, not pointers). Pairs are checked whole before they are
 * added, so v never holds a pair with a NUL byte.
 */
#include "receiver/http/http_form.h"
#include "common/buf.h"
#include "common/err.h"

#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

void vg_http_form_init(struct vg_http_form *f)
{
	vg_buf_init(&f->bytes);
	f->v = NULL;
	f->n = f->cap = 0;
}

void vg_http_form_release(struct vg_http_form *f)
{
	vg_buf_release(&f->bytes);
	free(f->v);
	f->v = NULL;
	f->n = f->cap = 0;
}

/* Errors in Go's words (net/url): `invalid URL escape "%zz"`. */
int vg_http_form_unescape(const char *s, size_t n, bool is_form, struct vg_buf *out, size_t *len,
			  struct vg_err *err)
{
	size_t start = out->len;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			int hi = i + 1 < n ? vg_hex_digit(s[i + 1]) : -1;
			int lo = i + 2 < n ? vg_hex_digit(s[i + 2]) : -1;
			if (hi < 0 || lo < 0) {
				size_t m = n - i < 3 ? n - i : 3;
				return vg_err_set(err, VG_EINVAL, "invalid URL escape \"%.*s\"", (int)m, s + i);
			}
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && is_form) {
			c = ' ';
		}
		vg_buf_putc(out, c);
	}
	vg_buf_putc(out, '\0');
	*len = out->len - start - 1;
	return vg_buf_failed(out) ? vg_err_set(err, VG_ENOMEM, "out of memory") : 0;
}

int vg_http_form_parse(struct vg_http_form *f, const char *s, size_t n, struct vg_err *err)
{
	const char *p = s, *end = s + n;

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(stop - p));
		struct vg_http_param pr;
		size_t name_len;
		int rc;

		if (stop == p) { /* an empty pair; stop is an '&' since p < end */
			p = stop + 1;
			continue;
		}
		if (f->n == VG_HTTP_FORM_MAX_PARAMS)
			return vg_err_set(err, VG_ELIMIT, "more than %d parameters", VG_HTTP_FORM_MAX_PARAMS);
		pr.name_off = f->bytes.len;
		rc = vg_http_form_unescape(p, (size_t)((eq ? eq : stop) - p), true, &f->bytes, &name_len,
					   err);
		if (rc != 0)
			return rc;
		pr.value_off = f->bytes.len;
		if (eq)
			rc = vg_http_form_unescape(eq + 1, (size_t)(stop - eq - 1), true, &f->bytes,
						   &pr.value_len, err);
		else
			rc = vg_http_form_unescape("", 0, true, &f->bytes, &pr.value_len, err);
		if (rc != 0)
			return rc;
		if (memchr(f->bytes.data + pr.name_off, '\0', name_len) != NULL)
			return vg_err_set(err, VG_EINVAL, "NUL byte in a parameter name");
		if (memchr(f->bytes.data + pr.value_off, '\0', pr.value_len) != NULL)
			return vg_err_set(err, VG_EINVAL, "NUL byte in the value of \"%.64s\"",
					  (const char *)f->bytes.data + pr.name_off);
		if (f->n == f->cap) {
			size_t ncap = f->cap ? f->cap * 2 : 16;
			void *np = realloc(f->v, ncap * sizeof(*f->v));
			if (np == NULL)
				return vg_err_set(err, VG_ENOMEM, "out of memory");
			f->v = np;
			f->cap = ncap;
		}
		f->v[f->n++] = pr;
		if (amp == NULL)
			break; /* not stop + 1: past the end even as a pointer */
		p = amp + 1;
	}
	return 0;
}

const char *vg_http_form_name(const struct vg_http_form *f, size_t i)
{
	return (const char *)f->bytes.data + f->v[i].name_off;
}

const char *vg_http_form_value(const struct vg_http_form *f, size_t i, size_t *len)
{
	if (len)
		*len = f->v[i].value_len;
	return (const char *)f->bytes.data + f->v[i].value_off;
}

const char *vg_http_form_get(const struct vg_http_form *f, const char *name, size_t *len)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(vg_http_form_name(f, i), name) == 0)
			return vg_http_form_value(f, i, len);
	return NULL;
}
