"""The public API: signatures identical to torch.nn.functional, the ops under
torch.ops.torchpool, cpu_capability() and build_info()."""
import inspect

import pytest
import torch
import torch.nn.functional as F

import torchpool

FUNCTIONS = ["max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d"]


# torch's avg_pool*d are builtins without a Python signature: these are theirs (with
# divisor_override, which torch's avg_pool1d lacks and torchpool's takes too).
AVG_PARAMETERS = [("input", inspect.Parameter.empty), ("kernel_size", inspect.Parameter.empty),
                  ("stride", None), ("padding", 0), ("ceil_mode", False), ("count_include_pad", True),
                  ("divisor_override", None)]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_signature_matches_torch(name):
    ours = [(p.name, p.default) for p in inspect.signature(getattr(torchpool, name)).parameters.values()]
    if name.startswith("max"):  # the Python function behind torch's boolean dispatch
        theirs = [(p.name, p.default)
                  for p in inspect.signature(getattr(F, "_" + name)).parameters.values()]
    else:
        theirs = AVG_PARAMETERS
    assert ours == theirs


def test_positional_arguments_as_torch():
    x = torch.randn(2, 3, 9, 9)
    torch.testing.assert_close(torchpool.max_pool2d(x, 3, 2, 1, 1, True, False),
                               F.max_pool2d(x, 3, 2, 1, 1, True, False))
    torch.testing.assert_close(torchpool.avg_pool2d(x, 3, 2, 1, True, False, None),
                               F.avg_pool2d(x, 3, 2, 1, True, False, None))


def test_ops_are_registered():
    for name in FUNCTIONS:
        for suffix in ("", "_backward") + (("_with_indices",) if name.startswith("max") else ()):
            assert hasattr(torch.ops.torchpool, name + suffix), name + suffix


def test_cpu_capability_and_build_info():
    info = torchpool.build_info()
    assert torchpool.cpu_capability() in ("scalar", "avx2", "avx512")
    assert torchpool.cpu_capability() in info["cpu_levels"]
    assert info["version"] == torchpool.__version__
    assert info["torch_version"].split("+")[0] == torch.__version__.split("+")[0]
    assert set(info) >= {"version", "torch_version", "cpu_levels", "cuda", "cuda_archs"}


def test_bad_arguments_name_the_argument():
    x = torch.randn(1, 2, 8, 8)
    cases = [
        (dict(kernel_size=0), "kernel_size"), (dict(kernel_size=2, stride=0), "stride"),
        (dict(kernel_size=2, padding=-1), "padding"), (dict(kernel_size=3, padding=2), "padding"),
        (dict(kernel_size=2, dilation=0), "dilation"), (dict(kernel_size=(2, 2, 2)), "kernel_size"),
        (dict(kernel_size=9), "output size"), (dict(kernel_size=1.5), "kernel_size"),
    ]
    for kw, name in cases:
        with pytest.raises((RuntimeError, TypeError), match=name):
            torchpool.max_pool2d(x, **kw)
    with pytest.raises(RuntimeError, match="input"):
        torchpool.max_pool2d(torch.randn(2, 0, 4, 4), 2)
    with pytest.raises(RuntimeError, match="input must be float32"):
        torchpool.max_pool2d(torch.ones(1, 2, 4, 4, dtype=torch.int32), 2)


# --- CUDA ---

def test_build_info_reports_cuda_and_its_kernels():
    """build_info()'s "cuda" says whether the CUDA kernels are compiled in: then every op
    has a CUDA kernel (no GPU needed to ask) and the archs name what nvcc built."""
    info = torchpool.build_info()
    for name in FUNCTIONS:
        for suffix in ("", "_backward") + (("_with_indices",) if name.startswith("max") else ()):
            has = torch._C._dispatch_has_kernel_for_dispatch_key(f"torchpool::{name}{suffix}", "CUDA")
            assert has == info["cuda"], (name + suffix, info)
    if info["cuda"]:
        assert torch.version.cuda is not None
        archs = info["cuda_archs"].split()
        assert archs and all(a.startswith(("sm_", "compute_")) for a in archs), archs
    else:
        assert info["cuda_archs"] == ""
