/* Rampart proof-of-work solver: runs pow-worker.js on up to 4 cores.
 * RampartPow.solve(params, onProgress?, signal?) -> Promise<nonce decimal string>
 *   params: {challenge, algorithm, difficulty, scrypt: {n_log2, r, p}} (the page JSON)
 *   onProgress(tried, expected): tried = hashes so far over all workers,
 *     expected = 2^difficulty (mean number of tries needed)
 *   signal: optional AbortSignal; aborting terminates the workers and rejects.
 * Also the captcha widget's solver: captcha-api.js loads this file when a widget first solves. */
(function () {
  "use strict";
  var WORKER_URL = "/.rampart/challenge/v1/pow-worker.js";

  function solve(params, onProgress, signal) {
    return new Promise(function (resolve, reject) {
      var count = Math.max(1, Math.min(navigator.hardwareConcurrency || 2, 4));
      var workers = [], tried = [], done = false, expected = Math.pow(2, params.difficulty);
      function finish() {
        done = true;
        for (var i = 0; i < workers.length; i++) workers[i].terminate();
      }
      function fail(err) { if (!done) { finish(); reject(err); } }
      if (signal) {
        if (signal.aborted) return fail(new Error("aborted"));
        signal.addEventListener("abort", function () { fail(new Error("aborted")); });
      }
      if (typeof Worker === "undefined") return fail(new Error("Web Workers are not available"));
      function listen(w, idx) {
        w.onmessage = function (e) {
          var m = e.data;
          if (done) return;
          if (m.type === "error") return fail(new Error(m.message));
          tried[idx] = m.tried;
          if (m.type === "found") { finish(); resolve(m.nonce); return; }
          if (onProgress) {
            var sum = 0;
            for (var i = 0; i < tried.length; i++) sum += tried[i];
            onProgress(sum, expected);
          }
        };
        // Fires when the worker script cannot load (404, CSP worker-src) or throws.
        w.onerror = function (e) {
          if (e.preventDefault) e.preventDefault();
          fail(new Error(e.message || "the verification worker failed to start"));
        };
      }
      try {
        for (var i = 0; i < count; i++) {
          var w = new Worker(WORKER_URL);
          workers.push(w); tried.push(0);
          listen(w, i);
          w.postMessage({
            challenge: params.challenge, algorithm: params.algorithm, difficulty: params.difficulty,
            scrypt: params.scrypt, start: i, step: count
          });
        }
      } catch (err) { fail(err); }
    });
  }

  window.RampartPow = { solve: solve, workerUrl: WORKER_URL };
})();
