#!/usr/bin/env python3
"""torchvision's side of benches/data.sh: the same kernels on the same images.

Usage: data_torchvision.py <images.safetensors> <threads>
Prints one JSON line of images/s: resize (96->224, v2 antialias, uint8),
pspnet (the v2 composition in torchvision-reference.md), augmix (v2.AugMix
defaults) on 224 uint8 images, cutmix_mixup (RandomChoice of v2.CutMix and
v2.MixUp) on float batches of 50.
"""

import json
import sys
import time

import torch
from safetensors.torch import load_file
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F


def rate(n, f):
    """Images per wall second and per CPU second (process time)."""
    f()
    t, c = time.perf_counter(), time.process_time()
    f()
    return n / (time.perf_counter() - t), n / max(time.process_time() - c, 0.01)


def main():
    path, threads = sys.argv[1], int(sys.argv[2])
    torch.set_num_threads(threads)
    images = load_file(path)["images"]
    n = images.shape[0]

    out = {}
    big = [None]

    def resize():
        # Batched (chunks of 250), torchvision's fastest way to call it.
        big[0] = torch.cat([F.resize(images[i:i + 250], [224, 224], antialias=True) for i in range(0, n, 250)])

    out["resize"], out["resize_cpu"] = rate(n, resize)
    big = big[0]
    m = min(500, n)

    fill = [124, 116, 104]
    pspnet = v2.Compose([
        v2.RandomResize(112, 449, interpolation=v2.InterpolationMode.BILINEAR, antialias=True),
        v2.RandomApply([v2.RandomRotation(10, interpolation=v2.InterpolationMode.BILINEAR, fill=fill)], p=0.5),
        v2.RandomApply([v2.GaussianBlur(kernel_size=5, sigma=1.1)], p=0.5),
        v2.RandomHorizontalFlip(p=0.5),
        v2.RandomCrop(224, pad_if_needed=True, fill=fill, padding_mode="constant"),
    ])
    augmix = v2.AugMix()

    def per_image(t):
        def run():
            for i in range(m):
                t(big[i])
        return run

    torch.manual_seed(0)
    out["pspnet"], out["pspnet_cpu"] = rate(m, per_image(pspnet))
    out["augmix"], out["augmix_cpu"] = rate(m, per_image(augmix))

    bs = 50
    batches = min(n // bs, 20)
    floats = [big[b * bs:(b + 1) * bs].float() for b in range(batches)]
    labels = torch.arange(bs) % 10
    choice = v2.RandomChoice([v2.CutMix(num_classes=10), v2.MixUp(num_classes=10)])

    def mix():
        for x in floats:
            choice(x, labels)

    out["cutmix_mixup"], out["cutmix_mixup_cpu"] = rate(batches * bs, mix)
    out["threads"] = threads
    print(json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in out.items()}))


if __name__ == "__main__":
    main()
