/* Tillhouse offline selling on the device (DESIGN.md §6): the terminal's catalogue snapshot and its queue of whole
   sales kept in IndexedDB, the queue sent in order to /pos/offline/sync/ when the server answers again, and the
   indicator ("Offline · 3 queued · oldest 2 min") on every POS page.

   - The catalogue (/pos/offline/catalogue/) is asked for every 30 s while online with If-None-Match: a 304 keeps the
     copy, a 200 replaces it (a price change reaches the terminal within a minute).
   - A sale made offline is written to the queue (store "queue", keyed by its provisional sequence) before the screen
     says it is paid; it carries its own idempotency key, the time it was made and the staff member.
   - The queue is sent oldest first, at most 100 sales a request, one request at a time (a Web Lock across tabs).
     A sale leaves the queue only when the server answered for it (applied, already applied or held for review);
     an interrupted sync sends the same sales with the same keys again and the server applies each once.
   - The service worker (/pos/sw.js) keeps the POS pages' scripts and the offline screen, so a reload or a POS link
     without the server opens the offline screen.

   Loaded as a plain script it defines `TillhouseOffline`. */
(function () {
  "use strict";

  var DB_NAME = "tillhouse-offline";
  var DB_VERSION = 1;
  var CATALOGUE_URL = "/pos/offline/catalogue/";
  var SYNC_URL = "/pos/offline/sync/";
  var HEARTBEAT_URL = "/pos/offline/heartbeat/";
  var SCREEN_URL = "/pos/offline/";
  var WORKER_URL = "/pos/sw.js";
  var BATCH = 100;
  var POLL_ONLINE_MS = 30000;
  var PROBE_OFFLINE_MS = 3000;
  var HEARTBEAT_MS = 60000;
  var WARM_EVERY_MS = 10 * 60 * 1000;

  var listeners = [];
  var state = {
    online: navigator.onLine,
    serverDown: false,
    queued: 0,
    oldestAt: null,
    refused: 0,
    syncing: false,
    problem: "",
    catalogueVersion: null,
    ready: false, // the catalogue is on the device
  };
  var dbPromise = null;
  var catalogueCache = null;

  /* --- IndexedDB --------------------------------------------------------------------------------------------- */

  function openDb() {
    if (dbPromise) return dbPromise;
    dbPromise = new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = function () {
        var db = request.result;
        if (!db.objectStoreNames.contains("meta")) db.createObjectStore("meta", {keyPath: "name"});
        if (!db.objectStoreNames.contains("queue")) db.createObjectStore("queue", {keyPath: "sequence"});
        if (!db.objectStoreNames.contains("refused")) db.createObjectStore("refused", {keyPath: "key"});
      };
      request.onsuccess = function () {
        var db = request.result;
        db.onversionchange = function () { db.close(); dbPromise = null; };
        resolve(db);
      };
      request.onerror = function () { reject(request.error); };
    });
    return dbPromise;
  }

  function done(request) {
    return new Promise(function (resolve, reject) {
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function finished(tx) {
    return new Promise(function (resolve, reject) {
      tx.oncomplete = function () { resolve(); };
      tx.onabort = tx.onerror = function () { reject(tx.error || new Error(window.tillText("The device's storage refused."))); };
    });
  }

  function getMeta(name) {
    return openDb().then(function (db) {
      return done(db.transaction("meta").objectStore("meta").get(name));
    });
  }

  function putMeta(record) {
    return openDb().then(function (db) {
      var tx = db.transaction("meta", "readwrite");
      tx.objectStore("meta").put(record);
      return finished(tx);
    });
  }

  function allQueued() {
    return openDb().then(function (db) {
      return done(db.transaction("queue").objectStore("queue").getAll());
    });
  }

  /* --- The device: who is signed in, which terminal --------------------------------------------------------- */

  function deviceFromPage() {
    var el = document.getElementById("offline-status");
    if (!el || !el.dataset.staff) return null;
    return {
      staff: parseInt(el.dataset.staff, 10),
      staffName: el.dataset.staffName || "",
      terminal: parseInt(el.dataset.terminal, 10),
      locked: el.dataset.locked === "1", // the lock screen: nobody may sell offline until someone unlocks online
    };
  }

  /* Who sells here: written from each till page the server rendered. The offline screen the service worker kept
     (data-served="kept": rendered for whoever was signed in then, unlocked) never overwrites the stored record. */
  function device() {
    return getMeta("device").then(function (stored) {
      var here = deviceFromPage();
      if (stored && document.querySelector("[data-served=kept]")) return stored;
      if (stored && stored.lockPending && here) {
        // Locked on the device while offline: lock the server's session too before anything else is done here.
        if (!here.locked) {
          var form = document.getElementById("lock-form");
          if (form) {
            if (form.requestSubmit) form.requestSubmit(); else form.submit();
          }
          return stored;
        }
        here.lockPending = false;
      }
      if (here && (!stored || stored.staff !== here.staff || stored.terminal !== here.terminal ||
          stored.staffName !== here.staffName || Boolean(stored.locked) !== here.locked || stored.lockPending)) {
        var record = Object.assign({name: "device"}, stored || {}, here);
        return putMeta(record).then(function () { return record; });
      }
      return stored || null;
    });
  }

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  /* --- Reaching the server -------------------------------------------------------------------------------- */

  function setReach(up) {
    var changed = state.serverDown === up || state.online !== navigator.onLine;
    state.serverDown = !up;
    state.online = navigator.onLine;
    if (changed) notify();
    if (up) scheduleSync(0);
  }

  function isOnline() {
    return navigator.onLine && !state.serverDown;
  }

  /* fetch, noting whether the server answered (a 502/503/504 from a proxy is no answer). */
  function call(url, options) {
    options = Object.assign({credentials: "same-origin", cache: "no-store"}, options || {});
    return fetch(url, options).then(
      function (response) {
        setReach(response.status < 502 || response.status > 504);
        return response;
      },
      function (error) {
        setReach(false);
        throw error;
      }
    );
  }

  /* --- The catalogue ------------------------------------------------------------------------------------- */

  function catalogue() {
    if (catalogueCache) return Promise.resolve(catalogueCache);
    return getMeta("catalogue").then(function (record) {
      catalogueCache = record ? record.doc : null;
      state.catalogueVersion = record ? record.etag : null;
      state.ready = Boolean(record);
      return catalogueCache;
    });
  }

  function refreshCatalogue() {
    return getMeta("catalogue").then(function (record) {
      var headers = {Accept: "application/json"};
      if (record && record.etag) headers["If-None-Match"] = record.etag;
      return call(CATALOGUE_URL, {headers: headers}).then(function (response) {
        if (response.status === 304) {
          state.ready = true;
          notify();
          return false;
        }
        if (!response.ok) {
          state.problem = response.status === 401 || response.status === 403 ? window.tillText("Sign in to keep the catalogue.") : "";
          notify();
          return false;
        }
        var etag = response.headers.get("ETag");
        return response.json().then(function (doc) {
          return putMeta({name: "catalogue", etag: etag, doc: doc, fetchedAt: new Date().toISOString()}).then(
            function () {
              catalogueCache = doc;
              if (window.performance && performance.mark) performance.mark("tillhouse-catalogue-stored");
              state.catalogueVersion = etag;
              state.ready = true;
              return raiseSequence(doc.terminal && doc.terminal.next_sequence);
            }
          ).then(function () {
            notify();
            emit("catalogue", doc);
            return true;
          });
        });
      });
    });
  }

  /* The next provisional sequence never goes back: the highest of what the device used and what the server says. */
  function raiseSequence(next) {
    return getMeta("sequence").then(function (record) {
      var current = record ? record.next : 1;
      if (next && next > current) return putMeta({name: "sequence", next: next});
    });
  }

  /* --- The queue -------------------------------------------------------------------------------------------- */

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.from(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" +
      hex.slice(20);
  }

  function reference(code, sequence) {
    return code + "-" + String(sequence).padStart(6, "0");
  }

  /* Queue a whole sale (without key, sequence and made_at: they are given here) in one transaction that also takes
     the next sequence; resolves with the queued record ({sequence, key, reference, sale}). */
  function queueSale(sale, display) {
    return Promise.all([openDb(), catalogue()]).then(function (both) {
      var db = both[0];
      var doc = both[1];
      var code = doc && doc.terminal ? doc.terminal.code : "T?";
      var tx = db.transaction(["meta", "queue"], "readwrite");
      var meta = tx.objectStore("meta");
      var queue = tx.objectStore("queue");
      var record = null;
      meta.get("sequence").onsuccess = function (event) {
        var current = event.target.result ? event.target.result.next : 1;
        var fromServer = doc && doc.terminal ? doc.terminal.next_sequence : 1;
        var sequence = Math.max(current, fromServer || 1);
        var full = Object.assign({}, sale, {key: uuid(), sequence: sequence, made_at: new Date().toISOString()});
        record = {
          sequence: sequence,
          key: full.key,
          reference: reference(code, sequence),
          madeAt: full.made_at,
          sale: full,
          display: display || null,
        };
        queue.add(record);
        meta.put({name: "sequence", next: sequence + 1});
      };
      return finished(tx).then(function () {
        return countQueue().then(function () {
          scheduleSync(0);
          return record;
        });
      });
    });
  }

  function countQueue() {
    return Promise.all([allQueued(), openDb()]).then(function (both) {
      var records = both[0];
      return done(both[1].transaction("refused").objectStore("refused").count()).then(function (refused) {
        state.queued = records.length;
        state.oldestAt = records.length ? records[0].madeAt : null;
        state.refused = refused;
        notify();
        return records;
      });
    });
  }

  function removeQueued(sequences, refused) {
    return openDb().then(function (db) {
      var tx = db.transaction(["queue", "refused"], "readwrite");
      sequences.forEach(function (sequence) { tx.objectStore("queue").delete(sequence); });
      (refused || []).forEach(function (item) { tx.objectStore("refused").put(item); });
      return finished(tx);
    });
  }

  /* --- Sync ------------------------------------------------------------------------------------------------- */

  var syncTimer = null;

  function scheduleSync(delay) {
    clearTimeout(syncTimer);
    syncTimer = setTimeout(syncNow, delay);
  }

  function withLock(work) {
    if (navigator.locks && navigator.locks.request) {
      return navigator.locks.request("tillhouse-offline-sync", {ifAvailable: true}, function (lock) {
        return lock ? work() : null;
      });
    }
    return work();
  }

  /* Send the queue, a batch at a time, oldest first; resolves when the queue is empty or the server stopped
     answering (then it is tried again soon). */
  function syncNow() {
    if (state.syncing) return Promise.resolve();
    return countQueue().then(function (records) {
      if (!records.length || !navigator.onLine) return;
      state.syncing = true;
      notify();
      return withLock(function () { return sendBatches(); }).then(
        function () { state.syncing = false; notify(); },
        function () { state.syncing = false; notify(); scheduleSync(PROBE_OFFLINE_MS); }
      );
    });
  }

  function sendBatches() {
    return allQueued().then(function (records) {
      if (!records.length) return null;
      var batch = records.slice(0, BATCH);
      var rest = records.slice(BATCH);
      var body = {
        sales: batch.map(function (r) { return r.sale; }),
        queue: {length: rest.length, oldest_at: rest.length ? rest[0].madeAt : null},
      };
      return call(SYNC_URL, {
        method: "POST",
        headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken(), Accept: "application/json"},
        body: JSON.stringify(body),
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (answer) {
          if (!response.ok) {
            state.problem = answer.message || window.tillText("The server refused the queued sales (%s).", response.status);
            notify();
            throw new Error(state.problem);
          }
          state.problem = "";
          var bySequence = {};
          batch.forEach(function (r) { bySequence[r.key] = r; });
          var gone = [];
          var refused = [];
          var retryLater = false;
          (answer.results || []).forEach(function (result) {
            var record = bySequence[result.key];
            if (!record) return;
            if (result.outcome === "rejected") {
              if (result.code === "in_progress") { retryLater = true; return; }
              refused.push(Object.assign({}, record, {result: result}));
            } else {
              record.result = result;
            }
            gone.push(record.sequence);
            emit("synced", Object.assign({reference: record.reference}, result));
          });
          return removeQueued(gone, refused).then(function () {
            return raiseSequence(answer.next_sequence);
          }).then(countQueue).then(function (left) {
            if (retryLater) throw new Error(window.tillText("A sale is still being applied."));
            if (left.length && gone.length) return sendBatches();
            return null;
          });
        });
      });
    });
  }

  function heartbeat() {
    if (!isOnline()) return Promise.resolve();
    return countQueue().then(function () {
      return call(HEARTBEAT_URL, {
        method: "POST",
        headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken(), Accept: "application/json"},
        body: JSON.stringify({queue: {length: state.queued, oldest_at: state.oldestAt}}),
      }).catch(function () {});
    });
  }

  /* --- The indicator ------------------------------------------------------------------------------------ */

  function age(iso) {
    if (!iso) return "";
    var minutes = Math.floor((Date.now() - Date.parse(iso)) / 60000);
    if (minutes < 1) return window.tillText("under 1 min");
    if (minutes < 60) return window.tillText("%s min", minutes);
    var hours = Math.floor(minutes / 60);
    return window.tillText("%s h %s min", hours, minutes % 60);
  }

  function render() {
    var el = document.getElementById("offline-status");
    if (!el) return;
    var online = isOnline();
    var parts = [online ? (state.syncing ? window.tillText("Sending") : window.tillText("Online")) : window.tillText("Offline")];
    if (state.queued) parts.push(window.tillText("%s queued", state.queued), window.tillText("oldest %s", age(state.oldestAt)));
    if (state.refused) parts.push(window.tillText("%s refused", state.refused));
    el.dataset.state = online ? "online" : "offline";
    el.dataset.queued = String(state.queued);
    el.classList.toggle("is-offline", !online);
    el.classList.toggle("has-queue", state.queued > 0);
    el.querySelector("[data-offline-text]").textContent = parts.join(" · ");
    var problem = el.querySelector("[data-offline-problem]");
    problem.textContent = state.problem;
    problem.hidden = !state.problem;
    var link = el.querySelector("[data-offline-sell]");
    if (link) link.hidden = online || location.pathname === SCREEN_URL || !state.ready;
  }

  function notify() {
    render();
    emit("state", state);
  }

  function emit(kind, data) {
    listeners.forEach(function (listener) {
      try { listener(kind, data); } catch (error) { /* a listener's failure is its own */ }
    });
  }

  /* --- Keeping the pages for offline use --------------------------------------------------------------------- */

  /* Ask for the offline screen and the scripts and styles it names while online: the service worker keeps what
     passes through it. */
  function warm(force) {
    if (!("serviceWorker" in navigator) || !isOnline()) return Promise.resolve();
    var last = parseInt(localStorage.getItem("tillhouse-offline-warmed") || "0", 10);
    var who = JSON.stringify(deviceFromPage());
    if (!force && Date.now() - last < WARM_EVERY_MS && localStorage.getItem("tillhouse-offline-who") === who) {
      return Promise.resolve();
    }
    return navigator.serviceWorker.ready.then(function (registration) {
      var worker = registration.active;
      if (!worker) return;
      return new Promise(function (resolve) {
        var channel = new MessageChannel();
        channel.port1.onmessage = function (event) {
          if (event.data && event.data.ok) {
            localStorage.setItem("tillhouse-offline-warmed", String(Date.now()));
            localStorage.setItem("tillhouse-offline-who", who);
          }
          resolve();
        };
        worker.postMessage({type: "warm", url: SCREEN_URL}, [channel.port2]);
      });
    });
  }

  function registerWorker() {
    if (!("serviceWorker" in navigator)) return Promise.resolve();
    return navigator.serviceWorker.register(WORKER_URL, {scope: "/pos/"}).catch(function () {});
  }

  /* The lock (the button, or pos.js's idle lock) without the server: the terminal is locked on the device, and the
     offline screen sells nothing until someone unlocks it with their PIN once the server answers. */
  function lockHere(event) {
    if (event.target.id !== "lock-form" || isOnline()) return;
    event.preventDefault();
    getMeta("device").then(function (stored) {
      return putMeta(Object.assign({name: "device"}, stored || deviceFromPage() || {}, {locked: true, lockPending: true}));
    }).then(function () {
      location.assign(SCREEN_URL);
    });
  }

  /* --- Start ------------------------------------------------------------------------------------------------ */

  function start() {
    if (!document.getElementById("offline-status")) return; // not a till: nobody here takes payments
    if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(function () {});
    var onScreen = location.pathname === SCREEN_URL;
    device().then(function () {
      return Promise.all([catalogue(), countQueue()]);
    }).then(function () {
      notify();
      return refreshCatalogue().catch(function () {});
    }).then(function () {
      return registerWorker();
    }).then(function () {
      return warm(false).then(function () {
        state.warm = true;
        document.documentElement.dataset.offlineReady = state.ready ? "yes" : "no";
        emit("ready", state);
      });
    }).catch(function () {}).then(function () {
      tickTimer = setTimeout(tick, isOnline() ? POLL_ONLINE_MS : PROBE_OFFLINE_MS);
    });
    document.addEventListener("submit", lockHere, true);
    window.addEventListener("online", function () { state.serverDown = false; notify(); tick(); });
    window.addEventListener("offline", function () { notify(); });
    setInterval(function () { render(); }, 15000);
    setInterval(function () { heartbeat(); }, HEARTBEAT_MS);
    if (onScreen) document.documentElement.dataset.offlineScreen = "yes";
  }

  var tickTimer = null;

  /* While online: the catalogue every 30 s. While offline: a light probe every few seconds, and the queue sent as
     soon as the server answers. */
  function tick() {
    clearTimeout(tickTimer);
    var wasOnline = isOnline();
    var probe = navigator.onLine ? refreshCatalogue().catch(function () {}) : Promise.resolve();
    probe.then(function () {
      if (isOnline() && state.queued) scheduleSync(0);
      tickTimer = setTimeout(tick, isOnline() && wasOnline ? POLL_ONLINE_MS : PROBE_OFFLINE_MS);
    });
  }

  window.TillhouseOffline = {
    state: state,
    catalogue: catalogue,
    refreshCatalogue: refreshCatalogue,
    device: device,
    queueSale: queueSale,
    queued: allQueued,
    countQueue: countQueue,
    syncNow: syncNow,
    isOnline: isOnline,
    warm: warm,
    age: age,
    on: function (listener) { listeners.push(listener); },
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
