"""torchpool.nn modules mirror torch.nn: constructor arguments, attributes, repr and
results."""
import pytest
import torch

import torchpool
import torchpool.nn as tnn
from conftest import assert_same, make_input

MODULES = [
    ("MaxPool1d", [dict(kernel_size=3), dict(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True),
                   dict(kernel_size=2, return_indices=True)], (2, 4, 17)),
    ("MaxPool2d", [dict(kernel_size=3), dict(kernel_size=(3, 2), stride=(2, 1), padding=1, dilation=(1, 2)),
                   dict(kernel_size=2, return_indices=True, ceil_mode=True)], (2, 4, 9, 11)),
    ("MaxPool3d", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, return_indices=True)],
     (1, 3, 5, 7, 6)),
    ("AvgPool1d", [dict(kernel_size=3), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                            count_include_pad=False)], (2, 4, 17)),
    ("AvgPool2d", [dict(kernel_size=3), dict(kernel_size=(3, 2), stride=(2, 1), padding=1, divisor_override=4),
                   dict(kernel_size=2, ceil_mode=True, count_include_pad=False)], (2, 4, 9, 11)),
    ("AvgPool3d", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, divisor_override=7)],
     (1, 3, 5, 7, 6)),
]


@pytest.mark.parametrize("name,kwargs_list,shape", MODULES)
def test_module_mirrors_torch(name, kwargs_list, shape):
    x = make_input(shape, torch.float32, specials=False)
    for kw in kwargs_list:
        ours, ref = getattr(tnn, name)(**kw), getattr(torch.nn, name)(**kw)
        assert repr(ours) == repr(ref)
        for attr in ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices",
                     "count_include_pad", "divisor_override"):
            assert getattr(ours, attr, None) == getattr(ref, attr, None), attr
        got, want = ours(x), ref(x)
        if isinstance(want, tuple):
            assert_same(got[0], want[0], f"{name} {kw} values")
            assert_same(got[1], want[1], f"{name} {kw} indices")
        else:
            torch.testing.assert_close(got, want)


def test_modules_in_a_network_train():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), tnn.MaxPool2d(2),
                              torch.nn.ReLU(), tnn.AvgPool2d(2), torch.nn.Flatten(),
                              torch.nn.Linear(8 * 4 * 4, 2))
    x = torch.randn(4, 3, 16, 16)
    loss = net(x).square().mean()
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
