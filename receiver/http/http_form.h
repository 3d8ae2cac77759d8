/*
 * http_form.h: HTTP request parameters, decoded: a URL query string or an
 * application/x-www-form-urlencoded body as an ordered list of name/value
 * pairs, and the percent-decoding of one URL component (a path segment).
 *
 * Invariants of a parsed form:
 *  - pairs keep the order they came in, across several vg_http_form_parse
 *    calls on the same form (the receiver parses the body, then the URL
 *    query), so vg_http_form_get returns the first value of a name and a
 *    repeated name (match[]) is every pair with that name;
 *  - every name and value is decoded ('+' is a space, %XX a byte) and holds
 *    no NUL byte, so it can be used as a C string; it is NUL-terminated
 *    inside bytes;
 *  - an empty pair ("a=1&&b=2", a leading or trailing '&') is no pair; a
 *    name without '=' has the empty value.
 * Limits: VG_HTTP_FORM_MAX_PARAMS pairs per form; lengths are bounded only by
 * the input (the HTTP server caps the query and the body).
 *
 * Error texts (err->msg), in Go's net/url words where Go has them:
 *   invalid URL escape "%zz"        (the '%' and up to two bytes after it)
 *   NUL byte in a parameter name
 *   NUL byte in the value of "name" (the name cut at 64 bytes)
 *   more than 10000 parameters
 *   out of memory
 * A failed parse leaves the pairs decoded before the failure in the form;
 * callers reject the whole request and release it.
 */
#ifndef VG_HTTP_FORM_H
#define VG_HTTP_FORM_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

struct vg_err;

#define VG_HTTP_FORM_MAX_PARAMS 10000

struct vg_http_param {
	size_t name_off, value_off, value_len; /* into form.bytes, NUL-terminated */
};

/* A value type with public fields for reading; change it only through the
 * functions below. */
struct vg_http_form {
	struct vg_buf bytes;         /* every decoded name and value */
	struct vg_http_param *v;     /* n pairs, in input order */
	size_t n, cap;
};

/* Lifecycle: init (or zero the struct), parse as often as needed, release
 * frees everything and leaves an empty form. */
void vg_http_form_init(struct vg_http_form *f);
void vg_http_form_release(struct vg_http_form *f);

/* Adds the pairs of the urlencoded string s[0..n) (not NUL-terminated, may
 * hold any byte) to f. 0, or VG_EINVAL (bad escape, NUL byte), VG_ELIMIT
 * (too many pairs), VG_ENOMEM, with the texts above. */
int vg_http_form_parse(struct vg_http_form *f, const char *s, size_t n, struct vg_err *err);

/* The first value of name, or NULL; *len (may be NULL) its length. Borrowed
 * from f, valid until the next parse or release. */
const char *vg_http_form_get(const struct vg_http_form *f, const char *name, size_t *len);

/* Name and value of pair i (i < f->n), borrowed as above. */
const char *vg_http_form_name(const struct vg_http_form *f, size_t i);
const char *vg_http_form_value(const struct vg_http_form *f, size_t i, size_t *len);

/* Percent-decodes s[0..n) onto the end of out, '+' as a space only when
 * is_form (in a path '+' is itself), and a NUL after it; *len gets the
 * decoded length (without that NUL). The result may hold NUL bytes (from
 * %00): a caller that needs a C string checks. VG_EINVAL with
 * `invalid URL escape "%zz"`, or VG_ENOMEM. */
int vg_http_form_unescape(const char *s, size_t n, bool is_form, struct vg_buf *out, size_t *len,
			  struct vg_err *err);

#endif
