/*
 * cpu.c: the cpu collector, from <proc>/stat.
 *
 * Owns the parsing of /proc/stat's per-CPU lines into node_exporter's cpu
 * metrics (the other lines are stat.c's):
 *   cpuN user nice system idle iowait irq softirq steal guest guest_nice
 *     -> node_cpu_seconds_total{cpu="N",mode="user"|...|"steal"}
 *        node_cpu_guest_seconds_total{cpu="N",mode="user"|"nice"}
 *        (ticks / clk_tck; the kernel already counts guest time inside
 *        user and nice, so guest is a separate metric, not a mode)
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

int vg_cpu_parse_ticks(const char *data, size_t len, double tck, struct vg_sample_sink *sink,
		       struct vg_err *err)
{
	struct vg_str rest = { data, (uint32_t)len }, line, key, id;
	bool has_cpu = false;
	int rc;

	if (!(tck > 0))
		return vg_err_set(err, VG_EINVAL, "cpu: clock tick rate %g is not positive", tck);
	while (vg_collect_next_line(&rest, &line)) {
		if (!vg_collect_next_field(&line, &key))
			continue;
		id = cpu_id(key);
		if (id.len > 0 && (rc = emit_cpu_line(id, line, tck, sink, &has_cpu, err)) != 0)
			return rc;
	}
	if (!has_cpu)
		return vg_err_set(err, VG_EINVAL, "no usable per-CPU line");
	return 0;
}

/* The tick rate travels through the env, which the parser signature does
 * not carry: the collector reads the file itself. */
static int collect_cpu(const struct vg_collect_env *env, struct vg_sample_sink *sink,
		       struct vg_err *err)
{
	struct vg_collect_file f;
	char path[PATH_MAX];
	int rc;

	if (env->clk_tck <= 0)
		return vg_err_set(err, VG_EINVAL, "cpu: clock tick rate %ld is not positive",
				  env->clk_tck);
	if ((rc = vg_collect_path(path, sizeof(path), env->proc_path, "stat", err)) != 0)
		return rc;
	if ((rc = vg_collect_file_read(&f, path, err)) == 0) {
		rc = vg_cpu_parse_ticks(f.data, f.len, (double)env->clk_tck, sink, err);
		if (rc == VG_EINVAL)
			vg_err_prefix(err, "%s", path);
	}
	vg_collect_file_release(&f);
	return rc;
}

const struct vg_collector vg_collector_cpu = { "cpu", collect_cpu };
