// The CUDA traversals and reducers, run on the host: their per-thread bodies are
// torch-free __host__ __device__ code, so every work item can run here, one after
// another, and must give the CPU kernels' results bit for bit (max: values and
// indices; avg: forward and backward; the routing core) in every dtype, layout,
// index type (32/64-bit) and lane count. Also the pieces: the divider, the window
// geometry against geometry.h's, and the index checks of the routing core.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "torchpool/cpu/kernel.h"
#include "torchpool/cuda/traversal.h"
#include "torchpool/ops/cpu/isa/avg_pool.h"
#include "torchpool/ops/cpu/isa/max_pool.h"
#include "torchpool/ops/cpu/isa/soft_pool.h"
#include "torchpool/ops/cpu/isa/stochastic_pool.h"
#include "torchpool/ops/cpu/isa/unpool.h"
#include "torchpool/ops/cuda/avg_pool.h"
#include "torchpool/ops/cuda/max_pool.h"
#include "torchpool/ops/cuda/soft_pool.h"
#include "torchpool/ops/cuda/stochastic_pool.h"

using namespace torchpool;
using cpu::DType;
using cpu::Layout;

namespace {

const int kBytes[] = {4, 8, 2, 2};  // by DType

// Random elements with NaN (signaling ones too), +-inf, ties and denormals.
std::vector<uint8_t> random_bytes(DType t, int64_t n, std::mt19937& rng) {
  std::vector<uint8_t> buf(size_t(n) * kBytes[int(t)] + 16);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> u(0, 1);
  for (int64_t i = 0; i < n; ++i) {
    const double r = u(rng);
    double v = normal(rng);
    if (r < 0.1) v = 0.5;
    else if (r < 0.13) v = INFINITY;
    else if (r < 0.16) v = -INFINITY;
    else if (r < 0.19) v = t == DType::f64 ? 1e-310 : 1e-40;
    uint8_t* p = buf.data() + i * kBytes[int(t)];
    const float f = float(v);
    uint32_t fb;
    std::memcpy(&fb, &f, 4);
    const bool nan = r >= 0.95;
    const uint32_t payload = uint32_t(rng());
    switch (t) {
      case DType::f64: {
        uint64_t b;
        std::memcpy(&b, &v, 8);
        if (nan) b = 0x7FF0000000000000ull | (uint64_t(payload) << 20) | 1u;
        std::memcpy(p, &b, 8);
        break;
      }
      case DType::f32:
        if (nan) fb = (payload & 0x80000000u) | 0x7F800000u | (payload & 0x7FFFFFu) | 1u;
        std::memcpy(p, &fb, 4);
        break;
      case DType::bf16: {
        uint16_t h = uint16_t(fb >> 16);
        if (nan) h = uint16_t((payload & 0x8000u) | 0x7F80u | (payload & 0x7Fu) | 1u);
        std::memcpy(p, &h, 2);
        break;
      }
      case DType::f16: {
        uint16_t h = std::isinf(v) ? (v > 0 ? 0x7C00 : 0xFC00)
                     : r < 0.19 && r >= 0.16 ? 0x0001
                     : uint16_t((fb >> 16 & 0x8000) | (rng() & 0x3FFF) | 0x3000);
        if (r < 0.1) h = 0x3800;  // 0.5
        if (nan) h = uint16_t((payload & 0x8000u) | 0x7C00u | (payload & 0x3FFu) | 1u);
        std::memcpy(p, &h, 2);
        break;
      }
    }
  }
  return buf;
}

bool is_nan(DType t, const uint8_t* p) {
  uint64_t b = 0;
  std::memcpy(&b, p, size_t(kBytes[int(t)]));
  switch (t) {
    case DType::f64:
      return (b & 0x7FFFFFFFFFFFFFFFull) > 0x7FF0000000000000ull;
    case DType::f32:
      return (b & 0x7FFFFFFFu) > 0x7F800000u;
    case DType::f16:
      return (b & 0x7FFFu) > 0x7C00u;
    default:
      return (b & 0x7FFFu) > 0x7F80u;
  }
}

// The first of n elements whose bits differ (with nan_any, NaN matches any NaN: an
// addition's NaN payload depends on the order of its operands); -1 if none.
int64_t first_difference(DType t, const uint8_t* a, const uint8_t* b, int64_t n, bool nan_any) {
  const int sz = kBytes[int(t)];
  for (int64_t i = 0; i < n; ++i) {
    if (std::memcmp(a + i * sz, b + i * sz, size_t(sz)) == 0) continue;
    if (nan_any && is_nan(t, a + i * sz) && is_nan(t, b + i * sz)) continue;
    return i;
  }
  return -1;
}

Geometry geometry(int64_t N, int64_t C, std::vector<int64_t> in, std::vector<int64_t> k,
                  std::vector<int64_t> s, std::vector<int64_t> p, std::vector<int64_t> d, bool ceil) {
  Geometry g;
  g.batch = N;
  g.channels = C;
  g.spatial = int(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    Dim& dm = g.dim[3 - in.size() + i];
    dm.in = in[i];
    dm.k = k[i];
    dm.s = s[i];
    dm.p = p[i];
    dm.d = d[i];
    dm.out = pool_out_size(in[i], k[i], s[i], p[i], d[i], ceil);
  }
  return g;
}

struct Case {
  std::string name;
  Geometry g;
};

// Channel counts that do and do not divide into 16-byte vectors of each dtype.
std::vector<Case> cases() {
  return {
      {"2d 2x2 s2", geometry(2, 19, {9, 30}, {2, 2}, {2, 2}, {0, 0}, {1, 1}, false)},
      {"2d 3x3 s2 p1", geometry(1, 24, {11, 17}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, false)},
      {"2d 3x3 s1 p1 ceil", geometry(2, 8, {13, 15}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, true)},
      {"2d 3x2 s(2,3) d2", geometry(1, 16, {12, 20}, {3, 2}, {2, 3}, {1, 1}, {2, 2}, true)},
      {"2d 2x3 s(1,2) d(3,2) p1", geometry(2, 6, {10, 14}, {2, 3}, {1, 2}, {1, 1}, {3, 2}, false)},
      {"2d 5x5 s3 p2 ceil", geometry(1, 4, {16, 17}, {5, 5}, {3, 3}, {2, 2}, {1, 1}, true)},
      {"1d k4 s3", geometry(3, 33, {41}, {4}, {3}, {2}, {1}, true)},
      {"1d k1 s2", geometry(2, 8, {9}, {1}, {2}, {0}, {1}, false)},
      {"3d 2x2x2", geometry(2, 16, {4, 6, 10}, {2, 2, 2}, {2, 2, 2}, {0, 0, 0}, {1, 1, 1}, false)},
      {"3d 3x1x3 s(1,2,1) p1", geometry(1, 10, {5, 6, 9}, {3, 1, 3}, {1, 2, 1}, {1, 0, 1}, {1, 1, 1}, false)},
      {"3d 2x2x3 d(2,1,2) ceil", geometry(1, 8, {5, 4, 9}, {2, 2, 3}, {2, 1, 2}, {1, 1, 1}, {2, 1, 2}, true)},
  };
}

// The CPU's result (scalar level: the levels agree bit for bit, kernels_test.cpp).
void run_cpu(cpu::KernelFn fn, cpu::KernelArgs a, bool backward) {
  a.bands = 1;
  std::vector<float> scratch(size_t(cpu::scratch_bytes(a) / 4 + 1));
  a.scratch = scratch.data();
  int64_t bad[2] = {0, 0};
  a.bad_index = bad;
  fn(a, 0, backward ? cpu::backward_items(a) : cpu::forward_items(a));
  REQUIRE(bad[0] == 0);
}

// Runs a body over its work items, one after another.
template <template <class, class, bool, int> class Body, class S, class Idx, bool CL, int V>
void emulate(const cuda::KernelArgs& a, const Geometry& g, int64_t elements) {
  const Body<S, Idx, CL, V> body{a, cuda::Shape<Idx>(g, V)};
  for (int64_t i = 0; i < elements / V; ++i) body(Idx(i));
}

// Every index type and lane count a launch can pick for the layout (kernels.cuh):
// one lane for contiguous tensors; one or a 16-byte vector for channels-last ones.
template <template <class, class, bool, int> class Body, class S, class Fn>
void each_variant(Layout l, const Geometry& g, Fn&& check) {
  constexpr int V = 16 / sizeof(S);
  auto both = [&](auto run, const char* what) {
    check([&](const cuda::KernelArgs& a, int64_t n) { run(a, n, int32_t(0)); }, std::string(what) + " int32");
    check([&](const cuda::KernelArgs& a, int64_t n) { run(a, n, int64_t(0)); }, std::string(what) + " int64");
  };
  if (l == Layout::contiguous) {
    both([&](const cuda::KernelArgs& a, int64_t n, auto ix) {
      emulate<Body, S, decltype(ix), false, 1>(a, g, n);
    }, "contiguous");
    return;
  }
  both([&](const cuda::KernelArgs& a, int64_t n, auto ix) {
    emulate<Body, S, decltype(ix), true, 1>(a, g, n);
  }, "channels-last, 1 lane");
  if (g.channels % V == 0)
    both([&](const cuda::KernelArgs& a, int64_t n, auto ix) {
      emulate<Body, S, decltype(ix), true, V>(a, g, n);
    }, "channels-last, vector");
}

template <class Fn>
void each_dtype(Fn&& f) {
  f(DType::f32, float{});
  f(DType::f64, double{});
  f(DType::f16, cuda::half16{});
  f(DType::bf16, cuda::bfloat16{});
}

// Checks one reducer's forward against the CPU's.
template <template <class> class R, class S>
void check_forward(const Case& c, DType t, Layout l, cpu::KernelFn cpu_fn, bool indices,
                   const void* params_cpu, const cuda::KernelArgs& base, bool nan_any) {
  const Geometry& g = c.g;
  std::mt19937 rng(99);
  const int64_t in_n = g.planes() * g.in_plane(), out_n = g.planes() * g.out_plane();
  std::vector<uint8_t> input = random_bytes(t, in_n, rng);
  std::vector<uint8_t> want(size_t(out_n) * kBytes[int(t)] + 16), got(want.size());
  std::vector<int64_t> want_idx(static_cast<size_t>(out_n)), got_idx(static_cast<size_t>(out_n));
  cpu::KernelArgs ca;
  ca.g = g;
  ca.dtype = t;
  ca.layout = l;
  ca.input = input.data();
  ca.output = want.data();
  ca.indices = indices ? want_idx.data() : nullptr;
  ca.params = params_cpu;
  run_cpu(cpu_fn, ca, false);
  each_variant<cuda::Forward<R>::template Body, S>(l, g, [&](auto run, const std::string& variant) {
    std::memset(got.data(), 0xA5, got.size());  // poison: every output must be written
    std::fill(got_idx.begin(), got_idx.end(), -7);
    cuda::KernelArgs a = base;
    a.input = input.data();
    a.output = got.data();
    a.indices = indices ? got_idx.data() : nullptr;
    run(a, out_n);
    const int64_t first = first_difference(t, got.data(), want.data(), out_n, nan_any);
    INFO(c.name << ", dtype " << int(t) << ", layout " << int(l) << ", " << variant
                << ": first difference at output " << first);
    REQUIRE(first == -1);
    if (indices) REQUIRE(got_idx == want_idx);
  });
}

// Checks a backward (a reducer's gather, or the routing core) against the CPU's.
template <template <class, class, bool, int> class Body, class S>
void check_backward(const Case& c, DType t, Layout l, cpu::KernelFn cpu_fn, const void* params_cpu,
                    const cuda::KernelArgs& base) {
  const Geometry& g = c.g;
  std::mt19937 rng(7);
  const int64_t in_n = g.planes() * g.in_plane(), out_n = g.planes() * g.out_plane();
  std::vector<uint8_t> input = random_bytes(t, in_n, rng), grad = random_bytes(t, out_n, rng);
  // Indices to route by: the CPU max-pool forward's on the same input.
  std::vector<int64_t> idx(static_cast<size_t>(out_n));
  {
    std::vector<uint8_t> values(size_t(out_n) * kBytes[int(t)] + 16);
    cpu::KernelArgs f;
    f.g = g;
    f.dtype = t;
    f.layout = l;
    f.input = input.data();
    f.output = values.data();
    f.indices = idx.data();
    run_cpu(cpu::max_pool_kernels(cpu::Level::scalar).forward_indices.get(l, t), f, false);
  }
  std::vector<uint8_t> want(size_t(in_n) * kBytes[int(t)] + 16), got(want.size());
  cpu::KernelArgs ca;
  ca.g = g;
  ca.dtype = t;
  ca.layout = l;
  ca.input = input.data();
  ca.grad_output = grad.data();
  ca.grad_indices = idx.data();
  ca.grad_input = want.data();
  ca.params = params_cpu;
  run_cpu(cpu_fn, ca, true);
  each_variant<Body, S>(l, g, [&](auto run, const std::string& variant) {
    std::memset(got.data(), 0xA5, got.size());
    int64_t bad[2] = {0, 0};
    cuda::KernelArgs a = base;
    a.input = input.data();
    a.grad_output = grad.data();
    a.grad_indices = idx.data();
    a.grad_input = got.data();
    a.bad_index = bad;
    run(a, in_n);
    const int64_t first = first_difference(t, got.data(), want.data(), in_n, true);
    INFO(c.name << ", dtype " << int(t) << ", layout " << int(l) << ", " << variant
                << ": first difference at input element " << first);
    REQUIRE(first == -1);
    REQUIRE(bad[0] == 0);
  });
}

}  // namespace

