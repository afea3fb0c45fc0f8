"""max_unpool{1,2,3}d against torch.nn.functional.max_unpool and a latest-wins reference,
avg_unpool{1,2,3}d against the gradient of torch's avg_pool, over grids of arguments,
every dtype and layout, with NaN, +-inf, ties and denormals; errors, round trips,
determinism across thread counts, gradients and the modules."""
import itertools

import pytest
import torch
import torch.nn.functional as F

import torchpool
import torchpool.nn as tnn
from conftest import (DTYPES, LAYOUTS, assert_close, assert_format, assert_same, devices, make_input,
                      on_device)

# Pool input sizes (the unpooled sizes): long rows with few channels, and many
# channels on small planes, as in test_max_pool.py.
SHAPES = {
    1: [(2, 5, 61), (3, 70, 9)],
    2: [(2, 3, 13, 41), (2, 70, 7, 6)],
    3: [(2, 3, 5, 9, 37), (1, 67, 4, 5, 3)],
}


def in_layout(t, layout):
    """t (dense) in a layout, as make_input lays out its tensors."""
    if layout == "channels_last" and t.dim() in (4, 5):
        return t.contiguous(memory_format=torch.channels_last if t.dim() == 4 else torch.channels_last_3d)
    if layout == "strided":
        big = torch.zeros([2 * s for s in t.shape], dtype=t.dtype, device=t.device)
        view = big[tuple(slice(None, None, 2) for _ in t.shape)]
        view.copy_(t)
        return view
    return t


def max_unpool_ref(x, idx, out_spatial):
    """Zeros, then x at its index in each plane, the latest in scan order winning where
    indices repeat: the winner of each destination is the largest source position
    naming it (an exact integer reduction, so the reference is deterministic)."""
    nd = len(out_spatial)
    lead = x.shape[:-nd]
    planes, n = int(torch.tensor(lead).prod()), int(torch.tensor(x.shape[-nd:]).prod())
    size = int(torch.tensor(out_spatial).prod())
    xs, ix = x.reshape(planes, n), idx.reshape(planes, n)
    pos = torch.arange(n).expand(planes, n)
    win = torch.full((planes, size), -1, dtype=torch.long).scatter_reduce(1, ix, pos, "amax")
    out = torch.zeros(planes, size, dtype=x.dtype)
    hit = win >= 0
    out[hit] = xs.gather(1, win.clamp(min=0))[hit]
    return out.reshape(*lead, *out_spatial)


def has_repeats(idx, nd):
    flat = idx.reshape(-1, int(torch.tensor(idx.shape[-nd:]).prod()))
    return any(len(row.unique()) < len(row) for row in flat)


def pool_indices(x, nd, k, s, p, d, ceil):
    """torch's max_pool indices for x (reduced dtypes through float32), or None."""
    try:
        xr = x if x.dtype in (torch.float32, torch.float64) else x.float()
        y, idx = getattr(F, f"max_pool{nd}d")(xr.contiguous(), k, s, p, d, ceil, return_indices=True)
        return y.to(x.dtype), idx
    except RuntimeError:
        return None


def max_configs(nd):
    """(kernel, stride, padding, dilation, ceil_mode) of the max pooling that gives the indices."""
    for k, s, p, d, ceil in itertools.product([2, 3], [None, 1, 2], [0, 1], [1, 2], [False, True]):
        yield k, s, p, d, ceil


