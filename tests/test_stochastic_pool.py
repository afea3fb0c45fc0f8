"""stochastic_pool{1,2,3}d: picks that lie in their windows with the right frequencies
(chi-square), drawn by Philox exactly as predicted from (seed, offset, the output's
linear index), reproducible whatever the generator state, thread count, layout or
CPU level; evaluation and both gradients against float64 references written with
torch ops, over the grid of test_max_pool.py, every dtype and layout, with NaN, +-inf,
ties and denormals; all-zero windows as max pooling; gradcheck; the modules."""
import itertools
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

import torchpool
import torchpool.nn as tnn
from conftest import (DTYPES, LAYOUTS, TILED, _per_dim, assert_bits, assert_close, assert_format, assert_same,
                      assert_sum_close, devices, in_layout, make_input, on_device, windows)

SHAPES = {
    1: [(2, 5, 61), (3, 70, 9)],
    2: [(2, 3, 13, 41), (2, 70, 7, 6), (1, 2, 6, 133)],  # 133: rows of several packs at every level
    3: [(2, 3, 5, 9, 37), (1, 67, 4, 5, 3)],
}
KERNELS = {1: [1, 2, 3, 4], 2: [1, 2, 3, (3, 2)], 3: [1, 2, (2, 3, 1)]}
STRIDES = {1: [None, 1, 2, 3], 2: [None, 1, 2, (2, 3)], 3: [None, 1, (2, 1, 3)]}
INF = float("inf")
ops = torch.ops.torchpool


def configs(nd):
    for k, s, p, d, ceil in itertools.product(KERNELS[nd], STRIDES[nd], [0, 1], [1, 2], [False, True]):
        yield dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil)


def max_ref(x, nd, **kw):
    """torch's max pooling (design §2's rule) on the contiguous input, through float32 for
    the reduced dtypes."""
    xr = (x if x.dtype in (torch.float32, torch.float64) else x.float()).contiguous()
    out, idx = getattr(F, f"max_pool{nd}d")(xr, return_indices=True, **kw)
    return out.to(x.dtype), idx


def scatter_planes(values, index, shape):
    """Adds values (N, C, ...) at their flat plane indices into a float64 tensor of shape."""
    plane = int(torch.tensor(shape[2:]).prod())
    out = torch.zeros(shape[0], shape[1], plane + 1, dtype=torch.float64)
    out.scatter_add_(-1, index.flatten(2), values.double().flatten(2))
    return out[..., :plane].reshape(shape)


def stochastic_ref(x, nd, **kw):
    """Design §2 in float64: weights max(x, 0) inside the input; S = sum w; windows whose
    S is not positive and finite are max-pooled. Returns the windows, the max-pooled
    mask, evaluation's values and its gradient as a function of grad_output."""
    xw, valid, iw = windows(x.double(), nd, **kw)
    w = torch.where(valid, xw.clamp(min=0), 0)
    s = w.sum(-1)
    as_max = ~((s > 0) & (s < INF))
    mv, mi = max_ref(x.double(), nd, **kw)
    y = torch.where(as_max, mv, (w * (w / s[..., None])).sum(-1))  # w^2 underflows for denormals

    def grad(g):
        """The gradient, and the sum of the absolute values of the terms it adds."""
        g = g.double()
        weighted = valid & (xw > 0) & ~as_max[..., None]
        c = torch.where(weighted, g[..., None] * (2 * xw - y[..., None]) / s[..., None], 0)
        plane = int(torch.tensor(x.shape[2:]).prod())
        slot = torch.where(valid, iw, plane)
        routed = torch.where(as_max, g, 0)
        return (scatter_planes(c, slot, tuple(x.shape)) + scatter_planes(routed, mi, tuple(x.shape)),
                scatter_planes(c.abs(), slot, tuple(x.shape)) + scatter_planes(routed.abs(), mi, tuple(x.shape)))

    return dict(windows=(xw, valid, iw), as_max=as_max, max=(mv, mi), y=y, grad=grad)


