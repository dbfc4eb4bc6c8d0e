"""A trained model saved as data: one ``.npz`` that anyone can load without running its author's code.

A pickle (``np.save`` of an object, ``pickle.dump`` of a model) stores *how to rebuild* an
object as instructions that run when it is loaded, so loading someone's pickle runs their
code. A checkpoint of this module holds only arrays and is read with ``allow_pickle=False``:
whoever loads it (the autograder, with its own copy of the library) rebuilds the model from
the architecture text and fills in the numbers. Nothing of the saver's code comes along:
not their ``preprocess`` function (it becomes a mean image and a scale), not their class.

The format, ``cs231n-checkpoint/1`` (every entry is an array in the ``.npz``):

=====================  ==============================================================
entry                  content
=====================  ==============================================================
``format``             the text ``cs231n-checkpoint/1``
``architecture``       ``ConvNet`` or ``ThreeLayerConvNet``
``spec``               the architecture as flat spec text with its input, as
                       ``ConvNet.spec`` gives it (for a ThreeLayerConvNet, the
                       equivalent ``INPUT-HxWxC -> CONVk-F -> RELU -> POOL2 -> FC-h ->
                       RELU -> FC-c``); no brackets, at most ``spec_chars`` characters
``preprocess_mean``    (C, H, W) float: the mean image subtracted from raw pixels
``preprocess_scale``   () float > 0: what the centred pixels are divided by
``param_W1`` ...       each parameter (``W1, b1, W2, ...`` as the model numbers
                       them), float32 or float64, all of one dtype, of the shape the
                       architecture gives it
``running_mean1`` ...  for each ``BN`` after layer number K (whose scale and shift are
``running_var1`` ...   the parameters ``gammaK``, ``betaK``): its running statistics,
                       ``(channels,)`` in the parameters' dtype, finite, every
                       ``running_var`` > 0. The model is evaluated in test mode, with
                       these statistics (and eps = ``convnet.BN_EPS``)
``reported_accuracy``  optional, () float in 0..1: the validation accuracy the saver
                       measured and printed; never trusted for a grade, the autograder
                       compares it with its own measurement (an honesty check)
=====================  ==============================================================

The model's input is ``(raw_images - preprocess_mean) / preprocess_scale``, where raw images
are CIFAR pixels as floats in 0..255 of shape (N, C, H, W). Training on
``get_CIFAR10_data``'s images (the training mean already subtracted) divided by ``s``
is ``mean = data["mean_image"], scale = s``.

``load_checkpoint`` checks everything it reads against :class:`CheckpointLimits`, the zip
directory before any member is decompressed and each member's ``.npy`` header before its
data, and raises :class:`CheckpointError` (a ValueError) saying what is wrong and what was
expected.

>>> import io
>>> from cs231n_lib.classifiers import ConvNet
>>> model = ConvNet("INPUT-8x8x3 -> CONV3-4 -> RELU -> POOL2 -> FC", seed=0)
>>> buffer = io.BytesIO()
>>> save_checkpoint(buffer, model, mean_image=np.full((3, 8, 8), 120.0), scale=64.0)
>>> loaded = load_checkpoint(io.BytesIO(buffer.getvalue()))
>>> loaded.spec, loaded.parameters
('INPUT-8x8x3 -> CONV3-4 -> RELU -> POOL2 -> FC-10', 762)
>>> loaded.predict(np.full((2, 3, 8, 8), 200.0)).shape
(2,)
"""

import dataclasses
import io
import os
import struct
import zipfile
import zlib

from .architecture import summarize
from .backend import np, to_numpy
from .classifiers.cnn import ThreeLayerConvNet
from .classifiers.convnet import BN_EPS, ConvNet

__all__ = ["FORMAT", "CheckpointError", "CheckpointLimits", "Checkpoint", "save_checkpoint", "load_checkpoint"]

