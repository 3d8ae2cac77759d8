/*
 * statvfs.h: statvfs(3) bounded in time, for the filesystem collector
 * (internal to agent/collect/; collect.h's vg_collect_statvfs is the way in).
 */
#ifndef VG_COLLECT_STATVFS_H
#define VG_COLLECT_STATVFS_H

#include <stddef.h>
#include <stdint.h>

struct statvfs;
struct vg_err;
struct vg_statvfs_pool;

/* fn NULL: statvfs(3). No thread starts before the first call. */
int vg_statvfs_pool_new(int64_t timeout_ms, int (*fn)(const char *, struct statvfs *),
			struct vg_statvfs_pool **out, struct vg_err *err);
void vg_statvfs_pool_free(struct vg_statvfs_pool *p);
/* p NULL: a plain statvfs. See vg_collect_statvfs for the codes. */
int vg_statvfs_pool_call(struct vg_statvfs_pool *p, const char *path, struct statvfs *st,
			 struct vg_err *err);
size_t vg_statvfs_pool_stuck(struct vg_statvfs_pool *p);

#endif
