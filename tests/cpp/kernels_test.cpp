// Every CPU level's raw kernels against the scalar level's, on random data with NaN,
// +-inf, ties and denormals, for every family, layout, dtype and a spread of window
// geometries: the levels must agree bit for bit. No torch and no tensor: the kernels
// take raw pointers.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "torchpool/cpu/capability.h"
#include "torchpool/cpu/kernel.h"
#include "torchpool/ops/cpu/isa/avg_pool.h"
#include "torchpool/ops/cpu/isa/max_pool.h"
#include "torchpool/ops/cpu/isa/soft_pool.h"
#include "torchpool/ops/cpu/isa/stochastic_pool.h"
#include "torchpool/philox.h"
#include "torchpool/ops/cpu/isa/unpool.h"

using namespace torchpool;
using namespace torchpool::cpu;

namespace {

const int kSize[] = {4, 8, 2, 2};  // bytes per element, by DType

// The levels this CPU can run, besides scalar.
std::vector<Level> wide_levels() {
  std::vector<Level> v;
  for (Level l : {Level::avx2, Level::avx512})
    if (compiled(l) && int(l) <= int(supported_level())) v.push_back(l);
  return v;
}

// Random elements of a dtype, bit patterns with NaN, +-inf, ties and denormals.
std::vector<uint8_t> random_data(DType t, int64_t n, std::mt19937& rng) {
  std::vector<uint8_t> buf(size_t(n) * kSize[int(t)]);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> u(0, 1);
  for (int64_t i = 0; i < n; ++i) {
    double v = normal(rng), r = u(rng);
    if (r < 0.03) v = NAN;
    else if (r < 0.06) v = INFINITY;
    else if (r < 0.09) v = -INFINITY;
    else if (r < 0.2) v = 0.5;
    else if (r < 0.23) v = t == DType::f64 ? 1e-310 : 1e-40;
    uint8_t* p = buf.data() + i * kSize[int(t)];
    if (t == DType::f64) {
      std::memcpy(p, &v, 8);
    } else {
      float f = float(v);
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      if (t == DType::f32) std::memcpy(p, &f, 4);
      if (t == DType::bf16) {
        uint16_t h = uint16_t(bits >> 16);  // any bit pattern is a bfloat16
        std::memcpy(p, &h, 2);
      }
      if (t == DType::f16) {
        // a half of the same rough magnitude, or a special
        uint16_t h = std::isnan(v) ? 0x7E00 : std::isinf(v) ? (v > 0 ? 0x7C00 : 0xFC00)
                     : r < 0.23 && r >= 0.2 ? 0x0001 : uint16_t((bits >> 16 & 0x8000) | (rng() & 0x3FFF) | 0x3000);
        std::memcpy(p, &h, 2);
      }
    }
  }
  return buf;
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

std::vector<Case> cases() {
  return {
      {"2d 2x2 s2", geometry(2, 19, {9, 70}, {2, 2}, {2, 2}, {0, 0}, {1, 1}, false)},
      {"2d 3x3 s2 p1", geometry(1, 70, {11, 37}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, false)},
      {"2d 3x3 s1 p1 ceil", geometry(2, 5, {13, 45}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, true)},
      {"2d 3x2 s(2,3) d2", geometry(1, 17, {12, 50}, {3, 2}, {2, 3}, {1, 1}, {2, 2}, true)},
      {"1d k4 s3", geometry(3, 33, {101}, {4}, {3}, {2}, {1}, true)},
      {"2d 2x2 s3 d2 p1 ceil (disjoint, gaps)", geometry(1, 24, {10, 31}, {2, 2}, {3, 3}, {1, 1}, {2, 2}, true)},
      {"3d 2x2x2", geometry(2, 16, {6, 9, 40}, {2, 2, 2}, {2, 2, 2}, {0, 0, 0}, {1, 1, 1}, false)},
      {"3d 3x1x3 s(1,2,1) p1", geometry(1, 65, {5, 6, 35}, {3, 1, 3}, {1, 2, 1}, {1, 0, 1}, {1, 1, 1}, false)},
      {"2d tall narrow 3x3 s1 p1", geometry(1, 3, {70, 9}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, false)},
      {"2d tall 3x3 s2 p1 ceil", geometry(1, 2, {75, 40}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, true)},
      // Max takes these in two passes (separable.h).
      {"2d 5x4 s(1,2) p2 d(1,2) ceil", geometry(1, 6, {14, 61}, {5, 4}, {1, 2}, {2, 2}, {1, 2}, true)},
      {"3d 3x3x3 s1 p1", geometry(1, 3, {5, 7, 38}, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, false)},
      // Windows that tile the input (the owned-window backward and routing paths).
      {"2d 2x2 s2 tiling", geometry(1, 5, {8, 70}, {2, 2}, {2, 2}, {0, 0}, {1, 1}, false)},
      {"3d 2x2x2 tiling", geometry(2, 3, {4, 6, 36}, {2, 2, 2}, {2, 2, 2}, {0, 0, 0}, {1, 1, 1}, false)},
  };
}

bool is_nan(DType t, const uint8_t* p) {
  uint64_t b = 0;
  std::memcpy(&b, p, size_t(kSize[int(t)]));
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

// The first element whose bits differ, NaN matching any NaN (a compiler may commute
// the operands of an addition, and with them which NaN's payload survives); or -1.
int64_t first_difference(DType t, const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  const int sz = kSize[int(t)];
  for (size_t i = 0; i < a.size(); i += size_t(sz)) {
    if (std::memcmp(&a[i], &b[i], size_t(sz)) == 0) continue;
    if (is_nan(t, &a[i]) && is_nan(t, &b[i])) continue;
    return int64_t(i) / sz;
  }
  return -1;
}

// Runs `fn` over all its work items and returns the bytes it wrote.
std::vector<uint8_t> run(KernelFn fn, KernelArgs a, int64_t items, std::vector<uint8_t>& out,
                         std::vector<int64_t>* idx) {
  std::memset(out.data(), 0xA5, out.size());  // poison: every element must be written
  if (idx) std::fill(idx->begin(), idx->end(), -7);
  std::vector<float> scratch(size_t(scratch_bytes(a) / 4 + 1));
  a.scratch = scratch.data();
  fn(a, 0, items);
  return out;
}

void compare_levels(const std::string& what, DType t, Layout l, const Geometry& g,
                    const std::function<KernelFn(Level)>& kernel, bool backward, bool indices,
                    const void* params) {
  std::mt19937 rng(1234);
  const int64_t in_n = g.planes() * g.in_plane(), out_n = g.planes() * g.out_plane();
  std::vector<uint8_t> input = random_data(t, in_n, rng), grad = random_data(t, out_n, rng);
  // Indices to route by: those of the scalar max-pool forward on the same input.
  std::vector<int64_t> route_idx(static_cast<size_t>(out_n));
  {
    std::vector<uint8_t> values(static_cast<size_t>(out_n * kSize[int(t)]));
    KernelArgs f;
    f.g = g;
    f.dtype = t;
    f.layout = l;
    f.input = input.data();
    f.output = values.data();
    f.indices = route_idx.data();
    max_pool_kernels(Level::scalar).forward_indices.get(l, t)(f, 0, forward_items(f));
  }
  KernelArgs a;
  a.g = g;
  a.dtype = t;
  a.layout = l;
  a.params = params;
  int64_t bad[2] = {0, 0};
  a.bad_index = bad;
  std::vector<uint8_t> ref_out, out(static_cast<size_t>((backward ? in_n : out_n) * kSize[int(t)]));
  std::vector<int64_t> ref_idx, idx(static_cast<size_t>(out_n));
  for (int64_t bands : {int64_t(1), int64_t(3)}) {
    a.bands = backward ? std::min<int64_t>(bands, g.dim[0].in * g.dim[1].in) : 1;
    if (backward) {
      a.input = input.data();
      a.grad_output = grad.data();
      a.grad_indices = route_idx.data();
      a.grad_input = out.data();
    } else {
      a.input = input.data();
      a.output = out.data();
      a.indices = indices ? idx.data() : nullptr;
    }
    const int64_t items = backward ? backward_items(a) : forward_items(a);
    ref_out = run(kernel(Level::scalar), a, items, out, indices ? &idx : nullptr);
    ref_idx = idx;
    for (Level lv : wide_levels()) {
      std::vector<uint8_t> got = run(kernel(lv), a, items, out, indices ? &idx : nullptr);
      const int64_t first = first_difference(t, got, ref_out);
      INFO(what << " (dtype " << int(t) << ", layout " << int(l) << ") at " << level_name(lv)
                << " vs scalar, bands " << a.bands << ": first difference at element " << first);
      REQUIRE(first == -1);
      if (indices) REQUIRE(idx == ref_idx);
    }
  }
  REQUIRE(bad[0] == 0);
}

}  // namespace

TEST_CASE("levels agree: max_pool forward, values and indices") {
  for (const Case& c : cases())
    for (DType t : {DType::f32, DType::f64, DType::f16, DType::bf16})
      for (Layout l : {Layout::contiguous, Layout::channels_last})
        for (bool with_idx : {false, true})
          compare_levels("max_pool " + c.name, t, l, c.g,
                         [&](Level lv) {
                           const MaxPoolKernels& k = max_pool_kernels(lv);
                           return (with_idx ? k.forward_indices : k.forward).get(l, t);
                         },
                         false, with_idx, nullptr);
}

TEST_CASE("levels agree: max_pool backward (the routing core)") {
  for (const Case& c : cases())
    for (DType t : {DType::f32, DType::f64, DType::f16, DType::bf16})
      for (Layout l : {Layout::contiguous, Layout::channels_last})
        compare_levels("max_pool backward " + c.name, t, l, c.g,
                       [&](Level lv) { return max_pool_kernels(lv).backward.get(l, t); }, true,
                       false, nullptr);
}

TEST_CASE("levels agree: avg_pool forward and backward") {
  for (const Case& c : cases()) {
    if (c.g.dim[0].d != 1 || c.g.dim[1].d != 1 || c.g.dim[2].d != 1) continue;  // no dilation
    for (AvgPoolParams prm : {AvgPoolParams{true, 0}, AvgPoolParams{false, 0}, AvgPoolParams{true, 3}})
      for (DType t : {DType::f32, DType::f64, DType::f16, DType::bf16})
        for (Layout l : {Layout::contiguous, Layout::channels_last})
          for (bool bwd : {false, true})
            compare_levels("avg_pool " + c.name + (bwd ? " backward" : ""), t, l, c.g,
                           [&](Level lv) {
                             const AvgPoolKernels& k = avg_pool_kernels(lv);
                             return (bwd ? k.backward : k.forward).get(l, t);
                           },
                           bwd, false, &prm);
  }
}

TEST_CASE("routing by windows reports an index outside its window's rows or the plane") {
  Geometry g = geometry(1, 2, {4, 4}, {2, 2}, {2, 2}, {0, 0}, {1, 1}, false);
  std::vector<float> gout(8, 1.0f), gin(32);
  std::vector<int64_t> idx = {0, 2, 8, 10, 0, 2, 8, 10};  // each window's first element
  KernelArgs a;
  a.g = g;
  a.grad_output = gout.data();
  a.grad_indices = idx.data();
  a.grad_input = gin.data();
  int64_t bad[2] = {0, 0};
  a.bad_index = bad;
  for (Level lv : {Level::scalar, Level::avx2, Level::avx512}) {
    if (!compiled(lv) || int(lv) > int(supported_level())) continue;
    KernelFn fn = max_pool_kernels(lv).backward.get(Layout::contiguous, DType::f32);
    for (int64_t bands : {1, 2}) {
      a.bands = bands;
      idx[5] = 2;
      fn(a, 0, backward_items(a));
      REQUIRE(bad[0] == 0);
      REQUIRE((gin[0] == 1.0f && gin[10] == 1.0f && gin[16 + 2] == 1.0f));
      idx[5] = 4;  // the window's rows, another column: routed as given, as torch does
      fn(a, 0, backward_items(a));
      REQUIRE(bad[0] == 0);
      REQUIRE((gin[16 + 4] == 1.0f && gin[16 + 2] == 0.0f));
      idx[5] = 9;  // a row outside output 1's window: reported, never written
      fn(a, 0, backward_items(a));
      REQUIRE((bad[0] == 2 && bad[1] == 9));
      REQUIRE(gin[16 + 9] == 0.0f);
      bad[0] = 0;
      idx[5] = 16;  // outside the plane
      fn(a, 0, backward_items(a));
      REQUIRE((bad[0] == 1 && bad[1] == 16));
      bad[0] = 0;
    }
  }
}

TEST_CASE("levels agree: soft_pool forward and backward") {
  for (const Case& c : cases())
    for (DType t : {DType::f32, DType::f64, DType::f16, DType::bf16})
      for (Layout l : {Layout::contiguous, Layout::channels_last})
        for (bool bwd : {false, true})
          compare_levels("soft_pool " + c.name + (bwd ? " backward" : ""), t, l, c.g,
                         [&](Level lv) {
                           const SoftPoolKernels& k = soft_pool_kernels(lv);
                           return (bwd ? k.backward : k.forward).get(l, t);
                         },
                         bwd, false, nullptr);
}

TEST_CASE("levels agree: stochastic_pool sampling (values and indices), evaluation and its backward") {
  const StochasticPoolParams key{0x0123456789ABCDEFull, 0xFEDCBA9876543210ull};
  for (const Case& c : cases())
    for (DType t : {DType::f32, DType::f64, DType::f16, DType::bf16})
      for (Layout l : {Layout::contiguous, Layout::channels_last}) {
        compare_levels("stochastic_pool sample " + c.name, t, l, c.g,
                       [&](Level lv) { return stochastic_pool_kernels(lv).sample.get(l, t); }, false, true,
                       &key);
        compare_levels("stochastic_pool eval " + c.name, t, l, c.g,
                       [&](Level lv) { return stochastic_pool_kernels(lv).eval.get(l, t); }, false, false,
                       nullptr);
        compare_levels("stochastic_pool eval backward " + c.name, t, l, c.g,
                       [&](Level lv) { return stochastic_pool_kernels(lv).eval_backward.get(l, t); }, true,
                       false, nullptr);
      }
}

TEST_CASE("philox4x32-10 known answers (Random123's kat_vectors)") {
  struct Kat {
    philox::U32x4 ctr;
    uint32_t k0, k1;
    philox::U32x4 want;
  };
  const Kat kats[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}}},
      {{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}}, 0xffffffffu, 0xffffffffu,
       {{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}}},
      {{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}}, 0xa4093822u, 0x299f31d0u,
       {{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}}},
  };
  for (const Kat& k : kats) {
    const philox::U32x4 got = philox::philox4x32_10(k.ctr, k.k0, k.k1);
    for (int i = 0; i < 4; ++i) REQUIRE(got.x[i] == k.want.x[i]);
  }
  // bits(): counter (index low, index high, offset low, offset high), key (seed low, high).
  const uint64_t seed = 0x299f31d0a4093822ull, offset = 0x0370734413198a2eull, index = 0x85a308d3243f6a88ull;
  REQUIRE(philox::bits(seed, offset, index) == 0xd16cfe09u);
  REQUIRE(philox::uniform(0xFFFFFFFFu) == 1.0f - 1.0f / 16777216.0f);
  REQUIRE(philox::uniform(0x000000FFu) == 0.0f);
}