FORMAT = "cs231n-checkpoint/1"
ARCHITECTURES = ("ConvNet", "ThreeLayerConvNet")
PARAMETER_PREFIX = "param_"
PARAMETER_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
TEXT_ENTRIES = ("format", "architecture", "spec")
PREPROCESS_ENTRIES = ("preprocess_mean", "preprocess_scale")
OPTIONAL_ENTRIES = ("reported_accuracy",)
BN_STATISTICS = ("running_mean", "running_var")  # entry running_meanK: bn_params[K]["running_mean"]
# The zip's end record (APPNOTE 4.3.16): signature, two disk numbers, the entry counts on this disk
# and in all, the central directory's size and offset, the comment's length; then the comment.
ZIP_END = struct.Struct("<4s4H2LH")
ZIP_END_SIGNATURE = b"PK\x05\x06"
ZIP64_LOCATOR = struct.Struct("<4sLQL")   # precedes the end record of a zip64 file
ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
# A central directory entry: 46 bytes, then its name, extra field and comment. An .npz entry's
# name is NAME.npy and its extra field at most a zip64 record; 1 kB each leaves room to spare.
DIRECTORY_ENTRY_BYTES = 1024


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded: the message says what is wrong and what was expected."""


@dataclasses.dataclass(frozen=True)
class CheckpointLimits:
    """What loading a checkpoint may cost; each bound is checked before the work it guards."""
    file_bytes: int = 100 * 2**20          # the .npz as stored
    member_bytes: int = 100 * 2**20        # one array, decompressed (the zip directory says, the reader enforces)
    total_bytes: int = 200 * 2**20         # every array, decompressed
    members: int = 256                     # arrays in the file
    spec_chars: int = 4000                 # the architecture text
    parameters: int = 10_000_000           # numbers in all parameters together
    # One forward pass of one image: architecture.Summary.flops plus Summary.window_reads (a pool's
    # window has no FLOPs in the notes' count but costs as much to read).
    flops_per_image: int = 200_000_000
    # Values one image's forward pass holds (Summary.total_activations: the layers keep their inputs),
    # 64 MB in float32; a padded CONV or a chain of RELUs and POOLs grows them without FLOPs.
    activations_per_image: int = 2**24


DEFAULT_LIMITS = CheckpointLimits()


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: the rebuilt model and its preprocessing.

    model: a ConvNet on NumPy with the saved parameters. mean_image: (C, H, W) float64.
    scale: a positive float. parameters, flops_per_image, activations_per_image: the model's
    size and the cost of one image's forward pass (``architecture.summarize``).
    """
    architecture: str
    spec: str
    model: ConvNet
    mean_image: object
    scale: float
    parameters: int
    flops_per_image: int
    activations_per_image: int = 0
    reported_accuracy: float | None = None

    def model_input(self, raw_images):
        """raw_images (N, C, H, W), pixels 0..255 -> the model's input, in the model's dtype."""
        raw = np.asarray(raw_images, dtype=np.float64)
        if raw.ndim != 4 or raw.shape[1:] != self.mean_image.shape:
            raise ValueError(f"raw images must have shape (N, {', '.join(map(str, self.mean_image.shape))}), "
                             f"got {raw.shape}")
        return ((raw - self.mean_image) / self.scale).astype(self.model.dtype)

    def scores(self, raw_images):
        """raw_images (N, C, H, W) -> class scores (N, classes) as a NumPy array."""
        return to_numpy(self.model.loss(self.model_input(raw_images)))

    def predict(self, raw_images):
        """raw_images (N, C, H, W) -> predicted labels (N,)."""
        return self.scores(raw_images).argmax(axis=1)


# ----------------------------------------------------------------------------- saving

