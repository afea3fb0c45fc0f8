#pragma once
// The one routing core: moves each value to the position its index names within its
// plane. Max-pool backward and stochastic-pool backward (training) route gradients
// with it, max_unpool routes values; their adjoints (max_unpool's backward, max-pool's
// double backward) gather. Sources are laid out like the pooled tensor (g.out_plane()
// per plane), destinations like the unpooled one (g.in_plane()); the gather reads the
// unpooled side and writes the pooled one.
//
// A work item is a band of destination rows of one group (a plane, or a batch element
// with all its channels). It visits the source rows that can reach its band (all of
// them, for indices anywhere in the plane; where indices lie in their outputs' windows,
// as a pooling backward's do and max_unpool's usually do, the rows whose windows meet
// the band), in scan order, and keeps what lands in its band, adding or assigning (the
// latest in scan order wins): every destination is formed in source scan order
// whatever the thread count. An index it cannot route is reported, never written:
// kind 1, outside the plane; kind 2, outside the rows of its output's window.

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "torchpool/cpu/capability.h"
#include "torchpool/cpu/traversal/contiguous.h"

namespace torchpool {
namespace cpu {
namespace TORCHPOOL_CPU_CAPABILITY {

TP_INLINE void report_bad_index(const KernelArgs& a, int64_t kind, int64_t i) {
  if (a.bad_index) {
    __atomic_store_n(a.bad_index + 1, i, __ATOMIC_RELAXED);
    __atomic_store_n(a.bad_index, kind, __ATOMIC_RELAXED);
  }
}

// Whether the kBlock indices at p all lie in [lo, lo + span): one check for a block,
// which vectorizes, before its elements go unchecked.
constexpr int64_t kBlock = 16;
TP_INLINE bool block_in_range(const int64_t* p, int64_t lo, int64_t span) {
  bool ok = true;
  for (int64_t j = 0; j < kBlock; ++j) ok &= uint64_t(p[j] - lo) < uint64_t(span);
  return ok;
}

// dst[plane, idx[o]] += src[o] (Add) or = src[o]; destinations no source names are 0.
// Windowed: each index lies in its output's window, so an item visits only the source
// rows whose windows meet its band, and checks each index against its window's rows.
// A: the accumulator type. Sums are formed in T, except where windows are disjoint:
// then a destination receives at most one value, and the storage type is exact.
template <class S, bool Add, bool Windowed, class A>
void route_scatter_into(const KernelArgs& a, int64_t begin, int64_t end) {
  constexpr bool direct = std::is_same<A, S>::value || sizeof(A) == sizeof(S);
  // Sums in the scratch: 16-bit ones in float, and float and double ones where grad_input
  // is streamed past the cache (summing in place would first read each of its lines).
  constexpr bool may_stage = !direct || std::is_same<A, typename PacksFor<S>::T>::value;
  const Geometry& g = a.g;
  const S* src = static_cast<const S*>(a.grad_output);
  const int64_t* idx = a.grad_indices;
  S* dst = static_cast<S*>(a.grad_input);
  const int64_t lanes = group_lanes(a), W = g.dim[2].in, Wo = g.dim[2].out;
  const int64_t sp_src = g.out_plane(), sp_dst = g.in_plane(), rows = g.dim[0].in * g.dim[1].in;
  const TapTables tt(g);
  for_each_band(a, begin, end, [&](int64_t grp, int64_t r0, int64_t r1) __attribute__((always_inline)) {
    const int64_t d0 = r0 * W, d1 = r1 * W;
    // acc[(i - d0) * lanes + c]: lane c of destination position i of the band
    const bool in_place = !may_stage || (direct && !(a.stream && a.scratch));
    A* acc = in_place ? reinterpret_cast<A*>(dst) + (grp * sp_dst + d0) * lanes : static_cast<A*>(a.scratch);
    std::memset(static_cast<void*>(acc), 0, sizeof(A) * (d1 - d0) * lanes);  // 0 in every dtype
    auto put = [&](A& d, const S& v) {
      if constexpr (!Add) {
        d = v;
      } else if constexpr (std::is_same<A, S>::value && sizeof(S) == 2) {
        // Into a zero (disjoint windows: nearly always) the sum is v itself, unless v
        // is -0 or NaN, which the float add changes: then skip the conversions.
        constexpr uint16_t inf = std::is_same<S, bf16>::value ? 0x7F80 : 0x7C00;
        if (d.x == 0 && v.x != 0x8000 && (v.x & 0x7FFF) <= inf) {
          d = v;
        } else {
          narrow(&d, widen(d) + widen(v));
        }
      } else {
        d += widen(v);
      }
    };
    // A block of kBlock sources whose indices were checked, at si and sv: contiguous
    // (lanes 1) consecutive outputs, channels-last the channels from c of one pixel.
    // 16-bit values summed in float are widened a vector at a time first, not one by
    // one in the element loop (full size, 2 threads, Zen 4 AVX-512, max 3x3 s2 p1
    // backward, channels-last: bfloat16 0.79-0.89x the time, float16 0.67x;
    // contiguous, where blocks were already unchecked: 1.00-1.02x).
    auto put_block = [&](const int64_t* si, const S* sv, int64_t c) __attribute__((always_inline)) {
      auto at = [&](int64_t j) -> A& { return acc[(si[j] - d0) * lanes + (lanes == 1 ? 0 : c + j)]; };
      if constexpr (Add && !direct) {
        using PW = typename PacksFor<S>::Wide;
        static_assert(kBlock % PW::N == 0, "a block is whole packs");
        A w[kBlock];
        for (int64_t j = 0; j < kBlock; j += PW::N) PW::store(w + j, PW::load(sv + j));
        for (int64_t j = 0; j < kBlock; ++j) at(j) += w[j];
      } else {
        for (int64_t j = 0; j < kBlock; ++j) put(at(j), sv[j]);
      }
    };
    // Source row prow (od * out_h + oh): its indices must lie in rows [first, last].
    auto source_row = [&](int64_t prow, int64_t first, int64_t last) {
      const int64_t lo = first * W, hi = (last + 1) * W;
      const bool inside = lo >= d0 && hi <= d1;  // usually: no band check needed
      const S* sv = src + (grp * sp_src + prow * Wo) * lanes;
      const int64_t* si = idx + (grp * sp_src + prow * Wo) * lanes;
      // In steps of kBlock outputs of a contiguous row (fewer at its end), or of a
      // pixel: unchecked blocks after a check of all their indices at once
      // (block_in_range), then the checked loop. Channels-last, where adding (float32
      // max 5x5 s1 p2 backward, full size, 2 threads: 0.82x the time, 5x5 s2 and 4x4
      // s2 0.85x, float64 5x5 s1 0.94x; 16-bit, whose blocks widen, took them before).
      const int64_t n = Wo * lanes, span = hi - lo, step = lanes == 1 ? kBlock : lanes;
      const bool blocks = inside && (lanes == 1 || Add);
      for (int64_t f = 0; f < n; f += step) {
        const int64_t m = std::min(step, n - f);
        int64_t c = 0;
        if (blocks)
          for (; c + kBlock <= m && block_in_range(si + f + c, lo, span); c += kBlock) {
            // The indices, the largest stream, 2 KiB ahead (max 3x3 s2 p1 backward, full
            // size, 2 threads, Zen 4 AVX-512: float32 0.89x the time, bfloat16
            // 0.87-0.89x, float16 0.93x).
            prefetch_ahead(si + f + c, 2048);
            prefetch_ahead(si + f + c, 2048 + 64);
            put_block(si + f + c, sv + f + c, c);
          }
        for (; c < m; ++c) {
          const int64_t i = si[f + c];
          if (uint64_t(i - lo) >= uint64_t(span)) {
            report_bad_index(a, uint64_t(i) < uint64_t(sp_dst) ? 2 : 1, i);
          } else if (inside || (i >= d0 && i < d1)) {
            put(acc[(i - d0) * lanes + (lanes == 1 ? 0 : c)], sv[f + c]);
          }
        }
      }
    };
    if constexpr (Windowed) {
      rows_meeting_band(g, tt, r0, r1, [&](int64_t prow, const RowTaps&, int64_t first, int64_t last) {
        source_row(prow, first, last);
      });
    } else {
      for (int64_t prow = 0; prow < g.dim[0].out * g.dim[1].out; ++prow) source_row(prow, 0, rows - 1);
    }
    if constexpr (may_stage)
      if (!in_place) narrow_out(dst + (grp * sp_dst + d0) * lanes, acc, (d1 - d0) * lanes, a.stream);
  });
}

template <class S, bool Add, bool Windowed>
void route_scatter(const KernelArgs& a, int64_t begin, int64_t end) {
  using T = typename PacksFor<S>::T;
  if constexpr (!Add) {
    route_scatter_into<S, Add, Windowed, S>(a, begin, end);
  } else if (Windowed && a.disjoint_windows) {
    // Disjoint windows bound what a destination receives only where indices lie in them.
    route_scatter_into<S, Add, Windowed, S>(a, begin, end);
  } else {
    route_scatter_into<S, Add, Windowed, T>(a, begin, end);
  }
}

// Where windows are disjoint, the window holding each position along a dim: owner[x]
// is the output whose window has x as a tap, or -1 if none does.
struct Owners {
  std::vector<int64_t> dim[3];
  explicit Owners(const Geometry& g) {
    for (int i = 0; i < 3; ++i) {
      const Dim& d = g.dim[i];
      dim[i].assign(size_t(d.in), -1);
      for (int64_t x = 0; x < d.in; ++x) {
        const int64_t o = (x + d.p) / d.s, r = x + d.p - o * d.s;
        if (o < d.out && r % d.d == 0 && r / d.d < d.k) dim[i][size_t(x)] = o;
      }
    }
  }
};

// Channels-last, the scatter of an adding routing where windows overlap, as a gather:
// each destination pixel sums, a channel pack at a time, the values of the windows
// holding it whose index names it, in source scan order from +0 (adding +0 for the
// others, which changes no sum that starts at +0): the scatter's sums exactly, each
// destination stored once, without the zeroing, scratch and read-modify-write passes.
// Work items and a.matched as route_owned's (a valid index names one position of its
// window, so it is matched once). 32- and 64-bit storage only (see route_owned).
template <class S>
void route_held(const KernelArgs& a, int64_t begin, int64_t end) {
  using PW = typename PacksFor<S>::Wide;
  using P1 = typename PacksFor<S>::One;
  using T = typename PacksFor<S>::T;
  const Geometry& g = a.g;
  const Dim &D = g.dim[0], &H = g.dim[1], &W = g.dim[2];
  const int64_t C = g.channels, sp_src = g.out_plane(), sp_dst = g.in_plane();
  const S* src = static_cast<const S*>(a.grad_output);
  const int64_t* idx = a.grad_indices;
  S* dst = static_cast<S*>(a.grad_input);
  static_assert(sizeof(S) >= 4, "16-bit storage scatters instead");
  const bool stream = a.stream && whole_lines(dst, C * int64_t(sizeof(S)));
  const Holders hd(D, 1), hh(H, 1), hw(W, 1);
  std::vector<int64_t> rows(size_t(D.k * H.k));  // the source rows holding a row (offsets)
  int64_t matched = 0;
  const bool tally_each_pixel = W.out * D.k * H.k >= INT32_MAX;
  for_each_band(a, begin, end, [&](int64_t n, int64_t r0, int64_t r1) __attribute__((always_inline)) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t t = r / H.in, h = r - t * H.in;
      int nr = 0;
      for (int64_t i = 0; i < hd.count[size_t(t)]; ++i)
        for (int64_t k = 0; k < hh.count[size_t(h)]; ++k) {
          const int64_t prow = hd.outs[size_t(t * D.k + i)] * H.out + hh.outs[size_t(h * H.k + k)];
          rows[size_t(nr++)] = (n * sp_src + prow * W.out) * C;
        }
      S* drow = dst + (n * sp_dst + r * W.in) * C;
      // The row's matches, counted in registers (a count() per tap moved each mask
      // out of the vector unit: a third of the kernel's time in perf). A lane counts
      // at most the outputs whose windows hold the row, W.out * D.k * H.k; where that
      // could pass a Tally lane's 2^31, the count is taken at every pixel instead.
      auto tally_w = Tallies<PW>::zero();
      auto tally_1 = Tallies<P1>::zero();
      auto take_tally = [&] {
        matched += Tallies<PW>::sum(tally_w) + Tallies<P1>::sum(tally_1);  // (one stays 0 where PW is P1)
        tally_w = Tallies<PW>::zero();
        tally_1 = Tallies<P1>::zero();
      };
      for (int64_t x = 0; x < W.in; ++x) {
        S* out = drow + x * C;
        const int64_t nw = hw.count[size_t(x)], pos = r * W.in + x;
        const int64_t* ows = &hw.outs[size_t(x * W.k)];
        auto pack = [&](auto tag, int64_t c, auto& tally) {
          using P = decltype(tag);
          const auto zero = P::set1(T(0));
          auto sum = zero;
          for (int q = 0; q < nr; ++q)
            for (int64_t j = 0; j < nw; ++j) {
              const int64_t o = rows[size_t(q)] + ows[j] * C + c;
              const auto m = P::idx_eq(idx + o, pos);
              sum = P::add(sum, P::select(m, P::load(src + o), zero));
              tally = Tallies<P>::add(tally, m);
            }
          if (stream) P::stream(out + c, sum); else P::store(out + c, sum);
        };
        int64_t c = 0;
        if constexpr (PW::N > 1)
          for (; c + PW::N <= C; c += PW::N) pack(PW{}, c, tally_w);
        for (; c < C; ++c) pack(P1{}, c, tally_1);
        if (tally_each_pixel) take_tally();
      }
      take_tally();
    }
  });
  __atomic_fetch_add(a.matched, matched, __ATOMIC_RELAXED);
}

// Channels-last, the scatter where no two windows share an element, as a gather:
// each destination pixel takes, channel by channel, the value of the one window
// holding it where that window's index names it, else 0 (Add: as 0 + value, so a -0
// lands as +0, as in torch's scatter-add; else the value's bits, as max_unpool's).
// Each destination is written once, without a zeroing pass or read-modify-write, in
// loops along C that vectorize. (Contiguous rows: route_owned_rows below, for tiling
// width-2 windows; elsewhere a per-destination gather there would not vectorize.) A
// destination receives at most one value, so sums need no order. Work items as
// route_scatter_into's. Adds to a.matched the sources whose index named a position of
// their window: if that falls short of all sources, some index lies elsewhere and the
// caller scatters instead. Where windows (of up to 9 elements) overlap, an adding routing
// is route_held's for 32- and 64-bit storage; 16-bit storage scatters (the caller's route_scatter, summing
// in float): route_held's index compares per window tap then cost more than its single
// store saves (bfloat16 max 3x3 s2 p1 backward, full size, 2 threads: 9.7 ms held,
// 7.9 ms scattered; float32 the other way, 8.3 vs 10.3 ms).
template <class S, bool Add>
void route_owned(const KernelArgs& a, int64_t begin, int64_t end) {
  using U = std::conditional_t<sizeof(S) == 2, uint16_t, std::conditional_t<sizeof(S) == 4, uint32_t, uint64_t>>;
  static_assert(sizeof(U) == sizeof(S), "values move as bits");
  constexpr U minus_zero = U(U(1) << (8 * sizeof(U) - 1));
  if (!a.disjoint_windows) {
    // Up to 9 window elements: each destination's compares, one per window holding it,
    // cost less than the scatter's passes; beyond, more (float32 channels-last max
    // backward, full size, 2 threads, held against scattered: 3x3 s2 p1 0.85x the time,
    // 3x3 s1 0.85x, 2x2 s1 0.75x; 4x4 s2 1.08x, 5x5 s2 1.34x, 5x5 s1 1.67x).
    if constexpr (Add && sizeof(S) >= 4)
      if (a.g.dim[0].k * a.g.dim[1].k * a.g.dim[2].k <= 9) route_held<S>(a, begin, end);
    return;  // (else a.matched stays short: the caller scatters)
  }
  const Geometry& g = a.g;
  const U* src = static_cast<const U*>(a.grad_output);
  const int64_t* idx = a.grad_indices;
  U* dst = static_cast<U*>(a.grad_input);
  const int64_t C = g.channels, H = g.dim[1].in, W = g.dim[2].in;
  const int64_t Ho = g.dim[1].out, Wo = g.dim[2].out, sp_src = g.out_plane(), sp_dst = g.in_plane();
  const Owners own(g);
  int64_t matched = 0;
  for_each_band(a, begin, end, [&](int64_t n, int64_t r0, int64_t r1) __attribute__((always_inline)) {
    for (int64_t r = r0; r < r1; ++r) {
      U* d = dst + (n * sp_dst + r * W) * C;
      const int64_t od = own.dim[0][size_t(r / H)], oh = own.dim[1][size_t(r % H)];
      if (od < 0 || oh < 0) {
        std::memset(static_cast<void*>(d), 0, sizeof(U) * W * C);
        continue;
      }
      const int64_t srow = (n * sp_src + (od * Ho + oh) * Wo) * C;
      int64_t m = 0;
      for (int64_t x = 0; x < W; ++x) {
        U* dp = d + x * C;
        const int64_t ow = own.dim[2][size_t(x)];
        if (ow < 0) {
          std::memset(static_cast<void*>(dp), 0, sizeof(U) * C);
          continue;
        }
        const U* vp = src + srow + ow * C;
        const int64_t* ip = idx + srow + ow * C;
        const int64_t pos = r * W + x;
        // Masks, not a branch: a conditional store of 16-bit values beside int64
        // compares does not vectorize on AVX2 (it did only where AVX-512 masks it).
        for (int64_t c = 0; c < C; ++c) {
          const bool hit = ip[c] == pos;
          const U keep = U(-U(hit)) & (Add ? U(-U(vp[c] != minus_zero)) : U(~U(0)));
          dp[c] = vp[c] & keep;
          m += hit;
        }
      }
      matched += m;
    }
  });
  __atomic_fetch_add(a.matched, matched, __ATOMIC_RELAXED);
}

// Contiguous, route_owned where the windows tile the input with width taps 2 (the
// usual 2x2/s2; windows_tile in contiguous.h), vectorized along the row: a pack of
// sources loads its values and indices once, and each window row in the band takes,
// in its two width taps, the value where the index names the tap, else 0 (Add: 0 +
// value, as route_owned) — stored interleaved (store2), every destination once. Other
// geometries match nothing here, and the caller scatters. 16-bit storage moves as bits
// (the pack's Bits), converted once per pack rather than at each window row's store
// (Add: the bits of 0 + value; assigning: the value's own bits, every NaN kept).
template <class S, bool Add>
void route_owned_rows(const KernelArgs& a, int64_t begin, int64_t end) {
  using P = typename PacksFor<S>::Wide;
  using T = typename PacksFor<S>::T;
  constexpr bool as_bits = sizeof(S) == 2 && P::N > 1;
  const Geometry& g = a.g;
  const Dim &H = g.dim[1], &W = g.dim[2];
  const int64_t sp_src = g.out_plane(), sp_dst = g.in_plane();
  if (!windows_tile(g) || W.k != 2 || g.dim[0].k * H.k > 64 || P::N == 1 || (!P::wide_index && sp_dst > INT32_MAX) ||
      W.out < P::N)
    return;
  const S* src = static_cast<const S*>(a.grad_output);
  const int64_t* idx = a.grad_indices;
  S* dst = static_cast<S*>(a.grad_input);
  const bool stream = a.stream && whole_lines(dst, W.in * int64_t(sizeof(S)));
  const TapTables tt(g);
  int64_t matched = 0;
  for_each_band(a, begin, end, [&](int64_t plane, int64_t r0, int64_t r1) __attribute__((always_inline)) {
    rows_meeting_band(g, tt, r0, r1, [&](int64_t prow, const RowTaps& rt, int64_t, int64_t) {
      const S* sv = src + plane * sp_src + prow * W.out;
      const int64_t* si = idx + plane * sp_src + prow * W.out;
      int64_t rows[64];  // the window rows in the band (at most k_d * k_h <= 64)
      int nr = 0;
      window_rows(rt.td, rt.th, H.in, [&](int64_t r) {
        if (r >= r0 && r < r1) rows[nr++] = r;
      });
      // The last pack ends at W.out, overlapping the one before: it stores the same
      // values again, and counts only its new lanes.
      for (int64_t ow = 0; ow < W.out; ow += P::N) {
        const int64_t at = ow + P::N <= W.out ? ow : W.out - P::N;
        const auto ix = P::load_idx(si + at);
        const auto zero = P::set1(T(0));
        // What a destination the index names receives: 0 + v made once per pack
        // (select(m, 0 + v, 0) is 0 + select(m, v, 0), as 0 + 0 is +0).
        const auto v = Add ? P::add(zero, P::load(sv + at)) : P::load(sv + at);
        auto hit = P::gt(zero, zero);  // no lane
        auto vb = [&] {
          if constexpr (as_bits) return Add ? P::bits32(dst, v) : P::load_bits(sv + at); else return 0;
        }();
        for (int n = 0; n < nr; ++n) {
          const auto tap = P::iadd(P::lanes(2), rows[n] * W.in + 2 * at);
          const auto m0 = P::ieq(ix, tap), m1 = P::ieq(ix, P::iadd(tap, 1));
          hit = P::mor(hit, P::mor(m0, m1));
          S* d = dst + plane * sp_dst + rows[n] * W.in + 2 * at;
          if constexpr (as_bits) {
            const auto c0 = P::select_bits(m0, vb), c1 = P::select_bits(m1, vb);
            if (stream) P::stream2_bits(d, c0, c1); else P::store2_bits(d, c0, c1);
          } else {
            const auto c0 = P::select(m0, v, zero), c1 = P::select(m1, v, zero);
            if (stream) P::stream2(d, c0, c1); else P::store2(d, c0, c1);
          }
        }
        if (at != ow) hit = P::mand(hit, lanes_from<P>(ow - at));
        matched += P::count(hit);
      }
    });
  });
  __atomic_fetch_add(a.matched, matched, __ATOMIC_RELAXED);
}

// The scatter's adjoint: out[o] = src[plane, idx[o]], from the unpooled side (a.input)
// to the pooled side (a.output), a copy of the bits. Work items as forward_items():
// rows of a plane (contiguous) or pixels with all their channels (channels-last); each
// writes its own elements. An index outside the plane is reported and reads nothing.
template <class S>
void route_gather(const KernelArgs& a, int64_t begin, int64_t end) {
  const Geometry& g = a.g;
  const S* src = static_cast<const S*>(a.input);
  const int64_t* idx = a.grad_indices;
  S* out = static_cast<S*>(a.output);
  const bool cl = a.layout == Layout::channels_last;
  const int64_t lanes = group_lanes(a), sp_src = g.in_plane();
  const int64_t len = cl ? g.channels : g.dim[2].out;  // elements per item
  const int64_t items_per_group = cl ? g.out_plane() : g.dim[0].out * g.dim[1].out;
  const int64_t lane_step = cl ? 1 : 0;  // element e of an item is channel e, or one plane
  // Where the CPU's gathers are fast (fast_gather()), 32- and 64-bit storage a pack at a
  // time: one index load, range check and hardware gather (full size, 2 threads, Xeon
  // AVX-512: float32 max_unpool backward 10.1 -> 7.7 ms, torch 9.4); else blocks of
  // element loads (on Zen 4 the gathers took 14.4 ms, the blocks 6.8). A pack or block
  // holding an index outside the plane goes one element at a time.
  using PW = typename PacksFor<S>::Wide;
  constexpr bool packs = PW::N > 1 && std::is_same_v<S, typename PW::T>;
  const bool hardware = packs && fast_gather() && sp_src < INT32_MAX && lanes < INT32_MAX;
  for (int64_t item = begin; item < end; ++item) {
    const S* plane = src + item / items_per_group * sp_src * lanes;
    const int64_t* ii = idx + item * len;
    S* o = out + item * len;
    int64_t e = 0;
    if constexpr (packs) {
      if (hardware)
        for (typename PW::F v; e + PW::N <= len && PW::gather(plane + e * lane_step, ii + e, lanes, lane_step, sp_src, v);
             e += PW::N)
          PW::store(o + e, v);
    }
    // Blocks of unchecked loads after one check of their indices.
    for (; e + kBlock <= len && block_in_range(ii + e, 0, sp_src); e += kBlock)
      for (int64_t j = 0; j < kBlock; ++j) o[e + j] = plane[ii[e + j] * lanes + (e + j) * lane_step];
    for (; e < len; ++e) {
      const int64_t i = ii[e];
      if (uint64_t(i) < uint64_t(sp_src)) {
        o[e] = plane[i * lanes + e * lane_step];
      } else {
        report_bad_index(a, 1, i);
        o[e] = S{};
      }
    }
  }
}

}  // namespace TORCHPOOL_CPU_CAPABILITY
}  // namespace cpu
}  // namespace torchpool
