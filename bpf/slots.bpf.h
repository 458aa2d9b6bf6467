/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The flushes bracket of the per-CPU batches (struct cpu_slot in usage.h),
 * shared by the BPF programs (BPF only).
 */
#ifndef ABUSEWATCH_SLOTS_BPF_H
#define ABUSEWATCH_SLOTS_BPF_H

#include <bpf/bpf_helpers.h>

/*
 * flush_begin() makes @slot's flushes odd before its batch moves to the
 * maps, flush_end() even again once the slot holds the next batch. A
 * reader on another CPU must never see a store of the move (to the maps or
 * to the slot) without the odd flushes before it, nor the even one without
 * all of them: the stores must become visible in program order.
 *
 * x86 keeps stores in program order (TSO), and the adds to the maps are
 * locked instructions anyway: plain stores, with compiler barriers so that
 * clang keeps that order too, cost nothing more. Elsewhere (arm64, and any
 * target not known to be x86: the safe default) each step is an atomic
 * exchange, which every JIT emits fully ordered, a full memory barrier
 * either side: BPF_XCHG is arm64's SWPAL with LSE atomics, LDXR/STLXR then
 * DMB ISH without (emit_lse_atomic() and emit_ll_sc_atomic() in the
 * kernel's arch/arm64/net/bpf_jit_comp.c), as the kernel's memory model
 * wants of a read-modify-write that returns a value (Documentation/
 * atomic_t.txt; the powerpc and riscv JITs were fixed for it in 2024,
 * "powerpc/bpf: enforce full ordering for ATOMIC operations with
 * BPF_FETCH"), x86 XCHG (locked), the interpreter atomic_xchg(). Not
 * an add: clang emits a __sync_fetch_and_add() whose result is unused as
 * BPF_ADD without BPF_FETCH, which arm64 emits relaxed (STADD, or
 * LDXR/STXR). clang 14 has no BPF load-acquire/store-release. Only the
 * slot's owner writes flushes (its CPU, holding the slot), so reading it
 * before the exchange is no race.
 *
 * AW_ORDERED_FLUSHES forces the exchange on x86 too, to test that path.
 */
#if defined(__TARGET_ARCH_x86) && !defined(AW_ORDERED_FLUSHES)
#define flush_begin(slot)				\
	do {						\
		(slot)->flushes++;			\
		barrier();				\
	} while (0)
#define flush_end(slot)					\
	do {						\
		barrier();				\
		(slot)->flushes++;			\
	} while (0)
#else
#define flush_step(slot)							\
	do {									\
		barrier();							\
		__atomic_exchange_n(&(slot)->flushes, (slot)->flushes + 1,	\
				    __ATOMIC_SEQ_CST);				\
		barrier();							\
	} while (0)
#define flush_begin(slot) flush_step(slot)
#define flush_end(slot) flush_step(slot)
#endif

#endif
