#pragma once
// The shared CUDA traversals: what one thread does with one work item, for every
// family. A reducer plugs in as on the CPU (cpu/traversal/contiguous.h):
//   R(const KernelArgs&)
//   forward(window, S* out, int64_t* indices)            a thread's outputs
//   needs_input, prep(window, F grad) -> state,
//   contrib(state, F x, I index) -> F                     what one element receives
// A window offers visit(f(x, index)) in torch's scan order, first_index(), the valid
// and padded element counts, store()/store_idx(), and the outputs' NCDHW linear index
// (lin; lane l: lin + l * lin_step).
//
// Forward: one thread per output (contiguous: consecutive threads along W; channels-
// last: along C, V channels per thread). Backward: one thread per input element (or V
// channels of one), which gathers from the outputs over it in ascending order, so each
// sum is formed in output scan order as on the CPU: no atomics, the same bits every
// run. The routing core (max pooling's backward) gathers the same way, by index;
// unpooling's bodies (at the end) move values to and from their indices.
//
// Bodies are functors of the work item (kernels.cuh runs them in a grid-stride loop);
// torch-free and __host__ __device__, so the Catch2 tests run them on the host.

#include <type_traits>

#include "torchpool/cuda/pack.h"
#include "torchpool/cuda/window.h"

namespace torchpool {
namespace cuda {

template <class P, class S, class Idx, bool CL>
struct Window {
  using F = typename P::F;
  using I = typename P::I;
  const S* base;  // the input plane (contiguous), or the batch element at the first lane's channel
  Span<Idx> td, th, tw;
  Idx dd, dh, dw;   // steps between taps (the dilations)
  Idx hin, win, C;  // C: elements between spatial positions (channels-last)
  int64_t valid, padded;
  Idx lin, lin_step;

  template <class Fn>
  TP_INLINE void visit(Fn&& f) const {
    for (Idx i = 0; i < td.count; ++i) {
      const Idx t = td.first + i * dd;
      for (Idx j = 0; j < th.count; ++j) {
        const Idx row = (t * hin + th.first + j * dh) * win;
        for (Idx l = 0; l < tw.count; ++l) {
          const Idx sp = row + tw.first + l * dw;
          f(P::load(base + (CL ? sp * C : sp)), P::iset1(sp));
        }
      }
    }
  }
  TP_INLINE I first_index() const { return P::iset1((td.first * hin + th.first) * win + tw.first); }
  template <class T>
  TP_INLINE void store(T* p, const typename P::F& v) const {
    P::store(p, v);
  }
  TP_INLINE void store_idx(int64_t* p, const I& v) const { P::store_idx(p, v); }
};

// A window's fixed parts: the input at `base`, steps and sizes (taps, counts and lin
// are the caller's).
template <class P, class S, class Idx, bool CL>
TP_INLINE Window<P, S, Idx, CL> window_frame(const Shape<Idx>& sh, const S* base) {
  Window<P, S, Idx, CL> w;
  w.base = base;
  w.dd = sh.dim[0].d;
  w.dh = sh.dim[1].d;
  w.dw = sh.dim[2].d;
  w.hin = sh.dim[1].in;
  w.win = sh.dim[2].in;
  w.C = sh.channels;
  w.lin = 0;
  w.lin_step = sh.out_plane;
  return w;
}

// The window of output (od, oh, ow); lin is the caller's.
template <class P, class S, class Idx, bool CL>
TP_INLINE Window<P, S, Idx, CL> window_at(const Shape<Idx>& sh, const S* base, Idx od, Idx oh, Idx ow) {
  const DimI<Idx>&D = sh.dim[0], &H = sh.dim[1], &W = sh.dim[2];
  Window<P, S, Idx, CL> w = window_frame<P, S, Idx, CL>(sh, base);
  w.td = D.taps(od);
  w.th = H.taps(oh);
  w.tw = W.taps(ow);
  w.valid = int64_t(w.td.count) * w.th.count * w.tw.count;
  w.padded = int64_t(D.padded(od)) * H.padded(oh) * W.padded(ow);
  return w;
}

// A work item's position: batch element (channels-last) or plane (contiguous) n,
// spatial coordinates (of an output or input position), first channel c.
template <class Idx>
struct Place {
  Idx n, t, h, w, c;
};

// Splits a work item over positions of sizes (by_d, by_h, by_w): contiguous items are
// (plane, t, h, w); channels-last ones (n, t, h, w, channel group).
template <class Idx, bool CL, int V>
TP_INLINE Place<Idx> place_of(const Shape<Idx>& sh, Idx item, const Divider<Idx>& by_d,
                              const Divider<Idx>& by_h, const Divider<Idx>& by_w) {
  Place<Idx> p;
  Idx r = item, g = 0;
  if (CL) r = divmod(sh.groups, r, g);
  p.c = g * V;
  r = divmod(by_w, r, p.w);
  r = divmod(by_h, r, p.h);
  p.n = divmod(by_d, r, p.t);
  return p;
}

template <template <class> class R, class S, class Idx, bool CL, int V>
struct ForwardBody {
  using Index = Idx;
  using P = Pack<typename Compute<S>::T, V, Idx>;
  KernelArgs a;
  Shape<Idx> sh;