TEST_CASE("cuda: the divider divides as the hardware does") {
  std::mt19937 rng(5);
  std::vector<int32_t> divisors = {1, 2, 3, 5, 7, 10, 64, 100, 641, 65535, 65536, 65537, 1 << 20,
                                   (1 << 30) + 1, INT32_MAX - 1, INT32_MAX};
  for (int i = 0; i < 200; ++i) divisors.push_back(int32_t(rng() % INT32_MAX) + 1);
  for (int i = 0; i < 200; ++i) divisors.push_back(int32_t(rng() % 5000) + 1);
  for (int32_t d : divisors) {
    const cuda::Divider<int32_t> dv(d);
    std::vector<int32_t> ns = {0, 1, d - 1, d, INT32_MAX, INT32_MAX - 1, INT32_MAX - d};
    for (int i = 0; i < 2000; ++i) ns.push_back(int32_t(rng() % (uint32_t(INT32_MAX) + 1)));
    for (int i = 0; i < 200; ++i) ns.push_back(int32_t(rng() % 100000));
    for (int32_t n : ns) {
      if (n < 0) continue;
      INFO(n << " / " << d);
      REQUIRE(dv.div(n) == n / d);
      int32_t r;
      REQUIRE(cuda::divmod(dv, n, r) == n / d);
      REQUIRE(r == n % d);
    }
  }
}

