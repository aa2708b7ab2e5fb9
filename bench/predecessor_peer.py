#!/usr/bin/python3
"""A Python peer of the predecessor's MoE ViT training loop, to time moedil against.

The predecessor (github.com/scaleoutsystems/continous-MoE) trains its MoE ViT in Python with a
per-sample expert dispatch written as a Python loop. This script rebuilds that computation (not
its code) for one fixed experiment, the one bench/peer_moedil.jsonc describes for moedil:

  rotated Fashion-MNIST (Debian's /usr/share/datasets/fashion-mnist), --images kept from the
  70000 pooled, 5 domains = rotations 0/30/60/90/120 degrees of the same images, one 80/20
  train/test split shared by every domain, batch 64, AdamW (lr 1e-3, weight decay 0.01),
  a ViT (patch 4, dim 64, depth 4, 4 heads, MLP ratio 2) with MoE MLPs in blocks 1 and 3
  (4 routed experts, top-1, one decision per image from its CLS token), the Switch balance
  loss x 0.01, every domain's test split evaluated after every epoch.

What follows the predecessor (the files are named in bench/README.md, "Against a Python peer
of the predecessor"):
  - models_classes/moe_vit.py (per-sample version): router on the CLS token of the MoE input,
    softmax probabilities kept for the balance loss, top-k mask, gates renormalised over the
    chosen experts, then a Python loop over the images of the batch and, inside it, over the
    experts, running each chosen expert on that image's tokens and writing the image's row
    into the output; CPU-side usage statistics updated on every forward.
  - experiment_fcns/setup.py: AdamW with two parameter groups (router, the rest);
    experiment_fcns/experiment_utils.py: the balance loss summed over the MoE layers, times
    router_balance_strength, added to the task loss.
  - DIL_Experiment.py: domain after domain, epoch after epoch: zero_grad, forward, loss,
    aux loss, backward, step; after each epoch data_analysis_fcns/DIL_Logger.py's evaluate
    (every test loader, argmax, per-domain and overall accuracy, predictions kept) and its
    metrics; at each domain's end the accuracy row is kept and a confusion matrix is
    counted in a Python loop.
  - dataset_fcns/dataset_utils.py: a torch Dataset indexed per image (to tensor, then
    Normalize per image, through Subset wrappers) behind a DataLoader; the training splits
    normalised with statistics of all training splits, each test split with its own.

Where it departs (so that both sides compute the same thing):
  - the switch balance loss by default (--balance-loss mean_prob_mse gives the predecessor's);
  - pos_embed is created with the model, so the optimizer trains it; the predecessor created
    it at the first forward, after the optimizer was built, so it was never trained
    (--lazy-pos-embed reproduces that);
  - seed 0 is the seed 0 (the predecessor took 0 as "unseeded");
  - DataLoader workers: 0 by default (the predecessor's loaders had 4; --workers N);
  - the images are uint8 tensors, not PIL images: its per-image ToTensor is a division here.

Usage:  /usr/bin/python3 bench/predecessor_peer.py [--images 2000] [--epochs 1] [--threads 2]
        [--seed 0] ...   (Debian's python3-torch runs under /usr/bin/python3 only)
"""
import time

_SCRIPT_START = time.perf_counter()  # before torch is imported: its import is part of the cost

import argparse
import gzip
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

DATA_DIR = "/usr/share/datasets/fashion-mnist"
ANGLES = [0.0, 30.0, 60.0, 90.0, 120.0]


# ---------------------------------------------------------------------------------------------
# Data: gzipped IDX files, pooled, subsampled, rotated, split.
# ---------------------------------------------------------------------------------------------

