/*
 * tls.h: the agent's TLS toward a receiver, loaded only where it is
 * configured.
 *
 * OpenSSL and libevent's OpenSSL bufferevents add about 1.5 MiB of
 * resident memory to a process that maps them, half the agent's budget.
 * So the agent is not linked with them: the first vg_tls_client_new
 * dlopen()s libevent_openssl (which brings libssl and libcrypto) and takes
 * the few functions it calls from it. An agent that speaks plain TCP
 * never maps either library (tests/test_tls.c checks /proc/PID/maps).
 * The libraries stay loaded for the life of the process once loaded:
 * OpenSSL is not made to be unloaded.
 *
 * A client is one SSL_CTX: TLS 1.2 or later, the receiver's certificate
 * verified against ca_file (or the system's store) and its name against
 * the receiver's host name or address (or server_name), and optionally a
 * client certificate for a receiver that asks for one.
 *
 * Threads: a client is used on one event base's thread.
 */
#ifndef VG_AGENT_TLS_H
#define VG_AGENT_TLS_H

#include <stdbool.h>
#include <stddef.h>

struct bufferevent;
struct event_base;
struct vg_err;

struct vg_tls_client_options {
	const char *ca_file;      /* PEM CAs the receiver's certificate must chain to; NULL: the system's */
	const char *cert_file;    /* PEM client certificate chain; NULL: none */
	const char *key_file;     /* its key; NULL with cert_file: the key is in cert_file */
	const char *server_name;  /* the name to verify; NULL: the host connected to */
};

struct vg_tls_client;

/* Loads the libraries (the first time) and makes the context; the files
 * are read now, so a bad one is an error here, with its name. */
int vg_tls_client_new(const struct vg_tls_client_options *opts, struct vg_tls_client **out,
		      struct vg_err *err);
void vg_tls_client_free(struct vg_tls_client *t);

/*
 * A new bufferevent on base (no socket yet: connect it with
 * bufferevent_socket_connect) that runs the TLS handshake as a client and
 * verifies the receiver as host (a name, or a numeric IPv4/IPv6 address,
 * which is checked against the certificate's IP addresses). Freeing it
 * closes the socket. NULL on failure, with err set.
 */
struct bufferevent *vg_tls_client_bufferevent(struct vg_tls_client *t, struct event_base *base,
					      const char *host, struct vg_err *err);

/* Words for a failed TLS connection on bev (a certificate that did not
 * verify, a handshake the peer refused), into out; false when there is
 * nothing more to say than the socket error. */
bool vg_tls_client_describe(struct vg_tls_client *t, struct bufferevent *bev, char *out, size_t cap);

/* Whether the TLS libraries are mapped into this process (for tests). */
bool vg_tls_is_loaded(void);

#endif
