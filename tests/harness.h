/*
 * harness.h: what the end-to-end suites share: temporary directories,
 * starting the real programs on loopback and stopping them by PID, HTTP
 * requests to a receiver, and running the CLI.
 *
 * Every daemon a test starts listens on port 0 and reports its ports in a
 * port file; every wait has a deadline; every child gets PR_SET_PDEATHSIG,
 * so a test killed by its timeout takes its daemons with it.
 *
 * VG_BUILDDIR (environment, else the build directory compiled in) is where
 * the programs are found.
 */
#ifndef VG_TEST_HARNESS_H
#define VG_TEST_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "common/frame.h"

struct vg_t_proc {
	pid_t pid;
	char log_path[1024];
};

/* A new directory under $TMPDIR or /tmp; caller frees the string. */
char *vg_t_tmpdir(const char *prefix);
/* rm -r, for a directory made by vg_t_tmpdir. */
void vg_t_rmrf(const char *path);

/* The path of a built program ("vigil-receiver"), in a static buffer per call slot. */
const char *vg_t_bin(const char *name);

/* Starts argv (argv[0] a path) with stdout and stderr appended to log_path. */
int vg_t_spawn(struct vg_t_proc *p, const char *log_path, char *const argv[]);
/* Sends sig and waits up to timeout_ms, then SIGKILL; returns the exit
 * status (128+signal when killed by one), or -1. */
int vg_t_stop(struct vg_t_proc *p, int sig, int timeout_ms);
bool vg_t_alive(struct vg_t_proc *p);
/* Whether the log file contains s. */
bool vg_t_log_contains(const struct vg_t_proc *p, const char *s);
/* Waits up to timeout_ms for the log file to contain s. */
bool vg_t_wait_log(const struct vg_t_proc *p, const char *s, int timeout_ms);

struct vg_t_receiver {
	struct vg_t_proc proc;
	char data_dir[512];
	char port_file[512];
	uint16_t port;
	uint16_t http_port;
};

/* Starts vigil-receiver on 127.0.0.1 with ephemeral ports on data_dir
 * (created if needed) and waits for its port file (10 s). Without the
 * default rules and the self metrics (--no-default-rules,
 * --self-metrics-interval=0), which would add alerts and series to what
 * a suite counts; test_loss.c turns them on. */
int vg_t_receiver_start(struct vg_t_receiver *r, const char *data_dir, const char *extra_arg);

/* Starts vigil-receiver on 127.0.0.1 with ephemeral ports, data in
 * dir/data, the configuration text config (may be NULL) in
 * dir/receiver.yaml, its log in dir/receiver.log and, when nofile is not
 * 0, that descriptor limit (soft and hard, under prlimit); waits for its
 * port file (10 s). 0, or -1 when it did not start. The default rules and
 * the self metrics are off unless config names default_rules or
 * self_metrics_interval (then the file says). */
int vg_t_receiver_start_config(struct vg_t_receiver *r, const char *dir, const char *config, unsigned nofile);

/* The resident set of process pid, from /proc (kB), or -1. */
long vg_t_rss_kb(pid_t pid);
/* 1 if a line of /proc/pid/maps (a mapped file's path) contains s, 0 if
 * none does, -1 if the process's maps cannot be read (it is gone). */
int vg_t_maps_contain(pid_t pid, const char *s);

/* Stops thread tid of a child process (the main thread: tid == pid) while
 * its other threads run, as a stalled disk or loop would hold it
 * (ptrace: PTRACE_SEIZE, then PTRACE_INTERRUPT, its stop waited for);
 * vg_t_thread_resume lets it go on (PTRACE_DETACH; the test's exit does
 * too). 0, or -1 when ptrace is refused (errno says why). While the main
 * thread is stopped, neither vg_t_alive nor vg_t_stop the process: their
 * waitpid would take the stop for an exit. */
int vg_t_thread_stop(pid_t tid);
int vg_t_thread_resume(pid_t tid);

/* Starts vigil-agent sending to 127.0.0.1:port every interval, spooling
 * to dir/spool-<hostname>. */
int vg_t_agent_start(struct vg_t_proc *p, const char *dir, uint16_t port, const char *interval,
		     const char *hostname);

/* GET http://127.0.0.1:port<path_and_query>; returns the parsed JSON (caller
 * json_decref's) or NULL; *status gets the HTTP status. */
json_t *vg_t_http_json(uint16_t port, const char *path_and_query, long *status);
/* The same returning the raw body (caller frees). */
char *vg_t_http_get(uint16_t port, const char *path_and_query, long *status);
/* POSTs body (sent as a form, libcurl's default type) and returns the
 * reply's body as vg_t_http_get does. */
char *vg_t_http_post(uint16_t port, const char *path_and_query, const void *body, size_t len,
		     long *status);
/* The number of points a range query over [start, end] s at step s
 * returns for sel, summed over its series; fails the test on an error. */
size_t vg_t_count_samples(uint16_t port, const char *sel, long start, long end, long step);
/* URL-encodes s into a new string. */
char *vg_t_urlencode(const char *s);

/* Runs argv to completion (timeout_ms), capturing stdout and stderr into
 * new strings; returns the exit status, or -1. */
int vg_t_run(char *const argv[], char **out, char **err, int timeout_ms);

