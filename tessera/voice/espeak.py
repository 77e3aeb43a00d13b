"""eSpeak NG through ctypes, from the `espeakng-loader` wheel (the library and its data).

The wheel ships libespeak-ng and espeak-ng-data, so synthesis needs nothing from the
operating system. The library keeps one global state (the voice, the callback), so every
synthesis holds one process-wide lock; an announcement takes a few tens of milliseconds.
"""

import ctypes
import threading
from functools import lru_cache
from pathlib import Path

AUDIO_OUTPUT_SYNCHRONOUS = 2  # espeak_AUDIO_OUTPUT: samples come to our callback, no device
ESPEAK_CHARS_UTF8 = 1
ESPEAK_RATE = 1  # espeak_PARAMETER
POS_CHARACTER = 1
EE_OK = 0
# Slower than eSpeak's 175 words a minute: a hall is noisy and many listen in a second language.
WORDS_PER_MINUTE = 150

SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                                  ctypes.c_void_p)

_lock = threading.Lock()


class EspeakUnavailable(RuntimeError):
    """The eSpeak NG library or its data could not be loaded."""


class _Espeak:
    """The loaded library, initialised once per process."""

    def __init__(self):
        try:
            import espeakng_loader
        except ImportError as error:  # not installed: voice packs and the chime still work
            raise EspeakUnavailable("espeakng-loader is not installed") from error
        self.data = Path(espeakng_loader.get_data_path())
        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p,
                                               ctypes.c_int]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetSynthCallback.argtypes = [SYNTH_CALLBACK]
        self.lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint,
                                          ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
                                          ctypes.c_void_p, ctypes.c_void_p]
        # The data's parent directory: eSpeak appends "espeak-ng-data" itself.
        rate = self.lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0,
                                          str(self.data.parent).encode(), 0)
        if rate <= 0:
            raise EspeakUnavailable("eSpeak NG did not initialise")
        self.sample_rate = rate
        self.chunks: list[bytes] = []
        # Kept on the instance: ctypes must not free the callback while the library holds it.
        self.callback = SYNTH_CALLBACK(self._collect)
        self.lib.espeak_SetSynthCallback(self.callback)

    def _collect(self, samples, count, _events) -> int:
        if count > 0:
            self.chunks.append(ctypes.string_at(samples, count * 2))
        return 0  # 0: go on synthesising

    def voices(self) -> dict[str, str]:
        """Each voice file's name by its language code ('fr-fr': 'fr', 'en-gb': 'en')."""
        found = {}
        for path in sorted((self.data / "lang").rglob("*")):
            if path.is_file():
                for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                    if line.startswith("language "):
                        found.setdefault(line.split()[1].lower(), path.name)
                        break
        return found

    def synthesise(self, text: str, language: str) -> bytes:
        """16-bit mono PCM at `sample_rate` for `text` in `language`'s voice."""
        if self.lib.espeak_SetVoiceByName(language.encode()) != EE_OK:
            raise ValueError(f"eSpeak NG has no voice for {language!r}")
        self.lib.espeak_SetParameter(ESPEAK_RATE, WORDS_PER_MINUTE, 0)
        encoded = text.encode("utf-8") + b"\0"
        self.chunks = []
        self.lib.espeak_Synth(encoded, len(encoded), 0, POS_CHARACTER, 0, ESPEAK_CHARS_UTF8,
                              None, None)
        self.lib.espeak_Synchronize()
        return b"".join(self.chunks)


@lru_cache(maxsize=1)
def _espeak() -> _Espeak:
    return _Espeak()


@lru_cache(maxsize=1)
def _voices() -> dict[str, str]:
    try:
        with _lock:
            return _espeak().voices()
    except (EspeakUnavailable, OSError):
        return {}


def espeak_voice(language: str) -> str | None:
    """The eSpeak NG voice for a site language code ('fr' -> 'fr'), or None if it has none."""
    voices = _voices()
    code = language.lower().replace("_", "-")
    if code in voices.values():  # a voice file named after the code itself
        return code
    for voice_language, name in voices.items():
        if voice_language == code or voice_language.startswith(code + "-"):
            return name
    return None


def espeak_synthesise(text: str, language: str) -> tuple[bytes, int]:
    """(16-bit mono PCM, sample rate) of `text` spoken by eSpeak NG's voice for `language`."""
    with _lock:
        engine = _espeak()
        return engine.synthesise(text, language), engine.sample_rate
