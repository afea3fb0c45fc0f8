"""torchpool on CUDA against torchpool on the CPU: the same values, indices and
gradients bit for bit (the CUDA kernels sum in the CPU's order and convert as the CPU
does; only NaN payloads of arithmetic may differ), deterministic backward, index
checks on the device, the current stream and device, 64-bit indexing past 2^31
elements, opcheck and gradcheck. Every test skips, saying so, without a GPU or when
torchpool was built without CUDA."""
import itertools

import pytest
import torch
from hypothesis import HealthCheck, given, settings

import torchpool
from conftest import DTYPES, LAYOUTS, NO_CUDA, assert_bits, cuda_ready, make_input, on_device
from test_hypothesis import cases as random_cases
from test_opcheck import soft_stochastic_samples, unpool_samples

pytestmark = pytest.mark.skipif(not cuda_ready(), reason=NO_CUDA)

ops = torch.ops.torchpool

SHAPES = {
    1: [(2, 6, 37), (3, 24, 9)],
    2: [(2, 3, 13, 29), (2, 24, 7, 6), (1, 19, 6, 5)],
    3: [(2, 3, 5, 9, 17), (1, 16, 4, 5, 3)],
}
MAX_CONFIGS = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=1, padding=1, ceil_mode=True),
    dict(kernel_size=2, stride=1, dilation=2),
    dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True),
]
AVG_CONFIGS = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=3, stride=1, padding=1, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, divisor_override=5),
    dict(kernel_size=1, stride=2),
]


