#!/usr/bin/env node
/* Reads JSON lines {"algorithm": "sha256"|"scrypt", "input": "...", "n_log2", "r", "p"} on stdin and
 * prints one lowercase hex hash per line (scrypt: salt "rampart-pow", dkLen 32), computed with
 * pow-core.js, the code the browser worker runs. Used by the Rust tests to check that Rust and
 * JS agree. A bad line prints "error: <message>" and makes the exit status 1. */
"use strict";
// `node --test assets/test/` also runs every file here; there is no stdin then, so do nothing.
if (process.env.NODE_TEST_CONTEXT) process.exit(0);

const readline = require("node:readline");
const C = require("../pow-core.js");
const SALT = C.utf8("rampart-pow");

let status = 0;
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on("line", (line) => {
  if (!line.trim()) return;
  try {
    const j = JSON.parse(line);
    if (typeof j.input !== "string") throw new Error("input must be a string");
    const input = C.utf8(j.input);
    let h;
    if (j.algorithm === "sha256") h = C.sha256(input);
    else if (j.algorithm === "scrypt") h = C.scryptSync(input, SALT, 2 ** j.n_log2, j.r, j.p, 32);
    else throw new Error("unknown algorithm " + j.algorithm);
    process.stdout.write(C.hex(h) + "\n");
  } catch (e) {
    status = 1;
    process.stdout.write("error: " + e.message + "\n");
  }
});
rl.on("close", () => { process.exitCode = status; });
