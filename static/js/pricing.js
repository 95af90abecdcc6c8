/* Tillhouse pricing on the device: a port of orders/pricing.py (and the money helpers of core/money.py it stands
   on) that gives the same amounts to the cent, so that a terminal can price and settle a sale without the server.

   Money is never a JavaScript number here. `Decimal` below is the part of Python's decimal module that
   orders/pricing.py uses, on BigInt: a sign, an integer coefficient and a power-of-ten exponent, with Python's
   default context (28 significant digits, ROUND_HALF_EVEN) for +, -, ×, ÷ and the explicit ROUND_HALF_UP of
   quantize(). The exponents follow Python's rules too, so an amount prints as the server prints it ("0" for the tax
   of an untaxed line, "12.50" for a price). orders/tests/e2e/test_pricing_conformance.py runs generated orders
   through both and requires identical results.

   Loaded as a plain script it defines `TillhousePricing`; under CommonJS it is the module's export.

       var pricing = TillhousePricing.forCurrency(2);            // the store's POS_CURRENCY_DECIMALS
       var price = pricing.priceOrder(
         [{unitPrice: "3.50", quantity: "2", taxPercent: "10", modifiersPrice: "0.50"}],
         {pricesIncludeTax: true, serviceChargePercent: "10", serviceChargeBase: "before_tax"}
       );
       price.total.toString();                                   // "8.73"
       pricing.settle(price.total, [{tender: "cash", tendered: "10"}], {cashStep: "0.05"});

   Amounts go in as strings (or Decimals, or whole numbers); a fractional JavaScript number is refused. */
