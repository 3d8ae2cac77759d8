/*
 * bench_import.c: POST /api/v1/import/prometheus, Vigil beside
 * VictoriaMetrics on the same file in the same run.
 *
 * Writes one file of Prometheus text lines with millisecond timestamps: H
 * hosts x 100 node-style series (the dataset of bench_ingest: per-mode CPU
 * counters, memory and filesystem gauges, disk and network counters, load,
 * request counters by code, queue depths, constants) x N intervals of 10 s,
 * ending now, deterministic for a seed. Then, for each server, starts it
 * on loopback in a temporary directory, sends the whole file in one request
 * (Content-Length, 1 MiB writes, as curl --data-binary does), waits for the
 * answer, and reads the server's CPU time from /proc; stops it by PID.
 * Vigil answers only after the WAL is fdatasynced; VictoriaMetrics answers
 * once the rows are in its in-memory buffers (it flushes to disk later).
 *
 * VictoriaMetrics is Debian's victoria-metrics package; when it is not
 * installed, its half is skipped and the bench says how to install it.
 *
 * Prints samples/s and server CPU-s per million samples for both, and
 *   RESULT vigil_samples_per_s=... vm_samples_per_s=... ratio=...
 * With --disk, also the bytes on disk per sample: Vigil's raw block files
 * after POST /api/v1/admin/seal (vigil_storage_tier_bytes{tier="raw"}),
 * VictoriaMetrics's data directory after /internal/force_flush and ten
 * seconds of its background merges (its indexdb reported apart).
 *
 * With --write FILE, only writes the file (ending at the current 10 s) and
 * prints its sample count: the dataset of other benches (bench_query).
 *
 *   bench_import [--hosts H] [--intervals N] [--seed S] [--receiver PATH] [--vm PATH] [--disk]
 *   bench_import --write FILE [--hosts H] [--intervals N] [--seed S]
 */
#include "config.h"

#include "bench/bench_util.h"

#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SERIES_PER_HOST 100

/* One series of a host: its text up to the value, and how it moves. */
struct series {
	char text[160];
	double value, step; /* step > 0 counter, 0 gauge, < 0 constant */
};

static unsigned host_series(struct vg_bench_rng *rng, unsigned h, struct series *s)
{
	static const char *modes[] = { "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal" };
	static const char *mem[] = { "MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached",
				     "SwapTotal", "SwapFree", "Active", "Inactive", "Dirty" };
	static const char *fs[] = { "size", "free", "avail" };
	static const char *mounts[][2] = { { "/", "/dev/sda1" }, { "/var", "/dev/sda2" }, { "/home", "/dev/sdb1" } };
	static const char *io[][2] = { { "node_disk_read_bytes_total", "sd" }, { "node_disk_written_bytes_total", "sd" },
				       { "node_network_receive_bytes_total", "eth" },
				       { "node_network_transmit_bytes_total", "eth" } };
	static const double io_step[] = { 4096 * 50, 4096 * 80, 1e6, 8e5 };
	static const char *codes[] = { "200", "404", "500" }, *handlers[] = { "/api", "/login", "/static" };
	char id[64];
	unsigned n = 0;

	snprintf(id, sizeof(id), "instance=\"host-%05u\",pool=\"pool-%03u\"", h, h / 100);
#define SERIES(step_, start_, ...)                                                         \
	do {                                                                               \
		snprintf(s[n].text, sizeof(s[n].text), __VA_ARGS__);                       \
		s[n].step = (step_);                                                       \
		s[n].value = (start_);                                                     \
		n++;                                                                       \
	} while (0)
	for (int c = 0; c < 6; c++)
		for (int m = 0; m < 8; m++)
			SERIES(m == 3 ? 9.0 : 1.0, floor(vg_bench_rng_double(rng) * 1e6) / 100,
			       "node_cpu_seconds_total{cpu=\"%d\",mode=\"%s\",%s}", c, modes[m], id);
	for (int i = 0; i < 10; i++)
		SERIES(0, floor(vg_bench_rng_double(rng) * 16e9 / 4096) * 4096, "node_memory_%s_bytes{%s}", mem[i], id);
	for (int m = 0; m < 3; m++)
		for (int f = 0; f < 3; f++)
			SERIES(f == 0 ? -1 : 0, floor(vg_bench_rng_double(rng) * 1e12 / 4096) * 4096,
			       "node_filesystem_%s_bytes{device=\"%s\",fstype=\"ext4\",mountpoint=\"%s\",%s}", fs[f],
			       mounts[m][1], mounts[m][0], id);
	for (int d = 0; d < 2; d++)
		for (int k = 0; k < 4; k++)
			SERIES(io_step[k], 0, "%s{device=\"%s%c\",%s}", io[k][0], io[k][1],
			       io[k][1][0] == 's' ? 'a' + d : '0' + d, id);
	for (int i = 0; i < 3; i++)
		SERIES(0, floor(vg_bench_rng_double(rng) * 400) / 100, "node_load%s{%s}",
		       i == 0 ? "1" : i == 1 ? "5" : "15", id);
	for (int i = 0; i < 3; i++)
		for (int c = 0; c < 3; c++)
			SERIES(c == 0 ? 500 : c == 1 ? 5 : 1, 0, "http_requests_total{code=\"%s\",handler=\"%s\",%s}",
			       codes[c], handlers[i], id);
	for (int q = 0; q < 10; q++)
		SERIES(0, floor(vg_bench_rng_double(rng) * 100), "queue_depth{queue=\"q%d\",%s}", q, id);
	SERIES(-1, 0, "node_memory_HugePages_Total{%s}", id);
	SERIES(-1, 1764000000, "node_boot_time_seconds{%s}", id);
	SERIES(-1, 6, "node_cpu_count{%s}", id);
#undef SERIES
	return n;
}

