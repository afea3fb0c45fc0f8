#pragma once
// The contiguous forward of large windows in two passes, for reducers whose window
// reduces as the reduction of its rows' reductions, values and indices alike
// (`separable`: max). Pass 1 reduces each input row the windows hold along the width,
// at every output column (the reducer's own forward over one-row windows), into a
// few buffered rows of values and indices; pass 2 reduces, for each output row, its
// window rows' buffered values and indices down the columns, the reducer's forward
// again with those as the elements. kw operations per buffered row (about min(kh, H.s)
// rows per output row) and kd * kh per output, instead of kd * kh * kw. Exact: torch's rule (v > max or NaN) picks from the
// rows' maxima what it picks from the elements, as both passes take them in scan order:
// ties keep the earlier row (within it the earlier column), NaN the last.
// Average pooling stays out: its sums would change order, and it matches torch's bit
// for bit in scan order.

#include <algorithm>

#include "torchpool/cpu/traversal/contiguous.h"

namespace torchpool {
namespace cpu {
namespace TORCHPOOL_CPU_CAPABILITY {

// Pass 2's window of a pack of outputs of one row: the elements are the window rows'
// buffered row reductions at the pack's columns, in scan order.
template <class P, class V, bool LaneFree>
struct ColumnWindow : PackPlace<P> {
  using F = typename P::F;
  using I = typename P::I;
  const V* const* vals;        // each window row's values, from column 0
  const int64_t* const* idxs;  // and their elements' indices in the plane (not LaneFree)
  int64_t nrows = 0, col = 0;

