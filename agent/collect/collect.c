/*
 * collect.c: the table of host collectors, and what they share: reading a
 * /proc file whole, cutting it into lines and fields, strict number parsing,
 * handing a sample to the sink.
 *
 * Also the collectors' lasting state (struct vg_collect_ctx): the compiled
 * filters, and the statvfs worker that statvfs.c owns.
 *
 * It parses no source itself: each collect/<collector>.c owns its format,
 * proc_read.c the read loop. Invariants: vg_collectors[] is NULL-terminated,
 * in a fixed order (the order of a round); the helpers never allocate per
 * line or per sample; a ctx's regexes are compiled once, with one match
 * block, and are only read after vg_collect_ctx_new (a ctx belongs to the
 * thread that runs the round).
 */
#include "agent/collect/collect.h"
#include "common/dl.h"
#include "common/buf.h"
#include "common/err.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <dlfcn.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/collect/statvfs.h"

#include "common/banned.h"

const struct vg_collector *const vg_collectors[] = {
	&vg_collector_cpu,
	&vg_collector_meminfo,
	&vg_collector_filesystem,
	&vg_collector_loadavg,
	&vg_collector_filefd,
	&vg_collector_entropy,
	&vg_collector_textfile,
	&vg_collector_stat,
	&vg_collector_diskstats,
	&vg_collector_netdev,
	&vg_collector_netstat,
	&vg_collector_sockstat,
	&vg_collector_pressure,
	&vg_collector_vmstat,
	&vg_collector_conntrack,
	&vg_collector_time,
	&vg_collector_uname,
	NULL,
};

static int parse_cpu100(const struct vg_collect_ctx *ctx, const char *data, size_t len,
			struct vg_sample_sink *sink, struct vg_err *err)
{
	(void)ctx;
	return vg_cpu_parse_ticks(data, len, 100, sink, err);
}

const struct vg_collect_parser vg_collect_parsers[] = {
	{ "cpu", parse_cpu100 },
	{ "stat", vg_stat_parse },
	{ "meminfo", vg_meminfo_parse },
	{ "loadavg", vg_loadavg_parse },
	{ "filefd", vg_filefd_parse },
	{ "entropy", vg_entropy_parse },
	{ "diskstats", vg_diskstats_parse },
	{ "netdev", vg_netdev_parse },
	{ "netstat", vg_netstat_parse },
	{ "netstat_snmp6", vg_netstat_snmp6_parse },
	{ "sockstat", vg_sockstat_parse },
	{ "sockstat6", vg_sockstat6_parse },
	{ "pressure_cpu", vg_pressure_cpu_parse },
	{ "pressure_io", vg_pressure_io_parse },
	{ "pressure_memory", vg_pressure_memory_parse },
	{ "vmstat", vg_vmstat_parse },
	{ "conntrack_stat", vg_conntrack_stat_parse },
	{ "filesystem", vg_filesystem_parse },
	{ NULL, NULL },
};

/* --- filters -------------------------------------------------------------- */

/*
 * PCRE2 is dlopen()ed when a filter regex is configured, and only then
 * (common/dl.h): linked, it would be mapped into every agent (some 100 KiB
 * of resident memory) for what few hosts configure.
 */
#ifndef VG_PCRE2_SONAME
#define VG_PCRE2_SONAME "libpcre2-8.so.0"
#endif

struct pcre_api {
	void *handle; /* NULL: not loaded, nothing below is set */
	__typeof__(pcre2_compile) *compile;
	__typeof__(pcre2_code_free) *code_free;
	__typeof__(pcre2_get_error_message) *get_error_message;
	__typeof__(pcre2_match) *match;
	__typeof__(pcre2_match_data_create) *match_data_create;
	__typeof__(pcre2_match_data_free) *match_data_free;
};

