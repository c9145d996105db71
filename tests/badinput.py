"""The bad-input harness: every public function of medlib, tried with what students actually type.

Importable by name (``tests/`` is on pytest's pythonpath); the table of valid calls and the tests
are in ``tests/medlib/test_argument_checks.py``.

How it works
------------
An :class:`Entry` gives one valid call of a public function (a factory returning fresh
``(args, kwargs)`` each time). :func:`cases` derives, from each argument's valid value (its type,
dtype, shape, annotation and default), the mutations of that one argument that a student
types: NaN, +inf, -inf, empty, a scalar for an array, an extra axis, complex, bool, a string,
None, huge (1e300) and tiny (1e-300) values, zero, a negative value, a list instead of an array,
float32, strided and read-only views, a spacing in metres for an argument in mm, and for
integers (2.5, 2**63, small values -1 to 8), flags, choices, shapes and seeds their own mistakes.
Each mutation has a *status*:

``invalid``
    clearly wrong for this argument: it must be refused with a ``ValueError``/``TypeError`` whose
    message names the argument.
``edge``
    may be refused (with a named error) or accepted; if accepted, a finite input must not give a
    NaN that the valid call did not give (an infinity may be the right answer: the SNR of a
    constant, the log-likelihood of an impossible count).
``complex``
    complex values for an array of a function whose docstring does not mention them: a named
    error, or a complex result (a generalisation); a real result means the imaginary part
    was silently dropped.
``alt``
    a valid alternative spelling (float32, a list, a strided or read-only view, a NumPy scalar, a
    Generator for a seed): it must be accepted and give the valid call's result (to float32
    precision for float32).

:func:`run` forks a worker process per function (the memory limit ``MEMORY_LIMIT`` is set with
``RLIMIT_AS`` in the worker only), runs the valid call (checking purity, determinism and the
global random states of NumPy and PyTorch), then every mutation under a per-call deadline
(``CALL_TIMEOUT`` s, by ``SIGALRM``; a call stuck in C code is killed by the parent and the
worker restarted after it). Each case gets an :class:`Outcome` naming function, argument,
mutation and outcome class; ``Outcome.bad`` is True for every outcome in ``BAD``.
"""
from __future__ import annotations

import copy
import dataclasses
import importlib
import inspect
import math
import multiprocessing
import numbers
import pkgutil
import resource
import signal
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

CALL_TIMEOUT = 2.0  # seconds of wall clock per call
VALID_TIMEOUT = 30.0  # for the valid call, which may import lazily (PyTorch's first training step)
MEMORY_LIMIT = 1 << 30  # bytes of address space a worker may add to what it inherited
KILL_GRACE = 3.0  # extra seconds the parent waits before it kills a worker stuck in C code

GOOD = {"named-error", "accepted", "same-result", "ok"}
BAD = {
    "unnamed-error",  # ValueError/TypeError whose message does not name the argument
    "other-exception",  # IndexError, AttributeError, ZeroDivisionError, ...
    "accepted-invalid",  # clearly invalid input returned a result
    "nan-result",  # NaN from finite input, which the valid call did not give
    "wrong-shape",  # an empty result from non-empty input
    "refused-valid",  # a valid alternative (float32, list, view) raised
    "different-result",  # a valid alternative gave another value, dtype-independent, or shape
    "hang",  # over CALL_TIMEOUT
    "memory",  # MemoryError under the worker's address-space limit
    "crash",  # the worker process died
    "impure",  # an input was modified
    "nondeterministic",  # the same call twice gave two results
    "global-state",  # NumPy's or PyTorch's global random state changed
}


# ---------------------------------------------------------------------------------------------
# The table's vocabulary
# ---------------------------------------------------------------------------------------------
def C(*args, **kwargs):
    """One call's arguments: ``C(x, 2.0, axis=0)`` -> ``((x, 2.0), {"axis": 0})``."""
    return args, kwargs


