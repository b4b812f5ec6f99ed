"""A small seccomp filter for bwrap jobs: shrink the kernel attack surface a hostile job can reach.

Design choices:
- A deny list, not an allow list: Python, torch, compilers and cargo use a wide and changing set of syscalls,
  and an allow list that misses one breaks learners' jobs in confusing ways. Denied are syscalls a grading job
  never needs and that either change namespaces (``unshare``, ``setns``, namespace flags on ``clone``: no nested
  user namespaces), mount things, load kernel code, or are frequent exploit vectors (``bpf``, ``userfaultfd``,
  ``io_uring_*``, ``perf_event_open``, keyrings).
- Denied calls fail with EPERM (a clear Python ``PermissionError``), never kill the job. ``clone3`` fails with
  ENOSYS because its flags sit behind a pointer a filter cannot read; glibc then falls back to ``clone``, whose
  flags the filter checks.
- The program is classic BPF, assembled here with ``struct`` (no libseccomp binding needed), and handed to
  ``bwrap --seccomp FD``. It is x86_64 only: other architectures get no filter (documented in the threat model),
  and x32 syscalls and foreign architectures are refused.
"""

from __future__ import annotations

import errno
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
# clone(2) flags that create namespaces: NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET.
CLONE_NAMESPACE_FLAGS = (
    0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
)

#: x86_64 syscall numbers refused with EPERM.
DENIED_X86_64 = {
    "syslog": 103,
    "pivot_root": 155,
    "chroot": 161,
    "acct": 163,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "iopl": 172,
    "ioperm": 173,
    "init_module": 175,
    "delete_module": 176,
    "quotactl": 179,
    "lookup_dcookie": 212,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "unshare": 272,
    "perf_event_open": 298,
    "fanotify_init": 300,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "setns": 308,
    "finit_module": 313,
    "kexec_file_load": 320,
    "bpf": 321,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
}
NR_CLONE = 56
NR_CLONE3 = 435

# Classic BPF opcodes.
LD_W_ABS = 0x20
JEQ_K = 0x15
JGE_K = 0x35
JSET_K = 0x45
RET_K = 0x06
OFFSET_NR, OFFSET_ARCH, OFFSET_ARG0_LOW = 0, 4, 16


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


def program(machine: str) -> bytes | None:
    """The filter for ``machine`` (``platform.machine()``) as raw ``sock_filter`` bytes, or None if unsupported."""
    if machine != "x86_64":
        return None
    eperm = SECCOMP_RET_ERRNO | errno.EPERM
    insns = [
        _insn(LD_W_ABS, OFFSET_ARCH),
        _insn(JEQ_K, AUDIT_ARCH_X86_64, jt=1),
        _insn(RET_K, SECCOMP_RET_KILL_PROCESS),
        _insn(LD_W_ABS, OFFSET_NR),
        _insn(JGE_K, X32_SYSCALL_BIT, jf=1),
        _insn(RET_K, eperm),
        _insn(JEQ_K, NR_CLONE3, jf=1),
        _insn(RET_K, SECCOMP_RET_ERRNO | errno.ENOSYS),
    ]
    for nr in sorted(DENIED_X86_64.values()):
        insns += [_insn(JEQ_K, nr, jf=1), _insn(RET_K, eperm)]
    insns += [
        _insn(JEQ_K, NR_CLONE, jf=3),
        _insn(LD_W_ABS, OFFSET_ARG0_LOW),
        _insn(JSET_K, CLONE_NAMESPACE_FLAGS, jf=1),
        _insn(RET_K, eperm),
        _insn(RET_K, SECCOMP_RET_ALLOW),
    ]
    return b"".join(insns)
