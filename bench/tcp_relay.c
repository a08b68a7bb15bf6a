/*
 * bench/tcp_relay.c - the cheapest proxy there is: one thread, epoll,
 * every byte a client sends goes to a new connection to the backend and
 * back, with no parsing at all. bench/proxy.sh measures its CPU per job
 * next to the worker's: what any proxy in front of the backend costs at
 * the least, per job, on this machine. Prints "listening on PORT".
 *
 *   tcp_relay BACKEND_PORT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FDS 4096

/* peer[fd]: the other end of fd's pair, or -1. */
static int peer[MAX_FDS];

static void close_pair(int ep, int fd)
{
  int other = peer[fd];
  epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
  close(fd);
  peer[fd] = -1;
  if (other >= 0) {
    epoll_ctl(ep, EPOLL_CTL_DEL, other, NULL);
    close(other);
    peer[other] = -1;
  }
}

static int watch(int ep, int fd)
{
  struct epoll_event ev = { .events = EPOLLIN };
  ev.data.fd = fd;
  return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/* Writes all of p (blocking: the pairs here move small messages). */
static int send_all(int fd, const char *p, size_t n)
{
  while (n > 0) {
    ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return -1;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

int main(int argc, char **argv)
{
  struct sockaddr_in a = { .sin_family = AF_INET };
  struct sockaddr_in back = { .sin_family = AF_INET };
  socklen_t alen = sizeof(a);
  int one = 1;
  int ls;
  int ep;
  if (argc != 2) {
    fprintf(stderr, "usage: tcp_relay BACKEND_PORT\n");
    return 2;
  }
  for (int i = 0; i < MAX_FDS; i++)
    peer[i] = -1;
  back.sin_port = htons((unsigned short)atoi(argv[1]));
  back.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ls = socket(AF_INET, SOCK_STREAM, 0);
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 ||
      listen(ls, 512) != 0 ||
      getsockname(ls, (struct sockaddr *)&a, &alen) != 0) {
    perror("tcp_relay: listen");
    return 1;
  }
  printf("listening on %d\n", ntohs(a.sin_port));
  fflush(stdout);
  ep = epoll_create1(0);
  if (ep < 0 || watch(ep, ls) != 0) {
    perror("tcp_relay: epoll");
    return 1;
  }
  for (;;) {
    struct epoll_event evs[64];
    int n = epoll_wait(ep, evs, 64, -1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return 1;
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      char buf[65536];
      ssize_t k;
      if (fd == ls) {
        int c = accept(ls, NULL, NULL);
        int b;
        if (c < 0)
          continue;
        b = socket(AF_INET, SOCK_STREAM, 0);
        if (b < 0 || c >= MAX_FDS || b >= MAX_FDS ||
            connect(b, (struct sockaddr *)&back, sizeof(back)) != 0) {
          close(c);
          if (b >= 0)
            close(b);
          continue;
        }
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        setsockopt(b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        peer[c] = b;
        peer[b] = c;
        watch(ep, c);
        watch(ep, b);
        continue;
      }
      if (peer[fd] < 0)
        continue;
      k = recv(fd, buf, sizeof(buf), 0);
      if (k <= 0 || send_all(peer[fd], buf, (size_t)k) != 0)
        close_pair(ep, fd);
    }
  }
}
