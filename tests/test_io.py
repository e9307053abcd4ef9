"""Safe loading: every damaged, hand-edited or hostile model file gives a clear ValueError, never a crash,
never pickle, never silently different weights."""

import io as bytes_io
import json
import os
import zipfile

import numpy as np
import pytest

import npae
from npae import Dense, Sequential, Tanh
from npae.io import ARCH_KEY, encode_json, read_archive, save
from npae.models import Autoencoder


def small_model(dtype=np.float32):
    model = Autoencoder(Sequential([Dense(4, 2, rng=0), Tanh()]), Sequential([Dense(2, 4, rng=1)]))
    return model.astype(dtype)


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "model.npz"
    small_model().save(path)
    return path


def rewrite(path, edit):
    """Re-save the archive at ``path`` after ``edit(arrays)`` (np.savez: valid zip, valid CRCs)."""
    arrays = read_archive(path)
    edit(arrays)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def rewrite_architecture(path, edit):
    """Re-save with the architecture JSON changed in place by ``edit(arch)``."""

    def edit_arrays(arrays):
        arch = json.loads(arrays[ARCH_KEY].tobytes())
        edit(arch)
        arrays[ARCH_KEY] = encode_json(arch)

    rewrite(path, edit_arrays)


def assert_same_model(loaded, original):
    assert npae.io.serialize(loaded) == npae.io.serialize(original)
    want, got = original.get_weights(), loaded.get_weights()
    assert want.keys() == got.keys()
    for k in want:
        assert got[k].dtype == want[k].dtype and np.array_equal(got[k], want[k]), k


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_roundtrip_is_exact_and_keeps_the_dtype(tmp_path, dtype):
    model = small_model(dtype)
    model.save(tmp_path / "m.npz")
    loaded = npae.load(tmp_path / "m.npz")
    assert_same_model(loaded, model)
    x = np.random.default_rng(0).random((3, 4)).astype(dtype)
    assert np.array_equal(loaded.reconstruct(x), model.reconstruct(x))


# ----------------------------------------------------------------------------------------------
# Damaged bytes
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("keep", [0, 1, 4, 30, 200, 0.5, -23, -22, -1])
def test_truncated_file(saved, keep):
    raw = saved.read_bytes()
    n = int(len(raw) * keep) if isinstance(keep, float) else keep % len(raw) if keep < 0 else keep
    saved.write_bytes(raw[:n])
    with pytest.raises(ValueError, match=r"model\.npz: truncated or corrupted model file \(BadZipFile"):
        npae.load(saved)


def test_bit_flips_are_detected_or_harmless(saved):
    """Flip one bit in 256 bytes spread over the whole file (zip headers, npy headers, JSON, weights).

    Each load must either raise a ValueError or give back exactly the saved model (a flip in a field that
    carries nothing, such as a timestamp, is harmless). Never another exception, never different weights.
    """
    original = small_model()
    raw = saved.read_bytes()
    rng = np.random.default_rng(0)
    edges = np.linspace(0, len(raw), 257).astype(int)
    outcomes = {"ValueError": 0, "identical": 0}
    for lo, hi in zip(edges[:-1], edges[1:]):
        damaged = bytearray(raw)
        damaged[rng.integers(lo, hi)] ^= 1 << int(rng.integers(8))
        saved.write_bytes(bytes(damaged))
        try:
            loaded = npae.load(saved)
        except ValueError:
            outcomes["ValueError"] += 1
            continue
        assert_same_model(loaded, original)
        outcomes["identical"] += 1
    assert outcomes["ValueError"] > 200, outcomes


def test_a_flip_in_the_weights_fails_the_crc(saved):
    raw = bytearray(saved.read_bytes())
    offset = raw.index(small_model().get_weights()["decoder.0.W"].tobytes())
    raw[offset + 5] ^= 0x10
    saved.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"BadZipFile: Bad CRC-32 for file 'decoder\.0\.W\.npy'"):
        npae.load(saved)


# ----------------------------------------------------------------------------------------------
# Well-formed archives with wrong content
# ----------------------------------------------------------------------------------------------


def _set_layer(arch, **changes):
    arch["model"]["config"]["encoder"]["config"]["layers"][0].update(changes)