TEST_CASE("cuda: window geometry equals geometry.h's; outputs over a position") {
  for (int64_t in : {1, 2, 5, 9, 16})
    for (int64_t k : {1, 2, 3, 5})
      for (int64_t s : {1, 2, 3})
        for (int64_t p = 0; p <= k / 2; ++p)
          for (int64_t d : {1, 2, 3})
            for (bool ceil : {false, true}) {
              const int64_t out = pool_out_size(in, k, s, p, d, ceil);
              if (out < 1) continue;
              const Dim dm{in, out, k, s, p, d};
              bool empty = false;  // a window of padding only: rejected by pool_geometry
              for (int64_t o = 0; o < out; ++o) empty = empty || dm.tap_begin(o) >= dm.tap_end(o);
              if (empty) continue;
              const cuda::DimI<int32_t> d32(dm);
              const cuda::DimI<int64_t> d64(dm);
              INFO("in " << in << " k " << k << " s " << s << " p " << p << " d " << d << " ceil " << ceil);
              for (int64_t o = 0; o < out; ++o) {
                const Taps t = dm.taps(o);
                const auto a = d32.taps(int32_t(o));
                const auto b = d64.taps(o);
                REQUIRE((a.first == t.first && a.count == t.count));
                REQUIRE((b.first == t.first && b.count == t.count));
                if (d == 1) REQUIRE(d32.padded(int32_t(o)) == dm.padded_count(o));
              }
              for (int64_t x = 0; x < in; ++x) {
                int32_t lo, hi;
                d32.over(int32_t(x), lo, hi);
                for (int64_t o = 0; o < out; ++o) {
                  const Taps t = dm.taps(o);
                  bool tap = false;
                  for (int64_t j = 0; j < t.count; ++j) tap = tap || t.first + j * t.step == x;
                  const bool listed = o >= lo && o <= hi && d32.holds(int32_t(o), int32_t(x));
                  INFO("x " << x << " o " << o);
                  REQUIRE(tap == listed);
                  REQUIRE(tap == d32.is_tap(d32.taps(int32_t(o)), int32_t(x)));
                }
              }
            }
}

