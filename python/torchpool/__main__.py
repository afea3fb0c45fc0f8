"""`python -m torchpool`: what this build is, and a quick check against torch.nn."""
import json

import torch

import torchpool


def main():
    print(json.dumps(torchpool.build_info(), indent=2))
    x = torch.randn(8, 16, 56, 56)
    checks = {
        "max_pool2d(3, 2, 1)": (torchpool.max_pool2d(x, 3, 2, 1), torch.nn.functional.max_pool2d(x, 3, 2, 1)),
        "avg_pool2d(2)": (torchpool.avg_pool2d(x, 2), torch.nn.functional.avg_pool2d(x, 2)),
    }
    for name, (ours, ref) in checks.items():
        print(f"{name}: matches torch.nn: {torch.allclose(ours, ref)}")
    print("benchmarks: python benchmarks/bench.py (see README.md)")


if __name__ == "__main__":
    main()
