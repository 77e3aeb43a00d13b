"""Announcements of calls rendered to audio on the server: "Ticket A 42, please go to Desk 4".

Every display and kiosk then plays the same files, with no network and no browser voices.
Each announcement is one WAV file per language, cached on disk by number, desk and language
(and the voice that spoke it), so a number called again tomorrow costs nothing.

Which voice speaks a language, best first:
1. Piper, where the operator configured a voice file for it (`piper.py`),
2. the centre's recorded voice pack, when it has every clip of this announcement (`packs.py`),
3. eSpeak NG, shipped with its data by the `espeakng-loader` wheel (`espeak.py`).
A language with none of them is not spoken: the display gives the chime, the visual call and
the announcement in the site language.
"""

import hashlib
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from babel.support import Translations

from tessera.config import INSTANCE_DIRECTORY
from tessera.voice.audio import Sound
from tessera.voice.espeak import espeak_synthesise, espeak_voice
from tessera.voice.packs import clip_names, pack_folder, pack_signature, pack_sound
from tessera.voice.piper import piper_sound, piper_voice

TRANSLATION_DIRECTORY = Path(__file__).parent.parent / "translations"
# The display's own msgid (display/__init__.py), so the screen and the voice say one thing.
ANNOUNCEMENT = "Ticket %(number)s, please go to %(counter)s."
# Bumped when the way eSpeak is driven changes (rate, text), so old cached files are not used.
ESPEAK_STYLE = "espeak-1"


@dataclass(frozen=True)
class Settings:
    """Where rendered announcements are cached and where the voice packs are."""

    cache: Path
    packs: Path

    @classmethod
    def from_environment(cls) -> "Settings":
        """ANNOUNCEMENT_CACHE and VOICE_PACKS, by default folders in the instance directory."""
        return cls(Path(os.environ.get("ANNOUNCEMENT_CACHE",
                                       INSTANCE_DIRECTORY / "announcements")),
                   Path(os.environ.get("VOICE_PACKS", INSTANCE_DIRECTORY / "voice-packs")))


@dataclass(frozen=True)
class Announcement:
    """One call to announce in one language."""

    language: str
    number: str  # "A-042"
    counter_key: str  # "desk-4": names the voice pack's clip
    counter_name: str  # "Desk 4", in this language


def spoken_number(number: str) -> str:
    """'A-042' as it is best said: 'A 42' (no leading zeros, no dash read out)."""
    prefix, _sep, sequence = number.partition("-")
    return f"{prefix} {int(sequence)}" if sequence.isdecimal() else number


@lru_cache(maxsize=32)
def _catalogue(language: str) -> Translations:
    return Translations.load(str(TRANSLATION_DIRECTORY), [language])


def announcement_text(announcement: Announcement) -> str:
    """What is said, in the announcement's language (the English text without a catalogue)."""
    return _catalogue(announcement.language).gettext(ANNOUNCEMENT) % {
        "number": spoken_number(announcement.number), "counter": announcement.counter_name}


def voice_kind(language: str, settings: Settings) -> str | None:
    """The voice a language is spoken with, at best: 'piper', 'pack', 'espeak', or None.

    'pack' means the language has a voice-pack folder; whether it has every clip of a given
    announcement is known only for that announcement (`render` then falls back to eSpeak).
    """
    if piper_voice(language):
        return "piper"
    if pack_folder(settings.packs, language).is_dir():
        return "pack"
    if espeak_voice(language):
        return "espeak"
    return None


def spoken_languages(languages: list[str], settings: Settings) -> list[str]:
    """Those of `languages` that have a voice, in order, each once."""
    return [language for language in dict.fromkeys(languages)
            if voice_kind(language, settings)]