def op_args(nd, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """The op's int-list arguments for a functional call's keywords."""
    k = _per_dim(kernel_size, nd)
    return [k, k if stride is None else _per_dim(stride, nd), _per_dim(padding, nd), _per_dim(dilation, nd),
            ceil_mode]


def check_picks(x, out, idx, ref, nd, what):
    """Each pick lies in its window, is the element its index names, and has a positive
    weight; max-pooled windows give max pooling's value and index."""
    xw, valid, iw = ref["windows"]
    assert bool(((iw == idx[..., None]) & valid).any(-1).all()), what + ": index outside its window"
    picked = x.flatten(2).gather(-1, idx.flatten(2)).reshape(idx.shape)
    assert_same(out, picked, what + ": value is not the indexed element")
    as_max = ref["as_max"]
    assert bool((picked.double()[~as_max] > 0).all()), what + ": a pick of weight 0"
    mv, mi = ref["max"]
    assert_same(out[as_max], mv[as_max].to(out.dtype), what + ": max-pooled values")
    assert_same(idx[as_max], mi[as_max], what + ": max-pooled indices")


def torch_rejects(x, nd, **kw):
    try:
        getattr(F, f"max_pool{nd}d")(x.float().contiguous(), **kw)
        return False
    except RuntimeError:
        return True


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_forward_backward(nd, dtype, layout, device):
    gen = torch.Generator().manual_seed(hash((nd, str(dtype), layout, "stochastic")) % 2**31)
    fn = getattr(torchpool, f"stochastic_pool{nd}d")
    checked = 0
    for shape in SHAPES[nd]:
        x = make_input(shape, dtype, layout, "cpu", generator=gen)
        xd = on_device(x, device)
        for kw in configs(nd):
            what = f"stochastic_pool{nd}d{tuple(shape)} {dtype} {layout} {kw}"
            if torch_rejects(x, nd, **kw):
                with pytest.raises(RuntimeError):
                    fn(xd, **kw)
                continue
            xg = xd.detach().requires_grad_()
            try:
                out, idx = fn(xg, **kw, generator=gen, return_indices=True)
            except RuntimeError as e:
                assert "holds only padding" in str(e), what
                continue
            ref = stochastic_ref(x, nd, **kw)
            check_picks(x, out.detach().cpu(), idx.cpu(), ref, nd, what)
            if x.dim() in (4, 5) and layout != "strided":
                assert_format(out, x, what)
                assert_format(idx, x, what + " indices")
            g = torch.randn(out.shape, generator=gen).to(dtype)
            out.backward(g.to(device))
            assert_sum_close(xg.grad.cpu(), scatter_planes(g, idx.cpu(), tuple(x.shape)).to(dtype),
                             scatter_planes(g.abs(), idx.cpu(), tuple(x.shape)), dtype, what + " grad")

            xg = xd.detach().requires_grad_()
            y = fn(xg, **kw, training=False)
            assert_close(y.detach().cpu(), ref["y"].to(dtype), dtype, what + " eval")
            if x.dim() in (4, 5) and layout != "strided":
                assert_format(y, x, what + " eval")
            y.backward(g.to(device))
            want, magnitude = ref["grad"](g)
            assert_sum_close(xg.grad.cpu(), want.to(dtype), magnitude, dtype, what + " eval grad")
            checked += 1
    assert checked > 20


# Philox4x32-10 (Random123), in Python: the known-answer vectors, then the picks.
MASK = 0xFFFFFFFF


def philox(ctr, key):
    c, (k0, k1) = list(ctr), key
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k0, p1 & MASK, (p0 >> 32) ^ c[3] ^ k1, p0 & MASK]
        k0, k1 = (k0 + 0x9E3779B9) & MASK, (k1 + 0xBB67AE85) & MASK
    return c


