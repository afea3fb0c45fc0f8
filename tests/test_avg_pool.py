"""avg_pool{1,2,3}d against torch.nn.functional: values, shapes, memory formats and
gradients over a grid of kernel/stride/padding/ceil_mode/count_include_pad/
divisor_override, every dtype and layout, with NaN, +-inf, ties and denormals."""
import itertools

import pytest
import torch
import torch.nn.functional as F

import torchpool
from conftest import (DTYPES, LAYOUTS, SHARED_ROWS, TILED, assert_bits, assert_close, assert_format,
                      assert_same, devices, in_layout, make_input, on_device, shared_rows_windows)

SHAPES = {
    1: [(2, 5, 61), (3, 70, 9)],
    2: [(2, 3, 13, 41), (2, 70, 7, 6), (1, 2, 45, 23), (1, 2, 5, 64), (1, 2, 6, 133)],  # 64: rows of whole
    # cache lines; 133: rows of several packs at every level
    3: [(2, 3, 5, 9, 37), (1, 67, 4, 5, 3), (1, 2, 2, 37, 7)],
}
KERNELS = {1: [1, 2, 3, 4], 2: [1, 2, 3, (3, 2)], 3: [1, 2, (2, 3, 1)]}
STRIDES = {1: [None, 1, 2, 3], 2: [None, 1, 2, (2, 3)], 3: [None, 1, (2, 1, 3)]}


def configs(nd):
    for k, s, p, ceil, cip, div in itertools.product(KERNELS[nd], STRIDES[nd], [0, 1], [False, True],
                                                      [True, False], [None, 3]):
        yield dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil, count_include_pad=cip,
                   divisor_override=div)


def torch_avg(x, nd, divisor_override=None, **kw):
    if nd == 1:  # torch's avg_pool1d has no divisor_override: scale the plain sum
        if divisor_override is None:
            return F.avg_pool1d(x, **kw)
        k = kw["kernel_size"]
        return F.avg_pool2d(x.unsqueeze(-2), (1, k), (1, kw["stride"] or k), (0, kw["padding"]),
                            kw["ceil_mode"], kw["count_include_pad"], divisor_override).squeeze(-2)
    return getattr(F, f"avg_pool{nd}d")(x, divisor_override=divisor_override, **kw)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_forward_backward(nd, dtype, layout, device):
    gen = torch.Generator().manual_seed(hash((nd, str(dtype), layout, "avg")) % 2**31)
    ours_fn = getattr(torchpool, f"avg_pool{nd}d")
    exact = dtype in (torch.float32, torch.float64)
    checked = 0
    for shape in SHAPES[nd]:
        x = make_input(shape, dtype, layout, "cpu", generator=gen)
        xd = on_device(x, device)
        for kw in configs(nd):
            what = f"avg_pool{nd}d{tuple(shape)} {dtype} {layout} {kw}"
            try:
                # Reduced dtypes: torch computes in float and rounds (and has no CPU
                # half avg_pool3d), so the reference is float32 rounded to the dtype.
                ref = torch_avg(x if exact else x.float(), nd, **kw).to(dtype)
            except RuntimeError:
                with pytest.raises(RuntimeError):
                    ours_fn(xd, **kw)
                continue
            out = ours_fn(xd, **kw)
            # Same order of summation as torch: float32/64 agree bit for bit (CUDA too).
            if exact:
                assert_same(out.cpu(), ref, what)
            else:
                assert_close(out.cpu(), ref, dtype, what)
            if x.dim() in (4, 5) and layout != "strided":
                assert_format(out, x, what)
            xg = xd.detach().requires_grad_()
            g = torch.randn(ref.shape, generator=gen).to(dtype)
            ours_fn(xg, **kw).backward(g.to(device))
            if exact:
                xr = x.detach().contiguous().requires_grad_()
                torch_avg(xr, nd, **kw).backward(g)
                assert_same(xg.grad.cpu(), xr.grad, what + " grad")
            else:  # torch sums in the reduced dtype; compare with an exact sum
                xr = x.detach().double().contiguous().requires_grad_()
                torch_avg(xr, nd, **kw).backward(g.double())
                assert_close(xg.grad.cpu(), xr.grad.to(dtype), dtype, what + " grad")
            checked += 1
    assert checked > 20


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_forward_backward_whole_line_pixels(dtype):
    """Channels-last pixels of whole cache lines (256 channels): with streaming forced
    (test_cpu_levels), the forward streams them past the cache."""
    gen = torch.Generator().manual_seed(8)
    exact = dtype in (torch.float32, torch.float64)
    x = make_input((2, 256, 5, 19), dtype, "channels_last", generator=gen)
    for kw in [dict(kernel_size=3, stride=1, padding=1), dict(kernel_size=2, stride=2),
               dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)]:
        what = f"{dtype} {kw}"
        ref = torch_avg(x if exact else x.float(), 2, **kw).to(dtype)
        xg = x.detach().requires_grad_()
        out = torchpool.avg_pool2d(xg, **kw)
        if exact:
            assert_same(out.detach(), ref, what)
        else:
            assert_close(out.detach(), ref, dtype, what)
        assert_format(out, x, what)
        g = torch.randn(ref.shape, generator=gen).to(dtype)
        out.backward(g)
        xr = x.detach().double().contiguous().requires_grad_()
        torch_avg(xr, 2, **kw).backward(g.double())
        assert_close(xg.grad, xr.grad.to(dtype), dtype, what + " grad")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("nd,shape", SHARED_ROWS)
