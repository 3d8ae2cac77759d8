/*
 * filesystem.c: the filesystem collector, from the mount table and
 * statvfs(3).
 *
 * Owns: reading <proc>/1/mounts (the host's table when the agent shares the
 * host's pid namespace), falling back to <proc>/self/mounts when pid 1 is
 * hidden (hidepid) or absent, as node_exporter does; unescaping the kernel's
 * octal escapes ("\040" is a space); node_exporter's default filter
 * (vg_filesystem_is_wanted); and, per mount point, node_exporter's metrics
 * with labels device, fstype, mountpoint:
 *   node_filesystem_size_bytes   f_blocks * f_frsize
 *   node_filesystem_free_bytes   f_bfree  * f_frsize
 *   node_filesystem_avail_bytes  f_bavail * f_frsize
 *   node_filesystem_files        f_files
 *   node_filesystem_files_free   f_ffree
 *   node_filesystem_readonly     1 if ST_RDONLY
 *   node_filesystem_device_error 0, or 1 alone when statvfs fails
 * statvfs is called on rootfs_path + mount point, so an agent in a container
 * with the host's / mounted at /host sees the host's file systems.
 *
 * Invariants: one entry per mount point. When a mount point is listed twice,
 * the last line wins: the kernel lists mounts in mount order, so the last is
 * the top mount, the one statvfs sees. The filter applies after that choice:
 * an excluded file system mounted over a wanted one hides it. A failing
 * statvfs on one mount is reported with device_error and never fails the
 * collector. The content is not trusted: lines without the six fields, with
 * a mount point that is not absolute or with an escape that decodes to NUL
 * are skipped. Memory: fields are unescaped and NUL-terminated in place in
 * the read buffer; entries live on the stack up to STACK_ENTRIES mounts, in
 * one allocation per collection beyond.
 *
 * Known limit: statvfs on a dead NFS (or other network) mount blocks in the
 * kernel, and with it the collecting thread, until the server answers.
 * node_exporter runs statfs in a worker with a timeout and marks such mounts
 * stuck; Vigil does not do this yet.
 */
#include "agent/collect/collect.h"
#include "common/err.h"
#include "common/log.h"
#include "common/series.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "common/banned.h"

#define STACK_ENTRIES 64

struct mount_ent {
	const char *device;
	const char *mountpoint;
	const char *fstype;
	uint32_t line_no;
};

/* node_exporter's --collector.filesystem.fs-types-exclude default. */
static const char *const ignored_fstypes[] = {
	"autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs",
	"devpts", "devtmpfs", "fusectl", "hugetlbfs", "iso9660", "mqueue", "nsfs",
	"overlay", "proc", "procfs", "pstore", "rpc_pipefs", "securityfs", "selinuxfs",
	"squashfs", "erofs", "sysfs", "tracefs",
};

/* mp is dir or below it: "^dir($|/)". */
static bool is_under(const char *mp, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(mp, dir, n) == 0 && (mp[n] == '\0' || mp[n] == '/');
}

/* mp is strictly below dir: "^dir/.+" (dir given with its slash). */
static bool is_strictly_under(const char *mp, const char *dir_slash)
{
	size_t n = strlen(dir_slash);

	return strncmp(mp, dir_slash, n) == 0 && mp[n] != '\0';
}

/*
 * node_exporter's --collector.filesystem.mount-points-exclude default,
 * ^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/),
 * written as prefix checks (the ".+" alternatives end in any character, so
 * their "($|/)" always holds).
 */
bool vg_filesystem_is_wanted(const char *fstype, const char *mountpoint)
{
	if (fstype == NULL || mountpoint == NULL)
		return false;
	for (size_t i = 0; i < sizeof(ignored_fstypes) / sizeof(ignored_fstypes[0]); i++)
		if (strcmp(fstype, ignored_fstypes[i]) == 0)
			return false;
	return !(is_under(mountpoint, "/dev") || is_under(mountpoint, "/proc") ||
		 is_under(mountpoint, "/sys") ||
		 is_strictly_under(mountpoint, "/run/credentials/") ||
		 is_strictly_under(mountpoint, "/var/lib/docker/") ||
		 is_strictly_under(mountpoint, "/var/lib/containers/storage/"));
}

/* Decodes the kernel's "\ooo" escapes of field in place and NUL-terminates
 * it (over the separator that follows it); false if it holds or decodes to a
 * NUL byte. */
static bool unescape_field(char *p, uint32_t len)
{
	uint32_t r = 0, w = 0;

	while (r < len) {
		char c = p[r];
		if (c == '\\' && len - r >= 4 && p[r + 1] >= '0' && p[r + 1] <= '3' &&
		    p[r + 2] >= '0' && p[r + 2] <= '7' && p[r + 3] >= '0' && p[r + 3] <= '7') {
			c = (char)((p[r + 1] - '0') << 6 | (p[r + 2] - '0') << 3 | (p[r + 3] - '0'));
			r += 4;
		} else {
			r++;
		}
		if (c == '\0')
			return false;
		p[w++] = c;
	}
	p[w] = '\0';
	return true;
}

static uint32_t count_lines(const char *p, size_t len)
{
	uint32_t n = 1;
	const char *end = p + len, *nl;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p = nl + 1;
	}
	return n;
}