(function (root, factory) {
  "use strict";
  var api = factory();
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.TillhousePricing = api;
})(typeof globalThis !== "undefined" ? globalThis : this, function () {
  "use strict";

  /* --- Decimal --------------------------------------------------------------------------------------------- */

  var PRECISION = 28; // Python's default context
  var ROUND_HALF_UP = "ROUND_HALF_UP";
  var ROUND_HALF_EVEN = "ROUND_HALF_EVEN";
  var ROUND_CEILING = "ROUND_CEILING";
  var ROUND_FLOOR = "ROUND_FLOOR";
  var ROUND_DOWN = "ROUND_DOWN";
  var CONTEXT_ROUNDING = ROUND_HALF_EVEN;
  var TEN = BigInt(10);
  var BIG_ZERO = BigInt(0);
  var BIG_ONE = BigInt(1);
  var BIG_TWO = BigInt(2);
  var BIG_FIVE = BigInt(5);
  var NUMBER = /^\s*([+-])?(?:(\d+(?:_\d+)*)(?:\.(\d+(?:_\d+)*)?)?|\.(\d+(?:_\d+)*))(?:[eE]([+-]?\d+(?:_\d+)*))?\s*$/;

  var POWERS = [BIG_ONE];
  for (var power = 1; power <= 2 * PRECISION + 8; power++) POWERS.push(POWERS[power - 1] * TEN);
  var LIMIT = POWERS[PRECISION]; // the smallest coefficient with more digits than the context keeps

  function pow10(n) {
    return n < POWERS.length ? POWERS[n] : TEN ** BigInt(n);
  }

  function digits(coefficient) {
    return coefficient.toString().length;
  }

  /* The coefficient with its last `drop` digits rounded away (`negative` matters for CEILING and FLOOR). */
  function roundOff(coefficient, drop, rounding, negative) {
    if (drop <= 0) return coefficient * pow10(-drop);
    var divisor = pow10(drop);
    var kept = coefficient / divisor;
    var rest = coefficient % divisor;
    if (rest === BIG_ZERO) return kept;
    var up;
    switch (rounding) {
      case ROUND_HALF_UP:
        up = rest * BIG_TWO >= divisor;
        break;
      case ROUND_HALF_EVEN:
        up = rest * BIG_TWO > divisor || (rest * BIG_TWO === divisor && kept % BIG_TWO === BIG_ONE);
        break;
      case ROUND_CEILING:
        up = !negative;
        break;
      case ROUND_FLOOR:
        up = negative;
        break;
      case ROUND_DOWN:
        up = false;
        break;
      default:
        throw new Error("Unknown rounding " + rounding + ".");
    }
    return up ? kept + BIG_ONE : kept;
  }

  function Decimal(sign, coefficient, exponent) {
    if (!(this instanceof Decimal)) return Decimal.from(sign);
    this.sign = sign; // 1 for negative (a zero may be negative, as in Python)
    this.coefficient = coefficient; // a non-negative BigInt
    this.exponent = exponent; // a JavaScript integer; no method changes a Decimal, each returns a new one
  }

  /* Python's Context._fix for the default context: round to PRECISION significant digits. */
  function fix(sign, coefficient, exponent) {
    if (coefficient >= LIMIT) {
      var drop = digits(coefficient) - PRECISION;
      coefficient = roundOff(coefficient, drop, CONTEXT_ROUNDING, sign === 1);
      exponent += drop;
      if (coefficient >= LIMIT) {
        coefficient = coefficient / TEN;
        exponent += 1;
      }
    }
    return new Decimal(sign, coefficient, exponent);
  }

  Decimal.from = function (value) {
    if (value instanceof Decimal) return value;
    if (typeof value === "bigint") return new Decimal(value < 0 ? 1 : 0, value < 0 ? -value : value, 0);
    if (typeof value === "number") {
      if (!Number.isSafeInteger(value)) {
        throw new TypeError("Money is never a fractional JavaScript number: give " + value + " as a string.");
      }
      return Decimal.from(BigInt(value));
    }
    if (typeof value !== "string") throw new TypeError(String(value) + " is not a number.");
    var match = NUMBER.exec(value);
    if (!match) throw new TypeError(JSON.stringify(value) + " is not a number.");
    var whole = (match[2] || "").replace(/_/g, "");
    var fraction = (match[3] !== undefined ? match[3] : match[4] || "").replace(/_/g, "");
    var exponent = parseInt((match[5] || "0").replace(/_/g, ""), 10) - fraction.length;
    return new Decimal(match[1] === "-" ? 1 : 0, BigInt(whole + fraction || "0"), exponent);
  };

  Decimal.prototype.isZero = function () {
    return this.coefficient === BIG_ZERO;
  };

  Decimal.prototype.isNegative = function () {
    return this.sign === 1 && !this.isZero();
  };

  /* -1, 0 or 1 as `this` is below, equal to or above `other` (by value: -0 equals 0, 1.0 equals 1). */
  Decimal.prototype.compare = function (other) {
    other = Decimal.from(other);
    var a = this.isZero() ? BIG_ZERO : this.sign ? -this.coefficient : this.coefficient;
    var b = other.isZero() ? BIG_ZERO : other.sign ? -other.coefficient : other.coefficient;
    var exponent = Math.min(this.exponent, other.exponent);
    a *= pow10(this.exponent - exponent);
    b *= pow10(other.exponent - exponent);
    return a < b ? -1 : a > b ? 1 : 0;
  };
  Decimal.prototype.eq = function (o) { return this.compare(o) === 0; };
  Decimal.prototype.lt = function (o) { return this.compare(o) < 0; };
  Decimal.prototype.le = function (o) { return this.compare(o) <= 0; };
  Decimal.prototype.gt = function (o) { return this.compare(o) > 0; };
  Decimal.prototype.ge = function (o) { return this.compare(o) >= 0; };

  Decimal.prototype.add = function (other) {
    other = Decimal.from(other);
    var exponent = Math.min(this.exponent, other.exponent);
    var a = this.coefficient * pow10(this.exponent - exponent);
    var b = other.coefficient * pow10(other.exponent - exponent);
    if (this.sign) a = -a;
    if (other.sign) b = -b;
    var sum = a + b;
    if (sum === BIG_ZERO) {
      // Python: two zeros keep a minus only if both have it; opposite amounts cancel to +0.
      var sign = this.isZero() && other.isZero() ? Math.min(this.sign, other.sign) : 0;
      return fix(sign, BIG_ZERO, exponent);
    }
    return fix(sum < 0 ? 1 : 0, sum < 0 ? -sum : sum, exponent);
  };

  Decimal.prototype.neg = function () {
    // Python: -Decimal(0) is 0, not -0 (unless the context rounds to floor).
    if (this.isZero()) return fix(0, BIG_ZERO, this.exponent);
    return fix(1 - this.sign, this.coefficient, this.exponent);
  };

  Decimal.prototype.sub = function (other) {
    other = Decimal.from(other);
    return this.add(new Decimal(1 - other.sign, other.coefficient, other.exponent));
  };

  Decimal.prototype.mul = function (other) {
    other = Decimal.from(other);
    return fix(this.sign ^ other.sign, this.coefficient * other.coefficient, this.exponent + other.exponent);
  };

  /* Python's Decimal.__truediv__: exact when the quotient fits 28 digits (at the exponent nearest the ideal
     `this.exponent - other.exponent`), else correctly rounded to 28 digits. */
  Decimal.prototype.div = function (other) {
    other = Decimal.from(other);
    if (other.isZero()) throw new RangeError("Division by zero.");
    var sign = this.sign ^ other.sign;
    var ideal = this.exponent - other.exponent;
    if (this.isZero()) return fix(sign, BIG_ZERO, ideal);
    var shift = digits(other.coefficient) - digits(this.coefficient) + PRECISION + 1;
    var exponent = ideal - shift;
    var quotient, remainder;
    if (shift >= 0) {
      var scaled = this.coefficient * pow10(shift);
      quotient = scaled / other.coefficient;
      remainder = scaled % other.coefficient;
    } else {
      var divisor = other.coefficient * pow10(-shift);
      quotient = this.coefficient / divisor;
      remainder = this.coefficient % divisor;
    }
    if (remainder !== BIG_ZERO) {
      if (quotient % BIG_FIVE === BIG_ZERO) quotient += BIG_ONE; // a sticky digit: rounds as the exact value would
    } else {
      while (exponent < ideal && quotient % TEN === BIG_ZERO) {
        quotient /= TEN;
        exponent += 1;
      }
    }
    return fix(sign, quotient, exponent);
  };

  /* Python's Decimal._rescale: this value at `exponent`, rounded by `rounding`. */
  function rescale(d, exponent, rounding) {
    if (d.isZero()) return new Decimal(d.sign, BIG_ZERO, exponent);
    return new Decimal(d.sign, roundOff(d.coefficient, exponent - d.exponent, rounding, d.sign === 1), exponent);
  }

  /* Python's Decimal.quantize(exp, rounding) (ROUND_HALF_UP unless told). */
  Decimal.prototype.quantize = function (exp, rounding) {
    var exponent = Decimal.from(exp).exponent;
    rounding = rounding || ROUND_HALF_UP;
    if (this.isZero()) return fix(this.sign, BIG_ZERO, exponent);
    if (digits(this.coefficient) + this.exponent - exponent > PRECISION) {
      throw new RangeError("quantize result has too many digits for current context");
    }
    var result = rescale(this, exponent, rounding);
    if (result.coefficient >= LIMIT) {
      throw new RangeError("quantize result has too many digits for current context");
    }
    return result;
  };

  Decimal.prototype.toIntegralValue = function (rounding) {
    if (this.exponent >= 0) return this;
    return rescale(this, 0, rounding || CONTEXT_ROUNDING);
  };

  /* Python's int(): the whole part, rounded toward zero, as a BigInt. */
  Decimal.prototype.toBigInt = function () {
    var whole = this.exponent >= 0
      ? this.coefficient * pow10(this.exponent)
      : this.coefficient / pow10(-this.exponent);
    return this.sign ? -whole : whole;
  };

  Decimal.prototype.copyAbs = function () {
    return new Decimal(0, this.coefficient, this.exponent);
  };

  /* Python's str(): scientific notation only for very large or very small exponents ("1E+2", "1E-7"). */
  Decimal.prototype.toString = function () {
    var text = this.coefficient.toString();
    var leftDigits = this.exponent + text.length;
    var dot = this.exponent <= 0 && leftDigits > -6 ? leftDigits : 1;
    var whole, fraction;
    if (dot <= 0) {
      whole = "0";
      fraction = "." + "0".repeat(-dot) + text;
    } else if (dot >= text.length) {
      whole = text + "0".repeat(dot - text.length);
      fraction = "";
    } else {
      whole = text.slice(0, dot);
      fraction = "." + text.slice(dot);
    }
    var exp = leftDigits === dot ? "" : "E" + (leftDigits - dot >= 0 ? "+" : "") + (leftDigits - dot);
    return (this.sign ? "-" : "") + whole + fraction + exp;
  };

  /* Python's format(d, "f") (or ",f" with `grouped`): fixed point at the value's own exponent. */
  Decimal.prototype.toFixedString = function (grouped) {
    var d = this;
    if (d.isZero() && d.exponent > 0) d = rescale(d, 0, CONTEXT_ROUNDING);
    var text = d.coefficient.toString();
    var dot = d.exponent + text.length;
    var whole, fraction;
    if (dot < 0) {
      whole = "0";
      fraction = "0".repeat(-dot) + text;
    } else if (dot > text.length) {
      whole = text + "0".repeat(dot - text.length);
      fraction = "";
    } else {
      whole = text.slice(0, dot) || "0";
      fraction = text.slice(dot);
    }
    if (grouped) whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (d.sign ? "-" : "") + whole + (fraction ? "." + fraction : "");
  };

  Decimal.prototype.toJSON = function () {
    return this.toString();
  };

  /* A dictionary key for a value: equal values (10, 10.0, 1E+1) have the same key, as Python's hash makes them. */
  Decimal.prototype.key = function () {
    if (this.isZero()) return "0";
    var coefficient = this.coefficient;
    var exponent = this.exponent;
    while (coefficient % TEN === BIG_ZERO) {
      coefficient /= TEN;
      exponent += 1;
    }
    return (this.sign ? "-" : "") + coefficient.toString() + "e" + exponent;
  };

  function D(value) {
    return Decimal.from(value);
  }

  /* Python's builtins min() and max() over two values: the first unless the second is strictly smaller/larger. */
  function min(a, b) {
    return b.lt(a) ? b : a;
  }

  function max(a, b) {
    return b.gt(a) ? b : a;
  }

  function sum(values, start) {
    return values.reduce(function (total, value) { return total.add(value); }, start);
  }

  /* --- core.money ------------------------------------------------------------------------------------------ */

  var ZERO = D("0");
  var HUNDRED = D(100);
  var ONE = D(1);

  function money(places) {
    if (!Number.isSafeInteger(places) || places < 0) throw new RangeError("Currency decimals must be 0 or more.");
    var exponent = new Decimal(0, BIG_ONE, -places); // Decimal(1).scaleb(-places)

    function quantize(amount) {
      return D(amount).quantize(exponent, ROUND_HALF_UP);
    }

    function unsignedZero(amount) {
      amount = quantize(amount);
      return amount.isZero() ? amount.copyAbs() : amount;
    }

    function moneyText(amount, options) {
      options = options || {};
      amount = unsignedZero(D(amount));
      var text = amount.toFixedString(Boolean(options.grouped));
      return options.sign && amount.gt(ZERO) ? "+" + text : text;
    }

    function hasMorePlacesThanCurrency(amount) {
      amount = D(amount);
      return !amount.eq(amount.quantize(exponent, ROUND_HALF_UP));
    }

    return {
      places: places,
      currencyExponent: function () { return exponent; },
      quantize: quantize,
      unsignedZero: unsignedZero,
      moneyText: moneyText,
      hasMorePlacesThanCurrency: hasMorePlacesThanCurrency,
    };
  }

  /* --- orders.pricing -------------------------------------------------------------------------------------- */

  var PERCENT = "percent";
  var AMOUNT = "amount";
  var BEFORE_TAX = "before_tax";
  var AFTER_TAX = "after_tax";
  var SERVICE_CHARGE_BASES = [BEFORE_TAX, AFTER_TAX];
  var CASH = "cash";
  var NOTES = [D(5), D(10), D(20), D(50), D(100)];

  function TenderError(message, field) {
    var error = new Error(message);
    error.name = "TenderError";
    error.field = field || "tenders";
    Object.setPrototypeOf(error, TenderError.prototype);
    return error;
  }
  TenderError.prototype = Object.create(Error.prototype);
  TenderError.prototype.constructor = TenderError;

  function pyRepr(text) {
    return "'" + String(text).replace(/\\/g, "\\\\").replace(/'/g, "\\'") + "'";
  }

  /* Python's str.title() for the tender names: a capital after anything that is not a letter. */
  function title(text) {
    return String(text).toLowerCase().replace(/(^|[^a-z])([a-z])/g, function (_, before, letter) {
      return before + letter.toUpperCase();
    });
  }

  function optional(value) {
    return value === undefined || value === null ? null : D(value);
  }

  /* What a line's modifiers add to its unit price (orders.services.totals.modifiers_price): the sum of the chosen
     options' prices, [{price: "0.50"}, ...]. */
  function modifiersPrice(modifiers) {
    return sum(modifiers.map(function (m) { return D(m.price); }), ZERO);
  }

  /* One line as orders.pricing.LineInput, from {unitPrice, quantity, taxPercent, modifiersPrice, discountKind,
     discountValue}. */
  function lineInput(line) {
    return {
      unitPrice: D(line.unitPrice),
      quantity: D(line.quantity),
      taxPercent: D(line.taxPercent),
      modifiersPrice: line.modifiersPrice === undefined ? ZERO : D(line.modifiersPrice),
      discountKind: line.discountKind || "",
      discountValue: line.discountValue === undefined ? ZERO : D(line.discountValue),
    };
  }

  function forCurrency(places) {
    var m = money(places);
    var quantize = m.quantize;

    /* A discount off `base`, never negative and never more than `base`. */
    function discountAmount(base, kind, value) {
      base = D(base);
      value = D(value);
      if (!kind || value.le(ZERO) || base.le(ZERO)) return ZERO;
      var amount;
      if (kind === PERCENT) amount = quantize(base.mul(min(value, HUNDRED)).div(HUNDRED));
      else if (kind === AMOUNT) amount = quantize(value);
      else throw new Error("Unknown discount kind " + pyRepr(kind) + ".");
      return min(amount, base);
    }

    /* The tax in (inclusive) or on top of (exclusive) a line's net amount. */
    function lineTax(net, percent, pricesIncludeTax) {
      net = D(net);
      percent = D(percent);
      if (percent.isZero()) return ZERO;
      if (pricesIncludeTax) return quantize(net.mul(percent).div(HUNDRED.add(percent)));
      return quantize(net.mul(percent).div(HUNDRED));
    }

    /* Share `amount` over `weights` in proportion, in the currency's smallest units, adding up exactly (largest
       remainder, ties to the earliest). */
    function allocate(amount, weights) {
      var unit = m.currencyExponent();
      amount = quantize(amount);
      weights = weights.map(D);
      var totalWeight = sum(weights.filter(function (w) { return w.gt(ZERO); }), ZERO);
      if (!weights.length) {
        if (!amount.isZero()) throw new Error("Cannot share a non-zero amount over nothing.");
        return [];
      }
      if (totalWeight.le(ZERO)) {
        if (!amount.isZero()) throw new Error("Cannot share a non-zero amount over zero weights.");
        return weights.map(function () { return ZERO; });
      }
      var units = amount.div(unit).toBigInt();
      var exact = weights.map(function (w) { return D(units).mul(max(w, ZERO)).div(totalWeight); });
      var floors = exact.map(function (x) { return x.toBigInt(); });
      var left = units - floors.reduce(function (a, b) { return a + b; }, BIG_ZERO);
      var remainders = exact.map(function (x, i) { return x.sub(D(floors[i])).neg(); });
      var order = weights.map(function (_, i) { return i; });
      order.sort(function (i, j) { return remainders[i].compare(remainders[j]) || i - j; });
      order.slice(0, Number(left)).forEach(function (i) { floors[i] += BIG_ONE; }); // Python's order[:left]
      return floors.map(function (n) { return quantize(D(n).mul(unit)); });
    }

    /* What an order costs (orders.pricing.price_order): `lines` as lineInput() takes them; `options` are
       {pricesIncludeTax, discountKind, discountValue, serviceChargePercent, serviceChargeBase}. */
    function priceOrder(lines, options) {
      options = options || {};
      var pricesIncludeTax = Boolean(options.pricesIncludeTax);
      var discountKind = options.discountKind || "";
      var discountValue = options.discountValue === undefined ? ZERO : D(options.discountValue);
      var servicePercent = options.serviceChargePercent === undefined ? ZERO : D(options.serviceChargePercent);
      var serviceBase = options.serviceChargeBase === undefined ? BEFORE_TAX : options.serviceChargeBase;
      if (SERVICE_CHARGE_BASES.indexOf(serviceBase) < 0) {
        throw new Error("Unknown service charge base " + pyRepr(serviceBase) + ".");
      }
      lines = lines.map(lineInput);
      var grosses = lines.map(function (line) {
        return quantize(line.unitPrice.add(line.modifiersPrice).mul(line.quantity));
      });
      var ownDiscounts = lines.map(function (line, i) {
        return discountAmount(grosses[i], line.discountKind, line.discountValue);
      });
      var lineTotals = grosses.map(function (gross, i) { return gross.sub(ownDiscounts[i]); });
      var orderDiscount = discountAmount(sum(lineTotals, ZERO), discountKind, discountValue);
      var orderShares = allocate(orderDiscount, lineTotals);
      var nets = lineTotals.map(function (total, i) { return total.sub(orderShares[i]); });
      var taxes = lines.map(function (line, i) { return lineTax(nets[i], line.taxPercent, pricesIncludeTax); });
      var preTax = nets.map(function (net, i) { return pricesIncludeTax ? net.sub(taxes[i]) : net; });
      var withTax = nets.map(function (net, i) { return pricesIncludeTax ? net : net.add(taxes[i]); });
      var base = serviceBase === BEFORE_TAX ? preTax : withTax;
      var serviceCharge = quantize(sum(base, ZERO).mul(max(servicePercent, ZERO)).div(HUNDRED));
      var serviceShares = allocate(serviceCharge, base);

      var priced = [];
      var taxByRate = new Map(); // value key -> [rate as first seen, tax]
      lines.forEach(function (line, i) {
        var due = nets[i].add(pricesIncludeTax ? ZERO : taxes[i]).add(serviceShares[i]);
        priced.push({
          gross: grosses[i],
          discount: ownDiscounts[i],
          lineTotal: lineTotals[i],
          orderDiscount: orderShares[i],
          net: nets[i],
          tax: taxes[i],
          serviceCharge: serviceShares[i],
          amountDue: due,
        });
        var key = line.taxPercent.key();
        var entry = taxByRate.get(key) || [line.taxPercent, ZERO];
        taxByRate.set(key, [entry[0], entry[1].add(taxes[i])]);
      });
      return {
        lines: priced,
        subtotal: sum(grosses, ZERO),
        discountTotal: sum(ownDiscounts, ZERO).add(orderDiscount),
        serviceCharge: serviceCharge,
        taxTotal: sum(taxes, ZERO),
        total: sum(priced.map(function (p) { return p.amountDue; }), ZERO),
        taxByRate: Array.from(taxByRate.values()).map(function (e) { return {rate: e[0], tax: e[1]}; }),
      };
    }

    /* What a cash payment of `amount` comes to at a rounding step (0.05: 12.34 is 12.35; 100: 1050 is 1100). */
    function roundCash(amount, step) {
      amount = D(amount);
      step = step === undefined || step === null ? ZERO : D(step);
      if (step.isZero() || step.le(ZERO)) return quantize(amount);
      return quantize(amount.div(step).quantize(ONE, ROUND_HALF_UP).mul(step));
    }

    /* A tip of `percent` of the order's `total`, in the currency's smallest unit. */
    function tipFromPercent(total, percent) {
      percent = D(percent);
      if (percent.lt(ZERO)) throw new Error("A tip percent cannot be negative.");
      return quantize(D(total).mul(percent).div(HUNDRED));
    }

    /* `amount` in `parts` shares that differ by at most one smallest unit and add up exactly. */
    function splitEvenly(amount, parts) {
      if (!Number.isSafeInteger(parts) || parts < 1) throw new Error("parts must be at least 1.");
      var weights = [];
      for (var i = 0; i < parts; i++) weights.push(ONE);
      return allocate(amount, weights);
    }

    /* What refunding `refundQuantity` of a line gives back: its share of what was paid for it; the last units
       give back exactly what is left. */
    function refundShare(args) {
      var amountDue = D(args.amountDue);
      var quantity = D(args.quantity);
      var refundQuantity = D(args.refundQuantity);
      var left = amountDue.sub(D(args.already));
      if (refundQuantity.ge(quantity)) return left;
      return min(quantize(amountDue.mul(refundQuantity).div(quantity)), left);
    }

    /* The buttons of the pay screen (billing.forms.quick_cash_amounts): the exact amount in cash (rounded to the
       store's cash `step`), then the next round notes above it, four at most. */
    function quickCashAmounts(total, step) {
      total = D(total);
      var amounts = [roundCash(total, step)];
      for (var i = 0; i < NOTES.length; i++) {
        var rounded = quantize(total.div(NOTES[i]).toIntegralValue(ROUND_CEILING).mul(NOTES[i]));
        if (rounded.gt(amounts[amounts.length - 1])) amounts.push(rounded);
        if (amounts.length === 4) break;
      }
      return amounts;
    }

    /* Settle `due` with the tenders ({tender, amount, tendered, tip, tipPercent, reference, guest}): non-cash
       first (never more than what is left), then cash (the only tender that gives change, rounded to
       `options.cashStep`). Returns one settlement per tender in their order; throws TenderError (with `.field`)
       unless the tenders cover `due` exactly. */
    function settle(due, tenders, options) {
      options = options || {};
      var cashStep = options.cashStep === undefined || options.cashStep === null ? ZERO : D(options.cashStep);
      due = D(due);
      var remaining = quantize(due);
      var settled = [];
      var indexed = tenders.map(function (t, i) { return [i, t]; });
      var ordered = indexed.filter(function (p) { return p[1].tender !== CASH; })
        .concat(indexed.filter(function (p) { return p[1].tender === CASH; }));
      ordered.forEach(function (pair) {
        var i = pair[0];
        var t = pair[1];
        var where = "tenders[" + i + "]";
        var reference = t.reference === undefined ? "" : t.reference;
        var guest = t.guest === undefined ? null : t.guest;
        var givenTip = optional(t.tip);
        var tip = optional(t.tipPercent) === null
          ? (givenTip === null || givenTip.isZero() ? ZERO : givenTip)
          : tipFromPercent(due, t.tipPercent);
        if (tip.lt(ZERO)) throw TenderError("A tip cannot be negative.", where + ".tip");
        if (remaining.le(ZERO)) throw TenderError("Nothing is left to pay for this tender.", where);
        var amount;
        if (t.tender !== CASH) {
          amount = optional(t.amount) === null ? remaining : D(t.amount);
          if (amount.le(ZERO)) throw TenderError("A tender's amount must be positive.", where + ".amount");
          if (amount.gt(remaining)) {
            throw TenderError(
              title(t.tender) + " cannot pay more than what is left (" + remaining + "); only cash gives change.",
              where + ".amount"
            );
          }
          remaining = remaining.sub(amount);
          settled.push([i, {
            tender: t.tender, amount: amount, tendered: amount.add(tip), change: ZERO, tip: tip, rounding: ZERO,
            reference: reference, guest: guest,
          }]);
          return;
        }
        var cashDue = roundCash(remaining, cashStep);
        var tendered = optional(t.tendered) === null ? cashDue.add(tip) : D(t.tendered);
        if (tendered.lt(ZERO) || (tendered.isZero() && cashDue.gt(ZERO))) {
          throw TenderError("Cash tendered must be positive.", where + ".tendered");
        }
        var rounding, change;
        if (tendered.sub(tip).ge(cashDue)) {
          amount = remaining;
          rounding = cashDue.sub(remaining);
          change = tendered.sub(tip).sub(cashDue);
        } else if (tendered.sub(tip).ge(remaining)) {
          throw TenderError(
            "Cash is paid in steps of " + quantize(cashStep) + " here: " + cashDue + " is due in cash.",
            where + ".tendered"
          );
        } else {
          if (!tip.isZero()) throw TenderError("A cash tip needs the cash to cover what is due.", where + ".tip");
          amount = tendered;
          rounding = ZERO;
          change = ZERO;
        }
        remaining = remaining.sub(amount);
        settled.push([i, {
          tender: CASH, amount: amount, tendered: tendered, change: change, tip: tip, rounding: rounding,
          reference: reference, guest: guest,
        }]);
      });
      if (remaining.gt(ZERO)) throw TenderError("The tenders leave " + remaining + " unpaid.", "tenders");
      settled.sort(function (a, b) { return a[0] - b[0]; });
      return settled.map(function (pair) { return pair[1]; });
    }

    return {
      places: places,
      currencyExponent: m.currencyExponent,
      quantize: quantize,
      unsignedZero: m.unsignedZero,
      moneyText: m.moneyText,
      hasMorePlacesThanCurrency: m.hasMorePlacesThanCurrency,
      discountAmount: discountAmount,
      lineTax: lineTax,
      allocate: allocate,
      priceOrder: priceOrder,
      roundCash: roundCash,
      tipFromPercent: tipFromPercent,
      splitEvenly: splitEvenly,
      refundShare: refundShare,
      quickCashAmounts: quickCashAmounts,
      settle: settle,
    };
  }

  return {
    Decimal: Decimal,
    D: D,
    ZERO: ZERO,
    ROUND_HALF_UP: ROUND_HALF_UP,
    ROUND_HALF_EVEN: ROUND_HALF_EVEN,
    ROUND_CEILING: ROUND_CEILING,
    ROUND_FLOOR: ROUND_FLOOR,
    ROUND_DOWN: ROUND_DOWN,
    PERCENT: PERCENT,
    AMOUNT: AMOUNT,
    BEFORE_TAX: BEFORE_TAX,
    AFTER_TAX: AFTER_TAX,
    CASH: CASH,
    TenderError: TenderError,
    modifiersPrice: modifiersPrice,
    forCurrency: forCurrency,
  };
});