def run_both(ours, theirs):
    """(ours, theirs) results, or the exception types when torch raises."""
    try:
        ref = theirs()
    except (RuntimeError, ValueError) as e:
        with pytest.raises((RuntimeError, ValueError)) as info:
            ours()
        assert isinstance(info.value, type(e)), (info.value, e)
        return None, None
    return ours(), ref


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_max_unpool_forward_backward(nd, dtype, layout, device):
    gen = torch.Generator().manual_seed(hash((nd, str(dtype), layout, "max_unpool")) % 2**31)
    ours_fn = getattr(torchpool, f"max_unpool{nd}d")
    ref_fn = getattr(F, f"max_unpool{nd}d")
    checked = 0
    for shape in SHAPES[nd]:
        x = make_input(shape, dtype, "contiguous", generator=gen)
        for k, s, p, d, ceil in max_configs(nd):
            pooled = pool_indices(x, nd, k, s, p, d, ceil)
            if pooled is None:
                continue
            y, idx = pooled
            what = f"max_unpool{nd}d{tuple(idx.shape)} {dtype} {layout} k={k} s={s} p={p} (pool d={d} ceil={ceil})"
            # fresh values (repeated indices carry different values), and the pooled ones
            v = make_input(tuple(idx.shape), dtype, "contiguous", generator=gen)
            vl, il = on_device(in_layout(v, layout), device), on_device(in_layout(idx, layout), device)
            for output_size in (None, shape[-nd:], shape):
                kw = dict(kernel_size=k, stride=s, padding=p, output_size=output_size)
                out, ref = run_both(lambda: ours_fn(vl, il, **kw), lambda: ref_fn(v, idx, **kw))
                if out is None:
                    continue
                assert_same(out.cpu(), max_unpool_ref(v, idx, ref.shape[-nd:]), what + " vs latest-wins")
                if not has_repeats(idx, nd):
                    assert_same(out.cpu(), ref, what + " vs torch")
                if layout != "strided":
                    assert_format(out, vl, what)
                # round trip: the pooled values at their own indices (repeats carry one value)
                assert_same(ours_fn(on_device(in_layout(y, layout), device), il, **kw).cpu(),
                             ref_fn(y, idx, **kw), what + " round trip")
                # gradient: a gather at every index, as torch's
                vg = vl.detach().requires_grad_()
                g = torch.randn(ref.shape, generator=gen).to(dtype)
                ours_fn(vg, il, **kw).backward(g.to(device))
                vr = v.detach().requires_grad_()
                ref_fn(vr, idx, **kw).backward(g)
                assert_same(vg.grad.cpu(), vr.grad, what + " grad")
                checked += 1
    assert checked > 20


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_indices_anywhere_latest_wins(nd, layout, device):
    """Random indices anywhere in the plane, many repeated (the routing core's path for
    indices outside their windows), against the reference, for every dtype."""
    gen = torch.Generator().manual_seed(nd)
    shape = {1: (2, 19, 23), 2: (2, 21, 5, 7), 3: (1, 18, 3, 4, 5)}[nd]
    out_spatial = {1: (47,), 2: (11, 14), 3: (7, 8, 10)}[nd]
    size = int(torch.tensor(out_spatial).prod())
    for dtype in DTYPES:
        x = make_input(shape, dtype, generator=gen)
        # half of the plane's positions: every destination is hit by about two sources
        idx = torch.randint(0, size // 2, shape, generator=gen) * 2
        out = getattr(torchpool, f"max_unpool{nd}d")(on_device(in_layout(x, layout), device),
                                                     on_device(in_layout(idx, layout), device), 2,
                                                     output_size=out_spatial)
        assert_same(out.cpu(), max_unpool_ref(x, idx, out_spatial), f"{nd}d {dtype} {layout}")
        assert_format(out, in_layout(x, layout), f"{nd}d {dtype} {layout}")


def test_repeated_indices_are_deterministic_across_thread_counts():
    gen = torch.Generator().manual_seed(7)
    x = make_input((3, 40, 30, 30), torch.float32, specials=False, generator=gen)
    for layout in ("contiguous", "channels_last"):
        for idx in (torch.randint(0, 60 * 60, x.shape, generator=gen),  # anywhere
                    F.max_pool2d(torch.randn(3, 40, 60, 60, generator=gen), 3, 2, 1,
                                 return_indices=True)[1]):  # overlapping windows
            ref = max_unpool_ref(x, idx, (60, 60))
            outs, grads = [], []
            for threads in (1, 2, 3):
                old = torch.get_num_threads()
                torch.set_num_threads(threads)
                try:
                    xg = in_layout(x, layout).detach().requires_grad_()
                    out = torchpool.max_unpool2d(xg, in_layout(idx, layout), 3, 2, 1, output_size=(60, 60))
                    out.backward(torch.arange(out.numel(), dtype=torch.float32).reshape(out.shape))
                    outs.append(out.detach())
                    grads.append(xg.grad)
                finally:
                    torch.set_num_threads(old)
            for o, g in zip(outs, grads):
                assert_same(o, ref, f"{layout} threads")
                assert_same(g, grads[0], f"{layout} grad threads")


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_round_trip_gives_back_the_pooled_values(nd):
    """max_pool(max_unpool(max_pool(x))) == max_pool(x), values and indices, for positive
    inputs and windows that do not overlap (elsewhere a zero or a neighbour can win)."""
    shape = {1: (2, 6, 40), 2: (2, 6, 12, 17), 3: (2, 5, 6, 7, 9)}[nd]
    pool, unpool = getattr(torchpool, f"max_pool{nd}d"), getattr(torchpool, f"max_unpool{nd}d")
    for dtype in DTYPES:
        for layout in ("contiguous", "channels_last"):
            x = in_layout(torch.rand(shape, dtype=torch.float64).add(0.5).to(dtype), layout)
            for k, s, p in ((2, 2, 0), (3, 3, 1), (2, 3, 1)):
                y, idx = pool(x, k, s, p, return_indices=True)
                u = unpool(y, idx, k, s, p, output_size=shape)
                y2, idx2 = pool(u, k, s, p, return_indices=True)
                what = f"{nd}d {dtype} {layout} k={k} s={s} p={p}"
                assert_same(y2, y, what + " values")
                assert_same(idx2, idx, what + " indices")


@pytest.mark.parametrize("device", devices())
def test_unbatched_and_empty_batch(device):
    x = torch.randn(4, 9, 10)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    out = torchpool.max_unpool2d(y.to(device), idx.to(device), 2, output_size=(9, 10))
    assert_same(out.cpu(), F.max_unpool2d(y, idx, 2, output_size=(9, 10)), "unbatched")
    out = torchpool.max_unpool2d(torch.empty(0, 4, 3, 5, device=device),
                                 torch.empty(0, 4, 3, 5, dtype=torch.long, device=device), 2)
    assert out.shape == (0, 4, 6, 10)
    out = torchpool.avg_unpool2d(torch.empty(0, 4, 3, 5, device=device), 2)
    assert out.shape == (0, 4, 6, 10)
    g = torch.randn(4, 3, 5)
    assert_same(torchpool.avg_unpool2d(g.to(device), 2).cpu(),
                torchpool.avg_unpool2d(g[None].to(device), 2)[0].cpu(), "avg unbatched")


@pytest.mark.parametrize("device", devices())
def test_index_outside_the_plane_is_an_error(device):
    x = torch.randn(1, 2, 2, 2)

    def lay(t, layout):
        return on_device(in_layout(t, layout), device)
    for bad in (16, -1, 2**40):
        for layout in ("contiguous", "channels_last"):
            idx = torch.tensor([0, 2, 8, 10]).repeat(2).reshape(1, 2, 2, 2)
            idx[0, 1, 1, 0] = bad
            with pytest.raises(RuntimeError, match=f"index {bad} is out of range for a plane of 16 elements"):
                torchpool.max_unpool2d(lay(x, layout), lay(idx, layout), 2)
            with pytest.raises(RuntimeError, match=f"index {bad} is out of range for a plane of 16 elements"):
                torch.ops.torchpool.max_unpool2d_add(lay(x, layout), lay(idx, layout), [4, 4])
            # in the plane but far from its window: routed (the slow path), no error
            idx[0, 1, 1, 0] = 3
            out = torchpool.max_unpool2d(lay(x, layout), lay(idx, layout), 2)
            assert out[0, 1, 0, 3].item() == x[0, 1, 1, 0].item()
            idx[0, 1, 1, 0] = bad
            g = torch.ones(1, 2, 4, 4)
            with pytest.raises(RuntimeError, match=f"index {bad} is out of range for a plane of 16 elements"):
                torch.ops.torchpool.max_unpool2d_backward(lay(g, layout), lay(idx, layout))
    # a smaller output_size than the pooled input's: torch and torchpool both refuse
    x = torch.arange(25.0).reshape(1, 1, 5, 5)  # each window's max in its last row
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    with pytest.raises(RuntimeError, match="index 1[0-9] is out of range for a plane of 16 elements"):
        torchpool.max_unpool2d(y.to(device), idx.to(device), 2)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16], ids=str)
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_gather_over_wide_rows(layout, dtype, device):
    """The gather (max_unpool's backward) over rows and pixels long enough for whole packs
    of every level: indices anywhere in the plane match torch's gather bit for bit, and an
    index outside the plane in any lane of a pack is reported, not read."""
    gen = torch.Generator().manual_seed(7)
    shape, out_shape = (2, 37, 6, 41), (2, 37, 3, 35)
    plane = shape[2] * shape[3]
    g = make_input(shape, dtype, "contiguous", generator=gen)
    idx = torch.randint(0, plane, out_shape, generator=gen)
    ref = g.reshape(2, 37, plane).gather(2, idx.reshape(2, 37, -1)).reshape(out_shape)
    gl, il = on_device(in_layout(g, layout), device), on_device(in_layout(idx, layout), device)
    assert_same(torch.ops.torchpool.max_unpool2d_backward(gl, il).cpu(), ref, f"gather {layout} {dtype}")
    for where in [(0, 0, 0, 0), (1, 36, 2, 34), (0, 5, 1, 9), (1, 17, 2, 15), (0, 31, 0, 23)]:
        for bad in (plane, -1, 2**33 + 3):
            b = idx.clone()
            b[where] = bad
            with pytest.raises(RuntimeError, match=f"index {bad} is out of range for a plane of {plane} elements"):
                torch.ops.torchpool.max_unpool2d_backward(gl, on_device(in_layout(b, layout), device))


