"""What a fresh `python -c` can import: the training pipeline (great-expectations reaches PySpark's
Spark Connect, which ends a process without a __main__ file when grpc is missing), and the service and
the demo without PySpark at all (it is the optional `spark` extra)."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "code",
    [
        "import triage.training.pipeline; print(1)",
        "import sys; sys.modules['pyspark'] = None; import triage.app, triage.demo, triage.training.pipeline; print(1)",
    ],
    ids=["with PySpark", "without PySpark"],
)
def test_a_python_c_import_runs_to_its_end(code):
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "1", done.stderr[-2000:]
