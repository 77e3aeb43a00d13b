// Sound and touch for the pages that call out to people: tones through WebAudio, speech in
// a given language, vibration. Each may be missing on a device (no audio output, no voice
// for the language, no vibration motor), so none of them is ever the only signal a page gives.

let audio = null;

/**
 * Plays `frequencies` (Hz) one after another: each `length` seconds long, starting
 * `spacing` seconds after the one before, at `volume` (0 to 1).
 */
export function tones(frequencies, { spacing, length, volume = 1 }) {
  try {
    audio = audio || new AudioContext();  // one context all day: browsers limit them
    // A context made before the first touch stays suspended on some phones; try again now.
    if (audio.state === "suspended") audio.resume().catch(() => {});
    frequencies.forEach((frequency, index) => {
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      gain.gain.value = volume;
      tone.frequency.value = frequency;
      tone.connect(gain).connect(audio.destination);
      tone.start(audio.currentTime + index * spacing);
      tone.stop(audio.currentTime + index * spacing + length);
    });
  } catch {
    // No audio device, or no audio allowed yet: the page's visual signal still happens.
  }
}

/** Vibrates in `pattern` (milliseconds on, off, on...) where the device can. */
export function vibrate(pattern) {
  if (navigator.vibrate) navigator.vibrate(pattern);
}

/** A speech synthesis voice for `language` (a primary subtag such as "en"), or null. */
export function voiceFor(language) {
  if (!("speechSynthesis" in window)) return null;
  return speechSynthesis.getVoices().find(
    (voice) => voice.lang.toLowerCase().split(/[-_]/)[0] === language) || null;
}

/**
 * Speaks `text` with a voice for `language`. The promise gives true once it was spoken,
 * false if there is no voice or speaking failed. With `giveUpAfter` (ms), speaking is
 * cancelled and counts as failed after that long: some browsers never say it has ended.
 */
export function speak(text, language, { rate = null, giveUpAfter = null } = {}) {
  return new Promise((resolve) => {
    const voice = voiceFor(language);
    if (!voice) { resolve(false); return; }
    const utterance = new SpeechSynthesisUtterance(text);
    utterance.voice = voice;
    utterance.lang = voice.lang;
    if (rate !== null) utterance.rate = rate;
    const timeout = giveUpAfter === null ? null
      : setTimeout(() => { speechSynthesis.cancel(); resolve(false); }, giveUpAfter);
    utterance.onend = () => { clearTimeout(timeout); resolve(true); };
    utterance.onerror = () => { clearTimeout(timeout); resolve(false); };
    speechSynthesis.speak(utterance);
  });
}
