#ifndef CTUSK_OPENSSL_SHIM_H
#define CTUSK_OPENSSL_SHIM_H
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/md5.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/x509_vfy.h>
#include <openssl/objects.h>
#include <stdint.h>
#include <errno.h>
#include <sys/types.h>
#include <sys/socket.h>

// Helpers for what OpenSSL exposes only as macros, and a socket BIO that writes with
// MSG_NOSIGNAL (OpenSSL's own socket BIO uses write(), which raises SIGPIPE on a closed peer).

static inline long ctusk_ssl_ctx_set_default_modes(SSL_CTX *ctx) {
    return SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

/// Read ahead: one recv fills OpenSSL's buffer with as many records as arrived (instead of a header, then a body).
static inline void ctusk_ssl_ctx_set_read_ahead(SSL_CTX *ctx) {
    SSL_CTX_set_read_ahead(ctx, 1);
}

static inline int ctusk_ssl_ctx_set_min_tls12(SSL_CTX *ctx) {
    return (int)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
}

static inline int ctusk_ssl_set_sni(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

static inline int ctusk_bio_write(BIO *b, const char *buf, int len) {
    int fd = (int)(intptr_t)BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n;
    do { n = send(fd, buf, (size_t)len, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) BIO_set_retry_write(b);
    return (int)n;
}

static inline int ctusk_bio_read(BIO *b, char *buf, int len) {
    int fd = (int)(intptr_t)BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n;
    do { n = recv(fd, buf, (size_t)len, 0); } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) BIO_set_retry_read(b);
    return (int)n;
}

static inline long ctusk_bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
    (void)b; (void)num; (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

/// A BIO_METHOD for a non-blocking socket: recv, and send with MSG_NOSIGNAL. Create once.
static inline BIO_METHOD *ctusk_socket_bio_method_new(void) {
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tusk socket");
    if (m == NULL) return NULL;
    BIO_meth_set_write(m, ctusk_bio_write);
    BIO_meth_set_read(m, ctusk_bio_read);
    BIO_meth_set_ctrl(m, ctusk_bio_ctrl);
    return m;
}

/// A BIO over `fd` (not closed when the BIO is freed).
static inline BIO *ctusk_socket_bio_new(BIO_METHOD *method, int fd) {
    BIO *b = BIO_new(method);
    if (b == NULL) return NULL;
    BIO_set_data(b, (void *)(intptr_t)fd);
    BIO_set_init(b, 1);
    return b;
}
#endif