def read_idx_gz(path):
    """One gzipped IDX file as a numpy array (uint8 images N x H x W, or uint8 labels N)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {body.size} bytes of data for shape {dims}")
    return body.reshape(dims)


def load_fashion_mnist(root):
    """The 60000 training and 10000 test images pooled: uint8 [70000, 1, 28, 28], labels."""
    parts = []
    for prefix in ("train", "t10k"):
        images = read_idx_gz(os.path.join(root, f"{prefix}-images-idx3-ubyte.gz"))
        labels = read_idx_gz(os.path.join(root, f"{prefix}-labels-idx1-ubyte.gz"))
        parts.append((images, labels))
    images = np.concatenate([p[0] for p in parts])[:, None, :, :]
    labels = np.concatenate([p[1] for p in parts]).astype(np.int64)
    return torch.from_numpy(images.copy()), torch.from_numpy(labels)


def rotate_uint8(images, degrees):
    """Turn uint8 images [N, 1, H, W] counter-clockwise by `degrees` (bilinear, zero fill)."""
    if degrees == 0.0:
        return images.clone()
    a = math.radians(degrees)
    n, _, h, w = images.shape
    # The grid asks, for every output pixel, where to read in the input: the inverse rotation.
    # Normalised coordinates span [-1, 1] on both axes, hence the aspect terms.
    theta = torch.tensor([[math.cos(a), -math.sin(a) * h / w, 0.0],
                          [math.sin(a) * w / h, math.cos(a), 0.0]], dtype=torch.float32)
    grid = F.affine_grid(theta.expand(n, 2, 3), [n, 1, h, w], align_corners=False)
    out = F.grid_sample(images.float(), grid, mode="bilinear", padding_mode="zeros",
                        align_corners=False)
    return out.round().clamp(0, 255).to(torch.uint8)


class DomainImages(Dataset):
    """One domain's images, read one at a time as the predecessor's torchvision datasets were:
    uint8 -> float in [0, 1] per image (its ToTensor)."""

    def __init__(self, images, labels):
        self.images = images
        self.labels = labels

    def __len__(self):
        return self.images.shape[0]

    def __getitem__(self, i):
        return self.images[i].float().div(255.0), int(self.labels[i])


class NormalizedSubset(Dataset):
    """A Subset with a per-image normalisation applied on the way out (the predecessor's
    SubsetWithTransform(Subset(...), Normalize(mean, std)))."""

    def __init__(self, subset, mean, std):
        self.subset = subset
        self.mean = torch.tensor(mean).view(-1, 1, 1)
        self.std = torch.tensor(std).view(-1, 1, 1)

    def __len__(self):
        return len(self.subset)

    def __getitem__(self, i):
        x, y = self.subset[i]
        return (x - self.mean) / self.std, y


def channel_stats(dataset, batch_size):
    """Per-channel mean and std the predecessor's way: the mean of the per-image means, and
    the square root of the mean of the per-image (population) variances."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=0)
    total, mean_sum, var_sum = 0, None, None
    for x, _ in loader:
        flat = x.float().flatten(2)
        m, v = flat.mean(2).sum(0), flat.var(2, unbiased=False).sum(0)
        mean_sum = m if mean_sum is None else mean_sum + m
        var_sum = v if var_sum is None else var_sum + v
        total += x.shape[0]
    return (mean_sum / total).tolist(), (var_sum / total).sqrt().tolist()


def build_domains(args):
    """Train and test DataLoaders, one per rotation, and a description of the data."""
    t = time.perf_counter()
    images, labels = load_fashion_mnist(args.data_dir)
    pooled = images.shape[0]
    if args.images > pooled:
        raise SystemExit(f"--images {args.images}: the dataset has {pooled}")
    rng = np.random.RandomState(args.seed)
    keep = torch.from_numpy(np.sort(rng.choice(images.shape[0], size=args.images, replace=False)))
    images, labels = images[keep], labels[keep]
    load_s = time.perf_counter() - t

    # One split, shared by every domain (the same images, turned).
    order = torch.from_numpy(rng.permutation(args.images))
    n_train = int(args.images * args.train_frac)
    train_idx, test_idx = order[:n_train].tolist(), order[n_train:].tolist()

    t = time.perf_counter()
    domains = [DomainImages(rotate_uint8(images, a), labels) for a in ANGLES]
    rotate_s = time.perf_counter() - t

    # The predecessor normalised every training split with the statistics of all of them
    # together, and each test split with its own.
    train_sets = [Subset(d, train_idx) for d in domains]
    test_sets = [Subset(d, test_idx) for d in domains]
    t = time.perf_counter()
    train_mean, train_std = channel_stats(torch.utils.data.ConcatDataset(train_sets),
                                          args.batch_size)
    test_stats = [channel_stats(s, args.batch_size) for s in test_sets]
    stats_s = time.perf_counter() - t

    loader_args = dict(batch_size=args.batch_size, num_workers=args.workers, pin_memory=False)
    train_loaders = [DataLoader(NormalizedSubset(s, train_mean, train_std), shuffle=True,
                                **loader_args) for s in train_sets]
    test_loaders = [DataLoader(NormalizedSubset(s, m, sd), shuffle=False, **loader_args)
                    for s, (m, sd) in zip(test_sets, test_stats)]
    print(f"[data] fashion_mnist: {args.images} of {pooled} images "
          f"kept, loaded in {load_s:.2f}s; {len(ANGLES)} domains (rotate {ANGLES}) rotated in "
          f"{rotate_s:.2f}s; {len(train_idx)} train / {len(test_idx)} test each; "
          f"normalisation statistics {stats_s:.2f}s")
    return train_loaders, test_loaders


