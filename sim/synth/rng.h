/*
 * rng.h — splitmix64, the one source of randomness of the synthetic
 * guests, the test generators and the fuzz driver: each run is
 * reproducible from its seed.
 */
#ifndef SVT_RNG_H
#define SVT_RNG_H

#include <stdint.h>

static inline uint64_t svt_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#endif
