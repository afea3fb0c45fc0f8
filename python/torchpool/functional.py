"""The pooling functions, each a drop-in for its torch.nn.functional twin."""
import operator

import torch

__all__ = [
    "max_pool1d", "max_pool2d", "max_pool3d",
    "avg_pool1d", "avg_pool2d", "avg_pool3d",
]

_ops = torch.ops.torchpool


def _ints(value, name):
    """An int or a sequence of ints as a list (its length is checked by the op)."""
    try:
        if isinstance(value, (list, tuple, torch.Size)):
            return [operator.index(v) for v in value]
        return [operator.index(value)]
    except TypeError:
        raise TypeError(f"{name} must be an int or a tuple of ints, but got {value!r}") from None


def _stride(stride):
    return [] if stride is None else _ints(stride, "stride")


def _max_pool(op, op_indices, input, kernel_size, stride, padding, dilation, ceil_mode,
              return_indices):
    args = (_ints(kernel_size, "kernel_size"), _stride(stride), _ints(padding, "padding"),
            _ints(dilation, "dilation"), bool(ceil_mode))
    if return_indices:
        return op_indices(input, *args)
    return op(input, *args)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max pooling over (N, C, L) or (C, L); see torch.nn.functional.max_pool1d."""
    return _max_pool(_ops.max_pool1d, _ops.max_pool1d_with_indices, input, kernel_size, stride,
                     padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max pooling over (N, C, H, W) or (C, H, W); see torch.nn.functional.max_pool2d."""
    return _max_pool(_ops.max_pool2d, _ops.max_pool2d_with_indices, input, kernel_size, stride,
                     padding, dilation, ceil_mode, return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max pooling over (N, C, D, H, W) or (C, D, H, W); see torch.nn.functional.max_pool3d."""
    return _max_pool(_ops.max_pool3d, _ops.max_pool3d_with_indices, input, kernel_size, stride,
                     padding, dilation, ceil_mode, return_indices)


def _avg_pool(op, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    if divisor_override is not None:
        divisor_override = operator.index(divisor_override)
    return op(input, _ints(kernel_size, "kernel_size"), _stride(stride), _ints(padding, "padding"),
              bool(ceil_mode), bool(count_include_pad), divisor_override)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Average pooling over (N, C, L) or (C, L); see torch.nn.functional.avg_pool1d
    (which has no divisor_override; here it is accepted as in 2d and 3d)."""
    return _avg_pool(_ops.avg_pool1d, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Average pooling over (N, C, H, W) or (C, H, W); see torch.nn.functional.avg_pool2d."""
    return _avg_pool(_ops.avg_pool2d, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Average pooling over (N, C, D, H, W) or (C, D, H, W); see torch.nn.functional.avg_pool3d."""
    return _avg_pool(_ops.avg_pool3d, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)