# ---------------------------------------------------------------------------------------------
# Model: the predecessor's MoE ViT, with its per-sample dispatch loop.
# ---------------------------------------------------------------------------------------------

class FeedForward(nn.Module):
    def __init__(self, dim, hidden, dropout=0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class LoopMoE(nn.Module):
    """Routed experts (top-k of `routed`) plus `shared` always-on ones.

    routing="sample": one decision per image from its first (CLS) token; the experts then run
    image by image in a Python loop, the predecessor's per-sample dispatch.
    routing="token": one decision per token, every expert run on every token and weighted
    (the predecessor's later, per-token moe_vit.py).
    """

    def __init__(self, dim, hidden, routed, shared, top_k, routing, gate):
        super().__init__()
        self.routed, self.shared = routed, shared
        self.top_k = min(top_k, routed)
        self.routing, self.gate_kind = routing, gate
        self.experts = nn.ModuleList(FeedForward(dim, hidden) for _ in range(routed + shared))
        self.router = nn.Linear(dim, routed)
        # What the last forward routed, for the balance loss, and running usage statistics on
        # the CPU (the predecessor updated them on every forward, evaluation included).
        self.last_probs = None
        self.last_choice = None
        self.usage_prob_sum = torch.zeros(routed)
        self.usage_rows = 0
        self.last_importance = torch.zeros(routed)
        self.last_load = torch.zeros(routed)

    def _gates(self, logits):
        """(probabilities, chosen mask, gate weights) over the routed experts, per row."""
        probs = logits.softmax(-1)
        chosen = torch.zeros_like(logits, dtype=torch.bool)
        chosen.scatter_(-1, logits.topk(self.top_k, dim=-1).indices, True)
        if self.gate_kind == "renormalized":
            # softmax over the chosen logits only: for top-1 the gate is exactly 1
            weights = logits.masked_fill(~chosen, -1e9).softmax(-1) * chosen.float()
        else:  # "probability": the chosen experts keep their router probability (Switch)
            weights = probs * chosen.float()
        return probs, chosen, weights

    def forward(self, x):
        b, n, _ = x.shape
        summary = x[:, 0] if self.routing == "sample" else x
        logits = self.router(summary)  # [B, E] or [B, N, E]
        probs, chosen, weights = self._gates(logits)
        rows = probs.reshape(-1, self.routed)
        self.last_probs = rows
        self.last_choice = chosen.reshape(-1, self.routed)
        self.usage_prob_sum = self.usage_prob_sum.cpu() + rows.detach().sum(0).cpu()
        self.usage_rows += rows.shape[0]
        self.last_importance = weights.detach().reshape(-1, self.routed).sum(0).cpu()
        self.last_load = (self.last_choice.float().sum(0)
                          * (n if self.routing == "sample" else 1)).detach().cpu()

        if self.routing == "token":
            out = torch.zeros_like(x)
            for e in range(self.routed):
                out = out + weights[..., e].unsqueeze(-1) * self.experts[e](x)
            for e in range(self.routed, self.routed + self.shared):
                out = out + self.experts[e](x)
            return out

        out = torch.zeros_like(x)
        for i in range(b):
            tokens = x[i]
            acc = torch.zeros_like(tokens)
            for e in range(self.routed):
                if chosen[i, e]:  # a tensor read per image and expert, as the predecessor
                    acc = acc + weights[i, e].unsqueeze(-1) * self.experts[e](tokens)
            for e in range(self.routed, self.routed + self.shared):
                acc = acc + self.experts[e](tokens)
            out[i] = acc
        return out


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio, moe_args=None):
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = LoopMoE(dim, hidden, **moe_args) if moe_args else FeedForward(dim, hidden)

    def forward(self, x):
        h = self.norm1(x)
        x = x + self.attn(h, h, h)[0]
        return x + self.mlp(self.norm2(x))


