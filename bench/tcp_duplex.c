/* Raw loopback TCP, full duplex, as a 2-rank ring all-reduce uses its link (bench/run_ddp.ts):
 * two processes each send and receive MIB MiB at once per operation on one non-blocking socket
 * (poll(), as Gloo's TCP transport drives its pairs), OPS operations after one warm-up, lined up
 * by a 1-byte exchange before each. Prints the bytes per second of one direction, from the median
 * operation; with a fifth argument `min`, also that of the fastest operation (median min).
 *   cc -O2 bench/tcp_duplex.c -o /tmp/tcp_duplex
 *   /tmp/tcp_duplex listen PORT MIB OPS & /tmp/tcp_duplex connect PORT MIB OPS */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static int cmp(const void* a, const void* b) { double x = *(const double*)a, y = *(const double*)b; return (x > y) - (x < y); }
static void die(const char* what) { perror(what); exit(1); }

int main(int argc, char** argv) {
  if (argc != 5 && !(argc == 6 && strcmp(argv[5], "min") == 0)) { fprintf(stderr, "usage: tcp_duplex listen|connect PORT MIB OPS [min]\n"); return 2; }
  const int port = atoi(argv[2]), ops = atoi(argv[4]);
  const size_t n = (size_t)atoi(argv[3]) << 20;
  struct sockaddr_in a; memset(&a, 0, sizeof a);
  a.sin_family = AF_INET; a.sin_port = htons(port); a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int c;
  if (strcmp(argv[1], "listen") == 0) {
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s, (struct sockaddr*)&a, sizeof a) != 0 || listen(s, 1) != 0) die("listen");
    if ((c = accept(s, NULL, NULL)) < 0) die("accept");
  } else {
    for (int i = 0;; i++) {
      c = socket(AF_INET, SOCK_STREAM, 0);
      if (connect(c, (struct sockaddr*)&a, sizeof a) == 0) break;
      close(c);
      if (i == 200) die("connect");
      usleep(50000);
    }
  }
  int one = 1;
  setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char* out = calloc(n, 1); char* in = malloc(n);
  double* ts = malloc(sizeof(double) * (ops > 0 ? ops : 1));
  for (int o = 0; o <= ops; o++) {
    char x = 'x';
    fcntl(c, F_SETFL, 0);
    if (write(c, &x, 1) != 1 || read(c, &x, 1) != 1) die("sync");
    fcntl(c, F_SETFL, O_NONBLOCK);
    const double t0 = now();
    size_t sent = 0, got = 0;
    while (sent < n || got < n) {
      struct pollfd p = { c, (short)((got < n ? POLLIN : 0) | (sent < n ? POLLOUT : 0)), 0 };
      if (poll(&p, 1, -1) < 0) die("poll");
      if ((p.revents & POLLOUT) && sent < n) { ssize_t k = send(c, out + sent, n - sent, 0); if (k > 0) sent += k; else if (k < 0 && errno != EAGAIN) die("send"); }
      if ((p.revents & POLLIN) && got < n) { ssize_t k = recv(c, in + got, n - got, 0); if (k > 0) got += k; else if (k == 0 || errno != EAGAIN) die("recv"); }
    }
    if (o > 0) ts[o - 1] = now() - t0;
  }
  qsort(ts, ops, sizeof(double), cmp);
  if (argc == 6) printf("%.0f %.0f\n", n / ts[ops / 2], n / ts[0]);
  else printf("%.0f\n", n / ts[ops / 2]);
  return 0;
}