static int pcre_load(struct pcre_api *a, struct vg_err *err)
{
	const struct vg_dl_sym syms[] = {
		VG_DL_SYM(a->compile, pcre2_compile_8),
		VG_DL_SYM(a->code_free, pcre2_code_free_8),
		VG_DL_SYM(a->get_error_message, pcre2_get_error_message_8),
		VG_DL_SYM(a->match, pcre2_match_8),
		VG_DL_SYM(a->match_data_create, pcre2_match_data_create_8),
		VG_DL_SYM(a->match_data_free, pcre2_match_data_free_8),
	};

	if (a->handle != NULL)
		return 0;
	a->handle = vg_dl_open(VG_PCRE2_SONAME, "libpcre2-8-0", "a filter regex", syms, sizeof(syms) / sizeof(syms[0]),
			       err);
	return a->handle != NULL ? 0 : VG_ENOENT;
}

static void pcre_unload(struct pcre_api *a)
{
	if (a->handle != NULL)
		dlclose(a->handle);
	a->handle = NULL;
}

struct vg_collect_ctx {
	struct pcre_api pcre; /* loaded while re[] holds a regex */
	pcre2_code *re[VG_FILTER_COUNT];
	bool is_include[VG_FILTER_COUNT]; /* re selects what is kept (else what is dropped) */
	bool is_builtin[VG_FILTER_COUNT]; /* not configured: default_matches */
	/* Kernel files kept open between rounds (proc_read.c). */
	struct { char *path; int fd; } kept[VG_COLLECT_MAX_KEPT];
	size_t n_kept;
	pcre2_match_data *md;             /* NULL while no regex is configured */
	struct vg_statvfs_pool *statvfs;
	struct vg_netstat_cache *netstat; /* netstat.c's, never NULL */
};

/*
 * node_exporter's default regexes (VG_COLLECT_DEFAULT_*), written out as
 * code: a default agent then never runs (nor maps the pages of) PCRE2,
 * which costs a third of a MiB of RSS and most of a round's CPU when
 * netstat's few hundred fields each go through a regex starting ".*".
 * test_collect compares each against its regex over the fixtures' names.
 * (Where a name holds a newline, which "." does not match, the two may
 * differ; the kernel's names hold none.)
 */
static bool has_prefix(const char *s, size_t len, const char *p)
{
	size_t n = strlen(p);

	return len >= n && memcmp(s, p, n) == 0;
}

static bool has_suffix(const char *s, size_t len, const char *p)
{
	size_t n = strlen(p);

	return len >= n && memcmp(s + len - n, p, n) == 0;
}

/* A set's strings with their lengths, so that a lookup measures none. */
#define S(lit) { lit, sizeof(lit) - 1 }

static bool is_one_of(const char *s, size_t len, const struct vg_str *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (set[i].len == len && memcmp(s, set[i].p, len) == 0)
			return true;
	return false;
}

static size_t digits(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++;
	return i;
}

/* ^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$ */
static bool is_default_disk(const char *s, size_t len)
{
	size_t at = 0, n;

	if (has_prefix(s, len, "ram"))
		at = 3;
	else if (has_prefix(s, len, "loop"))
		at = 4;
	else if (has_prefix(s, len, "fd"))
		at = 2;
	else if (len >= 3 && (s[0] == 'h' || s[0] == 's' || s[0] == 'v') && s[1] == 'd' && s[2] >= 'a' && s[2] <= 'z')
		at = 3;
	else if (len >= 4 && has_prefix(s, len, "xvd") && s[3] >= 'a' && s[3] <= 'z')
		at = 4;
	else if (has_prefix(s, len, "nvme")) {
		at = 4;
		if ((n = digits(s + at, len - at)) == 0 || at + n >= len || s[at + n] != 'n')
			return false;
		at += n + 1;
		if ((n = digits(s + at, len - at)) == 0 || at + n >= len || s[at + n] != 'p')
			return false;
		at += n + 1;
	} else {
		return false;
	}
	n = digits(s + at, len - at);
	return n > 0 && at + n == len;
}

/* ^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/) */
static bool is_default_mount(const char *s, size_t len)
{
	static const char *const dirs[] = { "/dev", "/proc", "/sys" };
	static const char *const below[] = { "/run/credentials/", "/var/lib/docker/",
					     "/var/lib/containers/storage/" };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		size_t n = strlen(dirs[i]);
		if (has_prefix(s, len, dirs[i]) && (len == n || s[n] == '/'))
			return true;
	}
	for (size_t i = 0; i < sizeof(below) / sizeof(below[0]); i++)
		if (has_prefix(s, len, below[i]) && len > strlen(below[i]))
			return true;
	return false;
}

