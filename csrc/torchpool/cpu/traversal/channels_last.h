#pragma once
// The window traversal of channels-last (N, D, H, W, C) tensors, vectorized along C:
// the lanes of a pack are consecutive channels of one output pixel, so every tap is
// one contiguous load; an unrolled pack takes several channel packs at once.
// Channels past the last full pack take the one-lane path. Reducers plug in exactly
// as in contiguous.h.

#include <cstring>
#include <utility>
#include <vector>

#include "torchpool/cpu/traversal/contiguous.h"

namespace torchpool {
namespace cpu {
namespace TORCHPOOL_CPU_CAPABILITY {

// Paired (a lane-wise reducer's forward, where the level has load_pair for S): the
// parts of an unrolled pack go in pairs, each pair one load_pair of 2N channels, the
// even channels in the first part and the odd ones in the second; store() puts them back
// in order (store2). Otherwise part u holds channels [u N, (u + 1) N).
template <class P, class S, bool Paired = false>
struct PixelWindow : PackPlace<P> {
  using B = typename P::Base;
  using F = typename P::F;
  using I = typename P::I;
  static_assert(!Paired || P::U % 2 == 0, "parts in pairs");
  const S* base;  // input of this batch element at the pack's first channel
  int64_t hin, win, channels;
  Taps td, th, tw;
  int64_t valid, padded;
  int64_t lin, lin_step, lin_sub;

  TP_INLINE F load(const S* p) const {
    if constexpr (Paired) {
      F x;
      for (int u = 0; u < P::U; u += 2) B::load_pair(p + u * B::N, P::part(x, u), P::part(x, u + 1));
      return x;
    } else {
      return make_parts<P, F>([&](int u) { return B::load(p + u * B::N); });
    }
  }
  template <class T>
  TP_INLINE void store(T* p, const F& v) const {
    if constexpr (Paired) {
      for (int u = 0; u < P::U; u += 2) {
        if (this->stream) B::stream2(p + u * B::N, P::part(v, u), P::part(v, u + 1));
        else B::store2(p + u * B::N, P::part(v, u), P::part(v, u + 1));
      }
    } else {
      PackPlace<P>::store(p, v);
    }
  }
  // Calls f(sp) for the flat spatial index of every element, in scan order.
  template <class Fn>
  TP_INLINE void visit_positions(Fn&& f) const {
    for (WindowRows r(td, th, hin); r.more(); r.next())
      for (int64_t j = 0; j < tw.count; ++j) f(r.row * win + tw.first + j * tw.step);
  }
  // The same loops written out, not through visit_positions' lambda: across it, GCC
  // kept a bfloat16 reducer's accumulators in memory on AVX2 (1.1-1.25x the time).
  template <class Fn>
  TP_INLINE void visit(Fn&& f) const {
    for (WindowRows r(td, th, hin); r.more(); r.next())
      for (int64_t j = 0; j < tw.count; ++j) {
        const int64_t sp = r.row * win + tw.first + j * tw.step;
        f(load(base + sp * channels), P::iset1(sp));
      }
  }
  TP_INLINE I first_index() const { return P::iset1((td.first * hin + th.first) * win + tw.first); }

