/*
 * test_netguard.c - unit tests of netguard.c: which addresses a download
 * may connect to. Pure address arithmetic: nothing is sent anywhere.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "tests/check.h"
#include "net/netguard.h"
#include "base/rp.h"

/* Whether g allows the textual address a (IPv4 or IPv6). */
static int allows(const struct rp_netguard *g, const char *a)
{
  struct sockaddr_in in;
  struct sockaddr_in6 in6;
  memset(&in, 0, sizeof(in));
  memset(&in6, 0, sizeof(in6));
  if (inet_pton(AF_INET, a, &in.sin_addr) == 1) {
    in.sin_family = AF_INET;
    return rp_netguard_allows(g, (struct sockaddr *)&in, NULL, 0);
  }
  if (inet_pton(AF_INET6, a, &in6.sin6_addr) == 1) {
    in6.sin6_family = AF_INET6;
    return rp_netguard_allows(g, (struct sockaddr *)&in6, NULL, 0);
  }
  return -1;
}

static void test_refuses_non_public(void)
{
  static const char *const refused[] = {
    "127.0.0.1", "127.255.0.9", "10.0.0.1", "10.255.255.255", "172.16.0.1",
    "172.31.255.255", "192.168.1.1", "169.254.169.254", "169.254.0.1",
    "100.64.0.1", "100.127.255.255", "0.0.0.0", "0.1.2.3", "224.0.0.1",
    "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.2.1",
    "198.18.0.1", "::", "::1", "fc00::1", "fd12:3456::1", "fe80::1",
    "febf::1", "ff02::1", "ff0e::1", "::ffff:127.0.0.1",
    "::ffff:169.254.169.254", "::ffff:10.0.0.1", "::127.0.0.1",
    "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1", "2001:db8::1", NULL
  };
  struct rp_netguard g;
  CHECK_INT(RP_OK, rp_netguard_init(&g, 0, NULL, NULL, 0));
  for (int i = 0; refused[i]; i++)
    if (allows(&g, refused[i]) != 0) {
      printf("  allowed %s\n", refused[i]);
      CHECK(0);
    }
}

static void test_allows_public(void)
{
  static const char *const allowed[] = {
    "1.1.1.1", "8.8.8.8", "172.15.255.255", "172.32.0.1", "100.63.255.255",
    "100.128.0.1", "169.253.0.1", "11.0.0.1", "223.255.255.254",
    "2606:4700::1111", "2a00:1450:4001::1", "::ffff:8.8.8.8", NULL
  };
  struct rp_netguard g;
  CHECK_INT(RP_OK, rp_netguard_init(&g, 0, "", NULL, 0));
  for (int i = 0; allowed[i]; i++)
    if (allows(&g, allowed[i]) != 1) {
      printf("  refused %s\n", allowed[i]);
      CHECK(0);
    }
}

static void test_allowlist(void)
{
  struct rp_netguard g;
  char err[128];
  CHECK_INT(RP_OK, rp_netguard_init(&g, 0, "127.0.0.1/32, 10.1.0.0/16 fd00::/8",
                                    err, sizeof(err)));
  CHECK_INT(3, g.ncidrs);
  CHECK_INT(1, allows(&g, "127.0.0.1"));
  CHECK_INT(1, allows(&g, "::ffff:127.0.0.1"));
  CHECK_INT(0, allows(&g, "127.0.0.2"));
  CHECK_INT(1, allows(&g, "10.1.200.3"));
  CHECK_INT(0, allows(&g, "10.2.0.1"));
  CHECK_INT(1, allows(&g, "fd00::5"));
  CHECK_INT(0, allows(&g, "169.254.169.254"));
  CHECK_INT(RP_OK, rp_netguard_init(&g, 0, "192.168.1.7", err, sizeof(err)));
  CHECK_INT(1, allows(&g, "192.168.1.7"));
  CHECK_INT(0, allows(&g, "192.168.1.8"));
}

static void test_allow_all(void)
{
  struct rp_netguard g;
  CHECK_INT(RP_OK, rp_netguard_init(&g, 1, NULL, NULL, 0));
  CHECK_INT(1, allows(&g, "169.254.169.254"));
  CHECK_INT(1, allows(&g, "::1"));
}

static void test_bad_ranges(void)
{
  struct rp_netguard g;
  char err[128];
  CHECK_INT(RP_EINVAL, rp_netguard_init(&g, 0, "10.0.0.0/33", err,
                                        sizeof(err)));
  CHECK_STR("invalid address range '10.0.0.0/33'", err);
  CHECK_INT(RP_EINVAL, rp_netguard_init(&g, 0, "localhost", err,
                                        sizeof(err)));
  CHECK_STR("invalid address range 'localhost'", err);
  CHECK_INT(RP_EINVAL, rp_netguard_init(&g, 0, "1.2.3.4/", err, sizeof(err)));
  CHECK_INT(RP_EINVAL, rp_netguard_init(&g, 0, "::1/129", err, sizeof(err)));
}

static void test_address_text(void)
{
  struct rp_netguard g;
  struct sockaddr_in in;
  char text[64];
  memset(&in, 0, sizeof(in));
  in.sin_family = AF_INET;
  inet_pton(AF_INET, "169.254.169.254", &in.sin_addr);
  rp_netguard_init(&g, 0, NULL, NULL, 0);
  CHECK_INT(0, rp_netguard_allows(&g, (struct sockaddr *)&in, text,
                                  sizeof(text)));
  CHECK_STR("169.254.169.254", text);
}

int main(void)
{
  RUN(test_refuses_non_public);
  RUN(test_allows_public);
  RUN(test_allowlist);
  RUN(test_allow_all);
  RUN(test_bad_ranges);
  RUN(test_address_text);
  return check_summary();
}
