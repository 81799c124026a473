/* node --test crates/rampart-challenge/assets/test/ : checks that captcha-api.js solves with
 * pow.js's RampartPow, loading it once (with the page's CSP nonce) and again after a failed
 * load. The DOM is a stub of the few calls the widget makes in invisible mode; the real
 * widget in a browser is crates/rampart/tests/challenge_browser.rs. */
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");

const WIDGET = fs.readFileSync(path.join(__dirname, "..", "captcha-api.js"), "utf8");

function element(tag) {
  const attrs = {};
  return {
    tag, nodeType: 1, children: [],
    setAttribute(k, v) { attrs[k] = String(v); },
    getAttribute(k) { return k in attrs ? attrs[k] : null; },
    appendChild(c) { this.children.push(c); return c; },
    remove() { this.removed = true; },
    classList: { contains: () => false },
  };
}

/* A page with the widget's script tag; its fetch answers the challenge and the solve. */
function page() {
  const head = element("head");
  const scripts = [];
  head.appendChild = (c) => { if (c.tag === "script") scripts.push(c); return c; };
  const window = {
    fetch: async (url) => ({
      ok: true, status: 200,
      json: async () => (url.endsWith("/solve") ? { token: "tok", expires_in: 300 } :
        { challenge: "c1", algorithm: "sha256", difficulty: 4 }),
    }),
    setTimeout: () => 0, clearTimeout: () => {}, URL, WeakMap, Promise, Error, Math, String, JSON,
    encodeURIComponent, AbortController,
    location: { href: "https://shop.test/contact" },
  };
  window.window = window;
  window.document = {
    readyState: "complete", head, documentElement: head,
    currentScript: Object.assign(element("script"), {
      src: "https://shop.test/.rampart/captcha/v1/api.js?render=explicit", nonce: "n0nce",
    }),
    createElement: element,
    getElementById: () => null,
    querySelector: () => null,
    querySelectorAll: () => [],
  };
  vm.runInNewContext(WIDGET, window);
  return { window, scripts };
}

function solver(calls) {
  return { solve: async (params, onProgress, signal) => { calls.push(params.challenge); return "42"; } };
}

/* An invisible widget, which starts solving as soon as it is rendered; its token. */
function widget(window) {
  return new Promise((resolve, reject) => {
    const container = element("div");
    window.rampartCaptcha.render(container, {
      sitekey: "rk_x", size: "invisible", callback: resolve, "error-callback": reject,
    });
  });
}

const tick = () => new Promise((r) => setImmediate(r));

test("widgets load pow.js once, with the page's nonce, and solve with RampartPow", async () => {
  const { window, scripts } = page();
  const first = widget(window), second = widget(window);
  await tick();
  assert.equal(scripts.length, 1, "one script element for both widgets");
  assert.equal(scripts[0].src, "/.rampart/challenge/v1/pow.js");
  assert.equal(scripts[0].getAttribute("nonce"), "n0nce");
  const calls = [];
  window.RampartPow = solver(calls);
  scripts[0].onload();
  assert.deepEqual(await Promise.all([first, second]), ["tok", "tok"]);
  assert.deepEqual(calls, ["c1", "c1"]);
});

test("a failed load fails the widget, and trying again loads pow.js again", async () => {
  const { window, scripts } = page();
  const failed = widget(window);
  await tick();
  scripts[0].onerror();
  await assert.rejects(failed, (code) => code === "solver-unavailable");
  assert.ok(scripts[0].removed, "the failed script element is taken out");
  const retried = widget(window);
  await tick();
  assert.equal(scripts.length, 2);
  window.RampartPow = solver([]);
  scripts[1].onload();
  assert.equal(await retried, "tok");
});

test("a page that already has RampartPow loads nothing", async () => {
  const { window, scripts } = page();
  window.RampartPow = solver([]);
  assert.equal(await widget(window), "tok");
  assert.equal(scripts.length, 0);
});
