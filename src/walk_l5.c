/* walk_l5.c — the walker for guests with 5-level paging (see walk_tmpl.h). */
#define GUEST_LEVELS 5
#include "walk_tmpl.h"
