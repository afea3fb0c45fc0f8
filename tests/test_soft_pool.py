"""soft_pool{1,2,3}d against a float64 reference written with torch ops: values,
shapes, memory formats and the exact gradient w_i (1 + x_i - y), over the grid of
test_max_pool.py, every dtype and layout, with NaN, +-inf, ties and denormals; its
stability on large inputs; gradcheck; the modules."""
import itertools

import pytest
import torch
import torch.nn.functional as F

import torchpool
import torchpool.nn as tnn
from conftest import (DTYPES, LAYOUTS, TILED, assert_bits, assert_close, assert_format, assert_same,
                      assert_sum_close, devices, in_layout, make_input, on_device, windows)

SHAPES = {
    1: [(2, 5, 61), (3, 70, 9)],
    2: [(2, 3, 13, 41), (2, 70, 7, 6), (1, 2, 6, 133)],  # 133: rows of several packs at every level
    3: [(2, 3, 5, 9, 37), (1, 67, 4, 5, 3)],
}
KERNELS = {1: [1, 2, 3, 4], 2: [1, 2, 3, (3, 2)], 3: [1, 2, (2, 3, 1)]}
STRIDES = {1: [None, 1, 2, 3], 2: [None, 1, 2, (2, 3)], 3: [None, 1, (2, 1, 3)]}
INF = float("inf")


def configs(nd):
    for k, s, p, d, ceil in itertools.product(KERNELS[nd], STRIDES[nd], [0, 1], [1, 2], [False, True]):
        yield dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil)


def soft_ref(x, nd, **kw):
    """Design §2 in float64: the values, and the gradient as a function of grad_output.
    w = softmax over the window's elements inside the input; a window holding +inf
    shares its weight among its +inf elements, an all -inf window among all; NaN makes
    the window's value and gradients NaN."""
    xw, valid, iw = windows(x.double(), nd, **kw)
    xm = xw.masked_fill(~valid, -INF)
    pinf, inside = (xm == INF).double(), valid.double()
    w = torch.softmax(xm, -1)
    w = torch.where(pinf.any(-1, keepdim=True), pinf / pinf.sum(-1, keepdim=True), w)
    w = torch.where((xm == -INF).all(-1, keepdim=True), inside / inside.sum(-1, keepdim=True), w)
    w = torch.where((xw.isnan() & valid).any(-1, keepdim=True), float("nan"), w)
    y = (w * torch.where(w > 0, xw, 0)).sum(-1)

    def grad(g):
        """The gradient, and the sum of the magnitudes of the terms it adds: x_i - y
        carries a rounding of |x_i| + |y| (y is itself rounded), so those count too."""
        dx = torch.where(xw == y[..., None], 0, xw - y[..., None])
        gw = torch.where(w != 0, g.double()[..., None] * w, 0)
        c = torch.where(w != 0, gw * (1 + dx), 0)
        size = torch.where(w != 0, gw.abs() * ((1 + dx).abs() + xw.abs() + y.abs()[..., None]), 0)
        size = size.nan_to_num(0, 0, 0)
        plane = int(torch.tensor(x.shape[2:]).prod())
        slot = torch.where(valid, iw, plane).flatten(2)
        sums = []
        for terms in (c, size):
            gi = torch.zeros(x.shape[0], x.shape[1], plane + 1, dtype=torch.float64, device=x.device)
            gi.scatter_add_(-1, slot, terms.flatten(2))
            sums.append(gi[..., :plane].reshape(x.shape))
        return tuple(sums)

    return y, grad