def _set_dense_config(arch, **changes):
    arch["model"]["config"]["encoder"]["config"]["layers"][0]["config"].update(changes)


ARCHITECTURE_EDITS = [
    ("unknown layer", lambda a: _set_layer(a, type="Conv9D"), r"unknown type 'Conv9D'; npae builds only .*Dense"),
    ("abstract layer", lambda a: _set_layer(a, type="Activation", config={}), r"unknown type 'Activation'"),
    ("private class", lambda a: _set_layer(a, type="_Convolutional", config={}), r"unknown type '_Convolutional'"),
    ("type not a string", lambda a: _set_layer(a, type=7), r"expected an object with a string 'type', got \{"),
    ("string size", lambda a: _set_dense_config(a, in_features="4"), r"in_features: expected an int >= 1, got '4'"),
    ("zero size", lambda a: _set_dense_config(a, in_features=0), r"in_features: expected an int >= 1, got 0"),
    ("huge size", lambda a: _set_dense_config(a, out_features=10**15), r"cannot build Dense from config"),
    ("unknown init", lambda a: _set_dense_config(a, init="xavier"), r"init: expected one of .*, got 'xavier'"),
    ("unknown option", lambda a: _set_dense_config(a, colour="red"), r"cannot build Dense .*colour"),
    ("config not an object", lambda a: _set_layer(a, config=[4, 2]),
     r"config of Dense must be an object, got \[4, 2\]"),
    ("name not a string", lambda a: _set_layer(a, name=5), r"name of a Dense must be a string or null, got 5"),
    ("layers not a list", lambda a: a["model"]["config"]["encoder"]["config"].update(layers="Dense"),
     r"a Sequential needs a list 'layers', got 'Dense'"),
    ("missing encoder", lambda a: a["model"]["config"].pop("encoder"), r"cannot build Autoencoder .*'encoder'"),
    ("bad input_shape", lambda a: a["model"]["config"].update(input_shape="abc"),
     r"input_shape: expected a non-empty tuple of positive ints .*got 'abc'"),
    ("bad reduction", lambda a: a["model"]["config"]["loss"]["config"].update(reduction="median"),
     r"reduction: expected one of \('mean', 'sum'\), got 'median'"),
    ("format", lambda a: a.update(format=2), r"unsupported architecture record: expected format 1, got 2"),
    ("dtype", lambda a: a.update(dtype="int8"), r"dtype must be float32 or float64, got 'int8'"),
]


@pytest.mark.parametrize(
    "edit, message", [row[1:] for row in ARCHITECTURE_EDITS], ids=[r[0] for r in ARCHITECTURE_EDITS]
)
def test_hand_edited_architecture(saved, edit, message):
    rewrite_architecture(saved, edit)
    with pytest.raises(ValueError, match=message):
        npae.load(saved)


@pytest.mark.parametrize("edit, location, fault", [
    (lambda a: _set_layer(a, type="Activation", config={}), "Autoencoder.encoder -> Sequential.layers[0]",
     "unknown type 'Activation'"),
    (lambda a: _set_dense_config(a, in_features=0), "Autoencoder.encoder -> Sequential.layers[0]",
     "cannot build Dense from config {'in_features': 0,"),
    (lambda a: a["model"]["config"]["loss"].update(type="Loss"), "Autoencoder.loss", "unknown type 'Loss'"),
    (lambda a: a["model"]["config"].update(penalties=[{"type": "L1Weights", "config": {"lam": 0.1}},
                                                      {"type": "Penalty", "config": {}}]),
     "Autoencoder.penalties[1]", "unknown type 'Penalty'"),
])
def test_a_fault_deep_in_the_architecture_is_reported_once_where_it_is(saved, edit, location, fault):
    # it was wrapped in every enclosing config: "cannot build Autoencoder from config {...300 characters}:
    # architecture: cannot build Sequential from config {...}: architecture: unknown type 'Activation'"
    rewrite_architecture(saved, edit)
    with pytest.raises(ValueError) as info:
        npae.load(saved)
    message = str(info.value)
    assert f"architecture at {location}: {fault}" in message
    assert message.count("architecture") == 1 and "cannot build Autoencoder" not in message


def _transpose(name):
    return lambda arrays: arrays.update({name: arrays[name].T.copy()})


