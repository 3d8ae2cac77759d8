/*
 * filesystem.c: the filesystem collector, from the mount table and
 * statvfs(3).
 *
 * Owns: reading <proc>/1/mounts (the host's table when the agent shares the
 * host's pid namespace), falling back to <proc>/self/mounts when pid 1 is
 * hidden (hidepid) or absent, as node_exporter does; unescaping the kernel's
 * octal escapes ("\040" is a space); node_exporter's filters by mount point
 * and type (vg_filesystem_is_wanted: the ctx's regexes, include or exclude,
 * node_exporter's defaults unless configured); and, per mount point,
 * node_exporter's metrics
 * with labels device, fstype, mountpoint:
 *   node_filesystem_size_bytes   f_blocks * f_frsize
 *   node_filesystem_free_bytes   f_bfree  * f_frsize
 *   node_filesystem_avail_bytes  f_bavail * f_frsize
 *   node_filesystem_files        f_files
 *   node_filesystem_files_free   f_ffree
 *   node_filesystem_readonly     1 if ST_RDONLY
 *   node_filesystem_device_error 0, or 1 alone when statvfs fails or does
 *                                not answer in time
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
 * statvfs goes through vg_collect_statvfs (statvfs.c): on a dead NFS (or
 * other network) mount it blocks in the kernel, so a worker thread makes the
 * call and the round waits at most the ctx's timeout; such a mount point is
 * skipped (device_error 1) until its call returns, as node_exporter's
 * "stuck mounts" are.
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

bool vg_filesystem_is_wanted(const struct vg_collect_ctx *ctx, const char *fstype,
			     const char *mountpoint)
{
	if (fstype == NULL || mountpoint == NULL)
		return false;
	return vg_collect_wants(ctx, VG_FILTER_FSTYPE, fstype, strlen(fstype)) &&
	       vg_collect_wants(ctx, VG_FILTER_MOUNT, mountpoint, strlen(mountpoint));
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

/* Parses the mount table data into ents (room for max); returns the count. */
static uint32_t parse_mounts(char *data, size_t len, struct mount_ent *ents, uint32_t max)
{
	struct vg_str rest = { data, (uint32_t)len }, line, fields[6];
	uint32_t n = 0, line_no = 0;

	while (n < max && vg_collect_next_line(&rest, &line)) {
		char *w[3];
		int k = 0;

		line_no++;
		while (k < 6 && vg_collect_next_field(&line, &fields[k]))
			k++;
		if (k < 6)
			continue;
		/* The views point into data, which is ours to write. */
		for (int i = 0; i < 3; i++)
			w[i] = data + (fields[i].p - data);
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

static int collect_mount(struct vg_collect_ctx *ctx, const char *root, struct vg_sample_sink *sink,
			 const struct mount_ent *e, struct vg_err *err)
{
	size_t root_len = strlen(root);
	char path[PATH_MAX];
	struct statvfs st;
	struct vg_err serr;
	double frsize;
	int n;
	int rc;

	while (root_len > 0 && root[root_len - 1] == '/')
		root_len--;
	n = snprintf(path, sizeof(path), "%.*s%s", (int)root_len, root, e->mountpoint);
	if (n < 0 || (size_t)n >= sizeof(path) || vg_collect_statvfs(ctx, path, &st, &serr) != 0) {
		if (n < 0 || (size_t)n >= sizeof(path))
			vg_debug("filesystem: %s: path too long", e->mountpoint);
		else
			vg_debug("filesystem: %s", serr.msg);
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

/* The mount table in data[0..len) (writable, NUL after it): unescaped in
 * place, then statvfs of each wanted top mount under root. */
static int collect_table(struct vg_collect_ctx *ctx, const char *root, char *data, size_t len,
			 struct vg_sample_sink *sink, struct vg_err *err)
{
	struct mount_ent stack_ents[STACK_ENTRIES], *ents = stack_ents;
	uint32_t max, n;
	int rc = 0;

	/* The shortest valid line, "a / b c 0 0\n", has 12 bytes: a hostile
	 * file of empty lines cannot make this allocation large. */
	max = count_lines(data, len);
	if (max > len / 12 + 1)
		max = (uint32_t)(len / 12 + 1);
	if (max > STACK_ENTRIES) {
		ents = malloc(max * sizeof(*ents));
		if (ents == NULL)
			return vg_err_set(err, VG_ENOMEM, "no memory for %u mounts", max);
	}
	n = parse_mounts(data, len, ents, max);
	if (n == 0) {
		rc = vg_err_set(err, VG_EINVAL, "no usable mount line");
		goto out;
	}
	qsort(ents, n, sizeof(*ents), ent_cmp);
	for (uint32_t i = 0; i < n; i++) {
		if (i + 1 < n && strcmp(ents[i].mountpoint, ents[i + 1].mountpoint) == 0)
			continue; /* a later mount covers this one */
		if (!vg_filesystem_is_wanted(ctx, ents[i].fstype, ents[i].mountpoint))
			continue;
		if ((rc = collect_mount(ctx, root, sink, &ents[i], err)) != 0)
			goto out;
	}
out:
	if (ents != stack_ents)
		free(ents);
	return rc;
}

int vg_filesystem_parse(const struct vg_collect_ctx *ctx, const char *data, size_t len,
			struct vg_sample_sink *sink, struct vg_err *err)
{
	char *copy = malloc(len + 1);
	int rc;

	if (copy == NULL)
		return vg_err_set(err, VG_ENOMEM, "no memory for a %zu-byte mount table", len);
	if (len > 0)
		memcpy(copy, data, len);
	copy[len] = '\0';
	/* The ctx is only read but for the statvfs worker it starts. */
	rc = collect_table((struct vg_collect_ctx *)ctx, "/", copy, len, sink, err);
	free(copy);
	return rc;
}

static int collect_filesystem(const struct vg_collect_env *env, struct vg_sample_sink *sink,
			      struct vg_err *err)
{
	struct vg_collect_file f;
	char path[PATH_MAX];
	int rc;

	rc = read_mounts(env, &f, path, sizeof(path), err);
	if (rc == 0) {
		rc = collect_table(env->ctx, env->rootfs_path ? env->rootfs_path : "/", f.data, f.len,
				   sink, err);
		if (rc == VG_EINVAL || rc == VG_ENOMEM)
			vg_err_prefix(err, "%s", path);
	}
	vg_collect_file_release(&f);
	return rc;
}

const struct vg_collector vg_collector_filesystem = { "filesystem", collect_filesystem };
