#ifndef CTUSK_SHIMS_H
#define CTUSK_SHIMS_H
#include <stdint.h>

/// Thin wrappers around Linux APIs that Glibc's Swift overlay does not expose cleanly.
/// On non-Linux platforms these return -1 with errno set to ENOSYS.

#define CTUSK_EPOLLIN  0x001u
#define CTUSK_EPOLLOUT 0x004u
#define CTUSK_EPOLLERR 0x008u
#define CTUSK_EPOLLHUP 0x010u
#define CTUSK_EPOLLRDHUP 0x2000u

typedef struct ctusk_event {
    uint32_t events;
    uint64_t data;
} ctusk_event;

int ctusk_epoll_create(void);
int ctusk_epoll_add(int epfd, int fd, uint32_t events, uint64_t data);
int ctusk_epoll_mod(int epfd, int fd, uint32_t events, uint64_t data);
int ctusk_epoll_del(int epfd, int fd);
/// Waits for events; fills `out` (up to `max`) and returns the count, or -1 (errno).
int ctusk_epoll_wait(int epfd, ctusk_event *out, int max, int timeout_ms);

int ctusk_eventfd_create(void);
int ctusk_eventfd_signal(int fd);
int ctusk_eventfd_drain(int fd);

/// Sets O_NONBLOCK and FD_CLOEXEC.
int ctusk_set_nonblocking(int fd);
int ctusk_errno(void);
/// send() with MSG_NOSIGNAL.
long ctusk_send(int fd, const void *buf, unsigned long len);
/// TCP_NODELAY on.
int ctusk_set_nodelay(int fd);
/// SO_KEEPALIVE on, and the idle time, interval (seconds) and probe count where > 0.
int ctusk_set_keepalive(int fd, int idle, int interval, int count);
/// TCP_USER_TIMEOUT.
int ctusk_set_user_timeout(int fd, unsigned int milliseconds);
/// Returns the SO_ERROR value of a socket (after a non-blocking connect), or -1.
int ctusk_socket_error(int fd);
/// An id of the current thread, unique among live threads; costs no syscall.
long ctusk_thread_id(void);
/// Marks the calling thread as an event loop's own thread; `ctusk_is_loop_thread` tells (no syscall).
void ctusk_mark_loop_thread(void);
int ctusk_is_loop_thread(void);
/// The calling thread's CPU time so far (user + system, microseconds) and how often it has slept (voluntary
/// context switches), from getrusage(RUSAGE_THREAD). Returns 0, or -1 where the system cannot tell.
int ctusk_thread_usage(uint64_t *cpu_microseconds, uint64_t *voluntary_switches);
/// Names the calling thread (Linux keeps the first 15 bytes).
void ctusk_set_thread_name(const char *name);

/// A plain pthread mutex (uncontended lock/unlock make no syscall, unlike a PI futex mutex).
typedef struct ctusk_lock ctusk_lock;
ctusk_lock *ctusk_lock_create(void);
void ctusk_lock_destroy(ctusk_lock *lock);
void ctusk_lock_lock(ctusk_lock *lock);
void ctusk_lock_unlock(ctusk_lock *lock);
#endif