def test_argument_errors_name_the_argument():
    y, idx = F.max_pool2d(torch.randn(2, 3, 8, 8), 2, return_indices=True)
    cases = [
        (dict(kernel_size=2, output_size=(10, 9)), ValueError, "output_size"),
        (dict(kernel_size=2, output_size=(6, 8)), ValueError, "output_size"),
        (dict(kernel_size=2, output_size=(3, 8, 8)), ValueError, "output_size"),
        (dict(kernel_size=0), RuntimeError, "kernel_size"),
        (dict(kernel_size=2, stride=0), RuntimeError, "stride"),
        (dict(kernel_size=2, padding=-1), RuntimeError, "padding"),
        (dict(kernel_size=(2, 2, 2)), RuntimeError, "kernel_size"),
        (dict(kernel_size=2, padding=5), ValueError, "output size"),
    ]
    for kw, exc, name in cases:
        with pytest.raises(exc, match=name):
            torchpool.max_unpool2d(y, idx, **kw)
        if exc is ValueError:  # torch checks only the output size
            with pytest.raises(ValueError):
                F.max_unpool2d(y, idx, **kw)
    with pytest.raises(RuntimeError, match="indices must be int64"):
        torchpool.max_unpool2d(y, idx.int(), 2)
    with pytest.raises(RuntimeError, match="indices must have the input's size"):
        torchpool.max_unpool2d(y, idx[..., :3], 2)
    with pytest.raises(RuntimeError, match="input must be 3-d"):
        torchpool.max_unpool2d(y[None], idx[None], 2)
    with pytest.raises(RuntimeError, match="input must be float32"):
        torchpool.max_unpool2d(idx, idx, 2)
    with pytest.raises(RuntimeError, match="grad_output must have the batch and channels"):
        torch.ops.torchpool.max_unpool2d_backward(torch.ones(2, 4, 8, 8), idx)
    # avg_unpool: an output_size that does not average-pool back to the input's size
    g = torch.randn(2, 3, 4, 4)
    with pytest.raises(ValueError, match="output_size .* does not average-pool back"):
        torchpool.avg_unpool2d(g, 2, output_size=(10, 8))
    with pytest.raises(RuntimeError, match="padding"):
        torchpool.avg_unpool2d(g, 2, padding=2)
    with pytest.raises(RuntimeError, match="divisor_override"):
        torchpool.avg_unpool2d(g, 2, divisor_override=0)


