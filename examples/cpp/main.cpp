// A tiny convnet whose pooling is torchpool's: conv -> max_pool2d -> relu ->
// avg_pool2d -> soft_pool2d -> linear. One forward and backward step on random data,
// then the same step with ATen's pooling (SoftPool, which ATen lacks, written with ATen
// ops): the outputs, loss and gradients must agree.
#include <torch/torch.h>
#include <torchpool/torchpool.h>

#include <cstdio>

struct Net : torch::nn::Module {
  Net()
      : conv(register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 8, 3).padding(1)))),
        fc(register_module("fc", torch::nn::Linear(8 * 2 * 2, 10))) {}

  // aten: pool with ATen's ops instead, for the check.
  torch::Tensor forward(const torch::Tensor& x, bool aten = false) {
    torch::Tensor h = conv->forward(x);                                      // 8 x 16 x 16
    h = aten ? at::max_pool2d(h, {2}) : torchpool::max_pool2d(h, {2});       // 8 x 8 x 8
    h = torch::relu(h);
    h = aten ? at::avg_pool2d(h, {3}, {2}, {1}) : torchpool::avg_pool2d(h, {3}, {2}, {1});  // 8 x 4 x 4
    h = aten ? aten_soft_pool2x2(h) : torchpool::soft_pool2d(h, {2});        // 8 x 2 x 2
    return fc->forward(h.flatten(1));
  }

  // SoftPool over 2x2 windows, sum(x e^x) / sum(e^x): fine for these small activations
  // (it overflows for large ones, which torchpool's kernels do not).
  static torch::Tensor aten_soft_pool2x2(const torch::Tensor& h) {
    return at::avg_pool2d(h * h.exp(), {2}) / at::avg_pool2d(h.exp(), {2});
  }

  torch::nn::Conv2d conv;
  torch::nn::Linear fc;
};

// The loss and the conv weight's gradient after one forward and backward step.
std::pair<torch::Tensor, torch::Tensor> step(Net& net, const torch::Tensor& x,
                                             const torch::Tensor& target, bool aten) {
  net.zero_grad();
  torch::Tensor loss = torch::nn::functional::cross_entropy(net.forward(x, aten), target);
  loss.backward();
  return {loss.detach(), net.conv->weight.grad().clone()};
}

int main() {
  torch::manual_seed(0);
  Net net;
  const torch::Tensor x = torch::randn({4, 3, 16, 16});
  const torch::Tensor target = torch::randint(0, 10, {4});

  std::printf("torchpool cpu level: %s\n", torchpool::cpu_capability().c_str());
  const torch::Tensor h = net.conv->forward(x).detach();
  const torch::Tensor m = torchpool::max_pool2d(h, {2});
  const torch::Tensor a = torchpool::avg_pool2d(torch::relu(m), {3}, {2}, {1});
  const torch::Tensor s = torchpool::soft_pool2d(a, {2});
  std::printf("conv %s -> max_pool2d %s -> avg_pool2d %s -> soft_pool2d %s\n", c10::str(h.sizes()).c_str(),
              c10::str(m.sizes()).c_str(), c10::str(a.sizes()).c_str(), c10::str(s.sizes()).c_str());

  const auto [loss, grad] = step(net, x, target, false);
  std::printf("loss %.6f, |d loss / d conv.weight| %.6f\n", loss.item<double>(), grad.norm().item<double>());

  // The same pooling and the same step with ATen's ops.
  const bool same_pool = torch::equal(m, at::max_pool2d(h, {2})) &&
                         torch::allclose(a, at::avg_pool2d(torch::relu(m), {3}, {2}, {1})) &&
                         torch::allclose(s, Net::aten_soft_pool2x2(a));
  const auto [ref_loss, ref_grad] = step(net, x, target, true);
  const bool same_step = torch::allclose(loss, ref_loss) && torch::allclose(grad, ref_grad);
  std::printf("against ATen: pooling %s, loss and gradient %s\n",
              same_pool ? "match" : "DIFFER", same_step ? "match" : "DIFFER");
  return same_pool && same_step ? 0 : 1;
}
