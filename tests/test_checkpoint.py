"""cs231n_lib.checkpoint: a model saved as data round-trips, and every malformed file is refused with its reason."""

import io
import pickle
import struct
import zipfile

import numpy as np
import pytest

from cs231n_lib.checkpoint import (FORMAT, CheckpointError, CheckpointLimits, load_checkpoint, save_checkpoint,
                                   three_layer_spec)
from cs231n_lib.classifiers import ConvNet, ThreeLayerConvNet

SPEC = "INPUT-8x8x3 -> CONV3-4 -> RELU -> POOL2 -> FC-6 -> RELU -> FC"


def small_model(dtype=np.float32):
    return ConvNet(SPEC, seed=1, dtype=dtype)


def raw_images(count=5, shape=(3, 8, 8), seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(count, *shape)).astype(np.float64)


def saved_bytes(model=None, mean=None, scale=32.0):
    model = model or small_model()
    buffer = io.BytesIO()
    save_checkpoint(buffer, model, mean_image=np.full(model.input_dim, 100.0) if mean is None else mean, scale=scale)
    return buffer.getvalue()


def entries_of(data):
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def npz(entries):
    buffer = io.BytesIO()
    np.savez(buffer, **entries)
    return buffer.getvalue()


def refused(data, limits=None):
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(io.BytesIO(data), **({"limits": limits} if limits else {}))
    return str(caught.value)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_gives_identical_scores(dtype, tmp_path):
    model = small_model(dtype)
    mean, scale = raw_images(1)[0] * 0.5, 57.0
    save_checkpoint(tmp_path / "best_model", model, mean_image=mean, scale=scale)
    loaded = load_checkpoint(tmp_path / "best_model.npz")
    images = raw_images(7)
    expected = model.loss(((images - mean) / scale).astype(dtype))
    np.testing.assert_array_equal(loaded.scores(images), expected)
    np.testing.assert_array_equal(loaded.predict(images), expected.argmax(axis=1))
    assert loaded.spec == model.spec and loaded.model.dtype == np.dtype(dtype)
    assert loaded.parameters == sum(v.size for v in model.params.values())


def test_a_three_layer_convnet_loads_as_the_equivalent_convnet():
    np.random.seed(3)
    model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=4, filter_size=3, hidden_dim=6, weight_scale=0.1)
    loaded = load_checkpoint(io.BytesIO(saved_bytes(model, scale=1.0)))
    assert loaded.architecture == "ThreeLayerConvNet" and loaded.spec == three_layer_spec(model)
    images = raw_images(6)
    np.testing.assert_allclose(loaded.scores(images), model.loss((images - 100.0).astype(np.float32)),
                               rtol=1e-5, atol=1e-5)


def test_the_file_holds_only_arrays_of_numbers_and_text():
    entries = entries_of(saved_bytes())
    assert str(entries["format"]) == FORMAT and str(entries["architecture"]) == "ConvNet"
    assert sorted(name for name in entries if name.startswith("param_")) == \
        ["param_W1", "param_W2", "param_W3", "param_b1", "param_b2", "param_b3"]
    assert not any(value.dtype.hasobject for value in entries.values())


def broken(change):
    """The entries of a good checkpoint after ``change(entries)``, saved again."""
    entries = entries_of(saved_bytes())
    change(entries)
    return npz(entries)


