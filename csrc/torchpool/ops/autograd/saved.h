#pragma once
// Small helpers the families' autograd Functions share: keeping the op's arguments
// in the context for backward.

#include <torch/autograd.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace torchpool {
namespace autograd {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Saves int-list arguments under names; ints(ctx, name) reads one back.
inline void save_ints(AutogradContext* ctx,
                      std::initializer_list<std::pair<const char*, at::IntArrayRef>> lists) {
  for (const auto& [name, v] : lists) ctx->saved_data[name] = v.vec();
}
inline std::vector<int64_t> ints(AutogradContext* ctx, const char* name) {
  return ctx->saved_data.at(name).toIntVector();
}

// Gradients for the first inputs, undefined (no gradient) for the other `rest`.
inline variable_list grads(std::initializer_list<at::Tensor> first, size_t rest) {
  variable_list v(first);
  v.resize(v.size() + rest);
  return v;
}

// Whether autograd must record a call with this input.
inline bool needs_grad(const at::Tensor& t) { return at::GradMode::is_enabled() && t.requires_grad(); }

}  // namespace autograd
}  // namespace torchpool