def cpu_and_cuda(fn, x, g=None):
    """fn on x on the CPU and on CUDA (the same values and strides); with g, also the
    gradient of <fn(x)[0], g> on each."""
    res = []
    for dev in ("cpu", "cuda"):
        xd = on_device(x, dev).detach().requires_grad_(g is not None)
        out = fn(xd)
        outs = out if isinstance(out, tuple) else (out,)
        grad = None
        if g is not None:
            outs[0].backward(g.to(dev))
            grad = xd.grad
        res.append((tuple(o.detach() for o in outs), grad))
    return res


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_max_pool_agrees_with_cpu(nd, dtype, layout):
    gen = torch.Generator().manual_seed(nd * 100 + DTYPES.index(dtype) * 10 + LAYOUTS.index(layout))
    fn = getattr(torchpool, f"max_pool{nd}d")
    for shape, kw in itertools.product(SHAPES[nd], MAX_CONFIGS):
        x = make_input(shape, dtype, layout, generator=gen)
        what = f"max_pool{nd}d{shape} {dtype} {layout} {kw}"
        y = fn(x, **kw)
        g = torch.randn(y.shape, generator=gen).to(dtype)
        (cpu_out, cpu_grad), (cuda_out, cuda_grad) = cpu_and_cuda(
            lambda t: fn(t, return_indices=True, **kw), x, g)
        # Max moves values: the same bits, NaN payloads included.
        assert_bits(cuda_out[0], cpu_out[0], what + " values", nan_any=False)
        assert_bits(cuda_out[1], cpu_out[1], what + " indices")
        assert_bits(fn(on_device(x, "cuda"), **kw), cpu_out[0], what + " values (no indices)", nan_any=False)
        assert_bits(cuda_grad, cpu_grad, what + " grad")
        assert cuda_out[0].stride() == cpu_out[0].stride() and cuda_grad.stride() == cpu_grad.stride(), what


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_avg_pool_agrees_with_cpu(nd, dtype, layout):
    gen = torch.Generator().manual_seed(nd * 100 + DTYPES.index(dtype) * 10 + LAYOUTS.index(layout))
    fn = getattr(torchpool, f"avg_pool{nd}d")
    for shape, kw in itertools.product(SHAPES[nd], AVG_CONFIGS):
        x = make_input(shape, dtype, layout, generator=gen)
        what = f"avg_pool{nd}d{shape} {dtype} {layout} {kw}"
        y = fn(x, **kw)
        g = torch.randn(y.shape, generator=gen).to(dtype)
        (cpu_out, cpu_grad), (cuda_out, cuda_grad) = cpu_and_cuda(lambda t: fn(t, **kw), x, g)
        # The same sums in the same order (reduced dtypes in float32): the same bits.
        assert_bits(cuda_out[0], cpu_out[0], what)
        assert_bits(cuda_grad, cpu_grad, what + " grad")
        assert cuda_out[0].stride() == cpu_out[0].stride() and cuda_grad.stride() == cpu_grad.stride(), what


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=random_cases())
def test_random_configurations_agree_with_cpu(case):
    """Random arguments, valid and invalid (test_hypothesis.py's): CUDA raises what the
    CPU raises, or gives its values, indices and gradients, bit for bit."""
    nd, kind, shape, kw, dtype, layout = case
    x = make_input(shape, dtype, layout)
    fn = getattr(torchpool, f"{kind}_pool{nd}d")
    extra = dict(return_indices=True) if kind == "max" else {}
    try:
        y = fn(x, **kw, **extra)
    except (RuntimeError, ValueError, TypeError) as e:
        with pytest.raises(type(e)) as err:
            fn(on_device(x, "cuda"), **kw, **extra)
        assert str(err.value).splitlines()[0] == str(e).splitlines()[0]
        return
    g = torch.randn((y[0] if kind == "max" else y).shape).to(dtype)
    (co, cg), (uo, ug) = cpu_and_cuda(lambda t: fn(t, **kw, **extra), x, g)
    for a, b in zip(uo, co):
        assert_bits(a, b, f"{case}", nan_any=kind == "avg")
    assert_bits(ug, cg, f"{case} grad")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_channels_last_vector_paths(dtype):
    """Channels-last threads take 16-byte vectors where C and the pointers allow: C a
    multiple of the vector or not, strided views, and data that starts off alignment."""
    for c in (8, 16, 24, 7):
        x = make_input((2, c, 9, 11), dtype, "channels_last")
        for view in (x, x[:, :, :, 1:]):
            for kind, kw in (("max", dict(kernel_size=3, stride=2, padding=1)),
                             ("avg", dict(kernel_size=3, stride=1, padding=1))):
                fn = getattr(torchpool, f"{kind}_pool2d")
                what = f"{kind} C={c} {dtype} {tuple(view.stride())} offset {view.storage_offset()}"
                y = fn(view, **kw)
                g = torch.randn(y.shape).to(dtype)
                (co, cg), (uo, ug) = cpu_and_cuda(lambda t: fn(t, **kw), view, g)
                assert_bits(uo[0], co[0], what, nan_any=(kind == "avg"))
                assert_bits(ug, cg, what + " grad")
    # A misaligned channels-last tensor: its data starts 2 bytes into an allocation.
    base = torch.randn(1 + 2 * 8 * 5 * 5, device="cuda").to(dtype)
    y = base[1:].view(2, 5, 5, 8).permute(0, 3, 1, 2)
    assert y.is_contiguous(memory_format=torch.channels_last)
    assert_bits(torchpool.max_pool2d(y, 2), torchpool.max_pool2d(y.cpu(), 2), "misaligned", nan_any=False)
    assert_bits(torchpool.avg_pool2d(y, 3, 1, 1), torchpool.avg_pool2d(y.cpu(), 3, 1, 1), "misaligned avg")


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_backward_is_deterministic(nd):
    """Overlapping windows (torch's 3-d backward adds with atomics): the same bits
    on every run, for max and avg, in both layouts."""
    shape = (4, 32) + (9, 33, 40)[3 - nd:]
    for layout in ("contiguous", "channels_last"):
        x = make_input(shape, torch.float32, layout, device="cuda", specials=False)
        for kind, kw in (("max", dict(kernel_size=3, stride=1, padding=1)),
                         ("avg", dict(kernel_size=3, stride=1, padding=1))):
            grads = []
            for _ in range(3):
                xg = x.detach().requires_grad_()
                y = getattr(torchpool, f"{kind}_pool{nd}d")(xg, **kw)
                g = torch.randn(y.shape, device="cuda", generator=torch.Generator("cuda").manual_seed(3))
                y.backward(g)
                grads.append(xg.grad)
            for gr in grads[1:]:
                assert_bits(gr, grads[0], f"{kind} {nd}d {layout} run to run", nan_any=False)


