/* A UDP responder for bench/tracker.py: answers every BEP 15 connect and
 * announce at once (no peers), so that the load generator's own ceiling can be
 * measured. Written in C with recvmmsg/sendmmsg because a Python responder is
 * slower than the generator, and slower than opentracker, which would make it
 * no ceiling at all.
 *
 * Build: cc -O2 -o udp_echo udp_echo.c    Run: udp_echo PORT (binds 127.0.0.1)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

enum { BATCH = 64, SIZE = 2048 };

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in self = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    inet_pton(AF_INET, "127.0.0.1", &self.sin_addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&self, sizeof self) < 0) return 1;
    static unsigned char packets[BATCH][SIZE];
    static struct sockaddr_in senders[BATCH];
    static struct iovec iov[BATCH];
    static struct mmsghdr messages[BATCH];
    for (;;) {
        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){.iov_base = packets[i], .iov_len = SIZE};
            messages[i].msg_hdr = (struct msghdr){
                .msg_name = &senders[i], .msg_namelen = sizeof senders[i],
                .msg_iov = &iov[i], .msg_iovlen = 1};
        }
        int count = recvmmsg(fd, messages, BATCH, MSG_WAITFORONE, NULL);
        for (int i = 0; i < count; i++) {
            unsigned char *p = packets[i];
            int is_connect = messages[i].msg_len == 16;
            unsigned char reply[20] = {0, 0, 0, is_connect ? 0 : 1};
            memcpy(reply + 4, p + 12, 4); /* transaction id */
            if (!is_connect) reply[10] = 0x07, reply[11] = 0x08; /* interval 1800 */
            memcpy(p, reply, sizeof reply);
            iov[i].iov_len = is_connect ? 16 : 20; /* a connect gets connection id 0 */
        }
        if (count > 0) sendmmsg(fd, messages, count, 0);
    }
}
