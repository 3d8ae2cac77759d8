/*
 * test_collect.c: the host collectors against captured /proc trees in
 * tests/data/proc* (good, malformed, empty, fallback, rootfs prefix), files
 * generated on the fly (larger than the stack buffer, over the size limit,
 * hostile load averages), and the live /proc of the machine running the
 * suite; every parser of vg_collect_parsers[] over truncated and garbled
 * copies of its fixture; statvfs through a seam that hangs like a dead NFS
 * server. A recording sink canonicalizes and formats every sample, so tests
 * compare exact series names, labels and values.
 */
#include "config.h" /* _GNU_SOURCE: unshare */

#include "agent/collect/collect.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/series.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "common/banned.h"

#define PROC VG_TEST_DATA "/proc"
#define PROC_BAD VG_TEST_DATA "/proc-bad"
#define PROC_EMPTY VG_TEST_DATA "/proc-empty"

/* --- a sink that records every sample as "name{labels}" = value ---------- */

struct sample {
	char *key;
	double value;
};

struct rec {
	struct sample *v;
	size_t n, cap;
	size_t stop_at;   /* 1-based call that fails, 0 = never */
	int stop_code;
	size_t calls;
};

static int rec_add(void *arg, struct vg_series *s, double value)
{
	struct rec *r = arg;
	struct vg_series c = *s;
	struct vg_buf b = VG_BUF_INIT;

	r->calls++;
	if (r->stop_at != 0 && r->calls == r->stop_at)
		return r->stop_code;
	if (vg_series_canonicalize(&c, NULL) != 0)
		vg_buf_puts(&b, "INVALID:");
	vg_series_format(&c, &b);
	ck_assert(!vg_buf_failed(&b));
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->v = realloc(r->v, r->cap * sizeof(*r->v));
		ck_assert_ptr_nonnull(r->v);
	}
	r->v[r->n].key = vg_buf_detach(&b, NULL);
	r->v[r->n].value = value;
	r->n++;
	return 0;
}

static void rec_free(struct rec *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].key);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

/* The value of the one sample with that exact key; NAN if absent. Fails
 * the test if the key appears twice. */
static double get(const struct rec *r, const char *key)
{
	double v = NAN;
	int seen = 0;

	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->v[i].key, key) == 0) {
			v = r->v[i].value;
			seen++;
		}
	ck_assert_msg(seen <= 1, "%s emitted %d times", key, seen);
	return v;
}

static bool has(const struct rec *r, const char *key)
{
	return !isnan(get(r, key));
}

/* Samples whose key starts with prefix. */
static size_t count(const struct rec *r, const char *prefix)
{
	size_t n = 0, len = strlen(prefix);

	for (size_t i = 0; i < r->n; i++)
		if (strncmp(r->v[i].key, prefix, len) == 0)
			n++;
	return n;
}

static int run(const struct vg_collector *c, const char *proc, const char *rootfs,
	       struct rec *r, struct vg_err *err)
{
	struct vg_collect_env env = { .proc_path = proc, .rootfs_path = rootfs, .clk_tck = 100,
				      .sys_path = VG_TEST_DATA "/sys" };
	struct vg_sample_sink sink = { rec_add, r };

	vg_err_clear(err);
	return c->collect(&env, &sink, err);
}

static int run_textfile(const char *dir, struct rec *r, struct vg_err *err)
{
	struct vg_collect_env env = { .proc_path = PROC, .rootfs_path = "/", .clk_tck = 100,
				      .textfile_dir = dir };
	struct vg_sample_sink sink = { rec_add, r };

	vg_err_clear(err);
	return vg_collector_textfile.collect(&env, &sink, err);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* A fresh directory for the FUSE test (mkdtemp under /tmp). */
static char *fuse_tmpdir(void)
{
	char *d = strdup("/tmp/vg-test-fuse-XXXXXX");

	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

/* Removes what hung_fuse_child made under dir (its mount went with it). */
static void fuse_rmdir(const char *dir)
{
	static const char *const parts[] = { "proc/self/mounts", "proc/self", "proc", "mnt", "" };
	char path[512];

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, parts[i]);
		if (unlink(path) != 0)
			rmdir(path);
	}
}

/* --- temporary /proc trees ------------------------------------------------ */

static char tmp_dir[64];

static const char *tmp_proc(void)
{
	snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/vg-test-collect-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
	return tmp_dir;
}

static void tmp_write(const char *name, const void *p, size_t n)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmp_dir, name);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

static void tmp_write_buf(const char *name, const struct vg_buf *b)
{
	ck_assert(!vg_buf_failed(b));
	tmp_write(name, b->data, b->len);
}

static void tmp_remove(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", tmp_dir, name);
	unlink(path);
}

static void tmp_done(void)
{
	static const char *const names[] = { "stat", "meminfo", "loadavg" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		tmp_remove(names[i]);
	rmdir(tmp_dir);
}

/* --- table and environment ------------------------------------------------- */

START_TEST(test_collectors_table_order)
{
	static const char *const want[] = { "cpu", "meminfo", "filesystem", "loadavg", "filefd", "entropy",
					    "textfile", "stat", "diskstats", "netdev", "netstat", "sockstat",
					    "pressure", "vmstat", "conntrack", "time", "uname" };
	size_t i;

	for (i = 0; vg_collectors[i] != NULL; i++) {
		ck_assert_uint_lt(i, 17);
		ck_assert_str_eq(vg_collectors[i]->name, want[i]);
		ck_assert_ptr_nonnull(vg_collectors[i]->collect);
	}
	ck_assert_uint_eq(i, 17);
}
END_TEST

START_TEST(test_collector_find_by_name)
{
	ck_assert_ptr_eq(vg_collector_find("cpu"), &vg_collector_cpu);
	ck_assert_ptr_eq(vg_collector_find("meminfo"), &vg_collector_meminfo);
	ck_assert_ptr_eq(vg_collector_find("filesystem"), &vg_collector_filesystem);
	ck_assert_ptr_eq(vg_collector_find("loadavg"), &vg_collector_loadavg);
	ck_assert_ptr_null(vg_collector_find("cpus"));
	ck_assert_ptr_null(vg_collector_find(""));
	ck_assert_ptr_null(vg_collector_find(NULL));
}
END_TEST

START_TEST(test_env_default)
{
	struct vg_collect_env env;

	vg_collect_env_default(&env);
	ck_assert_str_eq(env.proc_path, "/proc");
	ck_assert_str_eq(env.rootfs_path, "/");
	ck_assert_int_eq(env.clk_tck, sysconf(_SC_CLK_TCK));
}
END_TEST

START_TEST(test_parse_u64_edges)
{
	uint64_t v = 7;

	ck_assert(vg_collect_parse_u64(vg_str_c("0"), &v) && v == 0);
	ck_assert(vg_collect_parse_u64(vg_str_c("18446744073709551615"), &v) && v == UINT64_MAX);
	ck_assert(vg_collect_parse_u64(vg_str_c("007"), &v) && v == 7);
	ck_assert(!vg_collect_parse_u64(vg_str_c("18446744073709551616"), &v));
	ck_assert(!vg_collect_parse_u64(vg_str_c("99999999999999999999999"), &v));
	ck_assert(!vg_collect_parse_u64(vg_str_c(""), &v));
	ck_assert(!vg_collect_parse_u64(vg_str_c("+1"), &v));
	ck_assert(!vg_collect_parse_u64(vg_str_c("-1"), &v));
	ck_assert(!vg_collect_parse_u64(vg_str_c(" 1"), &v));
	ck_assert(!vg_collect_parse_u64(vg_str_c("1e3"), &v));
	ck_assert_uint_eq(v, 7);
}
END_TEST

START_TEST(test_file_read_missing_names_path)
{
	struct vg_collect_file f;
	struct vg_err err;

	ck_assert_int_eq(vg_collect_file_read(&f, VG_TEST_DATA "/no-such-file", &err), VG_ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, VG_TEST_DATA "/no-such-file"));
	vg_collect_file_release(&f);
}
END_TEST

START_TEST(test_file_read_directory_is_error)
{
	struct vg_collect_file f;
	struct vg_err err;

	ck_assert_int_eq(vg_collect_file_read(&f, VG_TEST_DATA, &err), VG_EIO);
	ck_assert_ptr_nonnull(strstr(err.msg, VG_TEST_DATA));
	vg_collect_file_release(&f);
}
END_TEST

/* A parser that copies the file into the sink's arg (a struct vg_buf). */
static int copy_parse(const struct vg_collect_ctx *ctx, const char *data, size_t len,
		      struct vg_sample_sink *sink, struct vg_err *err)
{
	struct vg_buf *out = sink->arg;

	(void)ctx;
	(void)err;
	vg_buf_reset(out);
	vg_buf_append(out, data, len);
	return 0;
}

static unsigned long long io_rchar(const struct vg_buf *b)
{
	const char *p = strstr((const char *)b->data, "rchar: ");

	ck_assert_ptr_nonnull(p);
	return strtoull(p + 7, NULL, 10);
}

/* A /proc file stays open in the ctx between rounds and each read is
 * generated anew: /proc/self/io's rchar counts the bytes read before. */
START_TEST(test_kept_proc_file_reads_fresh)
{
	struct vg_collect_env env;
	struct vg_collect_ctx *ctx;
	struct vg_buf b = VG_BUF_INIT;
	struct vg_sample_sink sink = { NULL, &b };
	unsigned long long first;
	struct vg_err err;
	int rc;

	ck_assert_int_eq(vg_collect_ctx_new(NULL, &ctx, &err), 0);
	vg_collect_env_default(&env);
	env.ctx = ctx;
	rc = vg_collect_read_parse(&env, "/proc/self", "io", copy_parse, &sink, &err);
	if (rc == VG_ENOENT || rc == VG_EIO) { /* no I/O accounting here */
		vg_collect_ctx_free(ctx);
		vg_buf_release(&b);
		return;
	}
	ck_assert_int_eq(rc, 0);
	first = io_rchar(&b);
	ck_assert_int_ge(vg_collect_ctx_kept_fd(ctx, "/proc/self/io"), 0);
	ck_assert_int_eq(vg_collect_read_parse(&env, "/proc/self", "io", copy_parse, &sink, &err), 0);
	ck_assert_uint_ge(io_rchar(&b), first + 10);
	vg_collect_ctx_free(ctx);
	vg_buf_release(&b);
}
END_TEST

/* A regular file (a fixture, a test's fake /proc) is opened on every
 * read: a file replaced between rounds is read new. */
START_TEST(test_regular_file_not_kept)
{
	char dir[] = "/tmp/vigil-collect-XXXXXX", path[64], tmp[64];
	struct vg_collect_env env;
	struct vg_collect_ctx *ctx;
	struct vg_buf b = VG_BUF_INIT;
	struct vg_sample_sink sink = { NULL, &b };
	struct vg_err err;
	FILE *fp;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	snprintf(tmp, sizeof(tmp), "%s/f.new", dir);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	fputs("one\n", fp);
	fclose(fp);
	ck_assert_int_eq(vg_collect_ctx_new(NULL, &ctx, &err), 0);
	vg_collect_env_default(&env);
	env.ctx = ctx;
	ck_assert_int_eq(vg_collect_read_parse(&env, dir, "f", copy_parse, &sink, &err), 0);
	ck_assert_str_eq((const char *)b.data, "one\n");
	ck_assert_int_eq(vg_collect_ctx_kept_fd(ctx, path), -1);
	ck_assert_ptr_nonnull(fp = fopen(tmp, "w"));
	fputs("two\n", fp);
	fclose(fp);
	ck_assert_int_eq(rename(tmp, path), 0);
	ck_assert_int_eq(vg_collect_read_parse(&env, dir, "f", copy_parse, &sink, &err), 0);
	ck_assert_str_eq((const char *)b.data, "two\n");
	vg_collect_ctx_free(ctx);
	vg_buf_release(&b);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* --- cpu ------------------------------------------------------------------ */

START_TEST(test_cpu_seconds_per_mode)
{
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run(&vg_collector_cpu, PROC, "/", &r, &err), 0);
	ck_assert_double_eq(get(&r, "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"}"), 671.0 / 100);
	ck_assert_double_eq(get(&r, "node_cpu_seconds_total{cpu=\"0\",mode=\"system\"}"), 838.0 / 100);
	ck_assert_double_eq(get(&r, "node_cpu_seconds_total{cpu=\"1\",mode=\"user\"}"), 1777.0 / 100);
	ck_assert_double_eq(get(&r, "node_cpu_seconds_total{cpu=\"1\",mode=\"nice\"}"), 3.0 / 100);
	ck_assert_double_eq(get(&r, "node_cpu_seconds_total{cpu=\"1\",mode=\"system\"}"), 1511.0 / 100);
	ck_assert_double_eq(get(&r, "node_cpu_seconds_total{cpu=\"1\",mode=\"idle\"}"), 52601.0 / 100);
	ck_assert_double_eq(get(&r, "node_cpu_seconds_total{cpu=\"1\",mode=\"iowait\"}"), 550.0 / 100);
	ck_assert_double_eq(get(&r, "node_cpu_seconds_total{cpu=\"1\",mode=\"irq\"}"), 1.0 / 100);
	ck_assert_double_eq(get(&r, "node_cpu_seconds_total{cpu=\"1\",mode=\"softirq\"}"), 47.0 / 100);
	ck_assert_double_eq(get(&r, "node_cpu_seconds_total{cpu=\"1\",mode=\"steal\"}"), 7.0 / 100);
	/* 2 cpus x 8 modes; the aggregate line gives none, guest is no mode. */
	ck_assert_uint_eq(count(&r, "node_cpu_seconds_total{"), 16);
	ck_assert(!has(&r, "node_cpu_seconds_total{cpu=\"1\",mode=\"guest\"}"));
	ck_assert(!has(&r, "node_cpu_seconds_total{mode=\"user\"}"));
	rec_free(&r);
}
END_TEST

START_TEST(test_cpu_guest_is_separate_metric)
{
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run(&vg_collector_cpu, PROC, "/", &r, &err), 0);
	ck_assert_double_eq(get(&r, "node_cpu_guest_seconds_total{cpu=\"1\",mode=\"user\"}"), 11.0 / 100);
	ck_assert_double_eq(get(&r, "node_cpu_guest_seconds_total{cpu=\"1\",mode=\"nice\"}"), 13.0 / 100);
	ck_assert_double_eq(get(&r, "node_cpu_guest_seconds_total{cpu=\"0\",mode=\"user\"}"), 0);
	ck_assert_uint_eq(count(&r, "node_cpu_guest_seconds_total{"), 4);
	rec_free(&r);
}
END_TEST

