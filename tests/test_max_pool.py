"""max_pool{1,2,3}d against torch.nn.functional: values and indices exactly, shapes,
memory formats and gradients, over a grid of arguments, every dtype and layout, with
NaN, +-inf, ties and denormals in the input."""
import itertools

import pytest
import torch
import torch.nn.functional as F

import torchpool
from conftest import (DTYPES, LAYOUTS, SHARED_ROWS, TILED, assert_bits, assert_close, assert_format,
                      assert_same, devices, in_layout, make_input, on_device, shared_rows_windows)

# Shapes that reach every path: long rows (vector packs along W, groups of rows)
# with few channels, and many channels (channel packs, unrolled) on small planes.
SHAPES = {
    1: [(2, 5, 61), (3, 70, 9)],
    2: [(2, 3, 13, 41), (2, 70, 7, 6), (1, 2, 45, 23), (1, 2, 6, 133)],  # 133: rows of several packs at every level
    3: [(2, 3, 5, 9, 37), (1, 67, 4, 5, 3), (1, 2, 2, 37, 7), (1, 1, 3, 4, 130)],
}
KERNELS = {1: [1, 2, 3, 4], 2: [1, 2, 3, (3, 2)], 3: [1, 2, (2, 3, 1)]}
STRIDES = {1: [None, 1, 2, 3], 2: [None, 1, 2, (2, 3)], 3: [None, 1, (2, 1, 3)]}


def configs(nd):
    for k, s, p, d, ceil in itertools.product(KERNELS[nd], STRIDES[nd], [0, 1], [1, 2], [False, True]):
        yield dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil)


