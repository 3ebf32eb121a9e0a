"""The package's layers only point down (the contracts in pyproject.toml ``[tool.importlinter]``).

A module may import from the layers below its own and never from above; sibling packages of one
layer import nothing of each other, and no package imports another in a cycle.  Imports inside
functions count.  The second test checks that the contracts would catch the upward imports
this layout was made to end.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import pytest
from importlinter.api import read_configuration
from importlinter.contracts.acyclic_siblings import AcyclicSiblingsContract
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.layers import LayersContract

ROOT = Path(__file__).resolve().parents[1]
CONTRACT_TYPES = {
    "layers": LayersContract,
    "forbidden": ForbiddenContract,
    "acyclic_siblings": AcyclicSiblingsContract,
}


def test_every_import_keeps_the_contracts():
    lint = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def broken_contracts(graph: grimp.ImportGraph) -> list[str]:
    config = read_configuration(str(ROOT / "pyproject.toml"))
    session = config["session_options"]
    contracts = [
        CONTRACT_TYPES[options["type"]](options["name"], session, options)
        for options in config["contracts_options"]
    ]
    return [
        contract.name for contract in contracts if not contract.check(graph, verbose=False).kept
    ]


@pytest.mark.parametrize(
    "importer, imported",
    [
        ("triage.serving.api", "triage.workbench"),  # the API mounting the workbench
        ("triage.workbench.views", "triage.serving.deps"),  # the workbench leaning on the API
        ("triage.training.pipeline", "triage.monitoring"),  # training and monitoring in a cycle
        ("triage.monitoring.monitor", "triage.training.pipeline"),
        (
            "triage.features.spark.pipeline",
            "triage.training.pipeline",
        ),  # features reaching up for points
        ("triage.decisions.scoring", "triage.serving.schemas"),  # the domain returning HTTP bodies
        ("triage.decisions.stored", "fastapi"),
    ],
)
def test_an_upward_import_breaks_a_contract(importer: str, imported: str):
    graph = grimp.build_graph("triage", include_external_packages=True, cache_dir=None)
    assert broken_contracts(graph) == []
    graph.add_import(importer=importer, imported=imported)
    assert broken_contracts(graph) != []
