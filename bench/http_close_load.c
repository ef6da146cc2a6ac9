/* The connection-per-announce HTTP load of bench/tracker.py, in C.
 *
 * Why C: a new TCP connection per announce costs the client about as much
 * kernel and user time as it costs the server, so a Python generator on one
 * core tops out below what a C tracker answers on another, and every tracker
 * would measure as fast as the generator. This one keeps CONNECTIONS
 * connections in flight with epoll: a non-blocking connect, the next prebuilt
 * request once it is writable, the answer read whole (by its Content-Length,
 * which every tracker here sends), then the connection closed and the next one
 * opened. Each announce is timed from its connect to the end of its answer;
 * answers that end after the measured span are not counted.
 *
 * Input: a file of requests, each ending in "\r\n\r\n", used in turn.
 * Output, on stdout: the answers counted in the measured span, its seconds,
 * then one latency in seconds per line.
 *
 * Build: cc -O2 -o http_close_load http_close_load.c
 * Run:   http_close_load HOST PORT REQUESTS_FILE CONNECTIONS WARMUP_S DURATION_S
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { SIZE = 65536, MAX_CONNECTIONS = 1024, MAX_REQUESTS = 1 << 20 };

struct connection {
    int fd;
    int sent;          /* whether the request went out */
    size_t filled;     /* bytes of the answer read so far */
    double started;    /* when its connect began */
    char buffer[SIZE];
};

static struct sockaddr_in target;
static const char *requests[MAX_REQUESTS];
static size_t lengths[MAX_REQUESTS];
static size_t request_count, next_request;
static struct connection connections[MAX_CONNECTIONS];
static int poll_fd;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* A new connection to the target; its clock starts now unless ``started`` (a retry). */
static void open_connection(struct connection *c, double started) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int yes = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    c->sent = 0;
    c->filled = 0;
    c->started = started > 0 ? started : now();
    if (connect(c->fd, (struct sockaddr *)&target, sizeof target) < 0 && errno != EINPROGRESS) {
        perror("connect");
        exit(1);
    }
    struct epoll_event event = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
    epoll_ctl(poll_fd, EPOLL_CTL_ADD, c->fd, &event);
}

/* Whether the buffer holds a whole answer: the head and Content-Length bytes. */
static int answered(struct connection *c) {
    char *end = memmem(c->buffer, c->filled, "\r\n\r\n", 4);
    if (end == NULL) return 0;
    char *length = memmem(c->buffer, end - c->buffer, "Content-Length:", 15);
    if (length == NULL) length = memmem(c->buffer, end - c->buffer, "content-length:", 15);
    if (length == NULL) return 0; /* every tracker here sends one */
    return (size_t)(end + 4 - c->buffer) + strtoul(length + 15, NULL, 10) <= c->filled;
}

static void load_requests(const char *path) {
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        perror(path);
        exit(1);
    }
    static char data[64 << 20];
    size_t size = fread(data, 1, sizeof data, file);
    fclose(file);
    for (char *at = data; at < data + size && request_count < MAX_REQUESTS;) {
        char *end = memmem(at, data + size - at, "\r\n\r\n", 4);
        if (end == NULL) break;
        requests[request_count] = at;
        lengths[request_count++] = end + 4 - at;
        at = end + 4;
    }
    if (request_count == 0) exit(1);
}

int main(int argc, char **argv) {
    if (argc != 7) return 2;
    target = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &target.sin_addr) != 1) return 2;
    load_requests(argv[3]);
    int count = atoi(argv[4]);
    if (count < 1 || count > MAX_CONNECTIONS) return 2;
    double start = now(), measure_from = start + atof(argv[5]);
    double end = measure_from + atof(argv[6]);
    size_t capacity = 1 << 16, recorded = 0;
    double *latencies = malloc(capacity * sizeof *latencies);
    poll_fd = epoll_create1(0);
    for (int i = 0; i < count; i++) open_connection(&connections[i], 0);
    struct epoll_event ready[MAX_CONNECTIONS];
    double at = start;
    while (at < end) {
        int events = epoll_wait(poll_fd, ready, MAX_CONNECTIONS, 50);
        at = now();
        for (int i = 0; i < events; i++) {
            struct connection *c = ready[i].data.ptr;
            if (!c->sent && (ready[i].events & EPOLLOUT)) {
                size_t n = next_request++ % request_count;
                if (write(c->fd, requests[n], lengths[n]) != (ssize_t)lengths[n]) {
                    close(c->fd); /* refused or reset: start over, the clock still running */
                    double started = c->started;
                    open_connection(c, started);
                    continue;
                }
                c->sent = 1;
                struct epoll_event event = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(poll_fd, EPOLL_CTL_MOD, c->fd, &event);
                continue;
            }
            ssize_t got = read(c->fd, c->buffer + c->filled, SIZE - c->filled);
            if (got > 0) c->filled += got;
            int whole = answered(c);
            if (!whole && (got > 0 || (got < 0 && (errno == EAGAIN || errno == EINTR)))) continue;
            if (whole && at >= measure_from && at < end) { /* else closed early: no answer */
                if (recorded == capacity) latencies = realloc(latencies, (capacity *= 2) * sizeof *latencies);
                latencies[recorded++] = at - c->started;
            }
            close(c->fd);
            open_connection(c, 0);
        }
    }
    printf("%zu %.6f\n", recorded, (at < end ? at : end) - measure_from);
    for (size_t i = 0; i < recorded; i++) printf("%.7f\n", latencies[i]);
    return 0;
}
