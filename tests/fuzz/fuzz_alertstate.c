/*
 * fuzz_alertstate.c: libFuzzer target for the alert state file decoder
 * (receiver/alert/rules_persist.c). The input is a state file, checksum
 * included: the decoder refuses it whole or gives back groups and rules
 * whose every string is present. A second pass appends the checksum the
 * input lacks, so the bytes behind it are reached too.
 */
#include "common/err.h"
#include "receiver/alert/rules_persist.h"

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
	vg_rules_saved_release(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *p;
	uint64_t h;

	check(data, size);
	if (size > (1u << 20))
		return 0;
	p = malloc(size + 18);
	if (p == NULL)
		return 0;
	memcpy(p, "VGALERTS1\n", 10);
	memcpy(p + 10, data, size);
	h = XXH3_64bits(p, size + 10);
	for (int i = 0; i < 8; i++)
		p[size + 10 + i] = (uint8_t)(h >> (8 * i));
	check(p, size + 18);
	free(p);
	return 0;
}
