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

/* Where collectors read from: node_exporter's --path.procfs,
 * --path.sysfs and --path.rootfs, so a test (or a container) can point them
 * elsewhere. */
struct vg_collect_env {
	const char *proc_path;   /* "/proc" */
	const char *rootfs_path; /* "/": prefix for statvfs of mount points */
	long clk_tck;            /* sysconf(_SC_CLK_TCK): /proc/stat ticks per second */
	const char *textfile_dir; /* *.prom files for the textfile collector; NULL: none */
	/* Filters and the bounded statvfs (see below); NULL: node_exporter's
	 * default filters and statvfs called directly, unbounded. */
	struct vg_collect_ctx *ctx;
	const char *sys_path;    /* "/sys"; NULL: "/sys" */
};

struct vg_collector {
	const char *name; /* node_exporter's collector name: "cpu", "diskstats"... */
	int (*collect)(const struct vg_collect_env *env, struct vg_sample_sink *sink,
		       struct vg_err *err);
};

/*
 * Collector state that outlives a round: the compiled filters (regexes
 * with Go's RE2 meaning, unanchored like node_exporter's MatchString) and
 * the filesystem collector's statvfs worker. Options with a NULL regex take
 * node_exporter's default (VG_COLLECT_DEFAULT_*); an include regex, when
 * set, replaces the exclude one of that pair, as node_exporter's
 * mutually exclusive flags do. An option left NULL uses the built-in
 * matcher of that default (collect.c), which needs no regex engine.
 */
#define VG_COLLECT_DEFAULT_DISK_EXCLUDE "^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\\d+n\\d+p)\\d+$"
#define VG_COLLECT_DEFAULT_NETDEV_EXCLUDE "^lo$"
#define VG_COLLECT_DEFAULT_MOUNT_EXCLUDE \
	"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"
#define VG_COLLECT_DEFAULT_FSTYPE_EXCLUDE                                                          \
	"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|"    \
	"iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|" \
	"erofs|sysfs|tracefs)$"
#define VG_COLLECT_DEFAULT_NETSTAT_FIELDS                                                         \
	"^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|" \
	"TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|"                               \
	"Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|"             \
	"Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$"
#define VG_COLLECT_DEFAULT_VMSTAT_FIELDS "^(oom_kill|pgpg|pswp|pg.*fault).*"
#define VG_COLLECT_DEFAULT_STATVFS_TIMEOUT_MS 1000

struct statvfs;

struct vg_collect_options {
	const char *disk_exclude, *disk_include;
	const char *netdev_exclude, *netdev_include;
	const char *mount_exclude, *mount_include;
	const char *fstype_exclude, *fstype_include;
	const char *netstat_fields, *vmstat_fields;
	int64_t statvfs_timeout_ms; /* 0: VG_COLLECT_DEFAULT_STATVFS_TIMEOUT_MS */
	/* The statvfs call, a seam for tests (a hung mount); NULL: statvfs(3). */
	int (*statvfs_fn)(const char *path, struct statvfs *st);
};

struct vg_collect_ctx;

/* Compiles o (NULL: all defaults) into a new ctx; VG_EINVAL names the bad
 * regex and its option. Caller frees with vg_collect_ctx_free. */
int vg_collect_ctx_new(const struct vg_collect_options *o, struct vg_collect_ctx **out,
		       struct vg_err *err);
/* Stops the statvfs worker (waits for it unless it is stuck in a mount
 * that does not answer: that one exits on its own when the call returns). */
void vg_collect_ctx_free(struct vg_collect_ctx *ctx);
/* Checks one regex as the options take it; for configuration checks. */
int vg_collect_regex_check(const char *re, struct vg_err *err);

enum vg_collect_filter {
	VG_FILTER_DISK, VG_FILTER_NETDEV, VG_FILTER_MOUNT, VG_FILTER_FSTYPE,
	VG_FILTER_NETSTAT, VG_FILTER_VMSTAT, VG_FILTER_COUNT
};
/* Whether s[0..len) passes filter which of ctx (NULL: the defaults). The
 * defaults are built in (no regex runs unless one is configured); they
 * mean what the VG_COLLECT_DEFAULT_* regexes mean. */
