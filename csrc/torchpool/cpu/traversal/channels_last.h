#pragma once
// The window traversal of channels-last (N, D, H, W, C) tensors, vectorized along C:
// the lanes of a pack are consecutive channels of one output pixel, so every tap is
// one contiguous load. Channels past the last full pack take the one-lane path.
// Reducers plug in exactly as in contiguous.h.

#include <cstring>

#include "torchpool/cpu/traversal/contiguous.h"

namespace torchpool {
namespace cpu {
namespace TORCHPOOL_CPU_CAPABILITY {

template <class P, class S>
struct PixelWindow {
  using F = typename P::F;
  using I = typename P::I;
  const S* base;  // input of this batch element at the pack's first channel
  int64_t hin, win, channels;
  Taps td, th, tw;
  int64_t valid, padded;
  int64_t lin, lin_step;

  // Calls f(sp) for the flat spatial index of every element, in scan order.
  template <class Fn>
  TP_INLINE void visit_positions(Fn&& f) const {
    for (int64_t i = 0; i < td.count; ++i)
      for (int64_t k = 0; k < th.count; ++k) {
        const int64_t rowoff = ((td.first + i * td.step) * hin + th.first + k * th.step) * win;
        for (int64_t j = 0; j < tw.count; ++j) f(rowoff + tw.first + j * tw.step);
      }
  }
  template <class Fn>
  TP_INLINE void visit(Fn&& f) const {
    visit_positions([&](int64_t sp) { f(P::load(base + sp * channels), P::iset1(sp)); });
  }
  TP_INLINE I first_index() const { return P::iset1((td.first * hin + th.first) * win + tw.first); }

  // Adds f(x, index) to acc[sp * astride] for every element sp of the window.
  template <bool NeedX, class T, class Fn>
  TP_INLINE void scatter(T* acc, int64_t astride, Fn&& f) const {
    visit_positions([&](int64_t sp) {
      F x{};
      if constexpr (NeedX) x = P::load(base + sp * channels);
      P::acc_add(acc + sp * astride, f(x, P::iset1(sp)));
    });
  }
};

template <class P, class S>
TP_INLINE PixelWindow<P, S> pixel_window(const Geometry& g, int64_t o) {
  const Dim &D = g.dim[0], &H = g.dim[1], &W = g.dim[2];
  const int64_t ow = o % W.out, oh = (o / W.out) % H.out, od = o / (W.out * H.out);
  PixelWindow<P, S> w;
  w.hin = H.in;
  w.win = W.in;
  w.channels = g.channels;
  w.td = D.taps(od);
  w.th = H.taps(oh);
  w.tw = W.taps(ow);
  w.valid = w.td.count * w.th.count * w.tw.count;
  w.padded = D.padded_count(od) * H.padded_count(oh) * W.padded_count(ow);
  w.lin_step = g.out_plane();
  return w;
}

template <template <class> class R, class S>
void forward_channels_last(const KernelArgs& a, int64_t begin, int64_t end) {
  using PW = typename PacksFor<S>::Wide;
  using P1 = typename PacksFor<S>::One;
  const Geometry& g = a.g;
  const R<PW> rw(a);
  const R<P1> r1(a);
  const S* in = static_cast<const S*>(a.input);
  S* out = static_cast<S*>(a.output);
  const int64_t C = g.channels, in_plane = g.in_plane(), out_plane = g.out_plane();
  for (int64_t pos = begin; pos < end; ++pos) {
    const int64_t n = pos / out_plane, o = pos - n * out_plane;
    auto w = pixel_window<PW, S>(g, o);
    auto w1 = pixel_window<P1, S>(g, o);
    const S* ib = in + n * in_plane * C;
    int64_t c = 0;
    for (; c + PW::N <= C; c += PW::N) {
      w.base = ib + c;
      w.lin = (n * C + c) * out_plane + o;
      rw.forward(w, out + pos * C + c, a.indices ? a.indices + pos * C + c : nullptr);
    }
    for (; c < C; ++c) {
      w1.base = ib + c;
      w1.lin = (n * C + c) * out_plane + o;
      r1.forward(w1, out + pos * C + c, a.indices ? a.indices + pos * C + c : nullptr);
    }
  }
}

// Backward by scattering each output pixel's contributions over its window. A work
// item is a block of channels of one batch element: items never share an element,
// and each element's sum is formed in output scan order whatever the thread count.
template <template <class> class R, class S>
void backward_channels_last(const KernelArgs& a, int64_t begin, int64_t end) {
  using PW = typename PacksFor<S>::Wide;
  using P1 = typename PacksFor<S>::One;
  using T = typename PacksFor<S>::T;
  constexpr bool direct = sizeof(S) == sizeof(T);
  constexpr bool need_x = R<P1>::needs_input;
  const Geometry& g = a.g;
  const R<PW> rw(a);
  const R<P1> r1(a);
  const S* in = static_cast<const S*>(a.input);
  const S* gout = static_cast<const S*>(a.grad_output);
  S* gin = static_cast<S*>(a.grad_input);
  const int64_t C = g.channels, in_plane = g.in_plane(), out_plane = g.out_plane();
  const int64_t blocks = (C + a.cblock - 1) / a.cblock;
  for (int64_t item = begin; item < end; ++item) {
    const int64_t n = item / blocks, c0 = (item % blocks) * a.cblock;
    const int64_t cw = (c0 + a.cblock < C ? c0 + a.cblock : C) - c0;
    // acc[sp * astride + c - c0] accumulates channel c of input pixel sp.
    T* acc = direct ? reinterpret_cast<T*>(gin) + n * in_plane * C + c0 : static_cast<T*>(a.scratch);
    const int64_t astride = direct ? C : cw;
    for (int64_t sp = 0; sp < in_plane; ++sp)
      std::memset(static_cast<void*>(acc + sp * astride), 0, sizeof(T) * cw);
    const S* ib = in ? in + n * in_plane * C : nullptr;
    for (int64_t o = 0; o < out_plane; ++o) {
      auto w = pixel_window<PW, S>(g, o);
      auto w1 = pixel_window<P1, S>(g, o);
      const S* go = gout + (n * out_plane + o) * C;
      int64_t c = c0;
      for (; c + PW::N <= c0 + cw; c += PW::N) {
        w.base = ib ? ib + c : nullptr;
        w.lin = (n * C + c) * out_plane + o;
        const auto st = rw.prep(w, PW::load(go + c));
        w.template scatter<need_x>(acc + (c - c0), astride,
                                   [&](auto x, auto i) { return rw.contrib(st, x, i); });
      }
      for (; c < c0 + cw; ++c) {
        w1.base = ib ? ib + c : nullptr;
        w1.lin = (n * C + c) * out_plane + o;
        const auto st = r1.prep(w1, P1::load(go + c));
        w1.template scatter<need_x>(acc + (c - c0), astride,
                                    [&](auto x, auto i) { return r1.contrib(st, x, i); });
      }
    }
    if (!direct)
      for (int64_t sp = 0; sp < in_plane; ++sp)
        narrow_all(gin + (n * in_plane + sp) * C + c0, acc + sp * cw, cw);
  }
}

}  // namespace TORCHPOOL_CPU_CAPABILITY
}  // namespace cpu
}  // namespace torchpool
