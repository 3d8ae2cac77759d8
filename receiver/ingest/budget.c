/*
 * budget.c: the accounting of budget.h. No I/O, no allocation: the
 * ingest loop decides what to pause and resume from these answers.
 */
#include "receiver/ingest/budget.h"

#include "common/banned.h"

void vg_budget_init(struct vg_budget *b, uint64_t limit)
{
	b->limit = limit;
	b->used = 0;
	b->granted = 0;
}

void vg_budget_charge(struct vg_budget *b, uint64_t *charged, uint64_t bytes)
{
	b->used = b->used - *charged + bytes;
	*charged = bytes;
}

bool vg_budget_has_room(const struct vg_budget *b)
{
	return b->used < b->limit;
}

bool vg_budget_grant(struct vg_budget *b, uint64_t *grant, uint64_t bytes)
{
	uint64_t more;

	if (bytes <= *grant)
		return true;
	more = bytes - *grant;
	if (b->granted + more > b->limit / 4 * 3)
		return false;
	b->granted += more;
	*grant = bytes;
	return true;
}

void vg_budget_release(struct vg_budget *b, uint64_t *grant)
{
	b->granted -= *grant;
	*grant = 0;
}