@dataclasses.dataclass
class Entry:
    """One valid call of a public function and how to mutate it.

    Parameters
    ----------
    factory : callable
        Returns fresh ``(args, kwargs)`` (use :func:`C`) on each call: inputs are rebuilt for
        every case, so a function that modifies its input cannot spoil the next case.
    valid : dict, optional
        ``{argument: {mutation, ...}}``: mutations that are valid for this argument although the
        type of its value says otherwise (``cval=nan``, ``tr_ms=inf``); they become ``edge``.
    skip : set, optional
        Arguments not to mutate (a model, a dataset object), with the reason in a comment.
    mutate : bool, optional
        False for a result or record type that promises no validation (only the valid call,
        purity and determinism are checked).
    rtol : float, optional
        Tolerance for float32 alternatives, relative to the largest magnitude of the result.
    mutable : set, optional
        Arguments the function exists to change (the model that ``train`` trains), left out of
        the purity check.
    """

    factory: object
    valid: dict = dataclasses.field(default_factory=dict)
    skip: set = dataclasses.field(default_factory=set)
    mutate: bool = True
    rtol: float = 2e-3
    mutable: set = dataclasses.field(default_factory=set)


# ---------------------------------------------------------------------------------------------
# Enumerating the public API
# ---------------------------------------------------------------------------------------------
def public_api(package: str = "medlib") -> dict[str, object]:
    """Every public function and class of ``package``, keyed ``module.qualname`` without the prefix.

    Walks every non-private module (``__all__``), including packages added later. A package
    that cannot be imported for want of PyTorch (``medlib.nn`` and the Part III/IV packages on
    a machine without it) is left out; any other import error is raised.
    """
    root = importlib.import_module(package)
    api: dict[str, object] = {}
    names = [package] + [m.name for m in pkgutil.walk_packages(root.__path__, package + ".")]
    for modname in names:
        if any(part.startswith("_") for part in modname.split(".")):
            continue
        try:
            module = importlib.import_module(modname)
        except ImportError as exc:  # only a missing optional dependency may hide a package
            if "torch" in str(exc).lower() or getattr(exc, "name", None) == "torch":
                continue
            raise
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue  # constants (MATERIALS, TISSUES, ...)
            if not getattr(obj, "__module__", "").startswith(package):
                continue
            key = f"{obj.__module__.removeprefix(package + '.')}.{obj.__qualname__}"
            api[key] = obj
    return api


# ---------------------------------------------------------------------------------------------
# Mutations
# ---------------------------------------------------------------------------------------------
SEED_NAMES = {"seed", "rng"}


def _with(arr, value):
    """A float copy of ``arr`` with its first element replaced by ``value``."""
    out = np.array(arr, dtype=np.result_type(arr.dtype, np.float64), copy=True)
    out.flat[0] = value
    return out


def _strided(arr):
    """A non-contiguous view holding the same values as ``arr``."""
    big = np.zeros(arr.shape[:-1] + (2 * arr.shape[-1],), dtype=arr.dtype)
    view = big[..., ::2]
    view[...] = arr
    assert not view.flags.c_contiguous or arr.size <= 1
    return view


def _readonly(arr):
    out = arr.copy()
    out.flags.writeable = False
    return out


def _kind(name, value):
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if name in SEED_NAMES and isinstance(value, (numbers.Integral, np.random.Generator)):
        return "rng"
    if isinstance(value, numbers.Integral):
        return "int"
    if isinstance(value, numbers.Real):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, np.ndarray) and value.ndim >= 1:
        if value.dtype.kind == "b":
            return "mask"
        if value.dtype.kind == "c":
            return "carray"
        if value.dtype.kind in "fiu":
            return "array"
    if isinstance(value, tuple) and value and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value):
        return "shape"
    if isinstance(value, (tuple, list)) and value and all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value):
        return "seq"
    if value is None:
        return "none"
    return "object"


def mutations(name, value, annotation="", default=inspect.Parameter.empty, complex_ok=False):
    """The mutations of one argument: a list of ``(mutation, make, status)``.

    ``make(value)`` returns the mutated value. ``status`` is ``invalid``, ``edge`` or ``alt``.
    What is clearly invalid follows the argument's valid value, annotation and default: a bool
    is invalid for an argument annotated ``float`` or ``int`` (``as_scalar`` refuses it) but
    only an edge case for an unannotated "float or array_like"; None is an edge case where the
    default is None; NaN or inf where the default is NaN or inf; complex where the function's
    docstring speaks of complex values (``complex_ok``).
    """
    out = _mutations(name, value, annotation, default, complex_ok)
    special = {"nan": isinstance(default, float) and math.isnan(default),
               "inf": isinstance(default, float) and default == math.inf}
    return [(m, make, "edge" if special.get(m) and status == "invalid" else status)
            for m, make, status in out]


