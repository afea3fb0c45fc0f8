"""Sizes and offsets are 64-bit: a tensor of more than 2^31 elements, and a single
plane of more than 2^31 elements (int64 indices past 2^31). About 5 GB of memory."""
import pytest
import torch
import torch.nn.functional as F

import torchpool
from conftest import assert_same


def available_gib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    return 0.0


pytestmark = pytest.mark.skipif(available_gib() < 12, reason="needs about 12 GiB of free memory")


def test_tensor_over_2_pow_31_elements():
    n, c, h, w = 2**15 + 1, 1, 256, 256  # 2^31 + 2^16 elements, planes of 2^16
    x = torch.zeros(n, c, h, w, dtype=torch.bfloat16)
    tail = torch.randn(8, c, h, w).to(torch.bfloat16)
    x[-8:] = tail  # the planes whose offsets pass 2^31
    out, idx = torchpool.max_pool2d(x, 2, return_indices=True)
    ref = F.max_pool2d(tail.float(), 2, return_indices=True)
    assert_same(out[-8:], ref[0].to(torch.bfloat16), "values past 2^31")
    assert_same(idx[-8:], ref[1], "indices past 2^31")
    assert bool((out[:-8] == 0).all())
    avg = torchpool.avg_pool2d(x, 2)
    torch.testing.assert_close(avg[-8:].float(), F.avg_pool2d(tail.float(), 2), rtol=1e-2, atol=1e-2)


def test_plane_over_2_pow_31_elements():
    length = 2**31 + 64 * 3
    x = torch.zeros(1, 1, length, dtype=torch.bfloat16)
    x[0, 0, -100] = 7.0  # in the second-to-last window of 64
    x[0, 0, 5] = 3.0
    out, idx = torchpool.max_pool1d(x, 64, return_indices=True)
    assert out.shape == (1, 1, length // 64)
    assert out[0, 0, -2].item() == 7.0 and idx[0, 0, -2].item() == length - 100
    assert out[0, 0, 0].item() == 3.0 and idx[0, 0, 0].item() == 5
    assert idx[0, 0, -1].item() == (length // 64 - 1) * 64  # all zero: the first element