  // Adds f(x, index) to the elements of the window in rows [r0, r1) of the group
  // (row = t*hin + h): acc holds those rows, `channels` floats per position.
  template <bool NeedX, class T, class Fn>
  TP_INLINE void scatter(T* acc, int64_t r0, int64_t r1, Fn&& f) const {
    window_rows(td, th, hin, [&](int64_t r) {
      if (r < r0 || r >= r1) return;
      for (int64_t j = 0; j < tw.count; ++j) {
        const int64_t sp = r * win + tw.first + j * tw.step;
        F x{};
        if constexpr (NeedX) x = load(base + sp * channels);
        const F c = f(x, P::iset1(sp));
        T* q = acc + (sp - r0 * win) * channels;
        each_part<P>(c, [&](int u, const auto& v) { B::acc_add(q + u * B::N, v); });
      }
    });
  }
};

// Walks output pixels o = ((od * H.out) + oh) * W.out + ow in order without dividing.
struct PixelCursor {
  int64_t od, oh, ow;
  const Geometry& g;
  PixelCursor(const Geometry& geo, int64_t o) : g(geo) {
    ow = o % g.dim[2].out;
    oh = (o / g.dim[2].out) % g.dim[1].out;
    od = o / (g.dim[2].out * g.dim[1].out);
  }
  TP_INLINE void next() {
    if (++ow < g.dim[2].out) return;
    ow = 0;
    if (++oh < g.dim[1].out) return;
    oh = 0;
    if (++od == g.dim[0].out) od = 0;
  }
};

template <class P, class S, bool Paired = false>
TP_INLINE PixelWindow<P, S, Paired> pixel_window(const Geometry& g, const TapTables& tt,
                                                 const PixelCursor& c, const S* base, int64_t lin) {
  const auto &d = tt.dim[0][c.od], &h = tt.dim[1][c.oh], &w = tt.dim[2][c.ow];
  PixelWindow<P, S, Paired> pw;
  pw.base = base;
  pw.hin = g.dim[1].in;
  pw.win = g.dim[2].in;
  pw.channels = g.channels;
  pw.td = d.taps;
  pw.th = h.taps;
  pw.tw = w.taps;
  pw.valid = d.taps.count * h.taps.count * w.taps.count;
  pw.padded = d.padded * h.padded * w.padded;
  pw.in_sub = pw.out_sub = P::Base::N;  // parts are consecutive channel packs
  pw.space_parts();
  pw.lin = lin;
  pw.lin_step = g.out_plane();
  pw.lin_sub = P::Base::N * g.out_plane();
  return pw;
}

// Calls f(pack tag, reducer, c) for the channel packs [c, c + N) covering [c0, c1):
// unrolled packs, then single packs, then one lane at a time.
template <template <class> class R, class S, class RM, class RW, class R1, class Fn>
TP_INLINE void channel_packs(int64_t c0, int64_t c1, const RM& rm, const RW& rw, const R1& r1, Fn&& f) {
  using PM = MultiFor<R, S>;
  using PW = typename PacksFor<S>::Wide;
  using P1 = typename PacksFor<S>::One;
  int64_t c = c0;
  if constexpr (PW::N > 1) {
    for (; c + PM::N <= c1; c += PM::N) f(PM{}, rm, c);
    for (; c + PW::N <= c1; c += PW::N) f(PW{}, rw, c);
  }
  for (; c < c1; ++c) f(P1{}, r1, c);
}

template <template <class> class R, class S>
void forward_channels_last(const KernelArgs& a, int64_t begin, int64_t end) {
  const Geometry& g = a.g;
  const R<MultiFor<R, S>> rm(a);
  const R<typename PacksFor<S>::Wide> rw(a);
  const R<typename PacksFor<S>::One> r1(a);
  const S* in = static_cast<const S*>(a.input);
  S* out = static_cast<S*>(a.output);
  const int64_t C = g.channels, in_plane = g.in_plane(), out_plane = g.out_plane();
  const TapTables tt(g);
  // A pixel's window rows are as many streams, which the forward waited on: fetch, along
  // each window row, the pixels that the window about 2 KiB of row on adds (its last W.s
  // columns), where they fill a cache line and the row holds twice that distance. Full
  // size, 2 threads, AVX-512, 64 channels, against none: float32 stochastic evaluation
  // 0.80x the time, soft 0.85x, max and avg 2x2 and max 3x3 s2 0.90-0.93x, avg 3x3 s1
  // 1.02x; bfloat16 0.86-1.02x. Not for 3-d windows, where it measured slower (2x2x2:
  // 1.09x float32).
  const Dim &H = g.dim[1], &W = g.dim[2];
  const int64_t pixel_bytes = C * int64_t(sizeof(S)), fresh = std::min(W.s, (W.k - 1) * W.d + 1);
  int64_t ahead = fresh * pixel_bytes >= 64 ? (2048 + W.s * pixel_bytes - 1) / (W.s * pixel_bytes) : 0;
  if (g.dim[0].k > 1 || 2 * ahead > W.out) ahead = 0;
  // Output past the cache (a.stream) goes there by non-temporal stores where each pixel's
  // outputs are whole cache lines (else streamed and plain stores would share lines):
  // a plain store first reads the line it fills. Full size, 2 threads, Zen 4 AVX-512,
  // float32, 64 channels: avg 3x3 s1 p1 0.85-0.89x the time. Streamed regardless of
  // size, the 4:1 outputs (max and avg 2x2, max 3x3 s2 p1, 2x2x2 max) took 0.98-1.02x,
  // max 2x2 with its indices 0.89-1.01x. bfloat16 (paired packs' lines streamed whole):
  // avg 3x3 s1 p1 0.95-0.96x, max 2x2 with indices 0.92x.
  const bool stream = a.stream && whole_lines(out, pixel_bytes);
  PixelCursor cur(g, begin % out_plane);
  for (int64_t pos = begin; pos < end; ++pos, cur.next()) {
    const int64_t n = pos / out_plane, o = pos - n * out_plane;
    const S* ib = in + n * in_plane * C;
    const int64_t last = W.start(cur.ow + ahead) + (W.k - 1) * W.d;  // the window's last column
    if (ahead > 0 && cur.ow + ahead < W.out && last < W.in) {
      const int64_t first = std::max<int64_t>(0, last - fresh + 1);
      for (WindowRows r(tt.dim[0][cur.od].taps, tt.dim[1][cur.oh].taps, H.in); r.more(); r.next()) {
        const char* p = reinterpret_cast<const char*>(ib + (r.row * W.in + first) * C);
        for (int64_t b = 0; b < (last - first + 1) * pixel_bytes; b += 64) __builtin_prefetch(p + b);
      }
    }
    channel_packs<R, S>(0, C, rm, rw, r1, [&](auto tag, const auto& red, int64_t c) {
      using P = decltype(tag);
      // Paired where it can be: bfloat16 in cache, 64 channels, 1 thread: avg 3x3 s1 p1
      // 0.81x the time, soft 2x2 0.80x, max 3x3 s2 p1 0.87x, avg 2x2 0.90x.
      constexpr bool paired =
          LaneFree<R<typename PacksFor<S>::Wide>>::value && P::U % 2 == 0 && PairLoad<typename P::Base, S>::value;
      auto w = pixel_window<P, S, paired>(g, tt, cur, ib + c, (n * C + c) * out_plane + o);
      w.stream = stream;
      red.forward(w, out + pos * C + c, a.indices ? a.indices + pos * C + c : nullptr);
    });
  }
}

// Backward as a gather where the reducer allows it (see contiguous.h): each input
// pixel sums, a channel pack at a time and in output scan order, the states of the
// output pixels whose windows hold it, and is stored once. The states of an output
// row (W.out pixels, all channels) are made once into a row buffer. False: scatter.
template <template <class> class R, class S>
bool backward_channels_last_gather(const KernelArgs& a, int64_t begin, int64_t end) {
  using PM = MultiFor<R, S>;
  using PW = typename PacksFor<S>::Wide;
  using P1 = typename PacksFor<S>::One;
  using T = typename PacksFor<S>::T;
  if constexpr (!R<P1>::gathers) {
    return false;
  } else {
    using StateW = decltype(std::declval<R<PW>>().prep(std::declval<const PixelWindow<PW, S>&>(), typename PW::F{}));
    constexpr int K = int(sizeof(StateW) / sizeof(typename PW::F));  // value packs per state
    const Geometry& g = a.g;
    const Dim& W = g.dim[2];
    const R<PM> rm(a);
    const R<PW> rw(a);
    const R<P1> r1o(a);
    const S* in = static_cast<const S*>(a.input);
    const S* gout = static_cast<const S*>(a.grad_output);
    S* gin = static_cast<S*>(a.grad_input);
    const int64_t C = g.channels, in_plane = g.in_plane(), out_plane = g.out_plane();
    StateRows<T> rows(g, W.out * K * C);  // slot[(ow * K + k) * C + c]
    if (!rows.fits()) return false;
    const Holders hw(W, 1);
    const TapTables tt(g);
    LevelArray<const T*> srcs(size_t(g.dim[0].k * g.dim[1].k));
    auto each_pack = [&](auto&& f) { channel_packs<R, S>(0, C, rm, rw, r1o, f); };
    // A pack's values at consecutive channels from p (an unrolled pack's parts too).
    auto load = [](auto tag, const auto* p) {
      using P = decltype(tag);
      return make_parts<P, typename P::F>([&](int u) { return P::Base::load(p + u * P::Base::N); });
    };
    auto store = [](auto tag, auto* p, const typename decltype(tag)::F& v) {
      using P = decltype(tag);
      each_part<P>(v, [&](int u, const auto& x) { P::Base::store(p + u * P::Base::N, x); });
    };
    for_each_band(a, begin, end, [&](int64_t n, int64_t r0, int64_t r1) __attribute__((always_inline)) {
      const S* ib = in ? in + n * in_plane * C : nullptr;
      auto fill = [&](T* slot, int64_t prow) {
        PixelCursor cur(g, prow * W.out);
        for (int64_t ow = 0; ow < W.out; ++ow, cur.next()) {
          const int64_t o = prow * W.out + ow;
          each_pack([&](auto tag, const auto& red, int64_t c) {
            using P = decltype(tag);
            auto w = pixel_window<P, S>(g, tt, cur, ib ? ib + c : nullptr, (n * C + c) * out_plane + o);
            w.out_off = (n * out_plane + o) * C + c;
            const auto st = red.prep(w, w.load_out(gout));
            typename P::F v[K];
            std::memcpy(static_cast<void*>(v), &st, sizeof v);
            for (int k = 0; k < K; ++k) store(tag, slot + (ow * K + k) * C + c, v[k]);
          });
        }
      };
      rows.reset();
      for (int64_t r = r0; r < r1; ++r) {
        const int ns = rows.sources(r, srcs.data(), fill);
        for (int64_t wi = 0; wi < W.in; ++wi) {
          const int64_t sp = r * W.in + wi, nw = hw.count[size_t(wi)];
          const int64_t* ows = &hw.outs[size_t(wi * W.k)];
          const S* xp = ib ? ib + sp * C : nullptr;
          S* gp = gin + (n * in_plane + sp) * C;
          each_pack([&](auto tag, const auto& red, int64_t c) {
            using P = decltype(tag);
            using St = decltype(red.prep(std::declval<const PixelWindow<P, S>&>(), typename P::F{}));
            typename P::F acc = P::set1(T(0)), x{};
            if constexpr (R<P>::needs_input) x = load(tag, xp + c);
            const auto index = P::iset1(sp);
            for (int s = 0; s < ns; ++s)
              for (int64_t q = 0; q < nw; ++q) {
                const T* src = srcs[size_t(s)] + ows[q] * K * C + c;
                typename P::F v[K];
                for (int k = 0; k < K; ++k) v[k] = load(tag, src + k * C);
                St st;
                std::memcpy(static_cast<void*>(&st), v, sizeof st);
                acc = P::add(acc, red.contrib(st, x, index));
              }
            store(tag, gp + c, acc);
          });
        }
      }
    });
    return true;
  }
}

// Backward where the windows tile the input (contiguous.h, backward_owned): each output
// pixel's window contributions, a channel pack at a time, stored straight into grad_input.
template <template <class> class R, class S>
bool backward_channels_last_owned(const KernelArgs& a, int64_t begin, int64_t end) {
  using P1 = typename PacksFor<S>::One;
  constexpr int kTaps = R<P1>::own_taps;
  if constexpr (kTaps == 0) {
    return false;
  } else {
    const Geometry& g = a.g;
    const Dim& W = g.dim[2];
    if (!windows_tile(g) || g.dim[0].k * g.dim[1].k * W.k > kTaps) return false;
    const R<MultiFor<R, S>> rm(a);
    const R<typename PacksFor<S>::Wide> rw(a);
    const R<P1> r1o(a);
    const S* in = static_cast<const S*>(a.input);
    const S* gout = static_cast<const S*>(a.grad_output);
    S* gin = static_cast<S*>(a.grad_input);
    const int64_t C = g.channels, in_plane = g.in_plane(), out_plane = g.out_plane();
    const bool stream = a.stream && whole_lines(gin, C * int64_t(sizeof(S)));  // pixels of whole lines
    const TapTables tt(g);
    for_each_band(a, begin, end, [&](int64_t n, int64_t r0, int64_t r1) __attribute__((always_inline)) {
      const S* ib = in ? in + n * in_plane * C : nullptr;  // none where the reducer needs none
      S* gb = gin + n * in_plane * C;
      rows_meeting_band(g, tt, r0, r1, [&](int64_t prow, const RowTaps&, int64_t, int64_t) {
        PixelCursor cur(g, prow * W.out);
        for (int64_t ow = 0; ow < W.out; ++ow, cur.next()) {
          const int64_t o = prow * W.out + ow;
          channel_packs<R, S>(0, C, rm, rw, r1o, [&](auto tag, const auto& red, int64_t c) {
            using P = decltype(tag);
            auto w = pixel_window<P, S>(g, tt, cur, ib ? ib + c : nullptr, (n * C + c) * out_plane + o);
            w.out_off = (n * out_plane + o) * C + c;
            typename P::F v[kTaps];
            red.own(w, w.load_out(gout), v);
            if constexpr (sizeof(S) == 2 && P::Base::N > 1 && OwnUniform<R<P1>>::value) {
              // One value for the whole window: converted once, not at each pixel's store
              // (bfloat16 avg 2x2 backward, 64 channels, in cache: 0.86x the time). 16-bit: no streaming.
              typename P::Base::Packed h[P::U];
              each_part<P>(v[0], [&](int u, const auto& x) { h[u] = P::Base::packed(gb, x); });
              w.visit_positions([&](int64_t sp) {
                if (sp >= r0 * W.in && sp < r1 * W.in)
                  for (int u = 0; u < P::U; ++u) P::Base::store_packed(gb + sp * C + c + u * P::Base::N, h[u]);
              });
              return;
            }
            int k = 0;
            w.visit_positions([&](int64_t sp) {  // the pixels in the band's rows
              if (sp >= r0 * W.in && sp < r1 * W.in)
                each_part<P>(v[k], [&](int u, const auto& x) {
                  S* dst = gb + sp * C + c + u * P::Base::N;
                  if (stream) P::Base::stream(dst, x); else P::Base::store(dst, x);
                });
              ++k;
            });
          });
        }
      });
    });
    return true;
  }
}

// Backward by scattering each output pixel's contributions over its window. A work
// item is a band of input rows of one batch element with all its channels: items never
// share an element, and each element's sum is formed in output scan order whatever
// the thread count.
template <template <class> class R, class S>
void backward_channels_last(const KernelArgs& a, int64_t begin, int64_t end) {
  using T = typename PacksFor<S>::T;
  constexpr bool direct = sizeof(S) == sizeof(T);
  constexpr bool need_x = R<typename PacksFor<S>::One>::needs_input;
  const Geometry& g = a.g;
  const R<MultiFor<R, S>> rm(a);
  const R<typename PacksFor<S>::Wide> rw(a);
  const R<typename PacksFor<S>::One> r1o(a);
  const S* in = static_cast<const S*>(a.input);
  const S* gout = static_cast<const S*>(a.grad_output);
  S* gin = static_cast<S*>(a.grad_input);
  const int64_t C = g.channels, in_plane = g.in_plane(), out_plane = g.out_plane(), W = g.dim[2].in;
  if (backward_channels_last_owned<R, S>(a, begin, end) || backward_channels_last_gather<R, S>(a, begin, end))
    return;
  const TapTables tt(g);
  for_each_band(a, begin, end, [&](int64_t n, int64_t r0, int64_t r1) __attribute__((always_inline)) {
    // acc[((r - r0) * W + w) * C + c]: channel c of input pixel (r, w) of the band
    T* acc = direct ? reinterpret_cast<T*>(gin) + (n * in_plane + r0 * W) * C : static_cast<T*>(a.scratch);
    std::memset(static_cast<void*>(acc), 0, sizeof(T) * (r1 - r0) * W * C);
    const S* ib = in ? in + n * in_plane * C : nullptr;
    rows_meeting_band(g, tt, r0, r1, [&](int64_t prow, const RowTaps&, int64_t, int64_t) {
      PixelCursor cur(g, prow * g.dim[2].out);
      for (int64_t ow = 0; ow < g.dim[2].out; ++ow, cur.next()) {
        const int64_t o = prow * g.dim[2].out + ow;
        channel_packs<R, S>(0, C, rm, rw, r1o, [&](auto tag, const auto& red, int64_t c) {
          using P = decltype(tag);
          auto w = pixel_window<P, S>(g, tt, cur, ib ? ib + c : nullptr, (n * C + c) * out_plane + o);
          w.out_off = (n * out_plane + o) * C + c;
          const auto st = red.prep(w, w.load_out(gout));
          w.template scatter<need_x>(acc + c, r0, r1, [&](auto x, auto i) { return red.contrib(st, x, i); });
        });
      }
    });
    if (!direct) narrow_out(gin + (n * in_plane + r0 * W) * C, acc, (r1 - r0) * W * C, a.stream);
  });
}

}  // namespace TORCHPOOL_CPU_CAPABILITY
}  // namespace cpu
}  // namespace torchpool
