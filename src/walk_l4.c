/* walk_l4.c — the walker for guests with 4-level paging (see walk_tmpl.h). */
#define GUEST_LEVELS 4
#include "walk_tmpl.h"