static const struct vg_str default_fstypes[] = {
	S("autofs"), S("binfmt_misc"), S("bpf"), S("cgroup"), S("cgroup2"), S("configfs"),
	S("debugfs"), S("devpts"), S("devtmpfs"), S("fusectl"), S("hugetlbfs"), S("iso9660"),
	S("mqueue"), S("nsfs"), S("overlay"), S("proc"), S("procfs"), S("pstore"),
	S("rpc_pipefs"), S("securityfs"), S("selinuxfs"), S("squashfs"), S("erofs"), S("sysfs"),
	S("tracefs"),
};

static const struct vg_str default_netstat[] = {
	S("Ip_Forwarding"), S("Ip6_InOctets"), S("Ip6_OutOctets"), S("IpExt_InOctets"),
	S("IpExt_OutOctets"), S("Icmp_InMsgs"), S("Icmp_OutMsgs"), S("Icmp6_InMsgs"),
	S("Icmp6_OutMsgs"), S("TcpExt_TCPSynRetrans"), S("TcpExt_TCPTimeouts"),
	S("Tcp_ActiveOpens"), S("Tcp_InSegs"), S("Tcp_OutSegs"), S("Tcp_OutRsts"),
	S("Tcp_PassiveOpens"), S("Tcp_RetransSegs"), S("Tcp_CurrEstab"), S("Udp_InDatagrams"),
	S("Udp_OutDatagrams"), S("Udp_NoPorts"), S("Udp_RcvbufErrors"), S("Udp_SndbufErrors"),
	S("Udp6_InDatagrams"), S("Udp6_OutDatagrams"), S("Udp6_NoPorts"), S("Udp6_RcvbufErrors"),
	S("Udp6_SndbufErrors"),
};

/* Whether s matches filter which's default regex. */
static bool default_matches(enum vg_collect_filter which, const char *s, size_t len)
{
	switch (which) {
	case VG_FILTER_DISK:
		return is_default_disk(s, len);
	case VG_FILTER_NETDEV:
		return len == 2 && memcmp(s, "lo", 2) == 0;
	case VG_FILTER_MOUNT:
		return is_default_mount(s, len);
	case VG_FILTER_FSTYPE:
		return is_one_of(s, len, default_fstypes, sizeof(default_fstypes) / sizeof(default_fstypes[0]));
	case VG_FILTER_NETSTAT:
		return has_suffix(s, len, "_InErrors") || has_suffix(s, len, "_InErrs") ||
		       has_prefix(s, len, "TcpExt_Listen") || has_prefix(s, len, "TcpExt_Syncookies") ||
		       is_one_of(s, len, default_netstat, sizeof(default_netstat) / sizeof(default_netstat[0]));
	case VG_FILTER_VMSTAT:
		if (has_prefix(s, len, "oom_kill") || has_prefix(s, len, "pgpg") || has_prefix(s, len, "pswp"))
			return true;
		if (!has_prefix(s, len, "pg"))
			return false;
		for (size_t i = 2; i + 5 <= len; i++)
			if (memcmp(s + i, "fault", 5) == 0)
				return true;
		return false;
	case VG_FILTER_COUNT:
		break;
	}
	return false;
}

/* The default filters' sense: these keep what matches, the others drop it. */
static bool is_default_include(enum vg_collect_filter which)
{
	return which == VG_FILTER_NETSTAT || which == VG_FILTER_VMSTAT;
}

static const char *const filter_names[VG_FILTER_COUNT] = {
	"diskstats device", "netdev device", "filesystem mount point", "filesystem type",
	"netstat fields", "vmstat fields",
};

static pcre2_code *compile(const struct pcre_api *a, const char *re, struct vg_err *err)
{
	PCRE2_SIZE at;
	int code;
	pcre2_code *c = a->compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
				   PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code, &at, NULL);

	if (c == NULL) {
		PCRE2_UCHAR why[160];
		if (a->get_error_message(code, why, sizeof(why)) < 0)
			snprintf((char *)why, sizeof(why), "error %d", code);
		vg_err_set(err, VG_EINVAL, "invalid regular expression \"%.200s\": %s at offset %zu", re,
			   (const char *)why, (size_t)at);
	}
	return c;
}

