/*
 * fuzz_proc.c: libFuzzer target for the agent's /proc parsers (the
 * collectors of agent/collect/collect.h and the helpers of agent/collect/collect.c).
 *
 * The first input byte, when not 0, makes the sink refuse its Nth sample of
 * each collector (the collector must stop and pass the code up). The rest
 * is cut on "\n#####\n" into the contents of stat, meminfo, loadavg and
 * 1/mounts, written into a fresh temporary directory that is both
 * env.proc_path and env.rootfs_path (files missing from the input are not
 * written, so the missing-file and self/mounts fallback paths run too).
 * Every collector runs with a sink that checks what collect.h and the
 * collectors' header comments promise: node_exporter metric names that are
 * valid Prometheus names, the label names each collector uses, label values
 * without NUL bytes (cpu numbers in digits, modes from the kernel's list,
 * absolute mount points), finite values >= 0, one group of series per
 * mount point (the seven metrics in order, or device_error = 1 alone);
 * series of cpu, meminfo and loadavg canonicalize (filesystem labels come
 * from the file and may be invalid UTF-8: the agent's sink drops those),
 * and a canonical series' key parses back. A failing collector must leave
 * a message.
 *
 * Mount points are statvfs'ed under rootfs_path: the mounts part is
 * rewritten so no mount point decodes to a ".." (each "\056" escape, a '.',
 * becomes "\137", '_', and a '.' right after a '.' becomes '_'), so every
 * statvfs stays inside the temporary directory.
 * tests/fuzz/replay.c replays the corpus (tests/fuzz/corpus/proc/) in
 * `make check`.
 */
#include "config.h" /* _GNU_SOURCE, before any system header: memmem */

#include "agent/collect/collect.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/series.h"

#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEP "\n#####\n"
#define SEP_LEN 7
#define N_FILES 4

static const char *const file_names[N_FILES] = { "stat", "meminfo", "loadavg", "1/mounts" };

static const char *const modes[] = {
	"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
};

static const char *const fs_metrics[] = {
	"node_filesystem_size_bytes", "node_filesystem_free_bytes",
	"node_filesystem_avail_bytes", "node_filesystem_files",
	"node_filesystem_files_free", "node_filesystem_readonly",
	"node_filesystem_device_error",
};
#define N_FS_METRICS 7

static const char *const cpu_scalars[] = {
	"node_intr_total", "node_context_switches_total", "node_boot_time_seconds",
	"node_forks_total", "node_procs_running", "node_procs_blocked",
};

static const char *const load_metrics[] = { "node_load1", "node_load5", "node_load15" };
static const char *const filefd_metrics[] = { "node_filefd_allocated", "node_filefd_maximum" };
static const char *const entropy_metrics[] = { "node_entropy_available_bits", "node_entropy_pool_size_bits" };

#define SINK_STOP VG_EPROTO

struct sink_state {
	const char *collector;
	uint64_t samples;     /* of this collector */
	uint64_t refuse_at;   /* the sample to refuse, counting from 1; 0: none */
	struct vg_buf key;
	/* filesystem: a mount point's series come as one group, all seven
	 * metrics in order or device_error alone, and no mount point twice. */
	int fs_next;          /* index in fs_metrics expected next; 0: a new group */
	uint64_t fs_mount;    /* hash of the current group's mount point */
	struct vg_buf fs_seen; /* hashes of the mount points seen, uint64_t */
};

/* dir/name into out; a path that does not fit aborts the run. */
static void join_path(char *out, size_t size, const char *dir, const char *name)
{
	int n = snprintf(out, size, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= size)
		abort();
}

static bool str_in(struct vg_str s, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (vg_str_eq_c(s, set[i]))
			return true;
	return false;
}

static bool all_digits(struct vg_str s)
{
	if (s.len == 0)
		return false;
	for (uint32_t i = 0; i < s.len; i++)
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
	return true;
}