TEST_CASE("cuda: 32-bit index math only where everything fits") {
  Geometry g = geometry(2, 3, {100, 100}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, false);
  REQUIRE(cuda::fits_int32(g));
  g.batch = int64_t(1) << 27;  // 2^27 * 3 * 10^4 elements
  REQUIRE(!cuda::fits_int32(g));
  Geometry h = geometry(1, 1, {3}, {int64_t(1) << 32}, {1}, {int64_t(1) << 31}, {1}, false);
  REQUIRE(!cuda::fits_int32(h));
}

TEST_CASE("cuda: max_pool forward equals the CPU's, values and indices") {
  for (const Case& c : cases())
    each_dtype([&](DType t, auto s) {
      using S = decltype(s);
      for (Layout l : {Layout::contiguous, Layout::channels_last}) {
        const cpu::MaxPoolKernels& k = cpu::max_pool_kernels(cpu::Level::scalar);
        // Max moves values: the bits must match, NaN payloads included.
        check_forward<cuda::MaxValues, S>(c, t, l, k.forward.get(l, t), false, nullptr, {}, false);
        check_forward<cuda::MaxIndices, S>(c, t, l, k.forward_indices.get(l, t), true, nullptr, {}, false);
      }
    });
}

TEST_CASE("cuda: avg_pool forward and backward equal the CPU's") {
  for (const Case& c : cases()) {
    if (c.g.dim[0].d != 1 || c.g.dim[1].d != 1 || c.g.dim[2].d != 1) continue;  // no dilation
    for (cpu::AvgPoolParams prm : {cpu::AvgPoolParams{true, 0}, cpu::AvgPoolParams{false, 0},
                                   cpu::AvgPoolParams{true, 3}, cpu::AvgPoolParams{false, -2}}) {
      cuda::KernelArgs base;
      base.set_params(prm);
      each_dtype([&](DType t, auto s) {
        using S = decltype(s);
        for (Layout l : {Layout::contiguous, Layout::channels_last}) {
          const cpu::AvgPoolKernels& k = cpu::avg_pool_kernels(cpu::Level::scalar);
          check_forward<cuda::AvgReduce, S>(c, t, l, k.forward.get(l, t), false, &prm, base, true);
          check_backward<cuda::Backward<cuda::AvgReduce>::template Body, S>(c, t, l, k.backward.get(l, t),
                                                                           &prm, base);
        }
      });
    }
  }
}