def test_backward_checks_indices_on_the_device():
    x = torch.randn(1, 2, 4, 4, device="cuda")
    g = torch.ones(1, 2, 2, 2, device="cuda")
    args = ([2, 2], [2, 2], [0, 0], [1, 1], False)
    for bad, message in ((16, "index 16 is out of range for a plane of 16 elements"),
                         (-3, "index -3 is out of range"),
                         (2**40, f"index {2**40} is out of range")):
        idx = torch.tensor([0, 2, 8, 10], device="cuda").repeat(2).reshape(1, 2, 2, 2)
        idx[0, 1, 1, 0] = bad  # every other index valid: the error names this one
        with pytest.raises(RuntimeError, match=message):
            ops.max_pool2d_backward(g, x, idx, *args)
    # Output (0, 1)'s window holds elements 2, 3, 6, 7: 9 lies in other rows; 4 in its
    # rows but not its columns (the CPU routes that one; a GPU thread gathers only from
    # the windows over its element, so CUDA checks the whole window).
    for bad in (9, 4):
        inside = torch.tensor([0, 2, 8, 10], device="cuda").repeat(2).reshape(1, 2, 2, 2)
        inside[0, 1, 0, 1] = bad
        with pytest.raises(RuntimeError, match=f"index {bad} lies outside the window"):
            ops.max_pool2d_backward(g, x, inside, *args)
    # The device is still usable, and valid indices route.
    y, idx = torchpool.max_pool2d(x, 2, return_indices=True)
    gi = ops.max_pool2d_backward(g, x, idx, *args)
    assert float(gi.sum()) == 8.0


def test_arguments_on_other_devices_are_rejected():
    x = torch.randn(1, 2, 4, 4, device="cuda")
    y, idx = torchpool.max_pool2d(x, 2, return_indices=True)
    args = ([2, 2], [2, 2], [0, 0], [1, 1], False)
    with pytest.raises(RuntimeError, match="grad_output must be on the input's device"):
        ops.max_pool2d_backward(torch.ones_like(y).cpu(), x, idx, *args)
    with pytest.raises(RuntimeError, match="indices must be on the input's device"):
        ops.max_pool2d_backward(torch.ones_like(y), x, idx.cpu(), *args)
    with pytest.raises(RuntimeError, match="grad_output must be on the input's device"):
        ops.avg_pool2d_backward(torch.ones_like(y), x.cpu(), [2, 2], [2, 2], [0, 0], False, True, None)


def test_errors_match_the_cpu():
    for kw in (dict(kernel_size=3, padding=2), dict(kernel_size=9), dict(kernel_size=0)):
        msgs = []
        for dev in ("cpu", "cuda"):
            with pytest.raises(RuntimeError) as err:
                torchpool.max_pool2d(torch.randn(1, 2, 8, 8, device=dev), **kw)
            msgs.append(str(err.value).splitlines()[0])
        assert msgs[0] == msgs[1]


def test_current_stream_and_device():
    x = make_input((4, 16, 30, 30), torch.float32, "contiguous", specials=False)
    want = torchpool.max_pool2d(x, 3, 2, 1)
    s = torch.cuda.Stream()
    xd = x.cuda()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        got = torchpool.max_pool2d(xd, 3, 2, 1)
        avg = torchpool.avg_pool2d(xd, 3, 2, 1)
    s.synchronize()
    assert_bits(got, want, "on a side stream", nan_any=False)
    assert_bits(avg, torchpool.avg_pool2d(x, 3, 2, 1), "avg on a side stream")
    if torch.cuda.device_count() > 1:
        x1 = x.to("cuda:1")
        out = torchpool.max_pool2d(x1, 3, 2, 1)  # while cuda:0 is current
        assert out.device == x1.device
        assert_bits(out, want, "on cuda:1", nan_any=False)