  // Work items: outputs (contiguous) or groups of V channels of an output pixel.
  TP_INLINE void operator()(Idx item) const {
    const R<P> red(a);
    const DimI<Idx>&D = sh.dim[0], &H = sh.dim[1], &W = sh.dim[2];
    const Place<Idx> q = place_of<Idx, CL, V>(sh, item, D.by_out, H.by_out, W.by_out);
    const Idx o = (q.t * H.out + q.h) * W.out + q.w;  // the output pixel in its plane
    const S* in = static_cast<const S*>(a.input);
    S* out = static_cast<S*>(a.output);
    // Offsets of the input plane / batch element and of the thread's first output.
    const Idx base = CL ? q.n * sh.in_plane * sh.channels + q.c : q.n * sh.in_plane;
    const Idx at = CL ? (q.n * sh.out_plane + o) * sh.channels + q.c : item;
    auto w = window_at<P, S, Idx, CL>(sh, in + base, q.t, q.h, q.w);
    w.lin = CL ? (q.n * sh.channels + q.c) * sh.out_plane + o : item;
    w.lin_step = sh.out_plane;
    red.forward(w, out + at, a.indices ? a.indices + at : nullptr);
  }
};

// The gather loop of a backward: calls f(window, o) for every output o (in its plane)
// whose window holds input position (t, h, w), in ascending (scan) order; each dim's
// taps are found once per loop level. lin0: the NCDHW linear index of the first output
// of the plane (of the first lane's channel).
template <class P, class S, class Idx, bool CL, class Fn>
TP_INLINE void windows_over(const Shape<Idx>& sh, const S* base, Idx lin0, Idx t, Idx h, Idx w,
                            Fn&& f) {
  const DimI<Idx>&D = sh.dim[0], &H = sh.dim[1], &W = sh.dim[2];
  Idx d0, d1, h0, h1, w0, w1;
  D.over(t, d0, d1);
  H.over(h, h0, h1);
  W.over(w, w0, w1);
  Window<P, S, Idx, CL> win = window_frame<P, S, Idx, CL>(sh, base);
  for (Idx od = d0; od <= d1; ++od) {
    if (!D.holds(od, t)) continue;
    win.td = D.taps(od);
    const int64_t pd = D.padded(od);
    for (Idx oh = h0; oh <= h1; ++oh) {
      if (!H.holds(oh, h)) continue;
      win.th = H.taps(oh);
      const int64_t vdh = int64_t(win.td.count) * win.th.count, pdh = pd * H.padded(oh);
      const Idx row = (od * H.out + oh) * W.out;
      for (Idx ow = w0; ow <= w1; ++ow) {
        if (!W.holds(ow, w)) continue;
        win.tw = W.taps(ow);
        win.valid = vdh * win.tw.count;
        win.padded = pdh * W.padded(ow);
        win.lin = lin0 + row + ow;
        f(win, row + ow);
      }
    }
  }
}

template <template <class> class R, class S, class Idx, bool CL, int V>
struct BackwardBody {
  using Index = Idx;
  using T = typename Compute<S>::T;
  using P = Pack<T, V, Idx>;
  KernelArgs a;
  Shape<Idx> sh;

