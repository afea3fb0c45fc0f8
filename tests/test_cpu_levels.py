"""The CPU parity tests under every CPU level: each level runs them in a subprocess
with TORCHPOOL_CPU_CAPABILITY set (conftest.py checks the level took effect). The
in-process run covers the best level; the others run here."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

import torchpool

HERE = Path(__file__).resolve().parent
PARITY = ["test_max_pool.py", "test_avg_pool.py", "test_hypothesis.py", "test_gradcheck.py",
          "test_soft_pool.py", "test_stochastic_pool.py", "test_unpool.py", "test_bounds.py"]
LEVELS = ["scalar", "avx2", "avx512"]


def skip_unless_runnable(level):
    info = torchpool.build_info()
    if level not in info["cpu_levels"] or LEVELS.index(level) > LEVELS.index(info["cpu_supported"]):
        pytest.skip(f"{level} is not compiled or not supported by this CPU")


def run_python(code, **env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=600)


@pytest.mark.skipif(bool(os.environ.get("TORCHPOOL_CPU_CAPABILITY")), reason="already under a forced level")
@pytest.mark.parametrize("level", LEVELS)
def test_parity_suite_under_level(level):
    skip_unless_runnable(level)
    if level == torchpool.cpu_capability():
        pytest.skip(f"{level} is the level of this process: the in-process tests cover it")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *PARITY],
        cwd=HERE, capture_output=True, text=True, timeout=1800,
        env={**os.environ, "TORCHPOOL_CPU_CAPABILITY": level})
    tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
    assert proc.returncode == 0, f"parity suite failed under {level}:\n{tail}"
    assert " passed" in proc.stdout, tail


@pytest.mark.skipif(bool(os.environ.get("TORCHPOOL_STREAM_MIN_BYTES")), reason="already streaming")
@pytest.mark.parametrize("level", ["avx2", "avx512"])
def test_streaming_stores_under_level(level):
    """Backward outputs larger than the last-level cache are written with non-temporal
    stores (a kernel path of its own, where rows are whole cache lines); the tests'
    tensors are small, so TORCHPOOL_STREAM_MIN_BYTES=0 takes that path on them."""
    skip_unless_runnable(level)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "test_avg_pool.py",
         "test_soft_pool.py", "test_stochastic_pool.py", "test_max_pool.py", "-k", "tiled or forward_backward"],
        cwd=HERE, capture_output=True, text=True, timeout=1800,
        env={**os.environ, "TORCHPOOL_CPU_CAPABILITY": level, "TORCHPOOL_STREAM_MIN_BYTES": "0"})
    tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
    assert proc.returncode == 0, f"parity tests with streaming stores failed under {level}:\n{tail}"
    assert " passed" in proc.stdout, tail


def test_override_lowers_and_bad_values_are_ignored():
    probe = "import torchpool; print(torchpool.cpu_capability())"
    best = torchpool.build_info()["cpu_supported"]
    r = run_python(probe, TORCHPOOL_CPU_CAPABILITY="scalar")
    assert r.stdout.strip() == "scalar", r.stderr
    r = run_python(probe, TORCHPOOL_CPU_CAPABILITY="bogus")
    assert r.stdout.strip() == best and "ignoring TORCHPOOL_CPU_CAPABILITY=bogus" in r.stderr


@pytest.mark.skipif(bool(os.environ.get("TORCHPOOL_GATHER")), reason="already forced")
@pytest.mark.parametrize("gather", ["hardware", "loads"])
@pytest.mark.parametrize("level", ["avx2", "avx512"])
def test_gather_paths_under_level(level, gather):
    """The gather (max_unpool backward) takes hardware gathers on CPUs where they are fast
    (Intel) and checked blocks of element loads elsewhere (AMD): TORCHPOOL_GATHER forces
    each, so both are tested on any CPU."""
    skip_unless_runnable(level)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "test_unpool.py", "test_max_pool.py",
         "-k", "gather or backward or double"],
        cwd=HERE, capture_output=True, text=True, timeout=1800,
        env={**os.environ, "TORCHPOOL_CPU_CAPABILITY": level, "TORCHPOOL_GATHER": gather})
    tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
    assert proc.returncode == 0, f"gather tests failed under {level} with {gather} gathers:\n{tail}"
    assert " passed" in proc.stdout, tail
