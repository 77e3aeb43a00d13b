"""Recorded voice packs: a folder per language of short WAV clips, joined into announcements.

For a language with no synthetic voice (Somali has none in eSpeak NG), the centre's own staff
or community record the words once:

    <VOICE_PACKS>/<language>/ticket.wav        "Ticket"
    <VOICE_PACKS>/<language>/please-go-to.wav  "please go to"
    <VOICE_PACKS>/<language>/0.wav ... 9.wav   the digits (and optionally 10.wav, 42.wav ...:
                                               a whole number wins over its digits)
    <VOICE_PACKS>/<language>/letter-a.wav ...  the letters of the site's ticket prefixes
    <VOICE_PACKS>/<language>/desk-<key>.wav    each desk's name, by its key in the site file

"Ticket A 42, please go to desk 4" is then ticket, letter-a, 4, 2 (or 42), please-go-to,
desk-desk-4, with short pauses between.
"""

import wave
from pathlib import Path

from tessera.voice.audio import Sound, join, read_wav

WORDS = ("ticket", "please-go-to")
DIGITS = tuple(str(digit) for digit in range(10))


def pack_folder(root: Path, language: str) -> Path:
    """Where a language's clips are."""
    return root / language


def clip_names(number: str, counter_key: str, folder: Path | None = None) -> list[str]:
    """The clips that say `number` (e.g. "A-042") and the desk, in order (without ".wav")."""
    prefix, _sep, sequence = number.partition("-")
    names = ["ticket"] + [f"letter-{letter.lower()}" for letter in prefix if letter.isalpha()]
    whole = str(int(sequence)) if sequence.isdecimal() else sequence
    if folder is not None and (folder / f"{whole}.wav").is_file():
        names.append(whole)
    else:
        names += [character for character in whole if character.isdecimal()]
    return [*names, "please-go-to", f"desk-{counter_key}"]


def pack_sound(root: Path, language: str, number: str, counter_key: str) -> Sound | None:
    """The announcement joined from the language's clips; None if the pack lacks one."""
    folder = pack_folder(root, language)
    paths = [folder / f"{name}.wav" for name in clip_names(number, counter_key, folder)]
    if not folder.is_dir() or not all(path.is_file() for path in paths):
        return None
    return join([read_wav(path) for path in paths])


def pack_signature(root: Path, language: str) -> str:
    """Changes whenever a clip is added, replaced or removed: part of the cache key."""
    folder = pack_folder(root, language)
    if not folder.is_dir():
        return ""
    return ";".join(f"{path.name}:{path.stat().st_size}:{path.stat().st_mtime_ns}"
                    for path in sorted(folder.glob("*.wav")))


def missing_clips(root: Path, language: str, prefixes: list[str],
                  counter_keys: list[str]) -> list[str]:
    """The clip files a language's pack still needs for a site, and those in a wrong format.

    A clip in another WAV format than `ticket.wav` is listed with the reason, as joining it
    would fail.
    """
    folder = pack_folder(root, language)
    letters = sorted({letter.lower() for prefix in prefixes for letter in prefix
                      if letter.isalpha()})
    needed = [*WORDS, *DIGITS, *(f"letter-{letter}" for letter in letters),
              *(f"desk-{key}" for key in counter_keys)]
    missing, reference = [], None
    for name in needed:
        path = folder / f"{name}.wav"
        if not path.is_file():
            missing.append(f"{name}.wav")
            continue
        try:
            sound = read_wav(path)
        except (wave.Error, EOFError, OSError):  # unreadable: it must be recorded again
            missing.append(f"{name}.wav (not a PCM WAV file)")
            continue
        shape = (sound.rate, sound.channels, sound.width)
        reference = reference or shape
        if shape != reference:
            missing.append(f"{name}.wav (format {shape} differs from {reference})")
    return missing