  // Work items: input elements (contiguous) or groups of V channels of an input pixel.
  TP_INLINE void operator()(Idx item) const {
    const R<P> red(a);
    const DimI<Idx>&D = sh.dim[0], &H = sh.dim[1], &W = sh.dim[2];
    const Place<Idx> q = place_of<Idx, CL, V>(sh, item, D.by_in, H.by_in, W.by_in);
    const Idx sp = (q.t * H.in + q.h) * W.in + q.w;  // the input position in its plane
    const Idx base = CL ? q.n * sh.in_plane * sh.channels + q.c : q.n * sh.in_plane;
    const Idx at = CL ? base + sp * sh.channels : item;
    const S* in = static_cast<const S*>(a.input);
    const S* gout = static_cast<const S*>(a.grad_output);
    typename P::F x{};
    if constexpr (R<P>::needs_input) x = P::load(in + at);
    const typename P::I xi = P::iset1(sp);
    typename P::F acc = P::set1(T(0));
    const Idx lin0 = (CL ? q.n * sh.channels + q.c : q.n) * sh.out_plane;
    windows_over<P, S, Idx, CL>(sh, in ? in + base : nullptr, lin0, q.t, q.h, q.w, [&](const auto& w, Idx o) {
      const Idx g = CL ? (q.n * sh.out_plane + o) * sh.channels + q.c : q.n * sh.out_plane + o;
      acc = P::add(acc, red.contrib(red.prep(w, P::load(gout + g)), x, xi));
    });
    P::store(static_cast<S*>(a.grad_input) + at, acc);
  }
};

// The bodies of a reducer as templates of (storage, index type, layout, lanes) only,
// as the launchers take them.
template <template <class> class R>
struct Forward {
  template <class S, class Idx, bool CL, int V>
  using Body = ForwardBody<R, S, Idx, CL, V>;
};
template <template <class> class R>
struct Backward {
  template <class S, class Idx, bool CL, int V>
  using Body = BackwardBody<R, S, Idx, CL, V>;
};

// Records an index a routing kernel cannot route (the first to arrive): kind 1,
// outside the plane; kind 2, outside its output's window. The host raises after the
// kernel.
TP_INLINE void report_bad_index(int64_t* flag, int64_t kind, int64_t i) {
#if defined(__CUDA_ARCH__)
  using ull = unsigned long long;
  if (atomicCAS(reinterpret_cast<ull*>(flag), ull(0), ull(kind)) == ull(0)) flag[1] = i;
#else
  if (flag[0] == 0) {
    flag[0] = kind;
    flag[1] = i;
  }
#endif
}

// The routing core for a pooling backward: grad_input[plane, i] is the sum, in output
// scan order, of grad_output[o] over the outputs o over i whose index is i. Every
// output's index is checked by the thread of its window's first element: it must name
// an element of the window, else it is reported, and routes nowhere.
template <class S, class Idx, bool CL, int V>
struct RouteBody {
  using Index = Idx;
  using T = typename Compute<S>::T;
  using P = Pack<T, V, Idx>;
  KernelArgs a;
  Shape<Idx> sh;

  TP_INLINE void operator()(Idx item) const {
    const DimI<Idx>&D = sh.dim[0], &H = sh.dim[1], &W = sh.dim[2];
    const Place<Idx> q = place_of<Idx, CL, V>(sh, item, D.by_in, H.by_in, W.by_in);
    const Idx sp = (q.t * H.in + q.h) * W.in + q.w;
    const Idx at = CL ? (q.n * sh.in_plane + sp) * sh.channels + q.c : item;
    const S* gout = static_cast<const S*>(a.grad_output);
    typename P::F acc = P::set1(T(0));
    windows_over<P, S, Idx, CL>(sh, nullptr, Idx(0), q.t, q.h, q.w, [&](const auto& win, Idx o) {
      const Idx g = CL ? (q.n * sh.out_plane + o) * sh.channels + q.c : q.n * sh.out_plane + o;
      const int64_t* ix = a.grad_indices + g;
      typename P::M hit;
      TP_UNROLL
      for (int l = 0; l < V; ++l) hit.v[l] = ix[l] == int64_t(sp);
      if (P::any(hit)) {
        const typename P::F gv = P::load(gout + g);
        TP_UNROLL
        for (int l = 0; l < V; ++l)
          if (hit.v[l]) acc.v[l] += gv.v[l];
      }
      if (q.t == win.td.first && q.h == win.th.first && q.w == win.tw.first) {
        TP_UNROLL
        for (int l = 0; l < V; ++l) check(ix[l], win.td, win.th, win.tw);
      }
    });
    P::store(static_cast<S*>(a.grad_input) + at, acc);
  }

