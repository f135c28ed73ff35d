// SPDX-License-Identifier: LGPL-2.1-or-later
// Drives stitchd's built-in confirm and reset pages in a real headless
// browser (Debian's chromium through puppeteer-core), as a person would:
//   node pages-browser.js MODULE_DIR CHROMIUM confirm LINK
//   node pages-browser.js MODULE_DIR CHROMIUM reset LINK NEW_PASSWORD
// JavaScript is off in the page (the forms must work without it). Prints
// one "ok - ..." line per check and exits 1 on the first failure; any
// console message (a Content-Security-Policy violation, a failed load)
// fails the run.
const path = require("path");
const [moduleDir, chromium, mode, link, password] = process.argv.slice(2);
const puppeteer = require(path.join(moduleDir, "puppeteer-core"));

function ok(what) { console.log("ok - " + what); }
function fail(what) { console.error("FAIL: " + what); process.exit(1); }

(async () => {
        const browser = await puppeteer.launch({
                executablePath: chromium,
                headless: "new",
                args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                       "--window-size=390,844"], // a phone's viewport
        });
        try {
                const page = await browser.newPage();
                await page.setViewport({ width: 390, height: 844, isMobile: true });
                await page.setJavaScriptEnabled(false);
                const problems = [];
                page.on("console", (m) => problems.push("console: " + m.text()));
                page.on("requestfailed", (r) => problems.push("failed to load " + r.url()));

                let resp = await page.goto(link, { waitUntil: "load" });
                if (resp.status() !== 200) fail("the link answered " + resp.status());
                const title = await page.title();
                if (mode === "confirm" && title !== "Confirm your email address") fail("title: " + title);
                if (mode === "reset" && title !== "Reset your password") fail("title: " + title);
                const css = await page.$eval("main", (e) => getComputedStyle(e).maxWidth);
                if (css !== "416px") fail("the style sheet did not apply (max-width " + css + ")");
                ok("the " + mode + " page opens with its style sheet, " + title);

                if (mode === "reset") {
                        await page.type("#password", password);
                        await page.type("#repeat", password);
                }
                const [nav] = await Promise.all([
                        page.waitForNavigation({ waitUntil: "load" }),
                        page.click("button[type=submit]"),
                ]);
                const text = await page.$eval("main", (e) => e.innerText);
                if (nav.status() !== 200) fail("the form answered " + nav.status() + ": " + text);
                const want = mode === "reset" ? "Your password is changed" : "Your email address is confirmed";
                if (!text.includes(want)) fail("no success message: " + text);
                ok("submitting the form without JavaScript shows: " + want);

                if (problems.length) fail(problems.join("; "));
                ok("no console messages, nothing failed to load (the CSP kept, the form complete)");

                // The same link again: refused, with a clear message (the
                // 400 it answers is the one console message expected).
                await page.goto(link, { waitUntil: "load" });
                if (mode === "reset") {
                        await page.type("#password", password);
                        await page.type("#repeat", password);
                }
                const [again] = await Promise.all([
                        page.waitForNavigation({ waitUntil: "load" }),
                        page.click("button[type=submit]"),
                ]);
                const text2 = await page.$eval("main", (e) => e.innerText);
                if (again.status() !== 400 || !text2.includes("was used already")) fail("a used link: " + text2);
                ok("the used link is refused with a clear message");
                const csp = problems.filter((p) => /Content Security Policy|Refused to/.test(p));
                if (csp.length) fail(csp.join("; "));
        } finally {
                await browser.close();
        }
})().catch((e) => fail(String(e && e.stack || e)));
