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


# Soft and stochastic pooling (design §2): the two methods torch.nn lacks.

__all__ += [
    "soft_pool1d", "soft_pool2d", "soft_pool3d",
    "stochastic_pool1d", "stochastic_pool2d", "stochastic_pool3d",
]


def _pool_args(kernel_size, stride, padding, dilation, ceil_mode):
    return (_ints(kernel_size, "kernel_size"), _stride(stride), _ints(padding, "padding"),
            _ints(dilation, "dilation"), bool(ceil_mode))


def soft_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """SoftPool over (N, C, L) or (C, L): each window's softmax-weighted mean
    sum_i w_i x_i, w_i = exp(x_i) / sum_j exp(x_j) over its elements inside the input
    (padding is excluded). Stable for any input; exact gradient w_i (1 + x_i - y)."""
    return _ops.soft_pool1d(input, *_pool_args(kernel_size, stride, padding, dilation, ceil_mode))


def soft_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """SoftPool over (N, C, H, W) or (C, H, W); see soft_pool1d."""
    return _ops.soft_pool2d(input, *_pool_args(kernel_size, stride, padding, dilation, ceil_mode))


def soft_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """SoftPool over (N, C, D, H, W) or (C, D, H, W); see soft_pool1d."""
    return _ops.soft_pool3d(input, *_pool_args(kernel_size, stride, padding, dilation, ceil_mode))


def _philox_key(generator):
    """The (seed, offset) of one sampling call, drawn with a CPU generator (torch's default
    one when None, whatever the input's device): torch.manual_seed reproduces it, and
    each call advances the generator, so consecutive calls draw fresh samples."""
    if generator is not None and generator.device.type != "cpu":
        raise ValueError("stochastic_pool: generator must be a CPU torch.Generator (the key is "
                         f"drawn on the CPU whatever the input's device), but got one on {generator.device}")
    seed, offset = torch.randint(0, 2**63 - 1, (2,), generator=generator, device="cpu").tolist()
    return seed, offset


def _stochastic_pool(nd, input, kernel_size, stride, padding, dilation, ceil_mode, training, generator,
                     return_indices):
    args = _pool_args(kernel_size, stride, padding, dilation, ceil_mode)
    if training:
        out, indices = getattr(_ops, f"stochastic_pool{nd}d")(input, *args, *_philox_key(generator))
        return (out, indices) if return_indices else out
    out = getattr(_ops, f"stochastic_pool{nd}d_eval")(input, *args)
    if not return_indices:
        return out
    # Evaluation picks nothing: the index given is the most probable pick's, the max.
    _, indices = getattr(_ops, f"max_pool{nd}d_with_indices")(input.detach(), *args)
    return out, indices


def stochastic_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                      training=True, generator=None, return_indices=False):
    """Stochastic pooling over (N, C, L) or (C, L), weights w_i = max(x_i, 0) over each
    window's elements inside the input. training=True: one element per window, picked
    with probability w_i / sum w (Philox, keyed from `generator`, a CPU generator,
    torch's default one when None); indices as max_pool's. training=False:
    sum w x / sum w (with return_indices, the index of the max). A window whose weights
    sum to 0 is max-pooled in both modes."""
    return _stochastic_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode, training,
                            generator, return_indices)


def stochastic_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                      training=True, generator=None, return_indices=False):
    """Stochastic pooling over (N, C, H, W) or (C, H, W); see stochastic_pool1d."""
    return _stochastic_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode, training,
                            generator, return_indices)


def stochastic_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                      training=True, generator=None, return_indices=False):
    """Stochastic pooling over (N, C, D, H, W) or (C, D, H, W); see stochastic_pool1d."""
    return _stochastic_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode, training,
                            generator, return_indices)

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
