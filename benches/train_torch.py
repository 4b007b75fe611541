"""PyTorch eager's side of the training-step benchmark: the same arguments
and output lines as pipe's `train_bench` example (`torch <model> <mode>
<amp> <images/s>`), doing what the report's PyTorch code does per step.

python benches/train_torch.py --models resnet50 --modes transfer,finetune \
    --amp none --batch 8 --size 224 --steps 5 --warmup 2 --device cpu --threads 2
"""
import argparse
import statistics
import sys
import time

import torch
import torchvision

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def new_head(model, name, classes=10):
    if name.startswith("resnet"):
        model.fc = torch.nn.Linear(model.fc.in_features, classes)
    elif name.startswith("densenet"):
        model.classifier = torch.nn.Linear(model.classifier.in_features, classes)
    else:
        model.heads.head = torch.nn.Linear(model.heads.head.in_features, classes)


def bench(args, device, name, mode, amp):
    kwargs = {"image_size": args.size} if name.startswith("vit") else {}
    model = torchvision.models.get_model(name, weights=None, **kwargs)
    if mode == "transfer":
        for p in model.parameters():
            p.requires_grad = False
    new_head(model, name)
    model.to(device).train()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.001, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    n = args.batch * 2
    images = torch.randint(0, 256, (n, 3, args.size, args.size), dtype=torch.uint8, device=device)
    labels = torch.randint(0, 10, (n,), device=device)
    mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=device).view(1, 3, 1, 1)
    loss = torch.zeros((), device=device)
    start = None
    steps = []
    for i in range(args.warmup + args.steps):
        if i == args.warmup:
            sync(device, loss)
            start = time.perf_counter()
        t = time.perf_counter()
        index = torch.randperm(n, device=device)[: args.batch]
        x = (images[index].float() / 255 - mean) / std
        y = labels[index]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp == "bf16"):
            out = model(x)
        loss = loss_fn(out.float(), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if args.median:
            sync(device, loss)
            steps.append(time.perf_counter() - t)
    sync(device, loss)
    if args.median:
        per_step = statistics.median_low(steps[args.warmup:])
    else:
        per_step = (time.perf_counter() - start) / args.steps
    return args.batch / per_step


def sync(device, loss):
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    loss.item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="resnet50,densenet201,vit_b_16")
    ap.add_argument("--modes", default="transfer,finetune")
    ap.add_argument("--amp", default="none")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--median", action="store_true", help="median step instead of the mean")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(args.device)
    print(f"torch: {torch.__version__} on {device}", file=sys.stderr)
    for amp in args.amp.split(","):
        for name in args.models.split(","):
            for mode in args.modes.split(","):
                rate = bench(args, device, name, mode, amp)
                print(f"torch {name} {mode} {amp} {rate:.2f}", flush=True)


if __name__ == "__main__":
    main()
