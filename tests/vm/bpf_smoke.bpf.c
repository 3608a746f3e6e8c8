// SPDX-License-Identifier: GPL-2.0
/*
 * A tp_btf program on sched_process_exec: counts execs of one pid, set by
 * the loader after load. Proves that a program built on the host attaches
 * through the guest kernel's BTF and fires.
 */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct task_struct;
struct linux_binprm;

int target_pid;
int hits;
int last_old_pid;

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, int old_pid, struct linux_binprm *bprm)
{
	if (old_pid != target_pid)
		return 0;
	__sync_fetch_and_add(&hits, 1);
	last_old_pid = old_pid;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
