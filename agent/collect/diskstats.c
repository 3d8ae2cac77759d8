/*
 * diskstats.c: the diskstats collector, node_exporter's, from
 * <proc>/diskstats. A line is "major minor name" and then the kernel's
 * counters (Documentation/admin-guide/iostats.rst): 11 before 4.18, 15 with
 * the discard counters, 17 with the flush ones since 5.5; a partition line
 * of a kernel before 2.6.25 has 4. Per device, labelled device:
 *   node_disk_reads_completed_total, node_disk_reads_merged_total,
 *   node_disk_read_bytes_total (sectors * 512), node_disk_read_time_seconds_total,
 *   node_disk_writes_completed_total, node_disk_writes_merged_total,
 *   node_disk_written_bytes_total (sectors * 512), node_disk_write_time_seconds_total,
 *   node_disk_io_now, node_disk_io_time_seconds_total,
 *   node_disk_io_time_weighted_seconds_total,
 *   node_disk_discards_completed_total, node_disk_discards_merged_total,
 *   node_disk_discarded_sectors_total (sectors, as node_exporter),
 *   node_disk_discard_time_seconds_total,
 *   node_disk_flush_requests_total, node_disk_flush_requests_time_seconds_total
 *   (times are ms / 1000), and node_disk_info{device,major,minor} 1.
 * The kernel's sector here is always 512 bytes, whatever the device's.
 * node_disk_info's udev labels (model, serial, path, wwn, revision) are not
 * read: udev's database is not /proc.
 *
 * Devices matching the ctx's device filter (node_exporter's default: ram,
 * loop, fd and partitions of hd/sd/vd/xvd/nvme) are skipped.
 * Invariants: the content is not trusted: a line whose counters do not all
 * parse, or whose count is not 4 or at least 11, is skipped whole.
 */
#include "agent/collect/collect.h"
#include "common/err.h"
#include "common/series.h"

#include "common/banned.h"

#define MAX_STATS 17
#define SECTOR_BYTES 512.0

static const struct {
	const char *name;
	double scale;
} disk_fields[MAX_STATS] = {
	{ "node_disk_reads_completed_total", 1 },
	{ "node_disk_reads_merged_total", 1 },
	{ "node_disk_read_bytes_total", SECTOR_BYTES },
	{ "node_disk_read_time_seconds_total", 0.001 },
	{ "node_disk_writes_completed_total", 1 },
	{ "node_disk_writes_merged_total", 1 },
	{ "node_disk_written_bytes_total", SECTOR_BYTES },
	{ "node_disk_write_time_seconds_total", 0.001 },
	{ "node_disk_io_now", 1 },
	{ "node_disk_io_time_seconds_total", 0.001 },
	{ "node_disk_io_time_weighted_seconds_total", 0.001 },
	{ "node_disk_discards_completed_total", 1 },
	{ "node_disk_discards_merged_total", 1 },
	{ "node_disk_discarded_sectors_total", 1 },
	{ "node_disk_discard_time_seconds_total", 0.001 },
	{ "node_disk_flush_requests_total", 1 },
	{ "node_disk_flush_requests_time_seconds_total", 0.001 },
};

/* The old partition line's four counters, as indexes of disk_fields. */
static const unsigned old_partition[4] = { 0, 2, 4, 6 };

int vg_diskstats_parse(const struct vg_collect_ctx *ctx, const char *data, size_t len,
		       struct vg_sample_sink *sink, struct vg_err *err)
{
	static const struct vg_str device = { "device", 6 };
	struct vg_str rest = { data, (uint32_t)len }, line, major, minor, name, field;
	struct vg_series s;
	uint64_t v[MAX_STATS], tmp;
	size_t n_used = 0;
	int rc;

	while (vg_collect_next_line(&rest, &line)) {
		unsigned n = 0;
		bool is_ok = true;

		if (!vg_collect_next_field(&line, &major) || !vg_collect_next_field(&line, &minor) ||
		    !vg_collect_next_field(&line, &name) || !vg_collect_parse_u64(major, &tmp) ||
		    !vg_collect_parse_u64(minor, &tmp))
			continue;
		while (vg_collect_next_field(&line, &field)) {
			if (n == MAX_STATS)
				continue; /* counters a later kernel adds */
			if (!vg_collect_parse_u64(field, &v[n++])) {
				is_ok = false;
				break;
			}
		}
		if (!is_ok || (n != 4 && n < 11))
			continue;
		n_used++;
		if (!vg_collect_wants(ctx, VG_FILTER_DISK, name.p, name.len))
			continue;
		for (unsigned i = 0; i < n; i++) {
			unsigned f = n == 4 ? old_partition[i] : i;
			vg_series_init(&s, disk_fields[f].name);
			vg_series_add_str(&s, device, name);
			if ((rc = vg_collect_emit(sink, &s, (double)v[i] * disk_fields[f].scale, err)) != 0)
				return rc;
		}
		vg_series_init(&s, "node_disk_info");
		vg_series_add_str(&s, device, name);
		vg_series_add_str(&s, vg_str_c("major"), major);
		vg_series_add_str(&s, vg_str_c("minor"), minor);
		if ((rc = vg_collect_emit(sink, &s, 1, err)) != 0)
			return rc;
	}
	if (n_used == 0 && len > 0)
		return vg_err_set(err, VG_EINVAL, "no usable device line");
	return 0;
}

static int collect_diskstats(const struct vg_collect_env *env, struct vg_sample_sink *sink,
			     struct vg_err *err)
{
	return vg_collect_read_parse(env, env->proc_path, "diskstats", vg_diskstats_parse, sink, err);
}

const struct vg_collector vg_collector_diskstats = { "diskstats", collect_diskstats };