START_TEST(test_stat_scalars)
{
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run(&vg_collector_cpu, PROC, "/", &r, &err), 0);
	/* 16 + 4 guest: the other lines are the stat collector's. */
	ck_assert_uint_eq(r.n, 20);
	ck_assert(!has(&r, "node_intr_total"));
	rec_free(&r);
	ck_assert_int_eq(run(&vg_collector_stat, PROC, "/", &r, &err), 0);
	ck_assert_double_eq(get(&r, "node_intr_total"), 184693);
	ck_assert_double_eq(get(&r, "node_context_switches_total"), 380456);
	ck_assert_double_eq(get(&r, "node_boot_time_seconds"), 1700000000);
	ck_assert_double_eq(get(&r, "node_forks_total"), 11560);
	ck_assert_double_eq(get(&r, "node_procs_running"), 4);
	ck_assert_double_eq(get(&r, "node_procs_blocked"), 1);
	/* 6 scalars, nothing from the cpu or softirq lines. */
	ck_assert_uint_eq(r.n, 6);
	rec_free(&r);
}
END_TEST

START_TEST(test_cpu_divides_by_clk_tck)
{
	struct vg_collect_env env = { .proc_path = PROC, .rootfs_path = "/", .clk_tck = 250 };
	struct rec r = { 0 };
	struct vg_sample_sink sink = { rec_add, &r };

	ck_assert_int_eq(vg_collector_cpu.collect(&env, &sink, NULL), 0);
	ck_assert_double_eq(get(&r, "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"}"), 54951.0 / 250);
	rec_free(&r);
}
END_TEST

START_TEST(test_cpu_rejects_nonpositive_clk_tck)
{
	struct vg_collect_env env = { .proc_path = PROC, .rootfs_path = "/", .clk_tck = 0 };
	struct rec r = { 0 };
	struct vg_sample_sink sink = { rec_add, &r };
	struct vg_err err;

	ck_assert_int_eq(vg_collector_cpu.collect(&env, &sink, &err), VG_EINVAL);
	ck_assert_uint_eq(r.n, 0);
	env.clk_tck = -100;
	ck_assert_int_eq(vg_collector_cpu.collect(&env, &sink, &err), VG_EINVAL);
	rec_free(&r);
}
END_TEST

START_TEST(test_cpu_skips_malformed_lines)
{
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run(&vg_collector_cpu, PROC_BAD, "/", &r, &err), 0);
	/* Whole lines survive. */
	ck_assert_uint_eq(count(&r, "node_cpu_seconds_total{cpu=\"0\","), 8);
	ck_assert_uint_eq(count(&r, "node_cpu_guest_seconds_total{cpu=\"0\","), 2);
	ck_assert_double_eq(get(&r, "node_cpu_guest_seconds_total{cpu=\"0\",mode=\"nice\"}"), 10);
	/* Truncated, non-numeric, overflowing, negative, bad id: nothing. */
	ck_assert_uint_eq(count(&r, "node_cpu_seconds_total{cpu=\"1\","), 0);
	ck_assert_uint_eq(count(&r, "node_cpu_seconds_total{cpu=\"2\","), 0);
	ck_assert_uint_eq(count(&r, "node_cpu_seconds_total{cpu=\"3\","), 0);
	ck_assert_uint_eq(count(&r, "node_cpu_seconds_total{cpu=\"4\","), 0);
	ck_assert_uint_eq(count(&r, "node_cpu_seconds_total{cpu=\"x\","), 0);
	ck_assert_uint_eq(count(&r, "node_cpu_seconds_total{cpu=\"+7\","), 0);
	ck_assert_uint_eq(count(&r, "node_cpu_seconds_total{cpu=\"12345678901\","), 0);
	/* An old kernel's 4-column line yields those 4 modes. */
	ck_assert_uint_eq(count(&r, "node_cpu_seconds_total{cpu=\"5\","), 4);
	ck_assert_double_eq(get(&r, "node_cpu_seconds_total{cpu=\"5\",mode=\"user\"}"),
			    18446744073709551615.0 / 100);
	/* 8 columns: all modes, no guest. */
	ck_assert_uint_eq(count(&r, "node_cpu_seconds_total{cpu=\"6\","), 8);
	ck_assert_uint_eq(count(&r, "node_cpu_guest_seconds_total{cpu=\"6\","), 0);
	/* Tabs separate fields; columns past guest_nice are ignored. */
	ck_assert_double_eq(get(&r, "node_cpu_seconds_total{cpu=\"7\",mode=\"steal\"}"), 8.0 / 100);
	ck_assert_double_eq(get(&r, "node_cpu_guest_seconds_total{cpu=\"7\",mode=\"nice\"}"),
			    10.0 / 100);
	for (size_t i = 0; i < r.n; i++)
		ck_assert_msg(strncmp(r.v[i].key, "INVALID", 7) != 0, "%s", r.v[i].key);
	rec_free(&r);
	ck_assert_int_eq(run(&vg_collector_stat, PROC_BAD, "/", &r, &err), 0);
	ck_assert(!has(&r, "node_context_switches_total"));
	ck_assert(!has(&r, "node_boot_time_seconds"));
	ck_assert(!has(&r, "node_intr_total"));
	ck_assert(!has(&r, "node_forks_total"));
	ck_assert(!has(&r, "node_procs_blocked"));
	ck_assert_double_eq(get(&r, "node_procs_running"), 7);
	for (size_t i = 0; i < r.n; i++)
		ck_assert_msg(strncmp(r.v[i].key, "INVALID", 7) != 0, "%s", r.v[i].key);
	rec_free(&r);
}
END_TEST

START_TEST(test_cpu_empty_file_is_error)
{
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run(&vg_collector_cpu, PROC_EMPTY, "/", &r, &err), VG_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, PROC_EMPTY "/stat"));
	ck_assert_uint_eq(r.n, 0);
}
END_TEST

START_TEST(test_cpu_missing_file_names_path)
{
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run(&vg_collector_cpu, VG_TEST_DATA "/no-such-proc", "/", &r, &err),
			 VG_ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, VG_TEST_DATA "/no-such-proc/stat"));
	ck_assert_uint_eq(r.n, 0);
}
END_TEST

START_TEST(test_cpu_file_larger_than_stack_buffer)
{
	struct vg_buf b = VG_BUF_INIT;
	struct rec r = { 0 };
	struct vg_err err;

	tmp_proc();
	vg_buf_puts(&b, "cpu  1 2 3 4 5 6 7 8 9 10\n");
	for (int i = 0; i < 2000; i++)
		vg_buf_printf(&b, "cpu%d %d 2 3 4 5 6 7 8 9 10\n", i, i);
	vg_buf_puts(&b, "ctxt 42\n");
	ck_assert_uint_gt(b.len, 3 * VG_COLLECT_STACK_BYTES);
	tmp_write_buf("stat", &b);
	ck_assert_int_eq(run(&vg_collector_cpu, tmp_dir, "/", &r, &err), 0);
	ck_assert_uint_eq(count(&r, "node_cpu_seconds_total{"), 2000 * 8);
	ck_assert_double_eq(get(&r, "node_cpu_seconds_total{cpu=\"1999\",mode=\"user\"}"), 19.99);
	rec_free(&r);
	ck_assert_int_eq(run(&vg_collector_stat, tmp_dir, "/", &r, &err), 0);
	ck_assert_double_eq(get(&r, "node_context_switches_total"), 42);
	tmp_done();
	vg_buf_release(&b);
	rec_free(&r);
}
END_TEST

START_TEST(test_cpu_file_over_limit_is_elimit)
{
	struct vg_buf b = VG_BUF_INIT;
	struct rec r = { 0 };
	struct vg_err err;

	tmp_proc();
	while (b.len <= VG_COLLECT_MAX_FILE_BYTES)
		vg_buf_puts(&b, "cpu0 1 2 3 4 5 6 7 8 9 10\n");
	tmp_write_buf("stat", &b);
	ck_assert_int_eq(run(&vg_collector_cpu, tmp_dir, "/", &r, &err), VG_ELIMIT);
	ck_assert_ptr_nonnull(strstr(err.msg, tmp_dir));
	ck_assert_uint_eq(r.n, 0);
	/* Exactly at the limit is still read. */
	tmp_write("stat", b.data, VG_COLLECT_MAX_FILE_BYTES);
	ck_assert_int_eq(run(&vg_collector_cpu, tmp_dir, "/", &r, &err), 0);
	ck_assert_uint_gt(r.n, 0);
	tmp_done();
	vg_buf_release(&b);
	rec_free(&r);
}
END_TEST

/* --- meminfo ------------------------------------------------------------ */

START_TEST(test_meminfo_kb_to_bytes)
{
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run(&vg_collector_meminfo, PROC, "/", &r, &err), 0);
	ck_assert_double_eq(get(&r, "node_memory_MemTotal_bytes"), 24684084.0 * 1024);
	ck_assert_double_eq(get(&r, "node_memory_MemAvailable_bytes"), 24272668.0 * 1024);
	ck_assert_double_eq(get(&r, "node_memory_SwapTotal_bytes"), 0);
	ck_assert_double_eq(get(&r, "node_memory_VmallocTotal_bytes"), 34359738367.0 * 1024);
	ck_assert_double_eq(get(&r, "node_memory_DirectMap4k_bytes"), 30720.0 * 1024);
	ck_assert_uint_eq(r.n, 26);
	rec_free(&r);
}
END_TEST

START_TEST(test_meminfo_parens_renamed)
{
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run(&vg_collector_meminfo, PROC, "/", &r, &err), 0);
	ck_assert_double_eq(get(&r, "node_memory_Active_anon_bytes"), 1576.0 * 1024);
	ck_assert_double_eq(get(&r, "node_memory_Inactive_anon_bytes"), 11740.0 * 1024);
	ck_assert_double_eq(get(&r, "node_memory_Active_file_bytes"), 128732.0 * 1024);
	ck_assert_double_eq(get(&r, "node_memory_Inactive_file_bytes"), 104192.0 * 1024);
	ck_assert_double_eq(get(&r, "node_memory_Active_bytes"), 130308.0 * 1024);
	rec_free(&r);
}
END_TEST

START_TEST(test_meminfo_no_unit_no_bytes_suffix)
{
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run(&vg_collector_meminfo, PROC, "/", &r, &err), 0);
	ck_assert_double_eq(get(&r, "node_memory_HugePages_Total"), 4);
	ck_assert_double_eq(get(&r, "node_memory_HugePages_Free"), 3);
	ck_assert(!has(&r, "node_memory_HugePages_Total_bytes"));
	ck_assert_double_eq(get(&r, "node_memory_Hugepagesize_bytes"), 2048.0 * 1024);
	rec_free(&r);
}
END_TEST

START_TEST(test_meminfo_skips_malformed_lines)
{
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run(&vg_collector_meminfo, PROC_BAD, "/", &r, &err), 0);
	ck_assert_double_eq(get(&r, "node_memory_MemTotal_bytes"), 1000.0 * 1024);
	/* "()" renames to "_"; no space after the colon is fine. */
	ck_assert_double_eq(get(&r, "node_memory_Empty__bytes"), 6.0 * 1024);
	ck_assert_double_eq(get(&r, "node_memory_NoSpace_bytes"), 8.0 * 1024);
	ck_assert_double_eq(get(&r, "node_memory_HugePages_Free"), 3);
	/* The last line has no newline. */
	ck_assert_double_eq(get(&r, "node_memory_Last_bytes"), 7.0 * 1024);
	/* No colon, empty or invalid name, overflow, MB, no value, extra
	 * field, "(x)(y)" (greedy: "Weird_x)(y"), negative, unclosed paren,
	 * dash: all skipped. */
	ck_assert_uint_eq(r.n, 5);
	for (size_t i = 0; i < r.n; i++)
		ck_assert_msg(strncmp(r.v[i].key, "INVALID", 7) != 0, "%s", r.v[i].key);
	rec_free(&r);
}
END_TEST

START_TEST(test_meminfo_empty_file_is_error)
{
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run(&vg_collector_meminfo, PROC_EMPTY, "/", &r, &err), VG_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, PROC_EMPTY "/meminfo"));
	ck_assert_int_eq(run(&vg_collector_meminfo, VG_TEST_DATA "/no-such-proc", "/", &r, &err),
			 VG_ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, VG_TEST_DATA "/no-such-proc/meminfo"));
	ck_assert_uint_eq(r.n, 0);
}
END_TEST

