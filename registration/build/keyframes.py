"""Key frames in Encord's current format, `clientMetadata["$encord"]`, and the deprecated list.

Encord reads a video's key frames (frames of interest, imported into Index and Active) from
the reserved clientMetadata key ``$encord``::

    {"$encord": {"frames": [0, 3, 6],                  # or {"<frame>": {...per-frame metadata}}
                 "config": {"sampling_rate": 2, "keyframe_mode": "frame"}},   # optional
     "any-custom-key": "value"}

In the dict form every frame present is a key frame unless it says
``{"$encord": {"keyframe": false}}``; a frame's object may carry custom metadata and
embeddings. With ``keyframe_mode: "seconds"`` the frame keys are times in seconds. A
top-level ``keyframes`` list is Encord's DEPRECATED form.

`KeyframeConverter` brings one metadata document (a sidecar, a `--metadata` entry, a keys
file's ``metadata``) to the current form: a deprecated list becomes ``$encord.frames`` (and
counts as converted), frames and config are checked, and the `--keyframe-*` flags' config is
added where the source gives none. Per-frame metadata and embeddings are kept exactly as
given. A problem raises `KeyframeError` naming the path to the bad value; the caller decides
what it costs (a sidecar is skipped, a bulk file is refused). Every name and default is here;
`ASSUMPTIONS` lists what Encord's docs leave open, with the decision taken.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from typing import Any, Final

from registration.encord.formats import CLIENT_METADATA, MEDIA_METADATA_KEY
from registration.errors import UsageError

# --- Encord's names (reference: encord-registration.md, section 7) ------------------------

ENCORD_KEY: Final = "$encord"
"""The reserved clientMetadata key holding key frames (and, in a frame, that frame's flags)."""
FRAMES_KEY: Final = "frames"
CONFIG_KEY: Final = "config"
SAMPLING_RATE_KEY: Final = "sampling_rate"
KEYFRAME_MODE_KEY: Final = "keyframe_mode"
FRAME_KEYFRAME_KEY: Final = "keyframe"
"""Inside a frame's own ``$encord``: ``false`` keeps the frame's metadata but not as a key frame."""
DEPRECATED_KEYFRAMES_KEY: Final = "keyframes"
"""The deprecated top-level list of key frame numbers."""

MODE_FRAME: Final = "frame"
MODE_SECONDS: Final = "seconds"
KEYFRAME_MODES: Final = (MODE_FRAME, MODE_SECONDS)

DEFAULT_SAMPLING_RATE: Final = 1
"""Encord's default when no config is given: one sample per second (documented)."""
DEFAULT_KEYFRAME_MODE: Final = MODE_FRAME
"""Encord's default mode when no config is given (documented)."""

BLOCK_KEYS: Final = frozenset({FRAMES_KEY, CONFIG_KEY})
CONFIG_KEYS: Final = frozenset({SAMPLING_RATE_KEY, KEYFRAME_MODE_KEY})
FRAME_FLAG_KEYS: Final = frozenset({FRAME_KEYFRAME_KEY})

#: Frame keys are JSON object keys, so strings: a canonical non-negative integer in frame
#: mode, a non-negative decimal number in seconds mode (no sign, exponent or leading zeros,
#: as the shipped registration JSON Schema spells it).
FRAME_KEY_PATTERN: Final = re.compile(r"0|[1-9][0-9]*")
SECONDS_KEY_PATTERN: Final = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")

FLAG_SAMPLING_RATE: Final = "--keyframe-sampling-rate"
FLAG_MODE: Final = "--keyframe-mode"

ASSUMPTIONS: Final[dict[str, str]] = {
    "partial_config": (
        "Unconfirmed whether Encord fills a config missing one of its two fields; decision: "
        "a config written from the --keyframe-* flags always carries both (the missing one at "
        "Encord's documented default), a config given by the source is kept as given."
    ),
    "deprecated_config": (
        "Unconfirmed where the deprecated form kept its sampling config; decision: a top-level "
        "`config` object beside `keyframes` holding only sampling_rate/keyframe_mode moves into "
        "$encord.config on conversion; any other `config` is custom metadata and stays."
    ),
    "block_keys": (
        "Encord documents only `frames` and `config` inside $encord (and `keyframe` inside a "
        "frame's own $encord); decision: other keys there are refused, so a typo such as "
        "`frame` is reported instead of silently ignored."
    ),
    "config_only": (
        "A $encord with a config and no frames is accepted (sampling without key frames); "
        "unconfirmed that Encord reads it."
    ),
    "frames_list_values": (
        "The list form takes the same values as the dict form's keys: integers in frame mode, "
        "numbers in seconds mode (the docs show integer lists only)."
    ),
}


class KeyframeError(ValueError):
    """Key frames Encord would not read: `path` is where, inside the metadata document."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class KeyframeDefaults:
    """The config the `--keyframe-*` flags write into a ``$encord`` that has none.

    Both None (the default) writes no config: Encord then samples once per second in frame
    mode. A bad value raises `UsageError` naming the flag.
    """

    sampling_rate: float | None = None
    mode: str | None = None

    def __post_init__(self) -> None:
        rate = self.sampling_rate
        if rate is not None and (
            type(rate) not in (int, float) or not math.isfinite(rate) or rate < 0
        ):
            raise UsageError(
                f"{FLAG_SAMPLING_RATE} {rate!r}: expected a number of samples per second, "
                "0 or more (0: only the first frame and the key frames)"
            )
        if self.mode is not None and self.mode not in KEYFRAME_MODES:
            raise UsageError(
                f"{FLAG_MODE} {self.mode!r}: expected one of {', '.join(KEYFRAME_MODES)}"
            )

    @property
    def config(self) -> dict[str, Any] | None:
        """The ``config`` object to write, or None when neither flag was given."""
        if self.sampling_rate is None and self.mode is None:
            return None
        rate = DEFAULT_SAMPLING_RATE if self.sampling_rate is None else self.sampling_rate
        if isinstance(rate, float) and rate.is_integer():
            rate = int(rate)
        return {SAMPLING_RATE_KEY: rate, KEYFRAME_MODE_KEY: self.mode or DEFAULT_KEYFRAME_MODE}

    @property
    def effective_mode(self) -> str:
        """The mode frame keys are read in where the source gives no config."""
        return self.mode or DEFAULT_KEYFRAME_MODE


def parse_sampling_rate(text: str | None) -> float | None:
    """`--keyframe-sampling-rate N` as a number (None when not given); UsageError otherwise."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise UsageError(
            f"{FLAG_SAMPLING_RATE} {text!r}: expected a number of samples per second, 0 or more"
        )
    return int(value) if value.is_integer() else value


