/*
 * entry64.S — the 64-bit test guest's entry (guests/long64.c).  A Multiboot
 * (v1) kernel with the a.out kludge (its file is ELF64, which a Multiboot
 * loader need not read): 32-bit code turns on long mode with boot tables
 * that identity-map the first 1 GiB in 2 MiB pages, then everything else
 * is 64-bit code:
 *
 *   an IDT whose exceptions go to trap() (which reports and powers off),
 *   with #PF to pf_handler(error code, CR2, from user), vector 0x80
 *   (a DPL-3 gate) the way back from ring 3, and vector 0x81 an IRETQ
 *   (k13_int(), an event delivered onto a stack of the caller's choice);
 *   a GDT with 64-bit ring-0 and ring-3 segments and a TSS (RSP0);
 *   probes: ring 0 probe_read/probe_write/probe_exec(va ...) and ring 3
 *   user_probe(kind, va, val), each returning 0 when the access went
 *   through and 1 after a #PF that pf_handler chose to abandon; ring 0
 *   probe_cr4(val) and probe_cr0(val), 0 when the MOV to CR4 or CR0 went
 *   through, 1 after a #GP;
 *   trap_rflags, the RFLAGS image the last #PF or probed #GP pushed.
 */
	.set MB_MAGIC, 0x1BADB002
	.set MB_FLAGS, 0x00010003       /* aligned modules, memory info, a.out kludge */

	.section .multiboot, "a"
	.align 4
mb_header:
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
	.long mb_header, __load_start, __load_end, __bss_end, _start

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
	movl %eax, mb_magic
	movl %ebx, mb_info
	/* boot tables: PML4[0] -> PDPT[0] -> 512 PDEs of 2 MiB */
	movl $boot_pdpt + 3, boot_pml4
	movl $boot_pd + 3, boot_pdpt
	xorl %ecx, %ecx
1:	movl %ecx, %eax
	shll $21, %eax
	orl $0x83, %eax                 /* P, RW, PS */
	movl %eax, boot_pd(, %ecx, 8)
	incl %ecx
	cmpl $512, %ecx
	jb 1b
	movl %cr4, %eax
	orl $0x20, %eax                 /* PAE */
	movl %eax, %cr4
	movl $boot_pml4, %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx          /* EFER.LME, NXE */
	rdmsr
	orl $0x900, %eax
	wrmsr
	movl %cr0, %eax
	orl $0x80000001, %eax           /* PG, PE */
	movl %eax, %cr0
	lgdt gdt_ptr
	ljmp $0x18, $long_entry

	.code64
long_entry:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs
	movabsq $stack_top, %rsp
	/* the TSS descriptor at 0x28: base = tss */
	movq $tss, %rax
	movw %ax, gdt + 0x28 + 2
	shrq $16, %rax
	movb %al, gdt + 0x28 + 4
	movb %ah, gdt + 0x28 + 7
	shrq $16, %rax
	movl %eax, gdt + 0x28 + 8
	movq $int_stack_top, %rax
	movq %rax, tss + 4              /* RSP0 */
	movw $0x28, %ax
	ltr %ax
	/* IDT: vectors 0..31 to their stubs, 0x80 to user_return (DPL 3) */
	xorl %ecx, %ecx
2:	movq trap_stubs(, %rcx, 8), %rax
	movl $0x8e00, %edx
	call set_gate
	incl %ecx
	cmpl $32, %ecx
	jb 2b
	movq $user_return, %rax
	movl $0x80, %ecx
	movl $0xee00, %edx
	call set_gate
	movq $k13_iret, %rax            /* 0x81: IRETQ alone (DPL 0) */
	movl $0x81, %ecx
	movl $0x8e00, %edx
	call set_gate
	lidt idt_ptr
	movl mb_magic, %edi
	movl mb_info, %esi
	call gmain
3:	cli
	hlt
	jmp 3b

/* k13_int(top): INT $0x81 with RSP = top (the caller's page: the delivery
 * pushes SS, RSP, RFLAGS, CS and RIP there, and IRETQ pops them), then the
 * caller's stack again; returns the RIP the delivery pushed, read back
 * from top - 40 (its lowest quadword). */
	.globl k13_int, k13_after
k13_int:
	movq %rsp, %rax
	movq %rdi, %rsp
	int $0x81
k13_after:
	movq %rax, %rsp
	movq -40(%rdi), %rax
	ret
k13_iret:
	iretq

/* set_gate: vector %ecx, handler %rax, type/DPL %edx */
set_gate:
	movq %rcx, %r8
	shlq $4, %r8
	addq $idt, %r8                  /* idt + 16 * vector */
	movw %ax, (%r8)
	movw $0x18, 2(%r8)              /* 64-bit code */
	movw %dx, 4(%r8)
	shrq $16, %rax
	movw %ax, 6(%r8)
	shrq $16, %rax
	movl %eax, 8(%r8)
	movl $0, 12(%r8)
	ret

/* Exceptions: each stub leaves [vector, error code] on the stack. */
	.macro stub v
trap\v:
	.if (\v == 8) || (\v >= 10 && \v <= 14) || (\v == 17) || (\v == 21)
	.else
	pushq $0
	.endif
	pushq $\v
	jmp trap_common
	.endm
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,\
		30,31
	stub \v
	.endr

trap_common:
	cmpq $14, (%rsp)
	je pf_common
	/* #GP while gp_armed (probe_cr4): note the RFLAGS pushed, abandon */
	cmpq $13, (%rsp)
	jne 1f
	cmpl $0, gp_armed
	je 1f
	movl $0, gp_armed
	pushq %rax
	movq 40(%rsp), %rax             /* RFLAGS: above RAX, vector, error code, RIP, CS */
	movq %rax, trap_rflags
	popq %rax
	movq $probe_fail, 16(%rsp)      /* the saved RIP */
	addq $16, %rsp                  /* vector, error code */
	iretq