def save_checkpoint(file, model, mean_image, scale, reported_accuracy=None):
    """Write ``model`` (a ConvNet or ThreeLayerConvNet) and its preprocessing to ``file``.

    file: a path (``.npz`` is added by NumPy when missing) or a binary file object.
    mean_image: (C, H, W), what is subtracted from raw 0..255 pixels (the training mean).
    scale: a positive number the centred pixels are divided by (1.0 for none).
    The model's input is then ``(raw - mean_image) / scale``. reported_accuracy: the validation
    accuracy you measured (0..1), kept as a record. The file is checked by
    loading it back before this returns, so a checkpoint that saves also loads.
    """
    architecture, spec = _architecture_of(model)
    mean_image = np.asarray(to_numpy(mean_image), dtype=np.float64)
    if mean_image.shape != tuple(model.input_dim):
        raise ValueError(f"mean_image must have the model's input shape {tuple(model.input_dim)}, "
                         f"got {mean_image.shape}")
    if not isinstance(scale, (int, float, np.integer, np.floating)) or not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    entries = {"format": np.array(FORMAT), "architecture": np.array(architecture), "spec": np.array(spec),
               "preprocess_mean": mean_image, "preprocess_scale": np.array(float(scale))}
    if reported_accuracy is not None:
        if not isinstance(reported_accuracy, (int, float, np.floating)) or not 0 <= reported_accuracy <= 1:
            raise ValueError(f"reported_accuracy must be a number in 0..1, got {reported_accuracy!r}")
        entries["reported_accuracy"] = np.array(float(reported_accuracy))
    for name, value in model.params.items():
        entries[PARAMETER_PREFIX + name] = np.asarray(to_numpy(value))
    for number, bn_param in (model.bn_params.items() if architecture == "ConvNet" else ()):
        if bn_param.get("eps", BN_EPS) != BN_EPS:
            raise ValueError(f"bn_params[{number}]['eps'] is {bn_param['eps']!r}; a checkpoint's model is "
                             f"evaluated with eps {BN_EPS:g}, the ConvNet's")
        for key in BN_STATISTICS:
            entries[f"{key}{number}"] = np.asarray(to_numpy(bn_param[key]))
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **entries)
    data = buffer.getvalue()
    load_checkpoint(io.BytesIO(data))   # what does not load back is not written
    if hasattr(file, "write"):
        file.write(data)
    else:
        path = os.fspath(file)
        path = path if path.endswith(".npz") else path + ".npz"
        with open(path, "wb") as handle:
            handle.write(data)


def _architecture_of(model):
    """(architecture name, spec text) of a model this format can describe."""
    if isinstance(model, ConvNet):
        return "ConvNet", model.spec
    if isinstance(model, ThreeLayerConvNet):
        return "ThreeLayerConvNet", three_layer_spec(model)
    raise TypeError(f"a checkpoint holds a ConvNet or a ThreeLayerConvNet, got {type(model).__name__}")


def three_layer_spec(model):
    """The ConvNet spec that computes what ``model`` (a ThreeLayerConvNet) computes, with the same parameters."""
    C, H, W = model.input_dim
    F, _, size, _ = model.params["W1"].shape
    hidden, classes = model.params["W3"].shape
    return f"INPUT-{H}x{W}x{C} -> CONV{size}-{F} -> RELU -> POOL2 -> FC-{hidden} -> RELU -> FC-{classes}"


# ----------------------------------------------------------------------------- loading

def load_checkpoint(file, limits=DEFAULT_LIMITS):
    """Read and check a checkpoint; returns a :class:`Checkpoint` whose model is a ConvNet on NumPy.

    file: a path or a binary file object. Raises :class:`CheckpointError` for anything that
    is not a checkpoint of this format within ``limits``.
    """
    data = _read_bounded(file, limits.file_bytes)
    _check_end_record(data, limits)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise CheckpointError("not an .npz file (a zip of .npy arrays); save the model with "
                              "cs231n_lib.checkpoint.save_checkpoint") from None
    with archive:
        names = _check_directory(archive, limits)
        entries = {name: _read_member(archive, name, limits) for name in names}
    return _build(entries, limits)


def _read_bounded(file, max_bytes):
    if hasattr(file, "read"):
        data = file.read(max_bytes + 1)
    else:
        try:
            size = os.stat(file).st_size
            if size > max_bytes:
                raise CheckpointError(f"the file has {size:,} bytes; a checkpoint may have at most {max_bytes:,}")
            with open(file, "rb") as handle:
                data = handle.read(max_bytes + 1)
        except OSError as error:
            raise CheckpointError(f"cannot read {os.fspath(file)}: {error.strerror or error}") from None
    if len(data) > max_bytes:
        raise CheckpointError(f"the file has more than {max_bytes:,} bytes, the most a checkpoint may have")
    return data


