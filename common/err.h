/*
 * err.h: the one error convention of Vigil.
 *
 * Functions that can fail return int: 0 on success, a negative VG_E* code on
 * failure. When the caller needs words for a log line or a user, the function
 * also takes a struct vg_err * and writes a message into it that carries the
 * context (file and line, peer address, offset). A NULL struct vg_err * is
 * allowed everywhere and means "the caller only wants the code".
 *
 * The message is written once, by the function that knows the context; callers
 * above it may prefix it (vg_err_prefix) but never log it again.
 */
#ifndef VG_ERR_H
#define VG_ERR_H

#include <stddef.h>

enum vg_errcode {
	VG_OK = 0,
	VG_EINVAL = -1,    /* malformed input: bad syntax, wrong shape */
	VG_ENOMEM = -2,    /* allocation failed */
	VG_EIO = -3,       /* a system call on a file or socket failed */
	VG_ELIMIT = -4,    /* input exceeds a hard limit (size, count) */
	VG_ECHECKSUM = -5, /* checksum mismatch */
	VG_EVERSION = -6,  /* unsupported version */
	VG_ENOENT = -7,    /* no such thing (file, series, ref) */
	VG_EAGAIN = -8,    /* not enough input yet; call again with more */
	VG_EPROTO = -9,    /* valid bytes in an order the protocol forbids */
	VG_EAUTH = -10,    /* authentication failed */
};

#define VG_ERR_MSG_MAX 512

struct vg_err {
	int code;
	char msg[VG_ERR_MSG_MAX];
};

/* Sets err (if not NULL) to code and a printf-formatted message; returns code,
 * so a caller can write `return vg_err_set(err, VG_EINVAL, "...", ...);`. */
int vg_err_set(struct vg_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " (printf-formatted) to the message already in err. */
void vg_err_prefix(struct vg_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void vg_err_clear(struct vg_err *err);

/* A short constant name for a code: "invalid input", "limit exceeded"... */
const char *vg_strerror(int code);

#endif
