"""Shared helpers of the parity suite: devices, dtypes, layouts, inputs with NaN,
+-inf, ties and denormals, and comparisons against torch.nn.functional."""
import itertools
import os

import pytest
import torch

import torchpool

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
LAYOUTS = ["contiguous", "channels_last", "strided"]


# (nd, shape, kernel) whose windows tile the input (stride = kernel, every size a
# multiple of it): soft and stochastic evaluation then take the owned-window backward.
TILED = [
    (1, (2, 5, 64), 2), (1, (3, 40, 12), 3),
    (2, (2, 3, 8, 36), 2), (2, (1, 70, 6, 4), 2), (2, (2, 3, 6, 36), (3, 2)),
    (3, (1, 2, 4, 4, 34), 2), (3, (1, 40, 2, 4, 2), 2),
    # rows of whole cache lines in every dtype: the streaming stores (test_cpu_levels.py)
    (2, (1, 3, 4, 64), 2), (3, (1, 2, 2, 4, 64), 2),
]

# (nd, shape) for 3x3 windows (1x3x3 in 3-d) at strides of 1 and 2: the contiguous
# forward's packs then share input rows (contiguous.h, visit_shared): in grids of 2 output
# rows (an odd count leaves one) by 2 column packs (the last pair overlapping the one
# before) where a row holds 2 packs, else in row groups (14 columns: under 2 packs at
# AVX2, 16 lanes; 40: at AVX-512 16-bit, stride 2); at AVX-512 float32 stride 2, column packs.
SHARED_ROWS = [(2, (1, 2, 9, 75)), (2, (2, 3, 11, 40)), (2, (1, 1, 12, 138)), (2, (1, 2, 10, 14)),
               (3, (1, 2, 3, 8, 70))]


def shared_rows_windows(nd):
    """The SHARED_ROWS windows: 3x3 (1x3x3), strides of the height and the width alike
    and differing, padding 0 and 1, with and without ceil_mode."""
    for s, p, ceil in itertools.product([(1, 1), (2, 2), (1, 2), (2, 1)], [0, 1], [False, True]):
        lead = () if nd == 2 else (1,)
        yield dict(kernel_size=lead + (3, 3), stride=lead + s, padding=(0,) * len(lead) + (p, p), ceil_mode=ceil)


def devices():
    """The CPU, and CUDA where a GPU is present (CUDA tests skip, saying so, when not)."""
    cuda = torch.cuda.is_available() and torchpool.build_info()["cuda"]
    return ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
        not cuda, reason="no CUDA GPU (or torchpool built without CUDA): CUDA tests skipped"))]


def pytest_report_header(config):
    info = torchpool.build_info()
    return (f"torchpool {info['version']} (torch {torch.__version__}): cpu level "
            f"{torchpool.cpu_capability()} of {info['cpu_levels']}, cuda built: {info['cuda']}")


@pytest.fixture(autouse=True, scope="session")
def _expected_level():
    """When the level is forced (tests/test_cpu_levels.py), prove the kernels use it."""
    want = os.environ.get("TORCHPOOL_CPU_CAPABILITY")
    if want:
        assert torchpool.cpu_capability() == want, (torchpool.cpu_capability(), want)


def tiny(dtype):
    """A denormal of the dtype."""
    return {torch.float32: 1e-40, torch.float64: 1e-310, torch.float16: 1e-7,
            torch.bfloat16: 1e-39}[dtype]


