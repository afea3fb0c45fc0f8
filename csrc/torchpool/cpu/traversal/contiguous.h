#pragma once
// The window traversal of contiguous (N, C, D, H, W) tensors, vectorized along the
// output row: the lanes of a pack are consecutive outputs ow of one output row, so
// each tap of the window is one load of input elements `s` apart (stride 1: a plain
// load; 2: one deinterleaving permute; else a gather). Outputs whose windows hang
// over the row's ends take the one-lane path with their own tap ranges.
//
// A reducer R<P> plugs in with (see ops/cpu/isa/ for the reducers):
//   R(const KernelArgs&)
//   forward(window, S* out, int64_t* indices)            one pack of outputs
//   needs_input, prep(window, F grad) -> state,
//   contrib(state, F x, I index) -> F                     what one element receives
// A window offers visit(f(x, index)) in torch's scan order, first_index(), the
// valid and padded element counts, and the outputs' linear indices.

#include <cstring>

#include "torchpool/cpu/vec/vec.h"

namespace torchpool {
namespace cpu {
namespace TORCHPOOL_CPU_CAPABILITY {

// Taps along the width are `s` apart between lanes: SK is 1, 2 or 0 (any).
template <class P, class S, int SK>
struct RowWindow {
  using F = typename P::F;
  using I = typename P::I;
  const S* plane;  // the input plane
  int64_t hin, win;
  Taps td, th, tw;  // tw: lane 0's width taps
  int64_t s;        // input columns between lanes
  I lane_s;         // lane * s
  int64_t valid, padded;
  int64_t lin, lin_step;  // NCDHW linear index of lane 0's output, and between lanes

  TP_INLINE F load(const S* p) const {
    if constexpr (P::N == 1 || SK == 1) {
      return P::load(p);
    } else if constexpr (SK == 2) {
      return P::load2(p);
    } else {
      return P::loadn(p, s);
    }
  }
  template <class T>
  TP_INLINE void accumulate(T* p, typename P::F v) const {
    if constexpr (P::N == 1 || SK == 1) {
      P::acc_add(p, v);
    } else if constexpr (SK == 2) {
      P::acc_add2(p, v);
    } else {
      P::acc_addn(p, s, v);
    }
  }

  template <class Fn>
  TP_INLINE void visit(Fn&& f) const {
    for (int64_t i = 0; i < td.count; ++i) {
      const int64_t t = td.first + i * td.step;
      for (int64_t k = 0; k < th.count; ++k) {
        const int64_t rowoff = (t * hin + th.first + k * th.step) * win;
        const S* row = plane + rowoff;
        for (int64_t j = 0; j < tw.count; ++j) {
          const int64_t w = tw.first + j * tw.step;
          f(load(row + w), P::iadd(lane_s, rowoff + w));
        }
      }
    }
  }
  TP_INLINE I first_index() const {
    return P::iadd(lane_s, (td.first * hin + th.first) * win + tw.first);
  }

