/*
 * tls.h: TLS on the receiver's agent listener. A server context made once
 * from the configured certificate chain and key (and, when given, the CAs
 * agents' client certificates must chain to: then a certificate is
 * required), and a bufferevent per accepted connection that runs the
 * handshake before ingest sees a byte.
 *
 * The receiver is linked with OpenSSL (unlike the agent, whose memory
 * budget keeps it out until configured: agent/tls.h).
 *
 * Threads: one context per listener, used on that listener's loop.
 */
#ifndef VG_INGEST_TLS_H
#define VG_INGEST_TLS_H

#include <stddef.h>

#include <event2/util.h>

struct bufferevent;
struct event_base;
struct vg_err;

struct vg_tls_server;

/* Reads the files now: a missing or unreadable one, or a key that does not
 * match the certificate, is an error naming the file. */
int vg_tls_server_new(const char *cert_file, const char *key_file, const char *client_ca_file,
		      struct vg_tls_server **out, struct vg_err *err);
void vg_tls_server_free(struct vg_tls_server *t);

/* A bufferevent over accepted socket fd, accepting TLS; freeing it closes
 * fd. NULL when out of memory (fd is then still the caller's). */
struct bufferevent *vg_tls_server_bufferevent(struct vg_tls_server *t, struct event_base *base,
					      evutil_socket_t fd);

/* Why the TLS connection on bev failed (a plain-text client, a client
 * certificate that did not verify), into out; 0 when OpenSSL said nothing. */
size_t vg_tls_server_describe(struct bufferevent *bev, char *out, size_t cap);

#endif
