/*
 * ram-env.h — the recorder tests' machine: guest RAM of `frames` pages in
 * one array (addresses beyond it read as all ones, writes there are
 * dropped, as in the hypervisor and the replay machine), guest frame g at
 * machine frame g, and a shadow pool of `npool` frames from machine frame
 * pool_mfn0, as a struct svt_env.
 */
#ifndef RAM_ENV_H
#define RAM_ENV_H

#include "svt.h"

struct ram_env {
	uint8_t *ram;                   /* frames * 4096 bytes */
	uint64_t frames;
	uint8_t (*pool)[4096];          /* npool frames */
	unsigned npool;
	uint64_t pool_mfn0;
};

/* The environment over r (env->ctx = r; r must outlive it), and the pool's
 * machine frames in mfns[npool]. */
void ram_env_make(struct ram_env *r, struct svt_env *env, svt_mfn_t *mfns);

#endif
