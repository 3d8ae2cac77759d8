/*
 * filefd.c: the filefd collector, node_exporter's, from
 * <proc>/sys/fs/file-nr: "allocated unused maximum", three numbers.
 *   node_filefd_allocated  the first (file handles allocated)
 *   node_filefd_maximum    the third (fs.file-max)
 * Anything but three numbers on one line is an error.
 */
#include "agent/collect/collect.h"
#include "common/err.h"
#include "common/series.h"

#include "common/banned.h"

int vg_filefd_parse(const struct vg_collect_ctx *ctx, const char *data, size_t len,
		    struct vg_sample_sink *sink, struct vg_err *err)
{
	struct vg_str rest = { data, (uint32_t)len }, line = { "", 0 }, field;
	struct vg_series s;
	uint64_t v[3];
	int rc;

	(void)ctx;
	vg_collect_next_line(&rest, &line);
	for (int i = 0; i < 3; i++)
		if (!vg_collect_next_field(&line, &field) || !vg_collect_parse_u64(field, &v[i]))
			return vg_err_set(err, VG_EINVAL, "file-nr: expected three numbers");
	if (vg_collect_next_field(&line, &field) || vg_collect_next_line(&rest, &line))
		return vg_err_set(err, VG_EINVAL, "file-nr: expected three numbers on one line");
	vg_series_init(&s, "node_filefd_allocated");
	if ((rc = vg_collect_emit(sink, &s, (double)v[0], err)) != 0)
		return rc;
	vg_series_init(&s, "node_filefd_maximum");
	return vg_collect_emit(sink, &s, (double)v[2], err);
}

static int collect_filefd(const struct vg_collect_env *env, struct vg_sample_sink *sink, struct vg_err *err)
{
	return vg_collect_read_parse(env, env->proc_path, "sys/fs/file-nr", vg_filefd_parse, sink, err);
}

const struct vg_collector vg_collector_filefd = { "filefd", collect_filefd };