bool vg_collect_wants(const struct vg_collect_ctx *ctx, enum vg_collect_filter which,
		      const char *s, size_t len);

/*
 * statvfs bounded by the ctx's timeout: VG_EIO with errno's message when
 * statvfs fails, VG_EAGAIN when it did not answer in time or the mount
 * point is still stuck from an earlier call (skipped without a new call
 * until the stuck one returns), VG_ELIMIT when too many calls are stuck.
 * ctx NULL: a plain statvfs. docs/threads.md describes the worker.
 */
int vg_collect_statvfs(struct vg_collect_ctx *ctx, const char *path, struct statvfs *st,
		       struct vg_err *err);
/* Mount points currently stuck (for the self-metric). */
size_t vg_collect_statvfs_stuck(struct vg_collect_ctx *ctx);

/*
 * The parsers: pure functions over one file's bytes (data[0..len), not
 * necessarily NUL-terminated, content untrusted), which hand samples to the
 * sink. Each returns 0, what the sink returned, or VG_EINVAL when nothing
 * in the buffer was usable (the caller prefixes the path). The collectors
 * read their files with vg_collect_read_parse and call these; tests and
 * tests/fuzz/fuzz_proc.c call them on buffers.
 */
typedef int vg_collect_parse_fn(const struct vg_collect_ctx *ctx, const char *data, size_t len,
				struct vg_sample_sink *sink, struct vg_err *err);
struct vg_collect_parser {
	const char *name; /* "diskstats", "netstat_snmp6"... */
	vg_collect_parse_fn *parse;
};
/* All parsers, NULL-terminated (name NULL). */
extern const struct vg_collect_parser vg_collect_parsers[];

vg_collect_parse_fn vg_cpu_parse;          /* /proc/stat cpuN lines, USER_HZ = 100 */
vg_collect_parse_fn vg_stat_parse;         /* /proc/stat scalar lines */
vg_collect_parse_fn vg_meminfo_parse;
vg_collect_parse_fn vg_loadavg_parse;
vg_collect_parse_fn vg_filefd_parse;
vg_collect_parse_fn vg_entropy_parse;      /* one number */
vg_collect_parse_fn vg_diskstats_parse;
vg_collect_parse_fn vg_netdev_parse;
vg_collect_parse_fn vg_netstat_parse;      /* /proc/net/snmp and /proc/net/netstat */
vg_collect_parse_fn vg_netstat_snmp6_parse;
vg_collect_parse_fn vg_sockstat_parse;     /* /proc/net/sockstat (page size 4096) */
vg_collect_parse_fn vg_sockstat6_parse;
vg_collect_parse_fn vg_pressure_cpu_parse, vg_pressure_io_parse, vg_pressure_memory_parse;
vg_collect_parse_fn vg_vmstat_parse;
vg_collect_parse_fn vg_conntrack_stat_parse; /* /proc/net/stat/nf_conntrack */
/* The mount table: statvfs (through ctx, so a fake one in the fuzzer) of
 * each wanted mount point, rootfs "/". */
vg_collect_parse_fn vg_filesystem_parse;

/* cpu's parser with the tick rate given. */
int vg_cpu_parse_ticks(const char *data, size_t len, double clk_tck, struct vg_sample_sink *sink,
		       struct vg_err *err);
/* sockstat's parser with the page size given (TCP_mem and UDP_mem are pages). */
int vg_sockstat_parse_pages(const char *data, size_t len, double page_size,
			    struct vg_sample_sink *sink, struct vg_err *err);

extern const struct vg_collector vg_collector_conntrack;
extern const struct vg_collector vg_collector_cpu;
extern const struct vg_collector vg_collector_diskstats;
extern const struct vg_collector vg_collector_entropy;
extern const struct vg_collector vg_collector_filefd;
extern const struct vg_collector vg_collector_filesystem;
extern const struct vg_collector vg_collector_loadavg;
extern const struct vg_collector vg_collector_meminfo;
extern const struct vg_collector vg_collector_netdev;
extern const struct vg_collector vg_collector_netstat;
extern const struct vg_collector vg_collector_pressure;
extern const struct vg_collector vg_collector_sockstat;
extern const struct vg_collector vg_collector_stat;
extern const struct vg_collector vg_collector_textfile;
extern const struct vg_collector vg_collector_time;
extern const struct vg_collector vg_collector_uname;
extern const struct vg_collector vg_collector_vmstat;

