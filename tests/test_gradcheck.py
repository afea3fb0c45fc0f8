"""gradcheck and gradgradcheck in float64 on every op, both layouts."""
import pytest
import torch

import torchpool


def distinct(shape, cl=False):
    """Distinct values: max pooling is differentiable away from ties."""
    x = torch.randperm(int(torch.tensor(shape).prod()), dtype=torch.float64).reshape(shape) / 7
    if cl:
        x = x.contiguous(memory_format=torch.channels_last if len(shape) == 4 else torch.channels_last_3d)
    return x.requires_grad_()


CASES = [
    (1, (2, 3, 9), dict(kernel_size=3, stride=2, padding=1)),
    (1, (2, 3, 8), dict(kernel_size=2, stride=1, dilation=2) ),
    (2, (2, 3, 7, 8), dict(kernel_size=3, stride=1, padding=1)),
    (2, (1, 2, 9, 7), dict(kernel_size=(2, 3), stride=(2, 1), ceil_mode=True)),
    (3, (1, 2, 5, 6, 5), dict(kernel_size=2, stride=1, padding=1)),
]


@pytest.mark.parametrize("cl", [False, True])
@pytest.mark.parametrize("nd,shape,kw", CASES)
def test_max_pool(nd, shape, kw, cl):
    if cl and nd == 1:
        pytest.skip("1-d has no channels-last format")
    fn = getattr(torchpool, f"max_pool{nd}d")
    x = distinct(shape, cl)
    assert torch.autograd.gradcheck(lambda t: fn(t, **kw), (x,))
    assert torch.autograd.gradgradcheck(lambda t: fn(t, **kw), (x,))


@pytest.mark.parametrize("cl", [False, True])
@pytest.mark.parametrize("nd,shape,kw", CASES)
def test_avg_pool(nd, shape, kw, cl):
    if cl and nd == 1:
        pytest.skip("1-d has no channels-last format")
    kw = {k: v for k, v in kw.items() if k != "dilation"}
    fn = getattr(torchpool, f"avg_pool{nd}d")
    x = distinct(shape, cl)
    for extra in (dict(), dict(count_include_pad=False), dict(divisor_override=5)):
        assert torch.autograd.gradcheck(lambda t: fn(t, **kw, **extra), (x,))
        assert torch.autograd.gradgradcheck(lambda t: fn(t, **kw, **extra), (x,))