def uniform(seed, offset, index):
    ctr = [index & MASK, index >> 32 & MASK, offset & MASK, offset >> 32 & MASK]
    return (philox(ctr, (seed & MASK, seed >> 32 & MASK))[0] >> 8) * 2.0**-24


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("nd,shape,k", TILED)
def test_tiled_windows_in_evaluation(nd, shape, k, dtype, layout):
    """Evaluation over tiling windows takes the backward that stores each window's
    contributions at once (backward_owned): its gradient is the reference's, and bit for
    bit the scatter's, which the same values take with one more column that no window holds."""
    gen = torch.Generator().manual_seed(hash((nd, shape, str(dtype), layout, "tiled eval")) % 2**31)
    fn = getattr(torchpool, f"stochastic_pool{nd}d")
    wide = make_input(shape[:-1] + (shape[-1] + 1,), dtype, generator=gen)
    x = in_layout(wide[..., :-1].contiguous(), layout).requires_grad_()
    xw = in_layout(wide, layout).requires_grad_()
    out, out_w = fn(x, k, training=False), fn(xw, k, training=False)
    what = f"stochastic_pool{nd}d{shape} k={k} {dtype} {layout} eval"
    assert_same(out, out_w, what)
    ref = stochastic_ref(x.detach(), nd, kernel_size=k)
    assert_close(out.detach(), ref["y"].to(dtype), dtype, what)
    g = torch.randn(out.shape, generator=gen).to(dtype)
    out.backward(g)
    out_w.backward(g)
    want, magnitude = ref["grad"](g)
    assert_sum_close(x.grad, want.to(dtype), magnitude, dtype, what + " grad")
    assert_bits(x.grad, xw.grad[..., :-1], what + " grad against the scatter's")
    assert bool((xw.grad[..., -1] == 0).all()), what


def test_python_philox_known_answers():
    assert philox([0, 0, 0, 0], (0, 0)) == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    assert philox([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], (0xA4093822, 0x299F31D0)) == \
        [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("nd,shape,kw", [
    (1, (2, 3, 11), dict(kernel_size=3, stride=2, padding=1)),
    (2, (2, 5, 6, 7), dict(kernel_size=(2, 3), stride=2, padding=1, ceil_mode=True)),
    (3, (1, 4, 3, 4, 5), dict(kernel_size=2, stride=1, dilation=(1, 2, 1))),
])
def test_picks_are_the_predicted_philox_draws(nd, shape, kw, layout):
    """The pick of output o (NCDHW linear index) is the first element whose running sum
    of weights passes u * S, u = uniform(seed, offset, o): in float64, as the kernels."""
    seed, offset = 0x1234_5678_9ABC_DEF0, 0x0FED_CBA9_8765_4321
    x = in_layout(torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(5)), layout)
    _, idx = getattr(ops, f"stochastic_pool{nd}d")(x, *op_args(nd, **kw), seed, offset)
    xw, valid, iw = windows(x, nd, **kw)
    flat_w, flat_v, flat_i = (t.reshape(-1, t.shape[-1]) for t in (xw, valid, iw))
    expected = []
    for o in range(flat_w.shape[0]):
        vals = [(v, i) for v, ok, i in zip(flat_w[o].tolist(), flat_v[o].tolist(), flat_i[o].tolist()) if ok]
        s = 0.0
        for v, _ in vals:
            s += max(v, 0.0)
        if not 0 < s < INF:
            expected.append(max(vals, key=lambda t: t[0])[1])
            continue
        threshold, run = uniform(seed, offset, o) * s, 0.0
        for v, i in vals:
            run += max(v, 0.0)
            if run > threshold or run == s:
                expected.append(i)
                break
    assert idx.flatten().tolist() == expected


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16], ids=str)
def test_pick_frequencies_match_the_weights(dtype, layout):
    """Chi-square at a fixed seed (p = 0.001): 64000 picks of a window of weights
    0.5, 0, 0, 1.5, 2, 1 (a zero and a negative are never picked), and of a window with
    padding around a plane of weights 0.5, 0, 1.5, 2 (padding is never picked either)."""
    torch.manual_seed(1234)
    critical = {2: 13.82, 3: 16.27}  # chi-square quantiles 0.999 by degrees of freedom
    cases = [(torch.tensor([[0.5, 0.0, -1.0], [1.5, 2.0, 1.0]]), dict(kernel_size=(2, 3))),
             (torch.tensor([[0.5, -2.0], [1.5, 2.0]]), dict(kernel_size=3, stride=2, padding=1))]
    for window, kw in cases:
        x = in_layout(window.expand(2000, 16, *window.shape).to(dtype), layout)
        picks = torch.cat([torchpool.stochastic_pool2d(x, **kw, return_indices=True)[1].flatten()
                           for _ in range(2)])  # two calls: fresh draws, same law
        assert picks.numel() == 64000
        counts = torch.bincount(picks, minlength=window.numel()).double()
        w = window.flatten().clamp(min=0).double()
        assert counts.numel() == w.numel() and bool((counts[w == 0] == 0).all()), counts
        expected = 64000 * w[w > 0] / w.sum()
        chi2 = ((counts[w > 0] - expected) ** 2 / expected).sum().item()
        assert chi2 < critical[int((w > 0).sum()) - 1], (chi2, counts.tolist())


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("training", [True, False])
def test_all_zero_windows_behave_as_max(training, device):
    x = torch.tensor([[[[-1.0, -3.0, 0.0, -0.0], [-2.0, -1.0, -5.0, 0.0]],
                       [[-INF, -INF, float("nan"), -1.0], [-INF, -2.0, 2.0, float("nan")]]]],
                     device=device, requires_grad=True)
    out, idx = torchpool.stochastic_pool2d(x, 2, training=training, return_indices=True)
    mv, mi = F.max_pool2d(x.detach().cpu(), 2, return_indices=True)
    assert_same(out.detach().cpu(), mv, "values")  # all four windows are max-pooled, NaN ones too
    assert_same(idx.cpu(), mi, "indices")
    g = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])
    out.backward(g.to(device))
    xm = x.detach().cpu().requires_grad_()
    F.max_pool2d(xm, 2).backward(g)
    assert_same(x.grad.cpu(), xm.grad, "gradients to the argmax")