/* Parses the mount table in f into ents (room for max); returns the count. */
static uint32_t parse_mounts(struct vg_collect_file *f, struct mount_ent *ents, uint32_t max)
{
	struct vg_str rest = { f->data, (uint32_t)f->len }, line, fields[6];
	uint32_t n = 0, line_no = 0;

	while (n < max && vg_collect_next_line(&rest, &line)) {
		char *w[3];
		int k = 0;

		line_no++;
		while (k < 6 && vg_collect_next_field(&line, &fields[k]))
			k++;
		if (k < 6)
			continue;
		/* The views point into f->data, which is ours to write. */
		for (int i = 0; i < 3; i++)
			w[i] = f->data + (fields[i].p - f->data);
		if (!unescape_field(w[0], fields[0].len) || !unescape_field(w[1], fields[1].len) ||
		    !unescape_field(w[2], fields[2].len) || w[1][0] != '/')
			continue;
		ents[n].device = w[0];
		ents[n].mountpoint = w[1];
		ents[n].fstype = w[2];
		ents[n].line_no = line_no;
		n++;
	}
	return n;
}

static int ent_cmp(const void *a, const void *b)
{
	const struct mount_ent *x = a, *y = b;
	int c = strcmp(x->mountpoint, y->mountpoint);

	if (c != 0)
		return c;
	return x->line_no < y->line_no ? -1 : x->line_no > y->line_no;
}

static int emit_fs(struct vg_sample_sink *sink, const struct mount_ent *e, const char *metric,
		   double value, struct vg_err *err)
{
	struct vg_series s;

	vg_series_init(&s, metric);
	vg_series_add(&s, "device", e->device);
	vg_series_add(&s, "fstype", e->fstype);
	vg_series_add(&s, "mountpoint", e->mountpoint);
	return vg_collect_emit(sink, &s, value, err);
}

static int collect_mount(const struct vg_collect_env *env, struct vg_sample_sink *sink,
			 const struct mount_ent *e, struct vg_err *err)
{
	const char *root = env->rootfs_path ? env->rootfs_path : "/";
	size_t root_len = strlen(root);
	char path[PATH_MAX];
	struct statvfs st;
	double frsize;
	int n, rc;

	while (root_len > 0 && root[root_len - 1] == '/')
		root_len--;
	n = snprintf(path, sizeof(path), "%.*s%s", (int)root_len, root, e->mountpoint);
	if (n < 0 || (size_t)n >= sizeof(path) || statvfs(path, &st) != 0) {
		int errnum = n < 0 || (size_t)n >= sizeof(path) ? ENAMETOOLONG : errno;

		vg_debug("filesystem: statvfs %s: %s", path, strerror(errnum));
		return emit_fs(sink, e, "node_filesystem_device_error", 1, err);
	}
	frsize = (double)st.f_frsize;
	if ((rc = emit_fs(sink, e, "node_filesystem_size_bytes", (double)st.f_blocks * frsize, err)) ||
	    (rc = emit_fs(sink, e, "node_filesystem_free_bytes", (double)st.f_bfree * frsize, err)) ||
	    (rc = emit_fs(sink, e, "node_filesystem_avail_bytes", (double)st.f_bavail * frsize, err)) ||
	    (rc = emit_fs(sink, e, "node_filesystem_files", (double)st.f_files, err)) ||
	    (rc = emit_fs(sink, e, "node_filesystem_files_free", (double)st.f_ffree, err)) ||
	    (rc = emit_fs(sink, e, "node_filesystem_readonly", (st.f_flag & ST_RDONLY) ? 1 : 0, err)))
		return rc;
	return emit_fs(sink, e, "node_filesystem_device_error", 0, err);
}

static int read_mounts(const struct vg_collect_env *env, struct vg_collect_file *f, char *path,
		       size_t size, struct vg_err *err)
{
	int rc = vg_collect_path(path, size, env->proc_path, "1/mounts", err);

	if (rc == 0)
		rc = vg_collect_file_read(f, path, err);
	if (rc != VG_ENOENT && rc != VG_EIO)
		return rc;
	rc = vg_collect_path(path, size, env->proc_path, "self/mounts", err);
	if (rc == 0)
		rc = vg_collect_file_read(f, path, err);
	if (rc != 0)
		vg_err_prefix(err, "%s/1/mounts unreadable, fallback failed", env->proc_path);
	return rc;
}

static int collect_filesystem(const struct vg_collect_env *env, struct vg_sample_sink *sink,
			      struct vg_err *err)
{
	struct mount_ent stack_ents[STACK_ENTRIES], *ents = stack_ents;
	struct vg_collect_file f;
	char path[PATH_MAX];
	uint32_t max, n;
	int rc;

	rc = read_mounts(env, &f, path, sizeof(path), err);
	if (rc != 0)
		return rc;
	/* The shortest valid line, "a / b c 0 0\n", has 12 bytes: a hostile
	 * file of empty lines cannot make this allocation large. */
	max = count_lines(f.data, f.len);
	if (max > f.len / 12 + 1)
		max = (uint32_t)(f.len / 12 + 1);
	if (max > STACK_ENTRIES) {
		ents = malloc(max * sizeof(*ents));
		if (ents == NULL) {
			rc = vg_err_set(err, VG_ENOMEM, "%s: no memory for %u mounts", path, max);
			goto out;
		}
	}
	n = parse_mounts(&f, ents, max);
	if (n == 0) {
		rc = vg_err_set(err, VG_EINVAL, "%s: no usable mount line", path);
		goto out;
	}
	qsort(ents, n, sizeof(*ents), ent_cmp);
	for (uint32_t i = 0; i < n; i++) {
		if (i + 1 < n && strcmp(ents[i].mountpoint, ents[i + 1].mountpoint) == 0)
			continue; /* a later mount covers this one */
		if (!vg_filesystem_is_wanted(ents[i].fstype, ents[i].mountpoint))
			continue;
		rc = collect_mount(env, sink, &ents[i], err);
		if (rc != 0)
			goto out;
	}
out:
	if (ents != stack_ents)
		free(ents);
	vg_collect_file_release(&f);
	return rc;
}

const struct vg_collector vg_collector_filesystem = { "filesystem", collect_filesystem };