def test_empty_batch_and_unbatched():
    e = torch.empty(0, 4, 9, 10, device="cuda")
    out, idx = torchpool.max_pool2d(e, 2, return_indices=True)
    assert out.shape == (0, 4, 4, 5) and idx.shape == (0, 4, 4, 5)
    assert torchpool.avg_pool2d(e, 2).shape == (0, 4, 4, 5)
    eg = e.clone().requires_grad_()
    torchpool.max_pool2d(eg, 2).sum().backward()
    assert eg.grad.shape == e.shape
    x = make_input((4, 9, 10), torch.float32)
    assert_bits(torchpool.max_pool2d(x.cuda(), 3, 2, 1), torchpool.max_pool2d(x, 3, 2, 1), "unbatched",
                nan_any=False)


def test_opcheck_on_cuda():
    for nd in (1, 2, 3):
        shape = (2, 3) + (7, 6, 5)[:nd]
        k, s, p, d = [3] * nd, [2] * nd, [1] * nd, [1] * nd
        for cl in ([False, True] if nd > 1 else [False]):
            x = torch.randn(shape, dtype=torch.float64, device="cuda")
            if cl:
                x = x.contiguous(memory_format=torch.channels_last if nd == 2 else torch.channels_last_3d)
            y, idx = getattr(ops, f"max_pool{nd}d_with_indices")(x, k, s, p, d, False)
            g = torch.randn_like(y)
            for rg in (False, True):
                xr = x.detach().requires_grad_(rg)
                cases = [
                    (getattr(ops, f"max_pool{nd}d").default, (xr, k, s, p, d, False)),
                    (getattr(ops, f"max_pool{nd}d_with_indices").default, (xr, k, s, p, d, True)),
                    (getattr(ops, f"avg_pool{nd}d").default, (xr, k, s, p, True, False, 2)),
                    (getattr(ops, f"max_pool{nd}d_backward").default,
                     (g.detach().requires_grad_(rg), x, idx, k, s, p, d, False)),
                    (getattr(ops, f"avg_pool{nd}d_backward").default,
                     (g.detach().requires_grad_(rg), x, k, s, p, False, True, None)),
                ]
                for op, args in cases:
                    torch.library.opcheck(op, args)


@pytest.mark.parametrize("cl", [False, True])
def test_gradcheck_on_cuda(cl):
    x = (torch.randperm(2 * 3 * 7 * 8, dtype=torch.float64) / 7).reshape(2, 3, 7, 8).cuda()
    if cl:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    for fn in (lambda t: torchpool.max_pool2d(t, 3, 1, 1), lambda t: torchpool.avg_pool2d(t, 3, 2, 1),
               lambda t: torchpool.max_pool2d(t, (2, 3), (2, 1), dilation=(1, 2), ceil_mode=True)):
        assert torch.autograd.gradcheck(fn, (x,))
        assert torch.autograd.gradgradcheck(fn, (x,))


def free_gib():
    return torch.cuda.mem_get_info()[0] / 2**30 if cuda_ready() else 0.0


@pytest.mark.skipif(not cuda_ready() or free_gib() < 24, reason="needs a GPU with 24 GiB free")
def test_tensor_over_2_pow_31_elements():
    """64-bit index math: offsets past 2^31 in the forward and both backwards."""
    n, c, h, w = 2**15 + 1, 1, 256, 256  # 2^31 + 2^16 elements, planes of 2^16
    x = torch.zeros(n, c, h, w, dtype=torch.bfloat16, device="cuda")
    tail = torch.randn(8, c, h, w).to(torch.bfloat16)
    x[-8:] = tail.cuda()
    out, idx = torchpool.max_pool2d(x, 2, return_indices=True)
    ref, ref_idx = torchpool.max_pool2d(tail, 2, return_indices=True)
    assert_bits(out[-8:], ref, "values past 2^31", nan_any=False)
    assert_bits(idx[-8:], ref_idx, "indices past 2^31")
    assert bool((out[:-8] == 0).all())
    g = torch.ones_like(out)
    gi = ops.max_pool2d_backward(g, x, idx, [2, 2], [2, 2], [0, 0], [1, 1], False)
    assert_bits(gi[-8:], ops.max_pool2d_backward(g[-8:].cpu(), tail, ref_idx, [2, 2], [2, 2], [0, 0],
                                                  [1, 1], False), "max grad past 2^31")
    del gi, idx, g
    avg = torchpool.avg_pool2d(x, 2)
    assert_bits(avg[-8:], torchpool.avg_pool2d(tail, 2), "avg past 2^31")
    ga = ops.avg_pool2d_backward(avg, x, [2, 2], [2, 2], [0, 0], False, True, None)
    assert_bits(ga[-8:], ops.avg_pool2d_backward(avg[-8:].cpu(), tail, [2, 2], [2, 2], [0, 0], False,
                                                  True, None), "avg grad past 2^31")