static void check_label(const char *collector, const struct vg_label *l)
{
	static const char *const fs_labels[] = { "device", "fstype", "mountpoint" };

	if (!vg_label_name_valid(l->name.p, l->name.len))
		abort();
	if (l->value.len > 0 && (l->value.p == NULL || memchr(l->value.p, '\0', l->value.len) != NULL))
		abort();
	if (strcmp(collector, "cpu") == 0) {
		if (vg_str_eq_c(l->name, "cpu")) {
			if (!all_digits(l->value))
				abort();
		} else if (vg_str_eq_c(l->name, "mode")) {
			if (!str_in(l->value, modes, sizeof(modes) / sizeof(modes[0])))
				abort();
		} else {
			abort();
		}
	} else if (strcmp(collector, "filesystem") == 0) {
		if (!str_in(l->name, fs_labels, 3))
			abort();
		if (vg_str_eq_c(l->name, "mountpoint") && (l->value.len == 0 || l->value.p[0] != '/'))
			abort();
	} else {
		abort(); /* meminfo and loadavg series have no labels */
	}
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The metric names each collector emits, and their label counts. */
static void check_name(const char *collector, const struct vg_series *s)
{
	if (strcmp(collector, "cpu") == 0) {
		if (vg_str_eq_c(s->name, "node_cpu_seconds_total") ||
		    vg_str_eq_c(s->name, "node_cpu_guest_seconds_total")) {
			if (s->n_labels != 2)
				abort();
		} else if (!str_in(s->name, cpu_scalars, COUNT(cpu_scalars)) || s->n_labels != 0) {
			abort();
		}
	} else if (strcmp(collector, "meminfo") == 0) {
		if (s->name.len <= 12 || memcmp(s->name.p, "node_memory_", 12) != 0 || s->n_labels != 0)
			abort();
	} else if (strcmp(collector, "loadavg") == 0) {
		if (!str_in(s->name, load_metrics, COUNT(load_metrics)) || s->n_labels != 0)
			abort();
	} else if (strcmp(collector, "filesystem") == 0) {
		if (!str_in(s->name, fs_metrics, COUNT(fs_metrics)) || s->n_labels != 3)
			abort();
	} else if (strcmp(collector, "filefd") == 0) {
		if (!str_in(s->name, filefd_metrics, COUNT(filefd_metrics)) || s->n_labels != 0)
			abort();
	} else if (strcmp(collector, "entropy") == 0) {
		if (!str_in(s->name, entropy_metrics, COUNT(entropy_metrics)) || s->n_labels != 0)
			abort();
	} else {
		abort();
	}
}

static void check_fs_group(struct sink_state *st, const struct vg_series *s, double value)
{
	const struct vg_str *mp = NULL;
	uint64_t h;
	int idx = 0;

	for (uint32_t i = 0; i < s->n_labels; i++)
		if (vg_str_eq_c(s->labels[i].name, "mountpoint"))
			mp = &s->labels[i].value;
	while (idx < N_FS_METRICS && !vg_str_eq_c(s->name, fs_metrics[idx]))
		idx++;
	if (mp == NULL || idx == N_FS_METRICS)
		abort();
	h = XXH3_64bits(mp->p, mp->len);
	if (st->fs_next == 0) {
		if (idx != 0 && idx != N_FS_METRICS - 1)
			abort();
		vg_buf_append(&st->fs_seen, &h, sizeof(h));
		st->fs_mount = h;
	} else if (idx != st->fs_next || h != st->fs_mount) {
		abort();
	}
	if (idx == N_FS_METRICS - 1) {
		/* 1 alone (statvfs failed), 0 at the end of a full group. */
		if (value != (st->fs_next == 0 ? 1 : 0))
			abort();
		st->fs_next = 0;
	} else {
		if (idx == N_FS_METRICS - 2 && value != 0 && value != 1)
			abort();
		st->fs_next = idx + 1;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* After a filesystem collection: no mount point had two groups, and a
 * collection that was not stopped ended its last group. */
static void check_fs_done(struct sink_state *st, bool is_stopped)
{
	uint64_t *h = (uint64_t *)st->fs_seen.data;
	size_t n = st->fs_seen.len / sizeof(*h);

	if (vg_buf_failed(&st->fs_seen) || (!is_stopped && st->fs_next != 0))
		abort();
	if (n > 1)
		qsort(h, n, sizeof(*h), cmp_u64);
	for (size_t i = 1; i < n; i++)
		if (h[i] == h[i - 1])
			abort();
}

static int check_sample(void *arg, struct vg_series *s, double value)
{
	struct sink_state *st = arg;
	struct vg_series parsed;
	struct vg_err err;
	bool is_fs = strcmp(st->collector, "filesystem") == 0;

	check_name(st->collector, s);

	if (!vg_metric_name_valid(s->name.p, s->name.len) || s->name.len < 5 ||
	    memcmp(s->name.p, "node_", 5) != 0)
		abort();
	if (s->n_labels > (is_fs ? 3u : 2u))
		abort();
	for (uint32_t i = 0; i < s->n_labels; i++)
		check_label(st->collector, &s->labels[i]);
	if (!isfinite(value) || value < 0)
		abort();
	if (is_fs)
		check_fs_group(st, s, value);
	if (vg_series_canonicalize(s, &err) != 0) {
		if (!is_fs || err.msg[0] == '\0')
			abort();
	} else {
		vg_buf_reset(&st->key);
		vg_series_key(s, &st->key);
		if (vg_buf_failed(&st->key) ||
		    vg_series_from_key(st->key.data, st->key.len, &parsed) != 0 ||
		    parsed.n_labels != s->n_labels)
			abort();
	}
	st->samples++;
	if (st->samples == st->refuse_at)
		return SINK_STOP;
	return 0;
}

/* No mount point may decode to a "..": see the header comment. */
static void defuse_dots(uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 4 <= n; i++)
		if (memcmp(p + i, "\\056", 4) == 0)
			memcpy(p + i, "\\137", 4);
	for (size_t i = 1; i < n; i++)
		if (p[i] == '.' && p[i - 1] == '.')
			p[i] = '_';
}

static void write_file(const char *top, const char *name, const uint8_t *p, size_t n)
{
	char path[4200];
	uint8_t *copy = NULL;
	int fd;

	join_path(path, sizeof(path), top, name);
	if (strcmp(name, "1/mounts") == 0) {
		copy = malloc(n + 1);
		if (copy == NULL)
			abort();
		if (n > 0)
			memcpy(copy, p, n);
		defuse_dots(copy, n);
		p = copy;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || (n > 0 && write(fd, p, n) != (ssize_t)n))
		abort();
	close(fd);
	free(copy);
}

static void remove_file(const char *top, const char *name)
{
	char path[4200];

	join_path(path, sizeof(path), top, name);
	if (unlink(path) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd_baseline = -1;
	static struct sink_state st = { NULL, 0, 0, VG_BUF_INIT, 0, 0, VG_BUF_INIT };
	const char *tmp = getenv("TMPDIR");
	const uint8_t *p = data + (size > 0), *end = data + size;
	char top[4096], sub[4200];
	struct vg_collect_env env;
	struct vg_sample_sink sink = { check_sample, &st };
	int n_files = 0, probe;

	if (fd_baseline < 0)
		vg_log_init("fuzz_proc", VG_LOG_ERROR);
	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	join_path(top, sizeof(top), tmp, "vg-fuzz-proc-XXXXXX");
	if (mkdtemp(top) == NULL)
		abort();
	join_path(sub, sizeof(sub), top, "1");
	if (mkdir(sub, 0755) != 0)
		abort();
	while (n_files < N_FILES) {
		const uint8_t *m = n_files + 1 < N_FILES ? memmem(p, (size_t)(end - p), SEP, SEP_LEN) : NULL;
		const uint8_t *stop = m ? m : end;

		write_file(top, file_names[n_files], p, (size_t)(stop - p));
		n_files++;
		if (m == NULL)
			break;
		p = m + SEP_LEN;
	}

	env.proc_path = top;
	env.rootfs_path = top;
	env.clk_tck = 100;
	env.textfile_dir = NULL; /* the textfile collector reads nothing here */
	for (size_t i = 0; vg_collectors[i] != NULL; i++) {
		struct vg_err err;
		int rc;

		st.collector = vg_collectors[i]->name;
		st.samples = 0;
		st.refuse_at = size > 0 ? data[0] : 0;
		st.fs_next = 0;
		vg_buf_reset(&st.fs_seen);
		vg_err_clear(&err);
		rc = vg_collectors[i]->collect(&env, &sink, &err);
		if (rc > 0 || (rc < 0 && err.msg[0] == '\0'))
			abort();
		/* The refused sample is the last one, and its code comes back. */
		if (st.refuse_at != 0 && st.samples >= st.refuse_at) {
			if (rc != SINK_STOP || st.samples != st.refuse_at)
				abort();
		} else if (rc == SINK_STOP) {
			abort();
		}
		if (strcmp(st.collector, "filesystem") == 0)
			check_fs_done(&st, rc == SINK_STOP);
	}

	for (int i = 0; i < n_files; i++)
		remove_file(top, file_names[i]);
	if (rmdir(sub) != 0 || rmdir(top) != 0)
		abort();
	probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (probe < 0)
		abort();
	close(probe);
	if (fd_baseline < 0)
		fd_baseline = probe;
	else if (probe != fd_baseline)
		abort();
	return 0;
}
