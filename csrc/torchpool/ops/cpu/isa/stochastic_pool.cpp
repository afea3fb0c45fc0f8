// Stochastic pooling's reducers: compiled once per CPU level.
#include "torchpool/ops/cpu/isa/stochastic_pool.h"

#include "torchpool/cpu/traversal/kernel_set.h"

namespace torchpool {
namespace cpu {
namespace TORCHPOOL_CPU_CAPABILITY {
namespace {

// Weights w_i = max(x_i, 0) over the window's elements inside the input (a NaN stays
// NaN). A window whose weights do not sum to a positive finite S (all <= 0, or a NaN,
// or +inf, or a sum past the dtype's range) is max-pooled instead, with max pooling's
// rule (v > max or NaN: ties keep the first, the last NaN wins), in every mode.
template <class P>
struct Weights {
  using T = typename P::T;
  using F = typename P::F;
  using I = typename P::I;
  using M = typename P::M;

  static constexpr T kMinNormal = T(sizeof(T) == 4 ? 1.17549435082228750797e-38 : 2.22507385850720138309e-308);
  TP_INLINE static F weight(F x) { return P::select(P::lt(x, P::set1(T(0))), P::set1(T(0)), x); }

  struct Stats {
    F s, max;
    I argmax;
    M as_max;  // the lanes max-pooled
    F r;       // 1 / S
    bool tiny;  // some lane's S is positive but subnormal: 1/S may overflow there
  };
  template <class Win>
  TP_INLINE static Stats stats(const Win& w) {
    F s = P::set1(T(0)), m = P::set1(-__builtin_inf());
    I at = w.first_index();
    w.visit([&](F x, I i) {
      s = P::add(s, weight(x));
      const auto up = P::mor(P::gt(x, m), P::isnan(x));
      m = P::select(up, x, m);
      at = P::iselect(up, i, at);
    });
    const auto ok = P::mand(P::gt(s, P::set1(T(0))), P::lt(s, P::set1(T(__builtin_inf()))));
    const bool tiny = P::any(P::mand(P::gt(s, P::set1(T(0))), P::lt(s, P::set1(kMinNormal))));
    return Stats{s, m, at, P::mnot(ok), P::div(P::set1(T(1)), s), tiny};
  }
  // v / S: times 1/S (a division per window, not per element) where S is a normal
  // number, divided where it is subnormal; chosen lane by lane, so every level and
  // width gives the same bits.
  TP_INLINE static F ratio(F v, F s, F r, bool tiny) {
    const F q = P::mul(v, r);
    return tiny ? P::select(P::lt(s, P::set1(kMinNormal)), P::div(v, s), q) : q;
  }
  // z = sum_i (w_i / S)^2, so that sum w_i x_i / S (w_i x_i = w_i^2) is S z: formed from
  // the ratios w_i / S <= 1, it neither overflows nor loses digits to underflow (a window
  // of denormals included).
  template <class Win>
  TP_INLINE static F squares(const Win& w, const Stats& st) {
    F z = P::set1(T(0));
    w.visit([&](F x, I) {
      const F q = ratio(weight(x), st.s, st.r, st.tiny);
      z = P::fma(q, q, z);
    });
    return z;
  }
};

// Training: u in [0, 1) from Philox, keyed by (seed, offset) and the output's NCDHW
// linear index, so the picks depend on neither layout, thread count nor level. The
// pick is the first element (scan order) whose running sum of weights passes u * S;
// the running sum repeats S's additions, so it reaches S exactly, and an element where
// it does is taken if u * S rounded up to S.
template <class P>
struct SampleReduce : Weights<P> {
  using W = Weights<P>;
  using T = typename P::T;
  using F = typename P::F;
  using I = typename P::I;
  using B = typename P::Base;
  StochasticPoolParams key;
  explicit SampleReduce(const KernelArgs& a) : key(*static_cast<const StochasticPoolParams*>(a.params)) {}

