"""torchpool beside torch.nn, in one process on the same tensors, with the machine's
own ceiling: a copy (torch's, all cores) of the same number of bytes.

    python benchmarks/bench.py                 # the table, to stdout
    python benchmarks/bench.py --markdown F    # also write it to F
    python benchmarks/bench.py --quick --only max
    python benchmarks/bench.py --device cuda   # on the GPU (CUDA events, device copy)

Each row times torchpool, torch and the copy in interleaved rounds (all cores; on the
CPU a round is one call of each) and reports medians: time, effective bandwidth (bytes
read + bytes written, once each, over time), and, as medians of the ratios within each
round, the fraction of the copy's bandwidth and the speedup over torch. Inputs are random
normal values, never zeros.

Memory: large outputs from glibc's malloc are fresh pages every call, and the OS's
page faults then cost more than the kernel (for torch and torchpool alike). The script
re-runs itself under jemalloc with freed memory retained, as a caching allocator
would, when libjemalloc is installed (scripts/bench.sh installs it).
"""
import argparse
import ctypes.util
import os
import statistics
import sys
import time
from pathlib import Path

JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
if "TORCHPOOL_BENCH_CHILD" not in os.environ and os.path.exists(JEMALLOC):
    env = dict(os.environ, TORCHPOOL_BENCH_CHILD="1", LD_PRELOAD=JEMALLOC,
               MALLOC_CONF="retain:true,dirty_decay_ms:-1,muzzy_decay_ms:-1")
    os.execve(sys.executable, [sys.executable, *sys.argv], env)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import torchpool  # noqa: E402

aten = torch.ops.aten
tp = torch.ops.torchpool
SHAPE_2D = (32, 64, 112, 112)
SHAPE_3D = (8, 32, 16, 56, 56)


def configs():
    """(name, nd, kind, shape, kernel, stride, padding)."""
    return [
        ("max 2x2 s2", 2, "max", SHAPE_2D, 2, 2, 0),
        ("max 3x3 s2 p1", 2, "max", SHAPE_2D, 3, 2, 1),
        ("avg 2x2 s2", 2, "avg", SHAPE_2D, 2, 2, 0),
        ("avg 3x3 s1 p1", 2, "avg", SHAPE_2D, 3, 1, 1),
        ("max 2x2x2 s2", 3, "max", SHAPE_3D, 2, 2, 0),
        ("max 5x5 s1 p2", 2, "max", SHAPE_2D, 5, 1, 2),  # YOLO's SPPF: the two-pass forward
        ("soft 2x2 s2", 2, "soft", SHAPE_2D, 2, 2, 0),
        ("stochastic train 2x2 s2", 2, "stochastic_train", SHAPE_2D, 2, 2, 0),
        ("stochastic eval 2x2 s2", 2, "stochastic_eval", SHAPE_2D, 2, 2, 0),

        ("max_unpool 2x2 s2", 2, "max_unpool", SHAPE_2D, 2, 2, 0),
    ]