  TP_INLINE void check(int64_t i, const Span<Idx>& td, const Span<Idx>& th, const Span<Idx>& tw) const {
    if (i < 0 || i >= int64_t(sh.in_plane)) return report_bad_index(a.bad_index, 1, i);
    const DimI<Idx>&D = sh.dim[0], &H = sh.dim[1], &W = sh.dim[2];
    Idx hw, h, w;
    const Idx t = divmod(sh.in_hw, Idx(i), hw);
    h = divmod(W.by_in, hw, w);
    if (!D.is_tap(td, t) || !H.is_tap(th, h) || !W.is_tap(tw, w)) report_bad_index(a.bad_index, 2, i);
  }
};

// Unpooling (max_unpool, its gradient and its adjoint) on the routing core. Sources lie
// like the pooled side (sh.out_plane per plane), destinations like the unpooled side
// (sh.in_plane); an index names a destination within its plane. Bodies copy storage
// bits where they only move values; lanes are channels (planes) of their own.

// Where element sp of a plane of `plane_size` elements lies in its layout, for the
// first lane of a work item at q.
template <class Idx, bool CL>
TP_INLINE Idx offset_in(const Shape<Idx>& sh, const Place<Idx>& q, Idx plane_size, Idx sp) {
  return CL ? (q.n * plane_size + sp) * sh.channels + q.c : q.n * plane_size + sp;
}

// The parameters of the assigning scatter: one word per destination, in the
// destinations' layout, zero before the claims (unsigned Idx: a source position + 1).
struct Claims {
  void* owner = nullptr;
};
template <class Idx>
using ClaimWord = typename std::conditional<sizeof(Idx) == 4, unsigned int, unsigned long long>::type;

TP_INLINE void claim_max(unsigned int* p, unsigned int v) {
#if defined(__CUDA_ARCH__)
  atomicMax(p, v);
#else
  if (*p < v) *p = v;
#endif
}
TP_INLINE void claim_max(unsigned long long* p, unsigned long long v) {
#if defined(__CUDA_ARCH__)
  atomicMax(p, v);
#else
  if (*p < v) *p = v;
#endif
}

// The assigning scatter, pass 1: each source (work item: a pooled element, or V channels
// of one) claims its destination with its position in the plane. An integer maximum:
// the latest source in scan order owns each destination whatever the order the threads
// run in. An index outside the plane is reported and claims nothing.
template <class S, class Idx, bool CL, int V>
struct ClaimBody {
  using Index = Idx;
  KernelArgs a;
  Shape<Idx> sh;

  TP_INLINE void operator()(Idx item) const {
    const DimI<Idx>&D = sh.dim[0], &H = sh.dim[1], &W = sh.dim[2];
    const Place<Idx> q = place_of<Idx, CL, V>(sh, item, D.by_out, H.by_out, W.by_out);
    const Idx o = (q.t * H.out + q.h) * W.out + q.w;
    const Idx at = offset_in<Idx, CL>(sh, q, sh.out_plane, o);
    ClaimWord<Idx>* owner = static_cast<ClaimWord<Idx>*>(a.params<Claims>().owner);
    TP_UNROLL
    for (int l = 0; l < V; ++l) {
      const int64_t i = a.grad_indices[at + l];
      if (uint64_t(i) >= uint64_t(sh.in_plane)) {
        report_bad_index(a.bad_index, 1, i);
        continue;
      }
      claim_max(owner + offset_in<Idx, CL>(sh, q, sh.in_plane, Idx(i)) + l, ClaimWord<Idx>(o) + 1);
    }
  }
};

// Pass 2: each destination (an unpooled element, or V channels of one) copies the value
// of the source that owns it, or is 0.
template <class S, class Idx, bool CL, int V>
struct AssignBody {
  using Index = Idx;
  KernelArgs a;
  Shape<Idx> sh;

