#!/usr/bin/env python3
"""Small torch.save checkpoints for Canopy's PyTorch checkpoint reader (issue 22, part 1).

Writes torch/*.pth (a few KB each) and torch/expected.json: for every readable fixture, each tensor's
dtype, shape and values as float32 (what Canopy reads them as), what the reader should ignore or strip,
and for tiny_state_dict.pth the model's eval-mode logits on a fixed input. Also writes files the reader
must refuse: a pickle naming posix.system (built by torch.save of an object whose __reduce__ returns
(os.system, ("true",)); nothing here ever unpickles it), other hand-made pickles, a truncated file, a
compressed zip, the legacy (pre-1.6) format. The test suite reads only these committed files, never Python.

Set-up (once; torch pulls about 4 GB of wheels from PyPI, or see benchmarks/reference/setup.sh for CPU-only):
    python3 -m venv .venv-torch && .venv-torch/bin/pip install torch numpy
Run from the repository root:
    .venv-torch/bin/python Tests/NNTests/Fixtures/make_torch_checkpoint_fixtures.py
"""
import copy
import json
import os
import struct
import zipfile
from collections import OrderedDict

import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch")
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(20261203)
expected = {}
STAMP = (2026, 12, 3, 0, 0, 0)  # zip entry times, so that a rerun rewrites the hand-made files byte for byte


def values(tensor):
    return [float(v) for v in tensor.detach().reshape(-1).to(torch.float32).tolist()]


def record(name, tensors, **extra):
    expected[name] = {
        "tensors": {k: {"dtype": {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
                                  torch.float64: "F64", torch.int64: "I64", torch.int32: "I32"}[v.dtype],
                        "shape": list(v.shape), "values": values(v)} for k, v in tensors.items()},
        **extra,
    }


def path(name):
    return os.path.join(OUT, name)


