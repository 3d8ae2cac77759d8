/*
 * bench_lastseen.c: the receiver's last-seen table (receiver/ingest/
 * lastseen.h) at fleet size: the memory it holds for N agents (default
 * 100,000, names of 30 characters), the time of a note (the ingest
 * thread's cost per accepted batch) and of the snapshot each self-scrape
 * takes, during which ingest's notes wait.
 *
 * Prints figures and a RESULT line (docs/performance.md).
 * Usage: bench_lastseen [AGENTS]
 */
#include "config.h"

#include "bench/bench_util.h"
#include "receiver/ingest/lastseen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100000;
	struct vg_lastseen_options o = { 0, 3600 * 1000 };
	struct vg_lastseen_snap snap;
	struct vg_bench_result result = VG_BENCH_RESULT_INIT;
	struct vg_lastseen *ls;
	size_t h0, h1, h2;
	double t0, t_insert, t_note, t_snap;
	char name[64];
	const int rounds = 5;

	if (n <= 0 || n > VG_LASTSEEN_DEFAULT_MAX_AGENTS) {
		fprintf(stderr, "usage: bench_lastseen [AGENTS], 1..%d\n", VG_LASTSEEN_DEFAULT_MAX_AGENTS);
		return 2;
	}
	memset(&snap, 0, sizeof(snap));
	h0 = vg_bench_heap_bytes();
	if (vg_lastseen_new(&o, &ls, NULL) != 0)
		return 1;
	t0 = vg_bench_now_s();
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "web-%05d.pool-%03d.example.org", i % 100000, i / 1000);
		vg_lastseen_note(ls, (uint64_t)i * 0x9e3779b97f4a7c15ULL | 1, name, 1000);
	}
	t_insert = vg_bench_now_s() - t0;
	h1 = vg_bench_heap_bytes();
	/* A known agent's note: what every accepted batch costs. */
	t0 = vg_bench_now_s();
	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < n; i++)
			vg_lastseen_note(ls, (uint64_t)i * 0x9e3779b97f4a7c15ULL | 1, "", 2000 + r);
	t_note = (vg_bench_now_s() - t0) / ((double)n * rounds);
	t0 = vg_bench_now_s();
	for (int r = 0; r < rounds; r++)
		if (vg_lastseen_snapshot(ls, 3000, &snap) != 0 || snap.n != (size_t)n)
			return 1;
	t_snap = (vg_bench_now_s() - t0) / rounds;
	h2 = vg_bench_heap_bytes();
	printf("last-seen table, %d agents (names of %zu characters):\n", n, strlen(name));
	printf("  memory: table %.1f MB (%.0f B/agent), snapshot %.1f MB more\n", (double)(h1 - h0) / 1e6,
	       (double)(h1 - h0) / n, (double)(h2 - h1) / 1e6);
	printf("  first note %.0f ns, later notes %.0f ns, snapshot %.2f ms\n", t_insert / n * 1e9, t_note * 1e9,
	       t_snap * 1e3);
	vg_bench_result_add(&result, "agents=%d table_bytes=%zu snapshot_bytes=%zu note_ns=%.0f snapshot_ms=%.2f", n,
			    h1 - h0, h2 - h1, t_note * 1e9, t_snap * 1e3);
	vg_bench_result_print(&result);
	vg_lastseen_snap_release(&snap);
	vg_lastseen_free(ls);
	return 0;
}
