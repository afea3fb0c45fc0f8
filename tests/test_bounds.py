"""Reads stay inside the tensors. Every tensor an op reads (input, grad_output, indices)
is placed flush against an unmapped guard page, touching its last byte (`end`) or its
first (`start`), so that a kernel reading even one element past either end crashes
the test run instead of passing unnoticed; the results must equal those of the same
call on tensors torch allocated. Covers each family's forward and backward paths:
windows that tile the input (owned backward), overlap (gather), stride 1 with padding
(the gather's zero-state rounds), dilation, ceil_mode; rows and channel counts on and
off the pack widths; every dtype, contiguous and channels-last; and a sweep of random
configurations drawn afresh each run (its seed in the test ids: on a crash, `pytest -v`
names the case; TORCHPOOL_BOUNDS_SEED repeats a run)."""
import ctypes
import mmap
import os
import random

import pytest
import torch

from conftest import DTYPES, assert_same, make_input, memory_format_of

T = torch.ops.torchpool
PAGE = mmap.PAGESIZE
PROT_NONE = 0  # (the mmap module has no PROT_NONE)
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_libc.mprotect.restype = ctypes.c_int

# (nd, shape, kernel, stride, padding, dilation, ceil_mode)
CASES = [
    (1, (2, 3, 64), 2, 2, 0, 1, False),        # tiled: the owned backward
    (1, (2, 5, 67), 3, 1, 1, 1, False),        # stride 1, padded: the gather's zero-state rounds
    (2, (2, 3, 16, 64), 2, 2, 0, 1, False),
    (2, (1, 17, 8, 32), 2, 2, 0, 1, False),    # channels-last pixels of 17
    (2, (2, 3, 17, 67), 3, 2, 1, 1, True),
    (2, (1, 16, 19, 45), 3, 1, 1, 1, False),
    (2, (1, 2, 20, 41), 3, 2, 0, 2, False),    # dilation
    (3, (1, 2, 6, 8, 64), 2, 2, 0, 1, False),
    (3, (1, 33, 5, 9, 11), 3, 2, 1, 1, True),
    # dilated rows: the windows reaching the last input row are not the last output row's
    (3, (1, 3, 6, 9, 54), (1, 4, 3), (1, 1, 2), (0, 1, 1), (2, 2, 1), False),
]


def case_id(c):
    def f(v):
        return "x".join(map(str, v)) if isinstance(v, tuple) else str(v)
    return f"{c[0]}d-{f(c[1])}-k{f(c[2])}s{f(c[3])}p{f(c[4])}d{f(c[5])}" + ("-ceil" if c[6] else "")


