/*
 * auth.h: who may use the HTTP API. Optional: with no credential
 * configured every request is allowed (the default, as Prometheus). With
 * any, every request but /-/healthy, /-/ready and CORS preflights must
 * carry one in its Authorization header, "Bearer <token>" or
 * "Basic <base64 of user:password>" (RFC 6750, RFC 7617), and each
 * credential grants a scope: read (queries, /metrics) or admin (also
 * imports, pushes, everything under /api/v1/admin/, /-/reload,
 * silences), as configured.
 *
 * Credentials are compared in constant time (for their length), so
 * timing does not tell how much of a guess was right. Token files hold
 * the secret on their first line (a trailing newline is dropped), so the
 * configuration file need not.
 */
#ifndef VG_HTTP_AUTH_H
#define VG_HTTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>

struct vg_err;

enum vg_http_scope {
	VG_HTTP_SCOPE_NONE = 0,
	VG_HTTP_SCOPE_READ = 1,
	VG_HTTP_SCOPE_ADMIN = 2, /* admin implies read */
};

/* Every field may be NULL or "". *_basic is "user:password". */
struct vg_http_auth_options {
	const char *read_token, *read_token_file;
	const char *admin_token, *admin_token_file;
	const char *read_basic, *admin_basic;
};

#define VG_HTTP_AUTH_MAX 6

struct vg_http_auth {
	size_t n;
	struct {
		bool is_basic;
		enum vg_http_scope scope;
		char *secret; /* owned; the token, or "user:password" */
		size_t len;
	} cred[VG_HTTP_AUTH_MAX];
};

/* Reads the token files; VG_EINVAL/VG_EIO with the file in err. */
int vg_http_auth_init(struct vg_http_auth *a, const struct vg_http_auth_options *o, struct vg_err *err);
void vg_http_auth_release(struct vg_http_auth *a);
static inline bool vg_http_auth_is_on(const struct vg_http_auth *a) { return a != NULL && a->n > 0; }
/* The scope an Authorization header value grants; NULL or a wrong
 * credential: VG_HTTP_SCOPE_NONE. */
enum vg_http_scope vg_http_auth_check(const struct vg_http_auth *a, const char *authorization);

#endif