TEST_CASE("cuda: max_pool backward (the routing core) equals the CPU's") {
  for (const Case& c : cases())
    each_dtype([&](DType t, auto s) {
      using S = decltype(s);
      for (Layout l : {Layout::contiguous, Layout::channels_last})
        check_backward<cuda::RouteBody, S>(c, t, l,
                                           cpu::max_pool_kernels(cpu::Level::scalar).backward.get(l, t),
                                           nullptr, {});
    });
}

TEST_CASE("cuda: the routing core reports an index outside its window or the plane") {
  const Geometry g = geometry(1, 2, {4, 4}, {2, 2}, {2, 2}, {0, 0}, {1, 1}, false);
  std::vector<float> gout(8, 1.0f), gin(32);
  std::vector<int64_t> idx = {0, 2, 8, 10, 0, 2, 8, 10};  // each window's first element
  cuda::KernelArgs a;
  a.grad_output = gout.data();
  a.grad_indices = idx.data();
  a.grad_input = gin.data();
  int64_t bad[2] = {0, 0};
  a.bad_index = bad;
  auto run = [&] {
    bad[0] = bad[1] = 0;
    std::fill(gin.begin(), gin.end(), -1.0f);
    emulate<cuda::RouteBody, float, int32_t, false, 1>(a, g, 32);
  };
  idx[5] = 7;  // output 1 of plane 1 covers elements 2, 3, 6, 7
  run();
  REQUIRE(bad[0] == 0);
  REQUIRE((gin[0] == 1.0f && gin[10] == 1.0f && gin[16 + 7] == 1.0f && gin[16 + 2] == 0.0f));
  for (int64_t i : {int64_t(4), int64_t(9), int64_t(1)}) {  // the window's rows, not its columns; other rows
    idx[5] = i;
    run();
    REQUIRE((bad[0] == 2 && bad[1] == i));
    REQUIRE(gin[16 + i] == 0.0f);  // never routed
  }
  for (int64_t i : {int64_t(16), int64_t(-1), int64_t(1) << 40}) {
    idx[5] = i;
    run();
    REQUIRE((bad[0] == 1 && bad[1] == i));
  }
  // Dilated windows: an index between the taps is outside the window.
  const Geometry gd = geometry(1, 1, {1, 5}, {1, 2}, {1, 1}, {0, 0}, {1, 2}, false);  // taps w, w+2
  std::vector<float> go(3, 1.0f), gi(5);
  std::vector<int64_t> ix = {0, 3, 4};
  cuda::KernelArgs b;
  b.grad_output = go.data();
  b.grad_indices = ix.data();
  b.grad_input = gi.data();
  b.bad_index = bad;
  bad[0] = bad[1] = 0;
  emulate<cuda::RouteBody, float, int64_t, false, 1>(b, gd, 5);
  REQUIRE((bad[0] == 0 && gi[0] == 1.0f && gi[3] == 1.0f && gi[4] == 1.0f && gi[2] == 0.0f));
  ix[1] = 2;  // output 1's taps are 1 and 3
  emulate<cuda::RouteBody, float, int64_t, false, 1>(b, gd, 5);
  REQUIRE((bad[0] == 2 && bad[1] == 2));
}

namespace {

// Reducers that report each window's output linear index (lin, lane l: lin + l *
// lin_step), the counter stochastic pooling draws its numbers with: the forward as
// an index, the backward as the sum over the outputs that reach an element.
template <class P>
struct LinForward {
  explicit LinForward(const cuda::KernelArgs&) {}
  template <class Win, class S>
  void forward(const Win& w, S*, int64_t* indices) const {
    for (int l = 0; l < P::N; ++l) indices[l] = int64_t(w.lin) + l * int64_t(w.lin_step);
  }
};
template <class P>
struct LinBackward {
  static constexpr bool needs_input = false;
  explicit LinBackward(const cuda::KernelArgs&) {}
  struct State {
    typename P::F lin;
  };
  template <class Win>
  State prep(const Win& w, const typename P::F&) const {
    State s;
    for (int l = 0; l < P::N; ++l) s.lin.v[l] = double(w.lin) + l * double(w.lin_step);
    return s;
  }
  typename P::F contrib(const State& s, const typename P::F&, const typename P::I&) const { return s.lin; }
};

}  // namespace