@pytest.mark.skipif(not cuda_ready() or free_gib() < 16, reason="needs a GPU with 16 GiB free")
def test_plane_over_2_pow_31_elements():
    length = 2**31 + 64 * 3
    x = torch.zeros(1, 1, length, dtype=torch.bfloat16, device="cuda")
    x[0, 0, -100] = 7.0  # in the second-to-last window of 64
    x[0, 0, 5] = 3.0
    out, idx = torchpool.max_pool1d(x, 64, return_indices=True)
    assert out.shape == (1, 1, length // 64)
    assert out[0, 0, -2].item() == 7.0 and idx[0, 0, -2].item() == length - 100
    assert out[0, 0, 0].item() == 3.0 and idx[0, 0, 0].item() == 5
    assert idx[0, 0, -1].item() == (length // 64 - 1) * 64  # all zero: the first element
    gi = ops.max_pool1d_backward(torch.ones_like(out), x, idx, [64], [64], [0], [1], False)
    assert gi[0, 0, length - 100].item() == 1.0 and gi[0, 0, 5].item() == 1.0
    assert float(gi.sum(dtype=torch.float64)) == out.shape[-1]


# --- soft, stochastic and unpooling on CUDA against the CPU ---

SOFT_CONFIGS = MAX_CONFIGS


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_soft_pool_agrees_with_cpu(nd, dtype, layout):
    """The CPU's operations in the CPU's order, its exp included (nvcc builds with
    -fmad=false): the same bits, NaN payloads aside."""
    gen = torch.Generator().manual_seed(nd * 100 + DTYPES.index(dtype) * 10 + LAYOUTS.index(layout) + 1)
    fn = getattr(torchpool, f"soft_pool{nd}d")
    for shape, kw in itertools.product(SHAPES[nd], SOFT_CONFIGS):
        x = make_input(shape, dtype, layout, generator=gen)
        what = f"soft_pool{nd}d{shape} {dtype} {layout} {kw}"
        y = fn(x, **kw)
        g = torch.randn(y.shape, generator=gen).to(dtype)
        (cpu_out, cpu_grad), (cuda_out, cuda_grad) = cpu_and_cuda(lambda t: fn(t, **kw), x, g)
        assert_bits(cuda_out[0], cpu_out[0], what)
        assert_bits(cuda_grad, cpu_grad, what + " grad")
        assert cuda_out[0].stride() == cpu_out[0].stride() and cuda_grad.stride() == cpu_grad.stride(), what


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_stochastic_pool_agrees_with_cpu(nd, dtype, layout):
    """Same seed, same picks: the values, indices and gradients of the training op, and
    the evaluation op's, bit for bit."""
    gen = torch.Generator().manual_seed(nd * 100 + DTYPES.index(dtype) * 10 + LAYOUTS.index(layout) + 2)
    fn = getattr(torchpool, f"stochastic_pool{nd}d")
    for shape, kw in itertools.product(SHAPES[nd], MAX_CONFIGS):
        x = make_input(shape, dtype, layout, generator=gen)
        what = f"stochastic_pool{nd}d{shape} {dtype} {layout} {kw}"
        seed = int(torch.randint(0, 2**62, (1,), generator=gen))
        y = fn(x, **kw, training=False)
        g = torch.randn(y.shape, generator=gen).to(dtype)
        (co, cg), (uo, ug) = cpu_and_cuda(
            lambda t: fn(t, **kw, generator=torch.Generator().manual_seed(seed), return_indices=True), x, g)
        # A pick moves a value: the same bits, NaN payloads included.
        assert_bits(uo[0], co[0], what + " picks", nan_any=False)
        assert_bits(uo[1], co[1], what + " indices")
        assert_bits(ug, cg, what + " grad")
        (co, cg), (uo, ug) = cpu_and_cuda(lambda t: fn(t, **kw, training=False), x, g)
        assert_bits(uo[0], co[0], what + " eval")
        assert_bits(ug, cg, what + " eval grad")
        assert uo[0].stride() == co[0].stride() and ug.stride() == cg.stride(), what


def test_stochastic_pool_op_with_an_explicit_key_agrees_with_cpu():
    """The op itself, with (seed, offset) near the ends of their range."""
    x = make_input((3, 24, 17, 19), torch.float32, "channels_last", specials=False).abs()
    for seed, offset in ((0, 0), (2**63 - 2, 2**63 - 2), (12345, 2**40 + 3)):
        args = ([3, 3], [2, 2], [1, 1], [1, 1], True, seed, offset)
        cpu = ops.stochastic_pool2d(x, *args)
        gpu = ops.stochastic_pool2d(on_device(x, "cuda"), *args)
        assert_bits(gpu[0], cpu[0], f"key {seed} {offset}", nan_any=False)
        assert_bits(gpu[1], cpu[1], f"key {seed} {offset} indices")


UNPOOL_CONFIGS = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),  # overlapping windows: repeated indices
    dict(kernel_size=3, stride=1, padding=1),
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_unpool_agrees_with_cpu(nd, dtype, layout):
    """max_unpool (the latest of repeated indices wins), its gather and its adding
    adjoint, and avg_unpool and its gradient: bit for bit."""
    gen = torch.Generator().manual_seed(nd * 100 + DTYPES.index(dtype) * 10 + LAYOUTS.index(layout) + 3)
    pool, unpool = getattr(torchpool, f"max_pool{nd}d"), getattr(torchpool, f"max_unpool{nd}d")
    avg_unpool = getattr(torchpool, f"avg_unpool{nd}d")
    for shape, kw in itertools.product(SHAPES[nd], UNPOOL_CONFIGS):
        x = make_input(shape, dtype, layout, generator=gen)
        what = f"unpool{nd}d{shape} {dtype} {layout} {kw}"
        y, idx = pool(x, **kw, return_indices=True)
        size = x.shape[2:]
        anywhere = torch.randint(0, x[0, 0].numel(), idx.shape, generator=gen)
        anywhere[..., ::3] = 0  # many repeats
        for ix in (idx, torch.empty_like(idx).copy_(anywhere)):  # in idx's layout
            u = unpool(y, ix, **kw, output_size=size)
            g = torch.randn(u.shape, generator=gen).to(dtype)
            (co, cg), (uo, ug) = cpu_and_cuda(
                lambda t: unpool(t, on_device(ix, t.device.type), **kw, output_size=size), y, g)
            assert_bits(uo[0], co[0], what + " max_unpool", nan_any=False)
            assert_bits(ug, cg, what + " max_unpool grad (the gather)", nan_any=False)
            flat = list(size)
            add_cpu = getattr(ops, f"max_unpool{nd}d_add")(y, ix, flat)
            add_gpu = getattr(ops, f"max_unpool{nd}d_add")(on_device(y, "cuda"), on_device(ix, "cuda"), flat)
            assert_bits(add_gpu, add_cpu, what + " max_unpool_add")
            assert add_gpu.stride() == add_cpu.stride(), what
        avg_kw = dict(kw, ceil_mode=True, count_include_pad=False)
        a = avg_unpool(y, **avg_kw)
        g = torch.randn(a.shape, generator=gen).to(dtype)
        (co, cg), (uo, ug) = cpu_and_cuda(lambda t: avg_unpool(t, **avg_kw), y, g)
        assert_bits(uo[0], co[0], what + " avg_unpool")
        assert_bits(ug, cg, what + " avg_unpool grad")
        assert uo[0].stride() == co[0].stride() and ug.stride() == cg.stride(), what


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_new_families_are_deterministic(nd):
    """Soft and stochastic-evaluation gradients (gathers), and max_unpool with repeated
    indices (integer claims) and its sum: the same bits on every run."""
    shape = (4, 32) + (9, 33, 40)[3 - nd:]
    for layout in ("contiguous", "channels_last"):
        x = make_input(shape, torch.float32, layout, device="cuda", specials=False)
        runs = []
        for _ in range(3):
            res = []
            for kind in ("soft", "stochastic"):
                xg = x.detach().requires_grad_()
                fn = getattr(torchpool, f"{kind}_pool{nd}d")
                y = fn(xg, 3, 1, 1) if kind == "soft" else fn(xg, 3, 1, 1, training=False)
                y.backward(torch.randn(y.shape, device="cuda", generator=torch.Generator("cuda").manual_seed(3)))
                res.append(xg.grad)
            y, idx = getattr(torchpool, f"max_pool{nd}d")(x, 3, 1, 1, return_indices=True)
            res.append(getattr(torchpool, f"max_unpool{nd}d")(y, idx, 3, 1, 1, output_size=x.shape[2:]))
            res.append(getattr(ops, f"max_unpool{nd}d_add")(y, idx, list(x.shape[2:])))
            runs.append(res)
        for run in runs[1:]:
            for got, want, name in zip(run, runs[0], ("soft grad", "stochastic eval grad", "unpool", "add")):
                assert_bits(got, want, f"{name} {nd}d {layout} run to run", nan_any=False)


def test_unpool_checks_indices_on_the_device():
    x = torch.randn(1, 2, 2, 2, device="cuda")
    g = torch.ones(1, 2, 4, 4, device="cuda")
    for bad in (16, -3, 2**40):
        idx = torch.tensor([0, 2, 8, 10], device="cuda").repeat(2).reshape(1, 2, 2, 2)
        idx[0, 1, 1, 0] = bad
        message = f"index {bad} is out of range for a plane of 16 elements"
        with pytest.raises(RuntimeError, match=message):
            torchpool.max_unpool2d(x, idx, 2)
        with pytest.raises(RuntimeError, match=message):
            ops.max_unpool2d_backward(g, idx)
        with pytest.raises(RuntimeError, match=message):
            ops.max_unpool2d_add(x, idx, [4, 4])
    # The device is still usable; repeated indices: the latest wins.
    idx = torch.tensor([5, 5, 5, 0, 15, 15, 1, 15], device="cuda").reshape(1, 2, 2, 2)
    out = torchpool.max_unpool2d(x, idx, 2)
    assert out[0, 0].flatten()[5].item() == x[0, 0, 1, 0].item()
    assert out[0, 1].flatten()[15].item() == x[0, 1, 1, 1].item()
    assert_bits(out, torchpool.max_unpool2d(x.cpu(), idx.cpu(), 2), "after errors", nan_any=False)


def test_new_families_reject_arguments_on_other_devices():
    x = torch.randn(1, 2, 4, 4, device="cuda")
    y = torchpool.soft_pool2d(x, 2)
    args = ([2, 2], [2, 2], [0, 0], [1, 1], False)
    with pytest.raises(RuntimeError, match="grad_output must be on the input's device"):
        ops.soft_pool2d_backward(y.cpu(), x, *args)
    with pytest.raises(RuntimeError, match="grad_output must be on the input's device"):
        ops.stochastic_pool2d_eval_backward(y.cpu(), x, *args)
    _, idx = torchpool.max_pool2d(x, 2, return_indices=True)
    with pytest.raises(RuntimeError, match="indices must be on the input's device"):
        torchpool.max_unpool2d(y, idx.cpu(), 2)
    with pytest.raises(RuntimeError, match="indices must be on"):
        ops.max_unpool2d_backward(x, idx.cpu())


def test_opcheck_new_families_on_cuda():
    """test_opcheck.py's samples of the soft, stochastic and unpool families, on CUDA."""
    def to_cuda(a):
        if not isinstance(a, torch.Tensor):
            return a
        return a.detach().to("cuda").requires_grad_(a.requires_grad)
    for op, args in soft_stochastic_samples() + unpool_samples():
        torch.library.opcheck(op, tuple(to_cuda(a) for a in args))
