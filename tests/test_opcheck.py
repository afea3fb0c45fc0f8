"""Every op passes torch.library.opcheck (schema, autograd registration, fake
tensors, AOT dispatch), and torchpool works under torch.compile(fullgraph=True)."""
import pytest
import torch

import torchpool

ops = torch.ops.torchpool


def samples():
    """(op, args) for every op of the max and avg families, 1d/2d/3d, both layouts."""
    out = []
    for nd in (1, 2, 3):
        shape = (2, 3) + (7, 6, 5)[:nd]
        k, s, p, d = [3] * nd, [2] * nd, [1] * nd, [1] * nd
        for cl in ([False, True] if nd > 1 else [False]):
            fmt = torch.channels_last if nd == 2 else torch.channels_last_3d
            for rg in (False, True):
                x = torch.randn(shape, dtype=torch.float64)
                if cl:
                    x = x.contiguous(memory_format=fmt)
                x.requires_grad_(rg)
                mp = getattr(ops, f"max_pool{nd}d")
                mpi = getattr(ops, f"max_pool{nd}d_with_indices")
                ap = getattr(ops, f"avg_pool{nd}d")
                out += [(mp.default, (x, k, s, p, d, False)),
                        (mpi.default, (x, k, s, p, d, True)),
                        (ap.default, (x, k, s, p, False, True, None)),
                        (ap.default, (x, k, s, p, True, False, 2))]
                y, idx = mpi(x.detach(), k, s, p, d, False)
                g = torch.randn_like(y).requires_grad_(rg)
                out += [(getattr(ops, f"max_pool{nd}d_backward").default,
                         (g, x.detach(), idx, k, s, p, d, False)),
                        (getattr(ops, f"avg_pool{nd}d_backward").default,
                         (g, x.detach(), k, s, p, False, True, None))]
    return out


def soft_stochastic_samples():
    """(op, args) for every op of the soft and stochastic families, 1d/2d/3d, both layouts."""
    out = []
    for nd in (1, 2, 3):
        shape = (2, 3) + (7, 6, 5)[:nd]
        k, s, p, d = [3] * nd, [2] * nd, [1] * nd, [1] * nd
        for cl in ([False, True] if nd > 1 else [False]):
            fmt = torch.channels_last if nd == 2 else torch.channels_last_3d
            for rg in (False, True):
                x = torch.randn(shape, dtype=torch.float64)
                if cl:
                    x = x.contiguous(memory_format=fmt)
                x.requires_grad_(rg)
                sp = getattr(ops, f"soft_pool{nd}d")
                st = getattr(ops, f"stochastic_pool{nd}d")
                ev = getattr(ops, f"stochastic_pool{nd}d_eval")
                out += [(sp.default, (x, k, s, p, d, False)),
                        (sp.default, (x, k, [1] * nd, [0] * nd, [2] * nd, True)),
                        (st.default, (x, k, s, p, d, False, 123, 456)),
                        (st.default, (x, k, s, p, d, True, 2**62, 0)),
                        (ev.default, (x, k, s, p, d, False))]
                # Their backward ops have no derivative of their own (second derivatives
                # of soft pooling and stochastic evaluation raise): opcheck at first order.
                g = torch.randn_like(sp(x.detach(), k, s, p, d, False))
                out += [(getattr(ops, f"soft_pool{nd}d_backward").default, (g, x.detach(), k, s, p, d, False)),
                        (getattr(ops, f"stochastic_pool{nd}d_eval_backward").default,
                         (g, x.detach(), k, s, p, d, False))]
    return out


@pytest.mark.parametrize("op,args", samples() + soft_stochastic_samples(),
                         ids=lambda v: str(v) if not isinstance(v, tuple) else "")
def test_opcheck(op, args):
    torch.library.opcheck(op, args)


def unpool_samples():
    """(op, args) for every op of the unpool family, 1d/2d/3d, both layouts."""
    out = []
    for nd in (1, 2, 3):
        shape = (2, 3) + (7, 5, 7)[:nd]  # sizes the default output size gives back
        k, s, p, d = [3] * nd, [2] * nd, [1] * nd, [1] * nd
        for cl in ([False, True] if nd > 1 else [False]):
            fmt = torch.channels_last if nd == 2 else torch.channels_last_3d
            for rg in (False, True):
                x = torch.randn(shape, dtype=torch.float64)
                if cl:
                    x = x.contiguous(memory_format=fmt)
                y, idx = getattr(ops, f"max_pool{nd}d_with_indices")(x, k, s, p, d, False)
                x.requires_grad_(rg)
                y.requires_grad_(rg)
                size = list(shape[2:])
                out += [(getattr(ops, f"max_unpool{nd}d").default, (y, idx, k, s, p, size)),
                        (getattr(ops, f"max_unpool{nd}d").default, (y, idx, k, s, p, None)),
                        (getattr(ops, f"max_unpool{nd}d_backward").default, (x, idx)),
                        (getattr(ops, f"max_unpool{nd}d_add").default, (y, idx, size)),
                        (getattr(ops, f"avg_unpool{nd}d").default, (y, k, s, p, False, True, None, size)),
                        (getattr(ops, f"avg_unpool{nd}d").default, (y, k, s, p, True, False, 2, None)),
                        (getattr(ops, f"avg_unpool{nd}d_backward").default, (x, k, s, p, False, True, None))]
    return out