def test_windows_sharing_rows(nd, shape, dtype):
    gen = torch.Generator().manual_seed(hash((nd, shape, str(dtype), "shared avg")) % 2**31)
    x = make_input(shape, dtype, generator=gen)
    exact = dtype in (torch.float32, torch.float64)
    for kw, cip in itertools.product(shared_rows_windows(nd), [True, False]):
        kw = dict(kw, count_include_pad=cip)
        what = f"avg_pool{nd}d{shape} {dtype} {kw}"
        ref = torch_avg(x if exact else x.float(), nd, **kw).to(dtype)
        out = getattr(torchpool, f"avg_pool{nd}d")(x, **kw)
        if exact:
            assert_same(out, ref, what)
        else:
            assert_close(out, ref, dtype, what)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("nd,shape,k", TILED + [(2, (1, 3, 14, 14), 7), (3, (1, 20, 4, 4, 4), 4)])
def test_tiled_windows(nd, shape, k, dtype, layout):
    """Tiling windows take the backward that stores each window's gradient at once
    (backward_owned): torch's gradient, and bit for bit the gather's, which the same values
    take with one more column that no window holds."""
    gen = torch.Generator().manual_seed(hash((nd, shape, str(dtype), layout, "tiled avg")) % 2**31)
    fn = getattr(torchpool, f"avg_pool{nd}d")
    wide = make_input(shape[:-1] + (shape[-1] + 1,), dtype, generator=gen)
    x = in_layout(wide[..., :-1].contiguous(), layout).requires_grad_()
    xw = in_layout(wide, layout).requires_grad_()
    what = f"avg_pool{nd}d{shape} k={k} {dtype} {layout}"
    out, out_w = fn(x, k), fn(xw, k)
    assert_same(out, out_w, what)
    g = torch.randn(out.shape, generator=gen).to(dtype)
    out.backward(g)
    out_w.backward(g)
    xr = x.detach().double().contiguous().requires_grad_()
    torch_avg(xr, nd, kernel_size=k).backward(g.double())
    assert_close(x.grad, xr.grad.to(dtype), dtype, what + " grad")
    assert_bits(x.grad, xw.grad[..., :-1], what + " grad against the gather's")
    assert bool((xw.grad[..., -1] == 0).all()), what


def test_divisor_override_checks():
    x = torch.randn(1, 2, 6, 6)
    with pytest.raises(RuntimeError, match="divisor_override"):
        torchpool.avg_pool2d(x, 2, divisor_override=0)
    assert_same(torchpool.avg_pool2d(x, 2, divisor_override=-2),
                F.avg_pool2d(x, 2, divisor_override=-2), "negative divisor")


def test_ceil_mode_overhang_is_not_counted():
    x = torch.ones(1, 1, 5, 5)
    out = torchpool.avg_pool2d(x, 2, 2, 0, ceil_mode=True, count_include_pad=True)
    assert_same(out, F.avg_pool2d(x, 2, 2, 0, ceil_mode=True, count_include_pad=True), "overhang")
    assert out[0, 0, -1, -1].item() == 1.0


def test_backward_is_deterministic_across_thread_counts():
    g = torch.randn(2, 5, 33, 47, dtype=torch.float32)
    outs = []
    for threads in (1, 2, 3):
        old = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            xg = torch.zeros(2, 5, 33, 47).requires_grad_()
            torchpool.avg_pool2d(xg, 3, 1, 1).backward(g)
            outs.append(xg.grad)
        finally:
            torch.set_num_threads(old)
    assert all(torch.equal(outs[0], o) for o in outs[1:])