TEST_CASE("every level draws philox.h's uniforms, 64-bit indices included") {
  const uint64_t seed = 0x9E3779B97F4A7C15ull, offset = 0xD1B54A32D192ED03ull;
  const int64_t n = 77;  // whole packs and a tail at every width
  for (int64_t first : {int64_t(0), int64_t(0xFFFFFFF0), int64_t(1) << 40, (int64_t(1) << 62) + 12345})
    for (int64_t step : {int64_t(1), int64_t(3), int64_t(12544), (int64_t(1) << 33) + 7}) {
      std::vector<float> want(n), got(n);
      for (int64_t i = 0; i < n; ++i)
        want[size_t(i)] = philox::uniform(philox::bits(seed, offset, uint64_t(first) + uint64_t(i) * uint64_t(step)));
      for (Level lv : {Level::scalar, Level::avx2, Level::avx512}) {
        if (!compiled(lv) || int(lv) > int(supported_level())) continue;
        std::fill(got.begin(), got.end(), -1.0f);
        stochastic_pool_kernels(lv).uniforms(seed, offset, first, step, n, got.data());
        INFO(level_name(lv) << " first " << first << " step " << step);
        REQUIRE(got == want);
      }
    }
}

namespace {

// Runs a routing kernel over all its work items (bands of the unpooled side, or the
// pooled side's rows/pixels for the gather), poisoning the output first.
std::vector<uint8_t> run_routing(KernelFn fn, KernelArgs a, bool gather, std::vector<uint8_t>& out) {
  std::memset(out.data(), 0xA5, out.size());
  std::vector<float> scratch(size_t(scratch_bytes(a) / 4 + 1));
  a.scratch = scratch.data();
  fn(a, 0, gather ? forward_items(a) : backward_items(a));
  return out;
}

// One routing case at every level: assignment (windowed with max pooling's indices,
// and for indices anywhere) and the gather against plain references, the adding
// scatter against the scalar level. Returns whether a vector level's contiguous owned
// kernel took the case (so that the caller can require it did somewhere).
bool check_unpool_routing(const Case& c, DType t, Layout l, bool anywhere) {
  const Geometry& g = c.g;
  const int sz = kSize[int(t)];
  const int64_t lanes = l == Layout::contiguous ? 1 : g.channels;
  const int64_t groups = l == Layout::contiguous ? g.planes() : g.batch;
  const int64_t in_n = g.planes() * g.in_plane(), out_n = g.planes() * g.out_plane();
  std::mt19937 rng(99);
  std::vector<uint8_t> src = random_data(t, out_n, rng), wide = random_data(t, in_n, rng);
  // Indices: max pooling's (repeated where windows overlap), or anywhere in the
  // plane, every other position, so that about two sources share a destination.
  std::vector<int64_t> idx(static_cast<size_t>(out_n));
  if (anywhere) {
    for (int64_t& i : idx) i = int64_t(rng() % uint64_t((g.in_plane() + 1) / 2)) * 2;
  } else {
    std::vector<uint8_t> values(static_cast<size_t>(out_n * sz));
    KernelArgs f;
    f.g = g;
    f.dtype = t;
    f.layout = l;
    f.input = wide.data();
    f.output = values.data();
    f.indices = idx.data();
    max_pool_kernels(Level::scalar).forward_indices.get(l, t)(f, 0, forward_items(f));
  }
  // References: the latest source in scan order wins; the gather copies.
  std::vector<uint8_t> assigned(static_cast<size_t>(in_n * sz), 0), gathered(static_cast<size_t>(out_n * sz));
  for (int64_t grp = 0; grp < groups; ++grp)
    for (int64_t o = 0; o < g.out_plane(); ++o)
      for (int64_t ch = 0; ch < lanes; ++ch) {
        const int64_t e = (grp * g.out_plane() + o) * lanes + ch;
        const int64_t d = (grp * g.in_plane() + idx[size_t(e)]) * lanes + ch;
        std::memcpy(&assigned[size_t(d * sz)], &src[size_t(e * sz)], size_t(sz));
        std::memcpy(&gathered[size_t(e * sz)], &wide[size_t(d * sz)], size_t(sz));
      }
  int64_t bad[2] = {0, 0};
  KernelArgs a;
  a.g = g;
  a.dtype = t;
  a.layout = l;
  a.bad_index = bad;
  std::vector<uint8_t> scattered(static_cast<size_t>(in_n * sz)), picked(static_cast<size_t>(out_n * sz));
  bool owned_rows = false;
  for (int64_t bands : {int64_t(1), int64_t(3)}) {
    a.bands = std::min<int64_t>(bands, g.dim[0].in * g.dim[1].in);
    a.grad_output = src.data();
    a.grad_indices = idx.data();
    a.grad_input = scattered.data();
    a.input = wide.data();
    a.output = picked.data();
    for (Level lv : {Level::scalar, Level::avx2, Level::avx512}) {
      if (!compiled(lv) || int(lv) > int(supported_level())) continue;
      const UnpoolKernels& k = unpool_kernels(lv);
      const UnpoolKernels& k0 = unpool_kernels(Level::scalar);
      INFO("unpool " << c.name << " (dtype " << int(t) << ", layout " << int(l) << ", "
                     << (anywhere ? "anywhere" : "max-pool indices") << ") at " << level_name(lv)
                     << ", bands " << a.bands);
      if (!anywhere) REQUIRE(run_routing(k.route.get(l, t), a, false, scattered) == assigned);
      REQUIRE(run_routing(k.route_any.get(l, t), a, false, scattered) == assigned);
      REQUIRE(run_routing(k.gather.get(l, t), a, true, picked) == gathered);
      // Disjoint windows: the gather formulation gives the same, and counts every
      // source as naming a position of its window. Channels-last takes every such
      // geometry; contiguous (route_owned_rows) only tiling width-2 windows at the vector
      // levels, and matches nothing where it does not (the caller then scatters).
      if (KernelFn owned = k.owned.get(l, t); owned && g.disjoint_windows() && !anywhere) {
        int64_t matched = 0;
        KernelArgs b = a;
        b.matched = &matched;
        b.disjoint_windows = true;  // as run_owned sets it
        const std::vector<uint8_t> got = run_routing(owned, b, false, scattered);
        if (l == Layout::channels_last || matched != 0) {
          REQUIRE(got == assigned);
          REQUIRE(matched == out_n);
          owned_rows = owned_rows || (l == Layout::contiguous && lv != Level::scalar);
        }
      }
      std::vector<uint8_t> sum0 = run_routing(k0.add_any.get(l, t), a, false, scattered);
      REQUIRE(first_difference(t, run_routing(k.add_any.get(l, t), a, false, scattered), sum0) == -1);
      // Overlapping windows, channels-last: max pooling's gathering backward (route_held,
      // for 32- and 64-bit storage, windows of up to 9 elements) forms the adding
      // scatter's sums, and counts every source as matched; for 16-bit storage or larger
      // windows it matches none, and the caller scatters.
      if (l == Layout::channels_last && !anywhere && !g.disjoint_windows()) {
        int64_t matched = 0;
        KernelArgs b = a;
        b.matched = &matched;
        const std::vector<uint8_t> got =
            run_routing(max_pool_kernels(lv).backward_owned.get(l, t), b, false, scattered);
        if (sz == 2 || g.dim[0].k * g.dim[1].k * g.dim[2].k > 9) {
          REQUIRE(matched == 0);
        } else {
          REQUIRE(first_difference(t, got, sum0) == -1);
          REQUIRE(matched == out_n);
        }
      }
      REQUIRE(bad[0] == 0);
    }
  }
  return owned_rows;
}

}  // namespace