def test_evaluation_formula_and_gradient():
    x = torch.tensor([[[1.0, 3.0, -2.0, 0.0]]], dtype=torch.float64, requires_grad=True)
    y = torchpool.stochastic_pool1d(x, 4, training=False)
    assert y.item() == pytest.approx((1 + 9) / 4)
    y.backward()
    assert x.grad.flatten().tolist() == pytest.approx([(2 - 2.5) / 4, (6 - 2.5) / 4, 0.0, 0.0])


@pytest.mark.parametrize("device", devices())
def test_infinite_and_nan_windows_are_max_pooled(device):
    x = torch.tensor([[[1.0, INF, 2.0, INF, float("nan"), 5.0, 1e38, 3e38]]], device=device)
    for training in (True, False):
        out, idx = torchpool.stochastic_pool1d(x, 2, training=training, return_indices=True)
        assert out.flatten().tolist()[:2] == [INF, INF] and out[0, 0, 2].isnan()
        assert idx.flatten().tolist() == [1, 3, 4, 7]  # the float32 sum 1e38 + 3e38 overflows
        assert out[0, 0, 3].item() == pytest.approx(3e38)


@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "strided"])
def test_reproducible_fresh_and_independent_of_threads_and_layout(layout):
    x = make_input((3, 9, 20, 17), torch.float32, specials=False)
    xl = in_layout(x, layout)
    torch.manual_seed(42)
    a = torchpool.stochastic_pool2d(xl, 3, 2, 1, return_indices=True)
    b = torchpool.stochastic_pool2d(xl, 3, 2, 1, return_indices=True)
    torch.manual_seed(42)
    c = torchpool.stochastic_pool2d(x, 3, 2, 1, return_indices=True)
    assert torch.equal(a[1], c[1]) and torch.equal(a[0], c[0]), "torch.manual_seed reproduces, any layout"
    assert not torch.equal(a[1], b[1]), "consecutive calls draw fresh samples"
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    state = torch.get_rng_state()
    d = torchpool.stochastic_pool2d(xl, 3, 2, 1, generator=g1, return_indices=True)
    assert torch.equal(torch.get_rng_state(), state), "generator= leaves the default generator alone"
    assert torch.equal(d[1], torchpool.stochastic_pool2d(x, 3, 2, 1, generator=g2, return_indices=True)[1])
    old = torch.get_num_threads()
    try:
        picks = []
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            picks.append(ops.stochastic_pool2d(xl, [3, 3], [2, 2], [1, 1], [1, 1], False, 99, 5)[1])
    finally:
        torch.set_num_threads(old)
    assert all(torch.equal(picks[0], p) for p in picks[1:])