def synthesise(announcement: Announcement, settings: Settings) -> tuple[str, Sound] | None:
    """(the voice's identity for the cache key, the sound), by the best voice that can say it."""
    text = announcement_text(announcement)
    voice = piper_voice(announcement.language)
    if voice:
        stat = voice.stat()
        return f"piper:{voice}:{stat.st_mtime_ns}", piper_sound(text, voice)
    sound = pack_sound(settings.packs, announcement.language, announcement.number,
                       announcement.counter_key)
    if sound is not None:
        return "pack:" + pack_signature(settings.packs, announcement.language), sound
    name = espeak_voice(announcement.language)
    if name:
        frames, rate = espeak_synthesise(text, name)
        return f"{ESPEAK_STYLE}:{name}", Sound(frames, rate)
    return None


def speak_text(text: str, language: str) -> Sound | None:
    """Free text (the kiosk's read-aloud) by Piper or eSpeak NG; None without such a voice.

    Not cached: each visitor's text is their own. Voice packs only say announcements.
    """
    voice = piper_voice(language)
    if voice:
        return piper_sound(text, voice)
    name = espeak_voice(language)
    if name:
        frames, rate = espeak_synthesise(text, name)
        return Sound(frames, rate)
    return None


def cache_path(announcement: Announcement, voice_id: str, settings: Settings) -> Path:
    """The cached file of an announcement said by a voice."""
    key = hashlib.sha256("\0".join((voice_id, announcement_text(announcement),
                                    announcement.counter_key)).encode()).hexdigest()[:16]
    safe_number = "".join(c for c in announcement.number if c.isalnum() or c == "-")
    return settings.cache / announcement.language / f"{safe_number}-{key}.wav"


def _cache_hint(announcement: Announcement, settings: Settings) -> Path:
    # Where the last rendering of this announcement was recorded, whatever voice made it:
    # lets a request find the file without synthesising first.
    safe = "".join(c for c in f"{announcement.number}_{announcement.counter_key}"
                   if c.isalnum() or c in "-_")
    digest = hashlib.sha256(announcement_text(announcement).encode()).hexdigest()[:12]
    return settings.cache / announcement.language / f"{safe}-{digest}.path"


def render(announcement: Announcement, settings: Settings | None = None) -> Path | None:
    """The WAV file of an announcement, from the cache or rendered now; None without a voice.

    Safe from several processes at once: a file is written beside its place and renamed
    into it, so a reader never sees half a file.
    """
    settings = settings or Settings.from_environment()
    hint = _cache_hint(announcement, settings)
    if hint.is_file():
        cached = Path(hint.read_text(encoding="utf-8"))
        # The voice may have changed since (a clip re-recorded, Piper configured): recheck.
        if cached.is_file() and _still_current(cached, announcement, settings):
            return cached
    made = synthesise(announcement, settings)
    if made is None:
        return None
    voice_id, sound = made
    path = cache_path(announcement, voice_id, settings)
    if not path.is_file():
        _write_atomically(path, sound.wav_bytes())
    _write_atomically(hint, str(path).encode("utf-8"))
    return path


def _still_current(cached: Path, announcement: Announcement, settings: Settings) -> bool:
    """Whether the best voice now is the one that made `cached` (cheap: no synthesis)."""
    voice = piper_voice(announcement.language)
    if voice:
        voice_id = f"piper:{voice}:{voice.stat().st_mtime_ns}"
    elif pack_sound_ready(announcement, settings):
        voice_id = "pack:" + pack_signature(settings.packs, announcement.language)
    else:
        name = espeak_voice(announcement.language)
        voice_id = f"{ESPEAK_STYLE}:{name}" if name else ""
    return bool(voice_id) and cache_path(announcement, voice_id, settings) == cached


def pack_sound_ready(announcement: Announcement, settings: Settings) -> bool:
    """Whether the language's voice pack has every clip of this announcement."""
    folder = pack_folder(settings.packs, announcement.language)
    return folder.is_dir() and all(
        (folder / f"{name}.wav").is_file()
        for name in clip_names(announcement.number, announcement.counter_key, folder))


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