def _mutations(name, value, annotation, default, complex_ok):
    kind = _kind(name, value)
    ann = str(annotation).replace("'", "")
    none_ok = default is None or "None" in ann
    if name.endswith("_mm") and kind in ("float", "array", "seq"):
        # a spacing given in metres instead of millimetres (issue 11, group 2)
        return _mutations(name + "~", value, annotation, default, complex_ok) + [
            ("metres", lambda v: np.asarray(v, dtype=float) * 1e-3, "edge")]
    none = ("none", lambda v: None, "edge" if none_ok else "invalid")
    string = ("string", lambda v: "1.0", "invalid")
    if kind == "float":
        scalar_only = ann in ("float", "int")
        return [
            ("nan", lambda v: math.nan, "invalid"),
            ("inf", lambda v: math.inf, "invalid"),
            ("-inf", lambda v: -math.inf, "invalid"),
            ("complex", lambda v: complex(v, 1.0), "invalid"),
            ("bool", lambda v: True, "invalid" if scalar_only else "edge"),
            string, none,
            ("huge", lambda v: math.copysign(1e300, v), "edge"),
            ("tiny", lambda v: math.copysign(1e-300, v), "edge"),
            ("zero", lambda v: 0.0, "edge"),
            ("negative", lambda v: -v if v else -1.0, "edge"),
            ("extra-axis", lambda v: np.array([v, v]), "invalid" if scalar_only else "edge"),
            ("float32", lambda v: np.float32(v), "alt"),
            ("numpy-0d", lambda v: np.array(v), "alt"),
        ]
    if kind == "int":
        return [
            ("nan", lambda v: math.nan, "invalid"),
            ("inf", lambda v: math.inf, "invalid"),
            ("fraction", lambda v: v + 0.5, "invalid"),
            ("bool", lambda v: True, "invalid"),
            ("string", lambda v: str(v), "invalid"),
            none,
            # 2**63 may be refused or computed with (a stride longer than the input is one
            # output); an empty array from it is a wrong-shaped result (issue 11, group 9)
            ("huge", lambda v: 2 ** 63, "edge"),
            ("extra-axis", lambda v: [v, v], "invalid" if ann == "int" else "edge"),
            *[(f"small-{n}", lambda v, n=n: n, "edge") for n in (-1, 0, 1, 2, 3, 5, 8)],
            ("numpy-int", lambda v: np.int64(v), "alt"),
        ]
    if kind == "rng":
        out = [
            ("string", lambda v: "0", "invalid"),
            ("fraction", lambda v: 1.5, "invalid"),
            none,
            ("negative", lambda v: -1, "invalid"),
        ]
        if isinstance(value, numbers.Integral) and name == "rng":
            out.append(("generator", lambda v: np.random.default_rng(v), "alt"))
        return out
    if kind == "bool":
        return [
            ("string", lambda v: str(bool(v)), "invalid"),
            ("int", lambda v: int(v), "invalid"),
            ("nan", lambda v: math.nan, "invalid"),
            none,
            ("numpy-bool", lambda v: np.bool_(v), "alt"),
        ]
    if kind == "str":
        return [
            ("unknown-choice", lambda v: "no-such-" + v, "invalid"),
            ("int", lambda v: 5, "invalid"),
            none,
        ]
    if kind in ("array", "mask", "carray"):
        out = [
            ("nan", lambda v: _with(v, math.nan), "invalid"),
            ("inf", lambda v: _with(v, math.inf), "invalid"),
            ("-inf", lambda v: _with(v, -math.inf), "invalid"),
            ("empty", lambda v: np.zeros((0,) + v.shape[1:], v.dtype), "edge"),
            ("scalar", lambda v: v.flat[0].item(), "edge"),
            ("extra-axis", lambda v: np.stack([v, v]), "edge"),
            ("string", lambda v: "abc", "invalid"),
            none,
            ("list", lambda v: v.tolist(), "alt"),
            ("strided", _strided, "alt"),
            ("read-only", _readonly, "alt"),
        ]
        if kind != "carray":
            out.append(("complex", lambda v: v + 1j, "edge" if complex_ok else "complex"))
        if kind == "array":
            out += [
                ("bool", lambda v: v > np.median(v), "edge"),
                ("huge", lambda v: np.full(v.shape, 1e300), "edge"),
                ("tiny", lambda v: np.full(v.shape, 1e-300), "edge"),
            ]
            if v_is_float64(value):
                out.append(("float32", lambda v: v.astype(np.float32), "alt"))
        if kind == "mask":
            out.append(("int01", lambda v: v.astype(np.int64), "edge"))
        if kind == "carray" and value.dtype == np.complex128:
            out.append(("complex64", lambda v: v.astype(np.complex64), "alt"))
        return out
    if kind == "shape":
        return [
            ("fraction", lambda v: (v[0] + 0.5,) + v[1:], "invalid"),
            ("negative", lambda v: (-v[0],) + v[1:], "invalid"),
            ("zero", lambda v: (0,) + v[1:], "edge"),
            ("huge", lambda v: (2 ** 63,) + v[1:], "invalid"),
            ("nan", lambda v: (math.nan,) + v[1:], "invalid"),
            ("extra-axis", lambda v: v + (2,), "edge"),
            ("empty", lambda v: (), "edge"),
            ("string", lambda v: "abc", "invalid"),
            none,
            ("list", lambda v: list(v), "alt"),
        ]
    if kind == "seq":
        return [
            ("nan", lambda v: (math.nan,) + tuple(v[1:]), "invalid"),
            ("inf", lambda v: (math.inf,) + tuple(v[1:]), "invalid"),
            ("extra-axis", lambda v: tuple(v) + (v[-1],), "edge"),
            ("empty", lambda v: (), "edge"),
            ("string", lambda v: "abc", "invalid"),
            none,
            ("array", lambda v: np.array(v, dtype=float), "alt"),
        ]
    if kind == "none":
        return [("string", lambda v: "abc", "invalid")]
    return [("string", lambda v: "abc", "invalid"), none]


