/*
 * test_collect_names.c: the agent's host metrics against Debian's
 * prometheus-node-exporter on this host. Both run side by side: the
 * exporter (only the collectors the agent has, on a free loopback port,
 * stopped by PID) and a real agent sending to a real receiver, whose
 * /api/v1/series lists what the agent sent. For every metric name of those
 * collectors, the sets of label names (labels with an empty value are
 * absent, as a Prometheus scrape makes them) must be equal on both sides,
 * values aside; a name only one side has fails. The exceptions are the
 * differences vigil-agent(8) documents under "Differences from
 * node_exporter": documented[] below mirrors that list.
 * Also checks the agent's self-metrics per collector, and that a collector
 * whose source this kernel lacks is logged once and counted.
 */
#include "agent/collect/collect.h"
#include "common/err.h"
#include "common/exposition.h"
#include "common/series.h"
#include "tests/harness.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/banned.h"

#define NODE_EXPORTER "/usr/bin/prometheus-node-exporter"
#define HOST "names-host"

/* The collectors both have (the agent's textfile reads only a configured
 * directory, so it is compared by the textfile suite). */
static const char *const collectors[] = {
	"cpu", "meminfo", "filesystem", "loadavg", "filefd", "entropy", "stat", "diskstats", "netdev",
	"netstat", "sockstat", "pressure", "vmstat", "conntrack", "time", "uname",
};

/* vigil-agent(8), "Differences from node_exporter": a metric only one side
 * has. Keep the two lists in step. */
static const char *const documented[] = {
	/* node_exporter 1.5 reads network counters over netlink by default;
	 * /proc/net/dev has no "nohandler" column. */
	"node_network_receive_nohandler_total",
	/* node_exporter's labels from udev (model, path, revision, serial,
	 * wwn): equal here while udev has none of them, documented for hosts
	 * where it has. */
	"node_disk_info",
};

/* One side's view: "name{label,label}" signatures, sorted, unique. */
struct sigs {
	char **v;
	size_t n, cap;
};

