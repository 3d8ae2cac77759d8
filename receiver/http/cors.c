/*
 * cors.c: the CORS origin policy of cors.h. The expression is compiled
 * once at start; regexec on it is safe from any thread.
 */
#include "receiver/http/cors.h"
#include "common/buf.h"
#include "common/err.h"

#include <string.h>

#include "common/banned.h"

const char *const vg_http_cors_fixed[][2] = {
	{ "Access-Control-Allow-Headers", "Accept, Authorization, Content-Type, Origin" },
	{ "Access-Control-Allow-Methods", "GET, POST, OPTIONS" },
	{ "Access-Control-Expose-Headers", "Date" },
	{ "Vary", "Origin" },
	{ NULL, NULL },
};

int vg_http_cors_init(struct vg_http_cors *c, const char *origin_re, struct vg_err *err)
{
	struct vg_buf anchored = VG_BUF_INIT;
	char msg[256];
	int rc;

	memset(c, 0, sizeof(*c));
	if (origin_re == NULL || *origin_re == '\0' || strcmp(origin_re, ".*") == 0) {
		c->is_any = true;
		return 0;
	}
	/* Anchored as Prometheus anchors its flag: ^(?:re)$. */
	vg_buf_printf(&anchored, "^(%s)$", origin_re);
	if (vg_buf_failed(&anchored))
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	rc = regcomp(&c->re, vg_buf_cstr(&anchored), REG_EXTENDED | REG_NOSUB);
	vg_buf_release(&anchored);
	if (rc != 0) {
		regerror(rc, &c->re, msg, sizeof(msg));
		return vg_err_set(err, VG_EINVAL, "http_cors_origin \"%s\": %s", origin_re, msg);
	}
	c->has_re = true;
	return 0;
}

void vg_http_cors_release(struct vg_http_cors *c)
{
	if (c->has_re)
		regfree(&c->re);
	c->has_re = false;
}

const char *vg_http_cors_allow(const struct vg_http_cors *c, const char *origin)
{
	if (c == NULL || c->is_any)
		return "*";
	if (c->has_re && regexec(&c->re, origin, 0, NULL, 0) == 0)
		return origin;
	return NULL;
}
