/*
 * bench_spool.c: the agent's disk spool (agent/spool.c) written and
 * replayed as a receiver outage and an agent restart use it.
 *
 * Opens a spool in a new directory, defines S series, appends N batches
 * of B bytes each (one fdatasync a batch, as the sender does), then frees
 * it without a word (as after SIGKILL), opens it again (recovery reads
 * and checks every record) and reads every batch back in order, as a
 * reconnect sends them. Prints append and replay rates (batches and MB
 * per second, wall and CPU), the bytes on disk per batch, and how many
 * days of batches at a 10 s interval the default spool_max_bytes holds.
 * Ends with a RESULT line.
 *
 *   bench_spool [--batches N] [--batch-bytes B] [--series S] [--dir DIR]
 *
 * The defaults are an agent's on the standard machine (every host
 * collector on by default, no StatsD): 321 samples a round, a frame of
 * 1,258 bytes in its spool.
 */
#include "config.h"

#include "agent/dict.h"
#include "agent/spool.h"
#include "bench/bench_util.h"
#include "common/err.h"
#include "common/series.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_SPOOL_MAX (512ULL << 20)

static struct vg_spool *open_spool(const char *dir, struct vg_dict *dict, struct vg_spool_resume *res)
{
	struct vg_spool_options o = { dir, DEFAULT_SPOOL_MAX };
	struct vg_spool *sp;
	struct vg_err err;

	vg_dict_init(dict);
	if (vg_spool_open(&o, dict, &sp, res, &err) != 0)
		vg_bench_die("open", &err);
	return sp;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "batches", required_argument, NULL, 'n' }, { "batch-bytes", required_argument, NULL, 'b' },
		{ "series", required_argument, NULL, 's' },  { "dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t n_batches = 3000, batch_bytes = 1258, n_series = 321, got = 0, seq;
	char tmpl[4096], *dir = NULL;
	struct vg_bench_result result = VG_BENCH_RESULT_INIT;
	struct vg_dict dict;
	struct vg_spool_resume res;
	struct vg_spool *sp;
	struct vg_spool_batch b;
	struct vg_err err;
	uint8_t *frame;
	double t0, c0, w_wall, w_cpu, o_wall, r_wall, r_cpu, mb;
	uint64_t seg_bytes;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': n_batches = strtoull(optarg, NULL, 10); break;
		case 'b': batch_bytes = strtoull(optarg, NULL, 10); break;
		case 's': n_series = strtoull(optarg, NULL, 10); break;
		case 'd': dir = optarg; break;
		default: return 2;
		}
	}
	if (n_batches == 0 || batch_bytes < 24 || batch_bytes > (1u << 20) || n_series == 0) {
		fprintf(stderr, "bench_spool: --batches > 0, --batch-bytes 24..1MiB, --series > 0\n");
		return 2;
	}
	if (dir == NULL) {
		if (vg_bench_tmpdir("spool", tmpl, sizeof(tmpl)) != 0)
			return 1;
		dir = tmpl;
	}
	if ((frame = malloc(batch_bytes)) == NULL)
		vg_bench_die("malloc", NULL);
	for (uint64_t i = 0; i < batch_bytes; i++)
		frame[i] = (uint8_t)(i * 2654435761u >> 13); /* opaque to the spool */

	sp = open_spool(dir, &dict, &res);
	for (uint64_t i = 0; i < n_series; i++) {
		struct vg_series s;
		char name[64];
		uint32_t ref;
		bool is_new;
		const uint8_t *key;
		size_t len;
		snprintf(name, sizeof(name), "bench_metric_%llu", (unsigned long long)i);
		vg_series_init(&s, name);
		if (vg_series_add(&s, "instance", "bench") != 0 || vg_series_canonicalize(&s, &err) != 0 ||
		    vg_dict_ref(&dict, &s, vg_series_hash(&s), &ref, &is_new) != 0)
			vg_bench_die("series", NULL);
		key = vg_dict_key(&dict, ref, &len);
		if (vg_spool_add_series(sp, key, len, &err) != 0)
			vg_bench_die("add series", &err);
	}

	t0 = vg_bench_now_s();
	c0 = vg_bench_self_cpu_s();
	for (seq = res.next_seq; seq < res.next_seq + n_batches; seq++) {
		struct vg_spool_batch in = { seq, (uint32_t)n_series, (uint32_t)n_series, batch_bytes, frame };
		if (vg_spool_append(sp, &in, &err) != 0)
			vg_bench_die("append", &err);
	}
	w_wall = vg_bench_now_s() - t0;
	w_cpu = vg_bench_self_cpu_s() - c0;
	seg_bytes = vg_bench_du_bytes(dir, "seg-");
	vg_spool_free(sp); /* as after SIGKILL: nothing more is written */
	vg_dict_release(&dict);

	t0 = vg_bench_now_s();
	c0 = vg_bench_self_cpu_s();
	sp = open_spool(dir, &dict, &res);
	o_wall = vg_bench_now_s() - t0;
	vg_spool_rewind(sp);
	while ((rc = vg_spool_next(sp, &b, &err)) == 0) {
		if (b.len != batch_bytes || b.frame[batch_bytes - 1] != frame[batch_bytes - 1])
			vg_bench_die("replay: a batch came back changed", NULL);
		got++;
	}
	r_wall = vg_bench_now_s() - t0;
	r_cpu = vg_bench_self_cpu_s() - c0;
	if (rc < 0)
		vg_bench_die("replay", &err);
	if (got != n_batches || res.batches != n_batches) {
		fprintf(stderr, "bench_spool: %llu of %llu batches replayed\n", (unsigned long long)got,
			(unsigned long long)n_batches);
		return 1;
	}
	vg_spool_free(sp);
	vg_dict_release(&dict);

	mb = (double)n_batches * (double)batch_bytes / 1e6;
	printf("spool in %s: %llu batches of %llu bytes, %llu series\n", dir, (unsigned long long)n_batches,
	       (unsigned long long)batch_bytes, (unsigned long long)n_series);
	printf("append (one fdatasync a batch): %.0f batches/s, %.2f MB/s, %.1f us CPU a batch\n",
	       n_batches / w_wall, mb / w_wall, w_cpu / n_batches * 1e6);
	printf("reopen (recovery checks every record): %.3f s\n", o_wall);
	printf("reopen and replay: %.0f batches/s, %.1f MB/s, %.2f us CPU a batch\n", n_batches / r_wall,
	       mb / r_wall, r_cpu / n_batches * 1e6);
	printf("on disk: %.1f bytes a batch; the default %llu MiB holds %.1f days at a 10 s interval\n",
	       (double)seg_bytes / n_batches, DEFAULT_SPOOL_MAX >> 20,
	       (double)DEFAULT_SPOOL_MAX / ((double)seg_bytes / n_batches) * 10 / 86400);
	vg_bench_result_add(&result, "batches=%llu batch_bytes=%llu append_batches_per_s=%.0f append_cpu_us=%.1f "
			    "replay_batches_per_s=%.0f replay_mb_per_s=%.1f disk_bytes_per_batch=%.1f default_days=%.1f",
			    (unsigned long long)n_batches, (unsigned long long)batch_bytes, n_batches / w_wall,
			    w_cpu / n_batches * 1e6, n_batches / r_wall, mb / r_wall, (double)seg_bytes / n_batches,
			    (double)DEFAULT_SPOOL_MAX / ((double)seg_bytes / n_batches) * 10 / 86400);
	vg_bench_result_print(&result);
	free(frame);
	if (dir == tmpl && vg_bench_rmdir(dir) != 0)
		return 1;
	return 0;
}