TEST_CASE("cuda: windows know their outputs' NCDHW linear index") {
  for (const Case& c : cases()) {
    const Geometry& g = c.g;
    const int64_t C = g.channels, in_plane = g.in_plane(), out_plane = g.out_plane();
    const int64_t in_n = g.planes() * in_plane, out_n = g.planes() * out_plane;
    // Expected, per layout: the forward's lin at each output's storage offset, and each
    // input element's sum of the lins of the outputs whose window holds it.
    for (Layout l : {Layout::contiguous, Layout::channels_last}) {
      const bool cl = l == Layout::channels_last;
      std::vector<int64_t> want_lin(static_cast<size_t>(out_n));
      std::vector<double> want_sum(static_cast<size_t>(in_n), 0.0);
      for (int64_t plane = 0; plane < g.planes(); ++plane)
        for (int64_t o = 0; o < out_plane; ++o) {
          const int64_t n = plane / C, ch = plane % C, lin = plane * out_plane + o;
          want_lin[size_t(cl ? (n * out_plane + o) * C + ch : lin)] = lin;
          const int64_t ow = o % g.dim[2].out, oh = o / g.dim[2].out % g.dim[1].out,
                        od = o / (g.dim[2].out * g.dim[1].out);
          const Taps td = g.dim[0].taps(od), th = g.dim[1].taps(oh), tw = g.dim[2].taps(ow);
          for (int64_t i = 0; i < td.count; ++i)
            for (int64_t j = 0; j < th.count; ++j)
              for (int64_t k = 0; k < tw.count; ++k) {
                const int64_t sp = ((td.first + i * td.step) * g.dim[1].in + th.first + j * th.step) *
                                       g.dim[2].in + tw.first + k * tw.step;
                want_sum[size_t(cl ? (n * in_plane + sp) * C + ch : plane * in_plane + sp)] += double(lin);
              }
        }
      each_variant<cuda::Forward<LinForward>::template Body, double>(l, g, [&](auto run, const std::string& v) {
        std::vector<int64_t> got(static_cast<size_t>(out_n), -1);
        cuda::KernelArgs a;
        a.indices = got.data();
        run(a, out_n);
        INFO(c.name << " layout " << int(l) << " " << v);
        REQUIRE(got == want_lin);
      });
      each_variant<cuda::Backward<LinBackward>::template Body, double>(l, g, [&](auto run, const std::string& v) {
        std::vector<double> grad(static_cast<size_t>(out_n) + 2), got(static_cast<size_t>(in_n) + 2, -1.0);
        cuda::KernelArgs a;
        a.grad_output = grad.data();
        a.grad_input = got.data();
        run(a, in_n);
        got.resize(size_t(in_n));
        INFO(c.name << " layout " << int(l) << " " << v);
        REQUIRE(got == want_sum);
      });
    }
  }
}

TEST_CASE("cuda: soft_pool forward and backward equal the CPU's") {
  for (const Case& c : cases())
    each_dtype([&](DType t, auto s) {
      using S = decltype(s);
      for (Layout l : {Layout::contiguous, Layout::channels_last}) {
        const cpu::SoftPoolKernels& k = cpu::soft_pool_kernels(cpu::Level::scalar);
        // The CPU's exp and order of operations: the same bits (NaN payloads aside).
        check_forward<cuda::SoftReduce, S>(c, t, l, k.forward.get(l, t), false, nullptr, {}, true);
        check_backward<cuda::Backward<cuda::SoftReduce>::template Body, S>(c, t, l, k.backward.get(l, t),
                                                                          nullptr, {});
      }
    });
}

// The soft-pool test above checks the exp's bits against the CPU's; this one its accuracy.
TEST_CASE("cuda: the exp is e^x to within an ulp or two") {
  using P = cuda::Pack<float, 1, int32_t>;
  REQUIRE(P::exp(P::set1(0.0f)).v[0] == 1.0f);
  REQUIRE(P::exp(P::set1(-INFINITY)).v[0] == 0.0f);
  REQUIRE(std::isnan(P::exp(P::set1(NAN)).v[0]));
  for (float x = -87.0f; x <= 88.0f; x += 0.37f) {
    const double want = std::exp(double(x));
    INFO(x);
    REQUIRE(std::fabs(double(P::exp(P::set1(x)).v[0]) - want) <= 2.5e-7 * want);
  }
  using PD = cuda::Pack<double, 1, int64_t>;
  for (double x = -708.0; x <= 709.0; x += 0.731) {
    INFO(x);
    REQUIRE(std::fabs(PD::exp(PD::set1(x)).v[0] - std::exp(x)) <= 1e-15 * std::exp(x));
  }
}

TEST_CASE("cuda: stochastic_pool sampling, evaluation and its backward equal the CPU's") {
  const cpu::StochasticPoolParams key{0x0123456789ABCDEFull, 4242};
  cuda::KernelArgs base;
  base.set_params(key);
  for (const Case& c : cases())
    each_dtype([&](DType t, auto s) {
      using S = decltype(s);
      for (Layout l : {Layout::contiguous, Layout::channels_last}) {
        const cpu::StochasticPoolKernels& k = cpu::stochastic_pool_kernels(cpu::Level::scalar);
        // The picks move values: the same bits and indices.
        check_forward<cuda::SampleReduce, S>(c, t, l, k.sample.get(l, t), true, &key, base, false);
        check_forward<cuda::EvalReduce, S>(c, t, l, k.eval.get(l, t), false, nullptr, {}, true);
        check_backward<cuda::Backward<cuda::EvalReduce>::template Body, S>(c, t, l, k.eval_backward.get(l, t),
                                                                          nullptr, {});
      }
    });
}

