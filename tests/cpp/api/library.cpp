// What the library reports about itself, through the public C++ API and through the
// dispatcher (the ops registered themselves when the library loaded).
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/version.h>
#include <torchpool/torchpool.h>

#include <cstdlib>
#include <string>

#include "common.h"

TEST_CASE("cpu_capability names the level in use", "[library]") {
  const std::string level = torchpool::cpu_capability();
  CHECK((level == "scalar" || level == "avx2" || level == "avx512"));
  if (const char* forced = std::getenv("TORCHPOOL_CPU_CAPABILITY")) CHECK(level == forced);
  const auto op = c10::Dispatcher::singleton().findSchemaOrThrow("torchpool::cpu_capability", "");
  CHECK(op.typed<std::string()>().call() == level);
}

TEST_CASE("build_info reports the version, torch, the CPU levels and CUDA", "[library]") {
  const std::string info = torchpool::build_info();
  INFO(info);
  CHECK(info.find("\"version\": \"") != std::string::npos);
  CHECK(info.find(std::string("\"torch_version\": \"") + TORCH_VERSION) != std::string::npos);
  CHECK(info.find("\"cpu_levels\": [\"scalar\"") != std::string::npos);
  CHECK(info.find("\"cpu_capability\": \"" + torchpool::cpu_capability() + "\"") != std::string::npos);
  CHECK(info.find("\"cuda\": ") != std::string::npos);
  const auto op = c10::Dispatcher::singleton().findSchemaOrThrow("torchpool::build_info", "");
  CHECK(op.typed<std::string()>().call() == info);
}
