/* bearer.c - see bearer.h. */
#include "server/bearer.h"

#include <string.h>
#include <strings.h>

int rp_bearer_is(const char *auth, const char *bearer)
{
  static const char scheme[] = "Bearer ";
  size_t n = sizeof(scheme) - 1;
  return auth && strncasecmp(auth, scheme, n) == 0 &&
         strncmp(bearer, scheme, n) == 0 && strcmp(auth + n, bearer + n) == 0;
}
