/*
 * cors.h: which origins may read the HTTP API from a browser, and the CORS
 * headers that say so. As Prometheus (util/httputil/cors.go and its
 * --web.cors.origin flag, default ".*"): the headers go only on replies to
 * requests that carry an Origin; the allowed origins are one regular
 * expression (POSIX extended), anchored at both ends; ".*", the default,
 * answers "Access-Control-Allow-Origin: *", any other answers with the
 * request's own origin when it matches, and with no Allow-Origin when it
 * does not.
 *
 * One policy for every reply: http_api.c's and those import.c writes on
 * the socket itself (imports, and the errors it gives before evhttp sees a
 * request).
 */
#ifndef VG_HTTP_CORS_H
#define VG_HTTP_CORS_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

struct vg_err;

struct vg_http_cors {
	bool is_any;    /* ".*": every origin, answered with "*" */
	bool has_re;
	regex_t re;
};

/* The fixed headers of a reply to a request with an Origin, NULL-ended
 * pairs of name and value (with "Vary: Origin"). */
extern const char *const vg_http_cors_fixed[][2];

/* origin_re NULL or "" means the default ".*". VG_EINVAL with the
 * regex's error in err. */
int vg_http_cors_init(struct vg_http_cors *c, const char *origin_re, struct vg_err *err);
void vg_http_cors_release(struct vg_http_cors *c);
/* The Access-Control-Allow-Origin value for a request's Origin (origin,
 * NUL-terminated), or NULL when the origin is not allowed. Borrows
 * origin. */
const char *vg_http_cors_allow(const struct vg_http_cors *c, const char *origin);

#endif