def _check_end_record(data, limits):
    """Bound the zip's central directory from its end record, before ``zipfile`` parses every entry
    of it (a 50 MB directory of a million entries costs seconds and half a gigabyte).

    Finds the end record where ``zipfile`` does (the last 22 bytes, else the last signature in
    the final 64 kB, the comment's room); a file without one is left for ``zipfile`` to refuse.
    """
    if data[-ZIP_END.size:-ZIP_END.size + 4] == ZIP_END_SIGNATURE and data[-2:] == b"\0\0":
        start = len(data) - ZIP_END.size
    else:
        start = data.rfind(ZIP_END_SIGNATURE, max(0, len(data) - ZIP_END.size - 0xFFFF))
    if start < 0 or len(data) - start < ZIP_END.size:
        return
    locator = start - ZIP64_LOCATOR.size
    if locator >= 0 and data[locator:locator + 4] == ZIP64_LOCATOR_SIGNATURE:
        raise CheckpointError("the file is a zip64 archive; a checkpoint (at most "
                              f"{limits.members} arrays and {limits.file_bytes:,} bytes) is a plain zip: "
                              "save it with cs231n_lib.checkpoint.save_checkpoint")
    _, _, _, _, entries, directory_bytes, _, _ = ZIP_END.unpack_from(data, start)
    if entries > limits.members:
        raise CheckpointError(f"the file holds {entries:,} entries; a checkpoint has at most {limits.members}")
    if directory_bytes > limits.members * DIRECTORY_ENTRY_BYTES:
        raise CheckpointError(f"the zip directory has {directory_bytes:,} bytes; a checkpoint of at most "
                              f"{limits.members} arrays needs at most {limits.members * DIRECTORY_ENTRY_BYTES:,}")


def _check_directory(archive, limits):
    """The array names of the zip, after checking its directory: counts and declared sizes."""
    infos = archive.infolist()
    if len(infos) > limits.members:
        raise CheckpointError(f"the file holds {len(infos)} entries; a checkpoint has at most {limits.members}")
    names, total = [], 0
    for info in infos:
        if not info.filename.endswith(".npy") or "/" in info.filename or info.is_dir():
            raise CheckpointError(f"unexpected entry {info.filename!r}: an .npz holds only NAME.npy arrays")
        if info.file_size > limits.member_bytes:
            raise CheckpointError(f"array {info.filename[:-4]!r} unpacks to {info.file_size:,} bytes; "
                                  f"at most {limits.member_bytes:,} are allowed")
        total += info.file_size
        names.append(info.filename[:-4])
    if total > limits.total_bytes:
        raise CheckpointError(f"the arrays unpack to {total:,} bytes together; at most {limits.total_bytes:,} are allowed")
    if len(set(names)) != len(names):
        raise CheckpointError("the file holds two arrays of the same name")
    return names


def _read_member(archive, name, limits):
    """One array, its header checked before its data: no objects (pickles), a size that fits."""
    try:
        return _read_checked_array(archive, name, limits)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError) as error:
        # A damaged member (bad CRC, truncated data), an encrypted one, an unknown compression.
        raise CheckpointError(f"array {name!r} cannot be read from the file ({type(error).__name__}: {error}); "
                              f"save the checkpoint again") from None


def _read_checked_array(archive, name, limits):
    with archive.open(name + ".npy") as member:
        try:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(member)
            elif version in ((2, 0), (3, 0)):
                shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(member)
            else:
                raise ValueError(f"unknown .npy version {version}")
        except ValueError as error:
            raise CheckpointError(f"array {name!r} is not a readable .npy array: {error}") from None
        if dtype.hasobject or dtype.kind not in "fiuUb":
            stored = " (Python objects, stored as a pickle)" if dtype.hasobject else ""
            raise CheckpointError(f"array {name!r} holds {dtype} values{stored}; "
                                  f"a checkpoint holds real numbers and text only")
        size = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
        if size > limits.member_bytes:
            raise CheckpointError(f"array {name!r} of shape {shape} needs {size:,} bytes; "
                                  f"at most {limits.member_bytes:,} are allowed")
        payload = member.read(size + 1)
    if len(payload) != size:
        raise CheckpointError(f"array {name!r} of shape {shape} and dtype {dtype} should hold {size:,} bytes, "
                              f"the file has {len(payload):,}")
    order = "F" if fortran_order else "C"
    return np.frombuffer(payload, dtype=dtype).reshape(shape, order=order).copy()


def _text(entries, name, limit):
    value = entries.get(name)
    if value is None:
        raise CheckpointError(f"missing array {name!r} (a checkpoint has {', '.join(TEXT_ENTRIES)}, "
                              f"{', '.join(PREPROCESS_ENTRIES)} and {PARAMETER_PREFIX}W1, ...)")
    if value.dtype.kind != "U" or value.shape != ():
        raise CheckpointError(f"{name!r} must be one text value, got an array of {value.dtype} and shape {value.shape}")
    text = str(value[()])
    if len(text) > limit:
        raise CheckpointError(f"{name!r} has {len(text):,} characters; at most {limit:,} are allowed")
    return text