def _put(name, value):
    return lambda arrays: arrays.update({name: value})


def _nan_weight(arrays):
    arrays["decoder.0.b"] = arrays["decoder.0.b"].copy()
    arrays["decoder.0.b"][1] = np.nan


ARRAY_EDITS = [
    ("wrong shape", _transpose("encoder.0.W"), r"weights\['encoder\.0\.W'\]: expected shape \(4, 2\), got \(2, 4\)"),
    ("missing weight", lambda arrays: arrays.pop("decoder.0.b"), r"missing \['decoder\.0\.b'\], unexpected \[\]"),
    ("unexpected weight", _put("encoder.9.W", np.zeros(3, np.float32)),
     r"missing \[\], unexpected \['encoder\.9\.W'\]"),
    ("non-finite weight", _nan_weight, r"weights\['decoder\.0\.b'\]: expected finite values, got 1 NaN"),
    ("integer weight", _put("decoder.0.b", np.arange(4)),
     r"weights\['decoder\.0\.b'\]: expected a float array, got dtype int"),
    ("no architecture", lambda arrays: arrays.pop(ARCH_KEY), r"no architecture record; not an npae model file"),
    ("architecture not JSON", _put(ARCH_KEY, np.frombuffer(b"{not json", np.uint8)),
     r"architecture record is not valid JSON"),
    ("architecture not an object", _put(ARCH_KEY, encode_json([1, 2])),
     r"unsupported architecture record: expected format 1, got 'list'"),
    ("architecture not bytes", _put(ARCH_KEY, np.zeros(3)), r"architecture record must be a 1-D uint8 array .*float64"),
]


@pytest.mark.parametrize("edit, message", [row[1:] for row in ARRAY_EDITS], ids=[r[0] for r in ARRAY_EDITS])
def test_edited_arrays(saved, edit, message):
    rewrite(saved, edit)
    with pytest.raises(ValueError, match=message):
        npae.load(saved)


def test_object_array_is_refused_without_unpickling(saved):
    arrays = read_archive(saved)
    arrays["decoder.0.b"] = np.array([{"evil": 1}, None, 3, "x"], dtype=object)
    with open(saved, "wb") as f:
        np.savez(f, **arrays)  # allow_pickle defaults to True when writing: the member is a pickle
    with pytest.raises(ValueError, match=r"member 'decoder\.0\.b\.npy' holds an object array \(dtype object\).*pickle"):
        npae.load(saved)


def _zip_with(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)


def _npy_bytes(array):
    buffer = bytes_io.BytesIO()
    np.lib.format.write_array(buffer, array)
    return buffer.getvalue()


def test_header_that_overstates_the_data_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    _zip_with(path, [("w.npy", _npy_bytes(np.zeros(3, np.float32))[:-4])])  # valid CRC, 4 bytes short
    with pytest.raises(ValueError, match=r"member 'w\.npy' declares shape \(3,\) of float32 .* but holds"):
        npae.load(path)


def test_member_that_is_not_npy(tmp_path):
    path = tmp_path / "m.npz"
    _zip_with(path, [("readme.txt", b"hello")])
    with pytest.raises(ValueError, match=r"unexpected member 'readme\.txt'"):
        npae.load(path)


def test_member_with_a_bad_npy_header(tmp_path):
    path = tmp_path / "m.npz"
    _zip_with(path, [("w.npy", b"\x93NUMPY\x01\x00garbage")])
    with pytest.raises(ValueError, match=r"member 'w\.npy' is not a valid \.npy array"):
        npae.load(path)


def test_duplicate_member(tmp_path):
    path = tmp_path / "m.npz"
    with pytest.warns(UserWarning, match="Duplicate name"):
        _zip_with(path, [("w.npy", _npy_bytes(np.zeros(2))), ("w.npy", _npy_bytes(np.ones(2)))])
    with pytest.raises(ValueError, match=r"member 'w\.npy' appears twice"):
        npae.load(path)


@pytest.mark.parametrize(
    "content", [b"", b"not a zip file at all", _npy_bytes(np.zeros(3))], ids=["empty", "text", "npy"]
)
def test_file_that_is_not_an_archive(tmp_path, content):
    path = tmp_path / "m.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"truncated or corrupted model file \(BadZipFile: File is not a zip file\)"):
        npae.load(path)