  // Adds f(x, index) to the elements of the window inside acc, which holds rows
  // [r0, r1) of the plane (row = t*hin + h). Width taps run last to first: then each
  // element receives its contributions in output scan order, as in torch's scatter.
  template <bool NeedX, class T, class Fn>
  TP_INLINE void scatter(T* acc, int64_t r0, int64_t r1, Fn&& f) const {
    for (int64_t i = 0; i < td.count; ++i) {
      const int64_t t = td.first + i * td.step;
      for (int64_t k = 0; k < th.count; ++k) {
        const int64_t r = t * hin + th.first + k * th.step;
        if (r < r0 || r >= r1) continue;
        T* arow = acc + (r - r0) * win;
        for (int64_t j = tw.count - 1; j >= 0; --j) {
          const int64_t w = tw.first + j * tw.step;
          F x{};
          if constexpr (NeedX) x = load(plane + r * win + w);
          accumulate(arow + w, f(x, P::iadd(lane_s, r * win + w)));
        }
      }
    }
  }
};

// The output columns [lo, hi) whose taps all lie inside the row, including the
// extra elements a strided load reads (load2 and acc_add2 touch 2N elements).
template <int SK>
TP_INLINE void interior(const Dim& W, int64_t& lo, int64_t& hi) {
  const int64_t reach = (W.k - 1) * W.d + (SK == 2 ? 1 : 0);
  lo = (W.p + W.s - 1) / W.s;
  hi = div_floor(W.in - 1 - reach + W.p, W.s) + 1;
  if (hi > W.out) hi = W.out;
  if (hi < lo) hi = lo;
}

// Window rows of output row (od, oh), and the element counts they contribute.
struct RowTaps {
  Taps td, th;
  int64_t valid, padded;
  RowTaps(const Geometry& g, int64_t od, int64_t oh)
      : td(g.dim[0].taps(od)),
        th(g.dim[1].taps(oh)),
        valid(td.count * th.count),
        padded(g.dim[0].padded_count(od) * g.dim[1].padded_count(oh)) {}
};

template <class P, class S, int SK>
TP_INLINE RowWindow<P, S, SK> row_window(const Geometry& g, const S* plane, const RowTaps& rt,
                                         int64_t ow, bool whole, int64_t lin) {
  const Dim& W = g.dim[2];
  RowWindow<P, S, SK> w;
  w.plane = plane;
  w.hin = g.dim[1].in;
  w.win = W.in;
  w.td = rt.td;
  w.th = rt.th;
  // `whole`: a pack of outputs in the interior, all k taps valid.
  w.tw = whole ? Taps{W.start(ow), W.k, W.d} : W.taps(ow);
  w.s = W.s;
  w.lane_s = P::lanes(W.s);
  w.valid = rt.valid * w.tw.count;
  w.padded = rt.padded * W.padded_count(ow);
  w.lin = lin;
  w.lin_step = 1;
  return w;
}

template <template <class> class R, class S, int SK>
void forward_rows(const KernelArgs& a, int64_t begin, int64_t end) {
  using PW = typename PacksFor<S>::Wide;
  using P1 = typename PacksFor<S>::One;
  const Geometry& g = a.g;
  const Dim& W = g.dim[2];
  const R<PW> rw(a);
  const R<P1> r1(a);
  const S* in = static_cast<const S*>(a.input);
  S* out = static_cast<S*>(a.output);
  const int64_t in_plane = g.in_plane(), rows = g.dim[0].out * g.dim[1].out;
  int64_t lo, hi;
  interior<SK>(W, lo, hi);
  // int32 index lanes address planes below 2^31 elements; larger ones go one lane at a time.
  if (PW::N == 1 || (!PW::wide_index && in_plane > INT32_MAX)) lo = hi = 0;

  for (int64_t row = begin; row < end; ++row) {
    const int64_t plane = row / rows, r = row - plane * rows;
    const RowTaps rt(g, r / g.dim[1].out, r % g.dim[1].out);
    const S* ip = in + plane * in_plane;
    S* orow = out + row * W.out;
    int64_t* irow = a.indices ? a.indices + row * W.out : nullptr;
    auto one = [&](int64_t ow) {
      r1.forward(row_window<P1, S, SK>(g, ip, rt, ow, false, row * W.out + ow), orow + ow,
                 irow ? irow + ow : nullptr);
    };
    int64_t ow = 0;
    for (; ow < lo; ++ow) one(ow);
    for (; ow + PW::N <= hi; ow += PW::N)
      rw.forward(row_window<PW, S, SK>(g, ip, rt, ow, true, row * W.out + ow), orow + ow,
                 irow ? irow + ow : nullptr);
    for (; ow < W.out; ++ow) one(ow);
  }
}

template <template <class> class R, class S>
void forward_contiguous(const KernelArgs& a, int64_t begin, int64_t end) {
  switch (a.g.dim[2].s) {
    case 1:
      return forward_rows<R, S, 1>(a, begin, end);
    case 2:
      return forward_rows<R, S, 2>(a, begin, end);
    default:
      return forward_rows<R, S, 0>(a, begin, end);
  }
}

// Converts an accumulator of n elements to the storage type (reduced dtypes).
template <class S, class T>
TP_INLINE void narrow_all(S* dst, const T* src, int64_t n) {
  using PW = typename PacksFor<S>::Wide;
  int64_t i = 0;
  for (; i + PW::N <= n; i += PW::N) PW::store(dst + i, PW::load(src + i));
  for (; i < n; ++i) narrow(dst + i, src[i]);
}

// Backward by scattering each output's contributions over its window. A work item is
// a band of input rows of one plane, so items never write the same element and the
// sums are formed in one fixed order whatever the thread count.
template <template <class> class R, class S, int SK>
void backward_rows(const KernelArgs& a, int64_t begin, int64_t end) {
  using PW = typename PacksFor<S>::Wide;
  using P1 = typename PacksFor<S>::One;
  using T = typename PacksFor<S>::T;
  constexpr bool direct = sizeof(S) == sizeof(T);  // float and double accumulate in place
  const Geometry& g = a.g;
  const Dim &D = g.dim[0], &H = g.dim[1], &W = g.dim[2];
  const R<PW> rw(a);
  const R<P1> r1(a);
  constexpr bool need_x = R<P1>::needs_input;
  const S* in = static_cast<const S*>(a.input);
  const S* gout = static_cast<const S*>(a.grad_output);
  S* gin = static_cast<S*>(a.grad_input);
  const int64_t in_plane = g.in_plane(), out_plane = g.out_plane(), nrows = D.in * H.in;
  int64_t lo, hi;
  interior<SK>(W, lo, hi);
  if (PW::N == 1 || (!PW::wide_index && in_plane > INT32_MAX)) lo = hi = 0;

  T* scratch = static_cast<T*>(a.scratch);  // reduced dtypes: scratch_bytes() of float
  for (int64_t item = begin; item < end; ++item) {
    const int64_t plane = item / a.bands, band = item % a.bands;
    const int64_t r0 = band * nrows / a.bands, r1b = (band + 1) * nrows / a.bands;
    T* acc = direct ? reinterpret_cast<T*>(gin + plane * in_plane + r0 * W.in) : scratch;
    std::memset(static_cast<void*>(acc), 0, sizeof(T) * (r1b - r0) * W.in);
    const S* ip = in ? in + plane * in_plane : nullptr;
    for (int64_t od = 0; od < D.out; ++od) {
      for (int64_t oh = 0; oh < H.out; ++oh) {
        const RowTaps rt(g, od, oh);
        // Skip output rows whose window rows all lie outside the band.
        const int64_t first = rt.td.first * H.in + rt.th.first;
        const int64_t last = (rt.td.first + (rt.td.count - 1) * rt.td.step) * H.in + rt.th.first +
                             (rt.th.count - 1) * rt.th.step;
        if (last < r0 || first >= r1b) continue;
        const int64_t orow = plane * out_plane + (od * H.out + oh) * W.out;
        auto one = [&](int64_t ow) {
          const auto w = row_window<P1, S, SK>(g, ip, rt, ow, false, orow + ow);
          const auto st = r1.prep(w, P1::load(gout + orow + ow));
          w.template scatter<need_x>(acc, r0, r1b,
                                     [&](auto x, auto i) { return r1.contrib(st, x, i); });
        };
        int64_t ow = 0;
        for (; ow < lo; ++ow) one(ow);
        for (; ow + PW::N <= hi; ow += PW::N) {
          const auto w = row_window<PW, S, SK>(g, ip, rt, ow, true, orow + ow);
          const auto st = rw.prep(w, PW::load(gout + orow + ow));
          w.template scatter<need_x>(acc, r0, r1b,
                                     [&](auto x, auto i) { return rw.contrib(st, x, i); });
        }
        for (; ow < W.out; ++ow) one(ow);
      }
    }
    if (!direct) narrow_all(gin + plane * in_plane + r0 * W.in, acc, (r1b - r0) * W.in);
  }
}

template <template <class> class R, class S>
void backward_contiguous(const KernelArgs& a, int64_t begin, int64_t end) {
  switch (a.g.dim[2].s) {
    case 1:
      return backward_rows<R, S, 1>(a, begin, end);
    case 2:
      return backward_rows<R, S, 2>(a, begin, end);
    default:
      return backward_rows<R, S, 0>(a, begin, end);
  }
}

}  // namespace TORCHPOOL_CPU_CAPABILITY
}  // namespace cpu
}  // namespace torchpool