def v_is_float64(value):
    return isinstance(value, np.ndarray) and value.dtype == np.float64


def _signature(func):
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None


def _quietly(factory):
    """``factory()`` in the parent process, its global random states restored afterwards (a
    factory that builds a network with ``nn.tiny_segmenter`` reseeds PyTorch)."""
    state = np.random.get_state()  # noqa: NPY002 - the legacy global state is restored
    torch_state = None
    if "torch" in sys.modules:
        import torch
        torch_state = torch.random.get_rng_state()
    try:
        return factory()
    finally:
        np.random.set_state(state)  # noqa: NPY002
        if torch_state is not None:
            torch.random.set_rng_state(torch_state)


def _complex_ok(func):
    return "complex" in (inspect.getdoc(func) or "").lower()


def cases(func, entry):
    """The cases of one entry: ``[(argument, mutation, status), ...]`` after the valid call."""
    out = [("-", "valid-call", "valid")]
    if not entry.mutate:
        return out
    sig = _signature(func)
    args, kwargs = _quietly(entry.factory)
    bound = sig.bind(*args, **kwargs)
    for name, value in bound.arguments.items():
        param = sig.parameters[name]
        if name in entry.skip or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        for mutation, _, status in mutations(name, value, param.annotation, param.default,
                                             _complex_ok(func)):
            if mutation in entry.valid.get(name, ()):
                status = "edge"
            out.append((name, mutation, status))
    return out


def _mutated_call(func, entry, name, mutation):
    sig = _signature(func)
    args, kwargs = entry.factory()
    bound = sig.bind(*args, **kwargs)
    param = sig.parameters[name]
    for m, make, _ in mutations(name, bound.arguments[name], param.annotation, param.default,
                                _complex_ok(func)):
        if m == mutation:
            bound.arguments[name] = make(bound.arguments[name])
            return bound.args, bound.kwargs
    raise KeyError(f"no mutation {mutation!r} for argument {name!r}")


