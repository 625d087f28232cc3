/* entry.S — a shipped test guest's Multiboot entry (with -DMB2 a Multiboot2
 * one, asking for the memory map): a stack, then gmain(magic, info). */
#ifdef MB2
	.set MB2_MAGIC, 0xE85250D6
	.section .multiboot, "a"
	.align 8
mb2_header:
	.long MB2_MAGIC, 0, mb2_end - mb2_header, -(MB2_MAGIC + (mb2_end - mb2_header))
	.short 1, 0                     /* information request, required: the memory map */
	.long 12, 6
	.align 8
	.short 0, 0                     /* end */
	.long 8
mb2_end:
#else
	.set MB_MAGIC, 0x1BADB002
	.set MB_FLAGS, 0x00000003
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
	/* our own GDT: the loader's is not ours to keep using */
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
	.globl pf_entry
	.text
/* #PF: pf_handler(error code, CR2) returns 0 to re-run the faulting
 * instruction, or nonzero to abandon an armed probe: it then resumes at
 * probe_fail, which returns 1 from the probe. */
pf_entry:
	pushal
	movl %cr2, %eax
	pushl %eax
	pushl 36(%esp)                  /* the error code, above pushal's 32 bytes and CR2 */
	call pf_handler
	addl $8, %esp
	testl %eax, %eax
	jz 1f
	movl $probe_fail, 36(%esp)      /* the saved EIP, above pushal and the error code */
1:	popal
	addl $4, %esp                   /* drop the error code */
	iret

/* Probes: int probe_read(va, &val), probe_write(va, val), probe_exec(va)
 * return 0 when the access went through, 1 after a #PF. */
	.globl probe_read, probe_write, probe_exec, probe_armed
probe_read:
	movl %esp, probe_esp
	movl 4(%esp), %ecx
	movl $1, probe_armed
	movl (%ecx), %eax
	movl $0, probe_armed
	movl 8(%esp), %ecx
	movl %eax, (%ecx)
	xorl %eax, %eax
	ret
probe_write:
	movl %esp, probe_esp
	movl 4(%esp), %ecx
	movl 8(%esp), %eax
	movl $1, probe_armed
	movl %eax, (%ecx)
	movl $0, probe_armed
	xorl %eax, %eax
	ret
probe_exec:
	movl %esp, probe_esp
	movl 4(%esp), %ecx
	movl $1, probe_armed
	call *%ecx
	movl $0, probe_armed
	xorl %eax, %eax
	ret
probe_fail:
	movl probe_esp, %esp
	movl $0, probe_armed
	movl $1, %eax
	ret
	.data
	.align 4
probe_armed: .long 0
probe_esp:   .long 0
	.bss
	.align 16
	.skip 16384
stack_top:
	.section .note.GNU-stack, "", @progbits
