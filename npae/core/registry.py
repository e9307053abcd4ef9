"""The classes a model file may name, and the translation between objects and JSON-able specs.

A saved model describes its architecture as nested specs ``{"type": name, "config": {...}, "name": ...}``
(``serialize``), and loading rebuilds it (``deserialize``). Loading builds only classes that are in this
registry: npae's own concrete classes, which register themselves with the ``@serializable`` decorator, and
classes the user registers explicitly with ``register``. A name in a file is never looked up anywhere else,
so a file cannot build an abstract base class, a private helper, or a class that happens to share a name
with one of npae's (a user's own ``class Dense(npae.Layer)`` does not replace ``npae.Dense``).

A registered class provides ``get_config()``, the constructor arguments as JSON-able values, and is rebuilt
with ``cls.from_config(config)`` when it defines one, else ``cls(**config)``. A config naming an argument the
constructor does not take, or lacking one it needs, is refused before anything is built; the errors the
constructor's own argument checks raise (``TypeError``, ``ValueError``) and those an absurd size causes
(``MemoryError``, ``OverflowError``) become a ``ValueError`` naming the type. Any other exception is a bug,
and surfaces as itself.
"""

from __future__ import annotations

import inspect

_CLASSES = {}  # name -> class
_NAMES = {}  # class -> name

#: what a constructor raises when fed a hand-edited config: its argument checks, or an absurd size
BAD_CONFIG_ERRORS = (TypeError, ValueError, MemoryError, OverflowError)


class ArchitectureError(ValueError):
    """A spec that cannot be built. ``spec`` is the innermost spec at fault and ``location`` the way to it from
    the outermost spec (``encoder.layers[1]``), so that a fault deep in a model is reported once, where it is,
    instead of wrapped in every enclosing config."""

    def __init__(self, reason, spec, location=""):
        super().__init__(f"architecture{' at ' + location if location else ''}: {reason}")
        self.reason, self.spec, self.location = reason, spec, location

    def inside(self, spec):
        """The same fault as seen from the enclosing ``spec``, whose config holds the spec at fault."""
        step = _path_to(spec.get("config"), self.spec)
        if step is None:
            return self
        location = f"{spec['type']}{step}" + (f" -> {self.location}" if self.location else "")
        return ArchitectureError(self.reason, spec, location)


def serializable(cls):
    """Class decorator for npae's own concrete classes: lets a model file name ``cls``."""
    _add(cls, cls.__name__)
    return cls


def register(cls, name=None):
    """Let model files name your own class (a layer, loss, penalty or model), under ``name`` (default: its name).

    Register before saving and before loading::

        class Swish(npae.Layer): ...
        npae.register(Swish)

    A name already taken by another class is refused: pass ``name=`` to choose another.
    """
    if not isinstance(cls, type) or not callable(getattr(cls, "get_config", None)):
        raise TypeError(f"cls: expected a class with a get_config() method, got {cls!r}")
    name = cls.__name__ if name is None else name
    if not isinstance(name, str) or not name:
        raise TypeError(f"name: expected a non-empty string, got {name!r}")
    _add(cls, name)
    return cls


def _add(cls, name):
    taken = _CLASSES.get(name)
    if taken is not None and taken is not cls:
        raise ValueError(
            f"register: the name {name!r} already belongs to {taken.__module__}.{taken.__qualname__}; "
            f"register {cls.__qualname__} under another name with register(cls, name='...')"
        )
    _CLASSES[name] = cls
    _NAMES[cls] = name


def registered():
    """The registered classes by name (a copy)."""
    return dict(_CLASSES)


def serialize(obj):
    """``{"type": registered name, "config": obj.get_config()}``, plus ``"name"`` when the object has one."""
    name = _NAMES.get(type(obj))
    if name is None:
        raise TypeError(
            f"{type(obj).__qualname__} is not registered, so a saved model could not rebuild it: call "
            f"npae.register({type(obj).__name__}) once before saving (and before loading)"
        )
    spec = {"type": name, "config": obj.get_config()}
    if getattr(obj, "name", None) is not None:
        spec["name"] = obj.name
    return spec


def deserialize(spec):
    """Rebuild an object from ``serialize``'s output; an ``ArchitectureError`` (a ValueError) for anything the
    registry does not allow, naming where in the architecture it is."""
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise ArchitectureError(f"expected an object with a string 'type', got {spec!r:.200}", spec)
    kind, name = spec["type"], spec.get("name")
    if name is not None and not isinstance(name, str):
        raise ArchitectureError(f"the name of a {kind} must be a string or null, got {name!r:.100}", spec)
    cls = _CLASSES.get(kind)
    if cls is None:
        raise ArchitectureError(
            f"unknown type {kind!r}; npae builds only its own concrete classes and those registered "
            f"with npae.register (if {kind!r} is your own class, call npae.register({kind}) before loading; "
            f"known: {', '.join(sorted(_CLASSES))})", spec,
        )
    config = spec.get("config", {})
    if not isinstance(config, dict):
        raise ArchitectureError(f"the config of {kind} must be an object, got {config!r:.200}", spec)
    _check_arguments(cls, kind, config, spec)
    try:
        obj = cls.from_config(config) if hasattr(cls, "from_config") else cls(**config)
    except ArchitectureError as exc:  # a part of this spec is at fault: say where, once
        raise exc.inside(spec) from None
    except BAD_CONFIG_ERRORS as exc:
        raise ArchitectureError(f"cannot build {kind} from config {config!r:.300}: {exc}", spec) from exc
    if name is not None and hasattr(obj, "name"):
        obj.name = name
    return obj


def _path_to(container, target):
    """The key path (``layers[1]``, ``encoder``) from ``container`` to the object ``target`` in it, or None."""
    items = container.items() if isinstance(container, dict) else enumerate(container) \
        if isinstance(container, list) else ()
    for key, value in items:
        step = f".{key}" if isinstance(key, str) else f"[{key}]"
        if value is target:
            return step
        inner = _path_to(value, target)
        if inner is not None:
            return step + inner
    return None


def _check_arguments(cls, kind, config, spec):
    """The config's keys must be arguments of the constructor, and include every argument it requires."""
    parameters = list(inspect.signature(cls).parameters.values())
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return  # the constructor passes options on: its own checks judge them
    named = {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    required = {p.name for p in parameters if p.default is p.empty and p.kind is not p.VAR_POSITIONAL}
    unknown, missing = sorted(set(config) - named), sorted(required - set(config))
    if unknown or missing:
        raise ArchitectureError(
            f"cannot build {kind} from config {config!r:.300}: unknown options {unknown}, missing "
            f"options {missing} ({kind} takes {', '.join(sorted(named))})", spec,
        )