static void sigs_add(struct sigs *s, const char *sig)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], sig) == 0)
			return;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		ck_assert_ptr_nonnull(s->v);
	}
	s->v[s->n++] = strdup(sig);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sigs_free(struct sigs *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

/* Whether signature sig's metric name is in the side s (any labels). */
static bool has_name(const struct sigs *s, const char *sig)
{
	size_t n = strcspn(sig, "{");

	for (size_t i = 0; i < s->n; i++)
		if (strncmp(s->v[i], sig, n) == 0 && s->v[i][n] == '{')
			return true;
	return false;
}

static bool is_documented(const char *sig)
{
	size_t n = strcspn(sig, "{");

	for (size_t i = 0; i < sizeof(documented) / sizeof(documented[0]); i++)
		if (strlen(documented[i]) == n && strncmp(documented[i], sig, n) == 0)
			return true;
	return false;
}

/* node_* metrics of the host collectors: not the exporter's own
 * (node_scrape_collector_*, node_exporter_build_info, node_textfile_*). */
static bool is_host_metric(const char *name, size_t len)
{
	return len > 5 && strncmp(name, "node_", 5) == 0 && strncmp(name, "node_scrape_", 12) != 0 &&
	       strncmp(name, "node_exporter_", 14) != 0 && strncmp(name, "node_textfile_", 14) != 0;
}

/* "name{a,b}" of a canonical series without the labels in skip. */
static void signature(const struct vg_series *s, const char *skip, char *out, size_t size)
{
	size_t n = (size_t)snprintf(out, size, "%.*s{", (int)s->name.len, s->name.p);
	bool is_first = true;

	for (uint32_t i = 0; i < s->n_labels && n < size; i++) {
		if (skip && vg_str_eq_c(s->labels[i].name, skip))
			continue;
		n += (size_t)snprintf(out + n, size - n, "%s%.*s", is_first ? "" : ",", (int)s->labels[i].name.len,
				      s->labels[i].name.p);
		is_first = false;
	}
	if (n < size)
		snprintf(out + n, size - n, "}");
}

static int on_exporter_sample(void *ctx, const struct vg_exposition_sample *smp)
{
	char sig[1024];

	if (!is_host_metric(smp->series->name.p, smp->series->name.len))
		return 0;
	signature(smp->series, NULL, sig, sizeof(sig));
	sigs_add(ctx, sig);
	return 0;
}

static int on_exporter_error(void *ctx, uint64_t line, int code, const char *reason)
{
	(void)ctx;
	(void)code;
	ck_abort_msg("node_exporter's /metrics line %llu: %s", (unsigned long long)line, reason);
	return 0;
}

/* A port nothing listens on now (bound to 0 and let go: the exporter
 * cannot report the port it chose). */
static uint16_t free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static void exporter_sigs(const char *dir, struct sigs *out)
{
	char listen[64], log_path[600];
	char *argv[6 + sizeof(collectors) / sizeof(collectors[0])];
	char flags[sizeof(collectors) / sizeof(collectors[0])][64];
	struct vg_exposition_config cfg = { 0 };
	struct vg_exposition *p;
	struct vg_t_proc ne;
	struct vg_err err;
	char *body = NULL;
	long status = 0;
	uint16_t port = free_port();
	size_t k = 0;

	ck_assert_msg(access(NODE_EXPORTER, X_OK) == 0,
		      NODE_EXPORTER " is missing: install Debian's prometheus-node-exporter");
	snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%u", port);
	snprintf(log_path, sizeof(log_path), "%s/node_exporter.log", dir);
	argv[k++] = (char *)NODE_EXPORTER;
	argv[k++] = listen;
	argv[k++] = (char *)"--collector.disable-defaults";
	/* Debian's package skips /run, /mnt and /media too; with the agent's
	 * (upstream's) filters both see the same file systems. */
	argv[k++] = (char *)"--collector.filesystem.mount-points-exclude=" VG_COLLECT_DEFAULT_MOUNT_EXCLUDE;
	argv[k++] = (char *)"--collector.filesystem.fs-types-exclude=" VG_COLLECT_DEFAULT_FSTYPE_EXCLUDE;
	for (size_t i = 0; i < sizeof(collectors) / sizeof(collectors[0]); i++) {
		snprintf(flags[i], sizeof(flags[i]), "--collector.%s", collectors[i]);
		argv[k++] = flags[i];
	}
	argv[k] = NULL;
	ck_assert_int_eq(vg_t_spawn(&ne, log_path, argv), 0);
	for (int64_t end = vg_t_now_ms() + 10000; vg_t_now_ms() < end; vg_t_sleep_ms(100)) {
		body = vg_t_http_get(port, "/metrics", &status);
		if (body && status == 200)
			break;
		free(body);
		body = NULL;
	}
	vg_t_stop(&ne, SIGTERM, 5000);
	ck_assert_msg(body != NULL, "node_exporter did not answer on port %u within 10 s", port);
	cfg.on_sample = on_exporter_sample;
	cfg.on_error = on_exporter_error;
	cfg.ctx = out;
	ck_assert_int_eq(vg_exposition_new(&cfg, &p, &err), 0);
	ck_assert_int_eq(vg_exposition_feed(p, body, strlen(body)), 0);
	ck_assert_int_eq(vg_exposition_finish(p), 0);
	vg_exposition_free(p);
	free(body);
}

/* The agent's series as the receiver lists them, without instance. */
static void agent_sigs(uint16_t http_port, struct sigs *out, struct sigs *self)
{
	json_t *doc = NULL, *data;
	long status = 0;
	size_t i;
	json_t *row;
	char *q = vg_t_urlencode("{instance=\"" HOST "\"}");
	char path[512];

	snprintf(path, sizeof(path), "/api/v1/series?match[]=%s", q);
	free(q);
	/* Every collector has run once when its duration is listed; a round
	 * later, every series of that round is too. */
	for (int64_t end = vg_t_now_ms() + 20000; vg_t_now_ms() < end; vg_t_sleep_ms(200)) {
		size_t n_durations = 0;
		bool has_uname = false;

		json_decref(doc);
		doc = vg_t_http_json(http_port, path, &status);
		if (doc == NULL || status != 200)
			continue;
		json_array_foreach(json_object_get(doc, "data"), i, row) {
			const char *name = json_string_value(json_object_get(row, "__name__"));
			if (name && strcmp(name, "vigil_agent_collector_duration_seconds") == 0)
				n_durations++;
			if (name && strcmp(name, "node_uname_info") == 0)
				has_uname = true;
		}
		if (n_durations == sizeof(collectors) / sizeof(collectors[0]) && has_uname)
			break;
	}
	ck_assert_msg(doc != NULL && status == 200, "no series from the receiver");
	/* One more round, so series a collector emits from its second round
	 * on would be there too. */
	vg_t_sleep_ms(1500);
	json_decref(doc);
	doc = vg_t_http_json(http_port, path, &status);
	ck_assert_ptr_nonnull(doc);
	data = json_object_get(doc, "data");
	json_array_foreach(data, i, row) {
		struct vg_series s;
		const char *key;
		json_t *v;
		const char *name = json_string_value(json_object_get(row, "__name__"));
		char sig[1024];

		ck_assert_ptr_nonnull(name);
		vg_series_init(&s, name);
		json_object_foreach(row, key, v) {
			if (strcmp(key, "__name__") != 0)
				vg_series_add(&s, key, json_string_value(v));
		}
		ck_assert_int_eq(vg_series_canonicalize(&s, NULL), 0);
		signature(&s, "instance", sig, sizeof(sig));
		if (is_host_metric(name, strlen(name)))
			sigs_add(out, sig);
		else
			sigs_add(self, sig);
	}
	json_decref(doc);
}

START_TEST(test_names_match_node_exporter)
{
	char *dir = vg_t_tmpdir("vg-names");
	char data_dir[600];
	struct vg_t_receiver rcv;
	struct vg_t_proc agent;
	struct sigs ne = { 0 }, ours = { 0 }, self = { 0 };
	size_t n_bad = 0;

	snprintf(data_dir, sizeof(data_dir), "%s/data", dir);
	ck_assert_int_eq(vg_t_receiver_start(&rcv, data_dir, NULL), 0);
	ck_assert_int_eq(vg_t_agent_start(&agent, dir, rcv.port, "1s", HOST), 0);
	exporter_sigs(dir, &ne);
	agent_sigs(rcv.http_port, &ours, &self);
	vg_t_stop(&agent, SIGTERM, 5000);
	vg_t_stop(&rcv.proc, SIGTERM, 10000);

	qsort(ne.v, ne.n, sizeof(*ne.v), cmp_str);
	qsort(ours.v, ours.n, sizeof(*ours.v), cmp_str);
	ck_assert_msg(ne.n > 50, "node_exporter gave only %zu host series", ne.n);
	fprintf(stderr, "compared %zu node_exporter and %zu agent metric signatures\n", ne.n, ours.n);
	for (size_t i = 0; i < ne.n; i++) {
		bool is_found = false;
		for (size_t j = 0; j < ours.n && !is_found; j++)
			is_found = strcmp(ne.v[i], ours.v[j]) == 0;
		if (!is_found && !is_documented(ne.v[i])) {
			fprintf(stderr, "node_exporter has %s, the agent %s\n", ne.v[i],
				has_name(&ours, ne.v[i]) ? "other labels" : "not this metric");
			n_bad++;
		}
	}
	for (size_t j = 0; j < ours.n; j++) {
		bool is_found = false;
		for (size_t i = 0; i < ne.n && !is_found; i++)
			is_found = strcmp(ne.v[i], ours.v[j]) == 0;
		if (!is_found && !is_documented(ours.v[j])) {
			fprintf(stderr, "the agent has %s, node_exporter %s\n", ours.v[j],
				has_name(&ne, ours.v[j]) ? "other labels" : "not this metric");
			n_bad++;
		}
	}
	ck_assert_msg(n_bad == 0, "%zu metric names or label sets differ from node_exporter's (listed above)",
		      n_bad);
	/* Self-metrics: per collector (agent_sigs waited for one duration
	 * per collector), and the round counter. */
	{
		bool has_errors = false, has_duration = false, has_rounds = false;
		for (size_t j = 0; j < self.n; j++) {
			has_errors |= strcmp(self.v[j], "vigil_agent_collector_errors_total{collector}") == 0;
			has_duration |= strcmp(self.v[j], "vigil_agent_collector_duration_seconds{collector}") == 0;
			has_rounds |= strcmp(self.v[j], "vigil_agent_rounds_total{}") == 0;
		}
		ck_assert(has_errors && has_duration && has_rounds);
	}
	sigs_free(&ne);
	sigs_free(&ours);
	sigs_free(&self);
	vg_t_rmrf(dir);
	free(dir);
}
END_TEST


/* Occurrences of s in the file at path. */
static int count_in_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	int n = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		for (const char *p = line; (p = strstr(p, s)) != NULL; p += strlen(s))
			n++;
	fclose(f);
	return n;
}

