/*
 * stat.c: the stat collector, node_exporter's, from <proc>/stat's lines
 * other than the per-CPU ones (cpu.c's):
 *   intr T ...       -> node_intr_total (T, the first number)
 *   ctxt N           -> node_context_switches_total
 *   btime N          -> node_boot_time_seconds
 *   processes N      -> node_forks_total
 *   procs_running N  -> node_procs_running
 *   procs_blocked N  -> node_procs_blocked
 * node_exporter's optional softirq breakdown (--collector.stat.softirq,
 * off by default) is not collected.
 * Invariants: the content is not trusted; a line whose number does not
 * parse is skipped; a file with none of these lines is an error.
 */
#include "agent/collect/collect.h"
#include "common/err.h"
#include "common/series.h"

#include "common/banned.h"

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

int vg_stat_parse(const struct vg_collect_ctx *ctx, const char *data, size_t len,
		  struct vg_sample_sink *sink, struct vg_err *err)
{
	struct vg_str rest = { data, (uint32_t)len }, line, key, field;
	struct vg_series s;
	size_t n_used = 0;
	uint64_t v;
	int rc;

	(void)ctx;
	while (vg_collect_next_line(&rest, &line)) {
		if (!vg_collect_next_field(&line, &key))
			continue;
		for (size_t i = 0; i < sizeof(stat_scalars) / sizeof(stat_scalars[0]); i++) {
			if (!vg_str_eq_c(key, stat_scalars[i].key))
				continue;
			if (!vg_collect_next_field(&line, &field) || !vg_collect_parse_u64(field, &v))
				break;
			vg_series_init(&s, stat_scalars[i].metric);
			if ((rc = vg_collect_emit(sink, &s, (double)v, err)) != 0)
				return rc;
			n_used++;
			break;
		}
	}
	if (n_used == 0)
		return vg_err_set(err, VG_EINVAL, "no intr, ctxt, btime, processes or procs_ line");
	return 0;
}

static int collect_stat(const struct vg_collect_env *env, struct vg_sample_sink *sink,
			struct vg_err *err)
{
	return vg_collect_read_parse(env, env->proc_path, "stat", vg_stat_parse, sink, err);
}

const struct vg_collector vg_collector_stat = { "stat", collect_stat };