@pytest.mark.parametrize("change, message", [
    (lambda e: e.pop("param_W2"), "missing ['param_W2']"),
    (lambda e: e.pop("preprocess_mean"), "missing array 'preprocess_mean'"),
    (lambda e: e.pop("spec"), "missing array 'spec'"),
    (lambda e: e.update(param_W1=np.zeros((4, 3, 5, 5), np.float32)), "param_W1 has shape (4, 3, 5, 5); the spec needs (4, 3, 3, 3)"),
    (lambda e: e.update(param_b1=np.zeros(4, np.int64)), "parameters must all be float32 or all float64"),
    (lambda e: e.update(spec=np.array("INPUT-8x8x3 -> CONV3-4 -> SOFTMAX")), "does not describe a network"),
    (lambda e: e.update(spec=np.array("[CONV3-4]*3 -> FC")), "without [...]*N repetitions"),
    (lambda e: e.update(format=np.array("cs231n-checkpoint/99")), "unknown format 'cs231n-checkpoint/99'"),
    (lambda e: e.update(architecture=np.array("ResNet")), "unknown architecture 'ResNet'"),
    (lambda e: e.__setitem__("param_W3", np.full_like(e["param_W3"], np.nan)), "param_W3 holds NaN or infinite"),
    (lambda e: e.update(preprocess_scale=np.array(0.0)), "preprocess_scale must be a positive finite number"),
    (lambda e: e.update(preprocess_mean=np.zeros((3, 32, 32))), "preprocess_mean must be a float array of shape (3, 8, 8)"),
    (lambda e: e.update(extra=np.zeros(3)), "unexpected arrays ['extra']"),
    (lambda e: e.update(spec=np.array(["a", "b"])), "'spec' must be one text value"),
])
def test_each_malformed_checkpoint_is_refused_with_its_reason(change, message):
    assert message in refused(broken(change))


