/* err.c: the error convention of err.h. */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int vg_err_set(struct vg_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

void vg_err_prefix(struct vg_err *err, const char *fmt, ...)
{
	char prefix[VG_ERR_MSG_MAX];
	char old[VG_ERR_MSG_MAX];
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	size_t n = strlen(prefix), m = strlen(old);
	if (n > sizeof(err->msg) - 3)
		n = sizeof(err->msg) - 3;
	memcpy(err->msg, prefix, n);
	memcpy(err->msg + n, ": ", 2);
	n += 2;
	if (m > sizeof(err->msg) - 1 - n)
		m = sizeof(err->msg) - 1 - n;
	memcpy(err->msg + n, old, m);
	err->msg[n + m] = '\0';
}

void vg_err_clear(struct vg_err *err)
{
	if (err == NULL)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}

const char *vg_strerror(int code)
{
	switch (code) {
	case VG_OK: return "success";
	case VG_EINVAL: return "invalid input";
	case VG_ENOMEM: return "out of memory";
	case VG_EIO: return "input/output error";
	case VG_ELIMIT: return "limit exceeded";
	case VG_ECHECKSUM: return "checksum mismatch";
	case VG_EVERSION: return "unsupported version";
	case VG_ENOENT: return "not found";
	case VG_EAGAIN: return "incomplete input";
	case VG_EPROTO: return "protocol violation";
	case VG_EAUTH: return "authentication failed";
	}
	return "unknown error";
}