  TP_INLINE void operator()(Idx item) const {
    const DimI<Idx>&D = sh.dim[0], &H = sh.dim[1], &W = sh.dim[2];
    const Place<Idx> q = place_of<Idx, CL, V>(sh, item, D.by_in, H.by_in, W.by_in);
    const Idx at = offset_in<Idx, CL>(sh, q, sh.in_plane, (q.t * H.in + q.h) * W.in + q.w);
    const ClaimWord<Idx>* owner = static_cast<const ClaimWord<Idx>*>(a.params<Claims>().owner);
    const S* src = static_cast<const S*>(a.grad_output);
    Chunk<S, V> c;
    TP_UNROLL
    for (int l = 0; l < V; ++l) {
      const ClaimWord<Idx> w = owner[at + l];
      c.v[l] = w ? src[offset_in<Idx, CL>(sh, q, sh.out_plane, Idx(w - 1)) + l] : S{};
    }
    *reinterpret_cast<Chunk<S, V>*>(static_cast<S*>(a.grad_input) + at) = c;
  }
};

// The adding scatter over sources sorted by destination (stably: scan order within a
// destination): a.grad_output holds the sorted values, contiguous; a.grad_indices the
// start of each destination's run, plane-major (planes * in_plane + 1 entries). Each
// destination sums its run from 0 in the compute type, in scan order, as the CPU does.
template <class S, class Idx, bool CL, int V>
struct SumBody {
  using Index = Idx;
  using T = typename Compute<S>::T;
  KernelArgs a;
  Shape<Idx> sh;

  TP_INLINE void operator()(Idx item) const {
    const DimI<Idx>&D = sh.dim[0], &H = sh.dim[1], &W = sh.dim[2];
    const Place<Idx> q = place_of<Idx, CL, V>(sh, item, D.by_in, H.by_in, W.by_in);
    const Idx sp = (q.t * H.in + q.h) * W.in + q.w;
    const Idx at = offset_in<Idx, CL>(sh, q, sh.in_plane, sp);
    const S* vals = static_cast<const S*>(a.grad_output);
    const int64_t plane = CL ? int64_t(q.n) * sh.channels + q.c : int64_t(q.n);
    Chunk<S, V> c;
    TP_UNROLL
    for (int l = 0; l < V; ++l) {
      const int64_t d = (plane + l) * sh.in_plane + sp;
      T acc = T(0);
      for (int64_t j = a.grad_indices[d]; j < a.grad_indices[d + 1]; ++j) acc += T(widen(vals[j]));
      narrow(&c.v[l], acc);
    }
    *reinterpret_cast<Chunk<S, V>*>(static_cast<S*>(a.grad_input) + at) = c;
  }
};

// The gather (max_unpool's backward): each pooled element (or V channels of one) reads
// the unpooled a.input at its index, into a.output. An index outside the plane is
// reported and reads nothing (the element is 0).
template <class S, class Idx, bool CL, int V>
struct GatherBody {
  using Index = Idx;
  KernelArgs a;
  Shape<Idx> sh;

  TP_INLINE void operator()(Idx item) const {
    const DimI<Idx>&D = sh.dim[0], &H = sh.dim[1], &W = sh.dim[2];
    const Place<Idx> q = place_of<Idx, CL, V>(sh, item, D.by_out, H.by_out, W.by_out);
    const Idx at = offset_in<Idx, CL>(sh, q, sh.out_plane, (q.t * H.out + q.h) * W.out + q.w);
    const S* src = static_cast<const S*>(a.input);
    Chunk<S, V> c;
    TP_UNROLL
    for (int l = 0; l < V; ++l) {
      const int64_t i = a.grad_indices[at + l];
      if (uint64_t(i) < uint64_t(sh.in_plane)) {
        c.v[l] = src[offset_in<Idx, CL>(sh, q, sh.in_plane, Idx(i)) + l];
      } else {
        report_bad_index(a.bad_index, 1, i);
        c.v[l] = S{};
      }
    }
    *reinterpret_cast<Chunk<S, V>*>(static_cast<S*>(a.output) + at) = c;
  }
};

}  // namespace cuda
}  // namespace torchpool
