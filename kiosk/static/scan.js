// Checking in by scanning the appointment's QR code, where the kiosk has a camera.
// The QR code of a booking holds its manage link (.../a/<token>); a bare code works too.
// The code found goes into the typed-code field and the form is submitted, so checking in,
// its retries and its refusals (too early, too late, unknown, cancelled) are kiosk.js's own.
// The camera runs only while the visitor scans: it stops on a code, on the timeout, on the
// button, on typing's submit and when the page is left or hidden.
// Texts come from data-* attributes rendered through Babel, so this file has no strings.

// A frame is decoded at most this often: enough to feel instant, light on a kiosk's CPU.
const DECODE_INTERVAL_MS = 150;
// jsQR reads a downscaled frame: a QR code held up to the camera stays far above this.
const DECODE_MAX_SIDE = 800;
const MANAGE_PATH = /\/a\/([A-Za-z0-9_-]+)\/?$/;
const BARE_CODE = /^[A-Za-z0-9 -]{4,32}$/;
const RETRY_MAX_MS = 15000;

async function hasCamera() {
  // No getUserMedia outside a secure context (https, or localhost): then no scan button.
  const media = navigator.mediaDevices;
  if (!media || !media.getUserMedia || !media.enumerateDevices) return false;
  const devices = await media.enumerateDevices().catch(() => []);
  return devices.some((device) => device.kind === "videoinput");
}

async function nativeDecoder() {
  // The browser's own detector where it has one for QR codes (Chrome on Android, macOS...).
  if (!("BarcodeDetector" in window)) return null;
  const formats = await window.BarcodeDetector.getSupportedFormats().catch(() => []);
  if (!formats.includes("qr_code")) return null;
  const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
  return async (video) => {
    const found = await detector.detect(video);
    return found.length > 0 ? found[0].rawValue : null;
  };
}

function loadScript(url) {
  // jsQR is a UMD bundle, not a module: as a classic script it defines window.jsQR.
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = url;
    script.onload = () => resolve(window.jsQR);
    script.onerror = reject;
    document.head.append(script);
  });
}

async function libraryDecoder(url) {
  // Elsewhere, the vendored jsQR on a canvas copy of the frame.
  const jsQR = window.jsQR || await loadScript(url);
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  return async (video) => {
    const scale = Math.min(1, DECODE_MAX_SIDE / Math.max(video.videoWidth, video.videoHeight));
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    const image = context.getImageData(0, 0, canvas.width, canvas.height);
    const found = jsQR(image.data, image.width, image.height, { inversionAttempts: "attemptBoth" });
    return found ? found.data : null;
  };
}

function manageToken(text) {
  // The token of a manage link, whatever host it names (PUBLIC_URL may differ from ours).
  let url;
  try {
    url = new URL(text.trim());
  } catch {
    return null;
  }
  const match = MANAGE_PATH.exec(url.pathname);
  return match ? match[1] : null;
}

