/* walk_l3.c — the walker for guests with PAE paging (see walk_tmpl.h). */
#define GUEST_LEVELS 3
#include "walk_tmpl.h"