/* Writes the file; returns the number of samples. */
static uint64_t write_file(struct vg_bench_rng *rng, const char *path, unsigned hosts, unsigned intervals,
			   int64_t end_ms)
{
	struct series *all = calloc((size_t)hosts * SERIES_PER_HOST, sizeof(*all));
	FILE *f = fopen(path, "w");
	uint64_t n = 0;

	if (all == NULL || f == NULL) {
		perror("bench_import: writing the file");
		exit(1);
	}
	for (unsigned h = 0; h < hosts; h++)
		if (host_series(rng, h, all + (size_t)h * SERIES_PER_HOST) != SERIES_PER_HOST) {
			fprintf(stderr, "bench_import: a host must have %d series\n", SERIES_PER_HOST);
			exit(1);
		}
	for (unsigned t = 0; t < intervals; t++) {
		int64_t ts = end_ms - (int64_t)(intervals - 1 - t) * 10000;
		for (size_t i = 0; i < (size_t)hosts * SERIES_PER_HOST; i++) {
			struct series *s = &all[i];
			if (s->step > 0)
				s->value += floor(vg_bench_rng_double(rng) * s->step * 100) / 100;
			else if (s->step == 0)
				s->value = fabs(s->value + floor((vg_bench_rng_double(rng) - 0.5) * 200) *
							       (s->value > 1e6 ? 4096 : 0.01));
			fprintf(f, "%s %.17g %" PRId64 "\n", s->text, s->value, ts);
			n++;
		}
	}
	if (fclose(f) != 0) {
		perror("bench_import: writing the file");
		exit(1);
	}
	free(all);
	return n;
}

struct run {
	double wall_s, cpu_s;
	bool is_ok;
};

/* Times the import of file into a server on port, pid. */
static struct run import_into(pid_t pid, uint16_t port, int file_fd, off_t size)
{
	struct run r;
	double c0, c1, t0 = vg_bench_now_s();
	int status;

	vg_bench_proc_usage(pid, &c0, NULL);
	status = vg_bench_http(port, "POST", "/api/v1/import/prometheus", file_fd, size, 3600, NULL);

	r.wall_s = vg_bench_now_s() - t0;
	vg_bench_proc_usage(pid, &c1, NULL);
	r.cpu_s = c1 - c0;
	r.is_ok = status == 204;
	if (!r.is_ok)
		fprintf(stderr, "bench_import: the import answered HTTP %d\n", status);
	return r;
}

