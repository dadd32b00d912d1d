#!/usr/bin/env python3
"""Train the GLAS paper's 3D CNN on a synthetic AD/NC cohort made by `glas3d synth`.

Architecture (paper appendix): three 3x3x3 conv layers of 10 filters, each with ReLU and 2x2x2
max-pool; FC 32 and 16 with SELU; 2-way softmax. Input [N, 1, X, Y, Z]: the NIfTI volume as a
nibabel-style array [x][y][z] (glas3d --axes xyz), z-scored over its non-zero voxels
(glas3d --normalize zscore). Class 1 = AD, class 0 = NC.

Why the feature standardization: trained plainly with Adam (lr 1e-3) this small CNN stalls at
chance (loss stuck at ln 2), because the flattened conv features are non-negative with a large
common mode. So the flattened features are standardized before the first linear layer with
per-feature constants re-estimated at the start of every epoch; at export they are folded exactly
into that layer (W' = W / s, b' = b - W' m), so the exported network is still the paper's.

Writes WEIGHTS.bin (float32, little-endian) + WEIGHTS.json (names, shapes, offsets, metrics);
`npx tsx tools/train-reference/export.ts` turns them into ONNX with glas3d's own builder.
Runs on CPU or CUDA (--device). Needs only numpy and torch (Debian: python3-torch).
"""
import argparse
import gzip
import json
import os
import random
import struct
import time

import numpy as np
import torch
from torch import nn

DTYPES = {2: np.uint8, 4: np.int16, 8: np.int32, 16: np.float32, 64: np.float64, 256: np.int8, 512: np.uint16}