def _build(entries, limits):
    version = _text(entries, "format", 100)
    if version != FORMAT:
        raise CheckpointError(f"unknown format {version!r}: this library reads {FORMAT!r}")
    architecture = _text(entries, "architecture", 100)
    if architecture not in ARCHITECTURES:
        raise CheckpointError(f"unknown architecture {architecture!r}: expected one of {', '.join(ARCHITECTURES)}")
    spec = _text(entries, "spec", limits.spec_chars)
    if "[" in spec or "*" in spec:
        raise CheckpointError(f"the spec must list every layer (as ConvNet.spec writes it), without "
                              f"[...]*N repetitions; got {spec[:80]!r}")
    try:
        summary = summarize(spec)
    except (ValueError, TypeError) as error:
        raise CheckpointError(f"the spec {spec[:200]!r} does not describe a network: {error}") from None
    if summary.total_parameters > limits.parameters:
        raise CheckpointError(f"the model has {summary.total_parameters:,} parameters; at most "
                              f"{limits.parameters:,} are allowed")
    work = summary.flops + summary.window_reads
    if work > limits.flops_per_image:
        raise CheckpointError(f"the model needs {work:,} FLOPs per image; at most {limits.flops_per_image:,} are "
                              f"allowed ({summary.flops:,} in its CONV and FC layers, {summary.window_reads:,} "
                              f"pooling-window reads)")
    if summary.total_activations > limits.activations_per_image:
        raise CheckpointError(f"the model holds {summary.total_activations:,} activations per image; at most "
                              f"{limits.activations_per_image:,} are allowed")
    params = {name[len(PARAMETER_PREFIX):]: value for name, value in entries.items()
              if name.startswith(PARAMETER_PREFIX)}
    dtypes = {value.dtype for value in params.values()}
    if len(dtypes) > 1 or not dtypes <= set(PARAMETER_DTYPES):
        raise CheckpointError(f"parameters must all be float32 or all float64, got {sorted(map(str, dtypes))}")
    try:
        model = ConvNet(spec, dtype=dtypes.pop() if dtypes else np.float32, backend="numpy", seed=0)
    except ValueError as error:
        raise CheckpointError(f"the spec {spec[:200]!r} does not describe a ConvNet: {error}") from None
    if architecture == "ThreeLayerConvNet" and not _is_three_layer(model):
        raise CheckpointError(f"a ThreeLayerConvNet's spec is CONVk-F -> RELU -> POOL2 -> FC-h -> RELU -> FC-c, "
                              f"got {spec[:200]!r}")
    missing = sorted(set(model.params) - set(params))
    unexpected = sorted(set(params) - set(model.params))
    if missing or unexpected:
        raise CheckpointError(f"the spec's parameters are {', '.join(PARAMETER_PREFIX + n for n in model.params)}; "
                              f"missing {[PARAMETER_PREFIX + n for n in missing]}, "
                              f"unexpected {[PARAMETER_PREFIX + n for n in unexpected]}")
    for name, expected in model.params.items():
        value = params[name]
        if value.shape != expected.shape:
            raise CheckpointError(f"{PARAMETER_PREFIX}{name} has shape {value.shape}; the spec needs {expected.shape}")
        if not np.all(np.isfinite(value)):
            raise CheckpointError(f"{PARAMETER_PREFIX}{name} holds NaN or infinite values")
    model.params = {name: np.ascontiguousarray(params[name]) for name in model.params}
    statistics = _bn_statistics(entries, model)
    mean_image, scale = _preprocessing(entries, model.input_dim)
    unknown = sorted(set(entries) - set(TEXT_ENTRIES) - set(PREPROCESS_ENTRIES) - set(OPTIONAL_ENTRIES)
                     - {PARAMETER_PREFIX + name for name in params} - set(statistics))
    if unknown:
        raise CheckpointError(f"unexpected arrays {unknown[:5]}: a checkpoint holds {', '.join(TEXT_ENTRIES)}, "
                              f"{', '.join(PREPROCESS_ENTRIES)}, {PARAMETER_PREFIX}<name> parameters and, "
                              f"for each BN after layer K, running_meanK and running_varK")
    # The spec as the library writes it: the student's own spacing and separators stay out of reports.
    return Checkpoint(architecture=architecture, spec=model.spec, model=model, mean_image=mean_image, scale=scale,
                      parameters=summary.total_parameters, flops_per_image=summary.flops,
                      activations_per_image=summary.total_activations, reported_accuracy=_reported_accuracy(entries))


