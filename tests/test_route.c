/*
 * test_route.c: routing by the ring on real processes. Three receivers,
 * an agent with replication_factor 2: its data reaches exactly the two
 * receivers the ring names for its host; while one of them is down the
 * other keeps receiving and the agent spools for the missing one, which
 * gets the rounds of its outage once it is back.
 */
#include "tests/harness.h"
#include "common/ring.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HOST "route-agent"

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Samples of selector on receiver r between two wall times (raw: 1 ms
 * step and lookback). */
static size_t raw_count(const struct vg_t_receiver *r, const char *selector, int64_t from_ms, int64_t to_ms)
{
	char path[1024];
	char *q = vg_t_urlencode(selector);
	long status;
	json_t *doc, *res;
	size_t n = 0;

	snprintf(path, sizeof(path), "/api/v1/query_range?query=%s&start=%.3f&end=%.3f&step=0.001&lookback_delta=0.001",
		 q, from_ms / 1000.0, to_ms / 1000.0);
	free(q);
	doc = vg_t_http_json(r->http_port, path, &status);
	if (doc == NULL)
		return 0;
	res = json_object_get(json_object_get(doc, "data"), "result");
	if (json_array_size(res) == 1)
		n = json_array_size(json_object_get(json_array_get(res, 0), "values"));
	json_decref(doc);
	return n;
}

START_TEST(test_three_receivers_replication_factor_2)
{
	struct vg_t_receiver rcv[3];
	struct vg_t_proc agent;
	char *dir = vg_t_tmpdir("vigil-route");
	char data[3][700], addr[3][64], list[200], conf[700], spool[700], log_path[700], listen[64];
	const char *members[3];
	struct vg_ring *ring;
	size_t idx[2];
	int64_t deadline, t_kill, t_back;
	const char *sel = "node_load1{instance=\"" HOST "\"}";
	FILE *f;

	for (int i = 0; i < 3; i++) {
		snprintf(data[i], sizeof(data[i]), "%s/data%d", dir, i);
		ck_assert_int_eq(vg_t_receiver_start(&rcv[i], data[i], NULL), 0);
		snprintf(addr[i], sizeof(addr[i]), "127.0.0.1:%u", rcv[i].port);
		members[i] = addr[i];
	}
	snprintf(list, sizeof(list), "%s,%s,%s", addr[0], addr[1], addr[2]);
	ck_assert_int_eq(vg_ring_new(members, 3, VG_RING_DEFAULT_VNODES, &ring, NULL), 0);
	ck_assert_uint_eq(vg_ring_lookup(ring, HOST, strlen(HOST), 2, idx), 2);
	vg_ring_free(ring);
	size_t other = 3 - idx[0] - idx[1];

	snprintf(conf, sizeof(conf), "%s/agent.yaml", dir);
	snprintf(spool, sizeof(spool), "%s/spool", dir);
	snprintf(log_path, sizeof(log_path), "%s/agent.log", dir);
	f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fputs("interval: 500ms\nreplication_factor: 2\nbackoff_max: 1s\n", f);
	fclose(f);
	char *argv[] = { (char *)vg_t_bin("vigil-agent"), "--config", conf, "--receivers", list, "--hostname", HOST,
			 "--spool-dir", spool, NULL };
	ck_assert_int_eq(vg_t_spawn(&agent, log_path, argv), 0);

	/* Both replicas receive; the third does not. */
	deadline = vg_t_now_ms() + 15000;
	while (raw_count(&rcv[idx[0]], sel, wall_ms() - 5000, wall_ms()) == 0 ||
	       raw_count(&rcv[idx[1]], sel, wall_ms() - 5000, wall_ms()) == 0) {
		ck_assert_msg(vg_t_now_ms() < deadline, "the replicas got no data (see %s)", agent.log_path);
		vg_t_sleep_ms(100);
	}
	ck_assert_uint_eq(raw_count(&rcv[other], sel, wall_ms() - 5000, wall_ms()), 0);

	/* The second replica goes down; the first keeps receiving. */
	ck_assert_int_eq(vg_t_stop(&rcv[idx[1]].proc, SIGKILL, 5000), 128 + SIGKILL);
	t_kill = wall_ms();
	/* Let the outage last at least three rounds on the first replica. */
	deadline = vg_t_now_ms() + 20000;
	while (raw_count(&rcv[idx[0]], sel, t_kill, wall_ms()) < 3) {
		ck_assert_msg(vg_t_now_ms() < deadline, "the live replica stopped receiving (see %s)", agent.log_path);
		vg_t_sleep_ms(200);
	}
	t_back = wall_ms();
	snprintf(listen, sizeof(listen), "--listen=%s", addr[idx[1]]);
	ck_assert_int_eq(vg_t_receiver_start(&rcv[idx[1]], data[idx[1]], listen), 0);

	/* It gets the rounds of its outage from the agent's spool. */
	deadline = vg_t_now_ms() + 20000;
	while (raw_count(&rcv[idx[1]], sel, t_kill, t_back) < 3) {
		ck_assert_msg(vg_t_now_ms() < deadline, "the returning replica did not get its spooled rounds (see %s)",
			      agent.log_path);
		vg_t_sleep_ms(200);
	}
	ck_assert_uint_eq(raw_count(&rcv[other], sel, wall_ms() - 5000, wall_ms()), 0);
	ck_assert_int_eq(vg_t_stop(&agent, SIGTERM, 5000), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(vg_t_stop(&rcv[i].proc, SIGTERM, 5000), 0);
	vg_t_rmrf(dir);
	free(dir);
}
END_TEST

static Suite *route_suite(void)
{
	Suite *s = suite_create("route");
	TCase *tc = tcase_create("ring");

	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_three_receivers_replication_factor_2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(route_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
