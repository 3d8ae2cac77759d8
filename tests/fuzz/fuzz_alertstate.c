/*
 * fuzz_alertstate.c: libFuzzer target for the alert state file decoder
 * (receiver/alert/rules_persist.c). The input is a state file, checksum
 * included: the decoder refuses it whole or gives back groups and rules
 * whose every string is present. Further passes put each version's
 * magic before the input and append the checksum it lacks, so the bytes
 * behind them are reached too. What is decoded then goes through the
 * state machine as a restart's first evaluation would (rules_state.h,
 * with flap control), which must take any state the decoder gives.
 */
#include "common/err.h"
#include "receiver/alert/alert.h"
#include "receiver/alert/rules_persist.h"
#include "receiver/alert/rules_state.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const uint8_t *p, size_t n)
{
	struct vg_rules_saved s;
	struct vg_err err;

	if (vg_rules_persist_decode(p, n, &s, &err) != 0)
		return;
	for (size_t i = 0; i < s.n_groups; i++)
		if (s.groups[i].file == NULL || s.groups[i].name == NULL)
			abort();
	for (size_t i = 0; i < s.n_rules; i++)
		for (size_t k = 0; k < s.rules[i].table.n; k++) {
			const struct vg_conf_labels *l = &s.rules[i].table.v[k].labels;
			for (size_t j = 0; j < l->n; j++)
				if (l->names[j] == NULL || l->values[j] == NULL)
					abort();
		}
	/* An evaluation after the restart: the first instance of each rule
	 * returned again, the second held, the rest gone. */
	for (size_t i = 0; i < s.n_rules; i++) {
		struct vg_alert_table *t = &s.rules[i].table;
		struct vg_conf_labels none = { 0, NULL, NULL };
		struct vg_conf_labels first = { 0, NULL, NULL };
		int64_t ts = s.n_groups ? s.groups[0].last_eval_ms + 30000 : 30000;

		for (size_t k = 0; k < t->n; k++)
			t->v[k].fp = vg_alert_fingerprint(&t->v[k].labels);
		vg_alert_table_begin(t);
		if (t->n > 0 && vg_alert_labels_copy(&t->v[0].labels, &first) == 0) {
			(void)vg_alert_table_observe(t, &first, &none, 1, ts, &err);
			vg_conf_labels_release(&first);
		}
		if (t->n > 1)
			(void)vg_alert_table_hold(t, &t->v[1].labels);
		(void)vg_alert_table_end_flap(t, ts, 60000, 60000, 600000);
		for (size_t k = 0; k < t->n; k++)
			if (t->v[k].state > VG_ALERT_FIRING)
				abort();
	}
	vg_rules_saved_release(&s);
}

/* magic, data, then its checksum. */
static void check_framed(const char *magic, const uint8_t *data, size_t size)
{
	uint8_t *p = malloc(size + 18);
	uint64_t h;

	if (p == NULL)
		return;
	memcpy(p, magic, 10);
	memcpy(p + 10, data, size);
	h = XXH3_64bits(p, size + 10);
	for (int i = 0; i < 8; i++)
		p[size + 10 + i] = (uint8_t)(h >> (8 * i));
	check(p, size + 18);
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(data, size);
	if (size > (1u << 20))
		return 0;
	check_framed("VGALERTS1\n", data, size);
	check_framed("VGALERTS2\n", data, size);
	return 0;
}
