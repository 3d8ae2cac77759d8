/*
 * entropy.c: the entropy collector, node_exporter's, from
 * <proc>/sys/kernel/random/entropy_avail and poolsize, one number each:
 *   node_entropy_available_bits, node_entropy_pool_size_bits
 * The first is required; poolsize is skipped where the kernel lacks it.
 */
#include "agent/collect/collect.h"
#include "common/err.h"
#include "common/series.h"

#include <limits.h>

#include "common/banned.h"

/* One number on one line from <proc>/name. */
static int read_number(const struct vg_collect_env *env, const char *name, uint64_t *v, struct vg_err *err)
{
	struct vg_collect_file f;
	char path[PATH_MAX];
	struct vg_str rest, line = { "", 0 }, field;
	int rc;

	if ((rc = vg_collect_path(path, sizeof(path), env->proc_path, name, err)) != 0)
		return rc;
	if ((rc = vg_collect_file_read(&f, path, err)) == 0) {
		rest = (struct vg_str){ f.data, (uint32_t)f.len };
		vg_collect_next_line(&rest, &line);
		if (!vg_collect_next_field(&line, &field) || !vg_collect_parse_u64(field, v) ||
		    vg_collect_next_field(&line, &field) || vg_collect_next_line(&rest, &line))
			rc = vg_err_set(err, VG_EINVAL, "%s: expected one number", path);
	}
	vg_collect_file_release(&f);
	return rc;
}

static int collect_entropy(const struct vg_collect_env *env, struct vg_sample_sink *sink, struct vg_err *err)
{
	struct vg_series s;
	uint64_t v;
	int rc;

	if ((rc = read_number(env, "sys/kernel/random/entropy_avail", &v, err)) != 0)
		return rc;
	vg_series_init(&s, "node_entropy_available_bits");
	if ((rc = vg_collect_emit(sink, &s, (double)v, err)) != 0)
		return rc;
	if (read_number(env, "sys/kernel/random/poolsize", &v, err) != 0)
		return 0;
	vg_series_init(&s, "node_entropy_pool_size_bits");
	return vg_collect_emit(sink, &s, (double)v, err);
}

const struct vg_collector vg_collector_entropy = { "entropy", collect_entropy };
