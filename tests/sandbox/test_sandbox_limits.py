"""sandbox.limits: defaults, module requests, operator caps from env, loud errors on bad values."""

from __future__ import annotations

import pytest

from sandbox.limits import CAPS, DEFAULTS, FIELD_NAMES, GIB, resolve, table


def test_it_uses_the_built_in_defaults_without_env_or_requests() -> None:
    limits = resolve(None, environ={})
    assert {name: getattr(limits, name) for name in FIELD_NAMES} == DEFAULTS


def test_an_env_default_replaces_the_built_in_default() -> None:
    assert resolve(environ={"SANDBOX_WALL_SECONDS": "12.5"}).wall_seconds == 12.5


def test_a_module_request_below_the_cap_is_granted() -> None:
    assert resolve({"memory_bytes": 3 * GIB}, environ={}).memory_bytes == 3 * GIB


def test_a_module_request_above_the_cap_is_clamped_to_the_cap() -> None:
    assert resolve({"wall_seconds": 10_000}, environ={}).wall_seconds == CAPS["wall_seconds"]


def test_an_env_cap_lowers_what_a_module_may_get() -> None:
    env = {"SANDBOX_PIDS": "50", "SANDBOX_PIDS_MAX": "100"}
    assert resolve({"pids": 400}, environ=env).pids == 100


def test_a_module_may_ask_for_less_than_the_default() -> None:
    assert resolve({"output_bytes": 1000}, environ={}).output_bytes == 1000


def test_the_gpu_flag_in_module_limits_is_ignored() -> None:
    assert resolve({"gpu": True}, environ={}) == resolve(None, environ={})


def test_an_unknown_limit_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown sandbox limit 'ram'"):
        resolve({"ram": 5}, environ={})


def test_a_non_numeric_env_value_is_rejected_with_its_name() -> None:
    with pytest.raises(ValueError, match="SANDBOX_MEMORY_BYTES: expected a positive integer"):
        resolve(environ={"SANDBOX_MEMORY_BYTES": "2GB"})


def test_a_zero_env_value_is_rejected() -> None:
    with pytest.raises(ValueError, match="SANDBOX_PIDS: expected a value > 0"):
        resolve(environ={"SANDBOX_PIDS": "0"})


def test_a_negative_request_is_rejected() -> None:
    with pytest.raises(ValueError, match="limits.cpu_seconds: expected a value > 0"):
        resolve({"cpu_seconds": -1}, environ={})


def test_an_infinite_wall_clock_is_rejected() -> None:
    with pytest.raises(ValueError, match="expected a finite number"):
        resolve(environ={"SANDBOX_WALL_SECONDS_MAX": "inf"})


def test_a_non_numeric_wall_clock_is_rejected() -> None:
    with pytest.raises(ValueError, match="SANDBOX_WALL_SECONDS: expected a positive number"):
        resolve(environ={"SANDBOX_WALL_SECONDS": "soon"})


def test_a_boolean_request_is_rejected() -> None:
    with pytest.raises(ValueError, match="got a boolean"):
        resolve({"pids": True}, environ={})


def test_a_whole_float_is_accepted_for_an_integer_limit() -> None:
    assert resolve({"pids": 20.0}, environ={}).pids == 20


def test_a_fractional_float_is_rejected_for_an_integer_limit() -> None:
    with pytest.raises(ValueError, match="limits.pids: expected a positive integer"):
        resolve({"pids": 20.5}, environ={})


def test_a_default_above_its_cap_is_rejected() -> None:
    with pytest.raises(ValueError, match="SANDBOX_PIDS=100 is above its cap SANDBOX_PIDS_MAX=50"):
        resolve(environ={"SANDBOX_PIDS": "100", "SANDBOX_PIDS_MAX": "50"})


def test_an_empty_env_value_means_the_built_in_value() -> None:
    assert resolve(environ={"SANDBOX_OPEN_FILES": " "}).open_files == DEFAULTS["open_files"]


def test_the_process_env_is_read_when_no_mapping_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_TMPFS_BYTES", "1234")
    assert resolve().tmpfs_bytes == 1234


def test_the_table_names_every_field_with_its_env_vars() -> None:
    rows = table()
    assert [r[0] for r in rows] == list(FIELD_NAMES) and rows[0][1:3] == (
        "SANDBOX_WALL_SECONDS",
        "SANDBOX_WALL_SECONDS_MAX",
    )


def test_the_work_dir_caps_have_a_default_and_an_operator_cap() -> None:
    env = {"SANDBOX_WORK_BYTES": str(GIB), "SANDBOX_WORK_INODES": "500", "SANDBOX_WORK_INODES_MAX": "1000"}
    limits = resolve({"work_inodes": 5000}, environ=env)
    assert (limits.work_bytes, limits.work_inodes) == (GIB, 1000)