  template <class Win, class S>
  TP_INLINE void forward(const Win& w, S* out, int64_t* indices) const {
    const typename W::Stats st = W::stats(w);
    const F u = make_parts<P, F>([&](int k) {
      return B::uniform(key.seed, key.offset, w.lin + k * w.lin_sub, w.lin_step);
    });
    const F threshold = P::mul(u, st.s);
    F sum = P::set1(T(0)), v = st.max;
    I at = st.argmax;
    auto done = st.as_max;
    w.visit([&](F x, I i) {
      sum = P::add(sum, W::weight(x));
      const auto hit = P::mand(P::mnot(done), P::mor(P::gt(sum, threshold), P::eq(sum, st.s)));
      v = P::select(hit, x, v);
      at = P::iselect(hit, i, at);
      done = P::mor(done, hit);
    });
    w.store(out, v);
    w.store_idx(indices, at);
  }
};

// Evaluation: y = sum w x / S = S z; dy/dx_i = (2 x_i - y) / S = 2 x_i / S - z where
// x_i > 0, else 0; a max-pooled window sends the gradient to its argmax.
template <class P>
struct EvalReduce : Weights<P> {
  using W = Weights<P>;
  using T = typename P::T;
  using F = typename P::F;
  using I = typename P::I;
  using M = typename P::M;
  static constexpr bool needs_input = true;
  static constexpr bool gathers = false;  // State holds an index and a mask: scatters
  static constexpr bool bulky = true;     // sum, max, argmax and mask per pack (vec.h)
  static constexpr bool lane_free = true;  // the forward, which leaves stats' argmax unused
  explicit EvalReduce(const KernelArgs&) {}

  template <class Win, class S>
  TP_INLINE void forward(const Win& w, S* out, int64_t*) const {
    const typename W::Stats st = W::stats(w);
    w.store(out, P::select(st.as_max, st.max, P::mul(st.s, W::squares(w, st))));
  }

  struct State {
    F s, r, z, grad;
    I argmax;
    M as_max;
    bool tiny;
  };
  template <class Win>
  TP_INLINE State prep(const Win& w, F grad) const {
    const typename W::Stats st = W::stats(w);
    return State{st.s, st.r, W::squares(w, st), grad, st.argmax, st.as_max, st.tiny};
  }
  // grad (2 q - z) with q = x / S <= 1: grad / S alone could overflow.
  TP_INLINE F contrib(const State& st, F x, I i) const {
    const F zero = P::set1(T(0));
    const F q = W::ratio(x, st.s, st.r, st.tiny);
    const F weighted = P::select(P::gt(x, zero), P::mul(st.grad, P::sub(P::add(q, q), st.z)), zero);
    const F routed = P::select(P::ieq(i, st.argmax), st.grad, zero);
    return P::select(st.as_max, routed, weighted);
  }
  // A window no other window shares an element with (contiguous.h, backward_owned):
  // its elements' contributions in visit order, as the scatter's sums from 0 give them.
  static constexpr int own_taps = 16;
  template <class Win>
  TP_INLINE void own(const Win& w, F grad, F* out) const {
    const State st = prep(w, grad);
    int n = 0;
    w.visit([&](F x, I i) { out[n++] = P::add(P::set1(T(0)), contrib(st, x, i)); });
  }
};

void uniforms(uint64_t seed, uint64_t offset, int64_t first, int64_t step, int64_t n, float* out) {
  using PW = PacksFor<float>::Wide;
  int64_t i = 0;
  for (; i + PW::N <= n; i += PW::N) PW::store(out + i, PW::uniform(seed, offset, first + i * step, step));
  for (; i < n; ++i) out[i] = Pack1<float>::uniform(seed, offset, first + i * step, step);
}

}  // namespace

const StochasticPoolKernels& stochastic_pool_kernels() {
  static constexpr StochasticPoolKernels k{forward_kernels<SampleReduce>(), forward_kernels<EvalReduce>(),
                                           backward_kernels<EvalReduce>(), &uniforms};
  return k;
}

}  // namespace TORCHPOOL_CPU_CAPABILITY
}  // namespace cpu
}  // namespace torchpool
