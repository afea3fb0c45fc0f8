"""Random configurations, valid and invalid, drawn by hypothesis: every one torch
accepts matches torch; every one torch rejects, torchpool rejects too, with an error
that names the argument."""
import re

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import torchpool
from conftest import DTYPES, assert_close, assert_same, make_input

NAMES_ARGUMENT = re.compile(r"kernel_size|stride|padding|dilation|input|divisor_override")


def int_or_tuple(draw, lo, hi, nd, valid):
    if valid:
        return draw(st.one_of(st.integers(lo, hi), st.tuples(*[st.integers(lo, hi)] * nd)))
    return draw(st.one_of(st.integers(lo - 2, hi + 2),
                          st.lists(st.integers(lo - 2, hi + 2), min_size=0, max_size=4).map(tuple)))


@st.composite
def cases(draw):
    valid = draw(st.booleans())  # half the draws stay near valid arguments
    nd = draw(st.sampled_from([1, 2, 3]))
    kind = draw(st.sampled_from(["max", "avg"]))
    batched = draw(st.booleans())
    lo = 1 if valid else 0
    shape = ([draw(st.integers(0 if valid else 0, 3))] if batched else []) + \
            [draw(st.integers(lo, 5))] + [draw(st.integers(lo, 12)) for _ in range(nd)]
    kw = dict(kernel_size=int_or_tuple(draw, 1, 4, nd, valid),
              stride=draw(st.one_of(st.none(), st.just(int_or_tuple(draw, 1, 3, nd, valid)))),
              padding=int_or_tuple(draw, 0, 2, nd, valid),
              ceil_mode=draw(st.booleans()))
    if kind == "max":
        kw["dilation"] = int_or_tuple(draw, 1, 3, nd, valid)
    else:
        kw["count_include_pad"] = draw(st.booleans())
        if nd > 1:  # torch's avg_pool1d has no divisor_override
            kw["divisor_override"] = draw(st.one_of(st.none(), st.integers(-2 if not valid else 1, 5)))
    dtype = draw(st.sampled_from(DTYPES))
    layout = draw(st.sampled_from(["contiguous", "channels_last", "strided"]))
    return nd, kind, shape, kw, dtype, layout


def window_of_padding_only(shape, nd, kw):
    """Whether some window holds no input element (torchpool's extra rejection)."""
    def per_dim(v, i):
        return v if isinstance(v, int) else v[i if len(v) > 1 else 0]
    spatial = shape[-nd:]
    for i, L in enumerate(spatial):
        k, p, d = per_dim(kw["kernel_size"], i), per_dim(kw["padding"], i), per_dim(kw["dilation"], i)
        s = k if kw["stride"] in (None, ()) else per_dim(kw["stride"], i)
        out = (L + 2 * p - d * (k - 1) - 1 + (s - 1 if kw["ceil_mode"] else 0)) // s + 1
        if kw["ceil_mode"] and (out - 1) * s >= L + p:
            out -= 1
        for o in range(out):
            if not any(0 <= o * s - p + j * d < L for j in range(k)):
                return True
    return False


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_random_configurations(case):
    nd, kind, shape, kw, dtype, layout = case
    x = make_input(shape, dtype, layout)
    ours = getattr(torchpool, f"{kind}_pool{nd}d")
    ref_fn = getattr(F, f"{kind}_pool{nd}d")
    extra = dict(return_indices=True) if kind == "max" else {}
    try:
        # torch on the contiguous input, reduced dtypes through float32 (torch lacks
        # some of them on the CPU)
        wide = torch.float64 if dtype == torch.float64 else torch.float32
        ref = ref_fn(x.to(wide).contiguous(), **kw, **extra)
    except (RuntimeError, ValueError, TypeError):
        with pytest.raises((RuntimeError, ValueError, TypeError)) as err:
            ours(x, **kw, **extra)
        assert NAMES_ARGUMENT.search(str(err.value)), f"error names no argument: {err.value}"
        return
    try:
        out = ours(x, **kw, **extra)
    except RuntimeError as e:
        assert "holds only padding" in str(e) and kind == "max", str(e)
        assert window_of_padding_only(shape, nd, kw)
        return
    if kind == "max":
        assert_same(out[0], ref[0].to(dtype), f"{case} values")
        assert_same(out[1], ref[1], f"{case} indices")
    else:
        assert_close(out, ref.to(dtype), dtype, f"{case}")
