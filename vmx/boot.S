/*
 * boot.S — the hypervisor's entry from a Multiboot (v1) loader: 32-bit
 * protected mode, paging off, EAX = 0x2BADB002, EBX = the information
 * structure.  Maps the first 4 GiB 1:1 with 2 MiB pages, and again at
 * HV_DMAP (the direct map, through which the hypervisor reaches guest
 * memory and the loader's structures; hv.c extends it over guest RAM above
 * 4 GiB, in dmap_pdpt), enters long mode, loads a GDT with a
 * TSS (VMX needs a non-null host TR) and calls hv_main(magic, info) on the
 * boot stack.  Also hv_move (the image to the top of memory), the VM-exit
 * entry point (vmx_exit_entry) and the VM-entry routine (vmx_run).
 */
	.set HV_DMAP, 0xffff800000000000
	.set HV_IMAGE, 0x1000000        /* hv.ld, HV_BASE in hv.h */
	.set MB_MAGIC, 0x1BADB002
	.set MB_FLAGS, 0x00000003       /* page-aligned modules, memory map */

	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

	.section .boot, "ax"
	.code32
	.globl _start
_start:
	cli
	movl %eax, boot_magic
	movl %ebx, boot_info
	movl $boot_stack_top, %esp

	/* PML4[0] -> PDPT; PDPT[0..3] -> PD0..3; PDn: 2 MiB pages */
	movl $boot_pdpt, %eax
	orl $3, %eax
	movl %eax, boot_pml4
	xorl %ecx, %ecx
1:	movl %ecx, %eax
	shll $12, %eax
	addl $boot_pd, %eax
	orl $3, %eax
	movl %eax, boot_pdpt(,%ecx,8)
	incl %ecx
	cmpl $4, %ecx
	jne 1b
	xorl %ecx, %ecx
2:	movl %ecx, %eax
	shll $21, %eax
	orl $0x83, %eax                 /* P, RW, PS */
	movl %eax, boot_pd(,%ecx,8)
	movl %ecx, %eax
	shrl $11, %eax
	movl %eax, boot_pd+4(,%ecx,8)
	incl %ecx
	cmpl $2048, %ecx
	jne 2b
	/* the direct map: PML4[256] -> its own PDPT and PDs, the same pages */
	movl $dmap_pdpt, %eax
	orl $3, %eax
	movl %eax, boot_pml4 + 256 * 8
	xorl %ecx, %ecx
3:	movl %ecx, %eax
	shll $12, %eax
	addl $dmap_pd, %eax
	orl $3, %eax
	movl %eax, dmap_pdpt(,%ecx,8)
	incl %ecx
	cmpl $4, %ecx
	jne 3b
	xorl %ecx, %ecx
4:	movl boot_pd(,%ecx,8), %eax
	movl %eax, dmap_pd(,%ecx,8)
	movl boot_pd+4(,%ecx,8), %eax
	movl %eax, dmap_pd+4(,%ecx,8)
	incl %ecx
	cmpl $2048, %ecx
	jne 4b

	movl %cr4, %eax
	orl $0x20, %eax                 /* PAE */
	movl %eax, %cr4
	movl $boot_pml4, %eax
	movl %eax, %cr3
	movl $0xC0000080, %ecx          /* EFER.LME */
	rdmsr
	orl $0x100, %eax
	wrmsr
	movl %cr0, %eax
	orl $0x80000021, %eax           /* PG, NE, PE */
	movl %eax, %cr0
	lgdt gdt_ptr
	ljmp $0x08, $long_entry

	.code64
long_entry:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorw %ax, %ax
	movw %ax, %fs
	movw %ax, %gs
	/* the TSS descriptor's base, then load TR */
	movq $hv_tss, %rax
	movw %ax, gdt+0x18+2
	shrq $16, %rax
	movb %al, gdt+0x18+4
	movb %ah, gdt+0x18+7
	shrq $16, %rax
	movl %eax, gdt+0x18+8
	movw $0x18, %ax
	ltr %ax
	movq $boot_stack_top, %rsp
	movl boot_magic, %edi
	movl boot_info, %esi
	call hv_main
3:	cli
	hlt
	jmp 3b

/*
 * void hv_move(uint64_t dest, uint64_t size): copy the image (HV_BASE, size
 * bytes, a multiple of 2 MiB, bss and this stack included) to physical
 * address dest through the direct map; in the copy's page tables, map the
 * image's addresses to dest and nothing else of the identity map (a stray
 * 1:1 access then faults rather than reading guest memory); switch to the
 * copy's tables.  Nothing the copy needs is written between the copy and
 * the switch: the return address was pushed before.
 */
	.globl hv_move
hv_move:
	movq %rdi, %r8                  /* dest */
	movq %rsi, %rcx
	shrq $3, %rcx
	movabsq $HV_DMAP, %rax
	leaq (%rax,%rdi), %rdi
	movq $HV_IMAGE, %rsi
	cld
	rep movsq
	/* the copy's boot_pd, through the direct map */
	movq $boot_pd, %r9
	subq $HV_IMAGE, %r9
	addq %r8, %r9
	addq %rax, %r9
	xorl %ecx, %ecx
