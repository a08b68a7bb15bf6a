/*
 * rng.h - xorshift64*, a fast generator for values that need only be
 * unlikely to repeat (the emulator's job ids and fault shares), never for
 * secrets (rp_files_random is for those). The state must not be 0.
 */
#ifndef RP_RNG_H
#define RP_RNG_H

#include <stdint.h>

static inline uint64_t rp_rng_next(uint64_t *state)
{
  uint64_t x = *state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return x * 0x2545F4914F6CDD1DULL;
}

#endif