int vg_collect_regex_check(const char *re, struct vg_err *err)
{
	struct pcre_api a = { 0 };
	pcre2_code *c;
	int rc;

	if (re == NULL)
		return 0;
	if ((rc = pcre_load(&a, err)) != 0)
		return rc;
	rc = (c = compile(&a, re, err)) == NULL ? VG_EINVAL : 0;
	if (c != NULL)
		a.code_free(c);
	pcre_unload(&a);
	return rc;
}

int vg_collect_ctx_new(const struct vg_collect_options *o, struct vg_collect_ctx **out,
		       struct vg_err *err)
{
	static const struct vg_collect_options none;
	struct vg_collect_ctx *ctx;
	int rc;

	if (o == NULL)
		o = &none;
	const char *pairs[VG_FILTER_COUNT][2] = {
		{ o->disk_exclude, o->disk_include },
		{ o->netdev_exclude, o->netdev_include },
		{ o->mount_exclude, o->mount_include },
		{ o->fstype_exclude, o->fstype_include },
		{ NULL, o->netstat_fields },
		{ NULL, o->vmstat_fields },
	};

	*out = NULL;
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
		return vg_err_set(err, VG_ENOMEM, "out of memory");
	for (int i = 0; i < VG_FILTER_COUNT; i++) {
		const char *re;
		ctx->is_include[i] = pairs[i][1] != NULL && pairs[i][1][0] != '\0';
		if (pairs[i][0] == NULL && pairs[i][1] == NULL) {
			ctx->is_builtin[i] = true;
			ctx->is_include[i] = is_default_include((enum vg_collect_filter)i);
			continue;
		}
		re = ctx->is_include[i] ? pairs[i][1] : pairs[i][0];
		if (re == NULL || re[0] == '\0')
			continue; /* an empty exclude drops nothing */
		if ((rc = pcre_load(&ctx->pcre, err)) != 0)
			goto fail;
		if ((ctx->re[i] = compile(&ctx->pcre, re, err)) == NULL) {
			vg_err_prefix(err, "%s filter", filter_names[i]);
			rc = VG_EINVAL;
			goto fail;
		}
	}
	for (int i = 0; i < VG_FILTER_COUNT && ctx->md == NULL; i++)
		if (ctx->re[i] != NULL && (ctx->md = ctx->pcre.match_data_create(1, NULL)) == NULL) {
			rc = vg_err_set(err, VG_ENOMEM, "out of memory");
			goto fail;
		}
	if ((ctx->netstat = vg_netstat_cache_new()) == NULL) {
		rc = vg_err_set(err, VG_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = vg_statvfs_pool_new(o->statvfs_timeout_ms > 0 ? o->statvfs_timeout_ms
								   : VG_COLLECT_DEFAULT_STATVFS_TIMEOUT_MS,
				      o->statvfs_fn, &ctx->statvfs, err)) != 0)
		goto fail;
	*out = ctx;
	return 0;
fail:
	vg_collect_ctx_free(ctx);
	return rc;
}

void vg_collect_ctx_free(struct vg_collect_ctx *ctx)
{
	if (ctx == NULL)
		return;
	vg_statvfs_pool_free(ctx->statvfs);
	vg_netstat_cache_free(ctx->netstat);
	for (size_t i = 0; i < ctx->n_kept; i++) {
		close(ctx->kept[i].fd);
		free(ctx->kept[i].path);
	}
	if (ctx->pcre.handle != NULL) {
		ctx->pcre.match_data_free(ctx->md);
		for (int i = 0; i < VG_FILTER_COUNT; i++)
			ctx->pcre.code_free(ctx->re[i]);
	}
	pcre_unload(&ctx->pcre);
	free(ctx);
}

struct vg_netstat_cache *vg_collect_ctx_netstat(const struct vg_collect_ctx *ctx)
{
	return ctx ? ctx->netstat : NULL;
}

