/* The offline selling screen (/pos/offline/): the POS order screen's layout, driven by the catalogue kept on the
   device (TillhouseOffline) and priced by TillhousePricing (the port of orders/pricing.py), for counter and takeaway
   sales. Pay settles the sale on the device (cash with change, card, other) and queues it; the guest gets the
   provisional reference (terminal code + sequence). The server applies the queue when it is back. */
(function () {
  "use strict";

  var offline = window.TillhouseOffline;
  var P = window.TillhousePricing;
  var root = document.getElementById("offline-screen");
  if (!root || !offline || !P) return;

  var MAX_BUTTONS = 120;
  var doc = null;
  var pricing = null;
  var products = new Map();
  var byCode = new Map();
  var groups = new Map();
  var lines = [];
  var channel = "retail";
  var category = null;
  var tender = "cash";
  var staff = null;
  var busy = false;

  var $ = function (selector, scope) { return (scope || document).querySelector(selector); };
  var $$ = function (selector, scope) { return Array.prototype.slice.call((scope || document).querySelectorAll(selector)); };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs[name];
      else if (name === "className") node.className = attrs[name];
      else if (name.indexOf("data-") === 0 || name.indexOf("aria-") === 0 || name === "type" || name === "name" ||
               name === "value" || name === "for" || name === "id") node.setAttribute(name, attrs[name]);
      else node[name] = attrs[name];
    });
    (children || []).forEach(function (child) {
      if (child !== null && child !== undefined) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function money(amount) {
    return pricing.moneyText(amount);
  }

  /* --- The catalogue ------------------------------------------------------------------------------------ */

  function load(snapshot) {
    doc = snapshot;
    var cat = snapshot.catalogue;
    pricing = P.forCurrency(cat.settings.currency_exponent);
    products = new Map();
    byCode = new Map();
    cat.products.forEach(function (p) {
      products.set(p.id, p);
      if (p.barcode) byCode.set(String(p.barcode), p);
      if (p.sku) byCode.set(String(p.sku).toLowerCase(), p);
    });
    groups = new Map();
    cat.modifier_groups.forEach(function (g) { groups.set(g.id, g); });
    renderCategories();
    renderProducts();
    renderTicket();
  }

  function settings() {
    return doc.catalogue.settings;
  }

  /* --- Products ------------------------------------------------------------------------------------------ */

  function renderCategories() {
    var nav = $("#offline-categories");
    nav.textContent = "";
    var used = new Set();
    doc.catalogue.products.forEach(function (p) { used.add(p.category); });
    var cats = doc.catalogue.categories.filter(function (c) { return used.has(c.id); });
    if (category === null && cats.length) category = cats[0].id;
    cats.forEach(function (c) {
      nav.appendChild(el("button", {type: "button", className: "btn" + (c.id === category ? " selected" : ""),
        "data-category": String(c.id), text: c.name}));
    });
    if (used.has(null)) {
      nav.appendChild(el("button", {type: "button", className: "btn" + (category === 0 ? " selected" : ""),
        "data-category": "0", text: window.tillText("Other")}));
    }
  }

  function renderProducts(query) {
    var panel = $("#products");
    panel.textContent = "";
    var shown = [];
    var text = (query || "").trim().toLowerCase();
    var list = doc.catalogue.products;
    for (var i = 0; i < list.length && shown.length < MAX_BUTTONS; i++) {
      var p = list[i];
      if (text) {
        if (p.name.toLowerCase().indexOf(text) < 0 && String(p.sku || "").toLowerCase().indexOf(text) < 0 &&
            String(p.barcode || "") !== text) continue;
      } else if ((p.category || 0) !== (category || 0)) {
        continue;
      }
      shown.push(p);
    }
    var fragment = document.createDocumentFragment();
    shown.forEach(function (p) {
      fragment.appendChild(el("button", {type: "button", className: "product-btn", "data-product": p.sku || String(p.id),
        "data-product-id": String(p.id)}, [el("span", {text: p.name}), el("span", {className: "price", text: money(p.price)})]));
    });
    if (!shown.length) {
      fragment.appendChild(el("p", {className: "muted", text: text ? window.tillText("Nothing matches “%s”.", query.trim()) : window.tillText("No products here.")}));
    }
    panel.appendChild(fragment);
    return shown;
  }

  /* --- The ticket ------------------------------------------------------------------------------------------ */

  function lineInputs() {
    return lines.map(function (line) {
      return {
        unitPrice: line.unitPrice,
        quantity: String(line.quantity),
        taxPercent: line.taxPercent,
        modifiersPrice: P.modifiersPrice(line.modifiers),
      };
    });
  }

  function price() {
    return pricing.priceOrder(lineInputs(), {
      pricesIncludeTax: settings().prices_include_tax,
      serviceChargePercent: "0", // counter and takeaway sales carry no service charge (orders.services.orders)
      serviceChargeBase: settings().service_charge_base,
    });
  }

  function say(text, ok) {
    var box = $("#ticket-message");
    box.textContent = "";
    if (text) box.appendChild(el("p", {className: ok ? "ok-box" : "error-box", role: ok ? "status" : "alert", text: text}));
  }

  function scanError(text) {
    var box = $("#scan-message");
    box.textContent = "";
    if (text) box.appendChild(el("p", {className: "error-box", role: "alert", "data-scan-error": "", text: text}));
  }

  function renderTicket() {
    var box = $("#lines");
    box.textContent = "";
    var priced = lines.length ? price() : null;
    lines.forEach(function (line, i) {
      var extra = line.modifiers.length
        ? el("span", {className: "line-extra", text: line.modifiers.map(function (m) { return m.name; }).join(", ")})
        : null;
      var details = el("details", {className: "line", "data-line": String(i)}, [
        el("summary", {}, [
          el("span", {className: "num", text: line.quantity + " ×"}),
          el("span", {className: "line-name"}, [line.name, extra]),
          el("span", {className: "num", text: money(priced.lines[i].lineTotal)}),
        ]),
        el("div", {className: "line-edit row"}, [
          el("button", {type: "button", className: "btn", "data-line-less": String(i), text: "−1"}),
          el("button", {type: "button", className: "btn", "data-line-more": String(i), text: "+1"}),
          el("button", {type: "button", className: "btn btn-warn", "data-line-remove": String(i), text: window.tillText("Remove")}),
        ]),
      ]);
      if (line.open) details.open = true;
      box.appendChild(details);
    });
    if (!lines.length) box.appendChild(el("p", {className: "muted line-edit", text: window.tillText("Tap a product or scan a barcode to add it.")}));
    var totals = $("#totals");
    totals.textContent = "";
    var subtotal = priced ? priced.subtotal : P.ZERO;
    var tax = priced ? priced.taxTotal : P.ZERO;
    var total = priced ? priced.total : P.ZERO;
    totals.appendChild(el("div", {}, [el("span", {text: window.tillText("Subtotal")}), el("span", {className: "num", text: money(subtotal)})]));
    totals.appendChild(el("div", {}, [el("span", {text: settings().prices_include_tax ? window.tillText("Tax (included)") : window.tillText("Tax")}),
      el("span", {className: "num", "data-total": "tax", text: money(tax)})]));
    totals.appendChild(el("div", {className: "grand"}, [el("span", {text: window.tillText("Total")}),
      el("span", {className: "num", "data-total": "total", text: money(total)})]));
    var pay = $("[data-pay]");
    pay.disabled = !lines.length;
    pay.firstChild.textContent = lines.length ? window.tillText("Pay %s", money(total)) : window.tillText("Pay");
  }

  function sameModifiers(a, b) {
    return a.length === b.length && a.every(function (m, i) { return m.option === b[i].option; });
  }

  function addLine(product, modifiers) {
    modifiers = modifiers || [];
    var existing = lines.filter(function (line) {
      return line.product === product.id && sameModifiers(line.modifiers, modifiers);
    })[0];
    if (existing) existing.quantity += 1;
    else {
      lines.push({
        product: product.id,
        name: product.name,
        quantity: 1,
        unitPrice: String(product.price),
        taxPercent: product.tax_percent === null || product.tax_percent === undefined ? "0" : String(product.tax_percent),
        modifiers: modifiers,
      });
    }
    renderTicket();
    say(window.tillText("Added %s.", product.name), true);
    scanError("");
  }

  function tapProduct(product) {
    var ids = product.modifier_groups || [];
    var chosen = ids.map(function (id) { return groups.get(id); }).filter(function (g) { return g && g.options.length; });
    if (chosen.length) openChooser(product, chosen);
    else addLine(product);
  }

  /* --- Modifiers ------------------------------------------------------------------------------------------- */

  function openChooser(product, chosenGroups) {
    var box = $("#chooser");
    box.textContent = "";
    var body = el("div", {className: "chooser-groups"});
    chosenGroups.forEach(function (g) {
      var single = g.max === 1;
      var choices = el("div", {className: "choices"});
      g.options.forEach(function (o) {
        var input = el("input", {type: single ? "radio" : "checkbox", name: "group-" + g.id, value: String(o.id)});
        var label = el("label", {className: "choice"}, [input, o.name + (P.D(o.price).isZero() ? "" : " +" + money(o.price))]);
        choices.appendChild(label);
      });
      body.appendChild(el("fieldset", {className: "choice-group", "data-group": String(g.id)},
        [el("legend", {text: g.name + " (" + g.rule + ")"}), choices]));
    });
    var error = el("p", {className: "error-box", role: "alert", hidden: true});
    var dialog = el("div", {className: "chooser-backdrop"}, [
      el("form", {className: "chooser", "aria-label": window.tillText("Choose for %s", product.name), "data-chooser": ""}, [
        el("strong", {className: "chooser-head", text: product.name}),
        body,
        error,
        el("div", {className: "row"}, [
          el("button", {type: "button", className: "btn grow", "data-chooser-cancel": "", text: window.tillText("Cancel")}),
          el("button", {type: "submit", className: "btn btn-primary grow", text: window.tillText("Add")}),
        ]),
      ]),
    ]);
    box.appendChild(dialog);
    $("[data-chooser-cancel]", dialog).addEventListener("click", function () { box.textContent = ""; });
    $("form", dialog).addEventListener("submit", function (event) {
      event.preventDefault();
      var picked = [];
      var problem = "";
      chosenGroups.forEach(function (g) {
        var ticked = $$("input[name='group-" + g.id + "']:checked", dialog).map(function (i) { return parseInt(i.value, 10); });
        if (ticked.length < g.min || ticked.length > g.max) problem = problem || g.name + ": " + g.rule + ".";
        g.options.forEach(function (o) {
          if (ticked.indexOf(o.id) >= 0) picked.push({option: o.id, name: o.name, price: String(o.price)});
        });
      });
      if (problem) {
        error.textContent = problem;
        error.hidden = false;
        return;
      }
      picked.sort(function (a, b) { return a.option - b.option; });
      box.textContent = "";
      addLine(product, picked);
    });
  }

  /* --- Pay ------------------------------------------------------------------------------------------------ */

  function cashStep() {
    return settings().cash_rounding || "0";
  }

  function openPay() {
    if (!lines.length) return;
    var total = price().total;
    var panel = $("#offline-pay");
    $("[data-due]", panel).textContent = money(total);
    var step = P.D(cashStep());
    var note = $("[data-cash-note]", panel);
    note.hidden = step.isZero();
    if (!step.isZero()) note.textContent = window.tillText("Cash is rounded to %s: %s in cash.", money(step), money(pricing.roundCash(total, step)));
    var quick = $("[data-quick-cash]", panel);
    quick.textContent = "";
    pricing.quickCashAmounts(total, step).forEach(function (amount) {
      quick.appendChild(el("button", {type: "button", className: "btn", "data-cash": money(amount), text: money(amount)}));
    });
    $("#offline-tendered").value = "";
    $("#offline-reference").value = "";
    $("[data-pay-error]", panel).hidden = true;
    chooseTender("cash");
    panel.hidden = false;
    $("#offline-tendered").focus();
  }

  function chooseTender(kind) {
    tender = kind;
    $$("[data-tender]").forEach(function (b) { b.classList.toggle("selected", b.dataset.tender === kind); });
    $("[data-cash-part]").hidden = kind !== "cash";
    $("[data-reference-part]").hidden = kind === "cash";
    showChange();
  }

  function tenders() {
    var total = price().total;
    if (tender === "cash") {
      var text = $("#offline-tendered").value.trim();
      var t = {tender: "cash"};
      if (text) t.tendered = text.replace(",", ".");
      return {total: total, list: [t]};
    }
    return {total: total, list: [{tender: tender, amount: money(total), reference: $("#offline-reference").value.trim()}]};
  }

  function showChange() {
    var out = $("[data-change]");
    out.textContent = "";
    if (tender !== "cash" || !$("#offline-tendered").value.trim()) return;
    try {
      var t = tenders();
      var settled = pricing.settle(t.total, t.list, {cashStep: cashStep()});
      out.textContent = window.tillText("Change %s", money(settled[0].change));
    } catch (error) {
      out.textContent = "";
    }
  }

  function complete() {
    if (busy) return;
    var errorBox = $("[data-pay-error]");
    errorBox.hidden = true;
    var t = tenders();
    var settled;
    try {
      settled = pricing.settle(t.total, t.list, {cashStep: cashStep()});
    } catch (error) {
      errorBox.textContent = error.message;
      errorBox.hidden = false;
      return;
    }
    var priced = price();
    var change = settled.reduce(function (acc, s) { return acc.add(s.change); }, P.ZERO);
    var sale = {
      staff: staff.staff,
      channel: channel,
      lines: lines.map(function (line) {
        return {
          product: line.product,
          quantity: String(line.quantity),
          unit_price: line.unitPrice,
          tax_percent: line.taxPercent,
          modifiers: line.modifiers.map(function (m) { return {option: m.option, price: m.price}; }),
        };
      }),
      tenders: settled.map(function (s) {
        var out = {tender: s.tender};
        if (s.tender === "cash") out.tendered = money(s.tendered);
        else out.amount = money(s.amount);
        if (s.reference) out.reference = s.reference;
        return out;
      }),
      totals: {
        subtotal: money(priced.subtotal),
        discount: money(priced.discountTotal),
        service_charge: money(priced.serviceCharge),
        tax: money(priced.taxTotal),
        total: money(priced.total),
        change: money(change),
      },
    };
    busy = true;
    var shown = {total: sale.totals.total, tendered: money(settled[0].tendered), change: sale.totals.change, tender: tender};
    offline.queueSale(sale, shown).then(function (record) {
      busy = false;
      $("#offline-pay").hidden = true;
      showDone(record, shown);
      lines = [];
      renderTicket();
      say("");
    }, function (error) {
      busy = false;
      errorBox.textContent = window.tillText("The sale could not be kept on this terminal: %s Nothing was queued.", error.message);
      errorBox.hidden = false;
    });
  }

  function showDone(record, shown) {
    var panel = $("#offline-done");
    $("[data-done-reference]", panel).textContent = record.reference;
    panel.dataset.reference = record.reference;
    var totals = $("[data-done-totals]", panel);
    totals.textContent = "";
    totals.appendChild(el("div", {className: "grand"}, [el("span", {text: window.tillText("Total")}), el("span", {className: "num", "data-done": "total", text: shown.total})]));
    totals.appendChild(el("div", {}, [el("span", {text: shown.tender === "cash" ? window.tillText("Cash") : shown.tender === "card" ? window.tillText("Card") : window.tillText("Other")}),
      el("span", {className: "num", "data-done": "tendered", text: shown.tendered})]));
    if (shown.tender === "cash") {
      totals.appendChild(el("div", {className: "change-due"}, [el("span", {text: window.tillText("Change %s", "")}), el("span", {className: "num", "data-done": "change", text: shown.change})]));
    }
    panel.hidden = false;
    $("[data-new-sale]", panel).focus();
  }

  /* --- Wiring ------------------------------------------------------------------------------------------------ */

  function findCode(code) {
    return byCode.get(code) || byCode.get(code.toLowerCase()) || null;
  }

  root.addEventListener("click", function (event) {
    var target = event.target.closest("button");
    if (!target || !doc) return;
    if (target.dataset.productId) tapProduct(products.get(parseInt(target.dataset.productId, 10)));
    else if (target.dataset.category !== undefined) {
      category = parseInt(target.dataset.category, 10);
      $("#scan").value = "";
      renderCategories();
      renderProducts();
    } else if (target.dataset.channel) {
      channel = target.dataset.channel;
      $$("[data-channel]").forEach(function (b) { b.classList.toggle("selected", b === target); });
      $("[data-offline-title]").textContent = channel === "takeaway" ? window.tillText("Takeaway") : window.tillText("Counter sale");
    } else if (target.dataset.lineMore !== undefined || target.dataset.lineLess !== undefined || target.dataset.lineRemove !== undefined) {
      var i = parseInt(target.dataset.lineMore || target.dataset.lineLess || target.dataset.lineRemove, 10);
      if (target.dataset.lineRemove !== undefined) lines.splice(i, 1);
      else if (target.dataset.lineMore !== undefined) lines[i].quantity += 1;
      else if (lines[i].quantity > 1) lines[i].quantity -= 1;
      else lines.splice(i, 1);
      lines.forEach(function (line, j) { line.open = j === i; });
      renderTicket();
    } else if (target.hasAttribute("data-pay")) openPay();
    else if (target.hasAttribute("data-clear")) { lines = []; renderTicket(); say(""); }
  });

  $("[data-offline-search]").addEventListener("submit", function (event) {
    event.preventDefault();
    if (!doc) return;
    var input = $("#scan");
    var code = input.value.trim();
    if (!code) return;
    var product = findCode(code);
    if (!product) {
      var matches = renderProducts(code);
      if (matches.length === 1) product = matches[0];
    }
    input.value = "";
    if (product) {
      renderProducts();
      tapProduct(product);
    } else {
      renderProducts();
      scanError(window.tillText("No product has the code “%s”.", code));
      say("");
    }
  });

  $("#scan").addEventListener("input", function () {
    if (doc) renderProducts(this.value);
  });

  var pay = $("#offline-pay");
  pay.addEventListener("click", function (event) {
    var target = event.target.closest("button");
    if (!target) return;
    if (target.dataset.tender) chooseTender(target.dataset.tender);
    else if (target.dataset.cash) { $("#offline-tendered").value = target.dataset.cash; showChange(); }
    else if (target.hasAttribute("data-pay-cancel")) pay.hidden = true;
    else if (target.hasAttribute("data-pay-complete")) complete();
  });
  $("#offline-tendered").addEventListener("input", showChange);
  $("#offline-tendered").addEventListener("keydown", function (event) {
    if (event.key === "Enter") { event.preventDefault(); complete(); }
  });
  $("[data-new-sale]").addEventListener("click", function () {
    $("#offline-done").hidden = true;
    $("#scan").focus();
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "F10" && pay.hidden && $("#offline-done").hidden) { event.preventDefault(); openPay(); }
  });

  offline.on(function (kind, data) {
    if (kind === "catalogue" && data) {
      var keep = category;
      load(data);
      category = keep;
    }
  });

  Promise.all([offline.device(), offline.catalogue()]).then(function (both) {
    staff = both[0];
    $("[data-offline-staff]").textContent = staff ? staff.staffName : "";
    if (!both[1]) {
      $("#lines").textContent = "";
      $("#lines").appendChild(el("p", {className: "error-box", role: "alert",
        text: window.tillText("This terminal has no catalogue kept yet: it needs the server once before it can sell offline.")}));
      return;
    }
    if (!staff) {
      say(window.tillText("Nobody is signed in on this terminal: sign in once while online."));
      return;
    }
    if (staff.locked) {
      $("#lines").textContent = "";
      $("#lines").appendChild(el("p", {className: "error-box", role: "alert", "data-offline-locked": "",
        text: window.tillText("This terminal is locked: unlock it with your PIN when the server is back.")}));
      return;
    }
    load(both[1]);
    root.dataset.ready = "yes";
  });
})();
