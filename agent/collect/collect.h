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
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
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
	const char *textfile_dir; /* *.prom files for the textfile collector; NULL: none */
};

struct vg_collector {
	const char *name; /* "cpu", "meminfo", "filesystem", "loadavg" */
	int (*collect)(const struct vg_collect_env *env, struct vg_sample_sink *sink,
		       struct vg_err *err);
};

extern const struct vg_collector vg_collector_cpu;
extern const struct vg_collector vg_collector_entropy;
extern const struct vg_collector vg_collector_filefd;
extern const struct vg_collector vg_collector_filesystem;
extern const struct vg_collector vg_collector_loadavg;
extern const struct vg_collector vg_collector_meminfo;
extern const struct vg_collector vg_collector_textfile;

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

/* --- For collector implementations (agent/collect/), defined in collect.c --- */

/* A /proc file larger than this is refused (VG_ELIMIT): these files are a
 * few KiB; mounts on a container host with thousands of mounts stay far
 * below. */
#define VG_COLLECT_MAX_FILE_BYTES (1024 * 1024)
#define VG_COLLECT_STACK_BYTES (16 * 1024)

/* A whole file read with one open and reads to EOF. Lives on the caller's
 * stack: files up to VG_COLLECT_STACK_BYTES - 1 need no allocation, larger
 * ones move to heap (one allocation per read). data is NUL-terminated and
 * writable in place (the mounts parser unescapes into it); parsers still use
 * len, as hostile content may hold NUL bytes. */
struct vg_collect_file {
	char *data;
	size_t len;
	struct vg_buf heap;
	char stack[VG_COLLECT_STACK_BYTES];
};

/* Reads path into f; VG_ENOENT or VG_EIO (message has the path and errno),
 * VG_ELIMIT past VG_COLLECT_MAX_FILE_BYTES, VG_ENOMEM. After any return,
 * vg_collect_file_release(f) is safe and frees what the read took. */
int vg_collect_file_read(struct vg_collect_file *f, const char *path, struct vg_err *err);
void vg_collect_file_release(struct vg_collect_file *f);

/* Writes "dir/name" into out[size]; VG_ELIMIT if it does not fit. */
int vg_collect_path(char *out, size_t size, const char *dir, const char *name,
		    struct vg_err *err);

/* Cuts the next line (without its '\n') off the front of rest; false at the
 * end. */
bool vg_collect_next_line(struct vg_str *rest, struct vg_str *line);
/* Cuts the next field separated by spaces or tabs off the front of rest;
 * false when only blanks remain. */
bool vg_collect_next_field(struct vg_str *rest, struct vg_str *field);
/* Strict decimal: digits only (no sign, no blanks), fits in 64 bits. */
bool vg_collect_parse_u64(struct vg_str s, uint64_t *out);

/* Hands one sample to the sink; a non-zero return from it is returned as is,
 * with err naming the series it refused. */
int vg_collect_emit(struct vg_sample_sink *sink, struct vg_series *s, double value,
		    struct vg_err *err);

#endif