TEST_CASE("cuda: the sampler's uniforms are philox.h's") {
  using P = cuda::Pack<double, 4, int64_t>;
  const P::F u = P::uniform(99, 7, (int64_t(1) << 33) + 5, 1000);
  for (int l = 0; l < 4; ++l)
    REQUIRE(u.v[l] == double(philox::uniform(philox::bits(99, 7, (uint64_t(1) << 33) + 5 + 1000 * l))));
}

namespace {

// Every index type and lane count a launch can pick (kernels.cuh), as
// f(index type value, layout tag, lanes tag, name), for bodies run in several passes.
template <class S, class Fn>
void each_launch(Layout l, const Geometry& g, Fn&& f) {
  constexpr int V = 16 / sizeof(S);
  auto both = [&](auto cl, auto lanes, const std::string& what) {
    f(int32_t(0), cl, lanes, what + " int32");
    f(int64_t(0), cl, lanes, what + " int64");
  };
  if (l == Layout::contiguous) return both(std::false_type{}, std::integral_constant<int, 1>{}, "contiguous");
  both(std::true_type{}, std::integral_constant<int, 1>{}, "channels-last, 1 lane");
  if (g.channels % V == 0) both(std::true_type{}, std::integral_constant<int, V>{}, "channels-last, vector");
}

// Indices anywhere in the plane, many repeated.
std::vector<int64_t> random_indices(const Geometry& g, std::mt19937& rng) {
  std::vector<int64_t> idx(size_t(g.planes() * g.out_plane()));
  const int64_t n = g.in_plane();
  for (int64_t& i : idx) {
    const uint32_t r = rng() % 10;
    i = r < 2 ? 0 : r < 4 ? n - 1 : r < 5 ? n / 2 : int64_t(rng() % uint64_t(n));
  }
  return idx;
}

// Storage offset of element sp of a plane of `size` elements, in the layout.
int64_t layout_offset(const Geometry& g, Layout l, int64_t plane, int64_t size, int64_t sp) {
  if (l == Layout::contiguous) return plane * size + sp;
  return (plane / g.channels * size + sp) * g.channels + plane % g.channels;
}

template <class S, class Idx, bool CL, int V>
void emulate_assign(const cuda::KernelArgs& base, const Geometry& g) {
  std::vector<cuda::ClaimWord<Idx>> owner(size_t(g.planes() * g.in_plane()), 0);
  cuda::KernelArgs a = base;
  a.set_params(cuda::Claims{owner.data()});
  emulate<cuda::ClaimBody, S, Idx, CL, V>(a, g, g.planes() * g.out_plane());
  emulate<cuda::AssignBody, S, Idx, CL, V>(a, g, g.planes() * g.in_plane());
}

// route.cu's preparation of the adding scatter, on the host: the sources' values
// sorted stably by destination, and each destination's start.
void sorted_sources(const Geometry& g, Layout l, int sz, const uint8_t* src, const std::vector<int64_t>& idx,
                    std::vector<uint8_t>& vals, std::vector<int64_t>& starts) {
  const int64_t planes = g.planes(), out_plane = g.out_plane(), in_plane = g.in_plane();
  std::vector<std::pair<int64_t, int64_t>> keyed;  // (destination, source offset), scan order
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t o = 0; o < out_plane; ++o) {
      const int64_t at = layout_offset(g, l, p, out_plane, o);
      keyed.emplace_back(p * in_plane + idx[size_t(at)], at);
    }
  std::stable_sort(keyed.begin(), keyed.end(), [](auto& x, auto& y) { return x.first < y.first; });
  vals.assign(keyed.size() * size_t(sz) + 16, 0);
  starts.assign(size_t(planes * in_plane + 1), 0);
  for (size_t j = 0; j < keyed.size(); ++j) std::memcpy(&vals[j * sz], src + keyed[j].second * sz, size_t(sz));
  size_t j = 0;
  for (int64_t d = 0; d <= planes * in_plane; ++d) {
    while (j < keyed.size() && keyed[j].first < d) ++j;
    starts[size_t(d)] = int64_t(j);
  }
}

}  // namespace