def torch_avg(x, nd, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    if nd == 1:  # torch's avg_pool1d has no divisor_override: its 2-d twin
        return F.avg_pool2d(x.unsqueeze(-2), (1, kernel_size), (1, stride or kernel_size), (0, padding),
                            ceil_mode, count_include_pad, divisor_override).squeeze(-2)
    return getattr(F, f"avg_pool{nd}d")(x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                                        divisor_override)


def avg_configs(nd):
    for k, s, p, ceil, cip, div in itertools.product([1, 2, 3], [None, 1, 2], [0, 1], [False, True],
                                                      [True, False], [None, 3]):
        yield dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil, count_include_pad=cip,
                   divisor_override=div)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_avg_unpool_is_the_gradient_of_avg_pool(nd, dtype, layout, device):
    """avg_unpool(g, output_size=U) == d<avg_pool(x), g>/dx for x of size U (torch's
    autograd on torch's avg_pool), and avg_unpool's own gradient is avg_pool."""
    gen = torch.Generator().manual_seed(hash((nd, str(dtype), layout, "avg_unpool")) % 2**31)
    ours_fn = getattr(torchpool, f"avg_unpool{nd}d")
    exact = dtype in (torch.float32, torch.float64)
    checked = 0
    for shape in SHAPES[nd]:
        for kw in avg_configs(nd):
            what = f"avg_unpool{nd}d to {shape} {dtype} {layout} {kw}"
            xr = torch.zeros(shape, dtype=dtype if exact else torch.float64, requires_grad=True)
            try:
                pooled = torch_avg(xr, nd, **kw)
            except RuntimeError:
                continue
            g = make_input(tuple(pooled.shape), dtype, "contiguous", generator=gen)
            (ref,) = torch.autograd.grad(pooled, xr, g.to(xr.dtype))
            gl = on_device(in_layout(g, layout), device).requires_grad_()
            out = ours_fn(gl, **kw, output_size=shape[-nd:])
            if exact and device == "cpu":  # the same sums in the same order as torch
                assert_same(out, ref, what)
            else:
                assert_close(out.cpu(), ref.to(dtype), dtype, what)
            if layout != "strided":
                assert_format(out, gl, what)
            # its gradient: average pooling with the same arguments
            h = make_input(shape, dtype, "contiguous", specials=False, generator=gen)
            out.backward(on_device(in_layout(h, layout), device))
            ref_grad = torch_avg(h if exact else h.double(), nd, **kw).to(dtype)
            if exact and device == "cpu":
                assert_same(gl.grad, ref_grad, what + " grad")
            else:
                assert_close(gl.grad.cpu(), ref_grad, dtype, what + " grad")
            checked += 1
    assert checked > 20


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_avg_unpool_default_size_pools_back(nd):
    """Without output_size the unpooled size is (L-1)*s - 2p + k, which average-pools
    back to L (in ceil mode too)."""
    x = torch.randn({1: (2, 3, 7), 2: (2, 3, 5, 6), 3: (1, 2, 3, 4, 5)}[nd])
    fn = getattr(torchpool, f"avg_unpool{nd}d")
    pool = getattr(torch.ops.torchpool, f"avg_unpool{nd}d_backward")  # no avg_pool3d size rule
    for k, s, p, ceil in itertools.product([1, 2, 3, 4], [1, 2, 3], [0, 1, 2], [False, True]):
        if p > k // 2:
            continue
        u = fn(x, k, s, p, ceil)
        assert list(u.shape[-nd:]) == [(n - 1) * s - 2 * p + k for n in x.shape[-nd:]]
        assert pool(u, [k], [s], [p], ceil, True, None).shape == x.shape