START_TEST(test_meminfo_overlong_field_name_skipped)
{
	struct vg_buf b = VG_BUF_INIT;
	struct rec r = { 0 };
	struct vg_err err;

	tmp_proc();
	for (int i = 0; i < 300; i++)
		vg_buf_putc(&b, 'A');
	vg_buf_puts(&b, ": 1 kB\nOk: 2 kB\n");
	tmp_write_buf("meminfo", &b);
	ck_assert_int_eq(run(&vg_collector_meminfo, tmp_dir, "/", &r, &err), 0);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_double_eq(get(&r, "node_memory_Ok_bytes"), 2048);
	tmp_done();
	vg_buf_release(&b);
	rec_free(&r);
}
END_TEST

/* --- loadavg -------------------------------------------------------------- */

START_TEST(test_loadavg_values)
{
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run(&vg_collector_loadavg, PROC, "/", &r, &err), 0);
	ck_assert_double_eq(get(&r, "node_load1"), 0.21);
	ck_assert_double_eq(get(&r, "node_load5"), 1.05);
	ck_assert_double_eq(get(&r, "node_load15"), 12.5);
	ck_assert_uint_eq(r.n, 3);
	rec_free(&r);
}
END_TEST

START_TEST(test_loadavg_rejects_malformed)
{
	static const char *const bad[] = {
		"", "\n", "0.21 0.09\n", "0.21 0.09 inf\n", "nan 0.09 0.02\n", "1e3 0.09 0.02\n",
		"-1.00 0.09 0.02\n", ".5 0.09 0.02\n", "5. 0.09 0.02\n", "0x1p3 0.09 0.02\n",
		"0.21 0.09 0.02.1\n", "1234567890123456789 0 0\n", "\n0.21 0.09 0.02\n",
		"0,21 0,09 0,02\n",
	};
	struct rec r = { 0 };
	struct vg_err err;

	tmp_proc();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tmp_write("loadavg", bad[i], strlen(bad[i]));
		ck_assert_msg(run(&vg_collector_loadavg, tmp_dir, "/", &r, &err) == VG_EINVAL,
			      "accepted \"%s\"", bad[i]);
		ck_assert_ptr_nonnull(strstr(err.msg, "/loadavg"));
		ck_assert_uint_eq(r.n, 0);
	}
	/* Without a newline, with tabs, and long but exact fractions. */
	tmp_write("loadavg", "3.5\t0\t100.125", 13);
	ck_assert_int_eq(run(&vg_collector_loadavg, tmp_dir, "/", &r, &err), 0);
	ck_assert_double_eq(get(&r, "node_load1"), 3.5);
	ck_assert_double_eq(get(&r, "node_load5"), 0);
	ck_assert_double_eq(get(&r, "node_load15"), 100.125);
	tmp_done();
	rec_free(&r);
}
END_TEST

START_TEST(test_loadavg_bad_fixture_and_empty)
{
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run(&vg_collector_loadavg, PROC_BAD, "/", &r, &err), VG_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, PROC_BAD "/loadavg"));
	ck_assert_int_eq(run(&vg_collector_loadavg, PROC_EMPTY, "/", &r, &err), VG_EINVAL);
	ck_assert_int_eq(run(&vg_collector_loadavg, VG_TEST_DATA "/no-such-proc", "/", &r, &err),
			 VG_ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, VG_TEST_DATA "/no-such-proc/loadavg"));
	ck_assert_uint_eq(r.n, 0);
}
END_TEST

/* --- filesystem ---------------------------------------------------------- */

START_TEST(test_filesystem_filter_cases)
{
	ck_assert(!vg_filesystem_is_wanted(NULL, "proc", "/proc"));
	ck_assert(!vg_filesystem_is_wanted(NULL, "sysfs", "/sys"));
	ck_assert(!vg_filesystem_is_wanted(NULL, "overlay", "/"));
	ck_assert(!vg_filesystem_is_wanted(NULL, "cgroup", "/mnt/cg"));
	ck_assert(!vg_filesystem_is_wanted(NULL, "cgroup2", "/mnt/cg"));
	ck_assert(!vg_filesystem_is_wanted(NULL, "erofs", "/mnt/x"));
	ck_assert(!vg_filesystem_is_wanted(NULL, "tracefs", "/mnt/x"));
	ck_assert(vg_filesystem_is_wanted(NULL, "tmpfs", "/run"));
	ck_assert(vg_filesystem_is_wanted(NULL, "tmpfs", "/tmp"));
	ck_assert(vg_filesystem_is_wanted(NULL, "ext4", "/home"));
	ck_assert(vg_filesystem_is_wanted(NULL, "ext4", "/"));
	/* Whole names only: "cgroup3" and "proc2" are not in the list. */
	ck_assert(vg_filesystem_is_wanted(NULL, "cgroup3", "/mnt/x"));
	ck_assert(vg_filesystem_is_wanted(NULL, "xproc", "/mnt/x"));
	/* Mount points. */
	ck_assert(!vg_filesystem_is_wanted(NULL, "tmpfs", "/dev/shm"));
	ck_assert(!vg_filesystem_is_wanted(NULL, "tmpfs", "/dev"));
	ck_assert(vg_filesystem_is_wanted(NULL, "ext4", "/devices"));
	ck_assert(!vg_filesystem_is_wanted(NULL, "ext4", "/proc/sys/fs/binfmt_misc"));
	ck_assert(vg_filesystem_is_wanted(NULL, "ext4", "/processing"));
	ck_assert(!vg_filesystem_is_wanted(NULL, "ext4", "/sys/fs/bpf"));
	ck_assert(vg_filesystem_is_wanted(NULL, "ext4", "/system"));
	ck_assert(!vg_filesystem_is_wanted(NULL, "tmpfs", "/run/credentials/x"));
	ck_assert(!vg_filesystem_is_wanted(NULL, "tmpfs", "/run/credentials/getty.service"));
	ck_assert(vg_filesystem_is_wanted(NULL, "tmpfs", "/run/credentials"));
	ck_assert(vg_filesystem_is_wanted(NULL, "tmpfs", "/run/credentials/"));
	ck_assert(!vg_filesystem_is_wanted(NULL, "ext4", "/var/lib/docker/overlay2/x"));
	ck_assert(vg_filesystem_is_wanted(NULL, "ext4", "/var/lib/docker"));
	ck_assert(!vg_filesystem_is_wanted(NULL, "xfs", "/var/lib/containers/storage/overlay/x"));
	ck_assert(vg_filesystem_is_wanted(NULL, "xfs", "/var/lib/containers"));
	ck_assert(!vg_filesystem_is_wanted(NULL, NULL, "/"));
	ck_assert(!vg_filesystem_is_wanted(NULL, "ext4", NULL));
}
END_TEST

START_TEST(test_filesystem_root_statvfs)
{
	struct rec r = { 0 };
	struct vg_err err;
	const char *l = "{device=\"/dev/sda1\",fstype=\"ext4\",mountpoint=\"/\"}";
	char key[256];
	double size, avail, free_bytes;

	ck_assert_int_eq(run(&vg_collector_filesystem, PROC, "/", &r, &err), 0);
	snprintf(key, sizeof(key), "node_filesystem_size_bytes%s", l);
	size = get(&r, key);
	snprintf(key, sizeof(key), "node_filesystem_avail_bytes%s", l);
	avail = get(&r, key);
	snprintf(key, sizeof(key), "node_filesystem_free_bytes%s", l);
	free_bytes = get(&r, key);
	ck_assert(size > 0);
	ck_assert(avail >= 0 && avail <= size);
	ck_assert(free_bytes >= avail && free_bytes <= size);
	snprintf(key, sizeof(key), "node_filesystem_files%s", l);
	ck_assert(has(&r, key));
	snprintf(key, sizeof(key), "node_filesystem_files_free%s", l);
	ck_assert(has(&r, key));
	snprintf(key, sizeof(key), "node_filesystem_readonly%s", l);
	ck_assert(get(&r, key) == 0 || get(&r, key) == 1);
	snprintf(key, sizeof(key), "node_filesystem_device_error%s", l);
	ck_assert_double_eq(get(&r, key), 0);
	rec_free(&r);
}
END_TEST

START_TEST(test_filesystem_filtered_mounts_absent)
{
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run(&vg_collector_filesystem, PROC, "/", &r, &err), 0);
	for (size_t i = 0; i < r.n; i++) {
		const char *k = r.v[i].key;
		ck_assert_msg(strstr(k, "mountpoint=\"/proc\"") == NULL, "%s", k);
		ck_assert_msg(strstr(k, "mountpoint=\"/sys") == NULL, "%s", k);
		ck_assert_msg(strstr(k, "mountpoint=\"/dev") == NULL, "%s", k);
		ck_assert_msg(strstr(k, "/var/lib/docker/") == NULL, "%s", k);
		ck_assert_msg(strstr(k, "/run/credentials/") == NULL, "%s", k);
		ck_assert_msg(strstr(k, "fstype=\"rootfs\"") == NULL, "%s", k);
	}
	/* "/" (7 samples), two failing mounts (1 each). */
	ck_assert_uint_eq(r.n, 9);
	rec_free(&r);
}
END_TEST

START_TEST(test_filesystem_missing_mount_point_device_error)
{
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run(&vg_collector_filesystem, PROC, "/", &r, &err), 0);
	ck_assert_double_eq(get(&r, "node_filesystem_device_error{device=\"/dev/sdb1\","
				    "fstype=\"ext4\",mountpoint=\"/nonexistent-vigil-mount\"}"), 1);
	ck_assert_uint_eq(count(&r, "node_filesystem_size_bytes{device=\"/dev/sdb1\""), 0);
	ck_assert_uint_eq(count(&r, "node_filesystem_readonly{device=\"/dev/sdb1\""), 0);
	rec_free(&r);
}
END_TEST

START_TEST(test_filesystem_octal_escapes_decoded)
{
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run(&vg_collector_filesystem, PROC, "/", &r, &err), 0);
	ck_assert_double_eq(get(&r, "node_filesystem_device_error{device=\"/dev/sdc1\","
				    "fstype=\"xfs\",mountpoint=\"/nonexistent-vigil with space\ttab\"}"),
			    1);
	rec_free(&r);
}
END_TEST

START_TEST(test_filesystem_duplicate_mount_keeps_last)
{
	struct rec r = { 0 };
	struct vg_err err;

	/* "/" is listed as rootfs, then as ext4: the ext4 line (the top mount)
	 * wins. /nonexistent-vigil-covered is tmpfs under overlay: the overlay
	 * is on top and excluded, so the mount point yields nothing. */
	ck_assert_int_eq(run(&vg_collector_filesystem, PROC, "/", &r, &err), 0);
	ck_assert_uint_eq(count(&r, "node_filesystem_size_bytes{"), 1);
	ck_assert(has(&r, "node_filesystem_size_bytes{device=\"/dev/sda1\",fstype=\"ext4\","
			  "mountpoint=\"/\"}"));
	for (size_t i = 0; i < r.n; i++)
		ck_assert_msg(strstr(r.v[i].key, "covered") == NULL, "%s", r.v[i].key);
	rec_free(&r);
}
END_TEST

START_TEST(test_filesystem_falls_back_to_self_mounts)
{
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run(&vg_collector_filesystem, VG_TEST_DATA "/proc-self", "/", &r, &err), 0);
	ck_assert(get(&r, "node_filesystem_size_bytes{device=\"/dev/vda1\",fstype=\"ext4\","
			  "mountpoint=\"/\"}") > 0);
	rec_free(&r);
}
END_TEST

START_TEST(test_filesystem_rootfs_prefix)
{
	struct rec r = { 0 };
	struct vg_err err;
	const char *key = "node_filesystem_device_error{device=\"/dev/sdd1\",fstype=\"ext4\","
			  "mountpoint=\"/proc-self\"}";

	/* statvfs of VG_TEST_DATA "/proc-self" succeeds, with or without a
	 * trailing slash on the root; from "/" it does not exist. */
	ck_assert_int_eq(run(&vg_collector_filesystem, VG_TEST_DATA "/proc-rootfs", VG_TEST_DATA,
			     &r, &err), 0);
	ck_assert_double_eq(get(&r, key), 0);
	rec_free(&r);
	ck_assert_int_eq(run(&vg_collector_filesystem, VG_TEST_DATA "/proc-rootfs",
			     VG_TEST_DATA "//", &r, &err), 0);
	ck_assert_double_eq(get(&r, key), 0);
	rec_free(&r);
	ck_assert_int_eq(run(&vg_collector_filesystem, VG_TEST_DATA "/proc-rootfs", "/", &r, &err),
			 0);
	ck_assert_double_eq(get(&r, key), 1);
	rec_free(&r);
}
END_TEST