def calls(nd, kind, x, k, s, p):
    """The forward and backward calls of torchpool and torch on the same tensors, and the
    bytes each direction must move."""
    if kind in TORCH_OP_TWINS:
        return soft_stochastic_calls(kind, x, k, s, p)
    ks, ss, ps, ds = [k] * nd, [s] * nd, [p] * nd, [1] * nd
    esz = x.element_size()
    if kind == "max_unpool":
        return unpool_calls(nd, x, ks, ss, ps, ds)
    if kind == "max":
        y, idx = getattr(tp, f"max_pool{nd}d_with_indices")(x, ks, ss, ps, ds, False)
        g = torch.randn_like(y)
        ours_f = lambda: getattr(tp, f"max_pool{nd}d")(x, ks, ss, ps, ds, False)  # noqa: E731
        torch_f = lambda: getattr(F, f"max_pool{nd}d")(x, ks, ss, ps, ds, False)  # noqa: E731
        ours_b = lambda: getattr(tp, f"max_pool{nd}d_backward")(g, x, idx, ks, ss, ps, ds, False)  # noqa: E731
        bwd = getattr(aten, f"max_pool{nd}d_with_indices_backward")
        torch_b = lambda: bwd(g, x, ks, ss, ps, ds, False, idx)  # noqa: E731
        bytes_b = y.numel() * (esz + 8) + x.numel() * esz  # grad_output + indices, grad_input
    else:
        y = getattr(tp, f"avg_pool{nd}d")(x, ks, ss, ps, False, True, None)
        g = torch.randn_like(y)
        ours_f = lambda: getattr(tp, f"avg_pool{nd}d")(x, ks, ss, ps, False, True, None)  # noqa: E731
        torch_f = lambda: getattr(F, f"avg_pool{nd}d")(x, ks, ss, ps, False, True, None)  # noqa: E731
        ours_b = lambda: getattr(tp, f"avg_pool{nd}d_backward")(g, x, ks, ss, ps, False, True, None)  # noqa: E731
        bwd = getattr(aten, f"avg_pool{nd}d_backward")
        torch_b = lambda: bwd(g, x, ks, ss, ps, False, True, None)  # noqa: E731
        bytes_b = y.numel() * esz + x.numel() * esz
    bytes_f = x.numel() * esz + y.numel() * esz
    return {"fwd": (ours_f, torch_f, bytes_f), "bwd": (ours_b, torch_b, bytes_b)}


# SoftPool and stochastic pooling (2-d) beside the same functions written with torch ops,
# the "torch" column: torch.nn has neither.
def soft_torch(x, k, s, p):
    """avg_pool(x exp(x - m)) / avg_pool(exp(x - m)), m the plane's max."""
    e = (x - x.amax(dim=(-2, -1), keepdim=True)).exp()
    return F.avg_pool2d(x * e, k, s, p) / F.avg_pool2d(e, k, s, p)


