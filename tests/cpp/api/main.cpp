// The Catch2 main of the C++ API tests (its own file: it compiles once).
#define CATCH_CONFIG_RUNNER
#include <ATen/Parallel.h>
#include <catch2/catch.hpp>

int main(int argc, char** argv) {
  // The tensors here are small: more threads would only wait on each other, badly on
  // a loaded machine (threaded runs are the parity suite's business).
  at::set_num_threads(1);
  return Catch::Session().run(argc, argv);
}
