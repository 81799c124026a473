/* Rampart proof-of-work hashing core: SHA-256, HMAC/PBKDF2-SHA256 and scrypt
 * (RFC 7914) in plain JS, plus leading-zero-bit checks.
 * Loaded by pow-worker.js with importScripts() (defines self.RampartPowCore)
 * and by the Node tests with require() (module.exports). No dependencies. */
(function (root, factory) {
  var api = factory();
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  else root.RampartPowCore = api;
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  // crypto.subtle only exists in secure contexts (https or localhost); the
  // pure-JS code below is the fallback for plain-HTTP sites.
  var subtle = (typeof crypto !== "undefined" && crypto && crypto.subtle) || null;
  var enc = new TextEncoder();
  function utf8(s) { return enc.encode(s); }

  /* ---------- SHA-256 (FIPS 180-4) ---------- */
  var K = new Int32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);
  var IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

  // Load 16 big-endian words of block b[o..o+64) into W.
  function load(W, b, o) {
    for (var i = 0; i < 16; i++, o += 4) W[i] = b[o] << 24 | b[o + 1] << 16 | b[o + 2] << 8 | b[o + 3];
  }

  // One compression of the block already loaded in W[0..16) into state H.
  function compress(H, W) {
    var i, x, y;
    for (i = 16; i < 64; i++) {
      x = W[i - 15]; y = W[i - 2];
      W[i] = (W[i - 16] + ((x >>> 7 | x << 25) ^ (x >>> 18 | x << 14) ^ (x >>> 3)) + W[i - 7] +
        ((y >>> 17 | y << 15) ^ (y >>> 19 | y << 13) ^ (y >>> 10))) | 0;
    }
    var a = H[0], b = H[1], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7], t1, t2;
    for (i = 0; i < 64; i++) {
      t1 = (h + ((e >>> 6 | e << 26) ^ (e >>> 11 | e << 21) ^ (e >>> 25 | e << 7)) +
        ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
      t2 = (((a >>> 2 | a << 30) ^ (a >>> 13 | a << 19) ^ (a >>> 22 | a << 10)) +
        ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    H[0] = (H[0] + a) | 0; H[1] = (H[1] + b) | 0; H[2] = (H[2] + c) | 0; H[3] = (H[3] + d) | 0;
    H[4] = (H[4] + e) | 0; H[5] = (H[5] + f) | 0; H[6] = (H[6] + g) | 0; H[7] = (H[7] + h) | 0;
  }

  // Append the 0x80 byte, zeros and the 64-bit big-endian bit length at byte `len` of buf
  // (buf must be zero from len on); returns the padded length.
  function pad(buf, len, totalLen) {
    var end = (len + 9 + 63) & ~63, hi = Math.floor(totalLen / 0x20000000), lo = (totalLen << 3) >>> 0;
    buf[len] = 0x80;
    buf[end - 8] = hi >>> 24; buf[end - 7] = hi >>> 16; buf[end - 6] = hi >>> 8; buf[end - 5] = hi;
    buf[end - 4] = lo >>> 24; buf[end - 3] = lo >>> 16; buf[end - 2] = lo >>> 8; buf[end - 1] = lo;
    return end;
  }

  function wordsToBytes(H) {
    var out = new Uint8Array(32);
    for (var i = 0; i < 8; i++) {
      out[4 * i] = H[i] >>> 24; out[4 * i + 1] = H[i] >>> 16; out[4 * i + 2] = H[i] >>> 8; out[4 * i + 3] = H[i];
    }
    return out;
  }

  function sha256(data) {
    var n = data.length, buf = new Uint8Array((n + 9 + 63) & ~63), H = new Int32Array(IV), W = new Int32Array(64);
    buf.set(data);
    var end = pad(buf, n, n);
    for (var o = 0; o < end; o += 64) { load(W, buf, o); compress(H, W); }
    return wordsToBytes(H);
  }

  /* ---------- HMAC-SHA256 and PBKDF2 (pure JS fallback) ---------- */
  function hmacSha256(key, msg) {
    if (key.length > 64) key = sha256(key);
    var inner = new Uint8Array(64 + msg.length), outer = new Uint8Array(96);
    for (var i = 0; i < 64; i++) { var k = i < key.length ? key[i] : 0; inner[i] = k ^ 0x36; outer[i] = k ^ 0x5c; }
    inner.set(msg, 64);
    outer.set(sha256(inner), 64);
    return sha256(outer);
  }

  function pbkdf2Sha256(pass, salt, iterations, dkLen) {
    var out = new Uint8Array(dkLen), block = new Uint8Array(salt.length + 4);
    block.set(salt);
    for (var i = 1, pos = 0; pos < dkLen; i++, pos += 32) {
      var s = salt.length;
      block[s] = i >>> 24; block[s + 1] = i >>> 16; block[s + 2] = i >>> 8; block[s + 3] = i;
      var u = hmacSha256(pass, block), t = u.slice();
      for (var c = 1; c < iterations; c++) {
        u = hmacSha256(pass, u);
        for (var j = 0; j < 32; j++) t[j] ^= u[j];
      }
      out.set(t.subarray(0, Math.min(32, dkLen - pos)), pos);
    }
    return out;
  }

  /* ---------- scrypt (RFC 7914) ---------- */
  // Salsa20/8 core, in place on 16 little-endian words.
  function salsa8(B) {
    var x0 = B[0], x1 = B[1], x2 = B[2], x3 = B[3], x4 = B[4], x5 = B[5], x6 = B[6], x7 = B[7],
      x8 = B[8], x9 = B[9], x10 = B[10], x11 = B[11], x12 = B[12], x13 = B[13], x14 = B[14], x15 = B[15], u;
    for (var i = 0; i < 8; i += 2) {
      u = x0 + x12 | 0; x4 ^= u << 7 | u >>> 25; u = x4 + x0 | 0; x8 ^= u << 9 | u >>> 23;
      u = x8 + x4 | 0; x12 ^= u << 13 | u >>> 19; u = x12 + x8 | 0; x0 ^= u << 18 | u >>> 14;
      u = x5 + x1 | 0; x9 ^= u << 7 | u >>> 25; u = x9 + x5 | 0; x13 ^= u << 9 | u >>> 23;
      u = x13 + x9 | 0; x1 ^= u << 13 | u >>> 19; u = x1 + x13 | 0; x5 ^= u << 18 | u >>> 14;
      u = x10 + x6 | 0; x14 ^= u << 7 | u >>> 25; u = x14 + x10 | 0; x2 ^= u << 9 | u >>> 23;
      u = x2 + x14 | 0; x6 ^= u << 13 | u >>> 19; u = x6 + x2 | 0; x10 ^= u << 18 | u >>> 14;
      u = x15 + x11 | 0; x3 ^= u << 7 | u >>> 25; u = x3 + x15 | 0; x7 ^= u << 9 | u >>> 23;
      u = x7 + x3 | 0; x11 ^= u << 13 | u >>> 19; u = x11 + x7 | 0; x15 ^= u << 18 | u >>> 14;
      u = x0 + x3 | 0; x1 ^= u << 7 | u >>> 25; u = x1 + x0 | 0; x2 ^= u << 9 | u >>> 23;
      u = x2 + x1 | 0; x3 ^= u << 13 | u >>> 19; u = x3 + x2 | 0; x0 ^= u << 18 | u >>> 14;
      u = x5 + x4 | 0; x6 ^= u << 7 | u >>> 25; u = x6 + x5 | 0; x7 ^= u << 9 | u >>> 23;
      u = x7 + x6 | 0; x4 ^= u << 13 | u >>> 19; u = x4 + x7 | 0; x5 ^= u << 18 | u >>> 14;
      u = x10 + x9 | 0; x11 ^= u << 7 | u >>> 25; u = x11 + x10 | 0; x8 ^= u << 9 | u >>> 23;
      u = x8 + x11 | 0; x9 ^= u << 13 | u >>> 19; u = x9 + x8 | 0; x10 ^= u << 18 | u >>> 14;
      u = x15 + x14 | 0; x12 ^= u << 7 | u >>> 25; u = x12 + x15 | 0; x13 ^= u << 9 | u >>> 23;
      u = x13 + x12 | 0; x14 ^= u << 13 | u >>> 19; u = x14 + x13 | 0; x15 ^= u << 18 | u >>> 14;
    }
    B[0] += x0; B[1] += x1; B[2] += x2; B[3] += x3; B[4] += x4; B[5] += x5; B[6] += x6; B[7] += x7;
    B[8] += x8; B[9] += x9; B[10] += x10; B[11] += x11; B[12] += x12; B[13] += x13; B[14] += x14; B[15] += x15;
  }

  // BlockMix: XY[0..32r) is B; XY[Yi..Yi+32r) is scratch Y; result back in XY[0..32r).
  function blockMix(XY, Yi, r, X) {
    var i, k, o = (2 * r - 1) * 16;
    for (k = 0; k < 16; k++) X[k] = XY[o + k];
    for (i = 0; i < 2 * r; i++) {
      o = i * 16;
      for (k = 0; k < 16; k++) X[k] ^= XY[o + k];
      salsa8(X);
      XY.set(X, Yi + o);
    }
    // B' = (Y0, Y2, ..., Y2r-2, Y1, Y3, ..., Y2r-1)
    for (i = 0; i < r; i++) {
      XY.copyWithin(i * 16, Yi + 32 * i, Yi + 32 * i + 16);
      XY.copyWithin((i + r) * 16, Yi + 32 * i + 16, Yi + 32 * i + 32);
    }
  }

  // V (128*r*N bytes) is kept between calls: a worker hashes thousands of nonces
  // with the same N and r, and reallocating megabytes each time is slow.
  var vCache = null;
  function roMix(B, N, r, p) {
    var words = 32 * r, XY = new Int32Array(2 * words), X = new Int32Array(16), i, j, k, o, lane;
    var V = vCache && vCache.length === words * N ? vCache : (vCache = new Int32Array(words * N));
    for (lane = 0; lane < p; lane++) {
      o = lane * 128 * r;
      for (i = 0; i < words; i++, o += 4) XY[i] = B[o] | B[o + 1] << 8 | B[o + 2] << 16 | B[o + 3] << 24;
      for (i = 0; i < N; i++) { V.set(XY.subarray(0, words), i * words); blockMix(XY, words, r, X); }
      for (i = 0; i < N; i++) {
        j = (XY[(2 * r - 1) * 16] & (N - 1)) * words; // Integerify mod N (N is a power of two)
        for (k = 0; k < words; k++) XY[k] ^= V[j + k];
        blockMix(XY, words, r, X);
      }
      o = lane * 128 * r;
      for (i = 0; i < words; i++) {
        k = XY[i]; B[o++] = k; B[o++] = k >>> 8; B[o++] = k >>> 16; B[o++] = k >>> 24;
      }
    }
  }

  function checkScrypt(N, r, p) {
    if (!(N > 1) || (N & (N - 1)) !== 0 || N > 0x40000000) throw new Error("scrypt N must be a power of two > 1");
    if (!(r >= 1 && p >= 1) || r * p >= 0x40000000) throw new Error("bad scrypt r/p");
  }

  // Synchronous, pure JS.
  function scryptSync(pass, salt, N, r, p, dkLen) {
    checkScrypt(N, r, p);
    var B = pbkdf2Sha256(pass, salt, 1, 128 * r * p);
    roMix(B, N, r, p);
    return pbkdf2Sha256(pass, B, 1, dkLen);
  }

  // Promise; PBKDF2 steps through crypto.subtle when present (pure JS otherwise or if
  // subtle refuses, e.g. some engines reject an empty PBKDF2 password).
  function scrypt(pass, salt, N, r, p, dkLen, useSubtle) {
    if (useSubtle === false || !subtle) return Promise.resolve().then(function () { return scryptSync(pass, salt, N, r, p, dkLen); });
    checkScrypt(N, r, p);
    var alg = function (s) { return { name: "PBKDF2", hash: "SHA-256", salt: s, iterations: 1 }; };
    return subtle.importKey("raw", pass, "PBKDF2", false, ["deriveBits"]).then(function (key) {
      return subtle.deriveBits(alg(salt), key, 128 * r * p * 8).then(function (bits) {
        var B = new Uint8Array(bits);
        roMix(B, N, r, p);
        return subtle.deriveBits(alg(B), key, dkLen * 8);
      });
    }).then(function (bits) { return new Uint8Array(bits); },
      function () { return scryptSync(pass, salt, N, r, p, dkLen); });
  }

  /* ---------- proof of work helpers ---------- */
  // Leading zero bits of a byte array (bit 7 of byte 0 first).
  function leadingZeroBits(bytes) {
    for (var i = 0, n = 0; i < bytes.length; i++, n += 8) {
      if (bytes[i]) return n + Math.clz32(bytes[i]) - 24;
    }
    return n;
  }

  // True when the state words H (big-endian digest words) start with >= d zero bits.
  function meetsWords(H, d) {
    for (var i = 0; i < H.length; i++, d -= 32) {
      if (d <= 0) return true;
      var z = Math.clz32(H[i]);
      if (z < 32) return z >= d;
    }
    return d <= 0;
  }

  // Fast SHA-256 PoW search over `prefix + decimal(nonce)`: the 64-byte blocks of the
  // prefix are compressed once (midstate); each nonce then costs one or two compressions
  // and no allocation. search(start, step, count, d) returns the first nonce (number)
  // whose hash has >= d leading zero bits, or -1. hash(n) gives the digest (tests).
  function sha256Searcher(prefix) {
    var full = prefix.length & ~63, H0 = new Int32Array(IV), H = new Int32Array(8), W = new Int32Array(64);
    for (var o = 0; o < full; o += 64) { load(W, prefix, o); compress(H0, W); }
    var tl = prefix.length - full, buf = new Uint8Array(128);
    buf.set(prefix.subarray(full));
    function run(n) {
      var s = String(n), L = tl, i;
      for (i = 0; i < s.length; i++) buf[L++] = s.charCodeAt(i);
      buf.fill(0, L, 128);
      var end = pad(buf, L, prefix.length + s.length);
      H.set(H0);
      load(W, buf, 0); compress(H, W);
      if (end > 64) { load(W, buf, 64); compress(H, W); }
    }
    return {
      search: function (start, step, count, d) {
        for (var k = 0, n = start; k < count; k++, n += step) { run(n); if (meetsWords(H, d)) return n; }
        return -1;
      },
      hash: function (n) { run(n); return wordsToBytes(H); }
    };
  }

  function hex(bytes) {
    var s = "";
    for (var i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    return s;
  }

  return {
    subtle: subtle, utf8: utf8, hex: hex, sha256: sha256, hmacSha256: hmacSha256,
    pbkdf2Sha256: pbkdf2Sha256, scrypt: scrypt, scryptSync: scryptSync,
    leadingZeroBits: leadingZeroBits, sha256Searcher: sha256Searcher
  };
});