/* A raw protocol client, for tests that speak to the receiver directly. */
struct vg_buf;
struct vg_frame_header;
/* A blocking TCP connection to 127.0.0.1:port, or -1. */
int vg_t_connect(uint16_t port);
/* Reads one HTTP reply from fd, appended raw to out (status line, headers,
 * body): until its Content-Length body has come (a 204 ends with its
 * head), the peer closes, or wait_ms pass; with until_close only the
 * close or the time end it. */
void vg_t_http_read_reply(int fd, int wait_ms, bool until_close, struct vg_buf *out);
/* Writes all of p; 0, or -1 when the peer is gone. */
int vg_t_write_all(int fd, const void *p, size_t n);
/* Reads one frame within timeout_ms: 0 with header and raw payload
 * (decompressed, into payload), 1 if the peer closed, -1 on timeout or
 * a malformed frame. */
int vg_t_read_frame(int fd, int timeout_ms, struct vg_frame_header *h, struct vg_buf *payload);
/* Sends HELLO for agent with epoch and waits for its ACK; 0 or -1. */
int vg_t_hello(int fd, const char *agent, uint64_t epoch, uint64_t *acked);

/* Raw agent frames (protocol 1): one frame; a SERIES frame defining ref 0
 * as name{job="<job>"}; a SAMPLES frame of one sample of ref 0; waiting
 * (5 s at most a frame) for an ACK covering seq, returning the highest. */
void vg_t_send_frame(int fd, enum vg_frame_type type, uint64_t seq, const struct vg_buf *raw);
/* The same as a protocol 2 frame. */
void vg_t_send_frame_v2(int fd, enum vg_frame_type type, uint64_t seq, const struct vg_buf *raw);
void vg_t_define_series(int fd, const char *name, const char *job);
void vg_t_send_sample(int fd, uint64_t seq, int64_t ts, double v);
uint64_t vg_t_wait_ack(int fd, uint64_t seq);

/* How many entries of directory dir end in suffix (0 if dir is missing). */
int vg_t_count_files(const char *dir, const char *suffix);

/* Throwaway certificates in d, by openssl: a CA (ca.crt, ca.key), a
 * server certificate it signed for localhost and 127.0.0.1 (server.crt,
 * server.key), a client certificate for clientAuth (client.crt,
 * client.key) and another CA that signed nothing (other-ca.crt); 0 when
 * openssl made them all. */
int vg_t_make_certs(const char *d);

/* A receiver's driven clock (testing_clock_file): writes ms to path
 * atomically (a new file renamed over it); 0 or -1. */
int vg_t_write_clock(const char *path, int64_t ms);

/* Writes text as DIR/rules/NAME, making DIR/rules when it is not there
 * (for a rule_files pattern of rules/ and a suffix); 0 or -1. */
int vg_t_write_rules(const char *dir, const char *name, const char *text);

/* Waits until every rule group of the receiver at http_port has its last
 * evaluation at ms (GET /api/v1/rules); 0, or -1 after timeout_ms. */
int vg_t_wait_rule_evaluation(uint16_t http_port, int64_t ms, int timeout_ms);

/* tests/http_sink.py, a real HTTP endpoint (see its header): started in
 * dir answering with responses ("503,200": the last repeats), each answer
 * held delay seconds when delay is not NULL, a Retry-After of
 * retry_after (delta seconds or an HTTP date, as given) on 429 and 503
 * when it is not NULL; 0 once it listens (s->port), -1 when it did not
 * start within 10 s. */
struct vg_t_sink {
	struct vg_t_proc proc;
	char log[600];
	uint16_t port;
};
int vg_t_sink_start(struct vg_t_sink *s, const char *dir, const char *responses, const char *delay,
		    const char *retry_after);
/* The requests received so far, as a JSON array of the sink's records
 * (method, path, query, headers, body, status); caller json_decref's. */
/* The same with more of the sink's flags (NULL-terminated; may be NULL):
 * --tls-cert, --tls-key, --client-ca, --location, ... */
int vg_t_sink_start_argv(struct vg_t_sink *s, const char *dir, const char *responses, char *const *extra);
json_t *vg_t_sink_requests(const struct vg_t_sink *s);
/* Waits up to timeout_ms for at least n requests; how many there are. */
size_t vg_t_sink_wait(const struct vg_t_sink *s, size_t n, int timeout_ms);

/* A TCP port on 127.0.0.1 free a moment ago (for a program that cannot
 * report the one it picked), or -1. */
int vg_t_free_port(void);
/* Starts Debian's prometheus-alertmanager on the configuration file cfg
 * with its storage in dir/am-data and its log in dir/am.log, on a free
 * port (tried up to three times), and waits for /-/ready; the port, or
 * -1 when it did not start. */
int vg_t_alertmanager_start(struct vg_t_proc *p, const char *dir, const char *cfg);
/* The value of sample (a name, or a name with its labels as the
 * exposition writes them) in the /metrics of the receiver at http_port;
 * -1 when it is not there. */
double vg_t_metric(uint16_t http_port, const char *sample);
/* Writes text to dir/bad.yaml and runs vigil-receiver --check-config on
 * it: the test fails unless it is taken (want NULL) or refused with want
 * in its message. */
void vg_t_check_receiver_config(const char *dir, const char *text, const char *want);

/* Sleeps ms milliseconds. */
void vg_t_sleep_ms(int ms);
int64_t vg_t_now_ms(void);

#endif
