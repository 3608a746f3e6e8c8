// SPDX-License-Identifier: GPL-2.0
/*
 * Load bpf_smoke.bpf.c (built on the host, skeleton via bpftool) in the lab
 * guest, attach it, exec a child and see the program count exactly that exec.
 */
#include <bpf/libbpf.h>
#include <sys/wait.h>

#include "lab.h"
#include "bpf_smoke.skel.h"

static int print_fn(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_DEBUG ? 0 : vfprintf(stderr, fmt, ap);
}

int main(void)
{
	struct bpf_smoke_bpf *skel;
	int go[2], status, ret;
	pid_t child;
	char c = 0;

	libbpf_set_print(print_fn);
	skel = bpf_smoke_bpf__open_and_load();
	if (!LAB_CHECK(skel, "bpf-load-tp-btf", "open/load failed: %s", strerror(errno)))
		return 1;
	ret = bpf_smoke_bpf__attach(skel);
	if (!LAB_CHECK(ret == 0, "bpf-attach-tp-btf", "attach failed: %s", strerror(-ret)))
		return 1;

	if (pipe(go))
		return 1;
	child = fork();
	if (child == 0) {
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(127);
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	}
	close(go[0]);
	skel->bss->target_pid = child;
	if (write(go[1], &c, 1) != 1)
		return 1;
	waitpid(child, &status, 0);

	LAB_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "bpf-child-exec",
		  "the child did not exec /bin/true");
	LAB_CHECK(skel->bss->hits == 1 && skel->bss->last_old_pid == child, "bpf-tp-btf-fires",
		  "program saw %d exec(s) of pid %d, expected 1 of pid %d",
		  skel->bss->hits, skel->bss->last_old_pid, child);
	bpf_smoke_bpf__destroy(skel);
	return lab_failed;
}
