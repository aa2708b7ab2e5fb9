#!/usr/bin/env python3
"""A CIFAR-shaped binary dataset for benchmarks: the on-disk layout moedil reads, generated.

Usage: make_cifar_fixture.py cifar10|cifar100 ROOT TRAIN_IMAGES TEST_IMAGES

Writes ROOT/cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin (1 label byte + 3072 pixel
bytes per image) or ROOT/cifar-100-binary/{train,test}.bin (coarse and fine label bytes + 3072).
Class k's images share a base intensity pattern plus noise, so that a model can learn a little.
Deterministic (seed 0).
"""
import os
import random
import sys


def image(rng, label):
    base = (label * 37) % 200
    noise = bytes(rng.randrange(56) for _ in range(64))
    return bytes((base + b) % 256 for b in noise) * 48


def main():
    kind, root, n_train, n_test = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(0)
    if kind == "cifar100":
        out = os.path.join(root, "cifar-100-binary")
        os.makedirs(out, exist_ok=True)
        for name, n in (("train.bin", n_train), ("test.bin", n_test)):
            with open(os.path.join(out, name), "wb") as f:
                for i in range(n):
                    fine = i % 100
                    f.write(bytes([fine // 5, fine]) + image(rng, fine))
    elif kind == "cifar10":
        out = os.path.join(root, "cifar-10-batches-bin")
        os.makedirs(out, exist_ok=True)
        per_batch = (n_train + 4) // 5
        names = [f"data_batch_{b}.bin" for b in range(1, 6)]
        counts = [min(per_batch, max(0, n_train - b * per_batch)) for b in range(5)]
        for name, n in list(zip(names, counts)) + [("test_batch.bin", n_test)]:
            with open(os.path.join(out, name), "wb") as f:
                for i in range(n):
                    label = i % 10
                    f.write(bytes([label]) + image(rng, label))
    else:
        sys.exit(f"unknown kind {kind!r} (cifar10 or cifar100)")


if __name__ == "__main__":
    main()