int vg_collect_ctx_kept_fd(const struct vg_collect_ctx *ctx, const char *path)
{
	for (size_t i = 0; ctx != NULL && i < ctx->n_kept; i++)
		if (strcmp(ctx->kept[i].path, path) == 0)
			return ctx->kept[i].fd;
	return -1;
}

bool vg_collect_ctx_keep_fd(struct vg_collect_ctx *ctx, const char *path, int fd)
{
	char *copy;

	if (ctx == NULL || ctx->n_kept == VG_COLLECT_MAX_KEPT || (copy = strdup(path)) == NULL)
		return false;
	ctx->kept[ctx->n_kept].path = copy;
	ctx->kept[ctx->n_kept].fd = fd;
	ctx->n_kept++;
	return true;
}

void vg_collect_ctx_drop_fd(struct vg_collect_ctx *ctx, const char *path)
{
	for (size_t i = 0; ctx != NULL && i < ctx->n_kept; i++)
		if (strcmp(ctx->kept[i].path, path) == 0) {
			close(ctx->kept[i].fd);
			free(ctx->kept[i].path);
			ctx->kept[i] = ctx->kept[--ctx->n_kept];
			return;
		}
}

bool vg_collect_wants(const struct vg_collect_ctx *ctx, enum vg_collect_filter which,
		      const char *s, size_t len)
{
	bool is_match;

	if (ctx == NULL || ctx->is_builtin[which]) {
		is_match = default_matches(which, s, len);
		return is_default_include(which) ? is_match : !is_match;
	}
	if (ctx->re[which] == NULL)
		return !ctx->is_include[which];
	is_match = ctx->pcre.match(ctx->re[which], (PCRE2_SPTR)s, len, 0, 0, ctx->md, NULL) >= 0;
	return ctx->is_include[which] ? is_match : !is_match;
}

int vg_collect_statvfs(struct vg_collect_ctx *ctx, const char *path, struct statvfs *st,
		       struct vg_err *err)
{
	return vg_statvfs_pool_call(ctx ? ctx->statvfs : NULL, path, st, err);
}

size_t vg_collect_statvfs_stuck(struct vg_collect_ctx *ctx)
{
	return ctx ? vg_statvfs_pool_stuck(ctx->statvfs) : 0;
}

const struct vg_collector *vg_collector_find(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; vg_collectors[i] != NULL; i++)
		if (strcmp(vg_collectors[i]->name, name) == 0)
			return vg_collectors[i];
	return NULL;
}

void vg_collect_env_default(struct vg_collect_env *env)
{
	long tck = sysconf(_SC_CLK_TCK);

	env->proc_path = "/proc";
	env->rootfs_path = "/";
	env->sys_path = "/sys";
	env->textfile_dir = NULL;
	env->ctx = NULL;
	/* USER_HZ is 100 on every Linux architecture; sysconf cannot really
	 * fail, but a zero here would divide every CPU sample by zero. */
	env->clk_tck = tck > 0 ? tck : 100;
}

int vg_collect_path(char *out, size_t size, const char *dir, const char *name,
		    struct vg_err *err)
{
	/* Not snprintf: a dozen paths a round, and its formatting machinery
	 * cost more than the rest of a small collector. */
	size_t dl = strlen(dir), nl = strlen(name);

	if (size == 0 || dl + 1 + nl >= size)
		return vg_err_set(err, VG_ELIMIT, "path %s/%s is longer than %zu bytes", dir, name,
				  size ? size - 1 : 0);
	memcpy(out, dir, dl);
	out[dl] = '/';
	memcpy(out + dl + 1, name, nl + 1);
	return 0;
}

bool vg_collect_next_line(struct vg_str *rest, struct vg_str *line)
{
	const char *nl;
	uint32_t n;

	if (rest->len == 0)
		return false;
	nl = memchr(rest->p, '\n', rest->len);
	n = nl ? (uint32_t)(nl - rest->p) : rest->len;
	line->p = rest->p;
	line->len = n;
	if (nl)
		n++;
	rest->p += n;
	rest->len -= n;
	return true;
}

/* One compare for the bytes above ' ', nearly all of a field's. */
static bool is_blank(char c)
{
	return (unsigned char)c <= ' ' && (c == ' ' || c == '\t');
}

