/*
 * statsd_listen.h: the StatsD UDP socket in the agent's event loop.
 *
 * Reads every datagram waiting at each wakeup with recvmmsg (up to
 * VG_STATSD_BATCH at a time, and at most VG_STATSD_MAX_ROUNDS batches per
 * wakeup so a flood cannot starve the loop's timers; under heavy traffic
 * every VG_STATSD_POLL_US instead of at each wakeup), parses each
 * (statsd.h) into the aggregate (aggregate.h). The socket's receive
 * buffer is sized at start (SO_RCVBUFFORCE when permitted, else
 * SO_RCVBUF up to net.core.rmem_max), and the kernel's count of
 * datagrams dropped for want of room (sk_drops: what SO_RXQ_OVFL and
 * /proc/net/udp show, read with SO_MEMINFO) is reported.
 *
 * A datagram longer than VG_STATSD_DATAGRAM_BYTES is cut by the kernel:
 * its last, cut line is dropped and the datagram counted as truncated.
 */
#ifndef VG_STATSD_LISTEN_H
#define VG_STATSD_LISTEN_H

#include <stdint.h>

#include "agent/collect/statsd.h"

struct event_base;
struct vg_aggregate;
struct vg_err;

#define VG_STATSD_BATCH 64
#define VG_STATSD_MAX_ROUNDS 64
#define VG_STATSD_POLL_US 1000
#define VG_STATSD_DATAGRAM_BYTES 16384

struct vg_statsd_listener_options {
	struct event_base *base;
	const char *listen;          /* "HOST:PORT"; an empty HOST: every address */
	uint64_t receive_buffer_bytes; /* wanted SO_RCVBUF; 0: the system's */
	struct vg_aggregate *aggregate; /* borrowed, outlives the listener */
};

struct vg_statsd_listener_stats {
	uint64_t packets, bytes;
	uint64_t truncated;       /* datagrams cut at VG_STATSD_DATAGRAM_BYTES */
	uint64_t socket_drops;    /* sk_drops: dropped by the kernel, buffer full */
	uint64_t receive_errors;
	uint64_t receive_buffer_bytes; /* what the kernel granted */
	struct vg_statsd_counts lines;
};

struct vg_statsd_listener;

/* Binds and starts reading. VG_EINVAL for an address that does not
 * parse, VG_EIO (with the address and errno) when it cannot be bound. */
int vg_statsd_listener_new(const struct vg_statsd_listener_options *opts, struct vg_statsd_listener **out,
			   struct vg_err *err);
void vg_statsd_listener_free(struct vg_statsd_listener *l);
/* Asks for a new receive buffer (as receive_buffer_bytes; 0 leaves the
 * socket's as it is); the stats say what the kernel granted. */
void vg_statsd_listener_set_receive_buffer(struct vg_statsd_listener *l, uint64_t bytes);
/* A listener replacing another (a new address on reload): its counters
 * go on from from, the other's last stats (the kernel's drops at its
 * socket included), so the vigil_agent_statsd_* totals do not restart. */
void vg_statsd_listener_continue(struct vg_statsd_listener *l, const struct vg_statsd_listener_stats *from);
/* Reads what waits at the socket now (before a last round at stop). */
void vg_statsd_listener_drain(struct vg_statsd_listener *l);
/* The bound port (the one the kernel chose for port 0). */
uint16_t vg_statsd_listener_port(const struct vg_statsd_listener *l);
void vg_statsd_listener_get_stats(const struct vg_statsd_listener *l, struct vg_statsd_listener_stats *out);

#endif
