#pragma once
// The window traversal of contiguous (N, C, D, H, W) tensors, vectorized along the
// output row: the lanes of a pack are consecutive outputs ow of one output row, so
// each tap of the window is one load of input elements `s` apart (stride 1: a plain
// load; 2: one deinterleaving permute; else a gather). Where a row group allows, an
// unrolled pack takes the same columns of several output rows at once. Outputs whose
// windows hang over a row's ends take the one-lane path with their own tap ranges.
// Backward: where the windows tile the input and the reducer takes whole windows,
// each window's contributions stored straight (backward_owned); else a gather along
// the input row (backward_gather) where the reducer's state is value packs only; else
// a scatter over bands of input rows (backward_rows).
//
// A reducer R<P> plugs in with (see ops/cpu/isa/ for the reducers):
//   R(const KernelArgs&)
//   forward(window, S* out, int64_t* indices)            one pack of outputs
//   needs_input, prep(window, F grad) -> state,
//   contrib(state, F x, I index) -> F                     what one element receives
//   gathers                       the state is value packs only: the gather may move it
//   own_taps, own(window, F grad, F* c)   a whole window's contributions in visit
//                                 order (windows of up to own_taps elements; 0: none)
// A window offers visit(f(x, index)) in torch's scan order, first_index(), the valid
// and padded element counts, store()/store_idx() of a pack of outputs, and the
// outputs' linear indices (lin, lin_step between lanes, lin_sub between parts).

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "torchpool/cpu/vec/vec.h"

namespace torchpool {
namespace cpu {
namespace TORCHPOOL_CPU_CAPABILITY {

// Builds a pack part by part: part u from f(u). A plain pack has the one part 0.
template <class P, class V, class Fn>
TP_INLINE V make_parts(Fn&& f) {
  V x;
  for (int u = 0; u < P::U; ++u) P::part(x, u) = f(u);
  return x;
}
template <class P, class V, class Fn>
TP_INLINE void each_part(const V& x, Fn&& f) {
  for (int u = 0; u < P::U; ++u) f(u, P::part(x, u));
}

// Where a pack's parts lie: part u `in_u[u]` input elements and `out_u[u]` output
// elements from part 0 (space_parts: u times in_sub and out_sub, e.g. consecutive
// output rows or channel packs; or column packs of one row, the last against its end;
// or a grid: output row u >> 1, column pack u & 1, as RowWindow::visit_shared reads it);
// out_off: the offset of the pack's first output in the output tensors. Loads and
// stores of outputs (and of grad_output) go through here.
template <class P>
struct PackPlace {
  using B = typename P::Base;
  using F = typename P::F;
  using I = typename P::I;
  int64_t in_sub = 0, out_sub = 0, out_off = 0;
  int64_t in_u[P::U] = {}, out_u[P::U] = {};
  TP_INLINE void space_parts() {
    for (int u = 0; u < P::U; ++u) in_u[u] = u * in_sub, out_u[u] = u * out_sub;
  }
  int64_t out_lane = 1;  // output elements between lanes (a column pack: a row's length)
  bool stream = false;   // store() past the cache (B::stream), where every store fills lines

  // The pack's elements of a tensor shaped like the output.
  template <class S>
  TP_INLINE F load_out(const S* base) const {
    return make_parts<P, F>([&](int u) { return B::load(base + out_off + out_u[u]); });
  }
  template <class S>
  TP_INLINE void store(S* p, const F& v) const {
    each_part<P>(v, [&](int u, const auto& x) {
      if (stream) return B::stream(p + out_u[u], x);
      scatter_lanes(p + out_u[u], x, [](S* q, const auto& y) { B::store(q, y); });
    });
  }
  TP_INLINE void store_idx(int64_t* p, const I& v) const {
    each_part<P>(v, [&](int u, const auto& x) {
      if (stream) return B::stream_idx(p + out_u[u], x);
      scatter_lanes(p + out_u[u], x, [](int64_t* q, const auto& y) { B::store_idx(q, y); });
    });
  }
  // Stores one part's lanes out_lane apart (through a small buffer when not adjacent).
  template <class D, class V, class St>
  TP_INLINE void scatter_lanes(D* p, const V& x, St st) const {
    if (out_lane == 1) return st(p, x);
    D tmp[B::N];
    st(tmp, x);
    for (int l = 0; l < B::N; ++l) p[l * out_lane] = tmp[l];
  }
};

// Taps along the width are `s` apart between lanes: SK is 1, 2 or 0 (any). Raw (for
// a lane_free reducer's forward): stride-2 loads keep the lanes in the level's raw
// order (Load2Raw in vec.h), and store() puts the result in order, once per window
// instead of once per tap; index lanes and lin are then not the lanes' and go unused.
// Flat (a whole window of the interior): visit walks `taps`, the offsets of the
// window's elements from its first column in scan order, made once per row group,
// instead of enumerating the window's rows and taps per pack. Shared (Flat): visit()
// has visit_shared's branches too; not for a bulky reducer, whose forward, inlined into
// each branch, then spilled even where no branch is taken (stochastic evaluation 2x2,
// bfloat16: 3.2x the time).
template <class P, class S, int SK, bool Raw = false, bool Flat = false, bool Shared = false>
struct RowWindow : PackPlace<P> {
  using B = typename P::Base;
  using F = typename P::F;
  using I = typename P::I;
  const S* plane;  // the input plane
  int64_t hin, win;
  Taps td, th, tw;  // part 0, lane 0's taps
  int64_t s;        // input columns between lanes
  I lane_s;         // the index offset of each lane and part
  int64_t valid, padded;
  int64_t lin, lin_step, lin_sub;  // NCDHW linear index of the first output; steps
  const int64_t* taps = nullptr;    // Flat: the window's offsets (window_taps)
  int64_t ntaps = 0;

  TP_INLINE typename B::F load_one(const S* p) const {
    if constexpr (B::N == 1 || SK == 1) {
      return B::load(p);
    } else if constexpr (SK == 2 && Raw) {
      return Load2Raw<B, S>::load(p);
    } else if constexpr (SK == 2) {
      return B::load2(p);
    } else {
      return B::loadn(p, s);
    }
  }
  template <class T>
  TP_INLINE void store(T* p, const F& v) const {
    if constexpr (Raw && SK == 2) {
      PackPlace<P>::store(p, make_parts<P, F>([&](int u) { return Load2Raw<B, S>::in_order(P::part(v, u)); }));
    } else {
      PackPlace<P>::store(p, v);
    }
  }
  TP_INLINE F load(const S* p) const {
    return make_parts<P, F>([&](int u) { return load_one(p + this->in_u[u]); });
  }
  template <class T>
  TP_INLINE void accumulate(T* p, const F& v) const {
    each_part<P>(v, [&](int u, const auto& x) {
      T* q = p + this->in_u[u];
      if constexpr (B::N == 1 || SK == 1) {
        B::acc_add(q, x);
      } else if constexpr (SK == 2) {
        B::acc_add2(q, x);
      } else {
        B::acc_addn(q, s, x);
      }
    });
  }

  // shared: H.s (1 or 2) where every part's window is a whole 3x3 of adjacent taps and
  // the parts are output rows (grid: 2 output rows by 2 column packs), else 0.
  int shared = 0;
  bool grid = false;

