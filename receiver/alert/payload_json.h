/*
 * payload_json.h: the JSON readers the notifier's decoders share (the
 * webhook message in payload.c, the queue's records, the /api/v2 bodies in
 * notifier_silence.c), on jansson values. Each checks type and bounds and
 * names the field in err; outputs are owned by the caller.
 */
#ifndef VG_PAYLOAD_JSON_H
#define VG_PAYLOAD_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "receiver/alert/payload.h"

/* Parses text[0..len) (at most max bytes, duplicate keys refused) into
 * *out (json_decref it). */
int vg_pj_load(const char *text, size_t len, size_t max, json_t **out, struct vg_err *err);
/* An object of strings into sorted labels (NULL or null: none). */
int vg_pj_labels(const json_t *obj, const char *what, struct vg_conf_labels *out, struct vg_err *err);
/* An RFC 3339 string (Go's zero time, "" or absent: 0). */
int vg_pj_time(const json_t *v, const char *what, int64_t *ms, struct vg_err *err);
/* A string, copied; absent is NULL unless required. */
int vg_pj_str(const json_t *v, const char *what, bool is_required, char **out, struct vg_err *err);
/* One alert in Alertmanager's postable shape (labels, annotations,
 * startsAt, endsAt, generatorURL); is_firing left for the caller. */
int vg_pj_alert(const json_t *o, struct vg_notify_alert *a, struct vg_err *err);
void vg_pj_alert_release(struct vg_notify_alert *a);
/* A webhook v4 message object. */
int vg_pj_payload(const json_t *o, struct vg_payload *p, struct vg_err *err);

#endif
