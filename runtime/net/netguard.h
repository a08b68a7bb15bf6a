/*
 * netguard.h - which addresses a download may connect to (the SSRF
 * guard of runpod.download).
 *
 * A job's input names URLs; without a guard a job could make the worker
 * fetch its cloud metadata (169.254.169.254) or services on the private
 * network. The guard is applied to the address libcurl is about to
 * connect to (after DNS, on every redirect hop), so a name that resolves
 * to a private address, or re-resolves to one, is refused as well.
 *
 * Refused unless allowed: loopback, 0.0.0.0/8, RFC 1918 private, CGNAT
 * (100.64/10), link-local (169.254/16), IETF/test/benchmark ranges,
 * multicast, reserved (240/4) and broadcast; IPv6 unspecified, loopback,
 * unique-local (fc00::/7), link-local (fe80::/10), site-local, multicast
 * (ff00::/8), documentation, NAT64/6to4/Teredo forms, and IPv4-mapped or
 * -compatible addresses (::ffff:a.b.c.d is judged as a.b.c.d).
 */
#ifndef RP_NETGUARD_H
#define RP_NETGUARD_H

#include <stddef.h>
#include <sys/socket.h>

#define RP_NETGUARD_MAX_CIDRS 32

struct rp_cidr {
  int family;                 /* AF_INET or AF_INET6 */
  unsigned char net[16];      /* network bytes (4 used for AF_INET) */
  int bits;                   /* prefix length */
};

struct rp_netguard {
  int allow_all;              /* guard off: every address is allowed */
  size_t ncidrs;
  struct rp_cidr cidrs[RP_NETGUARD_MAX_CIDRS]; /* allowed on top of public */
};

/* Fills g: allow_all as given, plus the comma- or space-separated CIDR
 * list (may be NULL or empty; "10.1.2.3" means /32, "::1" /128). Returns
 * RP_OK, or RP_EINVAL naming the bad entry. */
int rp_netguard_init(struct rp_netguard *g, int allow_all, const char *cidrs,
                     char *err, size_t errlen);

/* Whether a connection to sa (AF_INET or AF_INET6; others are refused) is
 * allowed: 1 yes, 0 no. 'text' receives the address as text (may be NULL). */
int rp_netguard_allows(const struct rp_netguard *g, const struct sockaddr *sa,
                       char *text, size_t textlen);

#endif
