/* entry.S — a shipped test guest's Multiboot entry: a stack, then gmain(magic, info). */
	.set MB_MAGIC, 0x1BADB002
	.set MB_FLAGS, 0x00000003
	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
	.text
	.code32
	.globl _start
_start:
	cli
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
	.align 8
gdt:	.quad 0
	.quad 0x00cf9a000000ffff        /* 0x08: flat 32-bit code */
	.quad 0x00cf92000000ffff        /* 0x10: flat data */
gdt_ptr:
	.word gdt_ptr - gdt - 1
	.long gdt
	.globl pf_entry
	.text
/* #PF: the handler gets (error code, CR2) and returns to the faulting instruction. */
pf_entry:
	pushal
	movl %cr2, %eax
	pushl %eax
	pushl 36(%esp)                  /* the error code, above pushal's 32 bytes and CR2 */
	call pf_handler
	addl $8, %esp
	popal
	addl $4, %esp                   /* drop the error code */
	iret
	.bss
	.align 16
	.skip 16384
stack_top:
	.section .note.GNU-stack, "", @progbits