1:	movq $0, (%r9,%rcx,8)
	incl %ecx
	cmpl $2048, %ecx
	jne 1b
	movq $HV_IMAGE, %rcx
	shrq $21, %rcx                  /* the image's first PDE */
	movq %r8, %rdx
	orq $0x83, %rdx
	movq %rsi, %r10                 /* (rep movsq left rsi at the image's end) */
	subq $HV_IMAGE, %r10
	shrq $21, %r10                  /* 2 MiB pages in the image */
2:	movq %rdx, (%r9,%rcx,8)
	addq $0x200000, %rdx
	incq %rcx
	decq %r10
	jnz 2b
	movq %rsi, %r10                 /* the image's end */
	/* the copy's PML4 and PDPTs point at the old tables: relocate the
	 * entries that point into the image */
	movabsq $HV_DMAP, %rax
	movq $boot_pml4, %rdi
	call 3f
	movq $boot_pdpt, %rdi
	call 3f
	movq $dmap_pdpt, %rdi
	call 3f
	movq $boot_pml4, %rax
	subq $HV_IMAGE, %rax
	addq %r8, %rax
	movq %rax, %cr3
	ret
	/* table at image address %rdi: in the copy (%rax = HV_DMAP, %r8 =
	 * dest), add dest - HV_IMAGE to each entry pointing into the image */
3:	subq $HV_IMAGE, %rdi
	addq %r8, %rdi
	addq %rax, %rdi
	xorl %ecx, %ecx
4:	movq (%rdi,%rcx,8), %rdx
	movq %rdx, %r11
	andq $-4096, %r11
	cmpq $HV_IMAGE, %r11
	jb 5f
	cmpq %r10, %r11                 /* (r10: the image's end, set below) */
	jae 5f
	subq $HV_IMAGE, %rdx
	addq %r8, %rdx
	movq %rdx, (%rdi,%rcx,8)
5:	incl %ecx
	cmpl $512, %ecx
	jne 4b
	ret

/*
 * int vmx_run(struct hv_gprs *g, int launched): load the guest's general
 * registers from *g and VMLAUNCH (launched == 0) or VMRESUME.  Returns
 * only if the instruction fails (the flags say how: 1 VMfailInvalid,
 * 2 VMfailValid).  A VM exit arrives at vmx_exit_entry instead, on the
 * host stack the VMCS names, which starts with the saved *g pointer.
 */
	.text
	.globl vmx_run
vmx_run:
	pushq %rbx
	pushq %rbp
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, host_saved_rsp
	movq %rdi, cur_gprs
	movl %esi, %eax
	movq 8(%rdi), %rcx
	movq 16(%rdi), %rdx
	movq 24(%rdi), %rbx
	movq 40(%rdi), %rbp
	movq 48(%rdi), %rsi
	movq 64(%rdi), %r8
	movq 72(%rdi), %r9
	movq 80(%rdi), %r10
	movq 88(%rdi), %r11
	movq 96(%rdi), %r12
	movq 104(%rdi), %r13
	movq 112(%rdi), %r14
	movq 120(%rdi), %r15
	testl %eax, %eax
	movq 0(%rdi), %rax
	movq 56(%rdi), %rdi
	jnz 1f
	vmlaunch
	jmp 2f
1:	vmresume
2:	/* failed: CF -> 1, ZF -> 2 */
	movl $1, %eax
	jc 3f
	movl $2, %eax
3:	movq host_saved_rsp, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbp
	popq %rbx
	ret

	.globl vmx_exit_entry
vmx_exit_entry:
	/* guest registers into *cur_gprs; RSP and RIP live in the VMCS */
	pushq %rdi
	movq cur_gprs, %rdi
	movq %rax, 0(%rdi)
	movq %rcx, 8(%rdi)
	movq %rdx, 16(%rdi)
	movq %rbx, 24(%rdi)
	movq %rbp, 40(%rdi)
	movq %rsi, 48(%rdi)
	popq %rax
	movq %rax, 56(%rdi)
	movq %r8, 64(%rdi)
	movq %r9, 72(%rdi)
	movq %r10, 80(%rdi)
	movq %r11, 88(%rdi)
	movq %r12, 96(%rdi)
	movq %r13, 104(%rdi)
	movq %r14, 112(%rdi)
	movq %r15, 120(%rdi)
	movq host_saved_rsp, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbp
	popq %rbx
	xorl %eax, %eax                 /* vmx_run "returns" 0: an exit */
	ret

	.data
	.align 16
gdt:
	.quad 0
	.quad 0x00209a0000000000        /* 0x08: 64-bit code */
	.quad 0x0000920000000000        /* 0x10: data */
	.quad 0x0000890000000067        /* 0x18: TSS (base filled in), limit 0x67 */
	.quad 0
	.globl gdt
gdt_ptr:
	.word gdt_ptr - gdt - 1
	.quad gdt
boot_magic: .long 0
boot_info:  .long 0
	.align 8
	.globl host_saved_rsp
host_saved_rsp: .quad 0
cur_gprs: .quad 0

	.bss
	.align 4096
boot_pml4: .skip 4096
boot_pdpt: .skip 4096
boot_pd:   .skip 4 * 4096
	.globl dmap_pdpt
dmap_pdpt: .skip 4096
dmap_pd:   .skip 4 * 4096
	.globl hv_tss
hv_tss:    .skip 0x68
	.align 16
boot_stack: .skip 65536
boot_stack_top:
	.section .note.GNU-stack, "", @progbits
