/* Tillhouse POS terminal: keyboard shortcuts, barcode scanner (keyboard wedge), keypads, idle lock, age timers.
   Loaded as a file (no inline script) so the Content-Security-Policy can forbid 'unsafe-inline'. */
(function () {
  "use strict";

  var config = document.getElementById("pos-config");
  var data = config ? config.dataset : {};

  function isTyping(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || el.isContentEditable;
  }

  function submit(form) {
    if (!form) return;
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
  }

  /* --- Keyboard shortcuts: any element with data-shortcut="F2" is clicked (or focused) by that key. --- */
  document.addEventListener("keydown", function (event) {
    var key = event.key;
    if (key === "Escape") {
      var open = document.querySelector("details[open].popover");
      if (open) { open.removeAttribute("open"); event.preventDefault(); return; }
    }
    var target = document.querySelector('[data-shortcut="' + key + '"]');
    if (!target || (isTyping(event.target) && key.length === 1)) return;
    event.preventDefault();
    if (target.tagName === "INPUT") { target.focus(); target.select(); } else { target.click(); }
  });

  /* --- Barcode scanner as a keyboard wedge: digits typed fast and ended by Enter, outside any field, go to the
     scan field and submit it. Inside the scan field, Enter submits the form as usual. --- */
  var buffer = "";
  var lastKeyAt = 0;
  document.addEventListener("keydown", function (event) {
    var scan = document.querySelector("[data-scan]");
    if (!scan || isTyping(event.target)) return;
    var now = Date.now();
    if (now - lastKeyAt > 60) buffer = "";
    lastKeyAt = now;
    if (event.key === "Enter" && buffer.length >= 4) {
      scan.value = buffer;
      buffer = "";
      event.preventDefault();
      submit(scan.form);
    } else if (event.key.length === 1) {
      buffer += event.key;
    }
  });

  /* --- Keypads: buttons with data-keypad="<input id>" and data-key ("7", ".", "C", "back", "=12.50"). --- */
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-keypad]");
    if (!button) return;
    event.preventDefault();
    var input = document.getElementById(button.dataset.keypad);
    if (!input) return;
    var key = button.dataset.key;
    if (key === "C") input.value = "";
    else if (key === "back") input.value = input.value.slice(0, -1);
    else if (key.charAt(0) === "=") input.value = key.slice(1);
    else input.value += key;
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.focus();
  });

  /* --- Steppers: data-step-for="<input id>" data-step="-1" adds to the number in the field (never below 1). --- */
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-step-for]");
    if (!button) return;
    var input = document.getElementById(button.dataset.stepFor);
    if (!input) return;
    var value = parseFloat(input.value || "0") + parseFloat(button.dataset.step);
    input.value = String(Math.max(1, Math.round(value * 1000) / 1000));
  });

  /* --- After a product was added (or its modifier chooser opened) from the search box, clear it for the next scan.
     A search that only listed products (the server retargets the answer to the grid) keeps what was typed. --- */
  document.body.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (!form.matches || !form.matches(".search-form") || !event.detail.successful) return;
    var retarget = event.detail.xhr.getResponseHeader("HX-Retarget");
    if (retarget && retarget !== "#chooser") return;  // a scanned dish with choices: its chooser opened
    form.reset();
    var category = document.querySelector(".categories .btn.selected");
    if (category) category.click();  // the grid showed search results: back to the category
  });

  /* --- Change due while the cashier types what the guest handed over (cash), after the tip; the receipt shows
     the change the server computed. A tip is an amount or a percent of the order's total (tip_mode_0). --- */
  function places(text) {
    var decimals = String(text || "").split(".")[1];
    return decimals ? decimals.length : 0;
  }
  function tipAmount(input) {
    if (!input || !input.value) return 0;
    var value = parseFloat(input.value);
    if (!(value > 0)) return 0;
    var mode = input.form.querySelector("input[name=" + input.name.replace("tip_", "tip_mode_") + "]:checked");
    if (!mode || mode.value !== "percent") return value;
    var total = document.querySelector("[data-total]");
    var unit = Math.pow(10, places(total && total.dataset.total));
    return Math.round(parseFloat(total ? total.dataset.total : "0") * value / 100 * unit) / unit;
  }
  function showChange() {
    document.querySelectorAll("[data-change-for]").forEach(function (el) {
      var input = document.getElementById(el.dataset.changeFor);
      var tender = input && input.form.querySelector("input[name=tender_0]:checked");
      var given = parseFloat(input && input.value);
      var digits = places(el.dataset.cashDue);
      var tip = tipAmount(document.getElementById(el.dataset.tipFor));
      var due = parseFloat(el.dataset.cashDue) + tip;
      var cash = !tender || tender.value === "cash";
      el.textContent = cash && given > due + 1e-9 ? "Change due: " + (given - due).toFixed(digits) : "";
    });
    document.querySelectorAll("[data-tip-note]").forEach(function (el) {
      var input = document.getElementById(el.dataset.tipNote);
      var tip = tipAmount(input);
      var total = document.querySelector("[data-total]");
      var digits = places(total && total.dataset.total);
      el.textContent = tip > 0 ? "Tip " + tip.toFixed(digits) + " · with the tip " +
        (parseFloat(total.dataset.total) + tip).toFixed(digits) : "";
    });
  }
  document.addEventListener("input", showChange);
  document.addEventListener("change", showChange);
  showChange();

  /* --- Quick tip buttons: data-tip-percent="10" data-tip-input="tip_0" (empty percent: no tip). --- */
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-tip-percent]");
    if (!button) return;
    event.preventDefault();
    var input = document.getElementById(button.dataset.tipInput);
    if (!input) return;
    input.value = button.dataset.tipPercent;
    var percent = input.form.querySelector("input[name=" + input.name.replace("tip_", "tip_mode_") + "][value=percent]");
    if (percent && button.dataset.tipPercent) percent.checked = true;
    input.dispatchEvent(new Event("input", { bubbles: true }));
  });

  /* --- A form marked data-once cannot be sent twice by a double tap (the server is idempotent as well). --- */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-once")) return;
    if (form.dataset.sent) { event.preventDefault(); return; }
    form.dataset.sent = "1";
    form.querySelectorAll("button[type=submit], button:not([type])").forEach(function (b) { b.classList.add("busy"); });
  }, true);

  /* --- Selecting a table row or staff tile: data-fill="<input id>" data-value="...". --- */
  document.addEventListener("click", function (event) {
    var tile = event.target.closest("[data-fill]");
    if (!tile) return;
    var input = document.getElementById(tile.dataset.fill);
    if (!input) return;
    input.value = tile.dataset.value;
    document.querySelectorAll('[data-fill="' + tile.dataset.fill + '"]').forEach(function (t) {
      t.classList.toggle("selected", t === tile);
    });
    var focus = tile.dataset.focus && document.getElementById(tile.dataset.focus);
    if (focus) focus.focus();
  });

  /* --- Idle lock: after POS_IDLE_LOCK_SECONDS without a touch or key, lock the terminal. The server enforces the
     same period, so a terminal whose page is left open is locked even if this script never runs. --- */
  var idleSeconds = parseInt(data.idleSeconds || "0", 10);
  var lockForm = document.getElementById("lock-form");
  if (idleSeconds > 0 && lockForm) {
    var idleTimer = null;
    var resetIdle = function () {
      if (idleTimer) clearTimeout(idleTimer);
      idleTimer = setTimeout(function () { submit(lockForm); }, idleSeconds * 1000);
    };
    ["pointerdown", "keydown", "touchstart"].forEach(function (name) {
      document.addEventListener(name, resetIdle, { passive: true });
    });
    resetIdle();
  }

  /* --- Age timers on kitchen tickets: data-since="<ISO time>". --- */
  function tickAges() {
    var now = Date.now();
    document.querySelectorAll("[data-since]").forEach(function (el) {
      var seconds = Math.max(0, Math.floor((now - Date.parse(el.dataset.since)) / 1000));
      var minutes = Math.floor(seconds / 60);
      el.textContent = minutes + ":" + String(seconds % 60).padStart(2, "0");
      var ticket = el.closest(".ticket");
      if (ticket) {
        ticket.classList.toggle("age-warn", minutes >= 10 && minutes < 20);
        ticket.classList.toggle("age-late", minutes >= 20);
      }
    });
  }
  tickAges();
  setInterval(tickAges, 1000);

  /* --- After htmx swaps content in, focus the first [autofocus] field in it (touch screens lose focus). --- */
  document.body.addEventListener("htmx:afterSettle", function (event) {
    tickAges();
    var auto = event.target.querySelector && event.target.querySelector("[autofocus]");
    if (auto) auto.focus();
    else {
      var scan = document.querySelector("[data-scan]");
      if (scan && !isTyping(document.activeElement)) scan.focus();
    }
  });

  /* --- htmx: show server error messages (4xx partials) instead of ignoring them. --- */
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status >= 400 && status < 500) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();

/* Modifier chooser: a group's checkboxes stop at its max (the server checks min and max again); Cancel closes it. */
(function () {
  "use strict";
  function limitChoices(group) {
    var max = parseInt(group.dataset.max || "0", 10);
    var boxes = group.querySelectorAll("input[type=checkbox]");
    if (!max || !boxes.length) return;
    var ticked = group.querySelectorAll("input[type=checkbox]:checked").length;
    boxes.forEach(function (box) { box.disabled = !box.checked && ticked >= max; });
  }
  document.addEventListener("change", function (event) {
    var group = event.target.closest && event.target.closest(".choice-group");
    if (group) limitChoices(group);
  });
  document.body.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll(".choice-group").forEach(limitChoices);
  });
  document.addEventListener("click", function (event) {
    if (!event.target.closest("[data-chooser-close]")) return;
    var chooser = document.getElementById("chooser");
    if (chooser) chooser.innerHTML = "";
  });
  document.addEventListener("keydown", function (event) {
    var chooser = document.getElementById("chooser");
    if (event.key === "Escape" && chooser && chooser.firstElementChild) chooser.innerHTML = "";
  });
})();