function setupScan(form, scan) {
  const status = form.querySelector("[data-form-status]");
  const code = form.querySelector("input[name=code]");
  const button = scan.querySelector("[data-scan-button]");
  const label = scan.querySelector("[data-scan-label]");
  const video = scan.querySelector("[data-scan-video]");
  // Never longer than the idle timeout: the camera is off before the idle warning shows.
  const frame = document.querySelector(".kiosk-frame");
  const idleSeconds = Number((frame && frame.dataset.idleSeconds) || Infinity);
  const seconds = Math.min(Number(scan.dataset.scanSeconds || 30), idleSeconds);
  let stream = null;
  let stopTimer = null;
  let decode = null;
  let scanning = false;
  // Each start and stop opens a new session: a late answer of an older one is dropped.
  let session = 0;

  function stop(message) {
    session += 1;
    scanning = false;
    clearTimeout(stopTimer);
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    video.srcObject = null;
    video.hidden = true;
    label.textContent = scan.dataset.labelStart;
    if (message !== undefined) status.textContent = message;
  }

  async function start() {
    session += 1;
    const mine = session;
    scanning = true;
    label.textContent = scan.dataset.labelStop;
    status.textContent = scan.dataset.messageScanning;
    // From the press: a camera slow to open counts against the time too.
    stopTimer = setTimeout(() => stop(scan.dataset.messageStopped), seconds * 1000);
    let opened;
    try {
      opened = await navigator.mediaDevices.getUserMedia({ audio: false, video: true });
      decode = decode || await nativeDecoder() || await libraryDecoder(scan.dataset.decoderUrl);
    } catch {
      if (opened) opened.getTracks().forEach((track) => track.stop());
      if (mine === session) stop(scan.dataset.messageNoCamera);
      return;
    }
    if (mine !== session) {
      // Stopped (or the page left) while the camera was opening: close it again.
      opened.getTracks().forEach((track) => track.stop());
      return;
    }
    stream = opened;
    video.srcObject = stream;
    video.hidden = false;
    await video.play().catch(() => {});
    look(mine);
  }

  async function look(mine) {
    if (mine !== session) return;
    if (video.readyState >= video.HAVE_CURRENT_DATA && video.videoWidth > 0) {
      const text = await decode(video).catch(() => null);
      if (mine !== session) return;
      if (text) {
        stop();
        use(text);
        return;
      }
    }
    setTimeout(() => look(mine), DECODE_INTERVAL_MS);
  }

  async function use(text) {
    const found = await codeOf(text);
    if (!found) return;
    code.value = found;
    form.requestSubmit();  // kiosk.js checks in, exactly as for a typed code
  }

  async function codeOf(text) {
    const token = manageToken(text);
    if (token) return lookUp(token, 1000);
    if (BARE_CODE.test(text.trim())) return text.trim();
    status.textContent = scan.dataset.messageNotAppointment;
    return null;
  }

  async function lookUp(token, retryDelay) {
    // The appointment of the link, for its code; lost network and 5xx are retried, as
    // kiosk.js does for checking in, since a read is always safe to repeat.
    status.textContent = form.dataset.messageBusy;
    let response = null;
    try {
      response = await fetch(scan.dataset.lookupUrl.replace("TOKEN", encodeURIComponent(token)), {
        headers: { Accept: "application/json", "Accept-Language": form.dataset.language },
        cache: "no-store",
      });
    } catch {
      response = null;
    }
    if (response === null || response.status >= 500) {
      status.textContent = form.dataset.messageOffline;
      await new Promise((resolve) => setTimeout(resolve, retryDelay));
      return lookUp(token, Math.min(retryDelay * 2, RETRY_MAX_MS));
    }
    const answer = await response.json().catch(() => ({}));
    if (response.ok && answer.code) return answer.code;
    status.textContent = (answer.error && answer.error.message) || form.dataset.messageOffline;
    return null;
  }

  button.addEventListener("click", () => {
    if (scanning) stop("");
    else start();
  });
  // Typing and pressing "Check in" while the camera runs: the camera is no longer needed.
  form.addEventListener("submit", () => stop());
  // Leaving the page (the idle timeout, Back, a ticket) or hiding it closes the camera.
  window.addEventListener("pagehide", () => stop());
  document.addEventListener("visibilitychange", () => { if (document.hidden) stop(); });

  async function showIfCamera() {
    const present = await hasCamera();
    if (!present) stop();
    scan.hidden = !present;
    scan.dataset.camera = present ? "yes" : "no";  // the check is done (and tests wait for it)
  }
  if (navigator.mediaDevices) navigator.mediaDevices.addEventListener("devicechange", showIfCamera);
  showIfCamera();
}

const checkInForm = document.querySelector("[data-check-in-form]");
const scanBlock = checkInForm && checkInForm.querySelector("[data-scan]");
if (scanBlock) setupScan(checkInForm, scanBlock);
