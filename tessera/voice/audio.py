"""WAV files in and out: 16-bit PCM read, joined with pauses and written with the wave module."""

import io
import wave
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Sound:
    """PCM samples with their format; clips of one format can be joined."""

    frames: bytes
    rate: int
    channels: int = 1
    width: int = 2  # bytes per sample

    @property
    def seconds(self) -> float:
        """How long it plays."""
        return len(self.frames) / (self.rate * self.channels * self.width)

    def silence(self, seconds: float) -> "Sound":
        """A pause in this sound's format."""
        count = int(self.rate * seconds) * self.channels * self.width
        return Sound(b"\0" * count, self.rate, self.channels, self.width)

    def wav_bytes(self) -> bytes:
        """The sound as a WAV file's bytes."""
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(self.channels)
            out.setsampwidth(self.width)
            out.setframerate(self.rate)
            out.writeframes(self.frames)
        return buffer.getvalue()


def read_wav(path: Path) -> Sound:
    """A WAV file's sound; raises wave.Error for anything but uncompressed PCM."""
    with wave.open(str(path), "rb") as clip:
        return Sound(clip.readframes(clip.getnframes()), clip.getframerate(),
                     clip.getnchannels(), clip.getsampwidth())


def join(sounds: list[Sound], pause: float = 0.12) -> Sound:
    """The sounds one after the other with a short pause between, all in the first's format.

    Raises ValueError when a clip's format differs: mixing rates would play it at the wrong
    pitch, so the missing-clips listing reports such clips for re-recording instead.
    """
    first = sounds[0]
    parts = []
    for index, sound in enumerate(sounds):
        if (sound.rate, sound.channels, sound.width) != (first.rate, first.channels,
                                                         first.width):
            raise ValueError("clips of one voice pack must share one WAV format")
        if index:
            parts.append(first.silence(pause).frames)
        parts.append(sound.frames)
    return Sound(b"".join(parts), first.rate, first.channels, first.width)
