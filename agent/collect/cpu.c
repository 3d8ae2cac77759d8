/*
 * cpu.c: the cpu collector, from <proc>/stat.
 *
 * Owns the parsing of /proc/stat into node_exporter's cpu and stat metrics:
 *   cpuN user nice system idle iowait irq softirq steal guest guest_nice
 *     -> node_cpu_seconds_total{cpu="N",mode="user"|...|"steal"}
 *        node_cpu_guest_seconds_total{cpu="N",mode="user"|"nice"}
 *        (ticks / clk_tck; the kernel already counts guest time inside
 *        user and nice, so guest is a separate metric, not a mode)
 *   intr T ...       -> node_intr_total (T, the first number)
 *   ctxt, btime, processes, procs_running, procs_blocked
 *     -> node_context_switches_total, node_boot_time_seconds,
 *        node_forks_total, node_procs_running, node_procs_blocked
 * The aggregate "cpu " line is skipped: it is the sum of the others.
 *
 * Does not compute rates or utilisation: counters go out as read.
 * Invariants: the content is not trusted; a line that does not parse whole is
 * skipped (no partial cpu line is emitted), older kernels' shorter cpu lines
 * (at least user nice system idle) yield the columns they have; no allocation
 * per line or sample (labels point into the read buffer).
 */
#include "agent/collect/collect.h"
#include "common/err.h"
#include "common/series.h"

#include <limits.h>
#include <string.h>

#include "common/banned.h"

#define CPU_COLUMNS 10
#define CPU_MIN_COLUMNS 4
#define CPU_MODES 8

static const char *const cpu_modes[CPU_MODES] = {
	"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
};
static const char *const guest_modes[CPU_COLUMNS - CPU_MODES] = { "user", "nice" };

/* One-number lines of /proc/stat and their node_exporter names. */
static const struct {
	const char *key;
	const char *metric;
} stat_scalars[] = {
	{ "intr", "node_intr_total" },
	{ "ctxt", "node_context_switches_total" },
	{ "btime", "node_boot_time_seconds" },
	{ "processes", "node_forks_total" },
	{ "procs_running", "node_procs_running" },
	{ "procs_blocked", "node_procs_blocked" },
};

/* The cpu number of "cpuN", or an empty view if key is not one. */
static struct vg_str cpu_id(struct vg_str key)
{
	struct vg_str id = { key.p + 3, key.len - 3 };

	if (key.len < 4 || key.len > 3 + 10 || memcmp(key.p, "cpu", 3) != 0)
		return (struct vg_str){ NULL, 0 };
	for (uint32_t i = 0; i < id.len; i++)
		if (id.p[i] < '0' || id.p[i] > '9')
			return (struct vg_str){ NULL, 0 };
	return id;
}

static int emit_cpu_line(struct vg_str id, struct vg_str rest, double tck,
			 struct vg_sample_sink *sink, bool *is_cpu, struct vg_err *err)
{
	static const struct vg_str cpu_label = { "cpu", 3 }, mode_label = { "mode", 4 };
	uint64_t ticks[CPU_COLUMNS];
	struct vg_series s;
	struct vg_str field;
	unsigned n = 0;
	int rc;

	while (n < CPU_COLUMNS && vg_collect_next_field(&rest, &field))
		if (!vg_collect_parse_u64(field, &ticks[n++]))
			return 0;
	if (n < CPU_MIN_COLUMNS)
		return 0;
	*is_cpu = true;
	for (unsigned i = 0; i < n; i++) {
		bool is_guest = i >= CPU_MODES;
		const char *mode = is_guest ? guest_modes[i - CPU_MODES] : cpu_modes[i];

		vg_series_init(&s, is_guest ? "node_cpu_guest_seconds_total" : "node_cpu_seconds_total");
		vg_series_add_str(&s, cpu_label, id);
		vg_series_add_str(&s, mode_label, vg_str_c(mode));
		rc = vg_collect_emit(sink, &s, (double)ticks[i] / tck, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int emit_scalar_line(struct vg_str key, struct vg_str rest, struct vg_sample_sink *sink,
			    struct vg_err *err)
{
	struct vg_series s;
	struct vg_str field;
	uint64_t v;

	for (size_t i = 0; i < sizeof(stat_scalars) / sizeof(stat_scalars[0]); i++) {
		if (!vg_str_eq_c(key, stat_scalars[i].key))
			continue;
		if (!vg_collect_next_field(&rest, &field) || !vg_collect_parse_u64(field, &v))
			return 0;
		vg_series_init(&s, stat_scalars[i].metric);
		return vg_collect_emit(sink, &s, (double)v, err);
	}
	return 0;
}

static int collect_cpu(const struct vg_collect_env *env, struct vg_sample_sink *sink,
		       struct vg_err *err)
{
	struct vg_collect_file f;
	char path[PATH_MAX];
	struct vg_str rest, line, key, id;
	bool has_cpu = false;
	int rc;

	if (env->clk_tck <= 0)
		return vg_err_set(err, VG_EINVAL, "cpu: clock tick rate %ld is not positive",
				  env->clk_tck);
	rc = vg_collect_path(path, sizeof(path), env->proc_path, "stat", err);
	if (rc != 0)
		return rc;
	rc = vg_collect_file_read(&f, path, err);
	if (rc != 0)
		return rc;
	rest = (struct vg_str){ f.data, (uint32_t)f.len };
	while (vg_collect_next_line(&rest, &line)) {
		if (!vg_collect_next_field(&line, &key))
			continue;
		id = cpu_id(key);
		if (id.len > 0)
			rc = emit_cpu_line(id, line, (double)env->clk_tck, sink, &has_cpu, err);
		else
			rc = emit_scalar_line(key, line, sink, err);
		if (rc != 0)
			goto out;
	}
	if (!has_cpu)
		rc = vg_err_set(err, VG_EINVAL, "%s: no usable per-CPU line", path);
out:
	vg_collect_file_release(&f);
	return rc;
}

const struct vg_collector vg_collector_cpu = { "cpu", collect_cpu };
