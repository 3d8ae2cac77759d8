/*
 * auth.c: the credentials of auth.h. Base64 is decoded here (RFC 4648,
 * with padding, as RFC 7617 sends it): Basic auth is its only user.
 */
#include "receiver/http/auth.h"
#include "common/err.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/banned.h"

#define SECRET_MAX 4096

/* The first line of path, into a new string. */
static int read_secret_file(const char *path, char **out, struct vg_err *err)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	*out = NULL;
	if (f == NULL)
		return vg_err_set(err, VG_EIO, "cannot read the token file %s: %s", path, strerror(errno));
	buf = malloc(SECRET_MAX + 2);
	if (buf == NULL) {
		fclose(f);
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	}
	n = fread(buf, 1, SECRET_MAX + 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (strlen(buf) > SECRET_MAX || buf[0] == '\0') {
		free(buf);
		return vg_err_set(err, VG_EINVAL, "the token file %s: %s", path,
				  n > SECRET_MAX ? "longer than 4096 bytes" : "empty");
	}
	*out = buf;
	return 0;
}

static int add(struct vg_http_auth *a, const char *secret, const char *file, bool is_basic,
	       enum vg_http_scope scope, struct vg_err *err)
{
	char *s = NULL;
	int rc;

	if (file != NULL && *file != '\0') {
		if ((rc = read_secret_file(file, &s, err)) != 0)
			return rc;
	} else if (secret != NULL && *secret != '\0') {
		if ((s = strdup(secret)) == NULL)
			return vg_err_set(err, VG_ENOMEM, "out of memory");
	} else {
		return 0;
	}
	if (is_basic && strchr(s, ':') == NULL) {
		free(s);
		return vg_err_set(err, VG_EINVAL, "basic credentials must read user:password");
	}
	a->cred[a->n].is_basic = is_basic;
	a->cred[a->n].scope = scope;
	a->cred[a->n].secret = s;
	a->cred[a->n].len = strlen(s);
	a->n++;
	return 0;
}

int vg_http_auth_init(struct vg_http_auth *a, const struct vg_http_auth_options *o, struct vg_err *err)
{
	int rc;

	memset(a, 0, sizeof(*a));
	if (o == NULL)
		return 0;
	if ((rc = add(a, o->read_token, NULL, false, VG_HTTP_SCOPE_READ, err)) != 0 ||
	    (rc = add(a, NULL, o->read_token_file, false, VG_HTTP_SCOPE_READ, err)) != 0 ||
	    (rc = add(a, o->admin_token, NULL, false, VG_HTTP_SCOPE_ADMIN, err)) != 0 ||
	    (rc = add(a, NULL, o->admin_token_file, false, VG_HTTP_SCOPE_ADMIN, err)) != 0 ||
	    (rc = add(a, o->read_basic, NULL, true, VG_HTTP_SCOPE_READ, err)) != 0 ||
	    (rc = add(a, o->admin_basic, NULL, true, VG_HTTP_SCOPE_ADMIN, err)) != 0) {
		vg_http_auth_release(a);
		return rc;
	}
	return 0;
}

void vg_http_auth_release(struct vg_http_auth *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->cred[i].secret);
	a->n = 0;
}

/* Equal in time that depends on the lengths only. */
static bool secret_eq(const char *p, size_t n, const char *secret, size_t len)
{
	unsigned char diff = n != len;

	for (size_t i = 0; i < len; i++)
		diff |= (unsigned char)(secret[i] ^ (i < n ? p[i] : 0));
	return diff == 0;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decodes base64 s[0..n) into out (cap bytes); the length, or -1. */
static long b64_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	size_t pad = 0;

	if (n % 4 != 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int v;
		if (s[i] == '=') {
			if (i < n - 2)
				return -1;
			pad++;
			continue;
		}
		if (pad || (v = b64val(s[i])) < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap)
				return -1;
			out[o++] = (char)(acc >> bits & 0xFF);
		}
	}
	/* Bits left over must be zero: one spelling per credential. */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return -1;
	return (long)o;
}

enum vg_http_scope vg_http_auth_check(const struct vg_http_auth *a, const char *h)
{
	enum vg_http_scope best = VG_HTTP_SCOPE_NONE;
	char decoded[SECRET_MAX * 2];
	const char *cred;
	size_t n;
	bool is_basic;

	if (a == NULL || h == NULL)
		return VG_HTTP_SCOPE_NONE;
	while (*h == ' ')
		h++;
	if (strncasecmp(h, "Bearer ", 7) == 0) {
		is_basic = false;
		cred = h + 7;
	} else if (strncasecmp(h, "Basic ", 6) == 0) {
		is_basic = true;
		cred = h + 6;
	} else {
		return VG_HTTP_SCOPE_NONE;
	}
	while (*cred == ' ')
		cred++;
	n = strlen(cred);
	while (n > 0 && (cred[n - 1] == ' ' || cred[n - 1] == '\t'))
		n--;
	if (n == 0 || n > sizeof(decoded))
		return VG_HTTP_SCOPE_NONE;
	if (is_basic) {
		long k = b64_decode(cred, n, decoded, sizeof(decoded));
		if (k <= 0)
			return VG_HTTP_SCOPE_NONE;
		cred = decoded;
		n = (size_t)k;
	}
	/* Every credential is compared, whichever matches. */
	for (size_t i = 0; i < a->n; i++)
		if (a->cred[i].is_basic == is_basic &&
		    secret_eq(cred, n, a->cred[i].secret, a->cred[i].len) && a->cred[i].scope > best)
			best = a->cred[i].scope;
	return best;
}
