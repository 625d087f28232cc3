/*
 * linux-image.h — a Linux kernel's ELF image (vmlinux) from a bzImage
 * (sim/live/linux-image.c), for `shadowvt record --kernel`.
 */
#ifndef SVT_LINUX_IMAGE_H
#define SVT_LINUX_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The vmlinux inside the n bytes of img (a bzImage with an XZ, gzip or
 * zstd payload, or already an x86-64 ELF kernel): 0 and a malloc'd *out,
 * or -1 with a sentence in err. */
int svt_linux_vmlinux(const uint8_t *img, size_t n, uint8_t **out, size_t *outlen, char *err,
		      size_t errlen);

/* The most a payload may decompress to (512 MiB; the fuzz target lowers it). */
extern size_t svt_linux_out_max;

#endif
