/*
 * bench_util.h: what the programs of bench/ share: clocks and CPU time,
 * a seeded generator, a process's cost read from /proc, starting and
 * stopping the programs measured (and waiting for the ports they bound),
 * loopback HTTP, temporary directories, and the RESULT line every bench
 * ends with (docs/performance.md).
 *
 * Built once as bench/libbench.la. No state of its own: what it keeps
 * (a generator, a RESULT line being built) is in a struct the caller
 * passes in. Failures are told by the return value and, where the bench
 * cannot go on, a message on stderr naming the program.
 */
#ifndef VG_BENCH_UTIL_H
#define VG_BENCH_UTIL_H

#include "common/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct vg_err;

/* --- time ---------------------------------------------------------------- */

/* Seconds of CLOCK_MONOTONIC. */
double vg_bench_now_s(void);
/* User and system CPU seconds of this process (getrusage). */
double vg_bench_self_cpu_s(void);
/* Sleeps s seconds, resumed when a signal interrupts it. */
void vg_bench_sleep_s(double s);

/* --- a seeded generator (xorshift64*) --------------------------------------- */

struct vg_bench_rng {
	uint64_t s; /* never 0 */
};

uint64_t vg_bench_rng_u64(struct vg_bench_rng *r);
/* Uniform in [0, 1), 53 bits. */
double vg_bench_rng_double(struct vg_bench_rng *r);

/* --- a process, seen from /proc ---------------------------------------------- */

/* utime + stime (seconds) and RSS (bytes) of /proc/PID/stat; either
 * pointer may be NULL. 0, or -1 (both set to -1) when it cannot be read. */
int vg_bench_proc_usage(pid_t pid, double *cpu_s, double *rss_bytes);
/* Entries of /proc/PID/fd, or -1. */
long vg_bench_proc_fds(pid_t pid);
/* Bytes the allocator hands out now (mallinfo2: arena and mmap'd). */
size_t vg_bench_heap_bytes(void);

/* --- programs measured ------------------------------------------------------- */

/* Runs argv (argv[0] a path, or a name looked up in PATH) with stdout and
 * stderr to log_path (truncated); its pid, or -1. */
pid_t vg_bench_spawn(char *const argv[], const char *log_path);
/* Whether pid (a child) still runs. */
bool vg_bench_is_alive(pid_t pid);
/* SIGTERM, then SIGKILL after 30 s; reaps it. Nothing for pid <= 0. */
void vg_bench_stop(pid_t pid);
/* Waits up to timeout_s for the port file a program writes (--port-file:
 * "AGENT_PORT HTTP_PORT"), while pid runs. 0 with both ports, or -1. */
int vg_bench_wait_ports(const char *path, pid_t pid, double timeout_s, uint16_t *port, uint16_t *http_port);
/* Raises this process's soft descriptor limit to the hard one (children
 * inherit it). */
void vg_bench_raise_nofile(void);

/* --- loopback ----------------------------------------------------------------- */

/* A port of 127.0.0.1 nothing listens on now, for a program that cannot
 * report the port it bound; 0 when there is none. */
uint16_t vg_bench_free_port(void);
/* A non-blocking TCP connection from 127.0.0.<src> (0: any) to
 * 127.0.0.1:port, perhaps still being made; -1 when the kernel refuses. */
int vg_bench_connect(unsigned src, uint16_t port);
/* Waits until the deadline (vg_bench_now_s; past: not at all) for fd to be
 * ready for events; 1 ready, 0 not. */
int vg_bench_wait_fd(int fd, short events, double deadline);
/* All n bytes to a non-blocking fd by the deadline; 0, or -1. */
int vg_bench_write_all(int fd, const void *p, size_t n, double deadline);
/* One HTTP request to 127.0.0.1:port within timeout_s: GET without a
 * body (HTTP/1.0), other methods with the body_len bytes of body_fd (from
 * its start; -1 for none) and a Content-Length (HTTP/1.1, the connection
 * closed after). Returns the status, 0 for none; with reply not NULL the
 * whole answer (status line and head included) is appended to it as a C
 * string, otherwise the status line is enough. */
int vg_bench_http(uint16_t port, const char *method, const char *path, int body_fd, off_t body_len,
		  double timeout_s, struct vg_buf *reply);
/* The value of the first line of text that is sample ("name" or
 * "name{...}") and a space: a /metrics page, say; -1 when none is. */
double vg_bench_metric_value(const char *text, const char *sample);

/* --- files ---------------------------------------------------------------------- */

/* A new directory $TMPDIR/vigil-bench-NAME-XXXXXX (TMPDIR unset: /tmp)
 * into out; 0, or -1 with a message. */
int vg_bench_tmpdir(const char *name, char *out, size_t cap);
/* Removes dir and all below it; 0, or -1 with a message. */
int vg_bench_rmdir(const char *dir);
/* Bytes (apparent sizes, as du -sb counts them) of dir, or with prefix
 * not NULL of the entries of dir whose names start with it, summed. */
uint64_t vg_bench_du_bytes(const char *dir, const char *prefix);

/* --- what a bench prints ---------------------------------------------------------- */

/* A message naming the program and, with err, its message; exits 1. */
_Noreturn void vg_bench_die(const char *what, const struct vg_err *err);

/* The RESULT line: key=value fields added as the bench goes, printed once
 * at the end. Zeroed (or VG_BENCH_RESULT_INIT) is empty. */
struct vg_bench_result {
	struct vg_buf line;
};
#define VG_BENCH_RESULT_INIT { VG_BUF_INIT }

/* Appends fields ("key=value key=value"), a space before them. */
void vg_bench_result_add(struct vg_bench_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "RESULT" and the fields on a line of its own, and empties r. */
void vg_bench_result_print(struct vg_bench_result *r);

#endif
