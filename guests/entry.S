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
	pushl %ebx
	pushl %eax
	call gmain
1:	cli
	hlt
	jmp 1b
	.bss
	.align 16
	.skip 16384
stack_top:
	.section .note.GNU-stack, "", @progbits
