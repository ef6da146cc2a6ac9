/* An HTTP responder for bench/tracker.py: answers every request at once with a
 * fixed peerless announce reply, keeping the connection alive unless the request
 * says "Connection: close", so that the load generator's own ceiling can be
 * measured. Written in C (epoll, one thread) because a Python responder is slower
 * than the generator, which would make it no ceiling at all.
 *
 * Build: cc -O2 -o http_echo http_echo.c    Run: http_echo PORT (binds 127.0.0.1)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { EVENTS = 256, SIZE = 8192, MAX_FD = 65536 };

static const char REPLY[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 56\r\n\r\n"
    "d8:completei0e10:incompletei0e8:intervali1800e5:peers0:e";

static char buffers[MAX_FD][SIZE];
static int filled[MAX_FD];

/* Answer every whole request in the connection's buffer; returns 0 to close it. */
static int answer(int fd) {
    char *head = buffers[fd];
    for (;;) {
        char *end = memmem(head, filled[fd] - (head - buffers[fd]), "\r\n\r\n", 4);
        if (end == NULL) break;
        if (write(fd, REPLY, sizeof REPLY - 1) < 0) return 0;
        if (memmem(head, end - head, "Connection: close", 17) != NULL) return 0;
        head = end + 4;
    }
    filled[fd] -= head - buffers[fd];
    memmove(buffers[fd], head, filled[fd]);
    return filled[fd] < SIZE;
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int yes = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    struct sockaddr_in self = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    inet_pton(AF_INET, "127.0.0.1", &self.sin_addr);
    if (listener < 0 || bind(listener, (struct sockaddr *)&self, sizeof self) < 0) return 1;
    if (listen(listener, 1024) < 0) return 1;
    int poll = epoll_create1(0);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(poll, EPOLL_CTL_ADD, listener, &event);
    static struct epoll_event ready[EVENTS];
    for (;;) {
        int count = epoll_wait(poll, ready, EVENTS, -1);
        for (int i = 0; i < count; i++) {
            int fd = ready[i].data.fd;
            if (fd == listener) {
                int client;
                while ((client = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (client >= MAX_FD) {
                        close(client);
                        continue;
                    }
                    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
                    filled[client] = 0;
                    event = (struct epoll_event){.events = EPOLLIN, .data.fd = client};
                    epoll_ctl(poll, EPOLL_CTL_ADD, client, &event);
                }
                continue;
            }
            ssize_t got = read(fd, buffers[fd] + filled[fd], SIZE - filled[fd]);
            if (got > 0) filled[fd] += got;
            if (got <= 0 || !answer(fd)) close(fd); /* close also leaves the epoll set */
        }
    }
}