@pytest.mark.parametrize("op,args", unpool_samples(), ids=lambda v: str(v) if not isinstance(v, tuple) else "")
def test_opcheck_unpool(op, args):
    torch.library.opcheck(op, args)


def _model(x):
    a = torchpool.max_pool2d(x, 3, 2, 1)
    b = torchpool.avg_pool2d(a, 2, 1, ceil_mode=True, count_include_pad=False)
    c, i = torchpool.max_pool2d(x, 2, return_indices=True)
    d = torchpool.soft_pool2d(x, 3, 2, 1)
    e = torchpool.stochastic_pool2d(x, 2, 1, training=False)
    f, j = torch.ops.torchpool.stochastic_pool2d(x, [3, 3], [2, 2], [1, 1], [1, 1], False, 5, 6)
    return b.square().sum() + c.sum() + i.float().mean() + d.square().sum() + e.sum() + f.sum() + j.float().mean()


@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_compile_fullgraph(backend):
    torch._dynamo.reset()
    x = torch.randn(2, 4, 11, 13, requires_grad=True)
    eager = _model(x)
    (gx_eager,) = torch.autograd.grad(eager, x)
    compiled = torch.compile(_model, fullgraph=True, backend=backend)
    got = compiled(x)
    (gx,) = torch.autograd.grad(got, x)
    torch.testing.assert_close(got, eager)
    torch.testing.assert_close(gx, gx_eager)


def _unpool_model(x):
    y, i = torchpool.max_pool2d(x, 2, return_indices=True)
    u = torchpool.max_unpool2d(y.square(), i, 2, output_size=x.shape)
    a = torchpool.avg_unpool2d(torchpool.avg_pool2d(u, 3, 2, 1), 3, 2, 1, output_size=x.shape[-2:])
    return (a * x).sum()


@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_compile_fullgraph_unpool(backend):
    torch._dynamo.reset()
    x = torch.randn(2, 4, 11, 13, requires_grad=True)
    eager = _unpool_model(x)
    (gx_eager,) = torch.autograd.grad(eager, x)
    compiled = torch.compile(_unpool_model, fullgraph=True, backend=backend)
    got = compiled(x)
    (gx,) = torch.autograd.grad(got, x)
    torch.testing.assert_close(got, eager)
    torch.testing.assert_close(gx, gx_eager)


def bad_calls():
    """(op name, args, argument named in the error) for calls every dispatch key must
    reject with the same message: the Meta kernels (torch.compile, opcheck) as well."""
    out = []
    for nd in (1, 2, 3):
        x = torch.randn((2, 3) + (7, 6, 5)[:nd])
        k, s, p, d = [3] * nd, [2] * nd, [1] * nd, [1] * nd
        y, idx = getattr(ops, f"max_pool{nd}d_with_indices")(x, k, s, p, d, False)
        g_short = y.narrow(-1, 0, y.shape[-1] - 1).contiguous()
        g_half = y.to(torch.float16)
        for g, what in ((g_short, "grad_output"), (g_half, "grad_output")):
            out += [(f"max_pool{nd}d_backward", (g, x, idx, k, s, p, d, False), what),
                    (f"avg_pool{nd}d_backward", (g, x, k, s, p, False, True, None), what),
                    (f"soft_pool{nd}d_backward", (g, x, k, s, p, d, False), what),
                    (f"stochastic_pool{nd}d_eval_backward", (g, x, k, s, p, d, False), what)]
        out += [(f"max_pool{nd}d_backward", (y, x, idx.int(), k, s, p, d, False), "indices"),
                (f"max_pool{nd}d_backward", (y, x, idx[..., :-1], k, s, p, d, False), "indices"),
                (f"avg_pool{nd}d", (x, k, s, p, False, True, 0), "divisor_override"),
                (f"avg_pool{nd}d_backward", (y, x, k, s, p, False, True, 0), "divisor_override"),
                (f"avg_unpool{nd}d", (y, k, s, p, False, True, 0, None), "divisor_override"),
                (f"avg_unpool{nd}d_backward", (x, k, s, p, False, True, 0), "divisor_override")]
    return out


@pytest.mark.parametrize("name,args,what", bad_calls(), ids=lambda v: v if isinstance(v, str) else "")
def test_meta_rejects_what_cpu_rejects(name, args, what):
    op = getattr(ops, name)
    messages = []
    for device in ("cpu", "meta"):
        call = [a.to(device) if isinstance(a, torch.Tensor) else a for a in args]
        with pytest.raises(RuntimeError, match=f"{name}: {what}") as e:
            op(*call)
        messages.append(str(e.value).splitlines()[0])
    assert messages[0] == messages[1]