def torch_rejects(x, nd, **kw):
    """torch's argument checks, through max_pool (the same geometry)."""
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
    gen = torch.Generator().manual_seed(hash((nd, str(dtype), layout, "soft")) % 2**31)
    fn = getattr(torchpool, f"soft_pool{nd}d")
    checked = 0
    for shape in SHAPES[nd]:
        x = make_input(shape, dtype, layout, "cpu", generator=gen)
        xd = on_device(x, device)
        for kw in configs(nd):
            what = f"soft_pool{nd}d{tuple(shape)} {dtype} {layout} {kw}"
            if torch_rejects(x, nd, **kw):
                with pytest.raises(RuntimeError):
                    fn(xd, **kw)
                continue
            xg = xd.detach().requires_grad_()
            try:
                out = fn(xg, **kw)
            except RuntimeError as e:
                assert "holds only padding" in str(e), what
                continue
            y, grad = soft_ref(x, nd, **kw)
            assert_close(out.detach().cpu(), y.to(dtype), dtype, what)
            assert out.dtype == dtype
            if x.dim() in (4, 5) and layout != "strided":
                assert_format(out, x, what)
            g = torch.randn(y.shape, generator=gen).to(dtype)
            out.backward(g.to(device))
            want, magnitude = grad(g)
            assert_sum_close(xg.grad.cpu(), want.to(dtype), magnitude, dtype, what + " grad")
            checked += 1
    assert checked > 20


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("nd,shape,k", TILED)
def test_tiled_windows(nd, shape, k, dtype, layout):
    """Tiling windows take the backward that stores each window's contributions at once
    (backward_owned): its gradient is the reference's, and bit for bit the gather's, which
    the same values take with one more column that no window holds."""
    gen = torch.Generator().manual_seed(hash((nd, shape, str(dtype), layout, "tiled")) % 2**31)
    fn = getattr(torchpool, f"soft_pool{nd}d")
    wide = make_input(shape[:-1] + (shape[-1] + 1,), dtype, generator=gen)
    x = in_layout(wide[..., :-1].contiguous(), layout).requires_grad_()
    xw = in_layout(wide, layout).requires_grad_()
    out, out_w = fn(x, k), fn(xw, k)
    what = f"soft_pool{nd}d{shape} k={k} {dtype} {layout}"
    assert_same(out, out_w, what)
    y, grad = soft_ref(x.detach(), nd, kernel_size=k)
    assert_close(out.detach(), y.to(dtype), dtype, what)
    g = torch.randn(y.shape, generator=gen).to(dtype)
    out.backward(g)
    out_w.backward(g)
    want, magnitude = grad(g)
    assert_sum_close(x.grad, want.to(dtype), magnitude, dtype, what + " grad")
    assert_bits(x.grad, xw.grad[..., :-1], what + " grad against the gather's")
    assert bool((xw.grad[..., -1] == 0).all()), what


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype,bound", [(torch.float32, 1e4), (torch.float64, 1e4), (torch.float16, 60.0),
                                         (torch.bfloat16, 1e4)], ids=str)
def test_large_inputs_are_finite_and_exact(dtype, bound, layout):
    gen = torch.Generator().manual_seed(7)
    x = ((torch.rand(4, 6, 20, 22, generator=gen, dtype=torch.float64) * 2 - 1) * bound).to(dtype)
    x[0, 0, :4, :4] = bound  # ties at the bound
    x = in_layout(x, layout)
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1), dict(kernel_size=3, dilation=2)):
        xg = x.detach().requires_grad_()
        out = torchpool.soft_pool2d(xg, **kw)
        y, grad = soft_ref(x, 2, **kw)
        g = torch.randn(y.shape, generator=gen).to(dtype)
        out.backward(g)
        assert bool(out.isfinite().all()) and bool(xg.grad.isfinite().all()), kw
        assert_close(out.detach(), y.to(dtype), dtype, f"{dtype} +-{bound} {kw}")
        want, magnitude = grad(g)
        assert_sum_close(xg.grad, want.to(dtype), magnitude, dtype, f"{dtype} +-{bound} {kw} grad")


def test_the_torch_op_formula_overflows_where_torchpool_does_not():
    x = torch.tensor([[[[100.0, 90.0], [80.0, -1e4]]]])
    naive = F.avg_pool2d(x * x.exp(), 2) / F.avg_pool2d(x.exp(), 2)
    assert naive.isnan().all()  # inf / inf
    w = torch.softmax(x.flatten().double(), 0)
    torch.testing.assert_close(torchpool.soft_pool2d(x, 2).double().flatten(), (w * x.flatten().double()).sum()[None])


@pytest.mark.parametrize("device", devices())
def test_special_windows(device):
    x = torch.tensor([[[-INF, -INF, 1.0, INF, 2.0, INF, float("nan"), 3.0, -INF, 0.0]]],
                     device=device, requires_grad=True)
    out = torchpool.soft_pool1d(x, 2)
    expected = torch.tensor([[[-INF, INF, INF, float("nan"), 0.0]]])
    assert_same(out.detach().cpu(), expected, "values")
    out.backward(torch.full_like(out, 2.0))
    grad = x.grad.tolist()[0][0]
    assert grad[:6] == [1.0, 1.0, 0.0, 2.0, 0.0, 2.0]  # -inf pair shares; +inf takes all
    assert all(g != g for g in grad[6:8]) and grad[8:] == [0.0, 2.0]


