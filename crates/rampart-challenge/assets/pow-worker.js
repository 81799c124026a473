/* Rampart proof-of-work Web Worker.
 * In:  {challenge, algorithm: "sha256"|"scrypt", difficulty, scrypt: {n_log2, r, p},
 *       start, step, engine?: "subtle"|"js"}
 *      Tries nonces start, start+step, start+2*step, ...
 * Out: {type: "progress", tried}   about every 250 ms (tried = total hashes by this worker)
 *      {type: "found", nonce: "<decimal>", tried}
 *      {type: "error", message}
 * The caller terminates the worker; it never stops by itself unless it errors. */
importScripts("pow-core.js"); // relative to this script: /.rampart/challenge/v1/pow-core.js
var C = self.RampartPowCore;

var BATCH = 512; // concurrent subtle.digest calls per round trip; amortises promise overhead
var CHUNK = 4096; // pure-JS hashes between clock checks

self.onmessage = function (e) {
  run(e.data).then(null, function (err) {
    self.postMessage({ type: "error", message: String((err && err.message) || err) });
  });
};

function run(m) {
  var d = m.difficulty | 0, step = Math.max(1, m.step | 0), tried = 0, last = Date.now();
  var prefix = C.utf8(m.challenge + ":");
  function progress() {
    var now = Date.now();
    if (now - last >= 250) { last = now; self.postMessage({ type: "progress", tried: tried }); }
  }
  function found(n) { self.postMessage({ type: "found", nonce: String(n), tried: tried }); }

  if (m.algorithm === "scrypt") {
    var s = m.scrypt || {}, N = Math.pow(2, s.n_log2), salt = C.utf8("rampart-pow");
    var n = m.start | 0;
    // ~10-50 ms per hash, so one await per hash costs nothing.
    var next = function () {
      return C.scrypt(C.utf8(m.challenge + ":" + n), salt, N, s.r, s.p, 32).then(function (h) {
        tried++;
        if (C.leadingZeroBits(h) >= d) return found(n);
        n += step; progress();
        return next();
      });
    };
    return next();
  }
  if (m.algorithm !== "sha256") return Promise.reject(new Error("unknown algorithm " + m.algorithm));

  // sha256. Measured in Chromium, the pure-JS midstate search is faster than
  // subtle.digest (whose cost is per call, not per byte), so it is the default;
  // subtle is kept for engine: "subtle" (benchmarks / cross-checking).
  if (m.engine === "subtle" && C.subtle) return runSubtle(m, prefix, d, step);
  var search = C.sha256Searcher(prefix), start = m.start | 0;
  return new Promise(function (resolve) {
    // Synchronous loop: nothing else needs this worker's event loop, terminate() still works.
    for (;;) {
      var r = search.search(start, step, CHUNK, d);
      if (r >= 0) { tried += (r - start) / step + 1; found(r); return resolve(); }
      tried += CHUNK; start += CHUNK * step;
      progress();
    }
  });

  function runSubtle() {
    var buf = new Uint8Array(prefix.length + 24), start = m.start | 0;
    buf.set(prefix);
    function round() {
      var ps = new Array(BATCH);
      for (var i = 0; i < BATCH; i++) {
        var str = String(start + i * step), L = prefix.length;
        for (var j = 0; j < str.length; j++) buf[L++] = str.charCodeAt(j);
        // digest() copies its input before returning, so one buffer is reused for all calls.
        ps[i] = C.subtle.digest("SHA-256", buf.subarray(0, L));
      }
      return Promise.all(ps).then(function (hs) {
        for (var i = 0; i < BATCH; i++) {
          if (C.leadingZeroBits(new Uint8Array(hs[i])) >= d) {
            tried += i + 1;
            return found(start + i * step);
          }
        }
        tried += BATCH; start += BATCH * step;
        progress();
        return round();
      });
    }
    return round();
  }
}