def make_input(shape, dtype, layout="contiguous", device="cpu", specials=True, generator=None):
    """Random normal values with NaN, +-inf, ties and denormals mixed in, in a layout:
    contiguous, channels_last (4-d/5-d only; else contiguous) or strided (a view
    with non-unit strides in every dim)."""
    x = torch.randn(shape, generator=generator, dtype=torch.float64)
    if specials:
        u = torch.rand(shape, generator=generator, dtype=torch.float64)
        x[u < 0.02] = float("nan")
        x[(u >= 0.02) & (u < 0.04)] = float("inf")
        x[(u >= 0.04) & (u < 0.07)] = -float("inf")
        x[(u >= 0.07) & (u < 0.15)] = 0.5  # ties
        x[(u >= 0.15) & (u < 0.18)] = tiny(dtype)
        x[(u >= 0.18) & (u < 0.20)] = -tiny(dtype)
    x = x.to(dtype).to(device)
    if layout == "channels_last" and x.dim() in (4, 5):
        fmt = torch.channels_last if x.dim() == 4 else torch.channels_last_3d
        x = x.contiguous(memory_format=fmt)
    elif layout == "strided":
        # every dim strided: a slice of a tensor twice as large, dims permuted back
        big = torch.zeros([2 * s for s in shape], dtype=dtype, device=device)
        view = big[tuple(slice(None, None, 2) for _ in shape)]
        view.copy_(x)
        x = view
    return x


def memory_format_of(t):
    """The memory format of a dense 4-d or 5-d tensor (inputs and outputs alike)."""
    if t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous():
        return torch.channels_last
    if t.dim() == 5 and t.is_contiguous(memory_format=torch.channels_last_3d) and not t.is_contiguous():
        return torch.channels_last_3d
    return torch.contiguous_format


def assert_format(out, x, what):
    """out is dense in x's memory format (a tensor with dims of size 1 may be both)."""
    fmt = memory_format_of(x)
    assert out.is_contiguous(memory_format=fmt), f"{what}: output strides {out.stride()} not in {fmt}"


def tolerance(dtype):
    """(rtol, atol) for averages and gradients, per dtype."""
    return {torch.float32: (1e-5, 1e-6), torch.float64: (1e-12, 1e-12),
            torch.float16: (2e-3, 2e-3), torch.bfloat16: (1.6e-2, 1e-2)}[dtype]


def assert_same(ours, ref, what):
    """Exact equality, NaN equal to NaN (max values, indices, shapes)."""
    assert ours.shape == ref.shape, f"{what}: shape {tuple(ours.shape)} != {tuple(ref.shape)}"
    assert ours.dtype == ref.dtype, f"{what}: dtype {ours.dtype} != {ref.dtype}"
    if ours.is_floating_point():
        same = (ours == ref) | (ours.isnan() & ref.isnan())
    else:
        same = ours == ref
    if not bool(same.all()):
        bad = (~same).nonzero()[0].tolist()
        raise AssertionError(f"{what}: first mismatch at {bad}: {ours[tuple(bad)].item()} != "
                             f"{ref[tuple(bad)].item()} ({int((~same).sum())} mismatches)")


def assert_close(ours, ref, dtype, what, scale=1.0):
    rtol, atol = tolerance(dtype)
    assert ours.shape == ref.shape, f"{what}: shape {tuple(ours.shape)} != {tuple(ref.shape)}"
    torch.testing.assert_close(ours.double(), ref.double(), rtol=rtol * scale, atol=atol * scale,
                               equal_nan=True, msg=lambda m: f"{what}: {m}")


# Windows as tensors, for the float64 references of soft and stochastic pooling.

def _per_dim(v, nd):
    return [v] * nd if isinstance(v, int) else list(v) * (nd if len(v) == 1 else 1)


