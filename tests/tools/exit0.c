// SPDX-License-Identifier: GPL-2.0
/*
 * exit0: exits with status 0 and does nothing else. What tests/bench/agent.sh
 * execs by the ten thousand: an exec of it costs the kernel's exec and the
 * probes, not a C library's start-up.
 *
 * Where the Makefile can build it without a C library (x86_64, arm64), it is
 * its own _start and makes the exit system call directly: glibc's start-up
 * alone (CPU feature probing with cpuid, which traps to the hypervisor in a
 * VM) costs ten times what the exec does. Elsewhere it is an ordinary
 * program.
 */
#if defined(AW_EXIT0_NOLIBC) && defined(__x86_64__)
void _start(void)
{
	__asm__ volatile("mov $231, %eax\n\t"	/* exit_group */
			 "xor %edi, %edi\n\t"
			 "syscall");
	__builtin_unreachable();
}
#elif defined(AW_EXIT0_NOLIBC) && defined(__aarch64__)
void _start(void)
{
	__asm__ volatile("mov x8, #94\n\t"	/* exit_group */
			 "mov x0, #0\n\t"
			 "svc #0");
	__builtin_unreachable();
}
#else
int main(void)
{
	return 0;
}
#endif