START_TEST(test_filesystem_skips_malformed_lines)
{
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run(&vg_collector_filesystem, PROC_BAD, "/", &r, &err), 0);
	ck_assert(has(&r, "node_filesystem_size_bytes{device=\"/dev/sda1\",fstype=\"ext4\","
			  "mountpoint=\"/\"}"));
	/* An invalid escape stays as written; \134 is a backslash; the device
	 * is unescaped too. */
	ck_assert_double_eq(get(&r, "node_filesystem_device_error{device=\"/dev/w\",fstype=\"ext4\","
				    "mountpoint=\"/nonexistent-vigil-bad\\\\08escape\"}"), 1);
	ck_assert_double_eq(get(&r, "node_filesystem_device_error{device=\"/dev/v x\","
				    "fstype=\"ext4\",mountpoint=\"/nonexistent-vigil-octal\\\\back\"}"),
			    1);
	/* Truncated, relative, \000: skipped. */
	for (size_t i = 0; i < r.n; i++) {
		ck_assert_msg(strstr(r.v[i].key, "trunc") == NULL, "%s", r.v[i].key);
		ck_assert_msg(strstr(r.v[i].key, "relative") == NULL, "%s", r.v[i].key);
		ck_assert_msg(strstr(r.v[i].key, "nul") == NULL, "%s", r.v[i].key);
		ck_assert_msg(strstr(r.v[i].key, "/only") == NULL, "%s", r.v[i].key);
	}
	ck_assert_uint_eq(r.n, 7 + 2);
	rec_free(&r);
}
END_TEST

START_TEST(test_filesystem_empty_and_missing_are_errors)
{
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run(&vg_collector_filesystem, PROC_EMPTY, "/", &r, &err), VG_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, PROC_EMPTY "/1/mounts"));
	ck_assert_int_eq(run(&vg_collector_filesystem, VG_TEST_DATA "/no-such-proc", "/", &r, &err),
			 VG_ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, VG_TEST_DATA "/no-such-proc/self/mounts"));
	ck_assert_ptr_nonnull(strstr(err.msg, VG_TEST_DATA "/no-such-proc/1/mounts"));
	ck_assert_uint_eq(r.n, 0);
}
END_TEST

START_TEST(test_filesystem_many_mounts_beyond_stack_entries)
{
	struct vg_buf b = VG_BUF_INIT;
	struct rec r = { 0 };
	struct vg_err err;
	char path[128];

	tmp_proc();
	snprintf(path, sizeof(path), "%s/self", tmp_dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	for (int i = 0; i < 500; i++)
		vg_buf_printf(&b, "/dev/x%d /nonexistent-vigil-%d ext4 rw 0 0\n", i, i % 250);
	vg_buf_puts(&b, "/dev/sda1 / ext4 rw 0 0\n");
	tmp_write_buf("self/mounts", &b);
	ck_assert_int_eq(run(&vg_collector_filesystem, tmp_dir, "/", &r, &err), 0);
	/* 250 distinct failing mount points, each from its last line. */
	ck_assert_uint_eq(count(&r, "node_filesystem_device_error{"), 251);
	ck_assert_double_eq(get(&r, "node_filesystem_device_error{device=\"/dev/x260\","
				    "fstype=\"ext4\",mountpoint=\"/nonexistent-vigil-10\"}"), 1);
	ck_assert(!has(&r, "node_filesystem_device_error{device=\"/dev/x10\","
			   "fstype=\"ext4\",mountpoint=\"/nonexistent-vigil-10\"}"));
	tmp_remove("self/mounts");
	rmdir(path);
	tmp_done();
	vg_buf_release(&b);
	rec_free(&r);
}
END_TEST

/* --- all collectors --------------------------------------------------- */

START_TEST(test_sink_error_stops_collector)
{
	for (size_t i = 0; vg_collectors[i] != NULL; i++) {
		struct rec r = { 0 };
		struct vg_err err;

		r.stop_at = 2;
		r.stop_code = -42;
		if (vg_collectors[i] == &vg_collector_textfile) {
			/* It reads a directory, not /proc. */
			ck_assert_int_eq(run_textfile(VG_TEST_DATA "/textfile-good", &r, &err), -42);
		} else {
			int rc = run(vg_collectors[i], PROC, "/", &r, &err);
			ck_assert_msg(rc == (vg_collectors[i] == &vg_collector_uname ? 0 : -42), "%s: %d %s",
				      vg_collectors[i]->name, rc, err.msg);
		}
		if (vg_collectors[i] == &vg_collector_uname) {
			/* One sample: nothing to refuse second. */
			ck_assert_uint_eq(r.calls, 1);
		} else {
			ck_assert_msg(r.calls == 2, "%s called the sink %zu times", vg_collectors[i]->name,
				      r.calls);
			ck_assert_uint_eq(r.n, 1);
			ck_assert_int_eq(err.code, -42);
		}
		rec_free(&r);
		/* A positive code is passed through as is. */
		r.stop_at = 1;
		r.stop_code = 7;
		if (vg_collectors[i] == &vg_collector_textfile)
			ck_assert_int_eq(run_textfile(VG_TEST_DATA "/textfile-good", &r, &err), 7);
		else
			ck_assert_int_eq(run(vg_collectors[i], PROC, "/", &r, &err), 7);
		ck_assert_uint_eq(r.calls, 1);
		rec_free(&r);
	}
}
END_TEST

START_TEST(test_real_proc_plausible)
{
	struct vg_collect_env env;
	struct rec r = { 0 };
	struct vg_sample_sink sink = { rec_add, &r };
	struct vg_err err;
	double sum = 0, total, avail;

	vg_collect_env_default(&env);
	ck_assert_msg(vg_collector_cpu.collect(&env, &sink, &err) == 0, "%s", err.msg);
	for (size_t i = 0; i < r.n; i++) {
		ck_assert_msg(strncmp(r.v[i].key, "INVALID", 7) != 0, "%s", r.v[i].key);
		if (strncmp(r.v[i].key, "node_cpu_seconds_total{", 23) == 0) {
			ck_assert(r.v[i].value >= 0);
			sum += r.v[i].value;
		}
	}
	ck_assert(sum > 0);
	rec_free(&r);
	ck_assert_msg(vg_collector_stat.collect(&env, &sink, &err) == 0, "%s", err.msg);
	ck_assert(get(&r, "node_boot_time_seconds") > 1e9);
	ck_assert(get(&r, "node_context_switches_total") > 0);
	ck_assert(get(&r, "node_procs_running") >= 1);
	rec_free(&r);

	ck_assert_msg(vg_collector_meminfo.collect(&env, &sink, &err) == 0, "%s", err.msg);
	total = get(&r, "node_memory_MemTotal_bytes");
	avail = get(&r, "node_memory_MemAvailable_bytes");
	ck_assert(total > avail);
	ck_assert(avail > 0);
	for (size_t i = 0; i < r.n; i++)
		ck_assert_msg(strncmp(r.v[i].key, "INVALID", 7) != 0, "%s", r.v[i].key);
	rec_free(&r);

	ck_assert_msg(vg_collector_loadavg.collect(&env, &sink, &err) == 0, "%s", err.msg);
	ck_assert(get(&r, "node_load1") >= 0);
	ck_assert(get(&r, "node_load5") >= 0);
	ck_assert(get(&r, "node_load15") >= 0);
	rec_free(&r);

	ck_assert_msg(vg_collector_filesystem.collect(&env, &sink, &err) == 0, "%s", err.msg);
	for (size_t i = 0; i < r.n; i++)
		ck_assert_msg(strncmp(r.v[i].key, "INVALID", 7) != 0, "%s", r.v[i].key);
	rec_free(&r);
}
END_TEST

/* --- filefd and entropy ---------------------------------------------------- */

START_TEST(test_filefd_fixture_and_bad_files)
{
	struct rec r = { 0 };
	struct vg_err err;
	const char *dir;
	char sub[128];

	ck_assert_int_eq(run(&vg_collector_filefd, PROC, "/", &r, &err), 0);
	ck_assert_double_eq(get(&r, "node_filefd_allocated"), 1390);
	ck_assert_double_eq(get(&r, "node_filefd_maximum"), 2466165);
	ck_assert_uint_eq(r.n, 2);
	rec_free(&r);
	dir = tmp_proc();
	snprintf(sub, sizeof(sub), "%s/sys", dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	snprintf(sub, sizeof(sub), "%s/sys/fs", dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	static const char *const bad[] = { "", "1 2\n", "1 2 x\n", "1 2 3 4\n", "1 2 3\n4\n", "-1 0 5\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tmp_write("sys/fs/file-nr", bad[i], strlen(bad[i]));
		ck_assert_msg(run(&vg_collector_filefd, dir, "/", &r, &err) == VG_EINVAL, "accepted \"%s\"", bad[i]);
		ck_assert_uint_eq(r.n, 0);
		ck_assert_ptr_nonnull(strstr(err.msg, "file-nr"));
		rec_free(&r);
	}
	tmp_remove("sys/fs/file-nr");
	ck_assert_int_eq(run(&vg_collector_filefd, dir, "/", &r, &err), VG_ENOENT);
	rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/sys", dir);
	rmdir(sub);
	tmp_done();
}
END_TEST

START_TEST(test_entropy_fixture_missing_pool_and_bad_file)
{
	struct rec r = { 0 };
	struct vg_err err;
	const char *dir;
	char sub[128];

	ck_assert_int_eq(run(&vg_collector_entropy, PROC, "/", &r, &err), 0);
	ck_assert_double_eq(get(&r, "node_entropy_available_bits"), 256);
	ck_assert_double_eq(get(&r, "node_entropy_pool_size_bits"), 256);
	rec_free(&r);
	dir = tmp_proc();
	static const char *const parts[] = { "sys", "sys/kernel", "sys/kernel/random" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(sub, sizeof(sub), "%s/%s", dir, parts[i]);
		ck_assert_int_eq(mkdir(sub, 0700), 0);
	}
	/* No poolsize (some kernels): the available bits alone. */
	tmp_write("sys/kernel/random/entropy_avail", "3500\n", 5);
	ck_assert_int_eq(run(&vg_collector_entropy, dir, "/", &r, &err), 0);
	ck_assert_double_eq(get(&r, "node_entropy_available_bits"), 3500);
	ck_assert(!has(&r, "node_entropy_pool_size_bits"));
	rec_free(&r);
	tmp_write("sys/kernel/random/entropy_avail", "35 00\n", 6);
	ck_assert_int_eq(run(&vg_collector_entropy, dir, "/", &r, &err), VG_EINVAL);
	ck_assert_uint_eq(r.n, 0);
	rec_free(&r);
	tmp_remove("sys/kernel/random/entropy_avail");
	ck_assert_int_eq(run(&vg_collector_entropy, dir, "/", &r, &err), VG_ENOENT);
	for (size_t i = 3; i > 0; i--) {
		snprintf(sub, sizeof(sub), "%s/%s", dir, parts[i - 1]);
		rmdir(sub);
	}
	tmp_done();
}
END_TEST

/* --- textfile -------------------------------------------------------------- */


START_TEST(test_textfile_reads_good_files_and_skips_bad_ones_whole)
{
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run_textfile(VG_TEST_DATA "/textfile", &r, &err), VG_EINVAL);
	/* The first bad file in name order, with its line. */
	ck_assert_msg(strstr(err.msg, "bad.prom:2:") != NULL, "%s", err.msg);
	ck_assert(get(&r, "app_jobs_total{queue=\"mail\"}") == 17);
	ck_assert(get(&r, "app_jobs_total{queue=\"sms\"}") == 3);
	ck_assert(get(&r, "backup_last_success_seconds") == 1764000000);
	/* Never half-read: not the good line before the bad one either. */
	ck_assert(!has(&r, "ok_metric"));
	ck_assert(!has(&r, "later_metric"));
	/* A client-side timestamp, a cut last line, another extension. */
	ck_assert(!has(&r, "stamped_metric"));
	ck_assert(!has(&r, "cut_metric"));
	ck_assert(!has(&r, "not_read"));
	ck_assert(has(&r, "node_textfile_mtime_seconds{file=\"good.prom\"}"));
	ck_assert(has(&r, "node_textfile_mtime_seconds{file=\"second.prom\"}"));
	ck_assert(!has(&r, "node_textfile_mtime_seconds{file=\"bad.prom\"}"));
	ck_assert(get(&r, "node_textfile_scrape_error") == 1);
	rec_free(&r);
}
END_TEST

START_TEST(test_textfile_clean_dir_missing_dir_and_none)
{
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run_textfile(VG_TEST_DATA "/textfile-good", &r, &err), 0);
	ck_assert(get(&r, "node_textfile_scrape_error") == 0);
	ck_assert_uint_eq(count(&r, "app_jobs_total"), 2);
	rec_free(&r);
	ck_assert_int_eq(run_textfile(VG_TEST_DATA "/no-such-textfile-dir", &r, &err), VG_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "no-such-textfile-dir"));
	ck_assert(get(&r, "node_textfile_scrape_error") == 1);
	rec_free(&r);
	ck_assert_int_eq(run_textfile(NULL, &r, &err), 0);
	ck_assert_uint_eq(r.n, 0);
	rec_free(&r);
}
END_TEST


/* --- the collectors of node_exporter's other host collectors -------------- */

#define PROC_OLD VG_TEST_DATA "/proc-old"

/* Runs c over proc with a ctx built from o (NULL: defaults). */
static int run_ctx(const struct vg_collector *c, const char *proc, const struct vg_collect_options *o,
		   struct rec *r, struct vg_err *err)
{
	struct vg_collect_ctx *ctx;
	struct vg_collect_env env = { .proc_path = proc, .rootfs_path = "/", .clk_tck = 100,
				      .sys_path = VG_TEST_DATA "/sys" };
	struct vg_sample_sink sink = { rec_add, r };
	int rc;

	ck_assert_int_eq(vg_collect_ctx_new(o, &ctx, err), 0);
	env.ctx = ctx;
	vg_err_clear(err);
	rc = c->collect(&env, &sink, err);
	vg_collect_ctx_free(ctx);
	return rc;
}