  TP_INLINE I index(int64_t r) const {
    if constexpr (LaneFree) return P::iset1(0);  // unused by a lane-free reducer
    else return P::load_idx(idxs[r] + col);
  }
  TP_INLINE I first_index() const { return index(0); }
  template <class Fn>
  TP_INLINE void visit(Fn&& f) const {
    for (int64_t r = 0; r < nrows; ++r) f(P::load(vals[r] + col), index(r));
  }
};

// Whether two passes take fewer operations than the direct visit (kd * kh * kw per
// output): kw per buffered row, new rows per output row (kd * min(kh, H.s): depth
// planes are not kept between them), plus kd * kh per output; by a third fewer, for
// the buffers' stores and loads. Full size, 2 threads, Zen 4 AVX-512, against the
// direct visit: max 5x5 s1 0.47-0.54x the time, 3x3 s1 with indices 0.57-0.79x and
// without 0.79x (bfloat16; float32 0.91-1.04x), 6x6 s2 0.77-0.88x; left out: 4x4 s2
// 1.03-1.17x, 3x3 s2 1.2x.
TP_INLINE bool separable_pays(const Geometry& g) {
  const Dim &D = g.dim[0], &H = g.dim[1], &W = g.dim[2];
  const int64_t direct = D.k * H.k * W.k;
  const int64_t two_pass = W.k * D.k * std::min(H.k, H.s) + D.k * H.k;
  return H.k > 1 && W.k > 1 && 3 * two_pass <= 2 * direct;
}

template <template <class> class R, class S, int SK>
bool forward_separable_with(const KernelArgs& a, int64_t begin, int64_t end) {
  using PW = typename PacksFor<S>::Wide;
  using P1 = typename PacksFor<S>::One;
  using T = typename PacksFor<S>::T;  // buffered values: 16-bit ones widened once
  constexpr bool lane_free = LaneFree<R<PW>>::value;
  const Geometry& g = a.g;
  const Dim &D = g.dim[0], &H = g.dim[1], &W = g.dim[2];
  const int64_t in_plane = g.in_plane(), rows = D.out * H.out;
  const bool indices = !lane_free;
  // Buffered rows: slot (t mod sd) * sh + h mod sh holds input row (t, h), so the rows
  // of one window (spans sd by sh) never share a slot.
  const int64_t sd = (D.k - 1) * D.d + 1, sh = (H.k - 1) * H.d + 1, slots = sd * sh;
  const int64_t slot_bytes = W.out * int64_t(sizeof(T) + (indices ? sizeof(int64_t) : 0));
  if (slots * slot_bytes > (int64_t(4) << 20)) return false;
  LevelArray<T> vbuf{size_t(slots * W.out)};
  LevelArray<int64_t> ibuf(indices ? size_t(slots * W.out) : 0);
  LevelArray<int64_t> tags{size_t(slots)};
  LevelArray<const T*> vals(size_t(D.k * H.k));
  LevelArray<const int64_t*> idxs(size_t(D.k * H.k));

  const R<PW> rw(a);
  const R<P1> r1(a);
  const S* in = static_cast<const S*>(a.input);
  S* out = static_cast<S*>(a.output);
  int64_t* idx = a.indices;
  // int32 index lanes address planes below 2^31 elements; larger ones go one lane at a time.
  const bool wide = PW::N > 1 && (PW::wide_index || in_plane <= INT32_MAX);
  int64_t lo, hi;
  interior<SK>(W, lo, hi);
  if (!wide || hi - lo < PW::N) lo = hi = 0;
  const TapTables tt(g);

  // Pass 1: input row r (t * H.in + h) of the plane at ip, reduced along the width at
  // every output column into slot s.
  auto reduce_row = [&](const S* ip, int64_t r, int64_t s) {
    const RowTaps rt(r / H.in, r % H.in);
    T* v = vbuf.data() + s * W.out;
    int64_t* i = indices ? ibuf.data() + s * W.out : nullptr;
    auto one = [&](int64_t ow) {
      r1.forward(row_window<P1, S, SK>(g, tt, ip, rt, 0, ow, false), v + ow, i ? i + ow : nullptr);
    };
    auto pack = [&](int64_t ow) {
      rw.forward(row_window<PW, S, SK, lane_free>(g, tt, ip, rt, 0, ow, true), v + ow, i ? i + ow : nullptr);
    };
    int64_t ow = 0;
    for (; ow < lo; ++ow) one(ow);
    for (; ow + PW::N <= hi; ow += PW::N) pack(ow);
    if (ow < hi) pack(hi - PW::N);  // overlaps the previous pack: the same values
    for (ow = std::max(ow, hi); ow < W.out; ++ow) one(ow);
  };

  int64_t plane_held = -1;
  for (int64_t row = begin; row < end; ++row) {
    const int64_t plane = row / rows, r0 = row - plane * rows, od = r0 / H.out, oh = r0 % H.out;
    const S* ip = in + plane * in_plane;
    if (plane != plane_held) std::fill(tags.data(), tags.data() + slots, int64_t(-1)), plane_held = plane;
    const RowTaps rt(tt, od, oh);
    int64_t n = 0;
    for (WindowRows wr(rt.td, rt.th, H.in); wr.more(); wr.next(), ++n) {
      const int64_t t = wr.row / H.in, h = wr.row % H.in, s = (t % sd) * sh + h % sh;
      if (tags[size_t(s)] != wr.row) reduce_row(ip, wr.row, s), tags[size_t(s)] = wr.row;
      vals[size_t(n)] = vbuf.data() + s * W.out;
      if (indices) idxs[size_t(n)] = ibuf.data() + s * W.out;
    }
    // Pass 2: every column alike (the edges' row reductions took their own taps).
    S* orow = out + row * W.out;
    int64_t* irow = idx ? idx + row * W.out : nullptr;
    auto down = [&](const auto& red, auto tag, int64_t ow) {
      ColumnWindow<decltype(tag), T, lane_free> w;
      w.vals = vals.data();
      w.idxs = idxs.data();
      w.nrows = n;
      w.col = ow;
      red.forward(w, orow + ow, irow ? irow + ow : nullptr);
    };
    int64_t ow = 0;
    if (wide && W.out >= PW::N) {
      for (; ow + PW::N <= W.out; ow += PW::N) down(rw, PW{}, ow);
      if (ow < W.out) down(rw, PW{}, W.out - PW::N);
    } else {
      for (; ow < W.out; ++ow) down(r1, P1{}, ow);
    }
  }
  return true;
}

// The two passes where the reducer is separable and they pay; false: the direct visit.
template <template <class> class R, class S>
bool forward_separable(const KernelArgs& a, int64_t begin, int64_t end) {
  if constexpr (!Separable<R<typename PacksFor<S>::One>>::value) {
    return false;
  } else {
    return separable_pays(a.g) && by_width_stride(a.g, [&](auto sk) {
             return forward_separable_with<R, S, decltype(sk)::value>(a, begin, end);
           });
  }
}

}  // namespace TORCHPOOL_CPU_CAPABILITY
}  // namespace cpu
}  // namespace torchpool