# --- checking ----------------------------------------------------------------------------


def _is_frame_number(value: Any, mode: str) -> bool:
    t = type(value)
    if t is int:
        return value >= 0  # type: ignore[no-any-return]
    return mode == MODE_SECONDS and t is float and math.isfinite(value) and value >= 0


def _expected(mode: str) -> str:
    if mode == MODE_SECONDS:
        return "a non-negative number of seconds (keyframe_mode seconds)"
    return "a non-negative integer frame number (keyframe_mode frame)"


def is_frame_key(key: str, mode: str) -> bool:
    """Whether `key` (a JSON object key) names a frame in `mode`: `"3"` yes, `"-1"`, `"x"` no."""
    pattern = SECONDS_KEY_PATTERN if mode == MODE_SECONDS else FRAME_KEY_PATTERN
    return pattern.fullmatch(key) is not None


def _refuse_unknown_keys(obj: dict[str, Any], known: frozenset[str], path: str) -> None:
    unknown = sorted(set(obj) - known)
    if unknown:
        raise KeyframeError(path, f"unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")


def check_config(config: Any, path: str) -> str | None:
    """Check a ``config`` object; return its keyframe_mode (None when it names none)."""
    if type(config) is not dict:
        raise KeyframeError(path, "expected an object with sampling_rate and/or keyframe_mode")
    _refuse_unknown_keys(config, CONFIG_KEYS, path)
    rate = config.get(SAMPLING_RATE_KEY)
    if SAMPLING_RATE_KEY in config and not _is_frame_number(rate, MODE_SECONDS):
        raise KeyframeError(
            f"{path}.{SAMPLING_RATE_KEY}", f"expected a number, 0 or more; got {rate!r}"
        )
    mode = config.get(KEYFRAME_MODE_KEY)
    if KEYFRAME_MODE_KEY in config and mode not in KEYFRAME_MODES:
        raise KeyframeError(
            f"{path}.{KEYFRAME_MODE_KEY}",
            f"expected one of {', '.join(KEYFRAME_MODES)}; got {mode!r}",
        )
    return str(mode) if mode is not None else None


def check_frames(frames: Any, mode: str, path: str) -> None:
    """Check a ``frames`` list or dict in `mode` (frame keys, per-frame objects and flags)."""
    if type(frames) is list:
        for i, value in enumerate(frames):
            if not _is_frame_number(value, mode):
                raise KeyframeError(f"{path}[{i}]", f"expected {_expected(mode)}; got {value!r}")
        return
    if type(frames) is not dict:
        raise KeyframeError(path, "expected a list of frames or an object keyed by frame")
    for key, value in frames.items():
        if not is_frame_key(key, mode):
            raise KeyframeError(f"{path}[{key!r}]", f"a frame key must be {_expected(mode)}")
        if type(value) is not dict:
            raise KeyframeError(
                f"{path}[{key!r}]", "expected an object (the frame's metadata; {} for none)"
            )
        flags = value.get(ENCORD_KEY)
        if flags is not None:
            where = f"{path}[{key!r}].{ENCORD_KEY}"
            if type(flags) is not dict or set(flags) - FRAME_FLAG_KEYS:
                raise KeyframeError(where, f'expected {{"{FRAME_KEYFRAME_KEY}": true|false}}')
            if FRAME_KEYFRAME_KEY in flags and type(flags[FRAME_KEYFRAME_KEY]) is not bool:
                raise KeyframeError(f"{where}.{FRAME_KEYFRAME_KEY}", "expected true or false")