TEST_CASE("cuda: max_unpool, its sum and its gather equal the CPU's routing core") {
  for (const Case& c : cases())
    each_dtype([&](DType t, auto s) {
      using S = decltype(s);
      const Geometry& g = c.g;
      const int sz = kBytes[int(t)];
      const int64_t in_n = g.planes() * g.in_plane(), out_n = g.planes() * g.out_plane();
      for (Layout l : {Layout::contiguous, Layout::channels_last}) {
        std::mt19937 rng(11);
        const std::vector<uint8_t> src = random_bytes(t, out_n, rng), dense = random_bytes(t, in_n, rng);
        const std::vector<int64_t> idx = random_indices(g, rng);
        const cpu::UnpoolKernels& k = cpu::unpool_kernels(cpu::Level::scalar);
        for (bool add : {false, true}) {
          std::vector<uint8_t> want(size_t(in_n) * sz + 16), got(want.size());
          cpu::KernelArgs ca;
          ca.g = g;
          ca.dtype = t;
          ca.layout = l;
          ca.grad_output = src.data();
          ca.grad_indices = idx.data();
          ca.grad_input = want.data();
          run_cpu((add ? k.add_any : k.route_any).get(l, t), ca, true);
          std::vector<uint8_t> vals;
          std::vector<int64_t> starts;
          if (add) sorted_sources(g, l, sz, src.data(), idx, vals, starts);
          each_launch<S>(l, g, [&](auto ix, auto cl, auto lanes, const std::string& variant) {
            using Idx = decltype(ix);
            constexpr bool CL = decltype(cl)::value;
            constexpr int V = decltype(lanes)::value;
            std::memset(got.data(), 0xA5, got.size());
            int64_t bad[2] = {0, 0};
            cuda::KernelArgs a;
            a.grad_output = add ? static_cast<const void*>(vals.data()) : src.data();
            a.grad_indices = add ? starts.data() : idx.data();
            a.grad_input = got.data();
            a.bad_index = bad;
            if (add) {
              emulate<cuda::SumBody, S, Idx, CL, V>(a, g, in_n);
            } else {
              emulate_assign<S, Idx, CL, V>(a, g);
            }
            const int64_t first = first_difference(t, got.data(), want.data(), in_n, add);
            INFO(c.name << ", dtype " << int(t) << ", layout " << int(l) << ", " << variant
                        << (add ? ", add" : ", assign") << ": first difference at " << first);
            REQUIRE(first == -1);
            REQUIRE(bad[0] == 0);
          });
        }
        // The gather reads the unpooled side at the indices: the bits.
        std::vector<uint8_t> want(size_t(out_n) * sz + 16), got(want.size());
        cpu::KernelArgs ca;
        ca.g = g;
        ca.dtype = t;
        ca.layout = l;
        ca.input = dense.data();
        ca.grad_indices = idx.data();
        ca.output = want.data();
        run_cpu(k.gather.get(l, t), ca, false);
        each_variant<cuda::GatherBody, S>(l, g, [&](auto run, const std::string& variant) {
          std::memset(got.data(), 0xA5, got.size());
          int64_t bad[2] = {0, 0};
          cuda::KernelArgs a;
          a.input = dense.data();
          a.grad_indices = idx.data();
          a.output = got.data();
          a.bad_index = bad;
          run(a, out_n);
          INFO(c.name << ", dtype " << int(t) << ", layout " << int(l) << ", gather " << variant);
          REQUIRE(first_difference(t, got.data(), want.data(), out_n, false) == -1);
          REQUIRE(bad[0] == 0);
        });
      }
    });
}

TEST_CASE("cuda: max_unpool: the latest index wins; an index outside the plane is reported, never used") {
  // One plane of 4 sources unpooled into 6: sources 0 and 2 name 1, source 3 names 5.
  const Geometry g = geometry(1, 1, {6}, {1}, {1}, {0}, {1}, false);
  Geometry h = g;
  h.dim[2].out = 4;
  std::vector<float> src = {1.0f, 2.0f, 3.0f, 4.0f}, out(6), back(4);
  std::vector<int64_t> idx = {1, 4, 1, 5};
  int64_t bad[2] = {0, 0};
  cuda::KernelArgs a;
  a.grad_output = src.data();
  a.grad_indices = idx.data();
  a.grad_input = out.data();
  a.bad_index = bad;
  emulate_assign<float, int32_t, false, 1>(a, h);
  REQUIRE(bad[0] == 0);
  REQUIRE(out == std::vector<float>({0.0f, 3.0f, 0.0f, 0.0f, 2.0f, 4.0f}));
  for (int64_t i : {int64_t(6), int64_t(-1), int64_t(1) << 40}) {
    idx[2] = i;
    bad[0] = bad[1] = 0;
    std::fill(out.begin(), out.end(), -1.0f);
    emulate_assign<float, int64_t, false, 1>(a, h);
    REQUIRE((bad[0] == 1 && bad[1] == i));
    REQUIRE(out == std::vector<float>({0.0f, 1.0f, 0.0f, 0.0f, 2.0f, 4.0f}));
    // The gather reads nothing there, and gives 0.
    cuda::KernelArgs b;
    b.input = out.data();
    b.grad_indices = idx.data();
    b.output = back.data();
    b.bad_index = bad;
    bad[0] = bad[1] = 0;
    emulate<cuda::GatherBody, float, int64_t, false, 1>(b, h, 4);
    REQUIRE((bad[0] == 1 && bad[1] == i));
    REQUIRE(back == std::vector<float>({1.0f, 2.0f, 0.0f, 4.0f}));
  }
}
