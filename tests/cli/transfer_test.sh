#!/usr/bin/env bash
# Transfer as a user does it, checked against torchvision's own forward pass (Debian's
# python3-torchvision; the test is skipped, exit 77, where it is missing): a torchvision
# resnet18 and a small torchvision VisionTransformer saved with torch.save(state_dict()) are the
# `pretrained` start of a moedil run on a CIFAR-10 fixture; `moedil eval --dump --dump-inputs`
# writes each test image exactly as the model saw it and the logits moedil computed;
# `moedil export --naming torchvision` writes the run's final weights; torchvision's model loads
# them with strict=True and, on the dumped inputs, gives the dumped logits within 1e-4.
# Usage: transfer_test.sh MOEDIL_BINARY SOURCE_DIR
set -u
moedil=$1
python=/usr/bin/python3
if ! "$python" -c 'import torchvision, numpy' > /dev/null 2>&1; then
  echo "skipped: $python has no torchvision (install python3-torchvision)"
  exit 77
fi
source "$(dirname "${BASH_SOURCE[0]}")/expect.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# The files a user has: two torchvision models (every tensor perturbed from its default).
check "torchvision writes the pretrained files" "$python" - <<'PY'
import os, torch, torchvision
torch.manual_seed(0)
os.makedirs('weights', exist_ok=True)
r = torchvision.models.resnet18(num_classes=10)
v = torchvision.models.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2,
                                         hidden_dim=16, mlp_dim=32, num_classes=10)
with torch.no_grad():
    for m in r.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    for p in v.parameters():
        p.add_(0.02 * torch.randn_like(p))
torch.save(r.state_dict(), 'weights/resnet18.pt')
torch.save(v.state_dict(), 'weights/vit_tv.pt')
PY
# A CIFAR-10 fixture in its binary layout: 5 training batches and a test batch of 12 records.
check "the CIFAR-10 fixture" "$python" - <<'PY'
import os, random
random.seed(1)
os.makedirs('data/cifar-10-batches-bin', exist_ok=True)
for name in ['data_batch_%d.bin' % i for i in range(1, 6)] + ['test_batch.bin']:
    with open('data/cifar-10-batches-bin/' + name, 'wb') as f:
        for r in range(12):
            f.write(bytes([r % 10]) + bytes(random.randrange(256) for _ in range(3072)))
PY

# run MODEL_JSON NAME: one epoch per domain from the pretrained file, then eval --dump and export.
run() {
  local model=$1 name=$2
  printf '{"dataset": "cifar10", "dataset_root": "data", "weights_dir": "weights",
    "partition": {"type": "static"},
    "num_partitions": 2, "batch_size": 8, "epochs_per_domain": 1, "num_threads": 1,
    "optimizer": {"name": "adam", "lr": 0.0001}, "model": %s}\n' "$model" > "$name.jsonc"
  expect 0 "[model] pretrained weights/" "$moedil" run "$name.jsonc" --run-dir "runs/$name"
  expect 0 "arrays (.npy) and index.json" "$moedil" eval "runs/$name" --dump "dump_$name" --dump-inputs
  expect 0 "" "$moedil" export "runs/$name" --state-dict "$name.pt" --naming torchvision
}
run '{"name": "resnet18", "pretrained": true, "resnet_stem": "imagenet"}' resnet
run '{"name": "vit", "pretrained": "weights/vit_tv.pt", "patch_size": 8, "embed_dim": 16,
      "depth": 2, "num_heads": 2, "mlp_ratio": 2.0}' vit
grep -q "resnet_width" runs/resnet/run.json || { echo "FAIL: run.json lacks the resnet width"; failures=$((failures + 1)); }

# torchvision's forward on moedil's inputs, with moedil's exported weights.
compare() {
  local name=$1 build=$2
  "$python" - "$name" "$build" <<'PY'
import sys, glob, numpy, torch, torchvision
name, build = sys.argv[1], sys.argv[2]
model = eval(build)
model.load_state_dict(torch.load(name + '.pt'), strict=True)
model.eval()
worst, images = 0.0, 0
for domain in sorted(glob.glob('dump_%s/domain*' % name)):
    x = torch.from_numpy(numpy.load(domain + '/inputs.npy'))
    want = torch.from_numpy(numpy.load(domain + '/logits.npy'))
    with torch.no_grad():
        got = model(x)
    worst = max(worst, (got - want).abs().max().item())
    images += x.shape[0]
print('%s: %d images, largest logit difference %.3g' % (name, images, worst))
sys.exit(0 if images > 0 and worst < 1e-4 else 1)
PY
}
check "torchvision's resnet18 gives moedil's logits" compare resnet \
  "torchvision.models.resnet18(num_classes=10)"
check "torchvision's VisionTransformer gives moedil's logits" compare vit \
  "torchvision.models.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32, num_classes=10)"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "all transfer checks passed"
