/* Tillhouse's service worker, served as /pos/sw.js (scope /pos/, and /static/ through Service-Worker-Allowed is not
   needed: a worker sees every request its pages make). It keeps what the terminal needs to sell without the server:
   - the offline screen (/pos/offline/) and the scripts, styles and images the POS pages load (static files are
     versioned by name in production, so a kept copy is never wrong; it is refreshed whenever the server answers);
   - a POS page asked for while the server cannot be reached is answered with the offline screen.
   Everything else (the JSON endpoints, every POST) goes to the network untouched: the queue of sales lives in
   IndexedDB and is sent by the page (static/js/offline.js). */
"use strict";

var CACHE = "tillhouse-offline-v1";  // a new name empties the old cache when this worker activates
var SCREEN = "/pos/offline/";

self.addEventListener("install", function () {
  self.skipWaiting();
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (n) { return n !== CACHE; }).map(function (n) { return caches.delete(n); }));
    }).then(function () { return self.clients.claim(); })
  );
});

/* The kept offline screen, marked as the kept copy (offline.js then trusts the device's own record of who is signed
   in and whether the terminal is locked, not the copy's). */
function keptScreen(otherwise) {
  return caches.match(SCREEN).then(function (kept) {
    if (!kept) return otherwise;
    return kept.text().then(function (html) {
      return new Response(html.replace('data-served="server"', 'data-served="kept"'), {
        status: 200,
        headers: kept.headers,
      });
    });
  });
}

function isStatic(url) {
  return url.origin === self.location.origin && url.pathname.indexOf("/static/") === 0;
}

/* Fetch and keep the offline screen, then every script, style sheet and icon it names. */
function warm(screenUrl) {
  return caches.open(CACHE).then(function (cache) {
    return fetch(screenUrl, {credentials: "same-origin", cache: "no-store"}).then(function (response) {
      if (!response.ok || response.redirected) throw new Error("The offline screen did not come: " + response.status);
      var copy = response.clone();
      return response.text().then(function (html) {
        var urls = [];
        var pattern = /(?:src|href)="([^"]+)"/g;
        var match;
        while ((match = pattern.exec(html))) {
          var url = new URL(match[1].replace(/&amp;/g, "&"), self.location.origin);
          if (isStatic(url)) urls.push(url.href);
        }
        return Promise.all(urls.map(function (u) {
          return fetch(u).then(function (r) { if (r.ok) return cache.put(u, r); });
        })).then(function () {
          return cache.put(SCREEN, copy);
        }).then(function () {
          // A deploy renames the static files: the copies the offline screen no longer names are dropped.
          return cache.keys().then(function (requests) {
            return Promise.all(requests.filter(function (r) {
              return isStatic(new URL(r.url)) && urls.indexOf(r.url) < 0;
            }).map(function (r) { return cache.delete(r); }));
          });
        });
      });
    });
  });
}

self.addEventListener("message", function (event) {
  var data = event.data || {};
  var port = event.ports && event.ports[0];
  if (data.type === "warm") {
    event.waitUntil(
      warm(data.url || SCREEN).then(
        function () { if (port) port.postMessage({ok: true}); },
        function (error) { if (port) port.postMessage({ok: false, error: String(error)}); }
      )
    );
  }
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (isStatic(url)) {
    // The network first (a new deploy's files), the kept copy when there is no network.
    event.respondWith(
      caches.open(CACHE).then(function (cache) {
        return fetch(request).then(function (response) {
          if (response.ok) cache.put(request, response.clone());
          return response;
        }).catch(function () {
          return cache.match(request, {ignoreVary: true}).then(function (kept) {
            return kept || Response.error();
          });
        });
      })
    );
    return;
  }
  if (request.mode === "navigate" && url.pathname.indexOf("/pos/") === 0) {
    event.respondWith(
      fetch(request).then(function (response) {
        if (url.pathname === SCREEN && response.ok && !response.redirected) {
          var copy = response.clone();
          caches.open(CACHE).then(function (cache) { cache.put(SCREEN, copy); });
        }
        if (response.status >= 502 && response.status <= 504) return keptScreen(response);
        return response;
      }).catch(function () {
        return keptScreen(Response.error());
      })
    );
  }
});