def check_block(block: Any, default_mode: str = DEFAULT_KEYFRAME_MODE) -> str:
    """Check a ``$encord`` object; return the mode its frames are read in.

    The mode is the block's ``config.keyframe_mode``; without a config, `default_mode`
    (the flags'); with a config that names none, Encord's default.
    """
    if type(block) is not dict:
        raise KeyframeError(ENCORD_KEY, "expected an object with frames and/or config")
    _refuse_unknown_keys(block, BLOCK_KEYS, ENCORD_KEY)
    mode = default_mode
    if CONFIG_KEY in block:
        mode = (
            check_config(block[CONFIG_KEY], f"{ENCORD_KEY}.{CONFIG_KEY}") or DEFAULT_KEYFRAME_MODE
        )
    if FRAMES_KEY in block:
        check_frames(block[FRAMES_KEY], mode, f"{ENCORD_KEY}.{FRAMES_KEY}")
    return mode


def check_deprecated(frames: Any, config: Any = None) -> None:
    """Check a deprecated `keyframes` list, read in the mode of the `config` beside it when
    that is a key-frame config (`is_keyframe_config`), else in frame mode."""
    mode = DEFAULT_KEYFRAME_MODE
    if is_keyframe_config(config):
        mode = check_config(config, CONFIG_KEY) or mode
    if type(frames) is not list:
        raise KeyframeError(
            DEPRECATED_KEYFRAMES_KEY, f"expected a list of frame numbers; got {frames!r:.60}"
        )
    check_frames(frames, mode, DEPRECATED_KEYFRAMES_KEY)


def is_keyframe_config(value: Any) -> bool:
    """Whether `value` looks like a key-frame config (a non-empty object of its two keys only):
    beside the deprecated list, such a top-level `config` is the list's sampling config."""
    return type(value) is dict and bool(value) and set(value) <= CONFIG_KEYS


# --- converting --------------------------------------------------------------------------


class KeyframeConverter:
    """Brings metadata documents to the ``$encord`` form and counts deprecated ones converted.

    Callable on one document; safe to call from several threads (sidecars are read by a
    pool). A document without key frames is returned as it is, at the cost of three
    dictionary lookups.
    """

    def __init__(self, defaults: KeyframeDefaults | None = None) -> None:
        self.defaults = defaults or KeyframeDefaults()
        self._config = self.defaults.config
        self._mode = self.defaults.effective_mode
        self._lock = threading.Lock()
        self.converted = 0
        """Documents whose deprecated `keyframes` list was converted."""

    def __call__(self, doc: dict[str, Any]) -> dict[str, Any]:
        """`doc` with its key frames in the ``$encord`` form; KeyframeError when they are bad.

        A document wrapped as ``{"clientMetadata": {...}}`` (beside media metadata) is
        converted inside the wrapper, as the item builder unwraps it.
        """
        if DEPRECATED_KEYFRAMES_KEY in doc or ENCORD_KEY in doc:
            return self._convert(doc)
        inner = doc.get(CLIENT_METADATA)
        if type(inner) is dict and set(doc) - _MEDIA_KEYS == {CLIENT_METADATA}:
            converted = self(inner)
            if converted is not inner:
                return {**doc, CLIENT_METADATA: converted}
        return doc

    def _convert(self, doc: dict[str, Any]) -> dict[str, Any]:
        block: Any = doc.get(ENCORD_KEY)
        if DEPRECATED_KEYFRAMES_KEY not in doc:
            check_block(block, self._mode)
            if self._config is None or CONFIG_KEY in block:
                return doc
            return {**doc, ENCORD_KEY: {**block, CONFIG_KEY: dict(self._config)}}
        legacy = doc[DEPRECATED_KEYFRAMES_KEY]
        rest = {k: v for k, v in doc.items() if k != DEPRECATED_KEYFRAMES_KEY and k != ENCORD_KEY}
        new_block: dict[str, Any] = {}
        if ENCORD_KEY in doc:
            check_block(block, self._mode)
            if FRAMES_KEY in block:
                raise KeyframeError(
                    DEPRECATED_KEYFRAMES_KEY,
                    f"given beside {ENCORD_KEY}.{FRAMES_KEY}: keep one (the deprecated list "
                    f"becomes {ENCORD_KEY}.{FRAMES_KEY})",
                )
            new_block.update(block)
        if legacy is None:  # null is "no value": nothing to convert
            return {ENCORD_KEY: new_block, **rest} if new_block else rest
        if CONFIG_KEY in new_block:  # the $encord block's own config, already checked
            check_deprecated(legacy, new_block[CONFIG_KEY])
        elif is_keyframe_config(rest.get(CONFIG_KEY)):
            new_block[CONFIG_KEY] = config = rest.pop(CONFIG_KEY)
            check_deprecated(legacy, config)
        else:
            if self._config is not None:
                new_block[CONFIG_KEY] = dict(self._config)
            check_deprecated(legacy, self._config)
        with self._lock:
            self.converted += 1
        return {ENCORD_KEY: {FRAMES_KEY: legacy, **new_block}, **rest}


_MEDIA_KEYS: Final = frozenset(MEDIA_METADATA_KEY.values())