def test_missing_file_and_bad_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"path: no model file at '.*nothing\.npz'"):
        npae.load(tmp_path / "nothing.npz")
    with pytest.raises(FileNotFoundError, match=r"path: no model file at"):
        npae.load(tmp_path)
    with pytest.raises(TypeError, match=r"path: expected a str or os\.PathLike file name, got int"):
        npae.load(3)


# ----------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(saved, monkeypatch):
    before = saved.read_bytes()

    def savez_that_fails_halfway(f, **arrays):
        f.write(b"PK\x03\x04 partial")
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "savez", savez_that_fails_halfway)
    with pytest.raises(OSError, match="No space left"):
        small_model().save(saved)
    assert saved.read_bytes() == before
    assert os.listdir(saved.parent) == [saved.name]


def test_extra_arrays_cannot_shadow_weights(tmp_path):
    with pytest.raises(ValueError, match=r"extra_arrays: names must start with '__' .*got 'encoder\.0\.W'"):
        save(small_model(), tmp_path / "m.npz", extra_arrays={"encoder.0.W": np.zeros((4, 2))})
    save(small_model(), tmp_path / "m.npz", extra_arrays={"__note__": encode_json({"a": 1})})
    assert_same_model(npae.load(tmp_path / "m.npz"), small_model())


# ----------------------------------------------------------------------------------------------
# What a file may build: npae's concrete classes and explicitly registered ones
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Activation", "Corruption", "_Convolutional", "_Pool2D", "Layer", "Loss"])
def test_abstract_and_private_layers_cannot_be_named_in_a_file(saved, name):
    rewrite_architecture(saved, lambda a: _set_layer(a, type=name, config={}))
    with pytest.raises(ValueError, match=rf"unknown type '{name}'.*call npae\.register\({name}\) before loading"):
        npae.load(saved)


@pytest.mark.parametrize("name", ["ParameterPenalty", "ActivityPenalty", "Penalty"])
def test_abstract_penalties_cannot_be_named_in_a_file(saved, name):
    rewrite_architecture(saved, lambda a: a["model"]["config"].update(penalties=[{"type": name, "config": {}}]))
    with pytest.raises(ValueError, match=rf"unknown type '{name}'; npae builds only its own concrete classes"):
        npae.load(saved)


def test_every_registered_class_is_public_and_concrete_and_every_public_one_is_registered():
    from npae.core.registry import registered

    built_in = {name: cls for name, cls in registered().items() if cls.__module__.startswith("npae.")}
    assert all(not name.startswith("_") for name in built_in)
    abstract = {"Layer", "Activation", "Corruption", "Penalty", "ParameterPenalty", "ActivityPenalty", "Loss"}
    assert not abstract & set(built_in)
    for name in npae.__all__:
        obj = getattr(npae, name)
        if isinstance(obj, type) and hasattr(obj, "get_config") and name not in abstract:
            assert built_in.get(name) is obj, name


def test_a_users_class_with_an_npae_name_does_not_replace_npaes(saved):
    main_namespace = {"__name__": "__main__", "npae": npae}
    exec("class Dense(npae.Layer):\n    def get_config(self):\n        return {}\n", main_namespace)
    users_dense = main_namespace["Dense"]
    assert users_dense.__module__ == "__main__"
    loaded = npae.load(saved)
    assert type(loaded.encoder[0]) is npae.Dense
    with pytest.raises(ValueError, match=r"the name 'Dense' already belongs to npae\.core\.layers\.dense\.Dense; "
                                         r"register Dense under another name with register\(cls, name='\.\.\.'\)"):
        npae.register(users_dense)
    assert type(npae.load(saved).encoder[0]) is npae.Dense


class Swish(npae.Layer):
    """A user's layer: ``y = x * sigmoid(beta x)`` (forward only is enough to save and load it)."""

    def __init__(self, beta=1.0, name=None):
        super().__init__(name=name)
        self.beta = beta

    def forward(self, x, training=False):
        return x / (1 + np.exp(-self.beta * x))

    def get_config(self):
        return {"beta": self.beta}


