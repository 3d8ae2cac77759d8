/*
 * netdev.c: the netdev collector, node_exporter's, from <proc>/net/dev:
 * two header lines, then per interface "name: " and 16 counters, 8 received
 * (bytes packets errs drop fifo frame compressed multicast) and 8 sent
 * (bytes packets errs drop fifo colls carrier compressed), as
 *   node_network_receive_<x>_total{device}, node_network_transmit_<x>_total{device}.
 * node_exporter reads the same counters over netlink, which adds
 * node_network_receive_nohandler_total; /proc/net/dev does not have it.
 * Devices matching the ctx's netdev filter (default "^lo$") are skipped.
 * Invariants: the content is not trusted: a line without a ':' after a
 * name, or without 16 numbers, is skipped whole (the header lines are).
 */
#include "agent/collect/collect.h"
#include "common/err.h"
#include "common/series.h"

#include <string.h>

#include "common/banned.h"

#define N_COUNTERS 16

static const char *const netdev_names[N_COUNTERS] = {
	"node_network_receive_bytes_total", "node_network_receive_packets_total",
	"node_network_receive_errs_total", "node_network_receive_drop_total",
	"node_network_receive_fifo_total", "node_network_receive_frame_total",
	"node_network_receive_compressed_total", "node_network_receive_multicast_total",
	"node_network_transmit_bytes_total", "node_network_transmit_packets_total",
	"node_network_transmit_errs_total", "node_network_transmit_drop_total",
	"node_network_transmit_fifo_total", "node_network_transmit_colls_total",
	"node_network_transmit_carrier_total", "node_network_transmit_compressed_total",
};

int vg_netdev_parse(const struct vg_collect_ctx *ctx, const char *data, size_t len,
		    struct vg_sample_sink *sink, struct vg_err *err)
{
	static const struct vg_str device = { "device", 6 };
	struct vg_str rest = { data, (uint32_t)len }, line, name, field;
	struct vg_series s;
	uint64_t v[N_COUNTERS];
	size_t n_used = 0, n_lines = 0;
	int rc;

	while (vg_collect_next_line(&rest, &line)) {
		const char *colon = memchr(line.p, ':', line.len);
		unsigned n = 0;

		n_lines++;
		if (colon == NULL)
			continue;
		name = (struct vg_str){ line.p, (uint32_t)(colon - line.p) };
		while (name.len > 0 && (name.p[0] == ' ' || name.p[0] == '\t')) {
			name.p++;
			name.len--;
		}
		if (name.len == 0 || memchr(name.p, ' ', name.len) || memchr(name.p, '|', name.len))
			continue;
		line.len -= (uint32_t)(colon + 1 - line.p);
		line.p = colon + 1;
		while (n < N_COUNTERS && vg_collect_next_field(&line, &field) &&
		       vg_collect_parse_u64(field, &v[n]))
			n++;
		if (n < N_COUNTERS || vg_collect_next_field(&line, &field))
			continue;
		n_used++;
		if (!vg_collect_wants(ctx, VG_FILTER_NETDEV, name.p, name.len))
			continue;
		for (unsigned i = 0; i < N_COUNTERS; i++) {
			vg_series_init(&s, netdev_names[i]);
			vg_series_add_str(&s, device, name);
			if ((rc = vg_collect_emit(sink, &s, (double)v[i], err)) != 0)
				return rc;
		}
	}
	if (n_used == 0 && n_lines > 2)
		return vg_err_set(err, VG_EINVAL, "no usable interface line");
	if (n_lines < 2)
		return vg_err_set(err, VG_EINVAL, "no header");
	return 0;
}

static int collect_netdev(const struct vg_collect_env *env, struct vg_sample_sink *sink,
			  struct vg_err *err)
{
	return vg_collect_read_parse(env, env->proc_path, "net/dev", vg_netdev_parse, sink, err);
}

const struct vg_collector vg_collector_netdev = { "netdev", collect_netdev };
