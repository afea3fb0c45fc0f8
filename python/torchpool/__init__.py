"""torchpool: fast, complete pooling for PyTorch.

Max, average, soft and stochastic pooling, max- and average-unpooling, and their
gradients, as torch ops (``torch.ops.torchpool.*``) with SIMD CPU kernels (scalar,
AVX2, AVX-512, chosen at run time) and CUDA kernels. The functions mirror
``torch.nn.functional`` argument for argument; ``torchpool.nn`` mirrors ``torch.nn``.
"""
import json as _json
from pathlib import Path as _Path

import torch as _torch


def _load_library():
    lib = _Path(__file__).with_name("libtorchpool.so")
    if not lib.exists():
        raise ImportError(
            f"torchpool: {lib} is missing; build and install with "
            "`pip install --no-build-isolation .`"
        )
    _torch.ops.load_library(str(lib))


_load_library()

from . import functional, nn  # noqa: E402
from .functional import *  # noqa: E402,F401,F403


def cpu_capability() -> str:
    """The CPU kernel level in use: "scalar", "avx2" or "avx512".

    The best level the CPU supports, lowered by the environment variable
    TORCHPOOL_CPU_CAPABILITY (read once, when the first op runs).
    """
    return _torch.ops.torchpool.cpu_capability()


def build_info() -> dict:
    """How this torchpool was built: version, torch version built against, CPU
    levels compiled, the CPU level supported and in use, CUDA and its archs."""
    return _json.loads(_torch.ops.torchpool.build_info())


__version__ = build_info()["version"]
__all__ = functional.__all__ + ["cpu_capability", "build_info", "functional", "nn"]