static void assert_all_valid(const struct rec *r)
{
	for (size_t i = 0; i < r->n; i++)
		ck_assert_msg(strncmp(r->v[i].key, "INVALID", 7) != 0, "%s", r->v[i].key);
}

START_TEST(test_parse_i64_and_decimal_edges)
{
	int64_t v = 3;
	double d = 0;

	ck_assert(vg_collect_parse_i64(vg_str_c("-1"), &v) && v == -1);
	ck_assert(vg_collect_parse_i64(vg_str_c("9223372036854775807"), &v) && v == INT64_MAX);
	ck_assert(vg_collect_parse_i64(vg_str_c("-9223372036854775808"), &v) && v == INT64_MIN);
	ck_assert(!vg_collect_parse_i64(vg_str_c("9223372036854775808"), &v));
	ck_assert(!vg_collect_parse_i64(vg_str_c("-"), &v));
	ck_assert(!vg_collect_parse_i64(vg_str_c("--1"), &v));
	ck_assert(!vg_collect_parse_i64(vg_str_c("+1"), &v));
	ck_assert(vg_collect_parse_decimal(vg_str_c("0.21"), &d) && d == 0.21);
	ck_assert(!vg_collect_parse_decimal(vg_str_c("1e3"), &d));
	ck_assert(vg_collect_parse_one_u64("42\n", 3, (uint64_t *)&v) && v == 42);
	ck_assert(!vg_collect_parse_one_u64("42\n1\n", 5, (uint64_t *)&v));
	ck_assert(!vg_collect_parse_one_u64("", 0, (uint64_t *)&v));
}
END_TEST

START_TEST(test_stat_old_kernel_and_many_cpus)
{
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run(&vg_collector_stat, PROC_OLD, "/", &r, &err), 0);
	ck_assert_double_eq(get(&r, "node_boot_time_seconds"), 1300000000);
	ck_assert_double_eq(get(&r, "node_intr_total"), 5000);
	rec_free(&r);
	ck_assert_int_eq(run(&vg_collector_cpu, PROC_OLD, "/", &r, &err), 0);
	ck_assert_uint_eq(count(&r, "node_cpu_seconds_total{cpu=\"0\","), 4);
	rec_free(&r);
	ck_assert_int_eq(run(&vg_collector_cpu, VG_TEST_DATA "/proc-many-cpus", "/", &r, &err), 0);
	ck_assert_uint_eq(count(&r, "node_cpu_seconds_total{"), 64 * 8);
	ck_assert_uint_eq(count(&r, "node_cpu_guest_seconds_total{"), 64 * 2);
	ck_assert(has(&r, "node_cpu_seconds_total{cpu=\"63\",mode=\"steal\"}"));
	rec_free(&r);
	ck_assert_int_eq(run(&vg_collector_stat, VG_TEST_DATA "/proc-many-cpus", "/", &r, &err), 0);
	ck_assert_double_eq(get(&r, "node_procs_running"), 17);
	ck_assert_uint_eq(r.n, 6);
	rec_free(&r);
}
END_TEST

START_TEST(test_diskstats_fixture_units_and_default_exclude)
{
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run(&vg_collector_diskstats, PROC, "/", &r, &err), 0);
	/* vda: 17 counters, kernel 5.5+; loopN excluded by default. */
	ck_assert_double_eq(get(&r, "node_disk_reads_completed_total{device=\"vda\"}"), 612850);
	ck_assert_double_eq(get(&r, "node_disk_read_bytes_total{device=\"vda\"}"), 12657074.0 * 512);
	ck_assert_double_eq(get(&r, "node_disk_read_time_seconds_total{device=\"vda\"}"), 665.616);
	ck_assert_double_eq(get(&r, "node_disk_written_bytes_total{device=\"vda\"}"), 58362272.0 * 512);
	ck_assert_double_eq(get(&r, "node_disk_io_now{device=\"vda\"}"), 0);
	ck_assert_double_eq(get(&r, "node_disk_io_time_seconds_total{device=\"vda\"}"), 232.312);
	ck_assert_double_eq(get(&r, "node_disk_discarded_sectors_total{device=\"vda\"}"), 54835752);
	ck_assert_double_eq(get(&r, "node_disk_flush_requests_total{device=\"vda\"}"), 220720);
	ck_assert_double_eq(get(&r, "node_disk_flush_requests_time_seconds_total{device=\"vda\"}"), 21.771);
	ck_assert_double_eq(get(&r, "node_disk_info{device=\"vda\",major=\"254\",minor=\"0\"}"), 1);
	ck_assert_uint_eq(count(&r, "node_disk_"), 2 * 18); /* vda and zram0 */
	ck_assert_uint_eq(count(&r, "node_disk_reads_completed_total{device=\"loop"), 0);
	assert_all_valid(&r);
	rec_free(&r);
}
END_TEST

START_TEST(test_diskstats_old_kernels_and_include)
{
	const struct vg_collect_options all = { .disk_include = "." };
	struct rec r = { 0 };
	struct vg_err err;

	/* 11 counters (before 4.18): no discard or flush series. */
	ck_assert_int_eq(run(&vg_collector_diskstats, PROC_OLD, "/", &r, &err), 0);
	ck_assert_double_eq(get(&r, "node_disk_io_time_weighted_seconds_total{device=\"sda\"}"), 11.975);
	ck_assert(!has(&r, "node_disk_discards_completed_total{device=\"sda\"}"));
	ck_assert_uint_eq(count(&r, "node_disk_reads_completed_total{"), 3); /* sda sdb xvda */
	ck_assert(!has(&r, "node_disk_reads_completed_total{device=\"ram0\"}"));
	ck_assert(!has(&r, "node_disk_reads_completed_total{device=\"sda1\"}"));
	rec_free(&r);
	/* A 2.6 partition line has four counters: reads, sectors read,
	 * writes, sectors written. */
	ck_assert_int_eq(run_ctx(&vg_collector_diskstats, PROC_OLD, &all, &r, &err), 0);
	ck_assert_double_eq(get(&r, "node_disk_reads_completed_total{device=\"sda1\"}"), 4000);
	ck_assert_double_eq(get(&r, "node_disk_read_bytes_total{device=\"sda1\"}"), 196000.0 * 512);
	ck_assert_double_eq(get(&r, "node_disk_writes_completed_total{device=\"sda1\"}"), 8000);
	ck_assert_double_eq(get(&r, "node_disk_written_bytes_total{device=\"sda1\"}"), 64000.0 * 512);
	ck_assert_uint_eq(count(&r, "node_disk_reads_completed_total{"), 5);
	rec_free(&r);
}
END_TEST

START_TEST(test_diskstats_garbled_lines_skipped)
{
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run(&vg_collector_diskstats, PROC_BAD, "/", &r, &err), 0);
	/* sda has 19 counters: the 17 known ones are read. */
	ck_assert_uint_eq(count(&r, "node_disk_") , 18 + 12);
	ck_assert_double_eq(get(&r, "node_disk_flush_requests_time_seconds_total{device=\"sda\"}"), 0.017);
	/* nvme0n1 is a disk, nvme0n1p1 a partition (excluded). */
	ck_assert(has(&r, "node_disk_reads_completed_total{device=\"nvme0n1\"}"));
	ck_assert(!has(&r, "node_disk_reads_completed_total{device=\"nvme0n1p1\"}"));
	/* 3 counters, a letter, a bad major, a lone major, an overflow. */
	ck_assert_uint_eq(count(&r, "node_disk_reads_completed_total{device=\"sd"), 1);
	rec_free(&r);
	tmp_proc();
	tmp_write("diskstats", "garbage\n", 8);
	ck_assert_int_eq(run(&vg_collector_diskstats, tmp_dir, "/", &r, &err), VG_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "/diskstats"));
	tmp_remove("diskstats");
	tmp_done();
	rec_free(&r);
}
END_TEST

START_TEST(test_netdev_fixture_old_format_and_garbled)
{
	const struct vg_collect_options with_lo = { .netdev_exclude = "" };
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run(&vg_collector_netdev, PROC, "/", &r, &err), 0);
	ck_assert_double_eq(get(&r, "node_network_receive_bytes_total{device=\"eth0\"}"), 73298455);
	ck_assert_double_eq(get(&r, "node_network_transmit_packets_total{device=\"eth0\"}"), 1269);
	ck_assert(!has(&r, "node_network_receive_bytes_total{device=\"lo\"}"));
	ck_assert_uint_eq(r.n, 3 * 16);
	assert_all_valid(&r);
	rec_free(&r);
	ck_assert_int_eq(run_ctx(&vg_collector_netdev, PROC, &with_lo, &r, &err), 0);
	ck_assert(has(&r, "node_network_receive_bytes_total{device=\"lo\"}"));
	rec_free(&r);
	/* "eth0:1234567": no blank after the colon on old kernels. */
	ck_assert_int_eq(run(&vg_collector_netdev, PROC_OLD, "/", &r, &err), 0);
	ck_assert_double_eq(get(&r, "node_network_receive_bytes_total{device=\"eth0\"}"), 1234567);
	ck_assert_double_eq(get(&r, "node_network_transmit_colls_total{device=\"eth0\"}"), 10);
	ck_assert_double_eq(get(&r, "node_network_transmit_compressed_total{device=\"eth0\"}"), 12);
	rec_free(&r);
	ck_assert_int_eq(run(&vg_collector_netdev, PROC_BAD, "/", &r, &err), 0);
	ck_assert_uint_eq(r.n, 2 * 16); /* eth0 and eth4 */
	ck_assert(has(&r, "node_network_receive_bytes_total{device=\"eth4\"}"));
	rec_free(&r);
}
END_TEST

START_TEST(test_netstat_fixture_default_fields)
{
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run(&vg_collector_netstat, PROC, "/", &r, &err), 0);
	ck_assert_double_eq(get(&r, "node_netstat_Tcp_ActiveOpens"), 2172425);
	ck_assert(has(&r, "node_netstat_Tcp_CurrEstab"));
	ck_assert(has(&r, "node_netstat_TcpExt_ListenDrops"));
	ck_assert(has(&r, "node_netstat_IpExt_InOctets"));
	ck_assert(has(&r, "node_netstat_Ip6_InOctets")); /* from snmp6 */
	ck_assert(has(&r, "node_netstat_Icmp6_InMsgs"));
	ck_assert(has(&r, "node_netstat_UdpLite6_InErrors"));
	ck_assert(!has(&r, "node_netstat_Tcp_MaxConn"));
	ck_assert(!has(&r, "node_netstat_Ip_DefaultTTL"));
	assert_all_valid(&r);
	rec_free(&r);
}
END_TEST

START_TEST(test_netstat_old_kernel_all_fields_and_garbled)
{
	const struct vg_collect_options all = { .netstat_fields = "." };
	struct rec r = { 0 };
	struct vg_err err;

	/* No snmp6 (IPv6 off): the rest is read. MaxConn is -1. */
	ck_assert_int_eq(run_ctx(&vg_collector_netstat, PROC_OLD, &all, &r, &err), 0);
	ck_assert_double_eq(get(&r, "node_netstat_Tcp_MaxConn"), -1);
	ck_assert_double_eq(get(&r, "node_netstat_Udp_InDatagrams"), 300);
	ck_assert_double_eq(get(&r, "node_netstat_IpExt_OutOctets"), 654321);
	ck_assert_double_eq(get(&r, "node_netstat_Icmp_OutErrors"), 0);
	rec_free(&r);
	ck_assert_int_eq(run_ctx(&vg_collector_netstat, PROC_BAD, &all, &r, &err), VG_ENOENT);
	/* netstat pairs: 3 names over 2 values, a names line without its
	 * values, an invalid protocol name, a non-number: skipped; the rest
	 * read. snmp is missing in proc-bad: the error names it. */
	ck_assert_ptr_nonnull(strstr(err.msg, "net/snmp"));
	ck_assert(!has(&r, "node_netstat_TcpExt_ListenDrops"));
	ck_assert_double_eq(get(&r, "node_netstat_IpExt_InOctets"), 100);
	ck_assert_double_eq(get(&r, "node_netstat_Udp_InDatagrams"), 42);
	ck_assert_double_eq(get(&r, "node_netstat_Tcp_CurrEstab"), 3);
	ck_assert(!has(&r, "node_netstat_Tcp_InErrs"));
	ck_assert(!has(&r, "node_netstat_Tcp_ActiveOpens"));
	ck_assert_uint_eq(r.n, 4);
	rec_free(&r);
}
END_TEST

/* a and b hold the same samples, in the same order. */
static void assert_same_recs(const struct rec *a, const struct rec *b)
{
	ck_assert_uint_eq(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		ck_assert_str_eq(a->v[i].key, b->v[i].key);
		ck_assert(memcmp(&a->v[i].value, &b->v[i].value, sizeof(double)) == 0);
	}
}

/* One netstat parser run over data twice on one ctx (the second run from
 * what the first remembered) and once on a fresh ctx: the same samples,
 * return code and message each time. */
static void assert_netstat_cached_same(vg_collect_parse_fn *parse, const struct vg_collect_options *o,
				       struct vg_collect_ctx *ctx, const char *data)
{
	struct vg_collect_ctx *fresh;
	struct rec want = { 0 }, got = { 0 };
	struct vg_sample_sink ws = { rec_add, &want }, gs = { rec_add, &got };
	struct vg_err we, ge;
	int wrc, grc;

