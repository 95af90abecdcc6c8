/* Order screen: a short error tone when a scanned or typed code matches nothing (the server sends the
   `pos:scan-error` event with its answer), and the message strip cleared as soon as the ticket changes again.
   A file of its own, loaded after pos.js, so the Content-Security-Policy can forbid inline script. */
(function () {
  "use strict";

  var audio = null;

  /* Two short low beeps (WebAudio, no sound file): distinct from a scanner's own "good read" chirp. */
  function errorTone() {
    var AudioContext = window.AudioContext || window.webkitAudioContext;
    if (!AudioContext) return;
    try {
      audio = audio || new AudioContext();
      if (audio.state === "suspended") audio.resume();
      var now = audio.currentTime;
      [0, 0.2].forEach(function (offset) {
        var tone = audio.createOscillator();
        var volume = audio.createGain();
        tone.type = "square";
        tone.frequency.value = 220;
        volume.gain.setValueAtTime(0.0001, now + offset);
        volume.gain.exponentialRampToValueAtTime(0.25, now + offset + 0.01);
        volume.gain.exponentialRampToValueAtTime(0.0001, now + offset + 0.15);
        tone.connect(volume);
        volume.connect(audio.destination);
        tone.start(now + offset);
        tone.stop(now + offset + 0.16);
      });
    } catch (error) {
      /* No sound device: the message on screen is enough. */
    }
  }

  document.body.addEventListener("pos:scan-error", errorTone);

  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (!event.detail.target || event.detail.target.id !== "ticket") return;
    if (event.detail.xhr && event.detail.xhr.getResponseHeader("HX-Reswap") === "none") return;  // the error itself
    var strip = document.getElementById("scan-message");
    if (strip) strip.replaceChildren();
  });
})();