/* The value of the one series the instant query q returns, or -1. */
static double query_value(uint16_t http_port, const char *q)
{
	char *enc = vg_t_urlencode(q), path[1024];
	long status = 0;
	json_t *doc, *res;
	double v = -1;

	snprintf(path, sizeof(path), "/api/v1/query?query=%s", enc);
	free(enc);
	doc = vg_t_http_json(http_port, path, &status);
	if (doc == NULL)
		return -1;
	res = json_object_get(json_object_get(doc, "data"), "result");
	if (status == 200 && json_array_size(res) == 1)
		v = atof(json_string_value(json_array_get(json_object_get(json_array_get(res, 0), "value"), 1)));
	json_decref(doc);
	return v;
}

/* A kernel without PSI or conntrack (the old-kernel fixture as /proc):
 * the agent says so once per collector, keeps running the others, and
 * counts the failed rounds. */
START_TEST(test_absent_source_said_once_and_counted)
{
	char *dir = vg_t_tmpdir("vg-absent");
	char data_dir[600], server[64], log_path[700], spool[700];
	struct vg_t_receiver rcv;
	struct vg_t_proc agent;
	double errors = -1, load = -1;

	snprintf(data_dir, sizeof(data_dir), "%s/data", dir);
	ck_assert_int_eq(vg_t_receiver_start(&rcv, data_dir, NULL), 0);
	snprintf(server, sizeof(server), "127.0.0.1:%u", rcv.port);
	snprintf(log_path, sizeof(log_path), "%s/agent.log", dir);
	snprintf(spool, sizeof(spool), "%s/spool", dir);
	char *argv[] = { (char *)vg_t_bin("vigil-agent"), "--server", server, "--interval", "200ms",
			 "--hostname", "absent-host", "--config", "/dev/null", "--spool-dir", spool,
			 "--proc-path", VG_TEST_DATA "/proc-old", NULL };
	ck_assert_int_eq(vg_t_spawn(&agent, log_path, argv), 0);
	for (int64_t end = vg_t_now_ms() + 20000; vg_t_now_ms() < end && errors < 5; vg_t_sleep_ms(200))
		errors = query_value(rcv.http_port,
				     "vigil_agent_collector_errors_total{instance=\"absent-host\",collector=\"pressure\"}");
	load = query_value(rcv.http_port, "node_forks_total{instance=\"absent-host\"}");
	vg_t_stop(&agent, SIGTERM, 5000);
	vg_t_stop(&rcv.proc, SIGTERM, 10000);
	ck_assert_msg(errors >= 5, "pressure errors counted: %g", errors);
	ck_assert_msg(load >= 0, "the other collectors stopped too");
	ck_assert_int_eq(count_in_file(log_path, "collector pressure:"), 1);
	ck_assert_int_eq(count_in_file(log_path, "collector conntrack:"), 1);
	ck_assert_int_eq(count_in_file(log_path, "collector meminfo:"), 1); /* no meminfo in it */
	ck_assert_int_eq(count_in_file(log_path, "collector stat:"), 0);
	vg_t_rmrf(dir);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("collect_names");
	TCase *tc = tcase_create("names");
	SRunner *sr;
	int nf;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_names_match_node_exporter);
	tcase_add_test(tc, test_absent_source_said_once_and_counted);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
