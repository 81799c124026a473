/* node --test crates/rampart-challenge/assets/test/ : checks pow-core.js (the worker's hashing). */
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const nc = require("node:crypto");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const C = require("../pow-core.js");

const hex = (b) => Buffer.from(b).toString("hex");
const u8 = (s) => new Uint8Array(Buffer.from(s));

// RFC 7914 section 12.
const RFC = [
  { P: "", S: "", N: 16, r: 1, p: 1,
    dk: "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906" },
  { P: "password", S: "NaCl", N: 1024, r: 8, p: 16,
    dk: "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640" },
  { P: "pleaseletmein", S: "SodiumChloride", N: 16384, r: 8, p: 1,
    dk: "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887" },
];

test("scrypt matches the RFC 7914 vectors (pure JS)", () => {
  for (const v of RFC) assert.equal(hex(C.scryptSync(u8(v.P), u8(v.S), v.N, v.r, v.p, 64)), v.dk, `N=${v.N}`);
});

test("scrypt matches the RFC 7914 vectors (PBKDF2 through crypto.subtle)", async () => {
  assert.ok(C.subtle, "Node 20 exposes globalThis.crypto.subtle");
  for (const v of RFC.slice(0, 2)) assert.equal(hex(await C.scrypt(u8(v.P), u8(v.S), v.N, v.r, v.p, 64)), v.dk);
});

test("scrypt agrees with node:crypto for the PoW parameters", async () => {
  for (let i = 0; i < 6; i++) {
    const pass = u8("p1." + nc.randomBytes(58).toString("base64url") + ":" + i * 977);
    const [N, r, p] = [[16, 1, 1], [1024, 8, 1], [4096, 8, 1], [256, 4, 2], [2, 1, 3], [512, 2, 1]][i];
    const want = nc.scryptSync(pass, "rampart-pow", 32, { N, r, p }).toString("hex");
    assert.equal(hex(C.scryptSync(pass, u8("rampart-pow"), N, r, p, 32)), want);
    assert.equal(hex(await C.scrypt(pass, u8("rampart-pow"), N, r, p, 32)), want);
    assert.equal(hex(await C.scrypt(pass, u8("rampart-pow"), N, r, p, 32, false)), want);
  }
  assert.throws(() => C.scryptSync(u8("x"), u8("y"), 1000, 1, 1, 32), /power of two/);
});

test("pure-JS SHA-256, HMAC and PBKDF2 agree with node:crypto", () => {
  const lens = [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000];
  for (let i = 0; i < 200; i++) lens.push(nc.randomInt(0, 300));
  for (const n of lens) {
    const b = nc.randomBytes(n), k = nc.randomBytes(nc.randomInt(0, 100));
    assert.equal(hex(C.sha256(b)), nc.createHash("sha256").update(b).digest("hex"), `len ${n}`);
    assert.equal(hex(C.hmacSha256(k, b)), nc.createHmac("sha256", k).update(b).digest("hex"), `hmac len ${n}`);
  }
  for (const [it, len] of [[1, 32], [1, 100], [2, 64], [10, 7]]) {
    const p = nc.randomBytes(20), s = nc.randomBytes(16);
    assert.equal(hex(C.pbkdf2Sha256(p, s, it, len)), nc.pbkdf2Sync(p, s, it, len, "sha256").toString("hex"));
  }
  assert.equal(hex(C.sha256(C.utf8("héllo ✓"))), nc.createHash("sha256").update("héllo ✓").digest("hex"));
});

test("leading zero bits", () => {
  const z = C.leadingZeroBits;
  assert.equal(z(new Uint8Array([0x80, 0])), 0);
  assert.equal(z(new Uint8Array([0x7f])), 1);
  assert.equal(z(new Uint8Array([0x01, 0xff])), 7);
  assert.equal(z(new Uint8Array([0x00, 0x40])), 9);
  assert.equal(z(new Uint8Array([0, 0, 0, 0x10])), 27);
  assert.equal(z(new Uint8Array(32)), 256);
  assert.equal(z(new Uint8Array(0)), 0);
});

test("midstate PoW search hashes exactly prefix + decimal nonce", () => {
  // Prefix lengths around the 64-byte block edges and nonces whose digit count changes.
  for (let len = 0; len <= 140; len++) {
    const prefix = "x".repeat(len) + ":";
    const s = C.sha256Searcher(C.utf8(prefix));
    for (const n of [0, 7, 9, 10, 99, 100, 12345, 999999999, 1e12 + 3, 2 ** 53 - 1]) {
      assert.equal(hex(s.hash(n)), nc.createHash("sha256").update(prefix + n).digest("hex"), `len ${len} n ${n}`);
    }
  }
});

test("midstate PoW search finds the first nonce with enough zero bits", () => {
  const prefix = "p1." + nc.randomBytes(58).toString("base64url") + ":";
  const s = C.sha256Searcher(C.utf8(prefix));
  for (const [start, step, d] of [[0, 1, 8], [1, 2, 10], [3, 4, 6], [0, 1, 0]]) {
    let want = -1;
    for (let n = start; want < 0; n += step) {
      if (C.leadingZeroBits(nc.createHash("sha256").update(prefix + n).digest()) >= d) want = n;
    }
    assert.equal(s.search(start, step, 1e6, d), want);
  }
  assert.equal(s.search(0, 1, 100, 200), -1);
});

test("hash-cli.js prints the same hashes as node:crypto", () => {
  const lines = [
    { algorithm: "sha256", input: "p1.abc:12" },
    { algorithm: "sha256", input: "ünï" },
    { algorithm: "scrypt", input: "p1.abc:12", n_log2: 10, r: 8, p: 1 },
    { algorithm: "scrypt", input: "x", n_log2: 4, r: 1, p: 2 },
  ];
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const out = spawnSync(process.execPath, [path.join(__dirname, "hash-cli.js")], {
    input: lines.map((l) => JSON.stringify(l)).join("\n") + "\n", env, encoding: "utf8",
  });
  assert.equal(out.status, 0, out.stderr);
  const want = lines.map((l) => l.algorithm === "sha256"
    ? nc.createHash("sha256").update(l.input).digest("hex")
    : nc.scryptSync(l.input, "rampart-pow", 32, { N: 2 ** l.n_log2, r: l.r, p: l.p }).toString("hex"));
  assert.deepEqual(out.stdout.trim().split("\n"), want);
  const bad = spawnSync(process.execPath, [path.join(__dirname, "hash-cli.js")], { input: "{}\n", env, encoding: "utf8" });
  assert.equal(bad.status, 1);
  assert.match(bad.stdout, /^error: /);
});
