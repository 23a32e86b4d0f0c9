#!/usr/bin/env python3
"""Keras 3 on TensorFlow (CPU) beside `canopy bench train|infer`: one (model, size, mode) per process,
a last line of JSON.

Adapted from the peers' benchmark script bench_keras.py (on the team's reference shelf, not in this repository); the measurement is Canopy's
(Sources/Benchmarks/ModelBenchmark.swift): a fixed random batch (normal inputs, multi-hot 17 labels
with P(1) = 0.3) already converted to a tensor, --warmup untimed steps, then --steps timed steps, each
timed on its own (train_on_batch and predict_on_batch return NumPy values, so each step has finished
when it returns); images_per_second = batch / median step time; peak_rss_mb = ru_maxrss in MB.

Networks (NHWC, Keras default compile settings: on CPU with TensorFlow no XLA), 17 outputs:
  resnet18 : the peers' torchvision-equivalent ResNet-18 (7x7/2 stem, 3x3/2 max-pool, BasicBlocks
             [2,2,2,2], global average pool, Dense 17): same layers, parameters (11,185,233) and FLOPs as
             torchvision's; Keras's 'same' padding on stride-2 layers pads (before, after) = (2, 3) or
             (0, 1) where torchvision pads (3, 3) or (1, 1): same output shapes and work, shifted windows.
  resnet50 : torchvision's resnet50 (v1.5, stride on the 3x3 of each Bottleneck), built as resnet18 is;
             parameters 23,542,865.
  vgg11_bn : torchvision's vgg11_bn: [64,M,128,M,256,256,M,512,512,M,512,512,M], each conv 3x3 pad 1
             (with bias, as torchvision) + BN + ReLU; max-pool 2x2; then PyTorch's AdaptiveAvgPool2d((7, 7))
             reproduced exactly (AdaptiveAveragePooling2D below: PyTorch's bins [floor(i*n/7),
             ceil((i+1)*n/7)) as a fixed averaging matrix applied to rows and columns; at 128 px the
             4x4 map becomes 7x7 with rows/columns 0, (0+1)/2, 1, (1+2)/2, 2, (2+3)/2, 3, which is neither
             an upsample nor a nearest resize); Flatten (25,088) -> Dense 4096 -> ReLU -> Dropout 0.5 ->
             Dense 4096 -> ReLU -> Dropout 0.5 -> Dense 17. Parameters 128,841,489, as torchvision's.
  googlenet: torchvision's googlenet(aux_logits=False): BasicConv2d = conv (no bias) + BN (eps 1e-3) +
             ReLU; stem 7x7/2-64, max-pool 3/2, 1x1-64, 3x3-192, max-pool 3/2; Inception 3a 3b, max-pool
             3/2, 4a-4e, max-pool 2/2, 5a 5b (branch 3 is 1x1 then 3x3, as torchvision's, not 5x5; branch 4
             is max-pool 3/1 then 1x1); global average pool, Dropout 0.2, Dense 17. PyTorch's ceil_mode
             max-pools are 'same' on even maps (identical: one pad at the end) and 'valid' on odd ones
             (identical output size). Parameters 5,617,329, as torchvision's.
  simple   : the peers' Conv32-pool-Conv64-pool-Conv128-pool-Flatten-Dense128-Dense17.
The last Dense has a sigmoid and the loss is binary_crossentropy, as the peers': Keras (TensorFlow backend)
sees the sigmoid's logits and computes BCE with logits, and predict returns probabilities, as Canopy's
infer does.
  train: SGD(0.01, momentum 0.9), train_on_batch.    infer: predict_on_batch (JSON mode "predict").
  threads: OMP_NUM_THREADS / MKL_NUM_THREADS = --threads (set before TensorFlow loads), TensorFlow
           intra-op and inter-op threads = --threads.

Usage: .venv-bench/bin/python benchmarks/reference/bench_keras.py --model resnet18 --size 128 \
           --batch 32 --threads 2 --mode train --steps 10 --warmup 2
KERAS_BACKEND defaults to tensorflow here (jax also runs, framework "keras-jax", threads not pinned).
"""
import math
import os
import sys

from bench_common import parse, report, time_steps