# ---------------------------------------------------------------------------------------------
# Comparing results and inputs
# ---------------------------------------------------------------------------------------------
def _leaves(x, depth=0):
    """The numeric leaves of a result (arrays, numbers, tensors) in a fixed order."""
    if depth > 6:
        return
    if isinstance(x, np.ndarray):
        yield x
    elif isinstance(x, (bool, np.bool_, numbers.Number)):
        yield np.asarray(x)
    elif "torch" in sys.modules and _is_torch(x):
        yield from _torch_leaves(x)
    elif isinstance(x, dict):
        for k in x:
            yield from _leaves(x[k], depth + 1)
    elif isinstance(x, (tuple, list)):
        for v in x:
            yield from _leaves(v, depth + 1)
    elif dataclasses.is_dataclass(x) and not isinstance(x, type):
        for f in dataclasses.fields(x):
            yield from _leaves(getattr(x, f.name), depth + 1)
    elif hasattr(x, "toarray"):  # scipy.sparse
        yield x.toarray()


def _is_torch(x):
    import torch
    return isinstance(x, (torch.Tensor, torch.nn.Module))


def _torch_leaves(x):
    import torch
    if isinstance(x, torch.Tensor):
        yield x.detach().cpu().numpy()
    else:
        for v in x.state_dict().values():
            yield v.detach().cpu().numpy()


def _structure(x, depth=0):
    """A hashable description of a result's non-numeric shape (types, keys, strings, paths)."""
    if depth > 6:
        return "..."
    if isinstance(x, np.ndarray):
        return ("array", x.shape)
    if isinstance(x, (str, Path)):
        return str(x)
    if isinstance(x, (numbers.Number, np.bool_)):
        return "number"
    if isinstance(x, dict):
        return tuple((k, _structure(v, depth + 1)) for k, v in x.items())
    if isinstance(x, (tuple, list)):
        return (type(x).__name__,) + tuple(_structure(v, depth + 1) for v in x)
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return (type(x).__name__,) + tuple(
            _structure(getattr(x, f.name), depth + 1) for f in dataclasses.fields(x))
    return type(x).__name__


def same_result(a, b, *, rtol=0.0):
    """Whether two results agree: same structure and shapes, values equal (NaN equal to NaN),
    to ``rtol`` times the largest finite magnitude of ``a`` when ``rtol`` > 0."""
    if _structure(a) != _structure(b):
        return False
    la, lb = list(_leaves(a)), list(_leaves(b))
    if len(la) != len(lb):
        return False
    for x, y in zip(la, lb):
        if x.shape != y.shape:
            return False
        if x.dtype.kind in "OUS" or y.dtype.kind in "OUS":
            if not np.array_equal(x, y):
                return False
            continue
        x = x.astype(np.complex128) if x.dtype.kind == "c" else x.astype(np.float64)
        y = y.astype(np.complex128) if y.dtype.kind == "c" else y.astype(np.float64)
        if rtol == 0.0:
            if not np.array_equal(x, y, equal_nan=True):
                return False
            continue
        finite = np.isfinite(x)
        if not np.array_equal(finite, np.isfinite(y)) or not np.array_equal(
                x[~finite], y[~finite], equal_nan=True):
            return False
        scale = np.max(np.abs(x[finite]), initial=0.0)
        if not np.allclose(x[finite], y[finite], rtol=rtol, atol=rtol * scale):
            return False
    return True


def _has(result, test):
    for leaf in _leaves(result):
        if leaf.dtype.kind in "fc" and test(leaf).any():
            return True
    return False


def _has_empty(result):
    return any(leaf.size == 0 for leaf in _leaves(result))


def _snapshot(value):
    if isinstance(value, np.random.Generator):
        return None  # drawing from a Generator the caller passed is its purpose
    if "torch" in sys.modules and _is_torch(value):
        return [leaf.copy() for leaf in _torch_leaves(value)]
    if isinstance(value, np.ndarray):
        return value.copy()
    try:
        return copy.deepcopy(value)
    except Exception:  # noqa: BLE001 - an object that cannot be copied is not compared
        return None