def read_nifti(path):
    """A NIfTI-1 volume as float32 [x][y][z] (x slowest), scl_slope/inter applied."""
    raw = open(path, "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    endian = "<" if struct.unpack("<i", raw[:4])[0] == 348 else ">"
    dims = struct.unpack(endian + "8h", raw[40:56])
    code = struct.unpack(endian + "h", raw[70:72])[0]
    vox_offset = int(struct.unpack(endian + "f", raw[108:112])[0])
    slope, inter = struct.unpack(endian + "2f", raw[112:120])
    nx, ny, nz = dims[1], dims[2], dims[3]
    data = np.frombuffer(raw, dtype=np.dtype(DTYPES[code]).newbyteorder(endian), count=nx * ny * nz, offset=vox_offset)
    data = data.astype(np.float32)
    if slope not in (0.0,) and np.isfinite(slope):
        data = data * slope + inter
    # File order is x fastest: reshape as [z][y][x], then transpose to [x][y][z].
    return np.ascontiguousarray(data.reshape(nz, ny, nx).transpose(2, 1, 0))


def zscore_nonzero(v):
    mask = v != 0
    m = v[mask].mean()
    s = v[mask].std(ddof=1)
    out = np.zeros_like(v)
    out[mask] = (v[mask] - m) / (s if s > 0 else 1.0)
    return out


def load_cohort(folder):
    xs, ys, names = [], [], []
    for label, group in ((1, "ad"), (0, "nc")):
        d = os.path.join(folder, group)
        for f in sorted(os.listdir(d)):
            if f.endswith((".nii", ".nii.gz")):
                xs.append(zscore_nonzero(read_nifti(os.path.join(d, f))))
                ys.append(label)
                names.append(f)
    return np.stack(xs)[:, None], np.array(ys, dtype=np.int64), names


class PaperCnn3d(nn.Module):
    def __init__(self, shape, filters=10):
        super().__init__()
        layers, c, spatial = [], 1, list(shape)
        for _ in range(3):
            layers += [nn.Conv3d(c, filters, 3, padding=1), nn.ReLU(), nn.MaxPool3d(2)]
            c, spatial = filters, [s // 2 for s in spatial]
        self.features = nn.Sequential(*layers, nn.Flatten())
        width = c * spatial[0] * spatial[1] * spatial[2]
        self.register_buffer("feature_mean", torch.zeros(width))
        self.register_buffer("feature_std", torch.ones(width))
        self.fc1 = nn.Linear(width, 32)
        self.head = nn.Sequential(nn.SELU(), nn.Linear(32, 16), nn.SELU(), nn.Linear(16, 2))

    def forward(self, x):
        f = (self.features(x) - self.feature_mean) / self.feature_std
        return self.head(self.fc1(f))  # logits; softmax is in the exported graph

    @torch.no_grad()
    def estimate_feature_stats(self, x_all, device, batch=16):
        feats = torch.cat([self.features(torch.from_numpy(x_all[i : i + batch]).to(device)) for i in range(0, len(x_all), batch)])
        self.feature_mean.copy_(feats.mean(0))
        self.feature_std.copy_(feats.std(0).clamp_min(1e-3))

    @torch.no_grad()
    def folded_fc1(self):
        w = self.fc1.weight / self.feature_std[None, :]
        b = self.fc1.bias - w @ self.feature_mean
        return w, b


@torch.no_grad()
def accuracy(model, x, y, device, batch=16):
    model.eval()
    right = 0
    for i in range(0, len(x), batch):
        logits = model(torch.from_numpy(x[i : i + batch]).to(device))
        right += (logits.argmax(1).cpu().numpy() == y[i : i + batch]).sum()
    return right / len(x)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--train", required=True, help="glas3d synth output (ad/, nc/) to train on")
    p.add_argument("--test", required=True, help="a held-out glas3d synth cohort of another seed")
    p.add_argument("--out", required=True, help="output prefix: OUT.bin and OUT.json")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--val-fraction", type=float, default=0.15)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    random.seed(a.seed)
    np.random.seed(a.seed)
    torch.manual_seed(a.seed)

    t0 = time.time()
    x, y, _ = load_cohort(a.train)
    xt, yt, test_names = load_cohort(a.test)
    order = np.random.permutation(len(x))
    n_val = int(round(a.val_fraction * len(x)))
    val, tr = order[:n_val], order[n_val:]
    print(f"loaded {len(x)} training subjects ({len(tr)} train / {len(val)} validation) and {len(xt)} test subjects in {time.time() - t0:.0f} s; device {a.device}", flush=True)

    model = PaperCnn3d(x.shape[2:]).to(a.device)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    loss_fn = nn.CrossEntropyLoss()
    history = []
    for epoch in range(1, a.epochs + 1):
        t = time.time()
        model.eval()
        model.estimate_feature_stats(x[tr], a.device)
        model.train()
        perm = np.random.permutation(tr)
        total = 0.0
        for i in range(0, len(perm), a.batch):
            idx = perm[i : i + a.batch]
            xb = torch.from_numpy(x[idx]).to(a.device)
            yb = torch.from_numpy(y[idx]).to(a.device)
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        val_acc = accuracy(model, x[val], y[val], a.device)
        history.append({"epoch": epoch, "loss": total / len(tr), "val_accuracy": float(val_acc), "seconds": time.time() - t})
        print(f"epoch {epoch}: loss {total / len(tr):.4f}, validation accuracy {val_acc:.3f} ({time.time() - t:.0f} s)", flush=True)
    test_acc = accuracy(model, xt, yt, a.device)
    print(f"held-out test accuracy {test_acc:.3f} on {len(xt)} subjects", flush=True)
    with torch.no_grad():
        model.eval()
        # P(AD) of a few test subjects, so the exported ONNX can be checked against PyTorch.
        probe = torch.softmax(model(torch.from_numpy(xt[:4]).to(a.device)), 1)[:, 1].cpu().numpy()

    w1, b1 = model.folded_fc1()
    convs = [m for m in model.features if isinstance(m, nn.Conv3d)]
    dense = [(w1, b1)] + [(m.weight, m.bias) for m in model.head if isinstance(m, nn.Linear)]
    tensors = []
    for i, c in enumerate(convs):
        tensors += [(f"conv{i}.weight", c.weight), (f"conv{i}.bias", c.bias)]
    for i, (w, b) in enumerate(dense):
        tensors += [(f"dense{i}.weight", w), (f"dense{i}.bias", b)]
    manifest, offset = [], 0
    with open(a.out + ".bin", "wb") as f:
        for name, t in tensors:
            arr = t.detach().cpu().numpy().astype("<f4")
            f.write(arr.tobytes())
            manifest.append({"name": name, "shape": list(arr.shape), "offset": offset})
            offset += arr.nbytes
    meta = {
        "tensors": manifest,
        "input": {"shape": [1, *x.shape[2:]], "layout": "NCDHW", "axes": "xyz", "normalize": "zscore"},
        "training": {"cohort": os.path.abspath(a.train), "subjects": len(x), "train": len(tr), "validation": len(val),
                     "epochs": a.epochs, "batch": a.batch, "lr": a.lr, "seed": a.seed, "device": a.device,
                     "torch": torch.__version__, "history": history},
        "test": {"cohort": os.path.abspath(a.test), "subjects": len(xt), "accuracy": float(test_acc),
                 "probe": [{"file": n, "p_ad": float(v)} for n, v in zip(test_names[:4], probe)]},
    }
    with open(a.out + ".json", "w") as f:
        json.dump(meta, f, indent=2)
    print(f"wrote {a.out}.bin and {a.out}.json", flush=True)


if __name__ == "__main__":
    main()