def torch_ref(x, nd, **kw):
    """torch's result on the contiguous input: torch's channels-last 3d path reports a
    wrong index (no depth offset) for a window whose max is -inf. Reduced dtypes go
    through float32 (torch lacks some of them on the CPU; max is exact either way)."""
    try:
        xr = (x if x.dtype in (torch.float32, torch.float64) else x.float()).contiguous()
        out, idx = getattr(F, f"max_pool{nd}d")(xr, return_indices=True, **kw)
        return out.to(x.dtype), idx
    except RuntimeError:
        return None


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_forward_backward(nd, dtype, layout, device):
    gen = torch.Generator().manual_seed(hash((nd, str(dtype), layout)) % 2**31)
    ours_fn = getattr(torchpool, f"max_pool{nd}d")
    ref_fn = getattr(F, f"max_pool{nd}d")
    checked = 0
    for shape in SHAPES[nd]:
        x = make_input(shape, dtype, layout, "cpu", generator=gen)
        xd = on_device(x, device)
        for kw in configs(nd):
            ref = torch_ref(x, nd, **kw)
            what = f"max_pool{nd}d{tuple(shape)} {dtype} {layout} {kw}"
            if ref is None:
                with pytest.raises(RuntimeError):
                    ours_fn(xd, **kw)
                continue
            try:
                out, idx = ours_fn(xd, return_indices=True, **kw)
            except RuntimeError as e:
                # torchpool rejects windows that hold only padding (torch returns an
                # index outside the plane for them); torch's result shows one.
                assert "holds only padding" in str(e), what
                plane = torch.tensor(shape[2:]).prod()
                assert bool((ref[1] >= plane).any()) or bool(ref[0].isneginf().any()), what
                continue
            assert_same(out.cpu(), ref[0], what + " values")
            assert_same(idx.cpu(), ref[1], what + " indices")
            assert_same(ours_fn(xd, **kw).cpu(), ref[0], what + " values (no indices)")
            if x.dim() in (4, 5) and layout != "strided":
                assert_format(out, x, what)
                assert_format(idx, x, what + " indices")
            # gradients: each grad_output element to its index, summed where windows overlap
            xg = xd.detach().requires_grad_()
            g = torch.randn(ref[0].shape, generator=gen).to(dtype)
            ours_fn(xg, **kw).backward(g.to(device))
            if dtype in (torch.float32, torch.float64):
                xr = x.detach().contiguous().requires_grad_()
                ref_fn(xr, **kw).backward(g)
                assert_same(xg.grad.cpu(), xr.grad, what + " grad")
            else:  # torch sums in the reduced dtype; compare with an exact sum
                xr = x.detach().double().contiguous().requires_grad_()
                ref_fn(xr, **kw).backward(g.double())
                assert_close(xg.grad.cpu(), xr.grad.to(dtype), dtype, what + " grad")
            checked += 1
    assert checked > 20


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_forward_backward_whole_line_pixels(dtype):
    """Channels-last pixels of whole cache lines (256 channels), rows longer than the
    16-bit gradient's staging buffer: with streaming forced (test_cpu_levels), the
    forward streams its values and indices, and the overlapping-window backward streams
    staged pixels out mid-row and at the row's end."""
    gen = torch.Generator().manual_seed(7)
    x = make_input((1, 256, 4, 45), dtype, "channels_last", generator=gen)
    for kw in [dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=2, stride=1),
               dict(kernel_size=3, stride=1, padding=1, dilation=2, ceil_mode=True)]:
        what = f"{dtype} {kw}"
        out, idx = torchpool.max_pool2d(x, return_indices=True, **kw)
        ref, ref_idx = F.max_pool2d(x, return_indices=True, **kw)
        assert_same(out, ref, what + " values")
        assert_same(idx, ref_idx, what + " indices")
        assert_same(torchpool.max_pool2d(x, **kw), ref, what + " values (no indices)")
        xg = x.detach().requires_grad_()
        out = torchpool.max_pool2d(xg, **kw)
        g = torch.randn(out.shape, generator=gen).to(dtype)
        out.backward(g)
        xr = x.detach().double().contiguous().requires_grad_()
        F.max_pool2d(xr, **kw).backward(g.double())
        assert_close(xg.grad, xr.grad.to(dtype), dtype, what + " grad")
        assert_format(xg.grad, x, what)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_backward_same_bits_in_both_layouts(dtype):
    """Where windows overlap, a gradient element sums its values in scan order from 0
    (16-bit ones in float), whatever the layout: channels-last (channel packs, blocks of
    widened values) and contiguous (row packs) give the same bits, -0 and NaN included.
    Channel counts on and off the pack and block widths; windows over the edges."""
    seed = int(torch.randint(1 << 30, ()))
    gen = torch.Generator().manual_seed(seed)
    for c in (16, 33, 70):
        x = make_input((2, c, 9, 11), dtype, generator=gen)
        for kw in [dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=(3, 2), stride=1),
                   dict(kernel_size=2, stride=1, dilation=2, ceil_mode=True)]:
            out, idx = torchpool.max_pool2d(x, return_indices=True, **kw)
            g = make_input(out.shape, dtype, generator=gen)
            g.view(-1)[::7] = -0.0
            args = [list(kw["kernel_size"]) if isinstance(kw["kernel_size"], tuple) else [kw["kernel_size"]] * 2,
                    [kw["stride"]] * 2, [kw.get("padding", 0)] * 2, [kw.get("dilation", 1)] * 2,
                    kw.get("ceil_mode", False)]
            flat = torch.ops.torchpool.max_pool2d_backward(g, x, idx, *args)
            cl = torch.ops.torchpool.max_pool2d_backward(*(in_layout(t, "channels_last") for t in (g, x, idx)), *args)
            assert_bits(cl, flat, f"{dtype} C={c} {kw} seed {seed}", nan_any=False)


def routed(values, idx, in_shape, assign=False):
    """values[o] routed to position idx[o] of its plane (summed, or the last one kept), in float64."""
    planes = values.shape[0] * values.shape[1]
    out = torch.zeros(planes, in_shape[2:].numel(), dtype=torch.float64)
    v, i = values.double().reshape(planes, -1), idx.reshape(planes, -1)
    (out.scatter_ if assign else out.scatter_add_)(1, i, v)
    return out.reshape(in_shape)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("nd,shape,k", [t for t in TILED if t[2] == 2 or t[2] == (3, 2)])
