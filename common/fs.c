/*
 * fs.c: directories and atomic publish (fs.h).
 *
 * Owns the order of the durability calls; does not own what the files hold.
 */
#include "common/fs.h"
#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/banned.h"

static ssize_t op_write(const struct vg_fileops *ops, int fd, const void *p, size_t n)
{
	return ops != NULL && ops->write != NULL ? ops->write(fd, p, n) : write(fd, p, n);
}

int vg_fs_fdatasync(const struct vg_fileops *ops, int fd)
{
	return ops != NULL && ops->fdatasync != NULL ? ops->fdatasync(fd) : fdatasync(fd);
}

static int op_rename(const struct vg_fileops *ops, const char *from, const char *to)
{
	return ops != NULL && ops->rename != NULL ? ops->rename(from, to) : rename(from, to);
}

int vg_fs_write_all(const struct vg_fileops *ops, int fd, const void *p, size_t n)
{
	const unsigned char *q = p;

	while (n > 0) {
		ssize_t r = op_write(ops, fd, q, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = EIO;
			return -1;
		}
		q += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Opens the directory that holds path (its text before the last '/'). */
static int open_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd;

	if (slash == NULL)
		return open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (slash == path)
		return open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dir = malloc((size_t)(slash - path) + 1);
	if (dir == NULL) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	return fd;
}

int vg_fs_sync_dir_of(const char *path, const struct vg_fileops *ops, struct vg_err *err)
{
	int fd = open_dir_of(path), e;

	if (fd < 0)
		return vg_err_set(err, VG_EIO, "open the directory of %s: %s", path, strerror(errno));
	if (vg_fs_fdatasync(ops, fd) != 0) {
		e = errno;
		close(fd);
		return vg_err_set(err, VG_EIO, "fsync the directory of %s: %s", path, strerror(e));
	}
	close(fd);
	return 0;
}

int vg_fs_mkdir_p(const char *path, const struct vg_fileops *ops, struct vg_err *err)
{
	size_t len = strlen(path);
	struct stat sb;
	char *p;
	int rc = 0;

	if (len == 0)
		return vg_err_set(err, VG_EINVAL, "empty directory name");
	p = malloc(len + 1);
	if (p == NULL)
		return vg_err_set(err, VG_ENOMEM, "directory %s: out of memory", path);
	memcpy(p, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		char saved;

		if (i < len && p[i] != '/')
			continue;
		if (p[i - 1] == '/')
			continue;
		saved = p[i];
		p[i] = '\0';
		if (mkdir(p, 0755) != 0) {
			if (errno != EEXIST) {
				rc = vg_err_set(err, VG_EIO, "cannot create %s: %s", p, strerror(errno));
				goto out;
			}
		} else if ((rc = vg_fs_sync_dir_of(p, ops, err)) != 0) {
			goto out;
		}
		p[i] = saved;
	}
	if (stat(path, &sb) != 0) {
		rc = vg_err_set(err, VG_EIO, "stat %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISDIR(sb.st_mode))
		rc = vg_err_set(err, VG_EINVAL, "%s: not a directory", path);
out:
	free(p);
	return rc;
}

int vg_fs_publish(const struct vg_fileops *ops, int fd, const char *tmp_path,
		  const char *final_path, struct vg_err *err)
{
	int e;

	if (vg_fs_fdatasync(ops, fd) != 0) {
		e = errno;
		unlink(tmp_path);
		return vg_err_set(err, VG_EIO, "fdatasync %s: %s", tmp_path, strerror(e));
	}
	if (op_rename(ops, tmp_path, final_path) != 0) {
		e = errno;
		unlink(tmp_path);
		return vg_err_set(err, VG_EIO, "rename %s to %s: %s", tmp_path, final_path,
				  strerror(e));
	}
	return vg_fs_sync_dir_of(final_path, ops, err);
}

int vg_fs_lock_dir(const char *dir, int *fd_out, struct vg_err *err)
{
	char path[4096], pid[32];
	int fd, n;

	*fd_out = -1;
	if ((size_t)snprintf(path, sizeof(path), "%s/lock", dir) >= sizeof(path))
		return vg_err_set(err, VG_EINVAL, "%s: path too long", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return vg_err_set(err, VG_EIO, "open %s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		ssize_t got = e == EWOULDBLOCK ? pread(fd, pid, sizeof(pid) - 1, 0) : -1;

		close(fd);
		if (e != EWOULDBLOCK)
			return vg_err_set(err, VG_EIO, "lock %s: %s", path, strerror(e));
		pid[got > 0 ? got : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		return vg_err_set(err, VG_EAGAIN, "directory %s is in use by another process (pid %s, in %s); it must exit first",
				  dir, pid[0] ? pid : "unknown", path);
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		int e = errno;
		close(fd);
		return vg_err_set(err, VG_EIO, "write %s: %s", path, strerror(e));
	}
	*fd_out = fd;
	return 0;
}
