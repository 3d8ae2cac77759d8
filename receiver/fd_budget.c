/*
 * fd_budget.c: the descriptor split of fd_budget.h. Pure arithmetic on
 * RLIMIT_NOFILE; logs nothing (main.c reports the plan).
 */
#include "receiver/fd_budget.h"

#include <sys/resource.h>

#include "common/banned.h"

#define HTTP_AUTO_MAX 1024

void vg_fd_budget_plan(uint64_t agent_conns, uint64_t http_conns, struct vg_fd_plan *plan)
{
	struct rlimit rl;
	uint64_t limit = 1024, room;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			struct rlimit up = { rl.rlim_max, rl.rlim_max };
			if (setrlimit(RLIMIT_NOFILE, &up) == 0)
				rl.rlim_cur = rl.rlim_max;
		}
		limit = rl.rlim_cur == RLIM_INFINITY ? UINT32_MAX : (uint64_t)rl.rlim_cur;
	}
	room = limit > 2 * VG_FD_RESERVE ? limit - VG_FD_RESERVE : limit / 2;
	plan->limit = limit;
	if (http_conns == 0) {
		uint64_t rest = agent_conns && agent_conns < room ? room - agent_conns : room / 10;
		http_conns = rest < HTTP_AUTO_MAX ? rest : HTTP_AUTO_MAX;
		if (http_conns == 0)
			http_conns = 1;
	}
	if (agent_conns == 0)
		agent_conns = room > http_conns ? room - http_conns : 1;
	plan->agent_conns = agent_conns;
	plan->http_conns = http_conns;
	plan->is_overcommitted = agent_conns + http_conns > room;
}
