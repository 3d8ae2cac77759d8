/*
 * fuzz_web_path.c: libFuzzer target for the web page's request-path
 * checker (receiver/http/web.c, vg_web_check_path). The input is a raw
 * request path (cut at its first NUL, as evhttp hands it over). It checks
 * what web.h promises: a path that passes starts with '/', holds no
 * percent sign, backslash or byte outside [A-Za-z0-9._~/-], and no empty,
 * "." or ".." segment, so nothing that passes can climb out of the asset
 * root. tests/fuzz/replay.c replays the corpus (tests/fuzz/corpus/web_path/)
 * in `make check`.
 */
#include "receiver/http/web.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *p = malloc(size + 3);
	const char *why = NULL;
	size_t n;

	if (p == NULL)
		abort();
	memcpy(p, data, size);
	p[size] = '\0';
	n = strlen(p);
	if (vg_web_check_path(p, &why) == 0) {
		if (why != NULL || p[0] != '/' || strchr(p, '%') || strchr(p, '\\') || strstr(p, "//"))
			abort();
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)p[i];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			      strchr("._~/-", c)))
				abort();
		}
		/* No "." or ".." segment: look at "/x/" with a slash added. */
		p[n] = '/';
		p[n + 1] = '\0';
		if (strstr(p, "/./") || strstr(p, "/../"))
			abort();
	} else if (why == NULL) {
		abort();
	}
	free(p);
	return 0;
}
