/*
 * proc_read.c: the one read loop of the collectors: a /proc (or /sys) file
 * read whole into a struct vg_collect_file, and the glue that hands it to
 * a collector's parser with the path in any error.
 *
 * Owns no format. Invariants: at most one allocation per read (when a file
 * outgrows the stack part), capped at VG_COLLECT_MAX_FILE_BYTES; after any
 * return the file can be released.
 */
#include "agent/collect/collect.h"
#include "common/buf.h"
#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "common/banned.h"

void vg_collect_file_release(struct vg_collect_file *f)
{
	vg_buf_release(&f->heap);
	f->data = f->stack;
	f->len = 0;
	f->stack[0] = '\0';
}

/*
 * Reads fd from offset 0 to EOF rather than trusting one read(): seq_file
 * hands out a large file in page-sized pieces. pread from offset 0 makes
 * the kernel generate a /proc or /sys file anew, so a kept fd reads fresh
 * contents each round. The first VG_COLLECT_STACK_BYTES - 1 bytes go to
 * the stack buffer; when it fills, the contents move to f->heap, which
 * doubles until EOF or the limit. Does not close fd.
 */
static int read_fd(struct vg_collect_file *f, int fd, const char *path, struct vg_err *err)
{
	char *dst = f->stack;
	size_t len = 0, cap = sizeof(f->stack) - 1;
	int rc;

	vg_buf_init(&f->heap);
	f->data = f->stack;
	f->len = 0;
	f->stack[0] = '\0';
	for (;;) {
		ssize_t n;

		if (len == cap) {
			if (dst == f->stack)
				vg_buf_append(&f->heap, f->stack, len);
			f->heap.len = len;
			if (vg_buf_grow(&f->heap, len) != 0) {
				rc = vg_err_set(err, VG_ENOMEM, "read %s: out of memory at %zu bytes",
						path, len);
				goto fail;
			}
			dst = (char *)f->heap.data;
			cap = f->heap.cap - 1;
		}
		n = pread(fd, dst + len, cap - len, (off_t)len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = vg_err_set(err, VG_EIO, "read %s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > VG_COLLECT_MAX_FILE_BYTES) {
			rc = vg_err_set(err, VG_ELIMIT, "%s: larger than %d bytes", path,
					VG_COLLECT_MAX_FILE_BYTES);
			goto fail;
		}
	}
	dst[len] = '\0';
	if (dst != f->stack)
		f->heap.len = len;
	f->data = dst;
	f->len = len;
	return 0;
fail:
	vg_collect_file_release(f);
	return rc;
}

/* Opens path and reads it into f; on 0 *fd is left open for the caller
 * (closed on an error of the read), on an error of open it is -1. */
static int open_read(struct vg_collect_file *f, const char *path, int *fd, struct vg_err *err)
{
	int rc;

	vg_buf_init(&f->heap);
	f->data = f->stack;
	f->len = 0;
	f->stack[0] = '\0';
	if ((*fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return vg_err_set(err, errno == ENOENT ? VG_ENOENT : VG_EIO, "open %s: %s", path,
				  strerror(errno));
	if ((rc = read_fd(f, *fd, path, err)) != 0) {
		close(*fd);
		*fd = -1;
	}
	return rc;
}

int vg_collect_file_read(struct vg_collect_file *f, const char *path, struct vg_err *err)
{
	int fd, rc;

	if ((rc = open_read(f, path, &fd, err)) == 0)
		close(fd);
	return rc;
}

/* Whether fd is of a file system whose files the kernel generates on read. */
static bool is_generated(int fd)
{
	struct statfs st;

	return fstatfs(fd, &st) == 0 && (st.f_type == PROC_SUPER_MAGIC || st.f_type == SYSFS_MAGIC);
}

/* Reads path into f through a kept fd of ctx, opening (and keeping) it
 * when there is none; a failed read of a kept fd opens the path again. */
static int read_kept(struct vg_collect_ctx *ctx, struct vg_collect_file *f, const char *path,
		     struct vg_err *err)
{
	int fd = vg_collect_ctx_kept_fd(ctx, path), rc;

	if (fd >= 0) {
		if (read_fd(f, fd, path, err) == 0)
			return 0;
		vg_collect_ctx_drop_fd(ctx, path);
	}
	if ((rc = open_read(f, path, &fd, err)) == 0 &&
	    (!is_generated(fd) || !vg_collect_ctx_keep_fd(ctx, path, fd)))
		close(fd);
	return rc;
}

int vg_collect_read_parse(const struct vg_collect_env *env, const char *dir, const char *name,
			  vg_collect_parse_fn *parse, struct vg_sample_sink *sink, struct vg_err *err)
{
	struct vg_collect_file f;
	char path[PATH_MAX];
	int rc;

	if ((rc = vg_collect_path(path, sizeof(path), dir, name, err)) != 0)
		return rc;
	rc = env->ctx ? read_kept(env->ctx, &f, path, err) : vg_collect_file_read(&f, path, err);
	if (rc == 0) {
		rc = parse(env->ctx, f.data, f.len, sink, err);
		if (rc == VG_EINVAL)
			vg_err_prefix(err, "%s", path);
	}
	vg_collect_file_release(&f);
	return rc;
}