def _unchanged(before, value):
    if before is None:
        return True
    if "torch" in sys.modules and _is_torch(value):
        return all(np.array_equal(a, b, equal_nan=True)
                   for a, b in zip(before, _torch_leaves(value)))
    if isinstance(before, np.ndarray):
        return (isinstance(value, np.ndarray) and value.dtype == before.dtype
                and value.shape == before.shape
                and np.array_equal(value, before, equal_nan=before.dtype.kind in "fc"))
    try:
        return same_result(before, value) and (
            not isinstance(before, (str, int, float, tuple, dict)) or bool(before == value)
            or _has(before, np.isnan))
    except Exception:  # noqa: BLE001
        return True


def _global_state():
    state = [np.random.get_state()[1].copy()]  # noqa: NPY002 - the legacy global state is checked
    if "torch" in sys.modules:
        import torch
        state.append(torch.random.get_rng_state().numpy().copy())
    return state


# ---------------------------------------------------------------------------------------------
# Running and classifying
# ---------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Outcome:
    """The outcome of one case: function, argument, mutation, status, outcome class, detail."""

    function: str
    argument: str
    mutation: str
    status: str
    outcome: str
    detail: str = ""

    @property
    def bad(self) -> bool:
        return self.outcome in BAD

    @property
    def key(self) -> tuple[str, str, str]:
        return self.function, self.argument, self.mutation

    def __str__(self) -> str:
        return (f"{self.function}({self.argument}={self.mutation}) [{self.status}]: "
                f"{self.outcome}{' - ' + self.detail if self.detail else ''}")


class _Timeout(BaseException):
    """Raised by SIGALRM inside a call that ran past CALL_TIMEOUT."""


def _on_alarm(signum, frame):
    raise _Timeout


def _call(func, args, kwargs, timeout):
    """``(result, exception)`` of one call under the deadline."""
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return func(*args, **kwargs), None
    except _Timeout as exc:
        return None, exc
    except Exception as exc:  # noqa: BLE001 - classified below
        return None, exc
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _message(exc):
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) < 200 else text[:197] + "..."


def _classify_error(exc, name, status):
    import re
    if isinstance(exc, _Timeout):
        return "hang", f"no result after {CALL_TIMEOUT} s"
    if isinstance(exc, MemoryError):
        return "memory", _message(exc)
    # NumPy's AxisError is a ValueError and an IndexError: its generic message counts as the
    # IndexError it also is.
    if isinstance(exc, (ValueError, TypeError)) and not isinstance(exc, (IndexError, KeyError)):
        if status == "alt":
            return "refused-valid", _message(exc)
        if re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", str(exc)):
            return "named-error", _message(exc)
        return "unnamed-error", _message(exc)
    where = traceback.extract_tb(exc.__traceback__)[-1]
    return "other-exception", f"{_message(exc)} (at {Path(where.filename).name}:{where.lineno})"


def _changed(func, entry, before, args, kwargs):
    """The names of the arguments a call modified (except ``entry.mutable``)."""
    sig = _signature(func)
    names = list(sig.parameters) if sig is not None else []
    changed = [names[i] if i < len(names) else f"argument {i}"
               for i, (b, a) in enumerate(zip(before[0], args)) if not _unchanged(b, a)]
    changed += [k for k, b in before[1].items() if not _unchanged(b, kwargs[k])]
    return [c for c in changed if c not in entry.mutable]


def _valid_call(func, entry, label, checks=True):
    """The valid call's outcomes (error, purity, determinism, global state) and its result
    (only the result when ``checks`` is False)."""
    args, kwargs = entry.factory()
    before = ([_snapshot(a) for a in args], {k: _snapshot(v) for k, v in kwargs.items()})
    state = _global_state()
    result, exc = _call(func, args, kwargs, VALID_TIMEOUT)
    if exc is not None:
        kind, detail = _classify_error(exc, "-", "valid")
        if kind in ("named-error", "unnamed-error"):
            kind = "other-exception"
        return [Outcome(label, "-", "valid-call", "valid", kind, "the valid call failed: " +
                        detail)], None
    out = []
    if not checks:
        return out, result
    changed = _changed(func, entry, before, args, kwargs)
    if changed:
        out.append(Outcome(label, "-", "valid-call", "valid", "impure",
                           "the call modified its input: " + ", ".join(map(str, changed))))
    if not all(np.array_equal(a, b) for a, b in zip(state, _global_state())):
        out.append(Outcome(label, "-", "valid-call", "valid", "global-state",
                           "the call changed NumPy's or PyTorch's global random state"))
    args2, kwargs2 = entry.factory()
    again, exc = _call(func, args2, kwargs2, VALID_TIMEOUT)
    if exc is not None or not same_result(result, again):
        out.append(Outcome(label, "-", "valid-call", "valid", "nondeterministic",
                           "the same call twice gave different results"))
    if not out:
        out.append(Outcome(label, "-", "valid-call", "valid", "ok"))
    return out, result