1:	movq (%rsp), %rdi               /* vector */
	movq 8(%rsp), %rsi              /* error code */
	movq 16(%rsp), %rdx             /* RIP */
	andq $-16, %rsp
	call trap                       /* does not return */
	ud2

/* #PF: pf_handler(ec, cr2, from_user) returns 0 to re-run the access, or
 * nonzero to abandon the armed probe. */
pf_common:
	pushq %rax
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	movq 104(%rsp), %rax            /* the RFLAGS pushed: above them, RIP and CS */
	movq %rax, trap_rflags
	movq 80(%rsp), %rdi             /* error code: above 9 registers and the vector */
	movq %cr2, %rsi
	movq 96(%rsp), %rdx             /* CS */
	andl $3, %edx
	call pf_handler
	testl %eax, %eax
	jnz 5f
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rax
	addq $16, %rsp                  /* vector, error code */
	iretq
5:	cmpl $0, user_armed
	jne 6f
	movq $probe_fail, 88(%rsp)      /* the saved RIP */
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rax
	addq $16, %rsp
	iretq
6:	movq kern_rsp, %rsp             /* from ring 3: drop its frame */
	movl $0, user_armed
	movl $1, %eax
	jmp user_out

/* ---- ring-0 probes ---------------------------------------------------- */
	.globl probe_read, probe_write, probe_exec, probe_cr4, probe_cr0
probe_cr4:                              /* (val): 1 after a #GP */
	movq %rsp, probe_rsp
	movl $1, gp_armed
	movq %rdi, %cr4
	movl $0, gp_armed
	xorl %eax, %eax
	ret
probe_cr0:                              /* (val): 1 after a #GP */
	movq %rsp, probe_rsp
	movl $1, gp_armed
	movq %rdi, %cr0
	movl $0, gp_armed
	xorl %eax, %eax
	ret
probe_read:                             /* (va, uint64_t *out) */
	movq %rsp, probe_rsp
	movq (%rdi), %rax
	movq %rax, (%rsi)
	xorl %eax, %eax
	ret
probe_write:                            /* (va, val) */
	movq %rsp, probe_rsp
	movq %rsi, (%rdi)
	xorl %eax, %eax
	ret
probe_exec:                             /* (va) */
	movq %rsp, probe_rsp
	call *%rdi
	xorl %eax, %eax
	ret
probe_fail:
	movq probe_rsp, %rsp
	movl $1, %eax
	ret

/* ---- ring-3 probes ---------------------------------------------------- */
/* user_probe(kind 0 read / 1 write / 2 exec, va, val): the access is made
 * at CPL 3 by user_stub; its value (read, or the code's RAX) lands in
 * user_value. */
	.globl user_probe, user_value
user_probe:
	pushq %rbx
	pushq %rbp
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, kern_rsp
	movl $1, user_armed
	pushq $0x3b                     /* SS: user data, RPL 3 */
	pushq $user_stack_top
	pushq $0x2                      /* RFLAGS: interrupts off */
	pushq $0x43                     /* CS: user code, RPL 3 */
	pushq $user_stub
	iretq
user_return:                            /* int $0x80 from user_stub */
	movq kern_rsp, %rsp
	movl $0, user_armed
	movq %rax, user_value
	xorl %eax, %eax
user_out:
	movw $0x10, %cx
	movw %cx, %ds
	movw %cx, %es
	movw %cx, %ss
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbp
	popq %rbx
	ret

	.section .user, "ax"
	.globl user_stub
user_stub:
	cmpl $1, %edi
	je 1f
	ja 2f
	movq (%rsi), %rax
	int $0x80
1:	movq %rdx, (%rsi)
	xorl %eax, %eax
	int $0x80
2:	call *%rsi
	int $0x80

	.data
	.globl guest_tsc0
	.align 8
guest_tsc0:
	.quad 0
	.align 16
gdt:	.quad 0
	.quad 0x00cf9a000000ffff        /* 0x08: flat 32-bit code (the entry) */
	.quad 0x00cf92000000ffff        /* 0x10: flat data */
	.quad 0x00af9a000000ffff        /* 0x18: 64-bit code */
	.quad 0                         /* 0x20: unused */
	.quad 0x0000890000000067, 0     /* 0x28: 64-bit TSS, 16 bytes (base filled in) */
	.quad 0x00cff2000000ffff        /* 0x38 (0x3b): user data */
	.quad 0x00affa000000ffff        /* 0x40 (0x43): 64-bit user code */
gdt_end:
gdt_ptr:
	.word gdt_end - gdt - 1
	.quad gdt
idt_ptr:
	.word 256 * 16 - 1
	.quad idt
trap_stubs:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,\
		30,31
	.quad trap\v
	.endr
	.globl mb_magic, mb_info
mb_magic: .long 0
mb_info:  .long 0
user_armed: .long 0
gp_armed:  .long 0
	.align 8
	.globl trap_rflags
trap_rflags: .quad 0                    /* RFLAGS as the last #PF or armed #GP pushed it */
probe_rsp: .quad 0
kern_rsp:  .quad 0
user_value: .quad 0

	.bss
	.align 4096
boot_pml4: .skip 4096
boot_pdpt: .skip 4096
boot_pd:   .skip 4096
idt:       .skip 4096
tss:       .skip 104
	.align 16
	.skip 16384
stack_top:
	.skip 8192
int_stack_top:
	.section .user_stack, "aw", @nobits
	.align 4096
	.skip 4096
user_stack_top:
	.section .note.GNU-stack, "", @progbits