bool vg_collect_next_field(struct vg_str *rest, struct vg_str *field)
{
	const char *p = rest->p, *end = p + rest->len, *start;

	/* Pointers, not an index and a length: this runs for every field of
	 * every file each round. Eight bytes at a time where eight are left:
	 * runs of spaces (the kernel's column padding) skipped whole; within
	 * a field, the first byte at or below ' ' found by the borrow trick
	 * (a byte of x - 0x21.. that borrowed, in a byte below 0x80: it is
	 * exact for the lowest such byte, which is all that is used). */
	while (end - p >= 8) {
		uint64_t x;
		memcpy(&x, p, 8);
		if (x != 0x2020202020202020ull)
			break;
		p += 8;
	}
	while (p != end && is_blank(*p))
		p++;
	if (p == end) {
		rest->p = p;
		rest->len = 0;
		return false;
	}
	start = p;
	for (;;) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		while (end - p >= 8) {
			uint64_t x, low;
			memcpy(&x, p, 8);
			if ((low = (x - 0x2121212121212121ull) & ~x & 0x8080808080808080ull) != 0) {
				p += (unsigned)__builtin_ctzll(low) / 8;
				break;
			}
			p += 8;
		}
#endif
		while (p != end && (unsigned char)*p > ' ')
			p++;
		/* a control byte other than a tab is part of the field */
		if (p == end || is_blank(*p))
			break;
		p++;
	}
	field->p = start;
	field->len = (uint32_t)(p - start);
	rest->p = p;
	rest->len = (uint32_t)(end - p);
	return true;
}

bool vg_collect_parse_u64(struct vg_str s, uint64_t *out)
{
	uint64_t v = 0;

	if (s.len == 0)
		return false;
	for (uint32_t i = 0; i < s.len; i++) {
		unsigned d = (unsigned char)s.p[i] - '0';
		if (d > 9)
			return false;
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

bool vg_collect_parse_one_u64(const char *data, size_t len, uint64_t *out)
{
	struct vg_str rest = { data, (uint32_t)len }, line = { "", 0 }, field;

	vg_collect_next_line(&rest, &line);
	return vg_collect_next_field(&line, &field) && vg_collect_parse_u64(field, out) &&
	       !vg_collect_next_field(&line, &field) && !vg_collect_next_line(&rest, &line);
}

bool vg_collect_parse_i64(struct vg_str s, int64_t *out)
{
	bool is_neg = s.len > 0 && s.p[0] == '-';
	uint64_t v;

	if (is_neg) {
		s.p++;
		s.len--;
	}
	if (!vg_collect_parse_u64(s, &v) || v > (uint64_t)INT64_MAX + is_neg)
		return false;
	*out = is_neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

#define MAX_DIGITS 18 /* all digits of the number fit in a uint64_t */

static const double pow10_table[MAX_DIGITS + 1] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
};

/* The result is the correctly rounded quotient of two exact doubles, so
 * 0.21 reads as 0.21. */
bool vg_collect_parse_decimal(struct vg_str s, double *out)
{
	uint64_t mant = 0;
	unsigned n_digits = 0, n_frac = 0;
	bool has_point = false, has_int = false;

	for (uint32_t i = 0; i < s.len; i++) {
		char c = s.p[i];
		if (c == '.' && !has_point && has_int) {
			has_point = true;
			continue;
		}
		if (c < '0' || c > '9' || ++n_digits > MAX_DIGITS)
			return false;
		mant = mant * 10 + (uint64_t)(c - '0');
		if (has_point)
			n_frac++;
		else
			has_int = true;
	}
	if (!has_int || (has_point && n_frac == 0))
		return false;
	*out = (double)mant / pow10_table[n_frac];
	return true;
}

int vg_collect_emit(struct vg_sample_sink *sink, struct vg_series *s, double value,
		    struct vg_err *err)
{
	int rc = sink->add(sink->arg, s, value);

	if (rc != 0)
		vg_err_set(err, rc, "sink stopped the collector at %.*s (code %d)",
			   (int)(s->name.len > 128 ? 128 : s->name.len), s->name.p, rc);
	return rc;
}
