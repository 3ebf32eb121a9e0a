"""Memory handed back between large steps: Arrow allocates through glibc, whose free pages
``release_memory`` can return, unless the operator chose another pool."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

BACKEND = "import triage.memory, pyarrow; print(pyarrow.default_memory_pool().backend_name)"


@pytest.mark.parametrize(("chosen", "backend"), [(None, "system"), ("mimalloc", "mimalloc")])
def test_arrow_allocates_through_glibc_unless_another_pool_is_chosen(chosen, backend):
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if chosen:
        env["ARROW_DEFAULT_MEMORY_POOL"] = chosen
    shown = subprocess.run(
        [sys.executable, "-c", BACKEND], env=env, capture_output=True, text=True, check=True
    )
    assert shown.stdout.strip() == backend