	ck_assert_int_eq(vg_collect_ctx_new(o, &fresh, &we), 0);
	vg_err_clear(&we);
	wrc = parse(fresh, data, strlen(data), &ws, &we);
	for (int round = 0; round < 2; round++) {
		vg_err_clear(&ge);
		grc = parse(ctx, data, strlen(data), &gs, &ge);
		ck_assert_msg(grc == wrc, "round %d: %d, fresh %d", round, grc, wrc);
		if (wrc != 0)
			ck_assert_str_eq(ge.msg, we.msg);
		assert_same_recs(&got, &want);
		rec_free(&got);
	}
	rec_free(&want);
	vg_collect_ctx_free(fresh);
}

/* What netstat remembers of each header line (and snmp6 of each line)
 * changes nothing it emits: fixtures round after round, a header that
 * gains or loses a field, kept fields whose values stop being numbers,
 * a values line that loses a field, the filter "." (every field). */
START_TEST(test_netstat_cache_emits_the_same)
{
	static const char *const pairs[] = {
		"Tcp: ActiveOpens PassiveOpens CurrEstab MaxConn\nTcp: 1 2 3 -1\n",
		"Tcp: ActiveOpens PassiveOpens NewField CurrEstab MaxConn\nTcp: 1 2 9 3 -1\n",
		"Tcp: PassiveOpens CurrEstab\nTcp: 2 3\n",
		"Tcp: ActiveOpens PassiveOpens CurrEstab MaxConn\nTcp: x y z -1\n",
		"Tcp: ActiveOpens PassiveOpens CurrEstab MaxConn\nTcp: x y z w\n",
		"Tcp: ActiveOpens PassiveOpens CurrEstab MaxConn\nTcp: 1 2 3\n",
		"Tcp: ActiveOpens PassiveOpens CurrEstab MaxConn\nTcp: 1 2 3 -1\n"
		"Udp: InDatagrams NoPorts\nUdp: 5 6\nIp: Forwarding DefaultTTL\nIp: 1 64\n",
		"Tcp: ActiveOpens PassiveOpens CurrEstab MaxConn\nTcp: 1 2 3 -1\n",
	};
	static const char *const snmp6[] = {
		"Ip6InReceives 10\nIp6InOctets 20\nUdp6InDatagrams 30\n",
		"Ip6InReceives 10\nIp6OutOctets 21\nUdp6InDatagrams 30\n",
		"Ip6InReceives 10\nIp6InOctets x\nUdp6InDatagrams 30 40\n",
		"Ip6InReceives x\nIp6InOctets y\n",
		"Ip6InReceives 1\nIp6InOctets y\n",
		"Ip6InReceives 10\nIp6InOctets 20\nUdp6InDatagrams 30\n",
	};
	const struct vg_collect_options all = { .netstat_fields = "." };
	const struct vg_collect_options *opts[] = { NULL, &all };
	const char *const dirs[] = { PROC, PROC_OLD, PROC_BAD };
	struct vg_collect_file f;
	struct vg_err err;
	char path[4096];

	for (size_t o = 0; o < 2; o++) {
		struct vg_collect_ctx *ctx;
		ck_assert_int_eq(vg_collect_ctx_new(opts[o], &ctx, &err), 0);
		for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
			assert_netstat_cached_same(vg_netstat_parse, opts[o], ctx, pairs[i]);
		for (size_t i = 0; i < sizeof(snmp6) / sizeof(snmp6[0]); i++)
			assert_netstat_cached_same(vg_netstat_snmp6_parse, opts[o], ctx, snmp6[i]);
		for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
			const char *const files[] = { "net/netstat", "net/snmp", "net/snmp6" };
			for (size_t k = 0; k < 3; k++) {
				snprintf(path, sizeof(path), "%s/%s", dirs[d], files[k]);
				if (vg_collect_file_read(&f, path, &err) != 0) {
					vg_collect_file_release(&f);
					continue;
				}
				assert_netstat_cached_same(k == 2 ? vg_netstat_snmp6_parse : vg_netstat_parse, opts[o],
							   ctx, f.data);
				vg_collect_file_release(&f);
			}
		}
		vg_collect_ctx_free(ctx);
	}
}
END_TEST

START_TEST(test_sockstat_fixture_pages_and_garbled)
{
	struct rec r = { 0 };
	struct vg_err err;
	double page = (double)sysconf(_SC_PAGESIZE);

	ck_assert_int_eq(run(&vg_collector_sockstat, PROC, "/", &r, &err), 0);
	ck_assert_double_eq(get(&r, "node_sockstat_sockets_used"), 16);
	ck_assert_double_eq(get(&r, "node_sockstat_TCP_tw"), 3308);
	ck_assert_double_eq(get(&r, "node_sockstat_TCP_mem"), 160);
	ck_assert_double_eq(get(&r, "node_sockstat_TCP_mem_bytes"), 160 * page);
	ck_assert_double_eq(get(&r, "node_sockstat_UDP_mem_bytes"), 0);
	ck_assert(has(&r, "node_sockstat_FRAG_memory"));
	ck_assert(has(&r, "node_sockstat_TCP6_inuse"));
	ck_assert(has(&r, "node_sockstat_FRAG6_inuse"));
	assert_all_valid(&r);
	rec_free(&r);
	/* No sockstat6 on an IPv4-only kernel. */
	ck_assert_int_eq(run(&vg_collector_sockstat, PROC_OLD, "/", &r, &err), 0);
	ck_assert(!has(&r, "node_sockstat_TCP6_inuse"));
	ck_assert_double_eq(get(&r, "node_sockstat_sockets_used"), 130);
	rec_free(&r);
	ck_assert_int_eq(vg_sockstat_parse_pages("TCP: inuse 1 orphan x tw 2 mem 3\nUDP-X: inuse 4\nUDP: inuse\n",
						 59, 4096, &(struct vg_sample_sink){ rec_add, &r }, &err), 0);
	ck_assert_double_eq(get(&r, "node_sockstat_TCP_tw"), 2);
	ck_assert_double_eq(get(&r, "node_sockstat_TCP_mem_bytes"), 3 * 4096);
	ck_assert(!has(&r, "node_sockstat_TCP_orphan"));
	ck_assert_uint_eq(r.n, 4);
	rec_free(&r);
}
END_TEST

START_TEST(test_pressure_fixture_absent_and_garbled)
{
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run(&vg_collector_pressure, PROC, "/", &r, &err), 0);
	ck_assert_double_eq(get(&r, "node_pressure_io_waiting_seconds_total"), 127.066859);
	ck_assert_double_eq(get(&r, "node_pressure_io_stalled_seconds_total"), 56.116094);
	ck_assert(has(&r, "node_pressure_cpu_waiting_seconds_total"));
	ck_assert(has(&r, "node_pressure_memory_waiting_seconds_total"));
	ck_assert(has(&r, "node_pressure_memory_stalled_seconds_total"));
	ck_assert_uint_eq(r.n, 5);
	rec_free(&r);
	/* A kernel without PSI: absent, said with the path. */
	ck_assert_int_eq(run(&vg_collector_pressure, PROC_OLD, "/", &r, &err), VG_ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "pressure/cpu"));
	ck_assert_uint_eq(r.n, 0);
	/* A bad total is skipped; a "full" line without a number is no line. */
	ck_assert_int_eq(run(&vg_collector_pressure, PROC_BAD, "/", &r, &err), VG_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "pressure/memory"));
	ck_assert_double_eq(get(&r, "node_pressure_cpu_waiting_seconds_total"), 2.5);
	ck_assert_double_eq(get(&r, "node_pressure_io_stalled_seconds_total"), 1);
	ck_assert(!has(&r, "node_pressure_io_waiting_seconds_total"));
	rec_free(&r);
}
END_TEST

START_TEST(test_vmstat_default_fields_and_garbled)
{
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run(&vg_collector_vmstat, PROC, "/", &r, &err), 0);
	ck_assert_double_eq(get(&r, "node_vmstat_pgfault"), 574058249);
	ck_assert_double_eq(get(&r, "node_vmstat_oom_kill"), 0);
	ck_assert(has(&r, "node_vmstat_pgpgin"));
	ck_assert(has(&r, "node_vmstat_pswpout"));
	ck_assert(!has(&r, "node_vmstat_nr_free_pages"));
	ck_assert_uint_eq(r.n, 7);
	rec_free(&r);
	ck_assert_int_eq(run(&vg_collector_vmstat, PROC_BAD, "/", &r, &err), 0);
	ck_assert_double_eq(get(&r, "node_vmstat_pgfault"), 10);
	ck_assert_double_eq(get(&r, "node_vmstat_pswpin"), -5);
	ck_assert_uint_eq(r.n, 2);
	rec_free(&r);
}
END_TEST

START_TEST(test_conntrack_fixture_and_absent)
{
	struct rec r = { 0 };
	struct vg_err err;

	ck_assert_int_eq(run(&vg_collector_conntrack, PROC, "/", &r, &err), 0);
	ck_assert_double_eq(get(&r, "node_nf_conntrack_entries"), 0);
	ck_assert_double_eq(get(&r, "node_nf_conntrack_entries_limit"), 262144);
	ck_assert(has(&r, "node_nf_conntrack_stat_found"));
	ck_assert(has(&r, "node_nf_conntrack_stat_search_restart"));
	ck_assert_uint_eq(r.n, 10);
	rec_free(&r);
	ck_assert_int_eq(run(&vg_collector_conntrack, PROC_OLD, "/", &r, &err), VG_ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "nf_conntrack_count"));
	ck_assert_uint_eq(r.n, 0);
	/* Hex counters summed over CPUs; a short CPU line is skipped. */
	static const char table[] = "entries found invalid drop\n0000000a 00000001 0000000f 00000000\n"
				    "00000001 00000002 000000ff 00000010\n00000001 00000002\n";
	ck_assert_int_eq(vg_conntrack_stat_parse(NULL, table, sizeof(table) - 1,
						 &(struct vg_sample_sink){ rec_add, &r }, &err), 0);
	ck_assert_double_eq(get(&r, "node_nf_conntrack_stat_found"), 3);
	ck_assert_double_eq(get(&r, "node_nf_conntrack_stat_invalid"), 270);
	ck_assert_double_eq(get(&r, "node_nf_conntrack_stat_drop"), 16);
	ck_assert_uint_eq(r.n, 3);
	rec_free(&r);
	ck_assert_int_eq(vg_conntrack_stat_parse(NULL, "found\nxyz\n", 10, &(struct vg_sample_sink){ rec_add, &r },
						 &err), VG_EINVAL);
}
END_TEST

START_TEST(test_time_and_uname)
{
	struct rec r = { 0 };
	struct vg_err err;
	struct utsname u;
	char key[1024];
	double now = (double)time(NULL);

	ck_assert_int_eq(run(&vg_collector_time, PROC, "/", &r, &err), 0);
	ck_assert(fabs(get(&r, "node_time_seconds") - now) < 3600);
	ck_assert_uint_eq(count(&r, "node_time_zone_offset_seconds{time_zone="), 1);
	ck_assert_double_eq(get(&r, "node_time_clocksource_current_info{clocksource=\"kvm-clock\",device=\"0\"}"), 1);
	ck_assert_uint_eq(count(&r, "node_time_clocksource_available_info{"), 3);
	assert_all_valid(&r);
	rec_free(&r);
	ck_assert_int_eq(run(&vg_collector_uname, PROC, "/", &r, &err), 0);
	ck_assert_int_eq(uname(&u), 0);
	ck_assert_uint_eq(r.n, 1);
	snprintf(key, sizeof(key), "nodename=\"%s\"", u.nodename);
	ck_assert_ptr_nonnull(strstr(r.v[0].key, key));
	ck_assert_ptr_nonnull(strstr(r.v[0].key, "node_uname_info{domainname="));
	rec_free(&r);
}
END_TEST

START_TEST(test_filters_configured_and_bad_regex)
{
	const struct vg_collect_options o = { .mount_include = "^/$", .fstype_exclude = "^nothing$" };
	const struct vg_collect_options bad = { .vmstat_fields = "(" };
	struct vg_collect_ctx *ctx;
	struct vg_err err;

	ck_assert_int_eq(vg_collect_ctx_new(&o, &ctx, &err), 0);
	ck_assert(vg_filesystem_is_wanted(ctx, "ext4", "/"));
	ck_assert(!vg_filesystem_is_wanted(ctx, "ext4", "/home"));
	ck_assert(vg_filesystem_is_wanted(ctx, "proc", "/")); /* the exclude replaced */
	ck_assert(!vg_collect_wants(ctx, VG_FILTER_NETDEV, "lo", 2));
	ck_assert(vg_collect_wants(ctx, VG_FILTER_NETDEV, "lo0", 3));
	ck_assert(vg_collect_wants(ctx, VG_FILTER_DISK, "sda", 3));
	ck_assert(!vg_collect_wants(ctx, VG_FILTER_DISK, "sda1", 4));
	ck_assert(!vg_collect_wants(ctx, VG_FILTER_DISK, "loop0", 5));
	ck_assert(vg_collect_wants(ctx, VG_FILTER_DISK, "\xff\xfe", 2)); /* not UTF-8: no match, kept */
	vg_collect_ctx_free(ctx);
	ck_assert_int_eq(vg_collect_ctx_new(&bad, &ctx, &err), VG_EINVAL);
	ck_assert_ptr_null(ctx);
	ck_assert_ptr_nonnull(strstr(err.msg, "vmstat fields"));
	ck_assert_int_eq(vg_collect_regex_check("a(", &err), VG_EINVAL);
	ck_assert_int_eq(vg_collect_regex_check("^(sd|vd)[a-z]$", &err), 0);
	ck_assert_int_eq(vg_collect_regex_check(NULL, &err), 0);
}
END_TEST



