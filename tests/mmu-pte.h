/*
 * mmu-pte.h — short names for page-table entry bits, for the harness files
 * that build guest page tables (mmu-guest.c, mmu-boot.c).  Kept out of
 * mmu-harness.h so one-letter macros do not reach every harness file.
 */
#ifndef MMU_PTE_H
#define MMU_PTE_H

#include "svt.h"

#define P  SVT_PTE_P
#define RW SVT_PTE_RW
#define US SVT_PTE_US
#define A  SVT_PTE_A
#define D  SVT_PTE_D
#define PS SVT_PTE_PS
#define G  SVT_PTE_G
#define XD SVT_PTE_XD
#define PWT SVT_PTE_PWT
#define PCD SVT_PTE_PCD

#endif