def test_a_registered_user_layer_saves_and_loads(tmp_path):
    model = Autoencoder(Sequential([Dense(4, 2, rng=0), Swish(beta=2.0)]), Sequential([Dense(2, 4, rng=1)]))
    with pytest.raises(TypeError, match=r"Swish is not registered.*call npae\.register\(Swish\) once before saving"):
        model.save(tmp_path / "m.npz")
    npae.register(Swish, name="tests.Swish")
    model.save(tmp_path / "m.npz")
    loaded = npae.load(tmp_path / "m.npz")
    assert type(loaded.encoder[1]) is Swish and loaded.encoder[1].beta == 2.0
    assert_same_model(loaded, model)
    npae.register(Swish, name="tests.Swish")  # registering the same class again under its name is harmless


def test_register_refuses_what_it_cannot_rebuild():
    with pytest.raises(TypeError, match=r"cls: expected a class with a get_config\(\) method, got 3"):
        npae.register(3)
    with pytest.raises(TypeError, match=r"name: expected a non-empty string, got ''"):
        npae.register(Swish, name="")


# ----------------------------------------------------------------------------------------------
# Only a damaged file counts as one: a bug in the loader surfaces as itself
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bug", [RuntimeError, NotImplementedError, KeyError, AttributeError, OSError])
def test_a_bug_while_reading_members_is_not_reported_as_corruption(saved, monkeypatch, bug):
    def broken(info, path, seen):
        raise bug("a bug in the loader")

    monkeypatch.setattr(npae.io, "_member_key", broken)
    with pytest.raises(bug, match="a bug in the loader"):
        npae.load(saved)


@pytest.mark.parametrize("bug", [KeyError, AttributeError, RuntimeError, IndexError])
def test_a_bug_in_a_constructor_is_not_reported_as_a_bad_config(saved, monkeypatch, bug):
    def broken_init(self, *args, **kwargs):
        raise bug("a bug in Tanh")

    monkeypatch.setattr(npae.Tanh, "__init__", broken_init)
    with pytest.raises(bug, match="a bug in Tanh"):
        npae.load(saved)


def test_a_config_missing_a_required_argument_is_a_bad_file(saved):
    rewrite_architecture(saved, lambda a: a["model"]["config"].pop("decoder"))
    with pytest.raises(ValueError, match=r"cannot build Autoencoder .*missing options \['decoder'\]"):
        npae.load(saved)


def test_saving_onto_a_folder_says_so(tmp_path):
    folder = tmp_path / "model.npz"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match=r"path: '.*model\.npz' is a folder, expected a file name "
                                                 r"\(for example '.*model\.npz/model\.npz'\)"):
        small_model().save(folder)
    assert os.listdir(folder) == [] and sorted(os.listdir(tmp_path)) == ["model.npz"]


def test_saving_below_a_file_says_which_file_is_in_the_way(tmp_path):
    (tmp_path / "runs").write_text("a file, not a folder")
    with pytest.raises(NotADirectoryError, match=r"path: '.*runs/a' cannot be created as a folder, because "
                                                  r"'.*runs' is a file"):
        small_model().save(tmp_path / "runs" / "a" / "model.npz")


def test_a_folder_that_cannot_be_written_is_named_not_the_temporary_file(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", args[0])

    monkeypatch.setattr(npae.io.os, "open", refuse)
    with pytest.raises(PermissionError, match=r"cannot write '.*m\.npz' \(a file is written beside it first\)") as info:
        small_model().save(tmp_path / "m.npz")
    assert ".tmp-" not in str(info.value)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_saved_files_get_the_users_umask_like_any_new_file(tmp_path, umask):
    previous = os.umask(umask)
    try:
        small_model().save(tmp_path / "m.npz")
        with open(tmp_path / "plain.txt", "w") as f:
            f.write("a file written the ordinary way")
    finally:
        os.umask(previous)
    mode = os.stat(tmp_path / "m.npz").st_mode & 0o777
    assert mode == 0o666 & ~umask == os.stat(tmp_path / "plain.txt").st_mode & 0o777


def test_saving_over_a_file_keeps_its_mode(saved):
    os.chmod(saved, 0o640)
    small_model().save(saved)
    assert os.stat(saved).st_mode & 0o777 == 0o640
