/* walk_l2.c — the walker for guests with 2-level paging (see walk_tmpl.h). */
#define GUEST_LEVELS 2
#include "walk_tmpl.h"