def test_tiled_windows(nd, shape, k, dtype, layout):
    """Where windows tile the input with width taps 2, the backward and max_unpool store each
    window row's two taps at once (route_owned_rows): the gradient goes to the indices, every
    other element is 0, and an index outside its window (the op takes any in the window's
    rows) still routes."""
    gen = torch.Generator().manual_seed(hash((nd, shape, str(dtype), layout, "tiled max")) % 2**31)
    x = in_layout(make_input(shape, dtype, generator=gen), layout)
    what = f"max_pool{nd}d{shape} k={k} {dtype} {layout}"
    out, idx = getattr(torchpool, f"max_pool{nd}d")(x, k, return_indices=True)
    ref_out, ref_idx = torch_ref(x, nd, kernel_size=k)
    assert_same(out, ref_out, what)
    assert_same(idx, ref_idx, what + " indices")
    g = torch.randn(out.shape, generator=gen, dtype=torch.float64)
    g[g.abs() < 0.05] = float("nan")
    g[(g.abs() > 2) & (g.abs() < 2.2)] = -0.0
    g = g.to(dtype)
    kk = [k] * nd if isinstance(k, int) else list(k)
    back = getattr(torch.ops.torchpool, f"max_pool{nd}d_backward")
    grad = back(g, x, idx, kk, kk, [0] * nd, [1] * nd, False)
    assert_same(grad.double(), routed(g, idx, x.shape), what + " grad")
    # torch's scatter-add from +0 never leaves a -0 (0 + -0 is +0)
    assert not bool(((grad == 0) & grad.signbit()).any()), what + ": a -0 in the gradient"
    moved = idx.clone(memory_format=torch.contiguous_format)
    w, i = x.shape[-1], moved.view(-1)[3]
    moved.view(-1)[3] = i - i % w + (i % w + 2) % w  # two columns on: outside its window, in its rows
    grad = back(g, x, moved, kk, kk, [0] * nd, [1] * nd, False)
    assert_close(grad, routed(g, moved, x.shape).to(dtype), dtype, what + " grad, an index moved")  # may add two
    unpooled = getattr(torchpool, f"max_unpool{nd}d")(out, idx, k, k, output_size=x.shape[2:])
    assert_same(unpooled.double(), routed(out, idx, x.shape, assign=True), what + " unpool")


def assert_exact(x, nd, kw, what):
    """Values (with and without indices) and indices exactly as torch's."""
    pool = getattr(torchpool, f"max_pool{nd}d")
    ref_out, ref_idx = torch_ref(x, nd, **kw)
    assert_same(pool(x, **kw), ref_out, what)
    out, idx = pool(x, return_indices=True, **kw)
    assert_same(out, ref_out, what + " with indices")
    assert_same(idx, ref_idx, what + " indices")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("nd,shape", SHARED_ROWS)
def test_windows_sharing_rows(nd, shape, dtype):
    gen = torch.Generator().manual_seed(hash((nd, shape, str(dtype), "shared max")) % 2**31)
    x = make_input(shape, dtype, generator=gen)
    for kw in shared_rows_windows(nd):
        assert_exact(x, nd, kw, f"max_pool{nd}d{shape} {dtype} {kw}")


