/*
 * alert.c: the alert identity of alert.h. Alertmanager's fingerprint, so a
 * webhook receiver, a PagerDuty dedup_key and amtool see the same value for
 * the same label set as Alertmanager would give it.
 */
#include "receiver/alert/alert.h"

#include "common/buf.h"
#include "common/json.h"

#include "common/banned.h"

#define FNV_OFFSET 14695981039346656037ull
#define FNV_PRIME 1099511628211ull

static uint64_t fnv_bytes(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= FNV_PRIME;
	}
	h ^= 0xFF;
	return h * FNV_PRIME;
}

uint64_t vg_alert_fingerprint(const struct vg_conf_labels *labels)
{
	uint64_t h = FNV_OFFSET;

	/* The labels are sorted by name (alert.h): no copy to sort here. */
	for (size_t i = 0; i < labels->n; i++) {
		h = fnv_bytes(h, labels->names[i]);
		h = fnv_bytes(h, labels->values[i]);
	}
	return h;
}

void vg_alert_fingerprint_hex(uint64_t fp, char out[17])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 15; i >= 0; i--) {
		out[i] = digits[fp & 0xF];
		fp >>= 4;
	}
	out[16] = '\0';
}

void vg_alert_json_labels(struct vg_buf *b, const struct vg_conf_labels *l)
{
	vg_buf_putc(b, '{');
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			vg_buf_putc(b, ',');
		vg_json_cstr(b, l->names[i]);
		vg_buf_putc(b, ':');
		vg_json_cstr(b, l->values[i]);
	}
	vg_buf_putc(b, '}');
}
