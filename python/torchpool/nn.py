"""Pooling modules mirroring torch.nn: the same constructor arguments, attributes and repr."""
import torch
from torch.nn.modules.utils import _pair, _single, _triple

from . import functional as F

__all__ = [
    "MaxPool1d", "MaxPool2d", "MaxPool3d",
    "AvgPool1d", "AvgPool2d", "AvgPool3d",
    "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d",
    "AvgUnpool1d", "AvgUnpool2d", "AvgUnpool3d",
]


class _MaxPoolNd(torch.nn.Module):
    __constants__ = ["kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"]

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None) else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self):
        return ("kernel_size={kernel_size}, stride={stride}, padding={padding}"
                ", dilation={dilation}, ceil_mode={ceil_mode}".format(**self.__dict__))

    def forward(self, input):
        return self._pool(input, self.kernel_size, self.stride, self.padding, self.dilation,
                          ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class MaxPool1d(_MaxPoolNd):
    """torch.nn.MaxPool1d, computed by torchpool."""
    _pool = staticmethod(F.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """torch.nn.MaxPool2d, computed by torchpool."""
    _pool = staticmethod(F.max_pool2d)


class MaxPool3d(_MaxPoolNd):
    """torch.nn.MaxPool3d, computed by torchpool."""
    _pool = staticmethod(F.max_pool3d)


class _AvgPoolNd(torch.nn.Module):
    __constants__ = ["kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"]

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None) else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, input):
        return self._pool(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, self.divisor_override)


class AvgPool1d(_AvgPoolNd):
    """torch.nn.AvgPool1d, computed by torchpool (which also takes divisor_override)."""
    _pool = staticmethod(F.avg_pool1d)

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        # As torch.nn.AvgPool1d: the sizes are kept as 1-tuples.
        super().__init__(_single(kernel_size), _single(stride if stride is not None else kernel_size),
                         _single(padding), ceil_mode, count_include_pad, divisor_override)


class AvgPool2d(_AvgPoolNd):
    """torch.nn.AvgPool2d, computed by torchpool."""
    _pool = staticmethod(F.avg_pool2d)


class AvgPool3d(_AvgPoolNd):
    """torch.nn.AvgPool3d, computed by torchpool."""
    _pool = staticmethod(F.avg_pool3d)


# Soft and stochastic pooling: constructor arguments and repr as MaxPoolNd's.

__all__ += [
    "SoftPool1d", "SoftPool2d", "SoftPool3d",
    "StochasticPool1d", "StochasticPool2d", "StochasticPool3d",
]


class _SoftPoolNd(torch.nn.Module):
    __constants__ = ["kernel_size", "stride", "padding", "dilation", "ceil_mode"]

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None) else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.ceil_mode = ceil_mode

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
                f", dilation={self.dilation}, ceil_mode={self.ceil_mode}")

    def forward(self, input):
        return self._pool(input, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode)


class SoftPool1d(_SoftPoolNd):
    """SoftPool over (N, C, L): see torchpool.soft_pool1d."""
    _pool = staticmethod(F.soft_pool1d)


class SoftPool2d(_SoftPoolNd):
    """SoftPool over (N, C, H, W): see torchpool.soft_pool2d."""
    _pool = staticmethod(F.soft_pool2d)


class SoftPool3d(_SoftPoolNd):
    """SoftPool over (N, C, D, H, W): see torchpool.soft_pool3d."""
    _pool = staticmethod(F.soft_pool3d)


class _StochasticPoolNd(torch.nn.Module):
    """Samples in training mode, weights (sum w x / sum w) in eval mode."""
    __constants__ = ["kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"]

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False, generator=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None) else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode
        self.generator = generator

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
                f", dilation={self.dilation}, ceil_mode={self.ceil_mode}")

    def forward(self, input):
        return self._pool(input, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode, training=self.training, generator=self.generator,
                          return_indices=self.return_indices)


class StochasticPool1d(_StochasticPoolNd):
    """Stochastic pooling over (N, C, L): see torchpool.stochastic_pool1d."""
    _pool = staticmethod(F.stochastic_pool1d)


class StochasticPool2d(_StochasticPoolNd):
    """Stochastic pooling over (N, C, H, W): see torchpool.stochastic_pool2d."""
    _pool = staticmethod(F.stochastic_pool2d)


class StochasticPool3d(_StochasticPoolNd):
    """Stochastic pooling over (N, C, D, H, W): see torchpool.stochastic_pool3d."""
    _pool = staticmethod(F.stochastic_pool3d)

class _MaxUnpoolNd(torch.nn.Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = self._tuple(kernel_size)
        self.stride = self._tuple(stride if stride is not None else kernel_size)
        self.padding = self._tuple(padding)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, input, indices, output_size=None):
        return self._unpool(input, indices, self.kernel_size, self.stride, self.padding, output_size)


class MaxUnpool1d(_MaxUnpoolNd):
    """torch.nn.MaxUnpool1d, computed by torchpool (repeated indices: the latest wins)."""
    _unpool = staticmethod(F.max_unpool1d)
    _tuple = staticmethod(_single)


class MaxUnpool2d(_MaxUnpoolNd):
    """torch.nn.MaxUnpool2d, computed by torchpool (repeated indices: the latest wins)."""
    _unpool = staticmethod(F.max_unpool2d)
    _tuple = staticmethod(_pair)


class MaxUnpool3d(_MaxUnpoolNd):
    """torch.nn.MaxUnpool3d, computed by torchpool (repeated indices: the latest wins)."""
    _unpool = staticmethod(F.max_unpool3d)
    _tuple = staticmethod(_triple)


class _AvgUnpoolNd(_AvgPoolNd):
    def forward(self, input, output_size=None):
        return self._pool(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, self.divisor_override, output_size)


class AvgUnpool1d(_AvgUnpoolNd):
    """The adjoint of AvgPool1d (same constructor); forward(input, output_size=None)."""
    _pool = staticmethod(F.avg_unpool1d)

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        # As AvgPool1d: the sizes are kept as 1-tuples.
        super().__init__(_single(kernel_size), _single(stride if stride is not None else kernel_size),
                         _single(padding), ceil_mode, count_include_pad, divisor_override)


class AvgUnpool2d(_AvgUnpoolNd):
    """The adjoint of AvgPool2d (same constructor); forward(input, output_size=None)."""
    _pool = staticmethod(F.avg_unpool2d)


class AvgUnpool3d(_AvgUnpoolNd):
    """The adjoint of AvgPool3d (same constructor); forward(input, output_size=None)."""
    _pool = staticmethod(F.avg_unpool3d)