a = parse(__doc__, lambda ap: ap.add_argument("--jit", choices=["auto", "true", "false"], default="auto",
                                              help="Keras jit_compile"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
BACKEND = os.environ["KERAS_BACKEND"]

if BACKEND == "tensorflow":
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    tf.config.threading.set_inter_op_parallelism_threads(a.threads)
    BACKEND_VERSION = tf.__version__
elif BACKEND == "jax":
    import jax
    BACKEND_VERSION = jax.__version__
else:
    sys.exit(f"KERAS_BACKEND={BACKEND}: tensorflow or jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

NUM_CLASSES = 17


class AdaptiveAveragePooling2D(layers.Layer):
    """PyTorch's AdaptiveAvgPool2d on NHWC: output cell i averages input rows [floor(i*n/m), ceil((i+1)*n/m)),
    and likewise columns; as the bins are rectangles this is P_h @ x @ P_w^T with fixed averaging matrices."""

    def __init__(self, output_size, **kwargs):
        super().__init__(**kwargs)
        self.output_size = tuple(output_size)

    @staticmethod
    def matrix(n, m):
        p = np.zeros((m, n), dtype=np.float32)
        for i in range(m):
            start, end = (i * n) // m, -((-(i + 1) * n) // m)
            p[i, start:end] = 1.0 / (end - start)
        return p

    def build(self, input_shape):
        self.ph = self.matrix(input_shape[1], self.output_size[0])
        self.pw = self.matrix(input_shape[2], self.output_size[1])

    def call(self, x):
        ph = keras.ops.convert_to_tensor(self.ph, dtype=x.dtype)
        pw = keras.ops.convert_to_tensor(self.pw, dtype=x.dtype)
        x = keras.ops.einsum("ih,bhwc->biwc", ph, x)
        return keras.ops.einsum("jw,biwc->bijc", pw, x)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_size[0], self.output_size[1], input_shape[3])

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size}


def torch_max_pool(x, k, s):
    """MaxPool2d(k, s, ceil_mode=True) as PyTorch sizes it, with Keras's 'same' or 'valid' (whichever gives
    PyTorch's output size; 'same' then pads only one cell at the end, as ceil_mode does)."""
    n = x.shape[1]
    out = math.ceil((n - k) / s) + 1
    if (out - 1) * s >= n:
        out -= 1
    if math.ceil(n / s) == out and max((out - 1) * s + k - n, 0) <= 1:
        padding = "same"
    elif (n - k) // s + 1 == out:
        padding = "valid"
    else:
        raise ValueError(f"no Keras padding matches PyTorch's ceil_mode max-pool {k}/{s} on {n}")
    return layers.MaxPooling2D(k, s, padding=padding)(x)


def resnet18(inp):
    def conv_bn(x, f, k, s):
        x = layers.Conv2D(f, k, strides=s, padding="same", use_bias=False)(x)
        return layers.BatchNormalization(epsilon=1e-5, momentum=0.9)(x)

    def basic_block(x, f, s):
        sc = x
        y = layers.ReLU()(conv_bn(x, f, 3, s))
        y = conv_bn(y, f, 3, 1)
        if s != 1 or x.shape[-1] != f:
            sc = conv_bn(x, f, 1, s)
        return layers.ReLU()(layers.Add()([y, sc]))

    x = layers.ReLU()(conv_bn(inp, 64, 7, 2))
    x = layers.MaxPooling2D(3, 2, padding="same")(x)
    for f, s in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        x = basic_block(x, f, s)
        x = basic_block(x, f, 1)
    return layers.GlobalAveragePooling2D()(x)


def resnet50(inp):
    """torchvision's resnet50 (v1.5: the stride on each stage's first 3x3, not its first 1x1), Bottleneck
    blocks [3, 4, 6, 3] with expansion 4: parameters 23,542,865 with the 17-way head, as torchvision's."""
    def conv_bn(x, f, k, s):
        x = layers.Conv2D(f, k, strides=s, padding="same", use_bias=False)(x)
        return layers.BatchNormalization(epsilon=1e-5, momentum=0.9)(x)

    def bottleneck(x, f, s):
        sc = x
        y = layers.ReLU()(conv_bn(x, f, 1, 1))
        y = layers.ReLU()(conv_bn(y, f, 3, s))
        y = conv_bn(y, 4 * f, 1, 1)
        if s != 1 or x.shape[-1] != 4 * f:
            sc = conv_bn(x, 4 * f, 1, s)
        return layers.ReLU()(layers.Add()([y, sc]))

    x = layers.ReLU()(conv_bn(inp, 64, 7, 2))
    x = layers.MaxPooling2D(3, 2, padding="same")(x)
    for f, blocks, s in [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]:
        x = bottleneck(x, f, s)
        for _ in range(blocks - 1):
            x = bottleneck(x, f, 1)
    return layers.GlobalAveragePooling2D()(x)


def vgg11_bn(inp):
    x = inp
    for v in [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]:
        if v == "M":
            x = layers.MaxPooling2D(2, 2)(x)
        else:
            x = layers.Conv2D(v, 3, padding="same", use_bias=True)(x)
            x = layers.BatchNormalization(epsilon=1e-5, momentum=0.9)(x)
            x = layers.ReLU()(x)
    if tuple(x.shape[1:3]) != (7, 7):
        x = AdaptiveAveragePooling2D((7, 7))(x)
    x = layers.Flatten()(x)
    for _ in range(2):
        x = layers.Dense(4096, activation="relu")(x)
        x = layers.Dropout(0.5)(x)
    return x


def googlenet(inp):
    def basic(x, f, k, s=1):
        x = layers.Conv2D(f, k, strides=s, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(epsilon=1e-3, momentum=0.9)(x)
        return layers.ReLU()(x)

    def inception(x, c1, c3r, c3, c5r, c5, pp):
        b1 = basic(x, c1, 1)
        b2 = basic(basic(x, c3r, 1), c3, 3)
        b3 = basic(basic(x, c5r, 1), c5, 3)  # torchvision's branch 3 is 3x3
        b4 = basic(layers.MaxPooling2D(3, 1, padding="same")(x), pp, 1)
        return layers.Concatenate(axis=-1)([b1, b2, b3, b4])

    x = basic(inp, 64, 7, 2)
    x = torch_max_pool(x, 3, 2)
    x = basic(x, 64, 1)
    x = basic(x, 192, 3)
    x = torch_max_pool(x, 3, 2)
    x = inception(x, 64, 96, 128, 16, 32, 32)
    x = inception(x, 128, 128, 192, 32, 96, 64)
    x = torch_max_pool(x, 3, 2)
    x = inception(x, 192, 96, 208, 16, 48, 64)
    x = inception(x, 160, 112, 224, 24, 64, 64)
    x = inception(x, 128, 128, 256, 24, 64, 64)
    x = inception(x, 112, 144, 288, 32, 64, 64)
    x = inception(x, 256, 160, 320, 32, 128, 128)
    x = torch_max_pool(x, 2, 2)
    x = inception(x, 256, 160, 320, 32, 128, 128)
    x = inception(x, 384, 192, 384, 48, 128, 128)
    x = layers.GlobalAveragePooling2D()(x)
    return layers.Dropout(0.2)(x)


def simple(inp):
    x = inp
    for f in (32, 64, 128):
        x = layers.Conv2D(f, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    return layers.Dense(128, activation="relu")(x)


MODELS = {"resnet18": resnet18, "resnet50": resnet50, "vgg11_bn": vgg11_bn, "googlenet": googlenet, "simple": simple}


def forward_gflops_per_image(model):
    """2 per multiply-add of Conv2D and Dense layers (what Canopy's CostMeter counts)."""
    flops = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            ho, wo = layer.output.shape[1:3]
            flops += 2 * int(np.prod(layer.kernel.shape)) * ho * wo
        elif isinstance(layer, layers.Dense):
            flops += 2 * int(np.prod(layer.kernel.shape))
    return flops / 1e9


def main():
    if a.model not in MODELS:
        sys.exit(f"unknown model {a.model}: {', '.join(MODELS)}")
    keras.utils.set_random_seed(0)
    inp = keras.Input((a.size, a.size, 3))
    out = layers.Dense(NUM_CLASSES, activation="sigmoid")(MODELS[a.model](inp))
    model = keras.Model(inp, out)
    params = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    flops = forward_gflops_per_image(model)
    jit = {"auto": "auto", "true": True, "false": False}[a.jit]
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="binary_crossentropy", jit_compile=jit)

    rng = np.random.default_rng(2)
    xn = rng.standard_normal((a.batch, a.size, a.size, 3), dtype=np.float32)
    yn = (rng.random((a.batch, NUM_CLASSES)) < 0.3).astype(np.float32)
    xt, yt = keras.ops.convert_to_tensor(xn), keras.ops.convert_to_tensor(yn)

    train = a.mode == "train"
    if train:
        def step():
            return model.train_on_batch(xt, yt)
    else:
        def step():
            return model.predict_on_batch(xt)

    # train_on_batch and predict_on_batch return NumPy values: reading one makes sure the step has finished.
    times = time_steps(step, a, finish=lambda r: float(np.asarray(r).ravel()[0]))
    report(f"keras-{BACKEND}", a, times, flops, version=f"keras {keras.__version__} / {BACKEND} {BACKEND_VERSION}",
           params=params, jit=a.jit)

if __name__ == "__main__":
    main()
