/*
 * uname.c: the uname collector, node_exporter's: uname(2) as
 *   node_uname_info{domainname,machine,nodename,release,sysname,version} 1
 * (the kernel's own strings; domainname is "(none)" when unset). A value
 * that is not valid UTF-8 makes the agent's sink drop the series.
 */
#include "config.h"

#include "agent/collect/collect.h"
#include "common/err.h"
#include "common/series.h"

#include <errno.h>
#include <string.h>
#include <sys/utsname.h>

#include "common/banned.h"

static int collect_uname(const struct vg_collect_env *env, struct vg_sample_sink *sink,
			 struct vg_err *err)
{
	struct utsname u;
	struct vg_series s;

	(void)env;
	if (uname(&u) != 0)
		return vg_err_set(err, VG_EIO, "uname: %s", strerror(errno));
	vg_series_init(&s, "node_uname_info");
	vg_series_add(&s, "domainname", u.domainname);
	vg_series_add(&s, "machine", u.machine);
	vg_series_add(&s, "nodename", u.nodename);
	vg_series_add(&s, "release", u.release);
	vg_series_add(&s, "sysname", u.sysname);
	vg_series_add(&s, "version", u.version);
	return vg_collect_emit(sink, &s, 1, err);
}

const struct vg_collector vg_collector_uname = { "uname", collect_uname };
