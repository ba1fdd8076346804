#include "CTuskShims.h"
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#ifndef RUSAGE_THREAD
#define RUSAGE_THREAD 1
#endif

int ctusk_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int ctusk_epoll_add(int epfd, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev; ev.events = events; ev.data.u64 = data;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}
int ctusk_epoll_mod(int epfd, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev; ev.events = events; ev.data.u64 = data;
    return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}
int ctusk_epoll_del(int epfd, int fd) {
    struct epoll_event ev; ev.events = 0; ev.data.u64 = 0;
    return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev);
}
int ctusk_epoll_wait(int epfd, ctusk_event *out, int max, int timeout_ms) {
    struct epoll_event evs[64];
    if (max > 64) max = 64;
    int n;
    do { n = epoll_wait(epfd, evs, max, timeout_ms); } while (n < 0 && errno == EINTR);
    for (int i = 0; i < n; i++) { out[i].events = evs[i].events; out[i].data = evs[i].data.u64; }
    return n;
}
int ctusk_eventfd_create(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }
int ctusk_eventfd_signal(int fd) { uint64_t one = 1; return (int)write(fd, &one, sizeof one); }
int ctusk_eventfd_drain(int fd) { uint64_t v; return (int)read(fd, &v, sizeof v); }
// A per-thread address (no syscall, unlike gettid): unique among live threads.
static __thread char ctusk_thread_marker;
long ctusk_thread_id(void) { return (long)&ctusk_thread_marker; }
static __thread int ctusk_loop_thread;
void ctusk_mark_loop_thread(void) { ctusk_loop_thread = 1; }
int ctusk_is_loop_thread(void) { return ctusk_loop_thread; }
void ctusk_set_thread_name(const char *name) { (void)prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0); }
int ctusk_thread_usage(uint64_t *cpu_microseconds, uint64_t *voluntary_switches) {
    struct rusage u;
    if (getrusage(RUSAGE_THREAD, &u) != 0) return -1;
    *cpu_microseconds = (uint64_t)u.ru_utime.tv_sec * 1000000u + (uint64_t)u.ru_utime.tv_usec
        + (uint64_t)u.ru_stime.tv_sec * 1000000u + (uint64_t)u.ru_stime.tv_usec;
    *voluntary_switches = (uint64_t)u.ru_nvcsw;
    return 0;
}
#else
int ctusk_epoll_create(void) { errno = ENOSYS; return -1; }
int ctusk_epoll_add(int a, int b, uint32_t c, uint64_t d) { errno = ENOSYS; return -1; }
int ctusk_epoll_mod(int a, int b, uint32_t c, uint64_t d) { errno = ENOSYS; return -1; }
int ctusk_epoll_del(int a, int b) { errno = ENOSYS; return -1; }
int ctusk_epoll_wait(int a, ctusk_event *b, int c, int d) { errno = ENOSYS; return -1; }
int ctusk_eventfd_create(void) { errno = ENOSYS; return -1; }
int ctusk_eventfd_signal(int fd) { errno = ENOSYS; return -1; }
int ctusk_eventfd_drain(int fd) { errno = ENOSYS; return -1; }
static __thread char ctusk_thread_marker;
long ctusk_thread_id(void) { return (long)&ctusk_thread_marker; }
static __thread int ctusk_loop_thread;
void ctusk_mark_loop_thread(void) { ctusk_loop_thread = 1; }
int ctusk_is_loop_thread(void) { return ctusk_loop_thread; }
void ctusk_set_thread_name(const char *name) { (void)pthread_setname_np(name); }
int ctusk_thread_usage(uint64_t *cpu_microseconds, uint64_t *voluntary_switches) { errno = ENOSYS; return -1; }
#endif

int ctusk_set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0) return -1;
    if (fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}
int ctusk_errno(void) { return errno; }
long ctusk_send(int fd, const void *buf, unsigned long len) {
#ifdef MSG_NOSIGNAL
    return (long)send(fd, buf, len, MSG_NOSIGNAL);
#else
    return (long)send(fd, buf, len, 0);
#endif
}
int ctusk_set_nodelay(int fd) { int one = 1; return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); }

int ctusk_set_keepalive(int fd, int idle, int interval, int count) {
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) != 0) return -1;
#ifdef __linux__
    if (idle > 0 && setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) != 0) return -1;
#elif defined(TCP_KEEPALIVE)
    if (idle > 0 && setsockopt(fd, IPPROTO_TCP, TCP_KEEPALIVE, &idle, sizeof idle) != 0) return -1;
#endif
#ifdef TCP_KEEPINTVL
    if (interval > 0 && setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval) != 0) return -1;
#endif
#ifdef TCP_KEEPCNT
    if (count > 0 && setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count) != 0) return -1;
#endif
    return 0;
}

int ctusk_set_user_timeout(int fd, unsigned int milliseconds) {
#ifdef TCP_USER_TIMEOUT
    return setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &milliseconds, sizeof milliseconds);
#else
    errno = ENOPROTOOPT;
    return -1;
#endif
}
int ctusk_socket_error(int fd) {
    int err = 0; socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return -1;
    return err;
}

ctusk_lock *ctusk_lock_create(void) {
    pthread_mutex_t *m = malloc(sizeof(pthread_mutex_t));
    if (m) pthread_mutex_init(m, NULL);
    return (ctusk_lock *)m;
}
void ctusk_lock_destroy(ctusk_lock *l) {
    if (!l) return;
    pthread_mutex_destroy((pthread_mutex_t *)l);
    free(l);
}
void ctusk_lock_lock(ctusk_lock *l) { pthread_mutex_lock((pthread_mutex_t *)l); }
void ctusk_lock_unlock(ctusk_lock *l) { pthread_mutex_unlock((pthread_mutex_t *)l); }