def test_single_element_windows_are_exact():
    x = make_input((2, 3, 5, 7), torch.float32)
    assert_same(torchpool.soft_pool2d(x, 1), x, "kernel 1")


def test_padding_is_excluded():
    x = torch.tensor([[[1.0, 2.0]]])
    # windows [pad, 1, 2] and [2, pad]: only the input's elements are weighted
    w = torch.softmax(torch.tensor([1.0, 2.0]), 0)
    out = torchpool.soft_pool1d(x, 3, 2, 1, ceil_mode=True)
    torch.testing.assert_close(out, torch.tensor([[[(w * torch.tensor([1.0, 2.0])).sum().item(), 2.0]]]))


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
    x = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3)) * 3
    if cl:
        x = x.contiguous(memory_format=torch.channels_last if nd == 2 else torch.channels_last_3d)
    x.requires_grad_()
    fn = getattr(torchpool, f"soft_pool{nd}d")
    assert torch.autograd.gradcheck(lambda t: fn(t, **kw), (x,))
    y, grad = soft_ref(x.detach(), nd, **kw)
    g = torch.randn(y.shape, dtype=torch.float64)
    (got,) = torch.autograd.grad(fn(x, **kw), x, g)
    assert_close(got, grad(g)[0], torch.float64, "exact gradient")


def test_double_backward_is_refused_clearly():
    x = torch.randn(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(torchpool.soft_pool2d(x, 2).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="soft_pool2d_backward: double backward"):
        g.sum().backward()


@pytest.mark.parametrize("device", devices())
def test_unbatched_and_empty_batch(device):
    x = make_input((4, 9, 10), torch.float32, specials=False)
    y, _ = soft_ref(x[None], 2, kernel_size=3, stride=2, padding=1)
    assert_close(torchpool.soft_pool2d(x.to(device), 3, 2, 1).cpu(), y[0].float(), torch.float32, "unbatched")
    assert torchpool.soft_pool2d(torch.empty(0, 4, 9, 10, device=device), 2).shape == (0, 4, 4, 5)


def test_bad_arguments_name_the_argument():
    x = torch.randn(1, 2, 8, 8)
    with pytest.raises(RuntimeError, match="soft_pool2d: padding"):
        torchpool.soft_pool2d(x, 3, padding=2)
    with pytest.raises(RuntimeError, match="soft_pool2d: input must be float32"):
        torchpool.soft_pool2d(x.int(), 2)
    with pytest.raises(RuntimeError, match="soft_pool2d_backward: grad_output must have size"):
        torch.ops.torchpool.soft_pool2d_backward(torch.ones(1, 2, 3, 3), x, [2, 2], [2, 2], [0, 0], [1, 1], False)


def test_deterministic_across_thread_counts():
    x = make_input((2, 5, 33, 47), torch.float32, specials=False)
    g = torch.randn(2, 5, 33, 47)
    outs = []
    for threads in (1, 2, 3):
        old = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            xg = x.clone().requires_grad_()
            y = torchpool.soft_pool2d(xg, 3, 1, 1)
            y.backward(g)
            outs.append((y.detach(), xg.grad))
        finally:
            torch.set_num_threads(old)
    assert all(torch.equal(outs[0][0], o[0]) and torch.equal(outs[0][1], o[1]) for o in outs[1:])


@pytest.mark.parametrize("nd,kw,shape", [
    (1, dict(kernel_size=3), (2, 4, 17)),
    (2, dict(kernel_size=(3, 2), stride=(2, 1), padding=1, dilation=(1, 2), ceil_mode=True), (2, 4, 9, 11)),
    (3, dict(kernel_size=2), (1, 3, 5, 7, 6)),
])
def test_modules(nd, kw, shape):
    m = getattr(tnn, f"SoftPool{nd}d")(**kw)
    ref = getattr(torch.nn, f"MaxPool{nd}d")(**kw)
    assert repr(m) == repr(ref).replace("MaxPool", "SoftPool")
    for attr in ("kernel_size", "stride", "padding", "dilation", "ceil_mode"):
        assert getattr(m, attr) == getattr(ref, attr), attr
    x = make_input(shape, torch.float32, specials=False)
    assert_same(m(x), getattr(torchpool, f"soft_pool{nd}d")(x, **kw), "module")
