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


# Soft and stochastic pooling: torch.nn has no twin; the signatures are design §1's.
E = inspect.Parameter.empty
SOFT_PARAMETERS = [("input", E), ("kernel_size", E), ("stride", None), ("padding", 0), ("dilation", 1),
                   ("ceil_mode", False)]
STOCHASTIC_PARAMETERS = SOFT_PARAMETERS + [("training", True), ("generator", None), ("return_indices", False)]


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_soft_and_stochastic_signatures(nd):
    for name, want in ((f"soft_pool{nd}d", SOFT_PARAMETERS), (f"stochastic_pool{nd}d", STOCHASTIC_PARAMETERS)):
        got = [(p.name, p.default) for p in inspect.signature(getattr(torchpool, name)).parameters.values()]
        assert got == want, name
        assert name in torchpool.__all__
    for suffix in ("soft_pool{}d", "soft_pool{}d_backward", "stochastic_pool{}d", "stochastic_pool{}d_eval",
                   "stochastic_pool{}d_eval_backward"):
        assert hasattr(torch.ops.torchpool, suffix.format(nd)), suffix.format(nd)
    for module in (f"SoftPool{nd}d", f"StochasticPool{nd}d"):
        assert module in torchpool.nn.__all__ and hasattr(torchpool.nn, module)


UNPOOL_FUNCTIONS = ["max_unpool1d", "max_unpool2d", "max_unpool3d",
                    "avg_unpool1d", "avg_unpool2d", "avg_unpool3d"]
AVG_UNPOOL_PARAMETERS = AVG_PARAMETERS + [("output_size", None)]


@pytest.mark.parametrize("name", UNPOOL_FUNCTIONS)
def test_unpool_signature(name):
    ours = [(p.name, p.default) for p in inspect.signature(getattr(torchpool, name)).parameters.values()]
    if name.startswith("max"):
        theirs = [(p.name, p.default) for p in inspect.signature(getattr(F, name)).parameters.values()]
    else:  # torch has no avg_unpool: avg_pool's arguments, then output_size as max_unpool's
        theirs = AVG_UNPOOL_PARAMETERS
    assert ours == theirs


def test_unpool_ops_are_registered():
    for nd in (1, 2, 3):
        for name in (f"max_unpool{nd}d", f"max_unpool{nd}d_backward", f"max_unpool{nd}d_add",
                     f"avg_unpool{nd}d", f"avg_unpool{nd}d_backward"):
            assert hasattr(torch.ops.torchpool, name), name


# --- C++: tests/cpp/api/stochastic_pool.cpp pins the same keys ---

@pytest.mark.parametrize("generator_seed,key", [(None, (3532910284440527571, 2252509165406510134)),
                                                (5, (4095051218741643470, 6838803925648402110))])
def test_stochastic_key_is_the_one_cpp_draws(generator_seed, key):
    """torch.manual_seed(1234) (or a generator seeded 5) gives this Philox key, here and
    from C++'s torchpool::stochastic_pool2d(..., at::Generator): the same picks."""
    x = torch.rand(2, 3, 9, 10) + 0.1  # every element a candidate
    torch.manual_seed(1234)
    gen = None if generator_seed is None else torch.Generator().manual_seed(generator_seed)
    out, idx = torchpool.stochastic_pool2d(x, 2, generator=gen, return_indices=True)
    want_out, want_idx = torch.ops.torchpool.stochastic_pool2d(x, [2, 2], [], [0, 0], [1, 1], False, *key)
    assert torch.equal(idx, want_idx) and torch.equal(out, want_out)


# --- CUDA ---

def test_build_info_reports_cuda_and_its_kernels():
    """build_info()'s "cuda" says whether the CUDA kernels are compiled in: then every op
    has a CUDA kernel (no GPU needed to ask) and the archs name what nvcc built."""
    info = torchpool.build_info()
    for name in FUNCTIONS:
        for suffix in ("", "_backward") + (("_with_indices",) if name.startswith("max") else ()):
            has = torch._C._dispatch_has_kernel_for_dispatch_key(f"torchpool::{name}{suffix}", "CUDA")
            assert has == info["cuda"], (name + suffix, info)
    # Every op of the other families, and every registered op that takes tensors.
    families = [f"{f}{nd}d{suffix}" for nd in (1, 2, 3) for f, suffixes in (
        ("soft_pool", ("", "_backward")),
        ("stochastic_pool", ("", "_eval", "_eval_backward")),
        ("max_unpool", ("", "_backward", "_add")),
        ("avg_unpool", ("", "_backward"))) for suffix in suffixes]
    registered = [n.split("::")[1] for n in torch._C._dispatch_get_all_op_names() if n.startswith("torchpool::")]
    assert set(families) <= set(registered)
    for name in set(registered) - {"cpu_capability", "build_info"}:
        has = torch._C._dispatch_has_kernel_for_dispatch_key(f"torchpool::{name}", "CUDA")
        assert has == info["cuda"], (name, info)
    if info["cuda"]:
        assert torch.version.cuda is not None
        archs = info["cuda_archs"].split()
        assert archs and all(a.startswith(("sm_", "compute_")) for a in archs), archs
    else:
        assert info["cuda_archs"] == ""
