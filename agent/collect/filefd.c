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

#include <limits.h>

#include "common/banned.h"

static int collect_filefd(const struct vg_collect_env *env, struct vg_sample_sink *sink, struct vg_err *err)
{
	struct vg_collect_file f;
	char path[PATH_MAX];
	struct vg_str rest, line = { "", 0 }, field;
	struct vg_series s;
	uint64_t v[3];
	int rc;

	if ((rc = vg_collect_path(path, sizeof(path), env->proc_path, "sys/fs/file-nr", err)) != 0)
		return rc;
	if ((rc = vg_collect_file_read(&f, path, err)) != 0)
		goto out;
	rest = (struct vg_str){ f.data, (uint32_t)f.len };
	vg_collect_next_line(&rest, &line);
	for (int i = 0; i < 3; i++)
		if (!vg_collect_next_field(&line, &field) || !vg_collect_parse_u64(field, &v[i])) {
			rc = vg_err_set(err, VG_EINVAL, "%s: expected three numbers", path);
			goto out;
		}
	if (vg_collect_next_field(&line, &field) || vg_collect_next_line(&rest, &line)) {
		rc = vg_err_set(err, VG_EINVAL, "%s: expected three numbers on one line", path);
		goto out;
	}
	vg_series_init(&s, "node_filefd_allocated");
	if ((rc = vg_collect_emit(sink, &s, (double)v[0], err)) != 0)
		goto out;
	vg_series_init(&s, "node_filefd_maximum");
	rc = vg_collect_emit(sink, &s, (double)v[2], err);
out:
	vg_collect_file_release(&f);
	return rc;
}

const struct vg_collector vg_collector_filefd = { "filefd", collect_filefd };
