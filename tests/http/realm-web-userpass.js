// SPDX-License-Identifier: LGPL-2.1-or-later
// realm-web's email/password functions against stitchd (driven by
// tests/http/test-realm-web.sh, second part): registerUser, confirmUser,
// resendConfirmationEmail, sendResetPasswordEmail, resetPassword and
// callResetPasswordFunction, with the mails read from the SMTP sink's
// directory. Prints "ok NAME" / "not ok NAME: reason" lines; exits 1 on a
// failure.
//
// Environment: REALM_WEB_MODULE, STITCH_URL, STITCH_APP_ID, MAIL_DIR.
"use strict";

const fs = require("fs");
const path = require("path");

const env = (name) => {
        const v = process.env[name];
        if (!v) {
                console.log(`not ok environment: ${name} is not set`);
                process.exit(2);
        }
        return v;
};
const Realm = require(env("REALM_WEB_MODULE"));
const app = new Realm.App({ id: env("STITCH_APP_ID"), baseUrl: env("STITCH_URL") });
const MAIL_DIR = env("MAIL_DIR");

let failures = 0;
async function check(name, fn) {
        try {
                const r = await fn();
                if (typeof r === "string") throw new Error(r);
                console.log(`ok ${name}`);
        } catch (e) {
                failures++;
                const what = e && e.statusCode ? ` (HTTP ${e.statusCode} ${e.errorCode || ""})` : "";
                console.log(`not ok ${name}: ${(e && e.message) || e}${what}`.replace(/\n/g, " "));
        }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mailsNow = () => fs.readdirSync(MAIL_DIR).filter((f) => f.endsWith(".eml")).sort();

// Waits until the sink holds `count` mails; the token and tokenId of the
// last one (which must be to `to`).
async function linkOfMail(count, to) {
        for (let i = 0; i < 300; i++) {
                const names = mailsNow();
                if (names.length >= count) {
                        const text = fs.readFileSync(path.join(MAIL_DIR, names[count - 1]), "utf8");
                        if (!text.includes(`To: ${to}\r\n`)) throw new Error(`mail ${count} is not to ${to}`);
                        const m = text.match(/[?&]token=([^&\s]+)&tokenId=([^&\s]+)/);
                        if (!m) throw new Error(`mail ${count} has no link`);
                        return { token: m[1], tokenId: m[2] };
                }
                await sleep(50); // the mailer's thread sends it
        }
        throw new Error(`mail ${count} (to ${to}) did not arrive`);
}

(async () => {
        const auth = app.emailPasswordAuth;
        const eve = { email: "eve.realm@example.org", password: "eve-realm-pw-1" };

        let mails = mailsNow().length;
        await check("registerUser", () => auth.registerUser(eve));
        mails++;
        await check("a pending user cannot log in", async () => {
                try {
                        await app.logIn(Realm.Credentials.emailPassword(eve.email, eve.password));
                } catch (e) {
                        return e.statusCode === 401 && /confirmation required/.test(e.message)
                                ? undefined
                                : `unexpected: ${e.message}`;
                }
                return "logged in while pending";
        });
        await check("registerUser again: AccountNameInUse", async () => {
                try {
                        await auth.registerUser(eve);
                } catch (e) {
                        return e.errorCode === "AccountNameInUse" ? undefined : `got ${e.errorCode}`;
                }
                return "registered twice";
        });
        // Registering again mailed a new link (it supersedes the first).
        mails++;
        await linkOfMail(mails, eve.email);
        await check("resendConfirmationEmail", () => auth.resendConfirmationEmail({ email: eve.email }));
        let link = await linkOfMail(++mails, eve.email);
        await check("confirmUser with the mailed token", () => auth.confirmUser(link));
        await check("confirmUser again: UserpassTokenInvalid", async () => {
                try {
                        await auth.confirmUser(link);
                } catch (e) {
                        return e.errorCode === "UserpassTokenInvalid" ? undefined : `got ${e.errorCode}`;
                }
                return "a used token confirmed again";
        });
        let user;
        await check("logIn after confirmation", async () => {
                user = await app.logIn(Realm.Credentials.emailPassword(eve.email, eve.password));
        });

        await check("sendResetPasswordEmail", () => auth.sendResetPasswordEmail({ email: eve.email }));
        await check("sendResetPasswordEmail for an unknown address answers the same",
                    () => auth.sendResetPasswordEmail({ email: "nobody.realm@example.org" }));
        link = await linkOfMail(++mails, eve.email);
        await check("resetPassword with the mailed token",
                    () => auth.resetPassword({ ...link, password: "eve-realm-pw-2" }));
        await check("the reset ended the open session", async () => {
                try {
                        await user.refreshAccessToken();
                } catch (e) {
                        return undefined;
                }
                return "the session survived the reset";
        });
        await check("logIn with the new password", () =>
                app.logIn(Realm.Credentials.emailPassword(eve.email, "eve-realm-pw-2")));

        // ResetCommand= for another user (each address has a budget of
        // mails and calls a minute, and eve spent most of hers).
        const fay = { email: "fay.realm@example.org", password: "fay-realm-pw-1" };
        await check("registerUser (a second user)", () => auth.registerUser(fay));
        await check("confirmUser (the second user)", async () => auth.confirmUser(await linkOfMail(++mails, fay.email)));
        await check("callResetPasswordFunction (ResetCommand says success)", () =>
                auth.callResetPasswordFunction({ email: fay.email, password: "fay-realm-pw-2" }, "let-me-in"));
        await check("logIn with the password the function set", () =>
                app.logIn(Realm.Credentials.emailPassword(fay.email, "fay-realm-pw-2")));
        await check("callResetPasswordFunction refused by the command: an error", async () => {
                try {
                        await auth.callResetPasswordFunction({ email: fay.email, password: "fay-realm-pw-3" }, "wrong");
                } catch (e) {
                        return e.statusCode === 400 ? undefined : `got ${e.statusCode}`;
                }
                return "the command's fail was not reported";
        });
        // Stitch's anonymous upgrade: a registered, confirmed, unused
        // email/password identity linked onto an anonymous user keeps the
        // anonymous user's id, and logging in with it returns that user.
        const hal = { email: "hal.realm@example.org", password: "hal-realm-pw-1" };
        await check("registerUser and confirmUser (for linking)", async () => {
                await auth.registerUser(hal);
                await auth.confirmUser(await linkOfMail(++mails, hal.email));
        });
        let anon;
        await check("anonymous login", async () => {
                anon = await app.logIn(Realm.Credentials.anonymous());
        });
        await check("linkCredentials with the registered email keeps the anonymous user's id", async () => {
                await anon.linkCredentials(Realm.Credentials.emailPassword(hal.email, hal.password));
                if (!anon.identities.some((i) => i.providerType === "local-userpass"))
                        return "no local-userpass identity after linking";
        });
        await check("logIn with the linked email returns the anonymous user", async () => {
                const u = await app.logIn(Realm.Credentials.emailPassword(hal.email, hal.password));
                if (u.id !== anon.id) return `got user ${u.id}, not ${anon.id}`;
        });
        process.exit(failures ? 1 : 0);
})().catch((e) => {
        console.log(`not ok unexpected: ${e && e.stack}`.replace(/\n/g, " "));
        process.exit(1);
});
