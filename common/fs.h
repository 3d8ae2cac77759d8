/*
 * fs.h: creating directories and publishing files atomically, through a
 * table of file operations that crash tests can replace.
 *
 * Atomic publish (redis's rdb.c and git's lockfile.h are the models): the
 * writer fills a temporary file in the destination's directory, then
 * vg_fs_publish fdatasyncs it, renames it over the final name and
 * fdatasyncs the directory. A reader opening the final name sees either
 * the old file (or none) or the whole new one, never a part; after a crash
 * the same holds, because the data is durable before the rename and the
 * rename is durable before vg_fs_publish returns 0.
 *
 * Names here are paths (relative to the working directory or absolute);
 * the directory of a path is everything before its last '/', or ".".
 */
#ifndef VG_FS_H
#define VG_FS_H

#include <stddef.h>
#include <sys/types.h>

struct vg_err;

/* The calls that decide durability, so a test can fail a write (ENOSPC),
 * an fdatasync or a rename at a chosen moment (SQLite's test6.c is the
 * model). NULL fields, or a NULL table, take the system calls. */
struct vg_fileops {
	ssize_t (*write)(int fd, const void *p, size_t n);
	int (*fdatasync)(int fd);
	int (*rename)(const char *from, const char *to);
};

/* Writes p[0..n) to fd through ops->write, continuing short counts and
 * retrying EINTR. 0, or -1 with errno set (a zero-byte write sets EIO). */
int vg_fs_write_all(const struct vg_fileops *ops, int fd, const void *p, size_t n);

/* fdatasync through ops (0, or -1 with errno set). */
int vg_fs_fdatasync(const struct vg_fileops *ops, int fd);

/*
 * mkdir -p: creates path and its missing parents (mode 0755) and
 * fdatasyncs the parent of each directory it creates, so the new entries
 * survive a crash. VG_EINVAL for an empty path or one that exists and is not
 * a directory; VG_EIO with the failing directory and the errno text.
 */
int vg_fs_mkdir_p(const char *path, const struct vg_fileops *ops, struct vg_err *err);

/* fdatasyncs the directory holding path (for a create, rename or unlink of
 * path to be durable). VG_EIO with the directory and the errno text. */
int vg_fs_sync_dir_of(const char *path, const struct vg_fileops *ops, struct vg_err *err);

/*
 * Publishes the temporary file tmp_path, open for writing as fd and fully
 * written, under final_path (same directory): fdatasync(fd), rename, then
 * fdatasync the directory. Does not close fd. On a failed fdatasync or
 * rename the temporary file is unlinked and final_path is as it was. On a
 * failed directory fdatasync the rename has happened (final_path holds the
 * whole new file) but may not survive a crash; VG_EIO says so.
 */
int vg_fs_publish(const struct vg_fileops *ops, int fd, const char *tmp_path,
		  const char *final_path, struct vg_err *err);

/*
 * Takes the exclusive lock that says "one process owns this directory":
 * flock(LOCK_EX | LOCK_NB) on dir/lock (created if missing), which then
 * holds the owner's process id in decimal, for the message a second
 * process gets. The kernel drops the lock when the owner exits, however it
 * exits (kill -9 included), so a stale lock file never keeps anyone out.
 * *fd_out keeps the lock until closed. VG_EAGAIN when another process
 * holds it (the message names its pid); VG_EIO for other failures.
 */
int vg_fs_lock_dir(const char *dir, int *fd_out, struct vg_err *err);

#endif