LEVEL_PROBE = """
import sys, torch, torchpool
from conftest import make_input
res = {}
for dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
    for layout in ("contiguous", "channels_last"):
        x = make_input((2, 37, 13, 21), dtype, layout, generator=torch.Generator().manual_seed(3))
        res[(str(dtype), layout)] = torch.ops.torchpool.stochastic_pool2d(
            x, [3, 2], [2, 1], [1, 1], [1, 2], True, 2**62 + 11, 2**40 + 3)
print(torchpool.cpu_capability())
torch.save(res, sys.argv[1])
"""


def test_same_picks_at_every_cpu_level(tmp_path):
    info = torchpool.build_info()
    order = ["scalar", "avx2", "avx512"]
    levels = [lv for lv in info["cpu_levels"] if order.index(lv) <= order.index(info["cpu_supported"])]
    results = {}
    for level in levels:
        path = tmp_path / f"{level}.pt"
        proc = subprocess.run([sys.executable, "-c", LEVEL_PROBE, str(path)], capture_output=True, text=True,
                              cwd=os.path.dirname(__file__), timeout=600,
                              env={**os.environ, "TORCHPOOL_CPU_CAPABILITY": level})
        assert proc.returncode == 0 and proc.stdout.strip() == level, proc.stderr[-2000:]
        results[level] = torch.load(path)
    for level in levels[1:]:
        for key, (values, idx) in results[levels[0]].items():
            assert torch.equal(idx, results[level][key][1]), (level, key)
            assert_same(values, results[level][key][0], f"{level} {key}")


CASES = [
    (1, (2, 3, 9), dict(kernel_size=3, stride=2, padding=1)),
    (1, (2, 3, 8), dict(kernel_size=2, stride=1, dilation=2)),
    (2, (2, 3, 7, 8), dict(kernel_size=3, stride=1, padding=1)),
    (2, (1, 2, 9, 7), dict(kernel_size=(2, 3), stride=(2, 1), ceil_mode=True)),
    (3, (1, 2, 5, 6, 5), dict(kernel_size=2, stride=1, padding=1)),
]