CASES = [
    (1, (2, 3, 9), dict(kernel_size=3, stride=2, padding=1)),
    (2, (2, 3, 7, 8), dict(kernel_size=3, stride=1, padding=1)),
    (2, (1, 2, 9, 7), dict(kernel_size=(2, 3), stride=(2, 1), ceil_mode=True)),
    (3, (1, 2, 5, 6, 5), dict(kernel_size=2, stride=1, padding=1)),
]


def distinct(shape, cl=False):
    x = torch.randperm(int(torch.tensor(shape).prod()), dtype=torch.float64).reshape(shape) / 7
    return in_layout(x, "channels_last" if cl else "contiguous").requires_grad_()


@pytest.mark.parametrize("cl", [False, True])
@pytest.mark.parametrize("nd,shape,kw", CASES)
def test_gradcheck(nd, shape, kw, cl):
    if cl and nd == 1:
        pytest.skip("1-d has no channels-last format")
    ops = torch.ops.torchpool
    pool_kw = {k: v for k, v in kw.items() if k != "ceil_mode"}
    pool_kw["stride"] = pool_kw["kernel_size"]  # windows that do not overlap: distinct indices
    x = distinct(shape, cl)
    y, idx = getattr(torchpool, f"max_pool{nd}d")(x.detach(), return_indices=True, **pool_kw)
    y = y.detach().requires_grad_()
    unpool = getattr(torchpool, f"max_unpool{nd}d")
    args = dict(kernel_size=pool_kw["kernel_size"], stride=pool_kw["stride"], padding=pool_kw.get("padding", 0),
                output_size=shape)
    assert torch.autograd.gradcheck(lambda t: unpool(t, idx, **args), (y,))
    assert torch.autograd.gradgradcheck(lambda t: unpool(t, idx, **args), (y,))
    # the gather and its adjoint, with repeated indices
    rep = torch.randint(0, int(torch.tensor(shape[2:]).prod()), y.shape)
    g = distinct(shape, cl)
    gather = getattr(ops, f"max_unpool{nd}d_backward")
    add = getattr(ops, f"max_unpool{nd}d_add")
    assert torch.autograd.gradcheck(lambda t: gather(t, rep), (g,))
    assert torch.autograd.gradgradcheck(lambda t: gather(t, rep), (g,))
    assert torch.autograd.gradcheck(lambda t: add(t, rep, list(shape[2:])), (y,))
    assert torch.autograd.gradgradcheck(lambda t: add(t, rep, list(shape[2:])), (y,))
    # avg_unpool, the adjoint of avg_pool
    fn = getattr(torchpool, f"avg_unpool{nd}d")
    pooled = getattr(torchpool, f"avg_pool{nd}d")(x.detach(), **kw)
    p = distinct(tuple(pooled.shape), cl)
    for extra in (dict(), dict(count_include_pad=False), dict(divisor_override=5)):
        assert torch.autograd.gradcheck(lambda t: fn(t, **kw, **extra, output_size=shape), (p,))
        assert torch.autograd.gradgradcheck(lambda t: fn(t, **kw, **extra, output_size=shape), (p,))