/* Every collector on this machine's /proc and /sys: 0, or VG_ENOENT for a
 * source this kernel may lack, and only valid series. */
START_TEST(test_real_proc_every_collector)
{
	struct vg_collect_env env;
	struct vg_collect_ctx *ctx;
	struct vg_err err;

	ck_assert_int_eq(vg_collect_ctx_new(NULL, &ctx, &err), 0);
	vg_collect_env_default(&env);
	env.ctx = ctx;
	for (size_t i = 0; vg_collectors[i] != NULL; i++) {
		struct rec r = { 0 };
		struct vg_sample_sink sink = { rec_add, &r };
		const char *name = vg_collectors[i]->name;
		int rc = vg_collectors[i]->collect(&env, &sink, &err);
		bool may_lack = strcmp(name, "pressure") == 0 || strcmp(name, "conntrack") == 0 ||
				strcmp(name, "entropy") == 0;

		ck_assert_msg(rc == 0 || (may_lack && rc == VG_ENOENT), "%s: %d %s", name, rc, err.msg);
		if (rc == 0 && strcmp(name, "textfile") != 0)
			ck_assert_msg(r.n > 0, "%s gave nothing", name);
		assert_all_valid(&r);
		rec_free(&r);
	}
	vg_collect_ctx_free(ctx);
}
END_TEST

/* The built-in default filters mean what node_exporter's regexes mean:
 * both over the names of the fixtures and over edge cases. */
static void same_as_regex(struct vg_collect_ctx *re, enum vg_collect_filter which, const char *name, size_t len)
{
	ck_assert_msg(vg_collect_wants(re, which, name, len) == vg_collect_wants(NULL, which, name, len),
		      "filter %d differs from its regex on \"%.*s\"", (int)which, (int)len, name);
}

static void same_as_regex_over_words(struct vg_collect_ctx *re, enum vg_collect_filter which, const char *path,
				     int field)
{
	struct vg_collect_file f;
	struct vg_err err;
	struct vg_str rest, line, w;

	ck_assert_int_eq(vg_collect_file_read(&f, path, &err), 0);
	rest = (struct vg_str){ f.data, (uint32_t)f.len };
	while (vg_collect_next_line(&rest, &line)) {
		int k = 0;
		while (vg_collect_next_field(&line, &w))
			if (k++ == field)
				same_as_regex(re, which, w.p, w.len);
	}
	vg_collect_file_release(&f);
}

START_TEST(test_builtin_filters_match_their_regexes)
{
	const struct vg_collect_options o = {
		.disk_exclude = VG_COLLECT_DEFAULT_DISK_EXCLUDE, .netdev_exclude = VG_COLLECT_DEFAULT_NETDEV_EXCLUDE,
		.mount_exclude = VG_COLLECT_DEFAULT_MOUNT_EXCLUDE, .fstype_exclude = VG_COLLECT_DEFAULT_FSTYPE_EXCLUDE,
		.netstat_fields = VG_COLLECT_DEFAULT_NETSTAT_FIELDS, .vmstat_fields = VG_COLLECT_DEFAULT_VMSTAT_FIELDS,
	};
	const struct vg_collect_options all = { .netstat_fields = "." };
	static const char *const disks[] = {
		"sda", "sda1", "sdaa1", "hdb12", "vdz3", "xvda1", "xvd1", "nvme0n1", "nvme0n1p1", "nvme10n2p33",
		"nvmen1p1", "nvme0n1p", "ram0", "ram", "zram0", "loop12", "loop", "fd0", "md0", "dm-0", "sr0",
		"mmcblk0p1", "sda1x", "Sda1", "", "1",
	};
	static const char *const mounts[] = {
		"/", "/dev", "/dev/shm", "/devices", "/proc", "/proc/sys", "/processing", "/sys", "/sys/fs/cgroup",
		"/system", "/run", "/run/credentials", "/run/credentials/", "/run/credentials/x", "/var/lib/docker",
		"/var/lib/docker/", "/var/lib/docker/overlay2/x", "/var/lib/containers/storage/o", "/home", "",
	};
	static const char *const fstypes[] = {
		"ext4", "xfs", "tmpfs", "proc", "cgroup", "cgroup2", "cgroup3", "overlay", "overlayfs", "fuse",
		"fusectl", "nfs", "nfs4", "squashfs", "erofs", "", "PROC",
	};
	static const char *const fields[] = {
		"Tcp_InErrs", "Udp_InErrors", "UdpLite6_InErrors", "X_InErrorsY", "InErrors", "_InErrors",
		"TcpExt_Listen", "TcpExt_ListenDrops", "TcpExt_SyncookiesSent", "TcpExt_TCPTimeouts",
		"TcpExt_TCPTimeoutsX", "Ip_Forwarding", "Ip6_Forwarding", "Icmp6_InMsgs", "IcmpMsg_InType3",
		"Udp6_NoPorts", "UdpLite_NoPorts", "oom_kill", "oom_kill_x", "pgpgin", "pswpout", "pgfault",
		"pgmajfault", "pg_fault", "pgfaul", "pfault", "nr_free_pages", "",
	};
	struct vg_collect_ctx *re, *ctx;
	struct vg_err err;
	struct rec r = { 0 };

	ck_assert_int_eq(vg_collect_ctx_new(&o, &re, &err), 0);
	for (size_t i = 0; i < sizeof(disks) / sizeof(disks[0]); i++)
		same_as_regex(re, VG_FILTER_DISK, disks[i], strlen(disks[i]));
	for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++)
		same_as_regex(re, VG_FILTER_MOUNT, mounts[i], strlen(mounts[i]));
	for (size_t i = 0; i < sizeof(fstypes) / sizeof(fstypes[0]); i++)
		same_as_regex(re, VG_FILTER_FSTYPE, fstypes[i], strlen(fstypes[i]));
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		same_as_regex(re, VG_FILTER_NETSTAT, fields[i], strlen(fields[i]));
		same_as_regex(re, VG_FILTER_VMSTAT, fields[i], strlen(fields[i]));
	}
	same_as_regex(re, VG_FILTER_NETDEV, "lo", 2);
	same_as_regex(re, VG_FILTER_NETDEV, "lo0", 3);
	same_as_regex(re, VG_FILTER_NETDEV, "eth0", 4);
	same_as_regex_over_words(re, VG_FILTER_DISK, PROC "/diskstats", 2);
	same_as_regex_over_words(re, VG_FILTER_DISK, PROC_OLD "/diskstats", 2);
	same_as_regex_over_words(re, VG_FILTER_DISK, PROC_BAD "/diskstats", 2);
	same_as_regex_over_words(re, VG_FILTER_VMSTAT, PROC "/vmstat", 0);
	same_as_regex_over_words(re, VG_FILTER_MOUNT, PROC "/1/mounts", 1);
	same_as_regex_over_words(re, VG_FILTER_FSTYPE, PROC "/1/mounts", 2);
	/* Every netstat field of the fixtures, as Proto_Field. */
	ck_assert_int_eq(vg_collect_ctx_new(&all, &ctx, &err), 0);
	{
		struct vg_sample_sink sink = { rec_add, &r };
		const char *files[] = { PROC "/net/netstat", PROC "/net/snmp", PROC "/net/snmp6" };
		for (size_t i = 0; i < 3; i++) {
			struct vg_collect_file f;
			ck_assert_int_eq(vg_collect_file_read(&f, files[i], &err), 0);
			ck_assert_int_eq((i == 2 ? vg_netstat_snmp6_parse : vg_netstat_parse)(ctx, f.data, f.len, &sink, &err), 0);
			vg_collect_file_release(&f);
		}
	}
	ck_assert_uint_gt(r.n, 200);
	for (size_t i = 0; i < r.n; i++)
		same_as_regex(re, VG_FILTER_NETSTAT, r.v[i].key + 13, strlen(r.v[i].key + 13));
	rec_free(&r);
	vg_collect_ctx_free(ctx);
	vg_collect_ctx_free(re);
}
END_TEST

/* Every parser over every prefix of its fixture and over garbled copies:
 * 0 or VG_EINVAL with a message, never a crash, names always valid. */
START_TEST(test_every_parser_truncated_and_garbled)
{
	static const char *const fixture[][2] = {
		{ "cpu", "stat" }, { "stat", "stat" }, { "meminfo", "meminfo" }, { "loadavg", "loadavg" },
		{ "filefd", "sys/fs/file-nr" }, { "entropy", "sys/kernel/random/entropy_avail" },
		{ "diskstats", "diskstats" }, { "netdev", "net/dev" }, { "netstat", "net/netstat" },
		{ "netstat_snmp6", "net/snmp6" }, { "sockstat", "net/sockstat" }, { "sockstat6", "net/sockstat6" },
		{ "pressure_cpu", "pressure/cpu" }, { "pressure_io", "pressure/io" },
		{ "pressure_memory", "pressure/memory" }, { "vmstat", "vmstat" },
		{ "conntrack_stat", "net/stat/nf_conntrack" }, { "filesystem", "1/mounts" },
	};
	struct vg_collect_ctx *ctx;
	struct vg_err err;
	size_t n_parsers = 0;

	ck_assert_int_eq(vg_collect_ctx_new(NULL, &ctx, &err), 0);
	for (; vg_collect_parsers[n_parsers].name; n_parsers++)
		;
	ck_assert_uint_eq(n_parsers, sizeof(fixture) / sizeof(fixture[0]));
	for (size_t i = 0; i < n_parsers; i++) {
		const struct vg_collect_parser *p = &vg_collect_parsers[i];
		struct vg_collect_file f;
		char path[512];
		struct rec r = { 0 };
		struct vg_sample_sink sink = { rec_add, &r };
		char *copy;
		size_t step;

		ck_assert_str_eq(p->name, fixture[i][0]);
		snprintf(path, sizeof(path), "%s/%s", PROC, fixture[i][1]);
		ck_assert_int_eq(vg_collect_file_read(&f, path, &err), 0);
		ck_assert_msg(p->parse(ctx, f.data, f.len, &sink, &err) == 0, "%s: %s", p->name, err.msg);
		ck_assert_msg(r.n > 0, "%s gave nothing for its fixture", p->name);
		rec_free(&r);
		step = f.len > 2000 ? 7 : 1;
		copy = malloc(f.len + 1);
		ck_assert_ptr_nonnull(copy);
		for (size_t cut = 0; cut <= f.len; cut += step) {
			int rc;
			memcpy(copy, f.data, cut);
			vg_err_clear(&err);
			rc = p->parse(ctx, copy, cut, &sink, &err);
			ck_assert_msg(rc == 0 || (rc == VG_EINVAL && err.msg[0]), "%s cut at %zu: %d", p->name, cut, rc);
			rec_free(&r);
		}
		/* Garbled: every 13th byte replaced by a byte from a hostile set. */
		for (int g = 0; g < 8; g++) {
			static const char hostile[] = { '\0', '\n', ':', ' ', '-', '9', '\xff', '(' };
			int rc;
			memcpy(copy, f.data, f.len);
			for (size_t k = (size_t)g; k < f.len; k += 13)
				copy[k] = hostile[(k / 13 + (size_t)g) % sizeof(hostile)];
			vg_err_clear(&err);
			rc = p->parse(ctx, copy, f.len, &sink, &err);
			ck_assert_msg(rc == 0 || (rc == VG_EINVAL && err.msg[0]), "%s garble %d: %d", p->name, g, rc);
			for (size_t k = 0; k < r.n; k++)
				ck_assert_msg(strncmp(r.v[k].key, "INVALID:node_", 13) == 0 ||
						      strncmp(r.v[k].key, "node_", 5) == 0,
					      "%s", r.v[k].key);
			rec_free(&r);
		}
		free(copy);
		vg_collect_file_release(&f);
	}
	vg_collect_ctx_free(ctx);
}
END_TEST

/* --- statvfs on a mount that does not answer -------------------------------- */

/* The seam: statvfs of a path containing "hung" blocks until the test
 * closes hang_pipe's write end; others go to the real statvfs. */
static int hang_pipe[2] = { -1, -1 };
static int hung_calls, hung_returns; /* written by the worker: atomics */