@pytest.mark.parametrize("cl", [False, True])
@pytest.mark.parametrize("nd,shape,kw", CASES)
def test_gradcheck(nd, shape, kw, cl):
    if cl and nd == 1:
        pytest.skip("1-d has no channels-last format")
    # Distinct values away from 0 (where the evaluation gradient jumps); a few windows all
    # negative (max-pooled).
    n = int(torch.tensor(shape).prod())
    v = torch.randperm(n, generator=torch.Generator().manual_seed(1), dtype=torch.float64).reshape(shape)
    x = torch.where(v < n // 5, -1 - v, v + 1) / 7
    if cl:
        x = x.contiguous(memory_format=torch.channels_last if nd == 2 else torch.channels_last_3d)
    x.requires_grad_()
    fn = getattr(torchpool, f"stochastic_pool{nd}d")
    assert torch.autograd.gradcheck(lambda t: fn(t, **kw, training=False), (x,))
    sample = getattr(ops, f"stochastic_pool{nd}d")
    assert torch.autograd.gradcheck(lambda t: sample(t, *op_args(nd, **kw), 3, 4)[0], (x,))
    assert torch.autograd.gradgradcheck(lambda t: sample(t, *op_args(nd, **kw), 3, 4)[0], (x,))


def test_eval_double_backward_is_refused_clearly():
    x = torch.rand(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(torchpool.stochastic_pool2d(x, 2, training=False).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="stochastic_pool2d_eval_backward: double backward"):
        g.sum().backward()


def test_eval_return_indices_are_the_max():
    x = make_input((2, 3, 8, 9), torch.float32)
    y, idx = torchpool.stochastic_pool2d(x, 3, 2, 1, training=False, return_indices=True)
    assert_same(idx, F.max_pool2d(x, 3, 2, 1, return_indices=True)[1], "indices")
    assert_same(y, torchpool.stochastic_pool2d(x, 3, 2, 1, training=False), "values")


def test_unbatched_and_empty_batch():
    x = make_input((4, 9, 10), torch.float32)
    out, idx = torchpool.stochastic_pool2d(x, 3, 2, 1, return_indices=True)
    check_picks(x[None], out[None], idx[None], stochastic_ref(x[None], 2, kernel_size=3, stride=2, padding=1),
                2, "unbatched")
    out, idx = torchpool.stochastic_pool2d(torch.empty(0, 4, 9, 10), 2, return_indices=True)
    assert out.shape == idx.shape == (0, 4, 4, 5)
    assert torchpool.stochastic_pool2d(torch.empty(0, 4, 9, 10), 2, training=False).shape == (0, 4, 4, 5)


def test_bad_arguments():
    x = torch.rand(1, 2, 8, 8)
    with pytest.raises(RuntimeError, match="stochastic_pool2d: padding"):
        torchpool.stochastic_pool2d(x, 3, padding=2)
    with pytest.raises(RuntimeError, match="stochastic_pool2d_eval: dilation"):
        torchpool.stochastic_pool2d(x, 3, dilation=0, training=False)
    with pytest.raises(RuntimeError, match="stochastic_pool2d: input must be float32"):
        torchpool.stochastic_pool2d(x.int(), 2)

    class CudaGenerator:
        device = torch.device("cuda")

    with pytest.raises(ValueError, match="generator must be a CPU torch.Generator"):
        torchpool.stochastic_pool2d(x, 2, generator=CudaGenerator())


@pytest.mark.parametrize("nd,kw,shape", [
    (1, dict(kernel_size=3), (2, 4, 17)),
    (2, dict(kernel_size=(3, 2), stride=(2, 1), padding=1, dilation=(1, 2), ceil_mode=True), (2, 4, 9, 11)),
    (3, dict(kernel_size=2, return_indices=True), (1, 3, 5, 7, 6)),
])
def test_modules(nd, kw, shape):
    m = getattr(tnn, f"StochasticPool{nd}d")(**kw, generator=torch.Generator().manual_seed(2))
    ref = getattr(torch.nn, f"MaxPool{nd}d")(**kw)
    assert repr(m) == repr(ref).replace("MaxPool", "StochasticPool")
    for attr in ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"):
        assert getattr(m, attr) == getattr(ref, attr), attr
    x = make_input(shape, torch.float32, specials=False)
    fkw = {k: v for k, v in kw.items() if k != "return_indices"}
    fn = getattr(torchpool, f"stochastic_pool{nd}d")
    got = m(x)
    want = fn(x, **fkw, generator=torch.Generator().manual_seed(2), return_indices=True)
    if kw.get("return_indices"):
        assert_same(got[1], want[1], "module picks")
        got = got[0]
    assert_same(got, want[0], "module, training: samples")
    m.eval()
    assert_same(m(x) if not kw.get("return_indices") else m(x)[0], fn(x, **fkw, training=False),
                "module, eval: weights")


def test_module_in_a_network_trains():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), tnn.StochasticPool2d(2),
                              tnn.SoftPool2d(2), torch.nn.Flatten(), torch.nn.Linear(8 * 4 * 4, 2))
    x = torch.randn(4, 3, 16, 16)
    net(x).square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
    net.eval()
    assert torch.equal(net(x), net(x)), "evaluation is deterministic"
