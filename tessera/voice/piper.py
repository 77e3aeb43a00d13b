"""A better local neural voice where an operator has one: Piper, with a voice file on disk.

Set PIPER_VOICES to `language=path` pairs (`el=/opt/piper/el_GR-rapunzelina-low.onnx,...`),
and PIPER_BINARY if `piper` is not on the PATH. Nothing of Piper ships with Tessera; without
it, eSpeak NG speaks.
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tessera.voice.audio import Sound, read_wav

TIMEOUT_SECONDS = 30


def piper_voice(language: str) -> Path | None:
    """The Piper voice file configured for `language`, if it and the binary are there."""
    for pair in os.environ.get("PIPER_VOICES", "").split(","):
        code, _sep, path = pair.strip().partition("=")
        if code.strip() == language and path:
            voice = Path(path.strip())
            if voice.is_file() and piper_binary():
                return voice
    return None


def piper_binary() -> str | None:
    """The piper program to run, or None."""
    return shutil.which(os.environ.get("PIPER_BINARY", "piper"))


def piper_sound(text: str, voice: Path) -> Sound:
    """`text` spoken by Piper with `voice`; raises CalledProcessError if piper fails."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out.wav"
        subprocess.run([piper_binary(), "--model", str(voice), "--output_file", str(out)],
                       input=text.encode("utf-8"), check=True, capture_output=True,
                       timeout=TIMEOUT_SECONDS)
        return read_wav(out)
