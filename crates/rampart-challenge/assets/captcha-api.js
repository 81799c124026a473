/* Rampart captcha widget, served at /.rampart/captcha/v1/api.js.
 * Drop-in for Turnstile and hCaptcha: window.rampartCaptcha (and window.turnstile /
 * window.hcaptcha when those are free) with render/reset/getResponse/execute/remove/isExpired.
 * The "captcha" is a proof of work solved by /.rampart/challenge/v1/pow.js (and its workers):
 *   GET  /.rampart/captcha/v1/challenge?sitekey=K -> {challenge, algorithm, difficulty, scrypt, expires}
 *   POST /.rampart/captcha/v1/solve {sitekey, challenge, nonce, action?, cdata?} -> {token, expires_in}
 * Script URL options: ?render=explicit (no auto-render), ?onload=fnName. */
(function () {
  "use strict";
  var API = "/.rampart/captcha/v1/", POW_URL = "/.rampart/challenge/v1/pow.js";
  var SVGNS = "http://www.w3.org/2000/svg";
  var KEYS = ["sitekey", "callback", "expired-callback", "error-callback", "action", "cdata", "size",
    "mode", "response-field-name", "theme", "tabindex"];
  var script = document.currentScript ||
    document.querySelector('script[src*="/.rampart/captcha/v1/api.js"]');
  var query = new URL((script && script.src) || location.href, location.href).searchParams;
  var cspNonce = (script && (script.nonce || script.getAttribute("nonce"))) || "";
  var widgets = {}, order = [], byEl = new WeakMap(), seq = 0, readyFns = [], isReady = false;

  /* ---- proof of work: pow.js (the interstitial's solver), loaded on first use ----
   * One solver for both, so a fix to it reaches the widget too. A same-origin script like
   * the workers it starts; it carries the page's CSP nonce as the style does. */
  var powLoaded = null;
  function loadPow() {
    if (window.RampartPow) return Promise.resolve(window.RampartPow);
    if (!powLoaded) {
      powLoaded = new Promise(function (resolve, reject) {
        var s = document.createElement("script");
        s.src = POW_URL;
        s.async = true;
        if (cspNonce) s.setAttribute("nonce", cspNonce);
        s.onload = function () {
          if (window.RampartPow) resolve(window.RampartPow); else reject(new Error("solver-unavailable"));
        };
        s.onerror = function () { s.remove(); reject(new Error("solver-unavailable")); };
        (document.head || document.documentElement).appendChild(s);
      });
      // A failed load is retried by the next solve ("Try again"), not remembered.
      powLoaded.then(null, function () { powLoaded = null; });
    }
    return powLoaded;
  }

  function solve(params, onProgress, signal) {
    return loadPow().then(function (pow) { return pow.solve(params, onProgress, signal); });
  }

  /* ---- styles: injected once, class names prefixed rmpc- ---- */
  var CSS = ".rmpc-box{--rmpc-bg:#fafafa;--rmpc-fg:#1d1d1f;--rmpc-mute:#55555f;--rmpc-bd:#767680;--rmpc-acc:#0b57d0;--rmpc-ok:#1a7f37;" +
    "box-sizing:border-box;display:flex;flex-wrap:wrap;align-items:center;gap:6px 10px;width:300px;max-width:100%;min-height:65px;" +
    "margin:0;padding:8px 10px;border:1px solid var(--rmpc-bd);border-radius:6px;background:var(--rmpc-bg);color:var(--rmpc-fg);" +
    "font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;text-align:left}" +
    ".rmpc-dark{--rmpc-bg:#232326;--rmpc-fg:#ececf1;--rmpc-mute:#b9b9c2;--rmpc-bd:#8e8e99;--rmpc-acc:#8ab4f8;--rmpc-ok:#6fdc8c}" +
    "@media (prefers-color-scheme:dark){.rmpc-auto{--rmpc-bg:#232326;--rmpc-fg:#ececf1;--rmpc-mute:#b9b9c2;--rmpc-bd:#8e8e99;--rmpc-acc:#8ab4f8;--rmpc-ok:#6fdc8c}}" +
    ".rmpc-compact{width:160px;min-height:140px;flex-direction:column;align-items:stretch}" +
    ".rmpc-row{display:flex;align-items:center;gap:10px;flex:1 1 auto;min-width:0;margin:0;padding:4px;border:0;border-radius:4px;" +
    "background:none;color:inherit;font:inherit;text-align:left}" +
    "button.rmpc-row{cursor:pointer}.rmpc-row[aria-disabled=true]{cursor:default}" +
    ".rmpc-cb{flex:none;display:flex;align-items:center;justify-content:center;box-sizing:border-box;width:24px;height:24px;" +
    "border:2px solid var(--rmpc-bd);border-radius:4px;background:var(--rmpc-bg)}" +
    ".rmpc-cb svg{display:none;width:18px;height:18px}" +
    ".rmpc-done .rmpc-cb{border-color:var(--rmpc-ok);color:var(--rmpc-ok)}.rmpc-done .rmpc-cb svg{display:block}" +
    ".rmpc-brand{margin-left:auto;font-size:11px;color:var(--rmpc-mute)}" +
    ".rmpc-prog{display:block;width:100%;height:6px;margin:0;-webkit-appearance:none;appearance:none;border:1px solid var(--rmpc-bd);" +
    "border-radius:3px;background:var(--rmpc-bg);color:var(--rmpc-acc);overflow:hidden}" +
    ".rmpc-prog::-webkit-progress-bar{background:var(--rmpc-bg)}.rmpc-prog::-webkit-progress-value{background:var(--rmpc-acc)}" +
    ".rmpc-prog::-moz-progress-bar{background:var(--rmpc-acc)}" +
    ".rmpc-status{width:100%;margin:0;font-size:13px}.rmpc-status:empty{display:none}" +
    ".rmpc-retry{font:inherit;padding:4px 12px;border:1px solid var(--rmpc-acc);border-radius:4px;background:var(--rmpc-bg);color:inherit;cursor:pointer}" +
    ".rmpc-box button:focus-visible{outline:3px solid var(--rmpc-acc);outline-offset:2px}" +
    ".rmpc-box [hidden]{display:none!important}" +
    "@media (prefers-reduced-motion:no-preference){.rmpc-solving .rmpc-cb{border-radius:50%;border-top-color:var(--rmpc-acc);" +
    "animation:rmpc-spin .8s linear infinite}@keyframes rmpc-spin{to{transform:rotate(1turn)}}}";

  function injectStyle() {
    if (document.getElementById("rmpc-style")) return;
    var s = document.createElement("style");
    s.id = "rmpc-style";
    if (cspNonce) s.setAttribute("nonce", cspNonce); // pages with a nonce-based CSP
    s.textContent = CSS;
    (document.head || document.documentElement).appendChild(s);
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }

  function checkIcon() {
    var svg = document.createElementNS(SVGNS, "svg"), path = document.createElementNS(SVGNS, "path");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    path.setAttribute("d", "M4.5 12.5l5 5L20 7");
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", "currentColor");
    path.setAttribute("stroke-width", "3");
    svg.appendChild(path);
    return svg;
  }

  /* ---- parameters ---- */
  // JS params win over data-* attributes; both kebab-case and camelCase keys are accepted.
  function readParams(container, params) {
    var o = {};
    for (var i = 0; i < KEYS.length; i++) {
      var k = KEYS[i], camel = k.replace(/-(\w)/g, function (_, c) { return c.toUpperCase(); });
      var v = params[k] != null ? params[k] : params[camel] != null ? params[camel] : container.getAttribute("data-" + k);
      if (v != null && v !== "") o[k] = v;
    }
    return o;
  }

  function call(w, name, arg) {
    var f = w.o[name];
    if (typeof f === "string") f = window[f];
    if (typeof f !== "function") return;
    try { f(arg); } catch (e) { setTimeout(function () { throw e; }); } // report without breaking us
  }

  function find(id) {
    if (id == null) return widgets[order[0]];
    if (typeof id === "string" && widgets[id]) return widgets[id];
    var c = toElement(id);
    return c ? widgets[byEl.get(c)] : undefined;
  }

  function toElement(x) {
    if (typeof x !== "string") return x && x.nodeType === 1 ? x : null;
    var e = document.getElementById(x.charAt(0) === "#" ? x.slice(1) : x); // hCaptcha passes element ids
    if (e) return e;
    try { return document.querySelector(x); } catch (err) { return null; } // Turnstile passes selectors
  }

  /* ---- widget ---- */
  function render(container, params) {
    var c = toElement(container);
    if (!c) throw new Error("rampartCaptcha.render: container not found: " + container);
    var old = byEl.get(c);
    if (old && widgets[old]) return old;
    var o = readParams(c, params || {}), id = "rmpc-" + (++seq);
    var mode = o.size === "invisible" || o.mode === "invisible" ? "invisible" :
      o.mode === "non-interactive" ? "non-interactive" : "managed";
    var w = { id: id, c: c, o: o, mode: mode, token: "", expired: false, state: "", gen: 0, waiters: [] };

    // Hidden response fields inside the container so they post with the enclosing form.
    var names = [o["response-field-name"] || "rampart-captcha-response"], cl = c.classList;
    if (cl.contains("cf-turnstile")) names.push("cf-turnstile-response");
    if (cl.contains("h-captcha")) names.push("h-captcha-response", "g-recaptcha-response");
    w.inputs = [];
    for (var i = 0; i < names.length; i++) {
      if (names.indexOf(names[i]) !== i) continue;
      var inp = el("input");
      inp.type = "hidden"; inp.name = names[i]; inp.value = "";
      w.inputs.push(inp);
      c.appendChild(inp);
    }

    if (mode !== "invisible") {
      injectStyle();
      var theme = o.theme === "light" || o.theme === "dark" ? o.theme : "auto";
      w.box = el("div", "rmpc-box rmpc-" + (o.size === "compact" ? "compact" : "normal") + " rmpc-" + theme);
      w.row = el(mode === "managed" ? "button" : "div", "rmpc-row");
      var cb = el("span", "rmpc-cb");
      cb.appendChild(checkIcon());
      w.label = el("span", "rmpc-label");
      w.row.appendChild(cb); w.row.appendChild(w.label);
      w.box.appendChild(w.row);
      if (mode === "managed") {
        w.row.type = "button";
        w.button = w.row;
      } else {
        w.button = el("button", "rmpc-retry", "Try again");
        w.button.type = "button";
        w.box.appendChild(w.button);
      }
      if (o.tabindex != null) w.button.tabIndex = +o.tabindex;
      w.button.addEventListener("click", function () {
        if (w.state !== "solving" && w.state !== "done") start(w);
      });
      w.box.appendChild(el("span", "rmpc-brand", "Protected by Rampart"));
      w.prog = el("progress", "rmpc-prog");
      w.prog.max = 100; w.prog.value = 0;
      w.prog.setAttribute("aria-label", "Verification progress");
      w.box.appendChild(w.prog);
      w.status = el("p", "rmpc-status");
      w.status.setAttribute("role", "status");
      w.status.setAttribute("aria-live", "polite");
      w.box.appendChild(w.status);
      c.appendChild(w.box);
    }

    widgets[id] = w; order.push(id); byEl.set(c, id);
    if (mode === "managed") show(w, "idle", "");
    else start(w);
    return id;
  }

  // state: idle | solving | done | error
  function show(w, state, status) {
    w.state = state;
    if (!w.box) return;
    w.box.className = w.box.className.replace(/ rmpc-(idle|solving|done|error)/g, "") + " rmpc-" + state;
    w.label.textContent = state === "solving" ? "Verifying…" : state === "done" ? "Success" :
      state === "error" ? (w.mode === "managed" ? "Try again" : "Not verified") : "Verify you are human";
    // aria-disabled (not disabled) keeps keyboard focus on the button while it is busy.
    if (w.mode === "managed") w.button.setAttribute("aria-disabled", String(state === "solving" || state === "done"));
    else w.button.hidden = state !== "error";
    w.prog.hidden = state !== "solving";
    if (state === "solving") w.prog.value = 0;
    w.status.textContent = status;
  }

  function setToken(w, t) {
    w.token = t;
    for (var i = 0; i < w.inputs.length; i++) w.inputs[i].value = t;
  }

  function cancel(w) {
    w.gen++;
    if (w.abort) { w.abort.abort(); w.abort = null; }
    clearTimeout(w.timer);
  }

  function fetchJson(url, body, signal) {
    var init = { credentials: "same-origin", cache: "no-store", signal: signal };
    if (body) { init.method = "POST"; init.headers = { "Content-Type": "application/json" }; init.body = JSON.stringify(body); }
    return fetch(url, init).then(function (r) {
      return r.json().then(null, function () { return {}; }).then(function (j) {
        if (!r.ok || j.error) throw new Error(j.error || "http-" + r.status);
        return j;
      });
    }, function () { throw new Error("network-error"); });
  }

  function start(w) {
    cancel(w);
    var gen = w.gen, ac = typeof AbortController !== "undefined" ? new AbortController() : null;
    w.abort = ac;
    setToken(w, "");
    show(w, "solving", "Verifying you are human. This takes a few seconds.");
    if (!w.o.sitekey) return failed(w, gen, new Error("missing-sitekey"));
    var signal = ac && ac.signal;
    fetchJson(API + "challenge?sitekey=" + encodeURIComponent(w.o.sitekey), null, signal).then(function (ch) {
      return solve(ch, function (tried, expected) {
        if (w.prog && gen === w.gen) w.prog.value = Math.min(99, Math.floor(100 * tried / expected));
      }, signal).then(function (nonce) {
        var body = { sitekey: String(w.o.sitekey), challenge: ch.challenge, nonce: nonce };
        if (w.o.action) body.action = String(w.o.action);
        if (w.o.cdata) body.cdata = String(w.o.cdata);
        return fetchJson(API + "solve", body, signal);
      });
    }).then(function (r) {
      if (gen !== w.gen) return;
      w.abort = null; w.expired = false;
      setToken(w, r.token);
      show(w, "done", "Success! You are verified.");
      w.timer = setTimeout(function () { expire(w); }, (+r.expires_in || 300) * 1000);
      settle(w, null);
      call(w, "callback", r.token);
    }, function (err) { failed(w, gen, err); });
  }

  function failed(w, gen, err) {
    if (gen !== w.gen) return; // superseded by reset/remove
    w.abort = null;
    var code = (err && err.message) || "error";
    show(w, "error", "Verification failed (" + code + "). " +
      (w.mode === "managed" ? "Press \u201cTry again\u201d." : "Press \u201cTry again\u201d or reload the page."));
    settle(w, code);
    call(w, "error-callback", code);
  }

  function expire(w) {
    var old = w.token;
    setToken(w, "");
    w.expired = true;
    call(w, "expired-callback", old);
    if (w.mode === "managed") show(w, "idle", "Verification expired. Verify again to continue.");
    else start(w);
  }

  // Resolve/reject promises handed out by execute(id, {async: true}) (hCaptcha style).
  function settle(w, errCode) {
    var ws = w.waiters;
    w.waiters = [];
    for (var i = 0; i < ws.length; i++) {
      if (errCode) ws[i].reject(errCode); else ws[i].resolve({ response: w.token, key: "" });
    }
  }

  /* ---- public API ---- */
  var api = {
    render: render,
    reset: function (id) {
      var w = find(id);
      if (!w) return;
      cancel(w);
      setToken(w, "");
      w.expired = false;
      if (w.mode === "managed") show(w, "idle", ""); else start(w);
    },
    remove: function (id) {
      var w = find(id);
      if (!w) return;
      cancel(w);
      settle(w, "widget-removed");
      for (var i = 0; i < w.inputs.length; i++) w.inputs[i].remove();
      if (w.box) w.box.remove();
      delete widgets[w.id];
      order.splice(order.indexOf(w.id), 1);
      byEl.delete(w.c);
    },
    getResponse: function (id) { var w = find(id); return w ? w.token : ""; },
    isExpired: function (id) { var w = find(id); return !!(w && w.expired); },
    execute: function (id, opts) {
      var w = find(id);
      if (!w) return opts && opts.async ? Promise.reject("invalid-widget") : undefined;
      var p = opts && opts.async ? new Promise(function (resolve, reject) { w.waiters.push({ resolve: resolve, reject: reject }); }) : undefined;
      if (w.token) { settle(w, null); call(w, "callback", w.token); } // already solved
      else if (w.state !== "solving") start(w);
      return p;
    },
    ready: function (fn) { if (isReady) fn(); else readyFns.push(fn); } // turnstile.ready()
  };
  window.rampartCaptcha = api;
  if (!window.turnstile) window.turnstile = api;
  if (!window.hcaptcha) window.hcaptcha = api;

  function boot() {
    if (query.get("render") !== "explicit") {
      var els = document.querySelectorAll(".rampart-captcha, .cf-turnstile, .h-captcha");
      for (var i = 0; i < els.length; i++) {
        try { render(els[i]); } catch (e) { setTimeout(function () { throw e; }); }
      }
    }
    isReady = true;
    while (readyFns.length) {
      try { readyFns.shift()(); } catch (e) { setTimeout(function () { throw e; }); }
    }
    var onload = query.get("onload");
    if (onload && typeof window[onload] === "function") window[onload]();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