TEST_CASE("levels agree: unpool routing (assign with repeated indices, add, gather)") {
  bool owned_rows = false;
  for (const Case& c : cases())
    for (DType t : {DType::f32, DType::f64, DType::f16, DType::bf16})
      for (Layout l : {Layout::contiguous, Layout::channels_last})
        for (bool anywhere : {false, true}) owned_rows = check_unpool_routing(c, t, l, anywhere) || owned_rows;
  // The tiling cases reach route_owned_rows at the vector levels: its check above ran.
  if (compiled(Level::avx2) && int(supported_level()) >= int(Level::avx2)) REQUIRE(owned_rows);
}

TEST_CASE("unpool routing reports an index outside the plane and writes nothing there") {
  Geometry g = geometry(1, 2, {4, 4}, {2, 2}, {2, 2}, {0, 0}, {1, 1}, false);
  std::vector<float> vals(8, 1.0f), out(32 + 8, -1.0f), back(8);
  std::vector<int64_t> idx = {0, 2, 8, 10, 0, 2, 8, 16};  // the last one outside its plane
  KernelArgs a;
  a.g = g;
  a.grad_output = vals.data();
  a.grad_indices = idx.data();
  a.grad_input = out.data();
  a.input = out.data();
  a.output = back.data();
  int64_t bad[2] = {0, 0};
  a.bad_index = bad;
  for (Level lv : {Level::scalar, Level::avx2, Level::avx512}) {
    if (!compiled(lv) || int(lv) > int(supported_level())) continue;
    const UnpoolKernels& k = unpool_kernels(lv);
    for (int64_t bands : {1, 2}) {
      a.bands = bands;
      for (KernelFn fn : {k.route.get(Layout::contiguous, DType::f32), k.route_any.get(Layout::contiguous, DType::f32),
                          k.add_any.get(Layout::contiguous, DType::f32)}) {
        std::fill(out.begin(), out.end(), -1.0f);
        fn(a, 0, backward_items(a));
        REQUIRE((bad[0] == 1 && bad[1] == 16));
        REQUIRE((out[16 + 2] == 1.0f && out[16 + 1] == 0.0f));
        for (size_t i = 32; i < out.size(); ++i) REQUIRE(out[i] == -1.0f);  // past the tensor
        bad[0] = 0;
      }
      k.gather.get(Layout::contiguous, DType::f32)(a, 0, forward_items(a));
      REQUIRE((bad[0] == 1 && bad[1] == 16 && back[7] == 0.0f && back[6] == 1.0f));
      bad[0] = 0;
    }
  }
}