def windows(x, nd, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """The pooling windows of x (N, C, *spatial) as (N, C, *out, K) in scan order, with the
    (N, C, *out, K) mask of the elements inside the input and their flat indices in the
    plane (design §2's geometry: torch's output sizes; padding and the ceil-mode
    overhang are masked out)."""
    k, p, d = _per_dim(kernel_size, nd), _per_dim(padding, nd), _per_dim(dilation, nd)
    s = k if stride is None else _per_dim(stride, nd)
    spatial = x.shape[2:]
    plane = torch.arange(int(torch.tensor(spatial).prod()), device=x.device).reshape(spatial)
    idx = plane.expand(x.shape)
    valid = torch.ones(x.shape, dtype=torch.bool, device=x.device)
    for i in range(nd):
        L, dim, span = spatial[i], 2 + i, d[i] * (k[i] - 1) + 1
        out = (L + 2 * p[i] - span + (s[i] - 1 if ceil_mode else 0)) // s[i] + 1
        if ceil_mode and (out - 1) * s[i] >= L + p[i]:
            out -= 1
        right = (out - 1) * s[i] + span - L - p[i]  # may be negative: unused tail
        pads = [0, 0] * (x.dim() - dim - 1) + [p[i], max(right, 0)]
        x, valid, idx = (torch.nn.functional.pad(t, pads) for t in (x, valid, idx))
        length = p[i] + L + right
        x, valid, idx = (t.narrow(dim, 0, length).unfold(dim, span, s[i])[..., ::d[i]]
                         for t in (x, valid, idx))
    flat = lambda t: t.flatten(-nd)  # noqa: E731
    return flat(x), flat(valid), flat(idx)


def in_layout(x, layout):
    """x's values in a layout of make_input's."""
    if layout == "channels_last" and x.dim() in (4, 5):
        return x.contiguous(memory_format=torch.channels_last if x.dim() == 4 else torch.channels_last_3d)
    if layout == "strided":
        view = x.new_zeros([2 * s for s in x.shape])[tuple(slice(None, None, 2) for _ in x.shape)]
        return view.copy_(x)
    return x


def assert_sum_close(ours, ref, magnitude, dtype, what):
    """Like assert_close, for sums that may cancel (gradients where windows overlap): the
    error may also reach a few roundings of the summed terms, `magnitude` being the sum
    of their absolute values."""
    rtol, atol = tolerance(dtype)
    assert ours.shape == ref.shape, f"{what}: shape {tuple(ours.shape)} != {tuple(ref.shape)}"
    o, r = ours.double(), ref.double()
    bound = atol + rtol * r.abs() + 8 * torch.finfo(dtype).eps * magnitude.double()
    bad = ~(((o - r).abs() <= bound) | (o == r) | (o.isnan() & r.isnan()))
    if bool(bad.any()):
        at = bad.nonzero()[0].tolist()
        raise AssertionError(f"{what}: {int(bad.sum())} mismatches, first at {at}: {o[tuple(at)].item()} != "
                             f"{r[tuple(at)].item()} (allowed {bound[tuple(at)].item():.3g})")


# --- CUDA: tests/test_cuda.py and the device-parametrized parity tests ---

def cuda_ready():
    """A GPU is present and torchpool was built with its CUDA kernels."""
    return torch.cuda.is_available() and torchpool.build_info()["cuda"]


NO_CUDA = "no CUDA GPU (or torchpool built without CUDA): CUDA tests skipped"


def on_device(x, device):
    """x on `device` with its sizes and strides (.to() would make a strided view dense,
    and the kernels' strided path would go untested)."""
    if x.device == torch.device(device):
        return x
    out = torch.empty_strided(x.size(), x.stride(), dtype=x.dtype, device=device)
    return out.copy_(x)


def assert_bits(ours, ref, what, nan_any=True):
    """The same bits (torch.equal on the bit patterns). With nan_any, a NaN matches
    any NaN: arithmetic's NaN payloads differ between CPUs and GPUs."""
    assert ours.shape == ref.shape and ours.dtype == ref.dtype, f"{what}: {ours.shape} {ours.dtype}"
    ours, ref = ours.cpu(), ref.cpu()
    ints = {8: torch.int64, 4: torch.int32, 2: torch.int16}[ours.element_size()]
    same = ours.contiguous().view(ints) == ref.contiguous().view(ints)
    if nan_any and ours.is_floating_point():
        same |= ours.contiguous().isnan() & ref.contiguous().isnan()
    if not bool(same.all()):
        bad = (~same).nonzero()[0].tolist()
        raise AssertionError(f"{what}: first mismatch at {bad}: {ours.contiguous()[tuple(bad)].item()} != "
                             f"{ref.contiguous()[tuple(bad)].item()} ({int((~same).sum())} mismatches)")
