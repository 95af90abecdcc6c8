/* Kitchen display: a ticket that was not on the board before flashes, and the display plays its sound (unless the
   terminal is muted). The board is re-drawn by htmx every few seconds; the tickets seen so far are remembered here,
   so only a new one alerts (not the ones already up when the page opened). */
(function () {
  "use strict";
  var board = document.getElementById("kitchen-board");
  if (!board) return;
  var sound = document.getElementById("kds-sound");

  function ticketIds() {
    var ids = {};
    board.querySelectorAll("[data-ticket]").forEach(function (el) { ids[el.getAttribute("data-ticket")] = el; });
    return ids;
  }

  var seen = ticketIds();

  function alertFor(fresh) {
    fresh.forEach(function (el) { el.classList.add("is-new"); });
    board.setAttribute("data-alerts", String(Number(board.getAttribute("data-alerts") || 0) + 1));
    if (board.getAttribute("data-sound") !== "on" || !sound) return;
    sound.setAttribute("data-plays", String(Number(sound.getAttribute("data-plays") || 0) + 1));
    try {
      sound.currentTime = 0;
      var playing = sound.play();
      if (playing && playing.catch) playing.catch(function () { /* autoplay refused until the first tap */ });
    } catch (e) { /* no audio on this device */ }
  }

  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target !== board) return;
    var now = ticketIds();
    var fresh = [];
    Object.keys(now).forEach(function (id) { if (!seen[id]) fresh.push(now[id]); });
    seen = now;
    if (fresh.length) alertFor(fresh);
  });
})();
