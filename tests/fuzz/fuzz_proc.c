/*
 * fuzz_proc.c: libFuzzer target for the agent's /proc parsers, the pure
 * functions of agent/collect/collect.h (vg_collect_parsers[]: cpu, stat,
 * meminfo, loadavg, filefd, entropy, diskstats, netdev, netstat and its
 * snmp6 form, sockstat and sockstat6, pressure per resource, vmstat,
 * conntrack's stat table, and the filesystem collector's mount table).
 *
 * Input: the first byte picks the parser (modulo their count); the second,
 * when not 0, makes the sink refuse its Nth sample (the parser must stop
 * there and pass the code up); the rest is the file's content. The
 * filesystem parser gets a ctx whose statvfs is a fake that touches no
 * disk (it fails for mount points containing "err"), so its statvfs goes
 * through the bounded worker of statvfs.c too.
 *
 * The sink checks what collect.h and the collectors' header comments
 * promise: valid node_* metric names, valid label names from each
 * collector's set, finite values, a label count the collector uses, and
 * for series that canonicalize, a key that parses back. A parser must
 * return 0, the sink's code, or VG_EINVAL (or VG_ENOMEM) with a message.
 * tests/fuzz/replay.c replays the corpus (tests/fuzz/corpus/proc/) in
 * `make check`; seeds are the captured fixtures of tests/data/proc*.
 */
#include "config.h"

#include "agent/collect/collect.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/series.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SINK_STOP VG_EPROTO

struct sink_state {
	const char *parser;
	uint64_t samples;
	uint64_t refuse_at; /* the sample to refuse, counting from 1; 0: none */
	struct vg_buf key;
};

static const char *const allowed_labels[] = {
	"cpu", "mode", "device", "major", "minor", "fstype", "mountpoint",
};

static int fake_statvfs(const char *path, struct statvfs *st)
{
	if (strstr(path, "err") != NULL)
		return -1;
	memset(st, 0, sizeof(*st));
	st->f_frsize = 4096;
	st->f_blocks = 1000;
	st->f_bfree = 500;
	st->f_bavail = 400;
	st->f_files = 100;
	st->f_ffree = 50;
	return 0;
}

static int check_sample(void *arg, struct vg_series *s, double value)
{
	struct sink_state *st = arg;
	struct vg_series parsed;
	struct vg_err err;
	bool is_known;

	if (!vg_metric_name_valid(s->name.p, s->name.len) || s->name.len < 5 ||
	    memcmp(s->name.p, "node_", 5) != 0)
		abort();
	if (s->n_labels > 3)
		abort();
	for (uint32_t i = 0; i < s->n_labels; i++) {
		if (!vg_label_name_valid(s->labels[i].name.p, s->labels[i].name.len))
			abort();
		is_known = false;
		for (size_t k = 0; k < sizeof(allowed_labels) / sizeof(allowed_labels[0]); k++)
			is_known |= vg_str_eq_c(s->labels[i].name, allowed_labels[k]);
		if (!is_known)
			abort();
		if (s->labels[i].value.len > 0 && s->labels[i].value.p == NULL)
			abort();
	}
	if (!isfinite(value))
		abort();
	if (vg_series_canonicalize(s, &err) == 0) {
		vg_buf_reset(&st->key);
		vg_series_key(s, &st->key);
		if (vg_buf_failed(&st->key) || vg_series_from_key(st->key.data, st->key.len, &parsed) != 0 ||
		    parsed.n_labels != s->n_labels)
			abort();
	} else if (err.msg[0] == '\0') {
		abort();
	}
	st->samples++;
	if (st->samples == st->refuse_at)
		return SINK_STOP;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vg_collect_ctx *ctx;
	static struct sink_state st = { NULL, 0, 0, VG_BUF_INIT };
	struct vg_sample_sink sink = { check_sample, &st };
	struct vg_err err;
	size_t n_parsers = 0;
	int rc;

	if (ctx == NULL) {
		const struct vg_collect_options o = { .statvfs_fn = fake_statvfs, .statvfs_timeout_ms = 5000 };
		vg_log_init("fuzz_proc", VG_LOG_ERROR);
		if (vg_collect_ctx_new(&o, &ctx, NULL) != 0)
			abort();
	}
	while (vg_collect_parsers[n_parsers].name != NULL)
		n_parsers++;
	if (size < 2)
		return 0;
	const struct vg_collect_parser *p = &vg_collect_parsers[data[0] % n_parsers];
	st.parser = p->name;
	st.samples = 0;
	st.refuse_at = data[1];
	vg_err_clear(&err);
	rc = p->parse(ctx, (const char *)data + 2, size - 2, &sink, &err);
	if (rc > 0 || (rc < 0 && err.msg[0] == '\0'))
		abort();
	if (st.refuse_at != 0 && st.samples >= st.refuse_at) {
		if (rc != SINK_STOP || st.samples != st.refuse_at)
			abort();
	} else if (rc != 0 && rc != VG_EINVAL && rc != VG_ENOMEM) {
		abort();
	}
	return 0;
}