static int load_int(int *p)
{
	return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static int hanging_statvfs(const char *path, struct statvfs *st)
{
	char c;

	if (strstr(path, "hung") == NULL)
		return statvfs(path, st);
	__atomic_add_fetch(&hung_calls, 1, __ATOMIC_SEQ_CST);
	while (read(hang_pipe[0], &c, 1) < 0 && errno == EINTR)
		;
	__atomic_add_fetch(&hung_returns, 1, __ATOMIC_SEQ_CST);
	errno = EIO;
	return -1;
}

START_TEST(test_filesystem_hung_mount_bounded_and_skipped)
{
	const struct vg_collect_options o = { .statvfs_timeout_ms = 200, .statvfs_fn = hanging_statvfs };
	struct vg_collect_ctx *ctx;
	struct vg_collect_env env = { .clk_tck = 100, .rootfs_path = "/" };
	struct rec r = { 0 };
	struct vg_sample_sink sink = { rec_add, &r };
	struct vg_err err;
	char sub[128];
	const char *hung = "node_filesystem_device_error{device=\"srv:/x\",fstype=\"nfs\",mountpoint=\"/hung-nfs\"}";
	static const char mounts[] = "/dev/sda1 / ext4 rw 0 0\nsrv:/x /hung-nfs nfs rw 0 0\n";

	ck_assert_int_eq(pipe(hang_pipe), 0);
	hung_calls = hung_returns = 0;
	tmp_proc();
	snprintf(sub, sizeof(sub), "%s/self", tmp_dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	tmp_write("self/mounts", mounts, sizeof(mounts) - 1);
	env.proc_path = tmp_dir;
	ck_assert_int_eq(vg_collect_ctx_new(&o, &ctx, &err), 0);
	env.ctx = ctx;
	/* Round 1: the hung mount costs the timeout, says device_error, and
	 * "/" is still measured. */
	ck_assert_int_eq(vg_collector_filesystem.collect(&env, &sink, &err), 0);
	ck_assert_double_eq(get(&r, hung), 1);
	ck_assert(get(&r, "node_filesystem_size_bytes{device=\"/dev/sda1\",fstype=\"ext4\",mountpoint=\"/\"}") > 0);
	ck_assert_uint_eq(vg_collect_statvfs_stuck(ctx), 1);
	ck_assert_int_eq(load_int(&hung_calls), 1);
	rec_free(&r);
	/* Round 2: skipped at once, no second call. */
	ck_assert_int_eq(vg_collector_filesystem.collect(&env, &sink, &err), 0);
	ck_assert_double_eq(get(&r, hung), 1);
	ck_assert(has(&r, "node_filesystem_size_bytes{device=\"/dev/sda1\",fstype=\"ext4\",mountpoint=\"/\"}"));
	ck_assert_int_eq(load_int(&hung_calls), 1);
	rec_free(&r);
	/* The server answers: the stuck call returns and the mount is tried
	 * again in the next round. */
	close(hang_pipe[1]);
	for (int i = 0; i < 500 && vg_collect_statvfs_stuck(ctx) != 0; i++)
		sleep_ms(10);
	ck_assert_uint_eq(vg_collect_statvfs_stuck(ctx), 0);
	ck_assert_int_eq(vg_collector_filesystem.collect(&env, &sink, &err), 0);
	ck_assert_int_eq(load_int(&hung_calls), 2);
	ck_assert_double_eq(get(&r, hung), 1); /* it said EIO */
	rec_free(&r);
	vg_collect_ctx_free(ctx);
	close(hang_pipe[0]);
	tmp_remove("self/mounts");
	rmdir(sub);
	tmp_done();
}
END_TEST

START_TEST(test_statvfs_stuck_worker_outlives_ctx)
{
	const struct vg_collect_options o = { .statvfs_timeout_ms = 50, .statvfs_fn = hanging_statvfs };
	struct vg_collect_ctx *ctx;
	struct statvfs st;
	struct vg_err err;

	ck_assert_int_eq(pipe(hang_pipe), 0);
	hung_calls = hung_returns = 0;
	ck_assert_int_eq(vg_collect_ctx_new(&o, &ctx, &err), 0);
	ck_assert_int_eq(vg_collect_statvfs(ctx, "/hung-a", &st, &err), VG_EAGAIN);
	ck_assert_ptr_nonnull(strstr(err.msg, "/hung-a"));
	ck_assert_int_eq(vg_collect_statvfs(ctx, "/hung-a", &st, &err), VG_EAGAIN);
	ck_assert_ptr_nonnull(strstr(err.msg, "has not returned"));
	ck_assert_int_eq(vg_collect_statvfs(ctx, "/", &st, &err), 0);
	ck_assert_int_eq(vg_collect_statvfs(ctx, "/no-such-dir-vigil", &st, &err), VG_EIO);
	/* Freeing does not wait for the stuck call... */
	vg_collect_ctx_free(ctx);
	/* ...which ends on its own when the call returns. */
	close(hang_pipe[1]);
	for (int i = 0; i < 500 && load_int(&hung_returns) != load_int(&hung_calls); i++)
		sleep_ms(10);
	ck_assert_int_eq(load_int(&hung_returns), 1);
	sleep_ms(50); /* the worker's last unlock and free */
	close(hang_pipe[0]);
}
END_TEST

/*
 * A real hung mount: in a child with its own mount namespace (so nobody
 * else ever sees the mount, and it goes with the child), a FUSE file system
 * whose server opened /dev/fuse and never answers: the kernel holds every
 * request, statfs included, until the connection is initialised, as a dead
 * NFS server holds them. The child runs the filesystem collector with the
 * real statvfs; closing the descriptor aborts the connection and frees the
 * stuck call. Skipped (passing) without root, /dev/fuse or namespaces.
 */
static int hung_fuse_child(const char *dir)
{
	char mnt[256], opts[128], procdir[256], mounts_path[300], line[600];
	const struct vg_collect_options o = { .statvfs_timeout_ms = 300 };
	struct vg_collect_ctx *ctx;
	struct vg_collect_env env = { .clk_tck = 100, .rootfs_path = "/" };
	struct rec r = { 0 };
	struct vg_sample_sink sink = { rec_add, &r };
	struct vg_err err;
	char key[512];
	int fd;
	FILE *f;

	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		return 77;
	snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
	snprintf(procdir, sizeof(procdir), "%s/proc", dir);
	if (mkdir(mnt, 0700) != 0 || mkdir(procdir, 0700) != 0)
		return 1;
	snprintf(mounts_path, sizeof(mounts_path), "%s/proc/self", dir);
	if (mkdir(mounts_path, 0700) != 0)
		return 1;
	if ((fd = open("/dev/fuse", O_RDWR | O_CLOEXEC)) < 0)
		return 77;
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0", fd);
	if (mount("vigil-hang", mnt, "fuse", MS_NOSUID | MS_NODEV, opts) != 0)
		return 77;
	snprintf(mounts_path, sizeof(mounts_path), "%s/proc/self/mounts", dir);
	snprintf(line, sizeof(line), "/dev/sda1 / ext4 rw 0 0\nvigil-hang %s fuse rw 0 0\n", mnt);
	if ((f = fopen(mounts_path, "w")) == NULL || fputs(line, f) < 0 || fclose(f) != 0)
		return 2;
	env.proc_path = procdir;
	if (vg_collect_ctx_new(&o, &ctx, &err) != 0)
		return 3;
	env.ctx = ctx;
	snprintf(key, sizeof(key), "node_filesystem_device_error{device=\"vigil-hang\",fstype=\"fuse\",mountpoint=\"%s\"}",
		 mnt);
	for (int round = 0; round < 2; round++) {
		if (vg_collector_filesystem.collect(&env, &sink, &err) != 0)
			return 4;
		if (get(&r, key) != 1 || !has(&r, "node_filesystem_size_bytes{device=\"/dev/sda1\",fstype=\"ext4\","
						     "mountpoint=\"/\"}"))
			return 5;
		if (vg_collect_statvfs_stuck(ctx) != 1)
			return 6;
		rec_free(&r);
	}
	close(fd); /* the server goes: the connection aborts, the call returns */
	for (int i = 0; i < 500 && vg_collect_statvfs_stuck(ctx) != 0; i++)
		sleep_ms(10);
	if (vg_collect_statvfs_stuck(ctx) != 0)
		return 7;
	vg_collect_ctx_free(ctx);
	umount2(mnt, MNT_DETACH);
	return 0;
}

START_TEST(test_filesystem_real_hung_fuse_mount)
{
	char *dir = fuse_tmpdir();
	int status = -1;
	pid_t pid, w = 0;

	if (geteuid() != 0 || access("/dev/fuse", F_OK) != 0) {
		fprintf(stderr, "test_filesystem_real_hung_fuse_mount: skipped (needs root and /dev/fuse)\n");
		free(dir);
		return;
	}
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(hung_fuse_child(dir));
	for (int i = 0; i < 2000 && (w = waitpid(pid, &status, WNOHANG)) == 0; i++)
		sleep_ms(10);
	if (w == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		ck_abort_msg("the collector did not finish within 20 s over a hung FUSE mount");
	}
	ck_assert(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		fprintf(stderr, "test_filesystem_real_hung_fuse_mount: skipped (no mount namespace or FUSE)\n");
	else
		ck_assert_msg(WEXITSTATUS(status) == 0, "child failed at step %d", WEXITSTATUS(status));
	fuse_rmdir(dir);
	free(dir);
}
END_TEST

static Suite *collect_suite(void)
{
	Suite *s = suite_create("collect");
	TCase *tc;

	tc = tcase_create("table");
	tcase_add_test(tc, test_collectors_table_order);
	tcase_add_test(tc, test_collector_find_by_name);
	tcase_add_test(tc, test_env_default);
	tcase_add_test(tc, test_parse_u64_edges);
	tcase_add_test(tc, test_file_read_missing_names_path);
	tcase_add_test(tc, test_file_read_directory_is_error);
	tcase_add_test(tc, test_kept_proc_file_reads_fresh);
	tcase_add_test(tc, test_regular_file_not_kept);
	tcase_add_test(tc, test_sink_error_stops_collector);
	tcase_add_test(tc, test_real_proc_plausible);
	suite_add_tcase(s, tc);

	tc = tcase_create("cpu");
	tcase_add_test(tc, test_cpu_seconds_per_mode);
	tcase_add_test(tc, test_cpu_guest_is_separate_metric);
	tcase_add_test(tc, test_stat_scalars);
	tcase_add_test(tc, test_cpu_divides_by_clk_tck);
	tcase_add_test(tc, test_cpu_rejects_nonpositive_clk_tck);
	tcase_add_test(tc, test_cpu_skips_malformed_lines);
	tcase_add_test(tc, test_cpu_empty_file_is_error);
	tcase_add_test(tc, test_cpu_missing_file_names_path);
	tcase_add_test(tc, test_cpu_file_larger_than_stack_buffer);
	tcase_add_test(tc, test_cpu_file_over_limit_is_elimit);
	suite_add_tcase(s, tc);

	tc = tcase_create("meminfo");
	tcase_add_test(tc, test_meminfo_kb_to_bytes);
	tcase_add_test(tc, test_meminfo_parens_renamed);
	tcase_add_test(tc, test_meminfo_no_unit_no_bytes_suffix);
	tcase_add_test(tc, test_meminfo_skips_malformed_lines);
	tcase_add_test(tc, test_meminfo_empty_file_is_error);
	tcase_add_test(tc, test_meminfo_overlong_field_name_skipped);
	suite_add_tcase(s, tc);

	tc = tcase_create("loadavg");
	tcase_add_test(tc, test_loadavg_values);
	tcase_add_test(tc, test_loadavg_rejects_malformed);
	tcase_add_test(tc, test_loadavg_bad_fixture_and_empty);
	suite_add_tcase(s, tc);

	tc = tcase_create("filesystem");
	tcase_add_test(tc, test_filesystem_filter_cases);
	tcase_add_test(tc, test_filesystem_root_statvfs);
	tcase_add_test(tc, test_filesystem_filtered_mounts_absent);
	tcase_add_test(tc, test_filesystem_missing_mount_point_device_error);
	tcase_add_test(tc, test_filesystem_octal_escapes_decoded);
	tcase_add_test(tc, test_filesystem_duplicate_mount_keeps_last);
	tcase_add_test(tc, test_filesystem_falls_back_to_self_mounts);
	tcase_add_test(tc, test_filesystem_rootfs_prefix);
	tcase_add_test(tc, test_filesystem_skips_malformed_lines);
	tcase_add_test(tc, test_filesystem_empty_and_missing_are_errors);
	tcase_add_test(tc, test_filesystem_many_mounts_beyond_stack_entries);
	tcase_add_test(tc, test_filefd_fixture_and_bad_files);
	tcase_add_test(tc, test_entropy_fixture_missing_pool_and_bad_file);
	tcase_add_test(tc, test_textfile_reads_good_files_and_skips_bad_ones_whole);
	tcase_add_test(tc, test_textfile_clean_dir_missing_dir_and_none);
	tcase_add_test(tc, test_filesystem_hung_mount_bounded_and_skipped);
	tcase_add_test(tc, test_statvfs_stuck_worker_outlives_ctx);
	tcase_add_test(tc, test_filesystem_real_hung_fuse_mount);
	suite_add_tcase(s, tc);

	tc = tcase_create("host");
	tcase_add_test(tc, test_parse_i64_and_decimal_edges);
	tcase_add_test(tc, test_stat_old_kernel_and_many_cpus);
	tcase_add_test(tc, test_diskstats_fixture_units_and_default_exclude);
	tcase_add_test(tc, test_diskstats_old_kernels_and_include);
	tcase_add_test(tc, test_diskstats_garbled_lines_skipped);
	tcase_add_test(tc, test_netdev_fixture_old_format_and_garbled);
	tcase_add_test(tc, test_netstat_fixture_default_fields);
	tcase_add_test(tc, test_netstat_old_kernel_all_fields_and_garbled);
	tcase_add_test(tc, test_netstat_cache_emits_the_same);
	tcase_add_test(tc, test_sockstat_fixture_pages_and_garbled);
	tcase_add_test(tc, test_pressure_fixture_absent_and_garbled);
	tcase_add_test(tc, test_vmstat_default_fields_and_garbled);
	tcase_add_test(tc, test_conntrack_fixture_and_absent);
	tcase_add_test(tc, test_time_and_uname);
	tcase_add_test(tc, test_filters_configured_and_bad_regex);
	tcase_add_test(tc, test_builtin_filters_match_their_regexes);
	tcase_add_test(tc, test_real_proc_every_collector);
	tcase_add_test(tc, test_every_parser_truncated_and_garbled);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(collect_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
