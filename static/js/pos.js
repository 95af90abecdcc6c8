/* Tillhouse POS terminal: keyboard shortcuts, barcode scanner (keyboard wedge), keypads, idle lock, age timers.
   Loaded as a file (no inline script) so the Content-Security-Policy can forbid 'unsafe-inline'. */

/* The words the scripts write on the screen, in the page's language: the server translates them
   (orders/js_strings.py) into the page's JSON block #pos-strings. The English text is the key and what shows when
   a text is missing; each "%s" takes the next value given. */
window.tillText = function (text) {
  var table = window.tillText.table;
  if (!table) {
    var block = document.getElementById("pos-strings");
    try { table = JSON.parse(block ? block.textContent : "{}"); } catch (e) { table = {}; }
    window.tillText.table = table;
  }
  var values = Array.prototype.slice.call(arguments, 1);
  return (table[text] || text).replace(/%s/g, function () { return values.length ? String(values.shift()) : ""; });
};
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
      var points = document.getElementById("points");  /* "Pay with points" pays first: cash pays the rest */
      var byPoints = points && points.dataset.pointValue ?
        Math.floor(parseFloat(points.value) || 0) * parseFloat(points.dataset.pointValue) : 0;
      if (byPoints > 0) {
        var rest = Math.max(parseFloat(el.dataset.total) - byPoints, 0);
        var step = parseFloat(el.dataset.cashStep) || 0;
        due = (step > 0 ? Math.round(rest / step) * step : rest) + tip;
      }
      var cash = !tender || tender.value === "cash";
      el.textContent = cash && given > due + 1e-9 ? window.tillText("Change due: %s", (given - due).toFixed(digits)) : "";
    });
    document.querySelectorAll("[data-tip-note]").forEach(function (el) {
      var input = document.getElementById(el.dataset.tipNote);
      var tip = tipAmount(input);
      var total = document.querySelector("[data-total]");
      var digits = places(total && total.dataset.total);
      el.textContent = tip > 0 ? window.tillText("Tip %s · with the tip %s", tip.toFixed(digits),
        (parseFloat(total.dataset.total) + tip).toFixed(digits)) : "";
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

  /* --- A form marked data-once (hx-boosted, so a failure can be caught) cannot be sent twice by a double tap while
     its first try is waiting for an answer; the server applies it once anyway (idempotency key, below). --- */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.getAttribute("aria-busy") !== "true") return;
    event.preventDefault();
    event.stopImmediatePropagation();
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
      // Looked up when it fires: a boosted form's answer replaces the page's body, and the form with it.
      idleTimer = setTimeout(function () { submit(document.getElementById("lock-form")); }, idleSeconds * 1000);
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
    showChange();
    var auto = event.target.querySelector && event.target.querySelector("[autofocus]");
    if (auto) auto.focus();
    else {
      var scan = document.querySelector("[data-scan]");
      if (scan && !isTyping(document.activeElement)) scan.focus();
    }
  });

  /* --- A search box that arrived in a swap and was typed into (or scanned into) before htmx took it over would
     never search: htmx counts what is in it then as "unchanged". Once htmx has it, a box that holds text searches. */
  document.body.addEventListener("htmx:load", function (event) {
    var root = event.target;
    if (!root.querySelectorAll) return;
    var boxes = root.matches && root.matches("input[type=search][hx-trigger*=search]") ? [root] : [];
    root.querySelectorAll("input[type=search][hx-trigger*=search]").forEach(function (box) { boxes.push(box); });
    boxes.forEach(function (box) { if (box.value) htmx.trigger(box, "search"); });
  });

  /* --- htmx polls (the print banner, the kitchen board): the poll sends the ETag of what the panel shows, the
     server answers 304 with no body while nothing changed, and the panel is kept as it is (htmx would swap the
     empty body in). Anything else drawn into the panel (a retry's answer, a bump) forgets the ETag. --- */
  document.body.addEventListener("htmx:configRequest", function (event) {
    var detail = event.detail;
    if (detail.verb === "get" && detail.elt.posEtag) detail.headers["If-None-Match"] = detail.elt.posEtag;
  });
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status !== 304) return;
    event.detail.shouldSwap = false;
    event.detail.isError = false;
  });
  document.body.addEventListener("htmx:afterSwap", function (event) {
    var detail = event.detail, target = detail.target;
    if (!target) return;
    var etag = detail.xhr && detail.xhr.getResponseHeader("ETag");
    var polled = detail.elt === target && detail.requestConfig && detail.requestConfig.verb === "get";
    target.posEtag = polled && etag ? etag : null;
  });

  /* --- htmx: show the server's refusals (4xx partials with the message and what was typed) instead of ignoring
     them. A refusal of the idempotency key itself goes to the failure banner: the screen keeps what was typed. --- */
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (status >= 400 && status < 500 && !event.detail.xhr.getResponseHeader("X-Idempotency-Refused")) {
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

/* Failures are visible and retries are safe (DESIGN.md §6). Every POS action shows that it is busy until answered;
   no answer (network down, timeout) or a server error shows a banner that stays until dismissed or retried. Each
   write carries an idempotency key minted here before its first try and kept on the element until the server has
   answered, so Retry (and a second tap after a failure) sends the same key: the server applies it once. */
(function () {
  "use strict";

  var HEADER = "Idempotency-Key";
  var failed = null;  // {elt, verb, path, submitter}: what Retry sends again

  function mintKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  function isPoll(detail) {
    var headers = (detail.requestConfig && detail.requestConfig.headers) || detail.headers || {};
    return headers["X-Background-Poll"] === "1";
  }

  function controlsOf(elt) {
    if (elt.tagName === "FORM") return elt.querySelectorAll("button[type=submit], button:not([type]), input[type=submit]");
    return elt.matches("button, input[type=submit]") ? [elt] : [];
  }

  function setBusy(elt, busy) {
    if (!elt || !elt.setAttribute) return;
    if (busy) elt.setAttribute("aria-busy", "true"); else elt.removeAttribute("aria-busy");
    elt.classList.toggle("busy", busy);
    controlsOf(elt).forEach(function (control) {
      if (busy && !control.disabled) { control.disabled = true; control.posBusy = true; }
      else if (!busy && control.posBusy) { control.disabled = false; control.posBusy = false; }
      control.classList.toggle("busy", busy && !!control.posBusy);
    });
  }

  /* The key: minted for the first try of an action, reused until the server has answered it. */
  document.body.addEventListener("htmx:configRequest", function (event) {
    var detail = event.detail;
    if (detail.verb === "get") return;
    var elt = detail.elt;
    if (!elt.posKey) elt.posKey = mintKey();
    detail.headers[HEADER] = elt.posKey;
  });

  document.body.addEventListener("htmx:beforeRequest", function (event) {
    if (isPoll(event.detail)) return;
    var elt = event.detail.elt;
    elt.posSubmitter = event.detail.requestConfig && event.detail.requestConfig.triggeringEvent &&
      event.detail.requestConfig.triggeringEvent.submitter;
    setBusy(elt, true);
  });

  document.body.addEventListener("htmx:afterRequest", function (event) {
    var detail = event.detail;
    setBusy(detail.elt, false);
    var status = detail.xhr ? detail.xhr.status : 0;
    if (status > 0 && status < 500) detail.elt.posKey = null;  // answered: the next tap is a new action
  });

  var banner = null;
  function bannerEl() {
    banner = document.getElementById("failure-banner");
    return banner;
  }

  function show(message, elt, verb, path, canRetry) {
    var el = bannerEl();
    if (!el) return;
    failed = canRetry ? { elt: elt, verb: verb, path: path, submitter: elt.posSubmitter } : null;
    el.querySelector("[data-failure-message]").textContent = message;
    el.querySelector("[data-failure-retry]").hidden = !canRetry;
    el.hidden = false;
  }

  function hide() {
    var el = bannerEl();
    if (el) el.hidden = true;
    failed = null;
  }

  var SAFE = " " + window.tillText("Retry sends the same action again: it is applied once, however many times it is sent.");

  function failure(event, message) {
    var detail = event.detail;
    if (isPoll(detail)) return;
    var verb = (detail.requestConfig && detail.requestConfig.verb) || "post";
    var path = (detail.requestConfig && detail.requestConfig.path) || (detail.pathInfo && detail.pathInfo.requestPath);
    show(message + (verb === "get" ? "" : SAFE), detail.elt, verb, path, true);
  }

  document.body.addEventListener("htmx:sendError", function (event) {
    failure(event, window.tillText("No answer from the till server: the network is down or the server is unreachable."));
  });
  document.body.addEventListener("htmx:timeout", function (event) {
    failure(event, window.tillText("The till server took too long to answer."));
  });
  document.body.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    if (status >= 500) failure(event, window.tillText("The till server could not do this (error %s).", status));
  });
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (!xhr.getResponseHeader("X-Idempotency-Refused")) return;
    event.detail.shouldSwap = false;
    event.detail.isError = false;
    var text = new DOMParser().parseFromString(xhr.responseText, "text/html").body.textContent.trim();
    show(text || window.tillText("This action was refused."), event.detail.elt, null, null, false);
  });
  // A new page or panel came in: whatever failed before was answered or left behind.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.boosted || (event.detail.target && event.detail.target.tagName === "BODY")) failed = null;
  });

  function retry() {
    var last = failed;
    hide();
    if (!last || !last.elt.isConnected) return;
    var elt = last.elt;
    if (elt.tagName === "FORM") {
      if (last.submitter && last.submitter.isConnected) elt.requestSubmit(last.submitter); else elt.requestSubmit();
    } else {
      htmx.ajax(last.verb.toUpperCase(), last.path, { source: elt });
    }
  }

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-failure-retry]")) { event.preventDefault(); retry(); }
    else if (event.target.closest("[data-failure-dismiss]")) { event.preventDefault(); hide(); }
  });
})();
