/*
 * image.h — a raw guest-physical memory image file as the core's
 * environment (image.c): byte N of the file is guest-physical byte N.
 */
#ifndef SVT_IMAGE_H
#define SVT_IMAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "svt.h"

struct svt_image {
	const char *path;
	int fd;
	bool writable;
	int err;            /* errno of the first failed access, 0 if none */
	uint64_t err_gpa;
};
int svt_image_open(struct svt_image *img, const char *path, bool writable);
void svt_image_close(struct svt_image *img);
void svt_image_env(struct svt_image *img, struct svt_env *env);

#endif
