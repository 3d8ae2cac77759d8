/*
 * collect.h: the boundary between host collectors and the rest of the agent.
 *
 * A collector reads one source (/proc/stat, /proc/meminfo, mounts,
 * /proc/loadavg) and hands each sample to a sink as a series view plus a
 * value. It does not know about batching, refs or the network, and it does
 * not add the agent's own labels (instance, the configured labels): the sink
 * does. Series passed to the sink need not be canonical and are valid only
 * during the call. Metric and label names follow node_exporter's, so that
 * existing dashboards and alert rules work unchanged.
 *
 * A collector that cannot read its source returns an error with the path in
 * err; samples it delivered before the failure stand.
 */
#ifndef VG_COLLECT_H
#define VG_COLLECT_H

#include <stdbool.h>

#include "common/series.h"

struct vg_err;

struct vg_sample_sink {
	/* Takes one sample; a non-zero return stops the collector. */
	int (*add)(void *arg, struct vg_series *s, double value);
	void *arg;
};

/* Where collectors read from: node_exporter's --path.procfs and
 * --path.rootfs, so a test (or a container) can point them elsewhere. */
struct vg_collect_env {
	const char *proc_path;   /* "/proc" */
	const char *rootfs_path; /* "/": prefix for statvfs of mount points */
	long clk_tck;            /* sysconf(_SC_CLK_TCK): /proc/stat ticks per second */
};

struct vg_collector {
	const char *name; /* "cpu", "meminfo", "filesystem", "loadavg" */
	int (*collect)(const struct vg_collect_env *env, struct vg_sample_sink *sink,
		       struct vg_err *err);
};

extern const struct vg_collector vg_collector_cpu;
extern const struct vg_collector vg_collector_filesystem;
extern const struct vg_collector vg_collector_loadavg;
extern const struct vg_collector vg_collector_meminfo;

/* All collectors, NULL-terminated, in a fixed order. */
extern const struct vg_collector *const vg_collectors[];
/* The collector of that name, or NULL. */
const struct vg_collector *vg_collector_find(const char *name);

/* Fills env with the defaults: /proc, /, sysconf's tick rate. */
void vg_collect_env_default(struct vg_collect_env *env);

/* The filesystem collector's filter, exposed for tests: false for pseudo
 * and virtual file systems (proc, sysfs, cgroup, overlay...) and for mount
 * points under /dev, /proc, /sys, /run/credentials, container storage. */
bool vg_filesystem_is_wanted(const char *fstype, const char *mountpoint);

#endif