class Tiny(nn.Module):
    """CheckpointTests' model: conv1 (3→4, 3x3, pad 1, no bias), bn1, relu, pool 2, flatten, fc (64→5)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(64, 5)

    def forward(self, x):
        return self.fc(self.flatten(self.pool(self.relu(self.bn1(self.conv1(x))))))


tiny = Tiny().eval()
with torch.no_grad():
    tiny.bn1.running_mean.uniform_(-0.3, 0.3)
    tiny.bn1.running_var.uniform_(0.5, 1.5)
    tiny.bn1.weight.uniform_(0.5, 1.5)
    tiny.bn1.bias.uniform_(-0.3, 0.3)
    tiny.bn1.num_batches_tracked.fill_(12)
    x = torch.randn(2, 3, 8, 8)
    logits = tiny(x)
# A copy: the optimiser step below changes the model's own tensors in place.
state = copy.deepcopy(tiny.state_dict())  # keeps the OrderedDict's _metadata (a BUILD in the pickle)

# 1. A plain state dict (default protocol 2), and the same with protocols 4 and 5 (FRAME, MEMOIZE,
#    STACK_GLOBAL, SHORT_BINUNICODE).
torch.save(state, path("tiny_state_dict.pth"))
record("tiny_state_dict.pth", state, input_nchw=values(x), input_shape=list(x.shape), logits=values(logits))
for protocol in (4, 5):
    torch.save(state, path(f"tiny_protocol{protocol}.pth"), pickle_protocol=protocol)
    expected[f"tiny_protocol{protocol}.pth"] = {"same_tensors_as": "tiny_state_dict.pth"}

# 2. Every dtype the reader converts.
dtypes = {
    "half": torch.randn(3, 2).half(),
    "bfloat16": torch.randn(5).bfloat16(),
    "double": torch.randn(2, 2, dtype=torch.float64),
    "long": torch.tensor([0, -3, 1 << 40, 7], dtype=torch.int64),
    "int": torch.tensor([[1, -2], [300000, 4]], dtype=torch.int32),
    "scalar": torch.tensor(2.5),
}
torch.save(dtypes, path("dtypes.pth"))
record("dtypes.pth", dtypes)

# 3. Views: transposed, sliced with an offset (non-contiguous), and two tensors sharing one storage.
base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 8
shared = torch.randn(3, 4)
views = {
    "transposed": base.t(),
    "sliced": base[1:, 2:5],
    "strided": base[::2, ::3],
    "shared_a": shared[0],
    "shared_b": shared[2, 1:],
}
assert views["sliced"].storage_offset() == 8 and not views["sliced"].is_contiguous()
assert views["shared_a"].untyped_storage().data_ptr() == views["shared_b"].untyped_storage().data_ptr()
torch.save(views, path("views.pth"))
record("views.pth", views)

# 3b. nn.Parameter objects (torch._utils._rebuild_parameter), as when a model's parameters are saved.
parameters = {"weight": nn.Parameter(torch.randn(2, 3)), "frozen": nn.Parameter(torch.randn(4), requires_grad=False)}
torch.save(parameters, path("parameters.pth"))
record("parameters.pth", parameters)

# 4. Training checkpoints: nested under "state_dict" / "model", DataParallel's "module." prefix, and
#    entries that are not tensors (epoch, an architecture name, a float, an optimiser's state).
prefixed = OrderedDict(("module." + k, v) for k, v in state.items())
prefixed._metadata = OrderedDict(("module" + ("." + k if k else ""), v) for k, v in state._metadata.items())
# best_acc1: a tensor at the top level, as pytorch/examples' ImageNet script saves it, not part of the weights.
torch.save({"epoch": 3, "arch": "tiny", "best_f2": 0.875, "best_acc1": torch.tensor(76.5), "state_dict": prefixed},
           path("nested_state_dict.pth"))
expected["nested_state_dict.pth"] = {"same_tensors_as": "tiny_state_dict.pth", "nested": "state_dict", "stripped": "module.",
                                     "ignored": ["arch", "best_acc1", "best_f2", "epoch"]}
optimizer = torch.optim.SGD(tiny.parameters(), lr=0.1, momentum=0.9, nesterov=True)
tiny.train()
tiny(x).sum().backward()
optimizer.step()
torch.save({"model": prefixed, "optimizer": optimizer.state_dict(), "epoch": 7, "done": True, "note": None},
           path("nested_model.pth"))
expected["nested_model.pth"] = {"same_tensors_as": "tiny_state_dict.pth", "nested": "model", "stripped": "module.",
                                "ignored": ["done", "epoch", "note", "optimizer"]}

# 5. Refused: a pickle naming posix.system (os.system's real module) through REDUCE.


class Evil:
    def __reduce__(self):
        return (os.system, ("true",))


torch.save({"conv1.weight": state["conv1.weight"], "payload": Evil()}, path("malicious_os_system.pth"))

# 6. Refused: truncated (the first half of a good file).
with open(path("tiny_state_dict.pth"), "rb") as f:
    good = f.read()
with open(path("truncated.pth"), "wb") as f:
    f.write(good[: len(good) // 2])

# 7. Refused: the same records, deflated (torch never compresses).
with zipfile.ZipFile(path("tiny_state_dict.pth")) as source, \
        zipfile.ZipFile(path("compressed.pth"), "w", compression=zipfile.ZIP_DEFLATED) as target:
    for info in source.infolist():
        target.writestr(zipfile.ZipInfo(info.filename, date_time=STAMP), source.read(info.filename), zipfile.ZIP_DEFLATED)

# 8. Refused: the legacy (pre-1.6) format.
torch.save({"w": torch.ones(2)}, path("legacy.pth"), _use_new_zipfile_serialization=False)


# 9. Hand-made pickles in a torch-like zip: a call opcode (NEWOBJ), a tensor reaching past its
#    storage, a missing storage record.
def op_unicode(text):
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def op_int(value):
    return b"J" + struct.pack("<i", value)


def tensor_pickle(key, numel, offset, size, stride):
    """`{"w": _rebuild_tensor_v2(storage(key, numel), offset, size, stride, False, OrderedDict())}`"""
    return (b"\x80\x02}(" + op_unicode("w") + b"ctorch._utils\n_rebuild_tensor_v2\n("
            + b"(" + op_unicode("storage") + b"ctorch\nFloatStorage\n" + op_unicode(key) + op_unicode("cpu")
            + op_int(numel) + b"tQ" + op_int(offset) + b"(" + b"".join(map(op_int, size)) + b"t"
            + b"(" + b"".join(map(op_int, stride)) + b"t" + b"\x89ccollections\nOrderedDict\n)Rt" + b"R" + b"u.")


def handmade(name, pickle_bytes, storages):
    with zipfile.ZipFile(path(name), "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(zipfile.ZipInfo(f"{name[:-4]}/data.pkl", date_time=STAMP), pickle_bytes)
        z.writestr(zipfile.ZipInfo(f"{name[:-4]}/byteorder", date_time=STAMP), "little")
        z.writestr(zipfile.ZipInfo(f"{name[:-4]}/version", date_time=STAMP), "3\n")
        for key, data in storages.items():
            z.writestr(zipfile.ZipInfo(f"{name[:-4]}/data/{key}", date_time=STAMP), data)


four = struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)
handmade("handmade_ok.pth", tensor_pickle("0", 4, 1, [2], [2]), {"0": four})
record("handmade_ok.pth", {"w": torch.tensor([2.0, 4.0])})
# PyTorch 0.3's _rebuild_tensor(storage, offset, size, stride), as in old checkpoints: a 2x2 transposed view.
handmade("rebuild_tensor_v1.pth", tensor_pickle("0", 4, 0, [2, 2], [1, 2]).replace(b"_rebuild_tensor_v2", b"_rebuild_tensor")
         .replace(b"\x89ccollections\nOrderedDict\n)Rt", b"t"), {"0": four})
record("rebuild_tensor_v1.pth", {"w": torch.tensor([[1.0, 3.0], [2.0, 4.0]])})
handmade("past_storage.pth", tensor_pickle("0", 4, 1, [2, 2], [2, 1]), {"0": four})
handmade("missing_record.pth", tensor_pickle("5", 4, 0, [4], [1]), {"0": four})
handmade("call_opcode.pth", b"\x80\x02ccollections\nOrderedDict\n)\x81.", {})

with open(path("expected.json"), "w") as f:
    # One line per fixture: the values are many and short.
    f.write("{\n" + ",\n".join(json.dumps(k) + ": " + json.dumps(expected[k], sort_keys=True)
                                for k in sorted(expected)) + "\n}\n")
for name in sorted(os.listdir(OUT)):
    print(f"{name}: {os.path.getsize(path(name))} bytes")