def test_a_pickled_object_array_is_refused_before_it_is_unpickled(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    entries = entries_of(saved_bytes())
    entries["param_W1"] = np.array([Payload()], dtype=object)
    buffer = io.BytesIO()
    np.savez(buffer, **entries)   # np.savez pickles object arrays
    message = refused(buffer.getvalue())
    assert "holds object values" in message and "pickle" in message
    assert not marker.exists()


def test_a_whole_pickle_is_not_a_checkpoint():
    assert "not an .npz file" in refused(pickle.dumps({"W1": np.zeros(3)}))


def test_bounds_on_parameters_and_flops():
    data = saved_bytes()
    assert "parameters; at most 100 are allowed" in refused(data, CheckpointLimits(parameters=100))
    assert "FLOPs per image; at most 1,000 are allowed" in refused(data, CheckpointLimits(flops_per_image=1000))
    assert "the file has more than 1,000 bytes" in refused(data, CheckpointLimits(file_bytes=1000))


def test_a_zip_bomb_is_refused_from_its_directory_without_decompressing():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        header = np.lib.format.header_data_from_array_1_0(np.zeros(1))
        header["shape"] = (2**25,)   # 256 MiB of zeros: compresses to about 256 kB
        with archive.open("param_W1.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, header)
            chunk = bytes(2**24)
            for _ in range(2**28 // len(chunk)):
                member.write(chunk)
    message = refused(buffer.getvalue())
    assert "array 'param_W1' unpacks to 268,435,584 bytes; at most 104,857,600 are allowed" in message


def test_an_npy_header_that_claims_more_than_the_bound_is_refused_before_reading():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        header = np.lib.format.header_data_from_array_1_0(np.zeros(1))
        header["shape"] = (10**12,)
        with archive.open("param_W1.npy", "w") as member:
            np.lib.format.write_array_header_1_0(member, header)
    assert "needs 8,000,000,000,000 bytes" in refused(buffer.getvalue())


def test_saving_refuses_bad_preprocessing_and_other_models():
    with pytest.raises(ValueError, match="mean_image must have the model's input shape"):
        saved_bytes(mean=np.zeros((3, 32, 32)))
    with pytest.raises(ValueError, match="scale must be a positive number"):
        saved_bytes(scale=-1.0)
    with pytest.raises(TypeError, match="a checkpoint holds a ConvNet or a ThreeLayerConvNet"):
        save_checkpoint(io.BytesIO(), object(), np.zeros((3, 8, 8)), 1.0)


def test_a_damaged_file_is_refused_with_its_reason():
    data = bytearray(saved_bytes())
    start = data.index(b"param_W2.npy") + len("param_W2.npy")   # the member's compressed bytes follow its name
    data[start + 40:start + 60] = bytes(20)
    assert "array 'param_W2' cannot be read from the file" in refused(bytes(data))
    assert "not an .npz file" in refused(bytes(data[:len(data) // 2]))   # cut short: no zip directory


def unsaved_checkpoint(spec):
    """A checkpoint of ``spec`` written without save_checkpoint's own check, as a hostile student would."""
    model = ConvNet(spec, seed=0)
    entries = {"format": np.array(FORMAT), "architecture": np.array("ConvNet"), "spec": np.array(model.spec),
               "preprocess_mean": np.zeros(model.input_dim), "preprocess_scale": np.array(1.0)}
    return npz(entries | {f"param_{name}": value for name, value in model.params.items()})


def test_pooling_windows_count_against_the_flops_bound():
    # 2.7 M FLOPs by the notes' count, but the 150x150 window at stride 1 reads 1.8 G values: about
    # 1.4 s per image on one core, hours for the held-out set, between two time checks.
    message = refused(unsaved_checkpoint("INPUT-32x32x3 -> CONV1-1/p200 -> AVGPOOL150/s1 -> FC"))
    assert ("needs 1,804,724,024 FLOPs per image; at most 200,000,000 are allowed (2,721,524 in its CONV and "
            "FC layers, 1,802,002,500 pooling-window reads)") in message


def test_activations_are_bounded_before_a_forward_pass_holds_them():
    # A padded 1x1 CONV makes a 3032x3032 volume for 55 M FLOPs; 400 RELUs (no FLOPs) each keep a
    # copy of it: 14.7 GB in float32 for one image, which would take the grader's memory.
    spec = "INPUT-32x32x3 -> CONV1-1/p1500" + " -> RELU" * 400 + " -> POOL3032 -> FC"
    message = refused(unsaved_checkpoint(spec))
    assert "holds 3,686,405,707 activations per image; at most 16,777,216 are allowed" in message


def zip_of_many_entries(count, zip64=False):
    """A zip whose central directory lists ``count`` one-letter entries (47 bytes each), and whose
    end record claims one entry (a lie zipfile does not check: it reads the directory's size); with
    ``zip64``, a zip64 end record gives the size while the plain one claims 46 bytes."""
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, 1, 0) + b"a"
    entry = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0) + b"a"
    directory = entry * count
    records = b""
    if zip64:
        end64 = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(directory), len(local))
        records = end64 + struct.pack("<4sLQL", b"PK\x06\x07", 0, len(local) + len(directory), 1)
    size = 46 if zip64 else len(directory)
    return local + directory + records + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, size, len(local), 0)


@pytest.mark.parametrize("zip64", [False, True], ids=["plain", "zip64"])
def test_a_huge_zip_directory_is_refused_before_zipfile_parses_it(zip64, monkeypatch):
    # 200,000 entries in 9.4 MB: zipfile would build 200,000 ZipInfo objects (a million, in a
    # 50 MB file, took 11 s and 480 MB) before the count of entries could be checked.
    def parse(*args, **kwargs):
        raise AssertionError("zipfile parsed the directory before it was bounded")
    monkeypatch.setattr(zipfile, "ZipFile", parse)
    message = refused(zip_of_many_entries(200_000, zip64=zip64))
    expected = "the file is a zip64 archive" if zip64 else "the zip directory has 9,400,000 bytes; a checkpoint"
    assert expected in message


@pytest.mark.parametrize("change, message", [
    ({"preprocess_scale": np.array(5e-324)}, "gives model inputs up to inf, beyond float32's range"),
    ({"preprocess_mean": np.full((3, 8, 8), 1e308)}, "gives model inputs up to 3.13e+306, beyond float32's range"),
    ({"param_W1": np.zeros((4, 3, 3, 3), np.complex64)}, "holds complex64 values; a checkpoint holds real numbers"),
])
def test_preprocessing_that_makes_every_score_nan_is_refused_with_its_reason(change, message):
    # On main these loaded: every input inf, every score NaN, every prediction class 0.
    assert message in refused(npz(entries_of(saved_bytes()) | change))


def test_the_spec_in_reports_is_the_librarys_rendering_not_the_students_text():
    entries = entries_of(saved_bytes())
    entries["spec"] = np.array("INPUT-8x8x3\x1cconv3-4,\x1frelu  pool2 -> fc-6 -> RELU -> FC-10")
    assert load_checkpoint(io.BytesIO(npz(entries))).spec == "INPUT-8x8x3 -> CONV3-4 -> RELU -> POOL2 -> FC-6 -> RELU -> FC-10"


# ----------------------------------------------------------------------------- batch normalization

BN_SPEC = "INPUT-8x8x3 -> CONV3-4 -> BN -> RELU -> POOL2 -> FC-6 -> BN -> RELU -> FC"


def trained_bn_model(dtype=np.float32):
    """A BN model whose running statistics have moved away from their initial 0 and 1."""
    model = ConvNet(BN_SPEC, seed=1, dtype=dtype)
    rng = np.random.default_rng(0)
    for _ in range(3):
        model.loss((3 + 2 * rng.standard_normal((6, 3, 8, 8))).astype(dtype), rng.integers(10, size=6))
    return model


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_bn_checkpoint_carries_gamma_beta_and_the_running_statistics(dtype):
    model = trained_bn_model(dtype)
    data = saved_bytes(model, scale=32.0)
    entries = entries_of(data)
    assert {"param_gamma1", "param_beta1", "param_gamma2", "param_beta2", "running_mean1", "running_var1",
            "running_mean2", "running_var2"} <= set(entries)
    np.testing.assert_array_equal(entries["running_var2"], model.bn_params[2]["running_var"])
    loaded = load_checkpoint(io.BytesIO(data))
    images = raw_images(7)
    # The grader's scores are the model's test-mode scores: the running statistics, not the batch's.
    expected = model.loss(((images - 100.0) / 32.0).astype(dtype))
    np.testing.assert_array_equal(loaded.scores(images), expected)
    np.testing.assert_allclose(loaded.scores(images[:1]), expected[:1], rtol=1e-5)  # one image alone: the same
    assert loaded.model.bn_params[1]["mode"] == "test"
    assert loaded.parameters == 4 * 27 + 64 * 6 + (6 * 10 + 10) + 2 * (4 + 6)  # beta instead of b1, b2


def broken_bn(change):
    entries = entries_of(saved_bytes(trained_bn_model()))
    change(entries)
    return npz(entries)


@pytest.mark.parametrize("change, message", [
    (lambda e: e.pop("running_var2"),
     "missing array 'running_var2'; a checkpoint with BN carries running_var2: the running var of the BN after "
     "layer 2, float32 of shape (6,)"),
    (lambda e: e.pop("running_mean1"), "missing array 'running_mean1'"),
    (lambda e: e.update(running_var1=-e["running_var1"]), "running_var1 holds a variance <= 0"),
    (lambda e: e["running_var1"].__setitem__(0, 0.0), "running_var1 holds a variance <= 0 (smallest 0)"),
    (lambda e: e.update(running_mean1=np.zeros(5, np.float32)),
     "running_mean1 is float32 of shape (5,); expected running_mean1: the running mean of the BN after layer 1, "
     "float32 of shape (4,)"),
    (lambda e: e.update(running_mean1=np.zeros(4, np.float64)), "running_mean1 is float64 of shape (4,); expected"),
    (lambda e: e["running_mean2"].__setitem__(3, np.inf), "running_mean2 holds NaN or infinite values"),
    (lambda e: e.pop("param_gamma2"), "missing ['param_gamma2']"),
    (lambda e: e.update(param_beta1=np.zeros(3, np.float32)), "param_beta1 has shape (3,); the spec needs (4,)"),
    (lambda e: e.update(param_b1=np.zeros(4, np.float32)), "unexpected ['param_b1']"),
    (lambda e: e.update(running_var3=np.ones(6, np.float32)), "unexpected arrays ['running_var3']"),
    (lambda e: e.update(spec=np.array(str(e["spec"]).replace("CONV3-4 -> BN", "BN -> CONV3-4"))),
     "layer 2 (BN) follows the start of the spec: expected BN right after a CONV or FC layer"),
])
def test_a_bn_checkpoint_that_lies_is_refused_saying_what_was_expected(change, message):
    assert message in refused(broken_bn(change))


def test_statistics_without_a_bn_in_the_spec_are_refused():
    entries = entries_of(saved_bytes())
    entries.update(running_mean1=np.zeros(4, np.float32), running_var1=np.ones(4, np.float32))
    assert "unexpected arrays ['running_mean1', 'running_var1']" in refused(npz(entries))


def test_saving_refuses_a_bn_eps_the_grader_would_not_use():
    model = trained_bn_model()
    model.bn_params[1]["eps"] = 1e-3
    with pytest.raises(ValueError, match=r"bn_params\[1\]\['eps'\] is 0.001; .* eps 1e-05"):
        saved_bytes(model)