  // Such a window's taps: each input row that two parts' windows hold loaded once (the
  // loads written alike, the compiler merges them), from fixed offsets.
  template <int HS, bool Grid, class Fn>
  TP_INLINE void visit_shared(Fn&& f) const {
    const S* first = plane + tw.first + taps[0];
    constexpr int64_t CS = B::N * SK;  // a grid's second column pack
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j)
        f(make_parts<P, F>([&](int u) {
            if constexpr (Grid) return load_one(first + (i + (u >> 1) * HS) * win + j + (u & 1) * CS);
            else return load_one(first + (i + u * HS) * win + j);
          }),
          P::iadd(lane_s, tw.first + taps[i * 3 + j]));
  }
  template <class Fn>
  TP_INLINE void visit(Fn&& f) const {
    if constexpr (Shared && P::U > 1) {
      if constexpr (P::U == 4) {
        if (grid) return shared == 1 ? visit_shared<1, true>(f) : visit_shared<2, true>(f);
      }
      if (shared == 1) return visit_shared<1, false>(f);
      if (shared == 2) return visit_shared<2, false>(f);
    }
    if constexpr (Flat) {
      const S* first = plane + tw.first;
      // Window rows of an even number of adjacent taps (window_taps: tw.count per row, tw.step
      // apart): taps t, t + 1 (t even) from one load.
      if constexpr (SK == 2 && Load2Pair<B, S>::value)
        if (tw.step == 1 && tw.count % 2 == 0) {
          for (int64_t t = 0; t < ntaps; t += 2) {
            F even, odd;
            for (int u = 0; u < P::U; ++u)
              Load2Pair<B, S>::template load<Raw>(first + taps[t] + this->in_u[u], P::part(even, u),
                                                  P::part(odd, u));
            const I i = P::iadd(lane_s, tw.first + taps[t]);
            f(even, i);
            f(odd, P::iadd(i, 1));
          }
          return;
        }
      for (int64_t t = 0; t < ntaps; ++t) f(load(first + taps[t]), P::iadd(lane_s, tw.first + taps[t]));
      return;
    }
    for (WindowRows r(td, th, hin); r.more(); r.next()) {
      const int64_t rowoff = r.row * win;
      const S* row = plane + rowoff;
      for (int64_t j = 0; j < tw.count; ++j) {
        const int64_t w = tw.first + j * tw.step;
        f(load(row + w), P::iadd(lane_s, rowoff + w));
      }
    }
  }
  TP_INLINE I first_index() const {
    return P::iadd(lane_s, (td.first * hin + th.first) * win + tw.first);
  }
  // Adds f(x, index) to the elements of width tap j of the window inside acc, which
  // holds rows [r0, r1) of the plane (row = t*hin + h).
  template <bool NeedX, class T, class Fn>
  TP_INLINE void scatter_tap(int64_t j, T* acc, int64_t r0, int64_t r1, Fn&& f) const {
    static_assert(P::U == 1, "a scatter pack covers one output row");
    const int64_t w = tw.first + j * tw.step;
    window_rows(td, th, hin, [&](int64_t r) {
      if (r < r0 || r >= r1) return;
      F x{};
      if constexpr (NeedX) x = load(plane + r * win + w);
      accumulate(acc + (r - r0) * win + w, f(x, P::iadd(lane_s, r * win + w)));
    });
  }
  // All taps, width taps last to first: then each element receives its contributions
  // in output scan order, as in torch's scatter.
  template <bool NeedX, class T, class Fn>
  TP_INLINE void scatter(T* acc, int64_t r0, int64_t r1, Fn&& f) const {
    for (int64_t j = tw.count - 1; j >= 0; --j) scatter_tap<NeedX>(j, acc, r0, r1, f);
  }
};

// The lanes k.. of a pack, as a mask: the new lanes of a pack overlapping the one
// before it by k lanes (a row's last pack, ending at the row's end).
template <class P>
TP_INLINE auto lanes_from(int64_t k) {
  using T = typename P::T;
  alignas(64) static constexpr T kIota[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  static_assert(P::N <= 16, "lane numbers");
  return P::gt(P::load(kIota), P::set1(T(k) - T(0.5)));
}

// The output columns [lo, hi) whose taps all lie inside the row. `spill`: the extra
// element a stride-2 load reads past its last lane (load2 and acc_add2 touch 2N
// elements) must lie inside the row too; reads may spill into the next row where one
// follows, but writes never.
template <int SK>
TP_INLINE void interior(const Dim& W, int64_t& lo, int64_t& hi, bool spill = true) {
  const int64_t reach = (W.k - 1) * W.d + (SK == 2 && spill ? 1 : 0);
  lo = (W.p + W.s - 1) / W.s;
  hi = div_floor(W.in - 1 - reach + W.p, W.s) + 1;
  if (hi > W.out) hi = W.out;
  if (hi < lo) hi = lo;
}

// f(SK) with the width stride's SK (1, 2, or 0 for any other): a traversal's entry.
template <class Fn>
TP_INLINE decltype(auto) by_width_stride(const Geometry& g, Fn&& f) {
  switch (g.dim[2].s) {
    case 1:
      return f(std::integral_constant<int, 1>{});
    case 2:
      return f(std::integral_constant<int, 2>{});
    default:
      return f(std::integral_constant<int, 0>{});
  }
}

// The taps and padded count of every output position along each dim, computed once
// per kernel call rather than once per pixel (they take integer divisions).
struct TapTables {
  struct Entry {
    Taps taps;
    int64_t padded;
  };
  Entry* dim[3];
  Entry* storage;
  explicit TapTables(const Geometry& g) {
    storage = new Entry[g.dim[0].out + g.dim[1].out + g.dim[2].out];
    Entry* e = storage;
    for (int i = 0; i < 3; ++i) {
      dim[i] = e;
      for (int64_t o = 0; o < g.dim[i].out; ++o, ++e) *e = Entry{g.dim[i].taps(o), g.dim[i].padded_count(o)};
    }
  }
  ~TapTables() { delete[] storage; }
  TapTables(const TapTables&) = delete;
  TapTables& operator=(const TapTables&) = delete;
};

// Window rows of output row (od, oh), and the element counts they contribute.
struct RowTaps {
  Taps td, th;
  int64_t valid, padded;
  RowTaps(const TapTables& tt, int64_t od, int64_t oh)
      : td(tt.dim[0][od].taps),
        th(tt.dim[1][oh].taps),
        valid(td.count * th.count),
        padded(tt.dim[0][od].padded * tt.dim[1][oh].padded) {}
  // The one input row (t, h), as a window of one row (separable.h).
  RowTaps(int64_t t, int64_t h) : td{t, 1, 1}, th{h, 1, 1}, valid(1), padded(1) {}
};

// The offsets of a whole window's elements from its first column, in scan order (its
// rows' offsets in the plane plus its width taps), into taps: RowWindow's Flat list,
// the same for every pack of an output row. Returns their count.
TP_INLINE int64_t window_taps(const RowTaps& rt, int64_t in_h, const Dim& W, int64_t* taps) {
  int64_t n = 0;
  window_rows(rt.td, rt.th, in_h, [&](int64_t r) {
    for (int64_t j = 0; j < W.k; ++j) taps[n++] = r * W.in + j * W.d;
  });
  return n;
}

// Calls f(row, rt, first, last) for each output row (row = od * out_h + oh, within the
// plane) whose window rows, spanning [first, last] (rows count t * in_h + h), meet
// input rows [r0, r1): the output rows a backward work item must visit.
template <class Fn>
TP_INLINE void rows_meeting_band(const Geometry& g, const TapTables& tt, int64_t r0, int64_t r1, Fn&& f) {
  const Dim &D = g.dim[0], &H = g.dim[1];
  for (int64_t od = 0; od < D.out; ++od)
    for (int64_t oh = 0; oh < H.out; ++oh) {
      const RowTaps rt(tt, od, oh);
      const int64_t first = rt.td.first * H.in + rt.th.first;
      const int64_t last = window_last_row(rt.td, rt.th, H.in);
      if (last >= r0 && first < r1) f(od * H.out + oh, rt, first, last);
    }
}

// Whether the windows of output row rt of plane `plane` read the input's last row.
// A stride-2 pack's loads may reach one element past its windows: at a row's end the
// next row's first element, which every row has but the input's last.
TP_INLINE bool reads_last_row(const Geometry& g, const RowTaps& rt, int64_t plane) {
  const int64_t rows = g.dim[0].in * g.dim[1].in;
  return plane == g.planes() - 1 && window_last_row(rt.td, rt.th, g.dim[1].in) == rows - 1;
}

// The window of the pack of outputs starting at column ow of output row `row`
// (with rows parts: rows row .. row + parts - 1). `whole`: all k width taps valid.
template <class P, class S, int SK, bool Raw = false, bool Flat = false, bool Shared = false>
TP_INLINE RowWindow<P, S, SK, Raw, Flat, Shared> row_window(const Geometry& g, const TapTables& tt, const S* plane,
                                                            const RowTaps& rt, int64_t row, int64_t ow, bool whole) {
  using B = typename P::Base;
  const Dim &H = g.dim[1], &W = g.dim[2];
  RowWindow<P, S, SK, Raw, Flat, Shared> w;
  w.plane = plane;
  w.hin = H.in;
  w.win = W.in;
  w.td = rt.td;
  w.th = rt.th;
  w.tw = whole ? Taps{W.start(ow), W.k, W.d} : tt.dim[2][ow].taps;
  w.s = W.s;
  w.in_sub = H.s * W.in;  // parts are consecutive output rows
  w.out_sub = W.out;
  w.space_parts();
  w.lane_s = make_parts<P, typename P::I>([&](int u) { return B::iadd(B::lanes(W.s), w.in_u[u]); });
  w.valid = rt.valid * w.tw.count;
  w.padded = rt.padded * (whole ? W.k : tt.dim[2][ow].padded);
  w.lin = row * W.out + ow;
  w.lin_step = 1;
  w.lin_sub = W.out;
  w.out_off = row * W.out + ow;
  return w;
}

template <template <class> class R, class S, int SK>
void forward_rows(const KernelArgs& a, int64_t begin, int64_t end) {
  using PM = MultiFor<R, S>;
  using PW = typename PacksFor<S>::Wide;
  using P1 = typename PacksFor<S>::One;
  const Geometry& g = a.g;
  const Dim &H = g.dim[1], &W = g.dim[2];
  const R<PM> rm(a);
  const R<PW> rw(a);
  const R<P1> r1(a);
  const S* in = static_cast<const S*>(a.input);
  S* out = static_cast<S*>(a.output);
  int64_t* idx = a.indices;
  const int64_t in_plane = g.in_plane(), rows = g.dim[0].out * H.out;
  // [lo, hi): packs whose reads stay in the row; [lo, hi_spill): packs whose reads
  // may touch the first element of the next row, for all but the input's last row.
  int64_t lo, hi_row, hi_spill;
  interior<SK>(W, lo, hi_row);
  interior<SK>(W, lo, hi_spill, false);
  // int32 index lanes address planes below 2^31 elements; larger ones go one lane at a time.
  const bool wide = PW::N > 1 && (PW::wide_index || in_plane <= INT32_MAX);
  if (!wide) lo = hi_row = hi_spill = 0;
  const int64_t input_size = g.planes() * in_plane;
  const TapTables tt(g);
  LevelArray<int64_t> taps(size_t(g.dim[0].k * g.dim[1].k * g.dim[2].k));  // a whole window's offsets (RowWindow's Flat)
  auto whole_row = [&](int64_t oh) {
    const Taps& t = tt.dim[1][oh].taps;
    return t.count == H.k && t.first == H.start(oh);
  };
  // Column packs: a row's interior as Multi packs of PM::U column packs (the last ones
  // against the row's end) instead of groups of PM::U rows, where that measured faster:
  // float at AVX-512, a lane-wise reducer (the parts' index lanes and linear indices are
  // not set), over windows of more than 4 elements or a bulky reducer's, but for the
  // 3x3 windows that take the grid (below), measured against it. Full size, 2
  // threads, against row groups: soft 2x2 0.78-0.84x the time, stochastic evaluation
  // 0.86-0.91x, avg 3x3 s1 0.91-0.92x, max 3x3 s2 0.90-0.93x; max and avg 2x2 1.02-1.06x,
  // bfloat16 1.07-1.5x, AVX2 float 0.88-1.46x (all of those keep row groups).
  constexpr bool column_level = TORCHPOOL_CPU_LEVEL == 2 && std::is_same_v<S, float> && LaneFree<R<PW>>::value;
  const bool column_window = Bulky<R<PW>>::value || g.dim[0].k * H.k * W.k > 4;
  // 3x3 windows of adjacent taps at height stride 1 or 2: the input rows a pack's output
  // rows share are loaded once (RowWindow::visit_shared), in packs of 2 output rows by 2
  // column packs (the grid) or row groups; not where another layout measured faster:
  // AVX-512 float32 at stride 2 keeps column packs (the grid took 1.10x their time) and
  // AVX-512 16-bit at stride 1 row groups (bfloat16 avg 3x3 s1: 0.86x the time of row
  // groups without sharing, the grid 0.97x). Elsewhere the grid, full size, 2 threads:
  // float32 avg 3x3 s1 0.89-0.91x, AVX2 0.72-0.86x, float64 0.74-0.76x.
  constexpr bool can_share = !Bulky<R<PW>>::value && SK != 0;
  const bool window3x3 = g.dim[0].k == 1 && H.k == 3 && W.k == 3 && H.d == 1 && W.d == 1 && H.s <= 2;
  const int shared = can_share && window3x3 ? int(H.s) : 0;
  constexpr bool grid_level = can_share && PM::U == 4 && LaneFree<R<PW>>::value;
  constexpr bool avx512_float = TORCHPOOL_CPU_LEVEL == 2 && std::is_same_v<S, float>;
  constexpr bool avx512_16bit = TORCHPOOL_CPU_LEVEL == 2 && sizeof(S) == 2;
  const bool grid_shape = shared && !(avx512_float && H.s == 2) && !(avx512_16bit && H.s == 1);

  // A run: the output rows [row, run_end) of one (plane, od) in [begin, end).
  for (int64_t row = begin; row < end;) {
    const int64_t plane = row / rows, r0 = row - plane * rows, od = r0 / H.out, oh0 = r0 % H.out;
    const int64_t run_end = end < row + (H.out - oh0) ? end : row + (H.out - oh0);
    const S* ip = in + plane * in_plane;
    // This run's packs cover columns [lo_r, hi).
    int64_t lo_r = lo, hi = hi_row;
    if (SK == 2 && hi_spill > hi_row) {
      // Spilling packs where no window of the run reads the input's last row. Every row
      // is checked: with dilation an earlier output row's window can reach further down
      // than the last one's.
      bool spill = true;
      for (int64_t rr = row; spill && plane == g.planes() - 1 && rr < run_end; ++rr)
        spill = !reads_last_row(g, RowTaps(tt, od, oh0 + (rr - row)), plane);
      if (spill) hi = hi_spill;
    }
    if (hi - lo_r < PW::N) lo_r = hi = 0;  // no packs along the row: every column is an edge
    const bool by_columns =
        column_level && column_window && hi - lo_r > (PM::U - 1) * PW::N && !(grid_level && grid_shape);

    // The interior: in grids of 2 rows, in groups of PM::U rows, or row by row in column
    // packs, where those rows lie wholly inside the input vertically (they share their
    // taps but for a row offset); else row by row. (With the grid, the rows it leaves take
    // plain packs: only a run's last row, if odd, lies inside.)
    for (int64_t rr = row; hi > lo_r && rr < run_end;) {
      const int64_t oh = oh0 + (rr - row);
      const RowTaps rt(tt, od, oh);
      int64_t parts = 1;
      const bool grid = grid_level && grid_shape && rr + 2 <= run_end && whole_row(oh) && whole_row(oh + 1) &&
                        hi - lo_r >= 2 * PW::N;
      if (grid)
        parts = 2;
      else if (!by_columns && rr + PM::U <= run_end) {
        parts = PM::U;
        for (int u = 0; u < PM::U; ++u) parts = whole_row(oh + u) ? parts : 1;
      }
      // The whole windows' element offsets from their first column, made once for
      // all packs of the group rather than enumerated per pack (in-cache, 1 thread:
      // 0.88-0.93x the time of max and avg).
      const int64_t ntaps = window_taps(rt, H.in, W, taps.data());
      // The rows of a plane are short streams the hardware prefetcher barely catches:
      // fetch the input rows the next row group adds (those after this group's last
      // window row, in each depth plane of its windows) while this one computes. Fetching
      // from the group's first row's last window row, as before, mostly fetched the rows
      // this group was about to load itself (full size, 2 threads, AVX-512: max 2x2
      // 0.88x the time, avg 2x2 0.89x, 3-d max 0.93x). Column packs, a row at a time,
      // fetch as far ahead: the rows PM::U rows on.
      const RowTaps lt(tt, od, oh + parts - 1);
      const int64_t next_h = lt.th.first + (lt.th.count - 1) * lt.th.step + 1 + (by_columns ? (PM::U - 1) * H.s : 0);
      // Windows over several depth planes fetch into L2 only (prefetcht1): into L1 the
      // planes' rows evict each other (3-d max 2x2x2, full size, 2 threads, Zen 4
      // AVX-512: 0.63-0.66x the time of prefetcht0; 2-d windows 1.02-1.06x, keep t0).
      const int64_t ahead = parts * H.s * W.in * int64_t(sizeof(S));
      const bool deep = rt.td.count > 1;
      for (int64_t i = 0; i < rt.td.count; ++i) {
        const int64_t at = plane * in_plane + ((rt.td.first + i * rt.td.step) * H.in + next_h) * W.in;
        const int64_t n = std::min(ahead, (input_size - at) * int64_t(sizeof(S)));  // on into the next plane
        const char* p = reinterpret_cast<const char*>(in + at);
        if (deep) {
          for (int64_t b = 0; b < n; b += 64) __builtin_prefetch(p + b, 0, 2);
        } else {
          for (int64_t b = 0; b < n; b += 64) __builtin_prefetch(p + b);
        }
      }
      // A pack of outputs, inlined into the row's loop: called as a function, each
      // pack paid a call and a spill and reload of its accumulators, more than the
      // taps' work of a small window (in-cache max 2x2 float32: 0.78x the time
      // inlined). A bulky reducer's pack stays a call: inlined, its registers spill
      // across the loop (stochastic evaluation: 1.65x the time).
      auto pack_inline = [&](int64_t ow) __attribute__((always_inline)) {
        auto go = [&](const auto& red, auto tag) __attribute__((always_inline)) {
          auto w =
              row_window<decltype(tag), S, SK, LaneFree<R<PW>>::value, true, can_share>(g, tt, ip, rt, rr, ow, true);
          w.taps = taps.data();
          w.ntaps = ntaps;
          if (parts > 1) w.shared = shared;
          red.forward(w, out + rr * W.out + ow, idx ? idx + rr * W.out + ow : nullptr);
        };
        if (parts > 1) go(rm, PM{}); else go(rw, PW{});
      };
      auto pack_call = [&](int64_t ow) __attribute__((noinline)) { pack_inline(ow); };
      auto pack = [&](int64_t ow) __attribute__((always_inline)) {
        if constexpr (Bulky<R<PW>>::value) pack_call(ow); else pack_inline(ow);
      };
      // Multi packs whose parts are column packs (col[u]) of output rows rr + orow[u]:
      // a lane-wise reducer's, whose index lanes and lin are left as for part 0.
      auto columns = [&](const int64_t* col, const int* orow) __attribute__((always_inline)) {
        auto w = row_window<PM, S, SK, true, true, can_share>(g, tt, ip, rt, rr, col[0], true);
        for (int u = 0; u < PM::U; ++u) {
          w.in_u[u] = orow[u] * H.s * W.in + (col[u] - col[0]) * W.s;
          w.out_u[u] = orow[u] * W.out + col[u] - col[0];
        }
        w.taps = taps.data();
        w.ntaps = ntaps;
        w.shared = grid ? shared : 0;
        w.grid = grid;
        rm.forward(w, out + rr * W.out + col[0], nullptr);
      };
      if constexpr (grid_level) {
        if (grid) {  // the last pair of column packs ends at hi, overlapping the one before
          static_assert(PM::U == 4, "a grid is 2 rows by 2 column packs");
          constexpr int orow[4] = {0, 0, 1, 1};
          for (int64_t c = lo_r;; c += 2 * PW::N) {
            const int64_t c0 = std::min(c, hi - 2 * PW::N);
            const int64_t col[4] = {c0, c0 + PW::N, c0, c0 + PW::N};
            columns(col, orow);
            if (c0 == hi - 2 * PW::N) break;
          }
          rr += 2;
          continue;
        }
      }
      if constexpr (column_level) {
        if (by_columns) {
          constexpr int orow[PM::U] = {};
          const int64_t npk = (hi - lo_r + PW::N - 1) / PW::N;
          for (int64_t k = 0; k < npk; k += PM::U) {
            int64_t col[PM::U];  // past the last pack: the last again
            for (int u = 0; u < PM::U; ++u) col[u] = std::min(lo_r + (k + u) * PW::N, hi - PW::N);
            columns(col, orow);
          }
          ++rr;
          continue;
        }
      }
      int64_t ow = lo_r;
      for (; ow + PW::N <= hi; ow += PW::N) pack(ow);
      // The interior's last outputs: one more pack ending at hi, overlapping the
      // previous one (recomputing an output writes the same value).
      if (ow < hi) pack(hi - PW::N);
      rr += parts;
    }

    // The edge columns [0, lo_r) and [hi, W.out). Over rows that lie wholly inside the
    // input vertically, a pack's lanes are one edge column of PW::N consecutive rows
    // (the last pack overlaps the previous); other rows go one output at a time.
    int64_t wa = run_end, wb = run_end;  // the whole rows of the run: [wa, wb)
    for (int64_t rr = row; rr < run_end; ++rr)
      if (whole_row(oh0 + (rr - row))) {
        if (wa == run_end) wa = rr;
        wb = rr + 1;
      }
    if (!wide || wb - wa < PW::N) wa = wb = run_end;
    auto edge_columns = [&](auto&& f) {
      for (int64_t c = 0; c < lo_r; ++c) f(c);
      for (int64_t c = hi; c < W.out; ++c) f(c);
    };
    edge_columns([&](int64_t c) {
      for (int64_t rb = wa; rb < wb; rb += PW::N) {
        const int64_t r = rb + PW::N <= wb ? rb : wb - PW::N;
        auto w = row_window<PW, S, 0>(g, tt, ip, RowTaps(tt, od, oh0 + (r - row)), r, c, false);
        w.s = H.s * W.in;  // lanes: consecutive output rows
        w.lane_s = PW::lanes(w.s);
        w.lin_step = w.out_lane = W.out;
        rw.forward(w, out + r * W.out + c, idx ? idx + r * W.out + c : nullptr);
      }
      for (int64_t rr = row; rr < run_end; ++rr) {
        if (rr >= wa && rr < wb) continue;
        const RowTaps rt(tt, od, oh0 + (rr - row));
        r1.forward(row_window<P1, S, SK>(g, tt, ip, rt, rr, c, false), out + rr * W.out + c,
                   idx ? idx + rr * W.out + c : nullptr);
      }
    });
    row = run_end;
  }
}

// Large windows of a separable reducer: two passes (separable.h).
template <template <class> class R, class S>
bool forward_separable(const KernelArgs& a, int64_t begin, int64_t end);

template <template <class> class R, class S>
void forward_contiguous(const KernelArgs& a, int64_t begin, int64_t end) {
  if (forward_separable<R, S>(a, begin, end)) return;
  by_width_stride(a.g, [&](auto sk) { forward_rows<R, S, decltype(sk)::value>(a, begin, end); });
}

// Converts an accumulator of n elements to the storage type (reduced dtypes).
template <class S, class T>
TP_INLINE void narrow_all(S* dst, const T* src, int64_t n) {
  using PW = typename PacksFor<S>::Wide;
  int64_t i = 0;
  for (; i + PW::N <= n; i += PW::N) PW::store(dst + i, PW::load(src + i));
  for (; i < n; ++i) narrow(dst + i, src[i]);
}

// narrow_all, past the cache where `stream` (a backward's grad_input larger than the
// cache): converted a few lines at a time into a buffer in L1 and streamed out in
// whole lines (the same type: streamed from src); the partial lines at the ends
// plainly. A plain store would first read each line of grad_input it fills.
template <class S, class T>
TP_INLINE void narrow_out(S* dst, const T* src, int64_t n, bool stream) {
  if (!stream) return narrow_all(dst, src, n);
  constexpr int64_t kLine = 64 / int64_t(sizeof(S)), kBuf = 16 * kLine;
  const int64_t head = std::min(n, int64_t((64 - (reinterpret_cast<uintptr_t>(dst) & 63)) & 63) / int64_t(sizeof(S)));
  narrow_all(dst, src, head);
  int64_t i = head;
  if constexpr (sizeof(S) == sizeof(T)) {  // the same type: streamed straight from src
    const int64_t lines = (n - i) / kLine;
    stream_lines(dst + i, src + i, lines);
    i += lines * kLine;
    return narrow_all(dst + i, src + i, n - i);
  }
  alignas(64) S buf[kBuf];
  for (int64_t m; (m = std::min(kBuf, (n - i) / kLine * kLine)) > 0; i += m) {
    narrow_all(buf, src + i, m);
    stream_lines(dst + i, buf, m / kLine);
  }
  narrow_all(dst + i, src + i, n - i);
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
  const R<P1> r1o(a);
  constexpr bool need_x = R<P1>::needs_input;
  const S* in = static_cast<const S*>(a.input);
  const S* gout = static_cast<const S*>(a.grad_output);
  S* gin = static_cast<S*>(a.grad_input);
  const int64_t in_plane = g.in_plane();
  int64_t lo, hi;
  interior<SK>(W, lo, hi);
  if (PW::N == 1 || (!PW::wide_index && in_plane > INT32_MAX)) lo = hi = 0;

  T* scratch = static_cast<T*>(a.scratch);  // reduced dtypes: scratch_bytes() of float
  const TapTables tt(g);
  for_each_band(a, begin, end, [&](int64_t plane, int64_t r0, int64_t r1) __attribute__((always_inline)) {
    T* acc = direct ? reinterpret_cast<T*>(gin + plane * in_plane + r0 * W.in) : scratch;
    std::memset(static_cast<void*>(acc), 0, sizeof(T) * (r1 - r0) * W.in);
    const S* ip = in ? in + plane * in_plane : nullptr;
    rows_meeting_band(g, tt, r0, r1, [&](int64_t prow, const RowTaps& rt, int64_t, int64_t) {
      const int64_t row = plane * D.out * H.out + prow;
      auto one = [&](int64_t ow) {
        const auto w = row_window<P1, S, SK>(g, tt, ip, rt, row, ow, false);
        const auto st = r1o.prep(w, w.load_out(gout));
        w.template scatter<need_x>(acc, r0, r1, [&](auto x, auto i) { return r1o.contrib(st, x, i); });
      };
      // In output scan order: the edges one lane at a time, the interior in blocks of
      // packs. A block runs window row by window row, then width tap by width tap
      // (last first), across its packs: each element still receives its contributions
      // in scan order, the inner loop is a plain strided add, and no read-modify-write
      // meets a partly overlapping one just before it (which would stall on store
      // forwarding). Packs overlap only masked (they would add twice).
      using Win = RowWindow<PW, S, SK>;
      using State = decltype(rw.prep(std::declval<const Win&>(), typename PW::F{}));
      constexpr int kBlock = 8;
      // The interior's last outputs, fewer than a pack: one more pack ending at hi,
      // overlapping the previous one, its lanes already taken masked to add +0, which
      // changes no sum (a sum started at +0 is never -0).
      using Mask = decltype(PW::gt(typename PW::F{}, typename PW::F{}));
      const bool tail_pack = hi - lo >= PW::N;
      int64_t ow = 0;
      for (; ow < lo; ++ow) one(ow);
      while (ow + PW::N <= hi || (tail_pack && ow < hi)) {
        State sts[kBlock];
        int64_t first_col[kBlock];  // input column of each pack's lane 0, tap 0
        int nb = 0, tail = -1;
        Mask tail_mask{};
        const int64_t block_ow = ow;
        for (; nb < kBlock && ow < hi && (ow + PW::N <= hi || tail_pack); ++nb) {
          int64_t at = ow;
          if (ow + PW::N > hi) {
            at = hi - PW::N;
            tail = nb;
            tail_mask = lanes_from<PW>(ow - at);
          }
          const Win w = row_window<PW, S, SK>(g, tt, ip, rt, row, at, true);
          sts[nb] = rw.prep(w, w.load_out(gout));
          first_col[nb] = W.start(at);
          ow = at + PW::N;
        }
        const Win w0 = row_window<PW, S, SK>(g, tt, ip, rt, row, block_ow, true);
        for (int64_t j = W.k - 1; j >= 0; --j)
          window_rows(rt.td, rt.th, H.in, [&](int64_t r) {
            if (r < r0 || r >= r1) return;
            T* arow = acc + (r - r0) * W.in;
            const S* xrow = ip ? ip + r * W.in : nullptr;
            for (int b = 0; b < nb; ++b) {
              const int64_t c = first_col[b] + j * W.d;
              typename PW::F x{};
              if constexpr (need_x) x = w0.load(xrow + c);
              auto v = rw.contrib(sts[b], x, PW::iadd(w0.lane_s, r * W.in + c));
              if (b == tail) v = PW::select(tail_mask, v, PW::set1(T(0)));
              w0.accumulate(arow + c, v);
            }
          });
      }
      for (; ow < W.out; ++ow) one(ow);
    });
    if (!direct) narrow_out(gin + plane * in_plane + r0 * W.in, acc, (r1 - r0) * W.in, a.stream);
  });
}

// Backward as a gather, for reducers whose State is value packs only (R::gathers):
// each input element sums, in registers, what its outputs send it and is stored
// once, with no zeroing pass and no read-modify-write of overlapping vectors. The
// outputs' states are made a row at a time (prep) into a few row buffers; a pack of
// input elements then takes, from each output row whose window rows hold its row and
// in each round, one state per lane: a lane's round q is its q-th output along the
// width in scan order, so every element receives its contributions in torch's order.

// The outputs along one dim whose windows hold each input position, in scan order
// (outs[x * k + n], n < count[x]), and each one modulo `span`: made once per call,
// not with divisions per row. `phantoms` (stride 1): all k outputs whose windows
// would hold it, those outside [0, out) too.
struct Holders {
  std::vector<int64_t> outs, part, count;
  Holders(const Dim& d, int64_t span, bool phantoms = false)
      : outs(size_t(d.in * d.k)), part(outs.size()), count(size_t(d.in)) {
    for (int64_t x = 0; x < d.in; ++x) {
      int64_t n = 0;
      for (int64_t i = d.k - 1; i >= 0; --i) {
        const int64_t num = x + d.p - i * d.d;
        if (phantoms || (num >= 0 && num % d.s == 0 && num / d.s < d.out)) {
          outs[size_t(x * d.k + n)] = num / d.s;
          part[size_t(x * d.k + n++)] = num / d.s % span;
        }
      }
      count[size_t(x)] = n;
    }
  }
};

// The rounds of every pack of a row, the same for all rows: where lane l's state
// lies (off + idx[l] in the state row), and which lanes have a round q at all.
template <class P>
struct GatherPlan {
  using Perm = typename P::Perm;
  using M = typename P::M;
  struct Step {
    int64_t off;
    Perm perm;
    M mask;
    bool any, all, identity;
  };
  std::vector<int64_t> cols;  // each pack's first column
  std::vector<Step> steps;    // pack p's round q: steps[p * rounds + q]
  // The packs of each kind: 0, every round of every lane is lane l's state at off + l,
  // off being the pack's column plus shift0[q], the same for all of them (stride 1);
  // 1, every lane has every round (a permute, no mask); 2, neither.
  std::vector<int64_t> of_kind[3];
  std::vector<int64_t> shift0;
  int64_t rounds = 0;
  // The states a load may read lie in [-front, reach): zeros outside [0, W.out).
  int64_t front = 0, reach = 0;
  bool ok = false;

  // `phantoms` (stride 1, a reducer whose zero state adds +0 to any sum): the rounds of
  // every column are its window's k outputs, those outside the row reading zero
  // states, so that every pack is of kind 0. The row's first and last packs were of
  // kind 2 (masked permutes), a fifth of avg 3x3 s1 p1's backward time: full size, 2
  // threads, Zen 4, per-call A/B, AVX-512 float32 0.84x the time (0.82x in cache),
  // bfloat16 0.80x, AVX2 0.97x.
  GatherPlan(const Dim& W, int64_t max_rounds, bool phantoms) {
    constexpr int N = P::N;
    if (W.in < N) return;
    for (int64_t c = 0; c + N <= W.in; c += N) cols.push_back(c);
    if (W.in % N) cols.push_back(W.in - N);  // overlaps the previous pack: stores the same values
    if (phantoms) front = std::max<int64_t>(0, (W.k - 1) * W.d - W.p), reach = W.in + W.p;
    reach = std::max(reach, W.out + N);  // a pack's load from the row's last state (kinds 1, 2)
    const Holders hw(W, 1, phantoms);  // the outputs whose windows hold each column, in scan order
    for (const int64_t n : hw.count) rounds = std::max(rounds, n);
    if (rounds > max_rounds) return;
    for (size_t p = 0; p < cols.size(); ++p) {
      const int64_t c0 = cols[p];
      const int64_t* counts = &hw.count[size_t(c0)];  // lane l: column c0 + l
      const int64_t* ows = &hw.outs[size_t(c0 * W.k)];
      for (int64_t q = 0; q < rounds; ++q) {
        Step st{};
        int64_t lo = INT64_MAX;
        for (int l = 0; l < N; ++l)
          if (q < counts[l]) lo = std::min(lo, ows[l * W.k + q]);
        st.any = lo != INT64_MAX;
        st.off = st.any ? lo : 0;
        alignas(64) int32_t idx[N];
        alignas(64) typename P::T valid[N];
        st.all = st.identity = true;
        for (int l = 0; l < N; ++l) {
          const bool v = q < counts[l];
          const int64_t i = v ? ows[l * W.k + q] - lo : 0;
          if (i >= N) return;  // beyond one load of states: not planned
          idx[l] = int32_t(i);
          valid[l] = v ? 1 : 0;
          st.all = st.all && v;
          st.identity = st.identity && i == l;
        }
        st.perm = P::perm(idx);
        st.mask = P::gt(P::load(valid), P::set1(typename P::T(0.5)));
        steps.push_back(st);
      }
      bool plain = true, full = true;
      for (int64_t q = 0; q < rounds; ++q) {
        const Step& st = steps[steps.size() - rounds + q];
        full = full && st.any && st.all;
        plain = plain && st.any && st.all && st.identity;
      }
      of_kind[plain ? 0 : full ? 1 : 2].push_back(int64_t(p));
    }
    // Kind 0's rounds at shared shifts from the packs' columns (those of its first pack),
    // so that they need no offsets of their own; a pack in place at other shifts is of
    // kind 1 (an identity permute). Only stride 1 puts packs in place, and it puts all at
    // the same shifts.
    shift0.assign(size_t(rounds), 0);
    std::vector<int64_t> in_place;
    for (const int64_t p : of_kind[0]) {
      bool same = true;
      for (int64_t q = 0; q < rounds; ++q) {
        const int64_t d = steps[size_t(p * rounds + q)].off - cols[size_t(p)];
        if (in_place.empty()) shift0[size_t(q)] = d;
        same = same && d == shift0[size_t(q)];
      }
      (same ? in_place : of_kind[1]).push_back(p);
    }
    of_kind[0] = std::move(in_place);
    ok = true;
  }
};

// The gathers' buffers of output-row states (slot_len values each), filled on demand:
// the output rows one input row needs never share a slot (their od, and their oh, lie
// within a span of sa, and sb, values), and as input rows advance, a row evicted is
// needed again only by a later depth (3-d), which then fills it anew.
template <class T>
struct StateRows {
  const Geometry& g;
  int64_t sa, sb, slot_len;
  Holders hd, hh;
  std::vector<T> buf;
  std::vector<int64_t> tags;  // the output row (od * out_h + oh) each slot holds
  StateRows(const Geometry& geo, int64_t len)
      : g(geo),
        sa((geo.dim[0].k - 1) * geo.dim[0].d / geo.dim[0].s + 1),
        sb((geo.dim[1].k - 1) * geo.dim[1].d / geo.dim[1].s + 1),
        slot_len(len),
        hd(geo.dim[0], sa),
        hh(geo.dim[1], sb) {
    if (fits()) buf.assign(size_t(sa * sb * slot_len), T(0)), tags.resize(size_t(sa * sb));
  }
  bool fits() const { return sa * sb * slot_len * int64_t(sizeof(T)) <= (int64_t(8) << 20); }
  void reset() { std::fill(tags.begin(), tags.end(), int64_t(-1)); }  // a new plane or group
  // The states of the output rows whose windows hold input row r, in scan order, into
  // srcs; fill(slot, row) makes a row's states. Returns their count.
  template <class Fill>
  int sources(int64_t r, const T** srcs, Fill&& fill) {
    const int64_t hin = g.dim[1].in, kd = g.dim[0].k, kh = g.dim[1].k;
    const int64_t t = r / hin, h = r - t * hin;
    int ns = 0;
    for (int64_t i = 0; i < hd.count[size_t(t)]; ++i)
      for (int64_t k = 0; k < hh.count[size_t(h)]; ++k) {
        const int64_t row = hd.outs[size_t(t * kd + i)] * g.dim[1].out + hh.outs[size_t(h * kh + k)];
        const int64_t s = hd.part[size_t(t * kd + i)] * sb + hh.part[size_t(h * kh + k)];
        T* slot = buf.data() + s * slot_len;
        if (tags[size_t(s)] != row) fill(slot, row), tags[size_t(s)] = row;
        srcs[ns++] = slot;
      }
    return ns;
  }
};

template <template <class> class R, class S, int SK, class PG>
bool backward_gather_with(const KernelArgs& a, int64_t begin, int64_t end, const GatherPlan<PG>& plan) {
  using PW = typename PacksFor<S>::Wide;
  using P1 = typename PacksFor<S>::One;
  using T = typename PacksFor<S>::T;
  using StateW = decltype(std::declval<R<PW>>().prep(std::declval<const RowWindow<PW, S, SK>&>(), typename PW::F{}));
  using State1 = decltype(std::declval<R<P1>>().prep(std::declval<const RowWindow<P1, S, SK>&>(), T{}));
  using StateG = decltype(std::declval<R<PG>>().prep(std::declval<const RowWindow<PG, S, SK>&>(), typename PG::F{}));
  constexpr int K = int(sizeof(StateW) / sizeof(typename PW::F));  // value packs per state
  static_assert(sizeof(StateW) == K * sizeof(typename PW::F) && sizeof(State1) == K * sizeof(T) &&
                    sizeof(StateG) == K * sizeof(typename PG::F),
                "a gathering reducer's State holds value packs only");
  const Geometry& g = a.g;
  const Dim &D = g.dim[0], &H = g.dim[1], &W = g.dim[2];
  const R<PW> rw(a);
  const R<P1> r1o(a);
  const R<PG> rg(a);
  const S* in = static_cast<const S*>(a.input);
  const S* gout = static_cast<const S*>(a.grad_output);
  S* gin = static_cast<S*>(a.grad_input);
  const int64_t in_plane = g.in_plane();
  int64_t lo, hi;
  interior<SK>(W, lo, hi);
  if (PW::N == 1 || (!PW::wide_index && in_plane > INT32_MAX) || hi - lo < PW::N) lo = hi = 0;

  // A state row: plan.front zeros, the W.out states, zeros up to where a load may read.
  const int64_t front = plan.front, row_len = front + plan.reach;
  StateRows<T> rows(g, K * row_len);
  if (!rows.fits()) return false;
  const bool stream = a.stream && whole_lines(gin, W.in * int64_t(sizeof(S)));
  const TapTables tt(g);

  auto put = [&](T* slot, int64_t ow, const auto& st, auto tag) {
    using P = decltype(tag);
    typename P::F v[K];
    std::memcpy(static_cast<void*>(v), &st, sizeof v);
    for (int k = 0; k < K; ++k) P::store(slot + k * row_len + front + ow, v[k]);
  };
  auto fill = [&](T* slot, const S* ip, int64_t plane, int64_t prow) {
    const RowTaps rt(tt, prow / H.out, prow % H.out);
    const int64_t row = plane * D.out * H.out + prow;
    auto one = [&](int64_t ow) {
      const auto w = row_window<P1, S, SK>(g, tt, ip, rt, row, ow, false);
      put(slot, ow, r1o.prep(w, w.load_out(gout)), P1{});
    };
    auto pack = [&](int64_t ow) {
      const auto w = row_window<PW, S, SK>(g, tt, ip, rt, row, ow, true);
      // grad_output 2 KiB ahead (avg 3x3 s1 p1 backward, full size, 2 threads, Zen 4
      // AVX-512: float32 0.91-0.92x the time, bfloat16 0.99x).
      prefetch_ahead(gout + row * W.out + ow, 2048);
      put(slot, ow, rw.prep(w, w.load_out(gout)), PW{});
    };
    int64_t ow = 0;
    for (; ow < lo; ++ow) one(ow);
    for (; ow + PW::N <= hi; ow += PW::N) pack(ow);
    if (ow < hi) pack(hi - PW::N);
    for (ow = std::max(ow, hi); ow < W.out; ++ow) one(ow);
  };
  LevelArray<const T*> srcs(size_t(D.k * H.k));
  const int64_t nr = plan.rounds;

  for_each_band(a, begin, end, [&](int64_t plane, int64_t r0, int64_t r1) __attribute__((always_inline)) {
    const S* ip = in ? in + plane * in_plane : nullptr;
    rows.reset();
    for (int64_t r = r0; r < r1; ++r) {
      const int ns = rows.sources(r, srcs.data(), [&](T* slot, int64_t prow) { fill(slot, ip, plane, prow); });
      const S* xrow = ip ? ip + r * W.in : nullptr;
      S* grow = gin + plane * in_plane + r * W.in;
      // Each element's sum is a chain of dependent adds in scan order: one pack at a
      // time waited on the add's latency at every round (avg 3x3 s1: 9 rounds, half the
      // kernel's time). NB packs of one kind at a time interleave independent chains,
      // each sum's order unchanged; a masked round adds +0 to the lanes without one,
      // which changes no sum (a sum started at +0 is never -0), so the select stays off
      // the chain. A block short of NB packs repeats its last (computed, not stored).
      auto blocks = [&](const std::vector<int64_t>& packs, auto nb, auto permuted, auto masked) {
        constexpr int NB = decltype(nb)::value;
        const auto zero = PG::set1(T(0));
        for (size_t i = 0; i < packs.size(); i += NB) {
          int64_t col[NB];
          typename PG::F x[NB], acc[NB];
          typename PG::I index[NB];
          const typename GatherPlan<PG>::Step* steps[NB];
          // Every index into these arrays a constant (static_for): the sums stay in
          // registers. Indexed in loops, the permuted blocks' sums lived on the stack, a
          // store and a load in every add's chain (avg 3x3 s1 p1 backward, Zen 4, per-call
          // A/B, AVX-512 and AVX2, float32 and bfloat16: 0.86-0.91x the time, full size
          // and in cache).
          static_for<NB>([&](auto bc) __attribute__((always_inline)) {
            constexpr int b = decltype(bc)::value;
            const int64_t p = packs[std::min(i + b, packs.size() - 1)];
            col[b] = plan.cols[size_t(p)];
            x[b] = zero;
            if constexpr (R<PG>::needs_input) x[b] = PG::load(xrow + col[b]);
            index[b] = PG::iadd(PG::lanes(1), r * W.in + col[b]);
            steps[b] = plan.steps.data() + p * nr;
            acc[b] = zero;
          });
          for (int n = 0; n < ns; ++n)
            for (int64_t q = 0; q < nr; ++q)
              static_for<NB>([&](auto bc) __attribute__((always_inline)) {
                constexpr int b = decltype(bc)::value;
                const auto& st = steps[b][q];
                // In place (kind 0): an add to the column in place of a load of the pack's
                // offset at every round (avg 3x3 s1 p1 backward, full size, 2 threads, Zen 4,
                // per-call A/B: AVX-512 float32 and bfloat16 0.94-0.95x the time, AVX2 0.86x).
                const int64_t off = permuted ? st.off : col[b] + plan.shift0[size_t(q)];
                typename PG::F v[K];
                for (int k = 0; k < K; ++k) {
                  v[k] = PG::load(srcs[n] + k * row_len + front + off);
                  if (permuted) v[k] = PG::permute(v[k], st.perm);  // (identity too: no branch here)
                }
                StateG sv;
                std::memcpy(static_cast<void*>(&sv), v, sizeof sv);
                auto c = rg.contrib(sv, x[b], index[b]);
                if (masked) c = PG::select(st.mask, c, zero);
                acc[b] = PG::add(acc[b], c);
              });
          // A repeated pack is not stored again: streamed, each store of the same line
          // went to memory (Zen 4, full size: avg 3x3 s1 backward 1.54x the time of plain
          // stores with them, where the streaming stores should save the lines' reads).
          const size_t nb = std::min<size_t>(NB, packs.size() - i);
          static_for<NB>([&](auto bc) __attribute__((always_inline)) {
            constexpr int b = decltype(bc)::value;
            if (size_t(b) >= nb) return;
            if (stream)
              PG::stream(grow + col[b], acc[b]);
            else
              PG::store(grow + col[b], acc[b]);
          });
        }
      };
      blocks(plan.of_kind[0], std::integral_constant<int, 4>{}, std::false_type{}, std::false_type{});
      blocks(plan.of_kind[1], std::integral_constant<int, 4>{}, std::true_type{}, std::false_type{});
      blocks(plan.of_kind[2], std::integral_constant<int, 2>{}, std::true_type{}, std::true_type{});
    }
  });
  return true;
}

// The gather where the reducer allows it and the geometry fits a plan: packs along
// the row, else one column at a time. False: use the scatter.
template <template <class> class R, class S, int SK>
bool backward_gather(const KernelArgs& a, int64_t begin, int64_t end) {
  using PW = typename PacksFor<S>::Wide;
  using P1 = typename PacksFor<S>::One;
  if constexpr (!R<P1>::gathers) {
    return false;
  } else {
    constexpr int64_t kMaxRounds = 16;
    const Dim& W = a.g.dim[2];
    const bool phantoms = ZeroStateAddsZero<R<P1>>::value && W.s == 1;
    if (PW::N > 1 && (PW::wide_index || a.g.in_plane() <= INT32_MAX)) {
      const GatherPlan<PW> plan(W, kMaxRounds, phantoms);
      if (plan.ok) return backward_gather_with<R, S, SK>(a, begin, end, plan);
    }
    const GatherPlan<P1> plan(W, kMaxRounds, phantoms);
    return plan.ok && backward_gather_with<R, S, SK>(a, begin, end, plan);
  }
}

// Whether the windows tile the input: along every dim k == s, no padding, no gaps
// (dilation 1) and in == out * k, so that each input element lies in exactly one window.
inline bool windows_tile(const Geometry& g) {
  for (const Dim& d : g.dim)
    if (d.k != d.s || d.p != 0 || (d.d != 1 && d.k != 1) || d.in != d.out * d.k) return false;
  return true;
}

// Backward where the windows tile the input and the reducer takes a whole window at
// once (R::own, windows of up to R::own_taps elements; 0: never): each window's
// contributions go straight into grad_input, every element stored once, with no
// state rows and nothing formed twice. Along the row, a pack's lanes are windows 1 or
// 2 columns apart: a plain store, or store2 interleaving the two width taps.
template <template <class> class R, class S, int SK>
bool backward_owned(const KernelArgs& a, int64_t begin, int64_t end) {
  using PW = typename PacksFor<S>::Wide;
  using P1 = typename PacksFor<S>::One;
  constexpr int kTaps = R<P1>::own_taps;
  if constexpr (kTaps == 0 || SK == 0) {
    return false;
  } else {
    const Geometry& g = a.g;
    const Dim &D = g.dim[0], &H = g.dim[1], &W = g.dim[2];
    if (!windows_tile(g) || W.k != SK || D.k * H.k * W.k > kTaps) return false;
    const R<PW> rw(a);
    const R<P1> r1o(a);
    const S* in = static_cast<const S*>(a.input);
    const S* gout = static_cast<const S*>(a.grad_output);
    S* gin = static_cast<S*>(a.grad_input);
    const int64_t in_plane = g.in_plane();
    const bool wide = PW::N > 1 && (PW::wide_index || in_plane <= INT32_MAX) && W.out >= PW::N;
    const bool stream = a.stream && whole_lines(gin, W.in * int64_t(sizeof(S)));
    const TapTables tt(g);
    for_each_band(a, begin, end, [&](int64_t plane, int64_t r0, int64_t r1) __attribute__((always_inline)) {
      const S* ip = in ? in + plane * in_plane : nullptr;  // none where the reducer needs none
      S* gp = gin + plane * in_plane;
      rows_meeting_band(g, tt, r0, r1, [&](int64_t prow, const RowTaps& rt, int64_t, int64_t) {
        const int64_t row = plane * D.out * H.out + prow;
        // Where each window row goes: its row of grad_input, or null outside the band
        // (a window the band splits is formed by both). The same for every pack of the row.
        // The window's element offsets from its first column, also the same for every
        // pack: visited as a list (RowWindow's Flat), not window row by window row, whose
        // set-up per row cost as much as a 2x2 window's taps (soft pooling).
        S* dst[kTaps / SK];
        int nrows = 0;
        window_rows(rt.td, rt.th, H.in,
                    [&](int64_t r) { dst[nrows++] = r >= r0 && r < r1 ? gp + r * W.in : nullptr; });
        int64_t taps[kTaps];
        const int64_t ntaps = window_taps(rt, H.in, W, taps);
        // Inlined: a call per pack, with its frame and reloads, cost as much as the window.
        auto window = [&](auto tag, const auto& red, int64_t ow) __attribute__((always_inline)) {
          using P = decltype(tag);
          auto w = row_window<P, S, SK, false, true>(g, tt, ip, rt, row, ow, true);
          w.taps = taps;
          w.ntaps = ntaps;
          typename P::F c[kTaps];  // visit order: window rows, then the SK width taps
          red.own(w, w.load_out(gout), c);
          const int64_t col = W.start(ow);
          if constexpr (SK == 2 && sizeof(S) == 2 && P::N > 1 && OwnUniform<R<P1>>::value) {
            // One value for the whole window: converted once, not at each row's store
            // (bfloat16 avg 2x2 backward, in cache, 1 thread: 0.81x the time).
            const auto b = P::bits32(gin, c[0]);
            for (int n = 0; n < nrows; ++n)
              if (dst[n]) {
                if (stream) P::stream2_bits(dst[n] + col, b, b); else P::store2_bits(dst[n] + col, b, b);
              }
            return;
          }
          for (int n = 0; n < nrows; ++n) {
            if (!dst[n]) continue;
            if constexpr (SK == 2) {
              if (stream)
                P::stream2(dst[n] + col, c[2 * n], c[2 * n + 1]);
              else
                P::store2(dst[n] + col, c[2 * n], c[2 * n + 1]);
            } else {
              P::store(dst[n] + col, c[n]);
            }
          }
        };
        if (wide) {
          // A stride-2 pack's odd tap reads one element past its last window (load2 reads
          // 2N elements from it, where Load2Pair does not apply): where the row's windows
          // read the input's last row, its last pack goes one lane at a time.
          const bool at_end = SK == 2 && ip && reads_last_row(g, rt, plane);
          int64_t ow = 0;
          for (; ow + PW::N <= W.out - at_end; ow += PW::N) window(PW{}, rw, ow);
          if (at_end)
            for (; ow < W.out; ++ow) window(P1{}, r1o, ow);
          else if (ow < W.out)
            window(PW{}, rw, W.out - PW::N);  // overlaps: stores the same values
        } else {
          for (int64_t ow = 0; ow < W.out; ++ow) window(P1{}, r1o, ow);
        }
      });
    });
    return true;
  }
}

// Owned windows, else the gather, else the scatter.
template <template <class> class R, class S, int SK>
void backward_contiguous_with(const KernelArgs& a, int64_t begin, int64_t end) {
  if (backward_owned<R, S, SK>(a, begin, end) || backward_gather<R, S, SK>(a, begin, end)) return;
  backward_rows<R, S, SK>(a, begin, end);
}

template <template <class> class R, class S>
void backward_contiguous(const KernelArgs& a, int64_t begin, int64_t end) {
  by_width_stride(a.g, [&](auto sk) { backward_contiguous_with<R, S, decltype(sk)::value>(a, begin, end); });
}

}  // namespace TORCHPOOL_CPU_CAPABILITY
}  // namespace cpu
}  // namespace torchpool