def _bn_statistics(entries, model):
    """Check the running statistics of every BN and put them into ``model.bn_params``; returns the
    entry names used. Each must be there, of the BN's shape and the parameters' dtype, finite, and
    every variance > 0 (test mode divides by sqrt(running_var + eps))."""
    used = []
    for number, bn_param in model.bn_params.items():
        for key in BN_STATISTICS:
            name, expected = f"{key}{number}", bn_param[key]
            what = (f"{name}: the {key.replace('_', ' ')} of the BN after layer {number}, {expected.dtype} of "
                    f"shape {expected.shape}")
            value = entries.get(name)
            if value is None:
                raise CheckpointError(f"missing array {name!r}; a checkpoint with BN carries {what}")
            if value.dtype != expected.dtype or value.shape != expected.shape:
                raise CheckpointError(f"{name} is {value.dtype} of shape {value.shape}; expected {what}")
            if not np.all(np.isfinite(value)):
                raise CheckpointError(f"{name} holds NaN or infinite values")
            if key == "running_var" and not np.all(value > 0):
                raise CheckpointError(f"{name} holds a variance <= 0 (smallest {float(value.min()):g}); "
                                      f"expected {what}, every value > 0")
            bn_param[key] = np.ascontiguousarray(value)
            used.append(name)
    return used


def _reported_accuracy(entries):
    value = entries.get("reported_accuracy")
    if value is None:
        return None
    if value.dtype.kind != "f" or value.shape != () or not 0 <= float(value) <= 1:
        raise CheckpointError(f"reported_accuracy must be one float in 0..1, got {value.dtype} of shape "
                              f"{value.shape}" + (f" = {float(value)}" if value.shape == () and value.dtype.kind == "f" else ""))
    return float(value)


def _is_three_layer(model):
    kinds = [type(layer).__name__ for layer in model.layers]
    return kinds == ["Conv", "Relu", "Pool", "FC", "Relu", "FC"] and model.layers[2].size == 2 \
        and model.layers[2].stride == 2 and model.layers[2].kind == "max"


def _preprocessing(entries, input_dim):
    for name in PREPROCESS_ENTRIES:
        if name not in entries:
            raise CheckpointError(f"missing array {name!r}: the preprocessing, model input = "
                                  f"(raw_images - preprocess_mean) / preprocess_scale")
    mean_image, scale = entries["preprocess_mean"], entries["preprocess_scale"]
    if mean_image.dtype.kind != "f" or mean_image.shape != tuple(input_dim):
        raise CheckpointError(f"preprocess_mean must be a float array of shape {tuple(input_dim)}, "
                              f"got {mean_image.dtype} of shape {mean_image.shape}")
    if not np.all(np.isfinite(mean_image)):
        raise CheckpointError("preprocess_mean holds NaN or infinite values")
    if scale.dtype.kind != "f" or scale.shape != ():
        raise CheckpointError(f"preprocess_scale must be one float, got {scale.dtype} of shape {scale.shape}")
    scale = float(scale)
    if not np.isfinite(scale) or scale <= 0:
        raise CheckpointError(f"preprocess_scale must be a positive finite number, got {scale}")
    # The largest model input a raw pixel can give; beyond float32 it becomes inf, then NaN scores.
    largest = float(np.max(np.maximum(np.abs(mean_image), np.abs(255.0 - mean_image)))) / scale
    if not largest <= float(np.finfo(np.float32).max):
        raise CheckpointError(f"the preprocessing (pixels 0..255 - preprocess_mean) / preprocess_scale gives "
                              f"model inputs up to {largest:.3g}, beyond float32's range: expected a mean image "
                              f"of pixel values and a scale near 1 to 255, got scale {scale:g}")
    return mean_image.astype(np.float64), scale