# Windows the contiguous forward takes in two passes (each window row reduced along the
# width, then the rows' results down the columns; cpu/traversal/separable.h): large,
# non-square, dilated, padded, ceil_mode, 3-d, a row narrower than a pack, and 3x3 at
# height stride 1.
SEPARABLE = [
    (2, (2, 3, 19, 45), dict(kernel_size=5, stride=1, padding=2)),
    (2, (1, 2, 23, 70), dict(kernel_size=(4, 6), stride=(1, 2), padding=(2, 3), ceil_mode=True)),
    (2, (1, 3, 30, 37), dict(kernel_size=7, stride=2, padding=3, dilation=(2, 1))),
    (2, (2, 2, 9, 133), dict(kernel_size=3, stride=1, padding=1, ceil_mode=True)),
    (2, (1, 2, 12, 11), dict(kernel_size=(5, 9), stride=(1, 3), padding=(1, 4))),
    (3, (1, 2, 7, 10, 40), dict(kernel_size=3, stride=1, padding=1)),
    (3, (1, 1, 6, 9, 35), dict(kernel_size=(2, 5, 5), stride=(1, 1, 2), padding=(0, 2, 2), dilation=(2, 1, 1))),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("nd,shape,kw", SEPARABLE, ids=[f"{nd}d-{shape}-{kw}" for nd, shape, kw in SEPARABLE])
def test_windows_in_two_passes(nd, shape, kw, dtype):
    """Exact against torch, values and indices: ties keep the first element in scan
    order and the last NaN wins across the window's rows as within them."""
    gen = torch.Generator().manual_seed(hash((nd, shape, str(dtype), "two passes")) % 2**31)
    x = make_input(shape, dtype, generator=gen)
    assert_exact(x, nd, kw, f"max_pool{nd}d{shape} {dtype} {kw}")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_two_passes_all_minus_inf_windows_and_thread_counts(dtype):
    """Windows wholly -inf report their first element through the packs of both passes,
    and work ranges starting mid-plane (any thread count) give the same results."""
    gen = torch.Generator().manual_seed(23)
    x = make_input((2, 3, 20, 70), dtype, generator=gen)
    x[:, :, 4:13, 10:50] = -float("inf")  # wider than a pack, taller than a window
    threads = torch.get_num_threads()
    try:
        for n in [1, 2, 3]:
            torch.set_num_threads(n)
            for kw in [dict(kernel_size=5, stride=1, padding=2), dict(kernel_size=(4, 6), stride=(1, 2))]:
                assert_exact(x, 2, kw, f"{dtype} {kw} threads {n}")
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("nd,shape,kw", [
    (2, (1, 37, 12, 15), dict(kernel_size=5, stride=1, padding=2)),  # channels-last: blocks of 16 channels and a tail
    (2, (2, 3, 19, 45), dict(kernel_size=4, stride=2, padding=1)),
    (3, (1, 20, 5, 6, 9), dict(kernel_size=3, stride=1, padding=1)),
], ids=["5x5s1", "4x4s2", "3x3x3s1"])
def test_large_overlapping_windows_backward(nd, shape, kw, dtype, layout):
    """Windows of more than 9 elements, overlapping: the routing scatters (its checked
    blocks of indices, channels-last too) rather than gathering per destination."""
    gen = torch.Generator().manual_seed(hash((nd, shape, str(dtype), layout, "large bwd")) % 2**31)
    x = in_layout(make_input(shape, dtype, generator=gen), layout).requires_grad_()
    out, idx = getattr(torchpool, f"max_pool{nd}d")(x, return_indices=True, **kw)
    ref_out, ref_idx = torch_ref(x.detach(), nd, **kw)
    what = f"max_pool{nd}d{shape} {dtype} {layout} {kw}"
    assert_same(idx, ref_idx, what + " indices")
    g = torch.randn(out.shape, generator=gen).to(dtype)
    out.backward(g)
    assert_close(x.grad, routed(g, ref_idx, x.shape), dtype, what + " grad")


@pytest.mark.parametrize("device", devices())
def test_unbatched_and_empty_batch(device):
    x = make_input((4, 9, 10), torch.float32, device=device)
    out, idx = torchpool.max_pool2d(x, 3, 2, 1, return_indices=True)
    ref = F.max_pool2d(x.cpu(), 3, 2, 1, return_indices=True)
    assert_same(out.cpu(), ref[0], "unbatched values")
    assert_same(idx.cpu(), ref[1], "unbatched indices")
    empty = torch.empty(0, 4, 9, 10, device=device)
    out, idx = torchpool.max_pool2d(empty, 2, return_indices=True)
    assert out.shape == (0, 4, 4, 5) and idx.shape == (0, 4, 4, 5)


def test_all_negative_infinity_windows_report_first_element():
    x = torch.full((1, 1, 4, 4), -float("inf"))
    out, idx = torchpool.max_pool2d(x, 3, 1, 1, return_indices=True)
    ref = F.max_pool2d(x, 3, 1, 1, return_indices=True)
    assert_same(out, ref[0], "values")
    assert_same(idx, ref[1], "indices")
    assert idx[0, 0, 0, 0].item() == 0  # the window's first element inside the input


def test_nan_wins_and_last_nan_is_kept():
    x = torch.tensor([[[1.0, float("nan"), 3.0, float("nan"), 2.0]]])
    out, idx = torchpool.max_pool1d(x, 5, return_indices=True)
    assert out.isnan().all() and idx.item() == 3


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_signed_zeros_and_nan_payloads_come_through_bit_for_bit(dtype, layout):
    """Ties of +0 and -0 keep the first in scan order and the last NaN wins with its own
    payload, in the values-only forward too (which applies the rule in a shorter form
    than the indices path). Reduced dtypes: torch on the input widened to float32, and
    any NaN matches (stored back from float32, a NaN becomes the canonical one, in
    torch's own reduced-dtype kernels as here)."""
    gen = torch.Generator().manual_seed(11)
    ints = {torch.float64: torch.int64, torch.float32: torch.int32}.get(dtype, torch.int16)
    shape = (2, 3, 13, 41)
    u = torch.rand(shape, generator=gen)
    x = torch.where(u < 0.5, -0.0, 0.0)
    x[u > 0.9] = -1.0
    x = x.to(dtype)
    nan_bits = torch.tensor(float("nan"), dtype=dtype).view(ints)
    payload = nan_bits + torch.randint(1, 64, shape, generator=gen).to(ints)
    x = torch.where(u < 0.03, payload, x.view(ints)).view(dtype)
    wide = x.double() if dtype == torch.float64 else x.float()
    any_nan = dtype not in (torch.float32, torch.float64)
    for k, s, p in [(2, 2, 0), (3, 2, 1), (3, 1, 1), (2, 1, 0), (3, 3, 0)]:
        ref = F.max_pool2d(wide, k, s, p)
        what = f"{dtype} {layout} k{k} s{s} p{p}"
        xl = in_layout(x, layout)
        assert_bits(torchpool.max_pool2d(xl, k, s, p).to(wide.dtype), ref, what + " values only", nan_any=any_nan)
        out = torchpool.max_pool2d(xl, k, s, p, return_indices=True)[0]
        assert_bits(out.to(wide.dtype), ref, what + " with indices", nan_any=any_nan)


def test_window_of_padding_only_is_rejected():
    x = torch.randn(1, 1, 1)
    with pytest.raises(RuntimeError, match="holds only padding"):
        torchpool.max_pool1d(x, 2, 3, 1, 2, True)


def test_backward_is_deterministic_across_thread_counts():
    x = make_input((2, 5, 33, 47), torch.float32, specials=False)
    outs = []
    for threads in (1, 2, 3):
        old = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            xg = x.clone().requires_grad_()
            torchpool.max_pool2d(xg, 3, 1, 1).backward(torch.ones(2, 5, 33, 47))
            outs.append(xg.grad)
        finally:
            torch.set_num_threads(old)
    assert all(torch.equal(outs[0], o) for o in outs[1:])


def test_backward_rejects_bad_indices():
    x = torch.randn(1, 2, 4, 4)
    g = torch.randn(1, 2, 2, 2)
    bad = torch.full((1, 2, 2, 2), 16, dtype=torch.long)
    bwd = torch.ops.torchpool.max_pool2d_backward
    for cl in (False, True):  # channels-last with disjoint windows first tries a gather
        lay = (lambda t: t.contiguous(memory_format=torch.channels_last)) if cl else (lambda t: t)
        with pytest.raises(RuntimeError, match="index 16 is out of range"):
            bwd(lay(g), lay(x), lay(bad), [2, 2], [2, 2], [0, 0], [1, 1], False)
        inside = torch.tensor([0, 2, 8, 10]).repeat(2).reshape(1, 2, 2, 2)
        inside[0, 1, 0, 1] = 9  # in the plane, outside the rows of its window
        with pytest.raises(RuntimeError, match="index 9 lies outside the window"):
            bwd(lay(g), lay(x), lay(inside), [2, 2], [2, 2], [0, 0], [1, 1], False)
        inside[0, 1, 0, 1] = 1  # in its window's rows, in its neighbour's columns: routed
        got = bwd(lay(g), lay(x), lay(inside), [2, 2], [2, 2], [0, 0], [1, 1], False)
        ref = torch.ops.aten.max_pool2d_with_indices_backward(g, x, [2, 2], [2, 2], [0, 0], [1, 1], False, inside)
        assert torch.equal(got, ref)
    with pytest.raises(RuntimeError, match="indices must have size"):
        torch.ops.torchpool.max_pool2d_backward(g, x, bad[..., :1], [2, 2], [2, 2], [0, 0], [1, 1], False)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_backward_rejects_indices_that_alias_a_position_in_32_bits(dtype):
    # Rows long enough for whole packs of tiling windows (the gather along the row, whose
    # index lanes are 32-bit where planes allow): an index 2^32 away from its element's
    # position, either way, must not be taken for it.
    x = torch.randn(2, 3, 6, 40, dtype=dtype)
    y, idx = torch.ops.torchpool.max_pool2d_with_indices(x, [2, 2], [2, 2], [0, 0], [1, 1], False)
    g = torch.randn_like(y)
    bwd = torch.ops.torchpool.max_pool2d_backward
    for col in (3, 13):  # lanes in either half of a pack
        for shift in (2**32, -(2**32)):
            bad = idx.clone()
            bad[1, 2, 1, col] += shift
            with pytest.raises(RuntimeError, match=f"index {bad[1, 2, 1, col].item()} is out of range"):
                bwd(g, x, bad, [2, 2], [2, 2], [0, 0], [1, 1], False)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("channels", [20, 37])
def test_backward_routes_any_index_of_its_window_rows_channels_last(channels, dtype):
    """Overlapping windows, channels-last (float32: a gather by channel packs, then the
    tail channels; 16-bit: a scatter in float, by checked blocks of 16 channels, then the
    rest): an index at a position of its window, or elsewhere in its window's rows
    (routed like torch's), or outside them (rejected), in block and tail channels."""
    cl = torch.channels_last
    x = torch.randn(2, channels, 7, 9).to(dtype).contiguous(memory_format=cl)
    _, idx = F.max_pool2d(x, 3, 2, 1, return_indices=True)  # 4x5 outputs
    g = torch.randn(idx.shape).to(dtype).contiguous(memory_format=cl)
    bwd = torch.ops.torchpool.max_pool2d_backward
    args = ([3, 3], [2, 2], [1, 1], [1, 1], False)
    for c in (3, channels - 1):  # a packed channel and the last (tail) one
        odd = idx.clone()
        odd[1, c, 1, 2] = 2 * 9 + 8  # output (1, 2) covers rows 1..3 and columns 3..5: row 2, column 8
        odd[0, c, 3, 4] = 5 * 9 + 0
        got = bwd(g, x, odd.contiguous(memory_format=cl), *args)
        # torch sums 16-bit values in their dtype; torchpool in float, in the same order
        ref = torch.ops.aten.max_pool2d_with_indices_backward(g.float().contiguous(), x.float().contiguous(), *args,
                                                              odd.contiguous()).to(dtype)
        assert torch.equal(got, ref)
        odd[1, c, 1, 2] = 5 * 9 + 4  # row 5: outside rows 1..3
        with pytest.raises(RuntimeError, match="lies outside the window"):
            bwd(g, x, odd.contiguous(memory_format=cl), *args)
        odd[1, c, 1, 2] = -1
        with pytest.raises(RuntimeError, match="out of range"):
            bwd(g, x, odd.contiguous(memory_format=cl), *args)
