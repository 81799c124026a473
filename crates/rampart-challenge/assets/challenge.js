/* Rampart interstitial: solves the page's proof-of-work and posts the form.
 * Needs pow.js (RampartPow) loaded first; both are `defer` scripts in challenge.html. */
(function () {
  "use strict";
  function $(id) { return document.getElementById(id); }
  var main = $("rp-main"), msg = $("rp-msg"), bar = $("rp-progress"), pct = $("rp-pct");
  var form = $("rp-form"), button = $("rp-submit");
  function say(text) { msg.textContent = text; }
  function fail(text) {
    main.className = "done";
    say(text);
    var again = $("rp-reload");
    again.hidden = false;
    again.onclick = function () { location.reload(); };
  }

  // A page restored from the back/forward cache holds a used challenge: get a fresh one.
  window.addEventListener("pageshow", function (e) { if (e.persisted) location.reload(); });

  var p;
  try { p = JSON.parse($("rampart-challenge").textContent); } catch (e) {
    return fail("This check is damaged (bad parameters). Reload the page to try again.");
  }
  if (!window.RampartPow) {
    return fail("Part of this check did not load. Reload the page; if it keeps failing, allow scripts from this site.");
  }

  form.setAttribute("action", p.submit || form.getAttribute("action"));
  form.elements.challenge.value = p.challenge;
  form.elements["return"].value = p["return"] || "/";

  var expected = Math.pow(2, p.difficulty), half = false;
  function show(v) { bar.value = v; pct.textContent = v + "%"; }

  // An interactive check waits for a deliberate press (keyboard or pointer)
  // before it starts working.
  if (main.getAttribute("data-mode") === "interactive") {
    var start = $("rp-start");
    start.hidden = false;
    say("Press “Verify you are human” to start the check.");
    start.onclick = function () { start.hidden = true; run(); };
    start.focus();
  } else {
    run();
  }

  function run() {
  say("Checking your browser…");
  window.RampartPow.solve(p, function (tried) {
    var v = Math.min(99, Math.floor(100 * tried / expected));
    show(v);
    if (!half && v >= 50) { half = true; say("Still checking, about halfway there…"); }
  }).then(function (nonce) {
    show(100);
    form.elements.nonce.value = nonce;
    main.className = "done";
    say("Verified, taking you to the site…");
    try { form.submit(); } catch (e) { /* the button below still works */ }
    // If we are still here after a while, the automatic submit did not go through.
    setTimeout(function () {
      button.hidden = false;
      say("Verified. If the page does not change, press Continue.");
    }, 5000);
  }, function (err) {
    fail("The check could not finish (" + (err && err.message || err) + "). Reload the page to try again. " +
      "If it keeps failing, update your browser or allow scripts and web workers for this site.");
  });
  }
})();
