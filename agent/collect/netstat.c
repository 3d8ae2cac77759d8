/*
 * netstat.c: the netstat collector, node_exporter's, from <proc>/net/netstat,
 * <proc>/net/snmp and <proc>/net/snmp6.
 *
 * netstat and snmp come in pairs of lines, names then values:
 *   Tcp: RtoAlgorithm RtoMin ... CurrEstab ...
 *   Tcp: 1 200 ... 2 ...
 * snmp6 has one "Name value" per line, the protocol the name's head up to
 * its '6' ("Icmp6InMsgs" is Icmp6, InMsgs). Each becomes
 *   node_netstat_<Proto>_<Field>
 * for the fields the ctx's filter keeps (node_exporter's default keeps the
 * error counters, TCP opens/segments/retransmits, listen drops and
 * syncookies, UDP datagrams and buffer errors, IP octets). Values may be
 * negative (Tcp MaxConn is -1).
 * snmp6 is absent when IPv6 is off: it is then skipped; netstat and snmp
 * are required.
 * Invariants: the content is not trusted: a pair whose two lines do not
 * name the same protocol or hold the same number of fields is skipped
 * whole; a name that would not be a valid metric name, or a value that is
 * not a 64-bit decimal, is skipped.
 */
#include "agent/collect/collect.h"
#include "common/err.h"
#include "common/series.h"

#include <string.h>

#include "common/banned.h"

#define PREFIX "node_netstat_"
#define MAX_FIELDS 512

static int emit_field(const struct vg_collect_ctx *ctx, struct vg_str proto, struct vg_str field,
		      struct vg_str value, struct vg_sample_sink *sink, size_t *n_used,
		      struct vg_err *err)
{
	char name[VG_SERIES_MAX_NAME + 1];
	const size_t plen = sizeof(PREFIX) - 1, len = plen + proto.len + 1 + field.len;
	struct vg_series s;
	bool is_wanted;
	int64_t v;

	if (len > VG_SERIES_MAX_NAME)
		return 0;
	memcpy(name, PREFIX, plen);
	memcpy(name + plen, proto.p, proto.len);
	name[plen + proto.len] = '_';
	memcpy(name + plen + proto.len + 1, field.p, field.len);
	name[len] = '\0';
	/* The filter first: it drops most of the few hundred fields, and
	 * once one field was usable a dropped one needs no further look. */
	is_wanted = vg_collect_wants(ctx, VG_FILTER_NETSTAT, name + plen, len - plen);
	if (!is_wanted && *n_used > 0)
		return 0;
	if (!vg_collect_parse_i64(value, &v) || !vg_metric_name_valid(name, len))
		return 0;
	(*n_used)++;
	if (!is_wanted)
		return 0;
	s.name = (struct vg_str){ name, (uint32_t)len };
	s.n_labels = 0;
	return vg_collect_emit(sink, &s, (double)v, err);
}

/* "Proto:" off the front of line; false if the line has no colon. */
static bool cut_proto(struct vg_str *line, struct vg_str *proto)
{
	const char *colon = memchr(line->p, ':', line->len);

	if (colon == NULL || colon == line->p)
		return false;
	proto->p = line->p;
	proto->len = (uint32_t)(colon - line->p);
	line->len -= proto->len + 1;
	line->p = colon + 1;
	return true;
}

/* One pair: names and values of proto, each without the "Proto:". Each
 * line is cut into fields once. */
static int emit_pair(const struct vg_collect_ctx *ctx, struct vg_str proto, struct vg_str names,
		     struct vg_str values, struct vg_sample_sink *sink, size_t *n_used,
		     struct vg_err *err)
{
	struct vg_str f[MAX_FIELDS], v[MAX_FIELDS], extra;
	unsigned nn = 0, nv = 0;
	int rc;

	while (nn < MAX_FIELDS && vg_collect_next_field(&names, &f[nn]))
		nn++;
	while (nv < MAX_FIELDS && vg_collect_next_field(&values, &v[nv]))
		nv++;
	/* Unequal counts, or more than MAX_FIELDS: skipped whole. */
	if (nn != nv || vg_collect_next_field(&names, &extra) || vg_collect_next_field(&values, &extra))
		return 0;
	for (unsigned i = 0; i < nn; i++)
		if ((rc = emit_field(ctx, proto, f[i], v[i], sink, n_used, err)) != 0)
			return rc;
	return 0;
}

int vg_netstat_parse(const struct vg_collect_ctx *ctx, const char *data, size_t len,
		     struct vg_sample_sink *sink, struct vg_err *err)
{
	struct vg_str rest = { data, (uint32_t)len }, line, proto, prev = { "", 0 }, prev_proto = { "", 0 };
	bool has_prev = false;
	size_t n_used = 0;
	int rc;

	/* A line pairs with the one before it when both name the same
	 * protocol and that one was not already paired. */
	while (vg_collect_next_line(&rest, &line)) {
		if (!cut_proto(&line, &proto)) {
			has_prev = false;
			continue;
		}
		if (has_prev && vg_str_eq(proto, prev_proto)) {
			if ((rc = emit_pair(ctx, proto, prev, line, sink, &n_used, err)) != 0)
				return rc;
			has_prev = false;
			continue;
		}
		prev = line;
		prev_proto = proto;
		has_prev = true;
	}
	if (n_used == 0)
		return vg_err_set(err, VG_EINVAL, "no usable pair of lines");
	return 0;
}

int vg_netstat_snmp6_parse(const struct vg_collect_ctx *ctx, const char *data, size_t len,
			   struct vg_sample_sink *sink, struct vg_err *err)
{
	struct vg_str rest = { data, (uint32_t)len }, line, key, value, extra;
	size_t n_used = 0;
	int rc;

	while (vg_collect_next_line(&rest, &line)) {
		const char *six;
		struct vg_str proto, field;

		if (!vg_collect_next_field(&line, &key) || !vg_collect_next_field(&line, &value) ||
		    vg_collect_next_field(&line, &extra))
			continue;
		six = memchr(key.p, '6', key.len);
		if (six == NULL || six + 1 == key.p + key.len)
			continue;
		proto = (struct vg_str){ key.p, (uint32_t)(six + 1 - key.p) };
		field = (struct vg_str){ six + 1, key.len - proto.len };
		if ((rc = emit_field(ctx, proto, field, value, sink, &n_used, err)) != 0)
			return rc;
	}
	if (n_used == 0)
		return vg_err_set(err, VG_EINVAL, "no usable line");
	return 0;
}

static int collect_netstat(const struct vg_collect_env *env, struct vg_sample_sink *sink,
			   struct vg_err *err)
{
	int rc;

	if ((rc = vg_collect_read_parse(env, env->proc_path, "net/netstat", vg_netstat_parse, sink, err)) != 0 ||
	    (rc = vg_collect_read_parse(env, env->proc_path, "net/snmp", vg_netstat_parse, sink, err)) != 0)
		return rc;
	rc = vg_collect_read_parse(env, env->proc_path, "net/snmp6", vg_netstat_snmp6_parse, sink, err);
	return rc == VG_ENOENT ? 0 : rc;
}

const struct vg_collector vg_collector_netstat = { "netstat", collect_netstat };