static void print_run(const char *who, struct run r, uint64_t samples)
{
	if (!r.is_ok) {
		printf("%-16s failed\n", who);
		return;
	}
	printf("%-16s %8.2f s  %10.0f samples/s  %6.3f CPU-s per million samples\n", who, r.wall_s,
	       (double)samples / r.wall_s, r.cpu_s / ((double)samples / 1e6));
}

int main(int argc, char **argv)
{
	unsigned hosts = 1000, intervals = 20;
	uint64_t seed = 42, samples;
	const char *receiver = VG_BUILDDIR "/vigil-receiver", *vm = "/usr/bin/victoria-metrics";
	static const struct option opts[] = {
		{ "hosts", required_argument, NULL, 'h' }, { "intervals", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' }, { "receiver", required_argument, NULL, 'r' },
		{ "vm", required_argument, NULL, 'v' }, { "disk", no_argument, NULL, 'd' },
		{ "write", required_argument, NULL, 'w' }, { NULL, 0, NULL, 0 },
	};
	char dir[512], path[600], data[600], ports[600], log[600], addr[64];
	struct vg_bench_rng rng;
	struct vg_bench_result result = VG_BENCH_RESULT_INIT;
	struct run rv = { 0, 0, false }, rm = { 0, 0, false };
	struct stat st;
	bool has_vm, is_disk = false;
	double vigil_disk = -1, vm_disk = -1, vm_index = -1;
	const char *write_only = NULL;
	int c, file_fd;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'h': hosts = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'n': intervals = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		case 'r': receiver = optarg; break;
		case 'v': vm = optarg; break;
		case 'd': is_disk = true; break;
		case 'w': write_only = optarg; break;
		default:
			fprintf(stderr, "usage: bench_import [--hosts H] [--intervals N] [--seed S] [--receiver PATH] [--vm PATH] [--disk]\n");
			return 2;
		}
	}
	if (hosts == 0 || intervals == 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	rng.s = seed * 0x9E3779B97F4A7C15ULL + 1;
	if (write_only != NULL) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		samples = write_file(&rng, write_only, hosts, intervals, (int64_t)now.tv_sec * 1000 / 10000 * 10000);
		printf("%" PRIu64 "\n", samples);
		return 0;
	}
	if (vg_bench_tmpdir("import", dir, sizeof(dir)) != 0)
		return 1;
	snprintf(path, sizeof(path), "%s/import.prom", dir);
	{
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		samples = write_file(&rng, path, hosts, intervals, (int64_t)now.tv_sec * 1000 / 10000 * 10000);
	}
	file_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (file_fd < 0 || fstat(file_fd, &st) != 0)
		return 1;
	printf("file: %u hosts x %d series x %u intervals = %" PRIu64 " samples, %.1f MiB\n", hosts, SERIES_PER_HOST,
	       intervals, samples, (double)st.st_size / 1048576.0);

	/* Vigil. */
	{
		snprintf(data, sizeof(data), "%s/vigil", dir);
		snprintf(ports, sizeof(ports), "%s/vigil.ports", dir);
		snprintf(log, sizeof(log), "%s/vigil.log", dir);
		char *av[] = { (char *)receiver, "--config", "/dev/null", "--data-dir", data, "--listen", "127.0.0.1:0",
			       "--http-listen", "127.0.0.1:0", "--port-file", ports, "--log-level", "warn", NULL };
		pid_t pid = vg_bench_spawn(av, log);
		uint16_t a, hp;
		if (vg_bench_wait_ports(ports, pid, 10, &a, &hp) != 0) {
			fprintf(stderr, "bench_import: vigil-receiver did not start (see %s)\n", log);
			vg_bench_stop(pid);
			return 1;
		}
		rv = import_into(pid, hp, file_fd, st.st_size);
		if (is_disk && rv.is_ok) {
			/* Everything into raw blocks, then their bytes, index
			 * included, as /metrics counts them. */
			struct vg_buf m = VG_BUF_INIT;
			int code = vg_bench_http(hp, "POST", "/api/v1/admin/seal", -1, 0, 3600, NULL);
			if (code != 200 || vg_bench_http(hp, "GET", "/metrics", -1, 0, 60, &m) != 200)
				fprintf(stderr, "bench_import: sealing failed (HTTP %d)\n", code);
			else
				vigil_disk = vg_bench_metric_value(vg_buf_cstr(&m),
								   "vigil_storage_tier_bytes{tier=\"raw\"}");
			vg_buf_release(&m);
		}
		vg_bench_stop(pid);
	}

	/* VictoriaMetrics, when installed. */
	has_vm = access(vm, X_OK) == 0;
	if (has_vm) {
		uint16_t port = vg_bench_free_port();
		char storage[640], listen_arg[96];
		snprintf(storage, sizeof(storage), "-storageDataPath=%s/vm", dir);
		snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
		snprintf(listen_arg, sizeof(listen_arg), "-httpListenAddr=%s", addr);
		snprintf(log, sizeof(log), "%s/vm.log", dir);
		char *av[] = { (char *)vm, storage, listen_arg, "-loggerLevel=ERROR", NULL };
		pid_t pid = vg_bench_spawn(av, log);
		bool is_up = false;
		for (int i = 0; i < 300 && !is_up; i++) {
			is_up = vg_bench_http(port, "GET", "/health", -1, 0, 60, NULL) == 200;
			if (!is_up)
				usleep(50000);
		}
		if (is_up)
			rm = import_into(pid, port, file_fd, st.st_size);
		if (is_up && is_disk && rm.is_ok) {
			/* Its rows to disk parts, a moment for the first merges,
			 * then its data directory (indexdb apart). */
			char vmdata[640], vmindex[640];
			vg_bench_http(port, "GET", "/internal/force_flush", -1, 0, 600, NULL);
			sleep(10);
			vg_bench_http(port, "GET", "/internal/force_flush", -1, 0, 600, NULL);
			snprintf(vmdata, sizeof(vmdata), "%s/vm/data", dir);
			snprintf(vmindex, sizeof(vmindex), "%s/vm/indexdb", dir);
			vm_disk = (double)vg_bench_du_bytes(vmdata, NULL);
			vm_index = (double)vg_bench_du_bytes(vmindex, NULL);
		}
		if (!is_up)
			fprintf(stderr, "bench_import: victoria-metrics did not start (see %s)\n", log);
		vg_bench_stop(pid);
	} else {
		printf("victoria-metrics not found at %s: apt-get install victoria-metrics to compare\n", vm);
	}
	print_run("vigil", rv, samples);
	if (has_vm)
		print_run("victoria-metrics", rm, samples);
	if (is_disk) {
		printf("disk, bytes per sample: vigil raw blocks %.3f; victoria-metrics data %.3f, with indexdb %.3f\n",
		       vigil_disk / (double)samples, vm_disk / (double)samples,
		       (vm_disk + vm_index) / (double)samples);
	}
	vg_bench_result_add(&result,
			    "samples=%" PRIu64 " vigil_samples_per_s=%.0f vigil_cpu_s_per_M=%.3f vm_samples_per_s=%.0f "
			    "vm_cpu_s_per_M=%.3f ratio=%.2f",
			    samples, rv.is_ok ? (double)samples / rv.wall_s : NAN,
			    rv.is_ok ? rv.cpu_s / ((double)samples / 1e6) : NAN,
			    rm.is_ok ? (double)samples / rm.wall_s : NAN, rm.is_ok ? rm.cpu_s / ((double)samples / 1e6) : NAN,
			    rv.is_ok && rm.is_ok ? rm.wall_s / rv.wall_s : NAN);
	if (is_disk)
		vg_bench_result_add(&result,
				    "vigil_disk_bytes_per_sample=%.3f vm_disk_bytes_per_sample=%.3f "
				    "vm_disk_with_index_bytes_per_sample=%.3f",
				    vigil_disk / (double)samples, vm_disk / (double)samples,
				    (vm_disk + vm_index) / (double)samples);
	vg_bench_result_print(&result);
	close(file_fd);
	vg_bench_rmdir(dir);
	return rv.is_ok ? 0 : 1;
}