@pytest.mark.parametrize("device", devices())
def test_add_sums_repeated_indices(device):
    x = torch.tensor([[[1.0, 2.0, 4.0, 8.0]]], device=device)
    idx = torch.tensor([[[3, 0, 3, 3]]], device=device)
    out = torch.ops.torchpool.max_unpool1d_add(x, idx, [5])
    assert out.tolist() == [[[2.0, 0.0, 0.0, 13.0, 0.0]]]
    assert torchpool.max_unpool1d(x, idx, 2, 1).tolist() == [[[2.0, 0.0, 0.0, 8.0, 0.0]]]


MODULES = [
    ("MaxUnpool1d", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)], (2, 4, 17)),
    ("MaxUnpool2d", [dict(kernel_size=2), dict(kernel_size=(3, 2), stride=(2, 1), padding=1)], (2, 4, 9, 11)),
    ("MaxUnpool3d", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)], (1, 3, 5, 7, 6)),
]


@pytest.mark.parametrize("name,kwargs_list,shape", MODULES)
def test_max_unpool_modules_mirror_torch(name, kwargs_list, shape):
    nd = len(shape) - 2
    x = make_input(shape, torch.float32, specials=False)
    for kw in kwargs_list:
        ours, ref = getattr(tnn, name)(**kw), getattr(torch.nn, name)(**kw)
        assert repr(ours) == repr(ref)
        for attr in ("kernel_size", "stride", "padding"):
            assert getattr(ours, attr) == getattr(ref, attr), attr
        pool = getattr(torch.nn, f"MaxPool{nd}d")(**kw, return_indices=True)
        y, idx = pool(x)
        for size in (None, x.shape):  # without it, a bottom row index may lie outside: both raise
            got, want = run_both(lambda: ours(y, idx, output_size=size), lambda: ref(y, idx, output_size=size))
            if want is not None:
                assert_same(got, want, f"{name} {kw} {size}")


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_avg_unpool_modules(nd):
    kw = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False, divisor_override=None)
    ours, pool = getattr(tnn, f"AvgUnpool{nd}d")(**kw), getattr(tnn, f"AvgPool{nd}d")(**kw)
    assert repr(ours) == repr(pool).replace("AvgPool", "AvgUnpool")
    for attr in ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"):
        assert getattr(ours, attr) == getattr(pool, attr), attr
    x = torch.randn((2, 3, 9, 8, 7)[: nd + 2], requires_grad=True)
    y = pool(x)
    g = torch.randn(y.shape)
    (ref,) = torch.autograd.grad(y, x, g)
    assert_same(ours(g, output_size=x.shape[2:]), ref, f"AvgUnpool{nd}d")