def _run_case(func, entry, label, name, mutation, status, baseline):
    args, kwargs = _mutated_call(func, entry, name, mutation)
    before = ([_snapshot(a) for a in args], {k: _snapshot(v) for k, v in kwargs.items()})
    result, exc = _call(func, args, kwargs, CALL_TIMEOUT)
    if exc is not None:
        kind, detail = _classify_error(exc, name, status)
        return Outcome(label, name, mutation, status, kind, detail)
    changed = _changed(func, entry, before, args, kwargs)
    if changed:
        return Outcome(label, name, mutation, status, "impure",
                       "the call modified its input: " + ", ".join(changed))
    if status == "invalid":
        return Outcome(label, name, mutation, status, "accepted-invalid",
                       f"returned {_describe(result)}")
    if status == "complex":  # a real-valued function may generalise, never drop the imaginary part
        if any(leaf.dtype.kind == "c" for leaf in _leaves(result)):
            return Outcome(label, name, mutation, status, "accepted")
        return Outcome(label, name, mutation, status, "accepted-invalid",
                       f"the imaginary part was dropped: returned {_describe(result)}")
    if status == "alt":
        rtol = entry.rtol if mutation in ("float32", "complex64") else 0.0
        if same_result(baseline, result, rtol=rtol):
            return Outcome(label, name, mutation, status, "same-result")
        return Outcome(label, name, mutation, status, "different-result",
                       _difference(baseline, result))
    # edge: accepted; a finite input must not make a NaN (or an inf) the valid call did not make
    # (an infinity can be the right answer: the SNR of a constant, the log-likelihood of an
    # impossible count; a NaN never is)
    if mutation != "nan" and _has(result, np.isnan) and not _has(baseline, np.isnan):
        return Outcome(label, name, mutation, status, "nan-result", f"{_describe(result)}")
    if mutation not in ("empty", "zero", "small-0") and _has_empty(result) and not _has_empty(
            baseline):
        return Outcome(label, name, mutation, status, "wrong-shape",
                       f"an empty result: {_describe(result)}")
    return Outcome(label, name, mutation, status, "accepted")


def _difference(a, b):
    """Why two results differ, in a few words."""
    if _structure(a) != _structure(b):
        return f"{_describe(b)} instead of {_describe(a)}"
    for i, (x, y) in enumerate(zip(_leaves(a), _leaves(b))):
        if x.shape != y.shape:
            return f"part {i}: shape {y.shape} instead of {x.shape}"
        if not np.array_equal(x, y, equal_nan=x.dtype.kind in "fc"):
            with np.errstate(all="ignore"):
                d = np.abs(x.astype(np.complex128) - y.astype(np.complex128))
            return (f"part {i}: values differ by up to {np.nanmax(d):.3g} "
                    f"(largest value {np.nanmax(np.abs(x)):.3g})")
    return f"{_describe(b)} instead of {_describe(a)}"


def _describe(result):
    leaves = list(_leaves(result))
    if isinstance(result, np.ndarray):
        text = f"array{result.shape} {result.dtype}"
    elif isinstance(result, tuple) and leaves:
        text = "(" + ", ".join(f"array{x.shape}" if x.ndim else "scalar" for x in leaves) + ")"
    else:
        text = type(result).__name__
    if leaves:
        nan = sum(int(np.isnan(x).sum()) for x in leaves if x.dtype.kind in "fc")
        if nan:
            text += f" with {nan} NaN"
        elif len(leaves) == 1 and leaves[0].size == 1:
            text += f" {leaves[0].item()!r}"
    return text