def guarded(t, where):
    """A copy of dense `t` (its strides kept) in a fresh mapping whose guard pages are
    unmapped (PROT_NONE); the copy's `where` ("start" or "end") byte touches one."""
    nbytes = t.numel() * t.element_size()
    pages = -(-nbytes // PAGE)
    mm = mmap.mmap(-1, (pages + 2) * PAGE)
    base = ctypes.addressof((ctypes.c_char * len(mm)).from_buffer(mm))
    for off in (0, (pages + 1) * PAGE):
        assert _libc.mprotect(base + off, PAGE, PROT_NONE) == 0, ctypes.get_errno()
    offset = PAGE if where == "start" else (pages + 1) * PAGE - nbytes
    flat = torch.frombuffer(mm, dtype=t.dtype, count=t.numel(), offset=offset)
    g = flat.as_strided(t.shape, t.stride())
    g.copy_(t)
    g._mapping = mm  # (kept alive with the tensor)
    return g


def guarded_calls(x, where, nd, k, s, p, d, ceil):
    """Each family's forward and backward on input x (and on what they make of it) with
    every tensor argument guarded, checked against the same call on unguarded tensors;
    returns the names of the calls made."""
    k, s, p, d = ([v] * nd if isinstance(v, int) else list(v) for v in (k, s, p, d))
    out = []

    def check(name, fn, *ts):
        ref = fn(*ts)
        ours = fn(*(guarded(t, where) for t in ts))
        for i, (a, b) in enumerate(zip(ours if isinstance(ours, tuple) else (ours,),
                                       ref if isinstance(ref, tuple) else (ref,))):
            assert_same(a, b, f"{name} output {i}, guard at the {where}")
        out.append(name)
        return ref

    sp = x.shape[-nd:]
    vals, idx = check("max_pool",
                      lambda t: getattr(T, f"max_pool{nd}d_with_indices")(t, k, s, p, d, ceil), x)
    g = make_input(vals.shape, x.dtype).to(memory_format=memory_format_of(vals))
    check("max_pool_backward",
          lambda gg, t, i: getattr(T, f"max_pool{nd}d_backward")(gg, t, i, k, s, p, d, ceil), g, x, idx)
    check("soft_pool", lambda t: getattr(T, f"soft_pool{nd}d")(t, k, s, p, d, ceil), x)
    check("soft_pool_backward",
          lambda gg, t: getattr(T, f"soft_pool{nd}d_backward")(gg, t, k, s, p, d, ceil), g, x)
    xs = x.abs().nan_to_num(posinf=3.0)
    check("stochastic_pool_eval", lambda t: getattr(T, f"stochastic_pool{nd}d_eval")(t, k, s, p, d, ceil), xs)
    check("stochastic_pool_eval_backward",
          lambda gg, t: getattr(T, f"stochastic_pool{nd}d_eval_backward")(gg, t, k, s, p, d, ceil), g, xs)
    check("stochastic_pool", lambda t: getattr(T, f"stochastic_pool{nd}d")(t, k, s, p, d, ceil, 7, 3), xs)
    if all(v == 1 for v in d):  # average pooling and unpooling take no dilation
        for cip in (True, False):
            check("avg_pool", lambda t: getattr(T, f"avg_pool{nd}d")(t, k, s, p, ceil, cip, None), x)
            check("avg_pool_backward",
                  lambda gg, t: getattr(T, f"avg_pool{nd}d_backward")(gg, t, k, s, p, ceil, cip, None), g, x)
        if not ceil:  # unpooling has no ceil_mode: only windows that lie inside
            big = make_input(x.shape, x.dtype).to(memory_format=memory_format_of(x))
            check("max_unpool",
                  lambda v, i: getattr(T, f"max_unpool{nd}d")(v, i, k, s, p, list(sp)), vals, idx)
            check("max_unpool_backward",
                  lambda gg, i: getattr(T, f"max_unpool{nd}d_backward")(gg, i), big, idx)
            check("avg_unpool",
                  lambda v: getattr(T, f"avg_unpool{nd}d")(v, k, s, p, False, True, None, list(sp)), vals)
            check("avg_unpool_backward",
                  lambda gg: getattr(T, f"avg_unpool{nd}d_backward")(gg, k, s, p, False, True, None), big)
    return out


@pytest.mark.parametrize("where", ["end", "start"])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_reads_stay_inside_the_tensors(case, dtype, layout, where):
    nd, shape, k, s, p, d, ceil = case
    if layout == "channels_last" and nd == 1:
        pytest.skip("1-d inputs have no channels-last layout")
    x = make_input(shape, dtype, layout)
    done = guarded_calls(x, where, nd, k, s, p, d, ceil)
    assert "max_pool_backward" in done and "soft_pool_backward" in done


SEED = int(os.environ.get("TORCHPOOL_BOUNDS_SEED") or random.randrange(1 << 30))


def random_case(i):
    """A valid configuration: windows of 1-4 taps, strides 1-3, dilation 1-2, padding up
    to half the window, sizes from one window up to a few packs, 1-17 channels."""
    rng = random.Random(SEED * 1000 + i)
    nd = rng.randint(1, 3)
    k = [rng.randint(1, 4) for _ in range(nd)]
    d = [rng.choice([1, 1, 2]) for _ in range(nd)]
    s = [rng.randint(1, 3) for _ in range(nd)]
    p = [rng.randint(0, kk // 2) for kk in k]
    sizes = [rng.randint((kk - 1) * dd + 1, 12 if nd == 3 else 40) for kk, dd in zip(k, d)]
    sizes[-1] = rng.randint((k[-1] - 1) * d[-1] + 1, 70)
    shape = (rng.randint(1, 2), rng.choice([1, 3, 16, 17]), *sizes)
    layout = rng.choice(["contiguous", "channels_last"])
    return nd, shape, k, s, p, d, rng.random() < 0.3, rng.choice(DTYPES), layout


@pytest.mark.parametrize("where", ["end", "start"])
@pytest.mark.parametrize("i", range(100), ids=lambda i: f"seed{SEED}-{i}")
def test_reads_stay_inside_the_tensors_random(i, where):
    nd, shape, k, s, p, d, ceil, dtype, layout = random_case(i)
    x = make_input(shape, dtype, layout)
    done = guarded_calls(x, where, nd, k, s, p, d, ceil)
    assert "max_pool_backward" in done, (SEED, i)
