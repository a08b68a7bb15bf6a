/* netguard.c - see netguard.h. */
#include "net/netguard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "base/rp.h"

/* The non-public ranges, as "network/bits" text parsed on use. */
static const char *const blocked4[] = {
  "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
  "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24",
  "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
  "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", NULL
};
static const char *const blocked6[] = {
  "::/128", "::1/128", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64",
  "2001::/23", "2001:db8::/32", "2002::/16", "fc00::/7", "fe80::/10",
  "fec0::/10", "ff00::/8", NULL
};

/* Parses "addr[/bits]" of length len into c. Returns RP_OK or RP_EINVAL. */
static int parse_cidr(const char *s, size_t len, struct rp_cidr *c)
{
  char buf[64];
  char *slash;
  int max;
  if (len == 0 || len >= sizeof(buf))
    return RP_EINVAL;
  memcpy(buf, s, len);
  buf[len] = '\0';
  slash = strchr(buf, '/');
  if (slash)
    *slash = '\0';
  memset(c, 0, sizeof(*c));
  if (inet_pton(AF_INET, buf, c->net) == 1) {
    c->family = AF_INET;
    max = 32;
  } else if (inet_pton(AF_INET6, buf, c->net) == 1) {
    c->family = AF_INET6;
    max = 128;
  } else {
    return RP_EINVAL;
  }
  c->bits = max;
  if (slash) {
    const char *p = slash + 1;
    int bits = 0;
    if (!*p || strlen(p) > 3)
      return RP_EINVAL;
    for (; *p; p++) {
      if (*p < '0' || *p > '9')
        return RP_EINVAL;
      bits = bits * 10 + (*p - '0');
    }
    if (bits > max)
      return RP_EINVAL;
    c->bits = bits;
  }
  return RP_OK;
}

/* Whether the family/bytes address lies in c. */
static int in_cidr(const struct rp_cidr *c, int family,
                   const unsigned char *addr)
{
  int full = c->bits / 8;
  int rest = c->bits % 8;
  if (c->family != family)
    return 0;
  if (memcmp(c->net, addr, (size_t)full) != 0)
    return 0;
  if (rest) {
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    if ((c->net[full] & mask) != (addr[full] & mask))
      return 0;
  }
  return 1;
}

static int in_list(const char *const *list, int family,
                   const unsigned char *addr)
{
  for (size_t i = 0; list[i]; i++) {
    struct rp_cidr c;
    if (parse_cidr(list[i], strlen(list[i]), &c) == RP_OK &&
        in_cidr(&c, family, addr))
      return 1;
  }
  return 0;
}

int rp_netguard_init(struct rp_netguard *g, int allow_all, const char *cidrs,
                     char *err, size_t errlen)
{
  const char *p = cidrs ? cidrs : "";
  memset(g, 0, sizeof(*g));
  g->allow_all = allow_all;
  while (*p) {
    size_t len = strcspn(p, ", \t");
    if (len > 0) {
      if (g->ncidrs >= RP_NETGUARD_MAX_CIDRS)
        return rp_fail(RP_EINVAL, err, errlen,
                       "too many address ranges (most %d)",
                       RP_NETGUARD_MAX_CIDRS);
      if (parse_cidr(p, len, &g->cidrs[g->ncidrs]) != RP_OK)
        return rp_fail(RP_EINVAL, err, errlen,
                       "invalid address range '%.*s'", (int)len, p);
      g->ncidrs++;
    }
    p += len;
    if (*p)
      p++;
  }
  return RP_OK;
}

int rp_netguard_allows(const struct rp_netguard *g, const struct sockaddr *sa,
                       char *text, size_t textlen)
{
  unsigned char addr[16];
  int family = sa->sa_family;
  static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                           0xff, 0xff};
  if (text && textlen)
    snprintf(text, textlen, "(address family %d)", family);
  if (family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    memcpy(addr, &in->sin_addr, 4);
  } else if (family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    memcpy(addr, &in6->sin6_addr, 16);
  } else {
    return 0;
  }
  if (text && textlen)
    inet_ntop(family, addr, text, (socklen_t)textlen);
  if (g->allow_all)
    return 1;
  for (size_t i = 0; i < g->ncidrs; i++)
    if (in_cidr(&g->cidrs[i], family, addr))
      return 1;
  /* ::ffff:a.b.c.d reaches a.b.c.d: judge it (and the allowlist) as IPv4.
   * The deprecated IPv4-compatible ::a.b.c.d falls under ::/96 below. */
  if (family == AF_INET6 && memcmp(addr, mapped, 12) == 0) {
    memmove(addr, addr + 12, 4);
    family = AF_INET;
    for (size_t i = 0; i < g->ncidrs; i++)
      if (in_cidr(&g->cidrs[i], family, addr))
        return 1;
  }
  if (family == AF_INET)
    return !in_list(blocked4, family, addr) &&
           !(addr[0] == 255 && addr[1] == 255 && addr[2] == 255 &&
             addr[3] == 255);
  {
    static const unsigned char zero12[12];
    if (memcmp(addr, zero12, 12) == 0)   /* ::/96: unspecified, loopback, */
      return 0;                          /* IPv4-compatible */
  }
  return !in_list(blocked6, family, addr);
}