def _worker(conn, func, entry, label, todo):
    """Child process: run the cases ``todo`` (indices into ``cases``), report each."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        with open("/proc/self/status") as status:
            vm = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize"))
        limit = vm + MEMORY_LIMIT
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (OSError, ValueError, StopIteration):
        pass
    signal.signal(signal.SIGALRM, _on_alarm)
    warnings.simplefilter("ignore")
    # A seed no function uses, so that a function that resets a global random state (to its own
    # seed) is seen changing it, whatever the parent process did before the fork.
    np.random.seed(20261127)  # noqa: NPY002 - the legacy global state is what is checked
    if "torch" in sys.modules:
        import torch
        torch.set_num_threads(1)
        torch.manual_seed(20261127)
    all_cases = cases(func, entry)
    try:
        outs, baseline = _valid_call(func, entry, label, checks=0 in todo)
    except Exception as exc:  # noqa: BLE001 - a harness error is reported, not hidden
        outs, baseline = [Outcome(label, "-", "valid-call", "valid", "other-exception",
                                  "harness: " + _message(exc))], None
    if 0 in todo:
        for o in outs:
            conn.send(("done", 0, o))
    for i in todo:
        if i == 0:
            continue
        name, mutation, status = all_cases[i]
        conn.send(("start", i, None))
        try:
            outcome = _run_case(func, entry, label, name, mutation, status, baseline)
        except Exception as exc:  # noqa: BLE001 - a harness error must not hide the others
            outcome = Outcome(label, name, mutation, status, "other-exception",
                              "harness: " + _message(exc))
        conn.send(("done", i, outcome))
    conn.send(("end", None, None))
    conn.close()


def _warm_up():
    """Import in the parent what a first call imports lazily, so that each forked worker does
    not pay for it again (PyTorch's first optimiser step imports sympy: seconds)."""
    if "torch" in sys.modules and not _WARM:
        import torch
        p = torch.zeros(1, requires_grad=True)
        opt = torch.optim.Adam([p], lr=0.0)
        (p * 2.0).sum().backward()
        opt.step()
        _WARM.append(True)


_WARM: list = []


def run(func, entry, label, *, only=None):
    """Run every case of ``entry`` (or those whose ``(argument, mutation)`` is in ``only``)
    in forked workers; return the list of :class:`Outcome`."""
    _warm_up()
    all_cases = cases(func, entry)
    todo = [i for i, (name, mutation, _) in enumerate(all_cases)
            if only is None or (name, mutation) in only]
    if not todo:
        return []
    ctx = multiprocessing.get_context("fork")
    results: list[Outcome] = []
    while todo:
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_worker, args=(child, func, entry, label, todo), daemon=True)
        proc.start()
        child.close()
        current, finished = None, set()
        deadline = time.monotonic() + 2 * VALID_TIMEOUT + KILL_GRACE  # the valid call twice
        problem = None
        while True:
            if parent.poll(max(0.0, deadline - time.monotonic())):
                try:
                    what, i, outcome = parent.recv()
                except EOFError:
                    problem = "crash"
                    break
                if what == "end":
                    break
                if what == "start":
                    current = i
                    deadline = time.monotonic() + CALL_TIMEOUT + KILL_GRACE
                else:
                    results.append(outcome)
                    finished.add(i)
            else:
                problem = "hang"
                break
        if problem:
            proc.kill()
        proc.join()
        parent.close()
        if problem is None:
            break
        if current is None:  # the valid call itself
            results.append(Outcome(label, "-", "valid-call", "valid", problem,
                                   f"the valid call: worker {problem}"))
            break
        name, mutation, status = all_cases[current]
        detail = (f"killed after {CALL_TIMEOUT + KILL_GRACE} s" if problem == "hang"
                  else f"worker exit code {proc.exitcode}")
        results.append(Outcome(label, name, mutation, status, problem, detail))
        finished.add(current)
        todo = [i for i in todo if i not in finished and i > 0]
    return _dedupe(results)


def _dedupe(results):
    seen, out = set(), []
    for r in results:
        key = (r.argument, r.mutation, r.outcome)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def report(outcomes):
    """A readable list of the bad outcomes, one line each."""
    return "\n".join(str(o) for o in outcomes)