/* All collectors, NULL-terminated, in a fixed order. */
extern const struct vg_collector *const vg_collectors[];
/* The collector of that name, or NULL. */
const struct vg_collector *vg_collector_find(const char *name);

/* Fills env with the defaults: /proc, /, sysconf's tick rate. */
void vg_collect_env_default(struct vg_collect_env *env);

/* The filesystem collector's filter (ctx NULL: node_exporter's defaults):
 * false for pseudo and virtual file systems (proc, sysfs, cgroup,
 * overlay...) and for mount points under /dev, /proc, /sys,
 * /run/credentials, container storage. */
bool vg_filesystem_is_wanted(const struct vg_collect_ctx *ctx, const char *fstype,
			     const char *mountpoint);

/* --- For collector implementations (agent/collect/), defined in collect.c --- */

/* A /proc file larger than this is refused (VG_ELIMIT): these files are a
 * few KiB; mounts on a container host with thousands of mounts stay far
 * below. */
#define VG_COLLECT_MAX_FILE_BYTES (1024 * 1024)
#define VG_COLLECT_STACK_BYTES (8 * 1024)

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

/* In proc_read.c, the one read loop of the collectors. Reads path into f;
 * VG_ENOENT or VG_EIO (message has the path and errno),
 * VG_ELIMIT past VG_COLLECT_MAX_FILE_BYTES, VG_ENOMEM. After any return,
 * vg_collect_file_release(f) is safe and frees what the read took. */
int vg_collect_file_read(struct vg_collect_file *f, const char *path, struct vg_err *err);
void vg_collect_file_release(struct vg_collect_file *f);
/* Reads dir/name whole and hands it to parse; an error of the read or the
 * parser names the path. With env->ctx, a file of procfs or sysfs (which
 * the kernel generates anew on every read from offset 0) is opened once
 * and kept open in the ctx, read with pread from offset 0 each round; a
 * read that fails on a kept file closes it and opens the path again. */
int vg_collect_read_parse(const struct vg_collect_env *env, const char *dir, const char *name,
			  vg_collect_parse_fn *parse, struct vg_sample_sink *sink, struct vg_err *err);

/* The ctx's kept files (proc_read.c's, at most VG_COLLECT_MAX_KEPT, closed
 * by vg_collect_ctx_free): the fd kept for path or -1; keep (false when
 * full or ctx is NULL: the caller closes fd); drop closes it. */
#define VG_COLLECT_MAX_KEPT 64
int vg_collect_ctx_kept_fd(const struct vg_collect_ctx *ctx, const char *path);
bool vg_collect_ctx_keep_fd(struct vg_collect_ctx *ctx, const char *path, int fd);
void vg_collect_ctx_drop_fd(struct vg_collect_ctx *ctx, const char *path);

/* The netstat parsers' memory between calls (netstat.c): which fields of
 * each header line the filter wants, so that a steady round cuts only the
 * values. Lives in the ctx (NULL without one: every call the long way);
 * the parsers' output is the same with it as without. */
struct vg_netstat_cache;
struct vg_netstat_cache *vg_collect_ctx_netstat(const struct vg_collect_ctx *ctx);
struct vg_netstat_cache *vg_netstat_cache_new(void);
void vg_netstat_cache_free(struct vg_netstat_cache *c);

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
/* data[0..len) is one strict decimal on one line (a final newline
 * allowed), as the one-number files of /proc/sys hold. */
bool vg_collect_parse_one_u64(const char *data, size_t len, uint64_t *out);
/* Strict signed decimal: an optional '-' then digits, fits in 64 bits. */
bool vg_collect_parse_i64(struct vg_str s, int64_t *out);
/* digits[.digits] with at most 18 digits, exact for the kernel's "%lu.%02lu"
 * (no sign, exponent, "inf", "nan", locale). */
bool vg_collect_parse_decimal(struct vg_str s, double *out);

/* Hands one sample to the sink; a non-zero return from it is returned as is,
 * with err naming the series it refused. */
int vg_collect_emit(struct vg_sample_sink *sink, struct vg_series *s, double value,
		    struct vg_err *err);

#endif