def stochastic_train_torch(x, k, s, p):
    """unfold + multinomial over the weights max(x, 0); the argmax where they are all 0."""
    n, c = x.shape[:2]
    out_h, out_w = ((x.shape[2] + 2 * p - k) // s + 1), ((x.shape[3] + 2 * p - k) // s + 1)
    cols = F.unfold(x, k, padding=p, stride=s).view(n, c, k * k, -1).transpose(2, 3).reshape(-1, k * k)
    w = cols.clamp(min=0).float()
    some = w.sum(-1, keepdim=True) > 0
    pick = torch.where(some, torch.multinomial(torch.where(some, w, 1.0), 1), cols.argmax(-1, keepdim=True))
    return cols.gather(-1, pick).view(n, c, out_h, out_w)


def stochastic_eval_torch(x, k, s, p):
    """avg_pool(r r) / avg_pool(r), r = max(x, 0); max_pool where avg_pool(r) is 0."""
    r = x.clamp(min=0)
    den = F.avg_pool2d(r, k, s, p)
    return torch.where(den > 0, F.avg_pool2d(r * r, k, s, p) / den, F.max_pool2d(x, k, s, p))


TORCH_OP_TWINS = {"soft": soft_torch, "stochastic_train": stochastic_train_torch,
                  "stochastic_eval": stochastic_eval_torch}


def soft_stochastic_calls(kind, x, k, s, p):
    """As calls(); the torch backward is autograd through the torch-op function (its graph
    built once), torchpool's the backward op its autograd calls."""
    ks, ss, ps, ds = [k] * 2, [s] * 2, [p] * 2, [1] * 2
    esz = x.element_size()
    twin = TORCH_OP_TWINS[kind]
    xr = x.detach().requires_grad_()
    y_torch = twin(xr, k, s, p)
    # grad_output in the layout of torchpool's output (channels-last for a channels-last
    # input), as autograd hands it over; the torch-op formulation's output may be dense.
    g = torch.randn_like(tp.soft_pool2d(x, ks, ss, ps, ds, False))
    torch_f = lambda: twin(x, k, s, p)  # noqa: E731
    torch_b = lambda: torch.autograd.grad(y_torch, xr, g, retain_graph=True)  # noqa: E731
    if kind == "soft":
        ours_f = lambda: tp.soft_pool2d(x, ks, ss, ps, ds, False)  # noqa: E731
        ours_b = lambda: tp.soft_pool2d_backward(g, x, ks, ss, ps, ds, False)  # noqa: E731
        bytes_f, bytes_b = (x.numel() + g.numel()) * esz, (2 * x.numel() + g.numel()) * esz
    elif kind == "stochastic_train":
        _, idx = tp.stochastic_pool2d(x, ks, ss, ps, ds, False, 1, 2)
        ours_f = lambda: tp.stochastic_pool2d(x, ks, ss, ps, ds, False, 1, 2)  # noqa: E731
        ours_b = lambda: tp.max_pool2d_backward(g, x, idx, ks, ss, ps, ds, False)  # noqa: E731
        bytes_f = x.numel() * esz + g.numel() * (esz + 8)  # values and int64 indices out
        bytes_b = g.numel() * (esz + 8) + x.numel() * esz
    else:
        ours_f = lambda: tp.stochastic_pool2d_eval(x, ks, ss, ps, ds, False)  # noqa: E731
        ours_b = lambda: tp.stochastic_pool2d_eval_backward(g, x, ks, ss, ps, ds, False)  # noqa: E731
        bytes_f, bytes_b = (x.numel() + g.numel()) * esz, (2 * x.numel() + g.numel()) * esz
    return {"fwd": (ours_f, torch_f, bytes_f), "bwd": (ours_b, torch_b, bytes_b)}

def unpool_calls(nd, x, ks, ss, ps, ds):
    """max_unpool inverting the max pooling of x (x's size is the unpooled one), and its
    backward (a gather; torch's through autograd, which has no op of its own for it)."""
    y, idx = getattr(tp, f"max_pool{nd}d_with_indices")(x, ks, ss, ps, ds, False)
    g = torch.randn_like(x)
    ours_f = lambda: getattr(tp, f"max_unpool{nd}d")(y, idx, ks, ss, ps, None)  # noqa: E731
    torch_f = lambda: getattr(F, f"max_unpool{nd}d")(y, idx, ks, ss, ps)  # noqa: E731
    ours_b = lambda: getattr(tp, f"max_unpool{nd}d_backward")(g, idx)  # noqa: E731
    yr = y.detach().requires_grad_()
    zr = getattr(F, f"max_unpool{nd}d")(yr, idx, ks, ss, ps)
    torch_b = lambda: torch.autograd.grad(zr, yr, g, retain_graph=True)  # noqa: E731
    nbytes = y.numel() * (y.element_size() + 8) + x.numel() * x.element_size()
    return {"fwd": (ours_f, torch_f, nbytes), "bwd": (ours_b, torch_b, nbytes)}


# --- CUDA: the same table on the GPU, timed with CUDA events ---

def cuda_timer(fn, min_time):
    """The median time of one call over batches of calls between CUDA events (a batch
    runs about 10 ms, so launch gaps and event overhead are spread thin)."""
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    fn()
    end.record()
    end.synchronize()
    per_batch = max(1, int(0.01 / max(start.elapsed_time(end) / 1e3, 1e-6)))
    times, total = [], 0.0
    while total < min_time or len(times) < 5:
        start.record()
        for _ in range(per_batch):
            fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3 / per_batch)
        total += times[-1] * per_batch
    return statistics.median(times)