class PeerViTMoE(nn.Module):
    def __init__(self, args, num_classes=10, img_size=28, channels=1):
        super().__init__()
        dim = args.embed_dim
        self.patch = nn.Conv2d(channels, dim, kernel_size=args.patch_size, stride=args.patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.tokens = (img_size // args.patch_size) ** 2 + 1
        self.pos_embed = None
        if not args.lazy_pos_embed:
            self.pos_embed = nn.Parameter(torch.zeros(1, self.tokens, dim))
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        moe_at = {i for i in range(args.depth) if i % 2 == 1}  # "every_other"
        moe_args = dict(routed=args.experts, shared=args.shared_experts, top_k=args.top_k,
                        routing=args.routing, gate=args.gate)
        self.blocks = nn.ModuleList(
            Block(dim, args.heads, args.mlp_ratio, moe_args if i in moe_at else None)
            for i in range(args.depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def moe_layers(self):
        return [m for m in self.modules() if isinstance(m, LoopMoE)]

    def forward(self, images):
        x = self.patch(images).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        if self.pos_embed is None:  # the predecessor's lazy creation (outside the optimizer)
            self.pos_embed = nn.Parameter(torch.zeros(1, x.shape[1], x.shape[2]))
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        x = x + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x)[:, 0])


def balance_loss(model, kind, strength):
    """Sum over the MoE layers of each layer's balance loss, times the strength."""
    total = 0.0
    for m in model.moe_layers():
        p_mean = m.last_probs.mean(0)
        if kind == "switch":  # E * sum_e (fraction routed to e) * (mean probability of e)
            counts = m.last_choice.float().sum(0)
            loss = m.routed * (counts / counts.sum().clamp_min(1) * p_mean).sum()
        else:  # mean_prob_mse, the predecessor's: mean_e (P_e - 1/E)^2
            loss = (p_mean - 1.0 / m.routed).pow(2).mean()
        total = total + loss
    return strength * total


# ---------------------------------------------------------------------------------------------
# The continual loop, evaluation and metrics.
# ---------------------------------------------------------------------------------------------

@torch.no_grad()
def evaluate(model, test_loaders):
    """Every domain's test split: accuracies and all predictions (the predecessor's logger)."""
    model.eval()
    accs, preds_all, targets_all = [], [], []
    for loader in test_loaders:
        correct, total = 0, 0
        for x, y in loader:
            pred = model(x).argmax(1)
            correct += (pred == y).sum().item()
            total += y.shape[0]
            preds_all.append(pred.cpu())
            targets_all.append(y.cpu())
        accs.append(correct / total)
    return np.array(accs), torch.cat(preds_all), torch.cat(targets_all)


def confusion_loop(preds, targets, classes=10):
    """Counted one sample at a time, as the predecessor's finalize_domain does."""
    conf = torch.zeros(classes, classes)
    for t, p in zip(targets, preds):
        conf[t.long(), p.long()] += 1
    return conf


def make_optimizer(model, args):
    router = [p for m in model.moe_layers() for p in m.router.parameters()]
    router_ids = {id(p) for p in router}
    rest = [p for p in model.parameters() if id(p) not in router_ids]
    groups = [{"params": rest}] + ([{"params": router, "lr": args.lr}] if router else [])
    return torch.optim.AdamW(groups, lr=args.lr, weight_decay=args.weight_decay)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=2000, help="images kept of the 70000 pooled")
    p.add_argument("--epochs", type=int, default=1, help="epochs per domain")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", default=DATA_DIR)
    p.add_argument("--train-frac", type=float, default=0.8)
    p.add_argument("--batch-size", type=int, default=64, help="training and evaluation batch")
    p.add_argument("--workers", type=int, default=0,
                   help="DataLoader workers (the predecessor's loaders: 4)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--patch-size", type=int, default=4)
    p.add_argument("--embed-dim", type=int, default=64)
    p.add_argument("--depth", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--mlp-ratio", type=float, default=2.0)
    p.add_argument("--experts", type=int, default=4, help="routed experts per MoE layer")
    p.add_argument("--shared-experts", type=int, default=0)
    p.add_argument("--top-k", type=int, default=1)
    p.add_argument("--routing", choices=["sample", "token"], default="sample",
                   help="sample: per-image loop on CLS (default); token: the later per-token, "
                        "every-expert-on-every-token version")
    p.add_argument("--gate", choices=["renormalized", "probability"], default="renormalized")
    p.add_argument("--balance-loss", choices=["switch", "mean_prob_mse"], default="switch")
    p.add_argument("--balance-strength", type=float, default=0.01)
    p.add_argument("--lazy-pos-embed", action="store_true",
                   help="create pos_embed at the first forward (untrained), as the predecessor")
    p.add_argument("--initial-eval", action="store_true",
                   help="also evaluate before the first domain (moedil does)")
    args = p.parse_args()
    if args.images < 2 or args.epochs < 1 or args.threads < 1:
        p.error("--images >= 2, --epochs >= 1, --threads >= 1")
    return args


def process_seconds():
    """Seconds since this process started (Linux /proc), or None."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    print(f"[device] cpu with {torch.get_num_threads()} threads, torch {torch.__version__}; "
          f"routing {args.routing}, gate {args.gate}, balance {args.balance_loss} x "
          f"{args.balance_strength}")

    train_loaders, test_loaders = build_domains(args)
    model = PeerViTMoE(args)
    optimizer = make_optimizer(model, args)
    criterion = nn.CrossEntropyLoss()
    print(f"[model] predecessor-style vit_moe: "
          f"{sum(p.numel() for p in model.parameters())} parameters"
          f"{' (pos_embed not created yet)' if model.pos_embed is None else ''}, "
          f"{model.tokens} tokens, MoE in blocks "
          f"{[i for i, b in enumerate(model.blocks) if isinstance(b.mlp, LoopMoE)]}")

    n_dom = len(train_loaders)
    if args.initial_eval:
        t = time.perf_counter()
        acc0, _, _ = evaluate(model, test_loaders)
        print(f"[eval] initial: mean {acc0.mean():.4f} in {time.perf_counter() - t:.2f}s")

    rows, per_domain = [], []
    train_total = eval_total = 0.0
    for d in range(n_dom):
        loader = train_loaders[d]
        d_train = d_eval = 0.0
        d_samples = 0
        for epoch in range(args.epochs):
            model.train()
            loss_sum = torch.zeros(())
            aux_sum = torch.zeros(())
            steps = samples = 0
            t = time.perf_counter()
            for x, y in loader:
                optimizer.zero_grad()
                logits = model(x)
                loss = criterion(logits, y)
                aux = balance_loss(model, args.balance_loss, args.balance_strength)
                loss = loss + aux
                loss.backward()
                optimizer.step()
                loss_sum += loss.detach()
                aux_sum += aux.detach() if torch.is_tensor(aux) else aux
                steps += 1
                samples += y.shape[0]
            train_s = time.perf_counter() - t

            t = time.perf_counter()
            accs, preds, targets = evaluate(model, test_loaders)
            eval_s = time.perf_counter() - t
            d_train += train_s
            d_eval += eval_s
            d_samples += samples
            print(f"[train] domain {d + 1}/{n_dom} (rot{ANGLES[d]:g}) epoch {epoch + 1}/"
                  f"{args.epochs}: loss {float(loss_sum) / max(steps, 1):.4f} aux "
                  f"{float(aux_sum) / max(steps, 1):.4f} eval_acc {accs.mean():.4f} "
                  f"(this domain {accs[d]:.4f}) {train_s:.2f}s "
                  f"{samples / max(train_s, 1e-9):.0f} samples/s eval {eval_s:.2f}s")
        t = time.perf_counter()
        confusion_loop(preds, targets)  # finalize_domain's per-sample count
        d_eval += time.perf_counter() - t
        rows.append(accs)
        per_domain.append((d_train, d_eval, d_samples / max(d_train, 1e-9)))
        train_total += d_train
        eval_total += d_eval

    print("\nper domain: train s | eval s (incl. confusion count) | train samples/s")
    for d, (tr, ev, sps) in enumerate(per_domain):
        print(f"  rot{ANGLES[d]:<5g} {tr:8.2f} {ev:8.2f} {sps:10.0f}")
    print(f"  total    {train_total:8.2f} {eval_total:8.2f}")

    r = np.vstack(rows)
    print("\naccuracy matrix R[i][j] (after domain i, on domain j):")
    for i, row in enumerate(r):
        print(f"  after rot{ANGLES[i]:<5g} " + " ".join(f"{v:.4f}" for v in row))
    acc = r[-1].mean()
    bwt = np.mean(r[-1, :-1] - np.diag(r)[:-1]) if n_dom > 1 else 0.0
    print(f"[result] ACC {acc:.4f} BWT {bwt:.4f} plasticity {np.diag(r).mean():.4f}")

    script_s = time.perf_counter() - _SCRIPT_START
    proc_s = process_seconds()
    print(f"[wall] script {script_s:.2f}s (from before importing torch)"
          + (f", process {proc_s:.2f}s (from its start)" if proc_s is not None else ""))


if __name__ == "__main__":
    sys.exit(main())
