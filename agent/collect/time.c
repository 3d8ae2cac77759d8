/*
 * time.c: the time collector, node_exporter's:
 *   node_time_seconds                     the wall clock (CLOCK_REALTIME)
 *   node_time_zone_offset_seconds{time_zone}  the local zone's offset from
 *                                         UTC and its abbreviation ("UTC", "CET")
 *   node_time_clocksource_available_info{clocksource,device} 1
 *   node_time_clocksource_current_info{clocksource,device}   1
 *     from <sys>/devices/system/clocksource/clocksourceN/
 *     {available,current}_clocksource (device is N); skipped where sysfs
 *     does not have them (containers).
 * The agent's timestamps are its own; this says what the host's clock
 * reads, so a fleet can alert on clock skew.
 */
#include "config.h"

#include "agent/collect/collect.h"
#include "common/err.h"
#include "common/series.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/banned.h"

/* Every clocksource name in data, as metric{clocksource,device}. */
static int emit_sources(const char *data, size_t len, const char *metric, const char *device,
			struct vg_sample_sink *sink, struct vg_err *err)
{
	struct vg_str rest = { data, (uint32_t)len }, line = { "", 0 }, name;
	struct vg_series s;
	int rc;

	vg_collect_next_line(&rest, &line);
	while (vg_collect_next_field(&line, &name)) {
		vg_series_init(&s, metric);
		vg_series_add_str(&s, vg_str_c("clocksource"), name);
		vg_series_add(&s, "device", device);
		if ((rc = vg_collect_emit(sink, &s, 1, err)) != 0)
			return rc;
	}
	return 0;
}

static int collect_clocksources(const struct vg_collect_env *env, struct vg_sample_sink *sink,
				struct vg_err *err)
{
	static const char *const files[2][2] = {
		{ "available_clocksource", "node_time_clocksource_available_info" },
		{ "current_clocksource", "node_time_clocksource_current_info" },
	};
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int rc = 0;

	if (vg_collect_path(dir, sizeof(dir), env->sys_path ? env->sys_path : "/sys",
			    "devices/system/clocksource", err) != 0 ||
	    (d = opendir(dir)) == NULL)
		return 0;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		const char *n = e->d_name + 11;

		if (strncmp(e->d_name, "clocksource", 11) != 0 || *n == '\0' || strspn(n, "0123456789") != strlen(n))
			continue;
		for (int i = 0; i < 2 && rc == 0; i++) {
			struct vg_collect_file f;
			struct vg_err ferr;
			int k = snprintf(path, sizeof(path), "%s/%s/%s", dir, e->d_name, files[i][0]);

			if (k < 0 || (size_t)k >= sizeof(path))
				continue;
			if (vg_collect_file_read(&f, path, &ferr) == 0)
				rc = emit_sources(f.data, f.len, files[i][1], n, sink, err);
			vg_collect_file_release(&f);
		}
	}
	closedir(d);
	return rc;
}

static int collect_time(const struct vg_collect_env *env, struct vg_sample_sink *sink,
			struct vg_err *err)
{
	struct timespec ts;
	struct vg_series s;
	struct tm tm;
	time_t now;
	int rc;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return vg_err_set(err, VG_EIO, "clock_gettime failed");
	vg_series_init(&s, "node_time_seconds");
	if ((rc = vg_collect_emit(sink, &s, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9, err)) != 0)
		return rc;
	now = ts.tv_sec;
	if (localtime_r(&now, &tm) != NULL) {
		vg_series_init(&s, "node_time_zone_offset_seconds");
		vg_series_add(&s, "time_zone", tm.tm_zone ? tm.tm_zone : "");
		if ((rc = vg_collect_emit(sink, &s, (double)tm.tm_gmtoff, err)) != 0)
			return rc;
	}
	return collect_clocksources(env, sink, err);
}

const struct vg_collector vg_collector_time = { "time", collect_time };
