/*
 * fuzz_auth.c: libFuzzer target for the Authorization header reader of
 * receiver/http/auth.c (scheme, bearer token, base64 of Basic). The input
 * is one header value (cut at its first NUL, as evhttp hands it over),
 * checked against fixed credentials of both kinds and scopes. It checks
 * what auth.h promises: a scope is only ever granted to the exact
 * credential (the input must then spell it), never to anything else.
 * tests/fuzz/replay.c replays the corpus (tests/fuzz/corpus/auth/) in
 * `make check`.
 */
#include "receiver/http/auth.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct vg_http_auth_options o = {
		.read_token = "r3ad", .admin_token = "adm1n", .read_basic = "u:p", .admin_basic = "root:pw",
	};
	struct vg_http_auth a;
	enum vg_http_scope got;
	char *h = malloc(size + 1);

	if (h == NULL || vg_http_auth_init(&a, &o, NULL) != 0)
		abort();
	memcpy(h, data, size);
	h[size] = '\0';
	got = vg_http_auth_check(&a, h);
	/* Only the credentials themselves grant: a bearer token by name, or
	 * the one base64 spelling of a Basic pair ("u:p" is dTpw, "root:pw"
	 * cm9vdDpwdw==). */
	if (got == VG_HTTP_SCOPE_ADMIN && strstr(h, "adm1n") == NULL && strstr(h, "cm9vdDpwdw==") == NULL)
		abort();
	if (got == VG_HTTP_SCOPE_READ && strstr(h, "r3ad") == NULL && strstr(h, "dTpw") == NULL)
		abort();
	vg_http_auth_release(&a);
	free(h);
	return 0;
}
