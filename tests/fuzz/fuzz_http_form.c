/*
 * fuzz_http_form.c: libFuzzer target for the HTTP parameter decoder
 * (receiver/http/http_form.c). The input is a query string or form body, parsed
 * twice into one form (as the receiver parses a body then a URL query:
 * split on the first '?' in the input), then the names the API reads are
 * looked up. Then it checks what http_form.h promises: every pair's name
 * and value is NUL-terminated where its length says and holds no NUL;
 * vg_http_form_get returns the first pair of a name; a failure has a known
 * error text. The whole input is also decoded as a path segment.
 * tests/fuzz/replay.c replays the corpus (tests/fuzz/corpus/http_form/) in
 * `make check`.
 */
#include "receiver/http/http_form.h"
#include "common/buf.h"
#include "common/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const known_errors[] = {
	"invalid URL escape \"%",
	"NUL byte in a parameter name",
	"NUL byte in the value of \"",
	"more than 10000 parameters",
};

static void check_error(int rc, const struct vg_err *err)
{
	if (rc == VG_ENOMEM)
		return;
	if (rc != VG_EINVAL && rc != VG_ELIMIT)
		abort();
	for (size_t i = 0; i < sizeof(known_errors) / sizeof(known_errors[0]); i++)
		if (strncmp(err->msg, known_errors[i], strlen(known_errors[i])) == 0)
			return;
	abort();
}

static void check_form(const struct vg_http_form *f)
{
	static const char *const names[] = { "query", "match[]", "time", "start", "end", "step",
					     "timeout", "limit", "" };

	if (f->n > VG_HTTP_FORM_MAX_PARAMS)
		abort();
	for (size_t i = 0; i < f->n; i++) {
		const char *name = vg_http_form_name(f, i), *value, *first;
		size_t len, first_len;

		value = vg_http_form_value(f, i, &len);
		if (value[len] != '\0' || strlen(value) != len)
			abort();
		/* The first pair of this name is the one get finds (a lookup is
		 * a scan: checked for the first pairs only, to stay linear). */
		if (i >= 64 && i + 1 != f->n)
			continue;
		first = vg_http_form_get(f, name, &first_len);
		if (first == NULL || first > value)
			abort();
		if (first == value && first_len != len)
			abort();
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t len = 0;
		const char *v = vg_http_form_get(f, names[i], &len);
		if (v != NULL && strlen(v) != len)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *q = memchr(s, '?', size);
	size_t body_len = q ? (size_t)(q - s) : size;
	struct vg_http_form f;
	struct vg_buf seg = VG_BUF_INIT;
	struct vg_err err;
	size_t len;
	int rc;

	vg_http_form_init(&f);
	vg_err_clear(&err);
	rc = vg_http_form_parse(&f, s, body_len, &err);
	if (rc == 0 && q != NULL)
		rc = vg_http_form_parse(&f, q + 1, size - body_len - 1, &err);
	if (rc != 0)
		check_error(rc, &err);
	check_form(&f);
	vg_http_form_release(&f);
	if (f.n != 0 || f.v != NULL)
		abort();

	/* A path segment: '+' stays, NULs may come out of %00. */
	rc = vg_http_form_unescape(s, size, false, &seg, &len, &err);
	if (rc == 0 && (len > size || seg.len != len + 1 || seg.data[len] != '\0'))
		abort();
	if (rc != 0 && rc != VG_ENOMEM && strncmp(err.msg, "invalid URL escape \"%", 21) != 0)
		abort();
	vg_buf_release(&seg);
	return 0;
}
