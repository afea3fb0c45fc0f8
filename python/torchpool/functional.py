"""The pooling functions, each a drop-in for its torch.nn.functional twin."""
import operator

import torch

__all__ = [
    "max_pool1d", "max_pool2d", "max_pool3d",
    "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "max_unpool1d", "max_unpool2d", "max_unpool3d",
    "avg_unpool1d", "avg_unpool2d", "avg_unpool3d",
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


def _output_size(output_size):
    return None if output_size is None else _ints(output_size, "output_size")


def _max_unpool(op, input, indices, kernel_size, stride, padding, output_size):
    return op(input, indices, _ints(kernel_size, "kernel_size"), _stride(stride),
              _ints(padding, "padding"), _output_size(output_size))


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool1d over (N, C, L) or (C, L): zeros, then each value
    at its index; see torch.nn.functional.max_unpool1d. Where indices repeat in a plane,
    the value latest in scan order wins."""
    return _max_unpool(_ops.max_unpool1d, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool2d over (N, C, H, W) or (C, H, W); see
    torch.nn.functional.max_unpool2d. Where indices repeat in a plane, the value latest
    in scan order wins."""
    return _max_unpool(_ops.max_unpool2d, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool3d over (N, C, D, H, W) or (C, D, H, W); see
    torch.nn.functional.max_unpool3d. Where indices repeat in a plane, the value latest
    in scan order wins."""
    return _max_unpool(_ops.max_unpool3d, input, indices, kernel_size, stride, padding, output_size)


def _avg_unpool(op, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                divisor_override, output_size):
    if divisor_override is not None:
        divisor_override = operator.index(divisor_override)
    return op(input, _ints(kernel_size, "kernel_size"), _stride(stride), _ints(padding, "padding"),
              bool(ceil_mode), bool(count_include_pad), divisor_override, _output_size(output_size))


def avg_unpool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None, output_size=None):
    """The adjoint of avg_pool1d (its gradient) over (N, C, L) or (C, L): each value spread
    over its window, divided by the window's divisor. Output size (L-1)*stride -
    2*padding + kernel_size, or output_size (which must average-pool back to L)."""
    return _avg_unpool(_ops.avg_unpool1d, input, kernel_size, stride, padding, ceil_mode,
                       count_include_pad, divisor_override, output_size)


def avg_unpool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None, output_size=None):
    """The adjoint of avg_pool2d (its gradient) over (N, C, H, W) or (C, H, W); sizes as
    avg_unpool1d's, per dim."""
    return _avg_unpool(_ops.avg_unpool2d, input, kernel_size, stride, padding, ceil_mode,
                       count_include_pad, divisor_override, output_size)


def avg_unpool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None, output_size=None):
    """The adjoint of avg_pool3d (its gradient) over (N, C, D, H, W) or (C, D, H, W); sizes
    as avg_unpool1d's, per dim."""
    return _avg_unpool(_ops.avg_unpool3d, input, kernel_size, stride, padding, ceil_mode,
                       count_include_pad, divisor_override, output_size)
