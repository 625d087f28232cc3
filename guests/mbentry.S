/*
 * mbentry.S — the entry of the Multiboot-format guests (guests/mbinfo.c):
 * a Multiboot (v1) header, or with -DMB2 a Multiboot2 header, then a
 * stack and gmain(magic, info).  The v1 header has no a.out kludge and the
 * v2 header no address tag, so a loader must read the ELF program headers
 * (the build makes ELF32 and, through objcopy, ELF64 files of the same
 * 32-bit code: a Multiboot loader enters either in 32-bit protected mode).
 */
#ifdef MB2
	.set MB2_MAGIC, 0xE85250D6
	.section .multiboot, "a"
	.align 8
mb2_header:
	.long MB2_MAGIC, 0, mb2_end - mb2_header, -(MB2_MAGIC + (mb2_end - mb2_header))
	/* information request, required: command line, modules, memory map */
	.short 1, 0
	.long 20, 1, 3, 6
	.align 8
	/* information request, optional: the ACPI RSDP (old or new) */
	.short 1, 1
	.long 16, 14, 15
	.align 8
	/* modules page-aligned */
	.short 6, 0
	.long 8
	/* end */
	.short 0, 0
	.long 8
mb2_end:
#else
	.set MB_MAGIC, 0x1BADB002
	.set MB_FLAGS, 0x00000003       /* modules page-aligned, memory information */
	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
#endif
	.text
	.code32
	.globl _start
_start:
	cli
	/* the TSC as the guest starts (glib.h's bench_ticks()), the
	 * loader's EAX kept over RDTSC */
	movl %eax, %esi
	rdtsc
	movl %eax, guest_tsc0
	movl %edx, guest_tsc0 + 4
	movl %esi, %eax
	movl $stack_top, %esp
	lgdt gdt_ptr
	ljmp $0x08, $1f
1:	movw $0x10, %cx
	movw %cx, %ds
	movw %cx, %es
	movw %cx, %ss
	movw %cx, %fs
	movw %cx, %gs
	pushl %ebx
	pushl %eax
	call gmain
1:	cli
	hlt
	jmp 1b
	.data
	.globl guest_tsc0
	.align 8
guest_tsc0:
	.quad 0
	.align 8
gdt:	.quad 0
	.quad 0x00cf9a000000ffff        /* 0x08: flat 32-bit code */
	.quad 0x00cf92000000ffff        /* 0x10: flat data */
gdt_ptr:
	.word gdt_ptr - gdt - 1
	.long gdt
	.bss
	.align 16
	.skip 16384
stack_top:
	.section .note.GNU-stack, "", @progbits
