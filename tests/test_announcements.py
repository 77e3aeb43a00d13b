"""Announcements rendered on the server: eSpeak NG, voice packs, the cache, the route, `say`."""

import array
import io
import itertools
import math
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from tessera.voice import (
    Announcement,
    Settings,
    announcement_text,
    render,
    spoken_languages,
    voice_kind,
)
from tessera.voice.audio import Sound
from tessera.voice.packs import clip_names, missing_clips
from tessera.voice.piper import piper_voice
from tessera.web.announcing import RENDER_JOB, RENDER_QUEUE
from worker.announcements import render_call

from .helpers import ROOT


@pytest.fixture
def settings(tmp_path, monkeypatch):
    """A cache and a voice-pack folder of the test's own, for the app and the job too."""
    chosen = Settings(tmp_path / "cache", tmp_path / "packs")
    monkeypatch.setenv("ANNOUNCEMENT_CACHE", str(chosen.cache))
    monkeypatch.setenv("VOICE_PACKS", str(chosen.packs))
    monkeypatch.delenv("PIPER_VOICES", raising=False)
    return chosen


def measure(data: bytes) -> tuple[float, float, int]:
    """(seconds, RMS level of 16-bit samples, sample rate) of WAV bytes, checking the header."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    with wave.open(io.BytesIO(data)) as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getcomptype()) == (1, 2,
                                                                                    "NONE")
        frames, rate = audio.readframes(audio.getnframes()), audio.getframerate()
    samples = array.array("h", frames)
    rms = math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0
    return len(samples) / rate, rms, rate


@pytest.mark.parametrize(("language", "desk"), [("el", "Γραφείο 4"), ("en", "Desk 4"),
                                                ("ar", "مكتب 4"), ("uk", "Стіл 4")])
def test_espeak_renders_a_real_announcement(settings, language, desk):
    path = render(Announcement(language, "A-042", "desk-4", desk), settings)
    seconds, rms, rate = measure(path.read_bytes())
    # "Ticket A 42, please go to Desk 4" at 150 words a minute: a few seconds, not silence.
    assert 1.5 < seconds < 12 and rms > 300 and rate == 22050
    assert path.is_relative_to(settings.cache / language)


def test_the_text_is_the_display_s_in_each_language():
    assert announcement_text(Announcement("en", "A-042", "desk-4", "Desk 4")) == \
        "Ticket A 42, please go to Desk 4."
    assert "Γραφείο 4" in announcement_text(Announcement("el", "A-042", "desk-4", "Γραφείο 4"))


def test_a_second_rendering_is_the_cached_file(settings, monkeypatch):
    wanted = Announcement("en", "B-007", "desk-2", "Desk 2")
    first = render(wanted, settings)
    made = first.stat().st_mtime_ns

    def no_synthesis(*_args):
        raise AssertionError("synthesised again instead of using the cache")

    monkeypatch.setattr("tessera.voice.espeak_synthesise", no_synthesis)
    again = render(wanted, settings)
    assert again == first and again.stat().st_mtime_ns == made
    # Another desk or number is another file.
    monkeypatch.undo()
    assert render(Announcement("en", "B-007", "desk-3", "Desk 3"), settings) != first


def tone_clip(path: Path, frequency: int, seconds: float = 0.2, rate: int = 16000) -> None:
    """A recorded clip stand-in: a sine tone whose pitch says which clip it is."""
    samples = array.array("h", (int(8000 * math.sin(2 * math.pi * frequency * i / rate))
                                for i in range(int(rate * seconds))))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(Sound(samples.tobytes(), rate).wav_bytes())


def dominant_frequencies(data: bytes, clip_seconds: float, pause: float) -> list[int]:
    """The pitch of each clip in a joined announcement, by counting zero crossings."""
    with wave.open(io.BytesIO(data)) as audio:
        rate = audio.getframerate()
        samples = array.array("h", audio.readframes(audio.getnframes()))
    found, step, clip = [], int(rate * (clip_seconds + pause)), int(rate * clip_seconds)
    for start in range(0, len(samples), step):
        part = samples[start:start + clip]
        crossings = sum(1 for a, b in itertools.pairwise(part) if (a < 0) != (b < 0))
        found.append(round(crossings / 2 / clip_seconds / 10) * 10)
    return found


def test_a_voice_pack_joins_its_clips_in_order(settings):
    # Somali has no eSpeak NG voice: the centre recorded one.
    folder = settings.packs / "so"
    pitches = {"ticket": 300, "letter-a": 400, "4": 500, "2": 600, "please-go-to": 700,
               "desk-desk-4": 800}
    for name, frequency in pitches.items():
        tone_clip(folder / f"{name}.wav", frequency)
    assert voice_kind("so", settings) == "pack"
    path = render(Announcement("so", "A-042", "desk-4", "Miiska 4"), settings)
    assert dominant_frequencies(path.read_bytes(), 0.2, 0.12) == list(pitches.values())

    # A whole-number clip wins over the digits once it is recorded.
    assert clip_names("A-042", "desk-4", folder)[2:4] == ["4", "2"]
    tone_clip(folder / "42.wav", 900)
    assert clip_names("A-042", "desk-4", folder)[2] == "42"
    rerendered = render(Announcement("so", "A-042", "desk-4", "Miiska 4"), settings)
    assert rerendered != path  # the pack changed, so the cached file is not used
    assert dominant_frequencies(rerendered.read_bytes(), 0.2, 0.12) == [300, 400, 900, 700,
                                                                      800]


def test_missing_clips_are_listed(settings):
    folder = settings.packs / "so"
    tone_clip(folder / "ticket.wav", 300)
    tone_clip(folder / "1.wav", 300, rate=8000)  # recorded at another rate
    missing = missing_clips(settings.packs, "so", ["A", "B"], ["desk-1"])
    assert "ticket.wav" not in missing and "please-go-to.wav" in missing
    assert {"letter-a.wav", "letter-b.wav", "desk-desk-1.wav", "0.wav"} <= set(missing)
    assert any(line.startswith("1.wav (format") for line in missing)


def test_a_language_with_no_voice_falls_back_to_the_site_language(settings):
    # No eSpeak voice, no pack, no Piper: Somali is not spoken, Greek is.
    assert voice_kind("so", settings) is None
    assert render(Announcement("so", "A-042", "desk-4", "Miiska 4"), settings) is None
    assert spoken_languages(["so", "el", "el"], settings) == ["el"]
    # An incomplete pack is no voice for this announcement either.
    tone_clip(settings.packs / "so" / "ticket.wav", 300)
    assert render(Announcement("so", "A-042", "desk-4", "Miiska 4"), settings) is None


def test_piper_is_used_only_where_configured(settings, monkeypatch, tmp_path):
    assert piper_voice("el") is None
    voice = tmp_path / "el.onnx"
    voice.write_bytes(b"not a model")
    monkeypatch.setenv("PIPER_VOICES", f"el={voice}")
    monkeypatch.setenv("PIPER_BINARY", str(tmp_path / "no-such-piper"))
    assert piper_voice("el") is None  # no binary: eSpeak NG speaks
    assert voice_kind("el", settings) == "espeak"


def test_the_say_command_writes_a_wav_file(settings, tmp_path):
    out = tmp_path / "hear.wav"
    done = subprocess.run([sys.executable, "-m", "tessera", "say", "--language", "ar",
                           "--ticket", "A-042", "--desk", "مكتب 4", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    seconds, rms, _rate = measure(out.read_bytes())
    assert seconds > 1 and rms > 300
    refused = subprocess.run([sys.executable, "-m", "tessera", "say", "--language", "so",
                              "--ticket", "A-042", "--desk", "Miiska 4", "--out",
                              str(tmp_path / "none.wav")],
                             cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode == 1 and "No voice for 'so'" in refused.stderr


def test_the_route_serves_a_called_ticket_s_announcement(settings, client, site, engine):
    engine.issue_ticket(site.id, [site.services["registration"]], "ar")
    url = f"/api/v1/sites/{site.id}/announcements"
    answer = client.get(f"{url}/ar/A-001/desk-1")
    assert answer.status_code == 200 and answer.mimetype == "audio/wav"
    seconds, rms, _rate = measure(answer.data)
    assert seconds > 1 and rms > 300
    for wrong, code in ((f"{url}/fr/A-001/desk-1", "unknown_language"),
                        (f"{url}/ar/A-999/desk-1", "unknown_ticket"),
                        (f"{url}/ar/A-001/desk-9", "unknown_counter"),
                        ("/api/v1/sites/nowhere/announcements/ar/A-001/desk-1", "not_found")):
        refused = client.get(wrong)
        assert refused.status_code == 404 and refused.get_json()["error"]["code"] == code


def test_a_call_enqueues_the_rendering_and_the_job_renders_both_languages(
        settings, client, site, engine, redis_client, database_url, monkeypatch):
    from rq import Queue

    queue = Queue(RENDER_QUEUE, connection=redis_client)
    queue.empty()
    app_engine = client.application.extensions["tessera"].engine
    app_engine.issue_ticket(site.id, [site.services["registration"]], "ar")
    desk = site.counters["desk-1"]
    app_engine.open_counter(desk)
    app_engine.call_next(desk)
    jobs = [job for job in queue.get_jobs() if job.func_name == RENDER_JOB]
    assert [job.args for job in jobs] == [(desk, "A-001", "ar")]
    queue.empty()

    monkeypatch.setenv("DATABASE_URL", database_url)
    made = render_call(desk, "A-001", "ar")
    assert [Path(path).parent.name for path in made] == ["ar", "el"]
