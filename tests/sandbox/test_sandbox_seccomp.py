"""sandbox.seccomp: the BPF program's shape (its effect is tested in the adversarial suite)."""

from __future__ import annotations

import struct

from sandbox.bwrap import BwrapSandbox
from sandbox.seccomp import DENIED_X86_64, SECCOMP_RET_ALLOW, program


def instructions(raw: bytes) -> list[tuple[int, int, int, int]]:
    return [struct.unpack("<HBBI", raw[i : i + 8]) for i in range(0, len(raw), 8)]


def test_other_architectures_get_no_filter() -> None:
    assert program("aarch64") is None


def test_the_x86_64_program_checks_the_architecture_first_and_allows_last() -> None:
    insns = instructions(program("x86_64") or b"")
    assert (insns[0], insns[-1][3]) == ((0x20, 0, 0, 4), SECCOMP_RET_ALLOW)


def test_every_denied_syscall_has_a_check() -> None:
    checked = {k for code, _, _, k in instructions(program("x86_64") or b"") if code == 0x15}
    assert set(DENIED_X86_64.values()) <= checked


def test_the_program_fits_the_kernel_limit() -> None:
    assert len(instructions(program("x86_64") or b"")) <= 4096


def test_the_filter_can_be_turned_off(tmp_path) -> None:
    assert BwrapSandbox(use_seccomp=False, state_dir=tmp_path).seccomp is None