def measure(ours, theirs, nbytes, rounds, min_time, device="cpu"):
    """Copy, torchpool and torch, interleaved: per-quantity medians, and the ratios taken
    within each round. On CUDA a round times each over ~min_time (CUDA events) and the
    copy is a device-to-device copy of the same bytes. On the CPU a round is one call of
    each: the shared VM's speed moves in phases shorter than a second, and only ratios of
    neighbouring calls cancel them; rounds go on until `rounds` of them and min_time of
    calls in all."""
    src = torch.randn(nbytes // 8, device=device)  # nbytes/2 read + nbytes/2 written
    dst = torch.empty_like(src)
    copy = lambda: dst.copy_(src)  # noqa: E731
    for fn in (copy, ours, theirs):  # warm up: first-touch allocations, caches
        for _ in range(3):
            fn()
    t = {"copy": [], "ours": [], "torch": []}
    fns = {"copy": copy, "ours": ours, "torch": theirs}
    if device == "cuda":
        for _ in range(rounds):
            for key, fn in fns.items():
                t[key].append(cuda_timer(fn, min_time))
    else:
        total = 0.0
        while len(t["copy"]) < rounds or total < min_time:
            for key, fn in fns.items():
                start = time.perf_counter()
                fn()
                t[key].append(time.perf_counter() - start)
                total += t[key][-1]
    med = {key: statistics.median(v) for key, v in t.items()}
    speedup = statistics.median(b / a for a, b in zip(t["ours"], t["torch"]))
    frac = statistics.median(c / a for a, c in zip(t["ours"], t["copy"]))
    return med, speedup, frac


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markdown", type=Path, help="also write the table to this file")
    ap.add_argument("--quick", action="store_true", help="one round, short timings")
    ap.add_argument("--only", default="", help="run the configs whose name contains this")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                    help="where to run (cuda: needs a GPU and torchpool built with CUDA)")
    args = ap.parse_args()
    if args.device == "cuda" and not (torch.cuda.is_available() and torchpool.build_info()["cuda"]):
        sys.exit("bench.py --device cuda: no CUDA GPU, or torchpool built without CUDA")
    # Rounds of one call each on the CPU (see measure), at least 15 and 3 s of calls a row.
    if args.device == "cuda":
        rounds, min_time = (1, 0.1) if args.quick else (9, 0.1)
    else:
        rounds, min_time = (3, 0.3) if args.quick else (15, 3.0)
    torch.manual_seed(0)
    allocator = "jemalloc (retained)" if os.environ.get("LD_PRELOAD") else "glibc malloc"
    header = (f"torchpool {torchpool.__version__}, torch {torch.__version__}, cpu level "
              f"{torchpool.cpu_capability()}, {torch.get_num_threads()} threads, allocator {allocator}")
    if args.device == "cuda":
        header = (f"torchpool {torchpool.__version__}, torch {torch.__version__}, "
                  f"{torch.cuda.get_device_name()}, CUDA {torch.version.cuda}, CUDA events")
    rows = ["| op | shape | dtype | layout | pass | torchpool ms | torch ms | copy ms | GB/s | "
            "of copy | x torch |", "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|"]
    print(header, flush=True)
    print("\n".join(rows), flush=True)
    for name, nd, kind, shape, k, s, p in configs():
        if args.only not in name:
            continue
        for dtype in (torch.float32, torch.bfloat16):
            for layout in ("contiguous", "channels_last"):
                x = torch.randn(shape, device=args.device).to(dtype)
                if layout == "channels_last":
                    x = x.contiguous(memory_format=torch.channels_last if nd == 2 else torch.channels_last_3d)
                for direction, (ours, theirs, nbytes) in calls(nd, kind, x, k, s, p).items():
                    med, speedup, frac = measure(ours, theirs, nbytes, rounds, min_time, args.device)
                    gbs = nbytes / med["ours"] / 1e9
                    row = (f"| {name} | {'x'.join(map(str, shape))} | {str(dtype).split('.')[-1]} | {layout} | "
                           f"{direction} | {med['ours'] * 1e3:.2f} | {med['torch'] * 1e3:.2f} | "
                           f"{med['copy'] * 1e3:.2f} | {gbs:.1f} | {frac:.0%} | {speedup:.1f} |")
                    rows.append(row)
                    print(row, flush=True)
                del x
    if args.markdown:
        args.markdown.write_text(header + "\n\n" + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
