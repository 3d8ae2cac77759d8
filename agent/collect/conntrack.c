/*
 * conntrack.c: the conntrack collector, node_exporter's, where the kernel
 * has netfilter's connection tracking loaded:
 *   <proc>/sys/net/netfilter/nf_conntrack_count -> node_nf_conntrack_entries
 *   <proc>/sys/net/netfilter/nf_conntrack_max   -> node_nf_conntrack_entries_limit
 *   <proc>/net/stat/nf_conntrack, a header line of column names and one
 *   line of hexadecimal counters per CPU, summed over the CPUs:
 *     node_nf_conntrack_stat_{found,invalid,ignore,insert,insert_failed,
 *     drop,early_drop,search_restart}
 * Without the module the files are absent: VG_ENOENT, reported once by
 * the agent. The stat table is optional (older kernels).
 * Invariants: the content is not trusted: a CPU line with a different
 * number of columns than the header, or a field that is not hexadecimal,
 * is skipped whole.
 */
#include "agent/collect/collect.h"
#include "common/err.h"
#include "common/series.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "common/banned.h"

#define MAX_COLUMNS 64

static const char *const stat_columns[] = {
	"found", "invalid", "ignore", "insert", "insert_failed", "drop", "early_drop", "search_restart",
};
#define N_STAT (sizeof(stat_columns) / sizeof(stat_columns[0]))

static bool parse_hex(struct vg_str s, uint64_t *out)
{
	uint64_t v = 0;

	if (s.len == 0 || s.len > 16)
		return false;
	for (uint32_t i = 0; i < s.len; i++) {
		char c = s.p[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return false;
		v = v << 4 | d;
	}
	*out = v;
	return true;
}

int vg_conntrack_stat_parse(const struct vg_collect_ctx *ctx, const char *data, size_t len,
			    struct vg_sample_sink *sink, struct vg_err *err)
{
	struct vg_str rest = { data, (uint32_t)len }, header, line, f;
	int col_of[N_STAT];
	double sum[N_STAT] = { 0 };
	uint64_t v[MAX_COLUMNS];
	unsigned n_cols = 0;
	size_t n_cpus = 0;
	char name[64];
	struct vg_series s;
	int rc;

	(void)ctx;
	for (size_t i = 0; i < N_STAT; i++)
		col_of[i] = -1;
	if (!vg_collect_next_line(&rest, &header))
		return vg_err_set(err, VG_EINVAL, "no header line");
	while (vg_collect_next_field(&header, &f)) {
		if (n_cols == MAX_COLUMNS)
			return vg_err_set(err, VG_EINVAL, "more than %d columns", MAX_COLUMNS);
		for (size_t i = 0; i < N_STAT; i++)
			if (vg_str_eq_c(f, stat_columns[i]) && col_of[i] < 0)
				col_of[i] = (int)n_cols;
		n_cols++;
	}
	while (vg_collect_next_line(&rest, &line)) {
		unsigned n = 0;
		bool is_ok = true;

		while (vg_collect_next_field(&line, &f)) {
			if (n == n_cols || !parse_hex(f, &v[n])) {
				is_ok = false;
				break;
			}
			n++;
		}
		if (!is_ok || n != n_cols || n == 0)
			continue;
		n_cpus++;
		for (size_t i = 0; i < N_STAT; i++)
			if (col_of[i] >= 0)
				sum[i] += (double)v[col_of[i]];
	}
	if (n_cpus == 0)
		return vg_err_set(err, VG_EINVAL, "no usable CPU line");
	for (size_t i = 0; i < N_STAT; i++) {
		if (col_of[i] < 0)
			continue;
		snprintf(name, sizeof(name), "node_nf_conntrack_stat_%s", stat_columns[i]);
		vg_series_init(&s, name);
		if ((rc = vg_collect_emit(sink, &s, sum[i], err)) != 0)
			return rc;
	}
	return 0;
}

/* One number from dir/name, emitted as metric. */
static int emit_number(const struct vg_collect_env *env, const char *name, const char *metric,
		       struct vg_sample_sink *sink, struct vg_err *err)
{
	struct vg_collect_file f;
	char path[PATH_MAX];
	struct vg_series s;
	uint64_t v;
	int rc;

	if ((rc = vg_collect_path(path, sizeof(path), env->proc_path, name, err)) != 0)
		return rc;
	if ((rc = vg_collect_file_read(&f, path, err)) == 0) {
		if (!vg_collect_parse_one_u64(f.data, f.len, &v)) {
			rc = vg_err_set(err, VG_EINVAL, "%s: expected one number", path);
		} else {
			vg_series_init(&s, metric);
			rc = vg_collect_emit(sink, &s, (double)v, err);
		}
	}
	vg_collect_file_release(&f);
	return rc;
}

static int collect_conntrack(const struct vg_collect_env *env, struct vg_sample_sink *sink,
			     struct vg_err *err)
{
	int rc;

	if ((rc = emit_number(env, "sys/net/netfilter/nf_conntrack_count", "node_nf_conntrack_entries", sink,
			      err)) != 0 ||
	    (rc = emit_number(env, "sys/net/netfilter/nf_conntrack_max", "node_nf_conntrack_entries_limit",
			      sink, err)) != 0)
		return rc;
	rc = vg_collect_read_parse(env, env->proc_path, "net/stat/nf_conntrack", vg_conntrack_stat_parse, sink,
				   err);
	return rc == VG_ENOENT ? 0 : rc;
}

const struct vg_collector vg_collector_conntrack = { "conntrack", collect_conntrack };
