// SPDX-License-Identifier: LGPL-2.1-or-later
// The official realm-web SDK against stitchd's HTTP API (driven by
// tests/http/test-realm-web.sh). Plain CommonJS for node 18 and later
// (realm-web uses the global fetch). Prints one line per check,
// "ok NAME" or "not ok NAME: reason", and exits 1 if any check failed.
//
// Environment: REALM_WEB_MODULE (path of the installed realm-web package),
// STITCH_URL, STITCH_APP_ID, STITCHCTL (with STITCH_SOCKET and
// STITCH_ADMIN_SOCKET for it), ADA_EMAIL, ADA_PASSWORD, ADA_ID, CAROL_EMAIL,
// CAROL_PASSWORD, CAROL_ID (a user that never logged in), GOOGLE_ID_TOKEN,
// GOOGLE_AUTH_CODE (the stand-in Google's, one user), FB_TOKEN (the stand-in
// Graph API's), JWT_TOKEN and
// JWT_FORGED (custom-token: a token the daemon's key signed, and one another
// key signed).
"use strict";

const { execFileSync } = require("child_process");

const env = (name) => {
        const v = process.env[name];
        if (!v) {
                console.log(`not ok environment: ${name} is not set`);
                process.exit(2);
        }
        return v;
};
const URL_ = env("STITCH_URL");
const APP_ID = env("STITCH_APP_ID");
const STITCHCTL = env("STITCHCTL");
const ADA = { email: env("ADA_EMAIL"), password: env("ADA_PASSWORD"), id: env("ADA_ID") };
const CAROL = { email: env("CAROL_EMAIL"), password: env("CAROL_PASSWORD"), id: env("CAROL_ID") };

let failures = 0;
let checks = 0;
const say = (line) => console.log(line.replace(/\n/g, " "));

class Skip extends Error {}

// check(NAME, async fn): fn throws (or returns a string) to fail
async function check(name, fn) {
        checks++;
        try {
                const r = await fn();
                if (typeof r === "string") {
                        failures++;
                        say(`not ok ${name}: ${r}`);
                        return false;
                }
                say(`ok ${name}`);
                return true;
        } catch (e) {
                failures++;
                const what = e && e.statusCode ? ` (HTTP ${e.statusCode} ${e.errorCode || ""})` : "";
                say(`not ok ${name}: ${e && e.message ? e.message : String(e)}${what}`);
                return false;
        }
}
// need(NAME, async fn): a prerequisite; the run ends when it fails
async function need(name, fn) {
        if (!(await check(name, fn))) {
                say(`not ok aborted: the checks after "${name}" need it`);
                process.exit(1);
        }
}
function assert(cond, msg) {
        if (!cond) throw new Error(msg);
}
// expectReject(promise, status, code): the SDK throws a MongoDBRealmError with them
async function expectReject(p, status, code) {
        let err = null;
        try {
                await p;
        } catch (e) {
                err = e;
        }
        assert(err !== null, `expected HTTP ${status} ${code}, the call succeeded`);
        assert(err.statusCode === status && err.errorCode === code,
               `expected HTTP ${status} ${code}, got ${err.statusCode} ${err.errorCode}: ${err.message}`);
        return err;
}
function verifies(token) {
        try {
                execFileSync(STITCHCTL, ["token", "verify", "-"], { input: token + "\n", stdio: ["pipe", "ignore", "ignore"] });
                return true;
        } catch (e) {
                return false;
        }
}
function stitchctl(...args) {
        return execFileSync(STITCHCTL, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}
function userExists(id) {
        try {
                stitchctl("user", "show", id);
                return true;
        } catch (e) {
                return false;
        }
}
function claims(token) {
        const part = token.split(".")[1];
        return JSON.parse(Buffer.from(part.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("utf8"));
}
// A storage of its own for a second App: another device, whose logins do not
// replace the tokens of the first App's user objects.
class MemStorage {
        constructor() {
                this.data = {};
                this.listeners = new Set();
        }
        get(key) {
                return key in this.data ? this.data[key] : null;
        }
        set(key, value) {
                this.data[key] = value;
                this.listeners.forEach((l) => l());
        }
        remove(key) {
                delete this.data[key];
                this.listeners.forEach((l) => l());
        }
        prefix(part) {
                const self = this;
                return {
                        get: (k) => self.get(`${part}:${k}`),
                        set: (k, v) => self.set(`${part}:${k}`, v),
                        remove: (k) => self.remove(`${part}:${k}`),
                        prefix: (p2) => self.prefix(`${part}:${p2}`),
                        clear: (p2 = "") => self.clear(`${part}:${p2}`),
                        addListener: (l) => self.addListener(l),
                        removeListener: (l) => self.removeListener(l),
                };
        }
        clear(prefix) {
                for (const k of Object.keys(this.data)) if (!prefix || k.startsWith(prefix)) delete this.data[k];
                this.listeners.forEach((l) => l());
        }
        addListener(l) {
                this.listeners.add(l);
        }
        removeListener(l) {
                this.listeners.delete(l);
        }
}

async function rawRefresh(refreshToken) {
        const r = await fetch(`${URL_}/api/client/v2.0/auth/session`, {
                method: "POST",
                headers: { Authorization: `Bearer ${refreshToken}` },
        });
        const text = await r.text();
        let body = null;
        try {
                body = JSON.parse(text);
        } catch (e) {
                // not JSON
        }
        return { status: r.status, body };
}

async function main() {
        if (typeof fetch !== "function") {
                say("not ok environment: this node has no global fetch (node 18 or later is needed)");
                process.exit(1);
        }
        const Realm = require(env("REALM_WEB_MODULE"));
        const app = new Realm.App({ id: APP_ID, baseUrl: URL_ });
        // API keys log in on "another device", as a server using a key would
        const keyApp = new Realm.App({ id: APP_ID, baseUrl: URL_, storage: new MemStorage() });
        let ada, key, anon, anonId;

        await need("location", async () => {
                const loc = await app.locationUrl;
                assert(loc === URL_, `location hostname ${loc}, expected ${URL_}`);
        });

        await need("emailPassword login", async () => {
                ada = await app.logIn(Realm.Credentials.emailPassword(ADA.email, ADA.password));
                assert(ada.id === ADA.id, `user id ${ada.id}, expected ${ADA.id}`);
        });
        await check("currentUser and state", async () => {
                assert(app.currentUser === ada, "app.currentUser is not the logged-in user");
                assert(ada.isLoggedIn && ada.state === "active", `state ${ada.state}`);
                assert(ada.providerType === "local-userpass", `providerType ${ada.providerType}`);
                assert(typeof ada.accessToken === "string" && typeof ada.refreshToken === "string", "tokens missing");
        });
        await check("profile fields", async () => {
                assert(ada.profile.email === ADA.email, `profile.email ${ada.profile.email}`);
                assert(ada.profile.name === "Ada L", `profile.name ${ada.profile.name}`);
                assert(ada.profile.unix_name === "ada", `profile.unix_name ${ada.profile.unix_name}`);
                assert(Array.isArray(ada.identities) && ada.identities.length === 1, `identities ${JSON.stringify(ada.identities)}`);
                assert(ada.identities[0].providerType === "local-userpass" && typeof ada.identities[0].id === "string",
                       `identity ${JSON.stringify(ada.identities[0])}`);
        });
        await check("customData from the access token", async () => {
                assert(ada.customData && ada.customData.email === ADA.email, `customData ${JSON.stringify(ada.customData)}`);
        });
        await check("deviceId", async () => {
                assert(/^[0-9a-f]{24}$/.test(ada.deviceId || ""), `deviceId ${ada.deviceId}`);
        });
        await check("access token verifies with stitchctl", async () => {
                assert(verifies(ada.accessToken), "stitchctl token verify refused the SDK's access token");
        });
        await check("refreshAccessToken", async () => {
                const sid = claims(ada.accessToken).sid;
                await ada.refreshAccessToken();
                assert(typeof ada.accessToken === "string", "no access token after refresh");
                assert(claims(ada.accessToken).sid === sid, "the refreshed token belongs to another session");
                assert(verifies(ada.accessToken), "the refreshed access token does not verify");
                await ada.refreshProfile();
        });
        await check("wrong password is InvalidPassword and keeps the current user", async () => {
                await expectReject(app.logIn(Realm.Credentials.emailPassword(ADA.email, "not-the-password")), 401, "InvalidPassword");
                assert(app.currentUser === ada && ada.isLoggedIn, "the current user was logged out by a failed login");
                assert(verifies(ada.accessToken), "the current user's token stopped verifying");
        });
        await check("an invalid access token is refreshed by the SDK (401 InvalidSession)", async () => {
                ada.accessToken = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.AAAA";
                await ada.refreshProfile();
                assert(ada.accessToken !== "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.AAAA", "the SDK did not refresh the token");
                assert(verifies(ada.accessToken), "the token after the SDK's refresh does not verify");
        });

        await need("apiKeys.create", async () => {
                key = await ada.apiKeys.create("k1");
                assert(key && key.name === "k1" && key.disabled === false, `reply ${JSON.stringify(key)}`);
                assert(typeof key.key === "string" && key.key.length > 0, "no key in the reply");
                assert(key._id !== undefined && String(key._id).length > 0, "no _id in the reply");
        });
        await check("apiKeys.fetchAll", async () => {
                const all = await ada.apiKeys.fetchAll();
                assert(Array.isArray(all), `fetchAll gave ${JSON.stringify(all)}`);
                const k = all.find((x) => String(x._id) === String(key._id));
                assert(k && k.name === "k1" && k.disabled === false, `k1 not listed: ${JSON.stringify(all)}`);
                assert(all.every((x) => !("key" in x)), "fetchAll shows a key");
        });
        await check("apiKeys.fetch", async () => {
                const k = await ada.apiKeys.fetch(key._id);
                assert(k && k.name === "k1" && String(k._id) === String(key._id) && !("key" in k), `fetch gave ${JSON.stringify(k)}`);
        });
        await check("apiKey login gives the same user", async () => {
                const u = await keyApp.logIn(Realm.Credentials.apiKey(key.key));
                assert(u.id === ADA.id, `api-key login user ${u.id}, expected ${ADA.id}`);
                assert(verifies(u.accessToken), "the api-key session's token does not verify");
        });
        await check("apiKeys.disable refuses the key (AuthError), enable restores it", async () => {
                await ada.apiKeys.disable(key._id);
                const k = await ada.apiKeys.fetch(key._id);
                assert(k.disabled === true, `after disable: ${JSON.stringify(k)}`);
                await expectReject(keyApp.logIn(Realm.Credentials.apiKey(key.key)), 401, "AuthError");
                await ada.apiKeys.enable(key._id);
                const u = await keyApp.logIn(Realm.Credentials.apiKey(key.key));
                assert(u.id === ADA.id, "the re-enabled key logs in as another user");
        });
        await check("apiKeys.delete", async () => {
                await ada.apiKeys.delete(key._id);
                await expectReject(ada.apiKeys.fetch(key._id), 404, "APIKeyNotFound");
                await expectReject(keyApp.logIn(Realm.Credentials.apiKey(key.key)), 401, "AuthError");
        });

        await need("anonymous login", async () => {
                anon = await app.logIn(Realm.Credentials.anonymous(false));
                anonId = anon.id;
                assert(anonId !== ADA.id && /^[0-9a-f]{24}$/.test(anonId), `anonymous user id ${anonId}`);
                assert(anon.providerType === "anon-user", `providerType ${anon.providerType}`);
                assert(anon.identities.length === 1 && anon.identities[0].providerType === "anon-user",
                       `identities ${JSON.stringify(anon.identities)}`);
                assert(app.currentUser === anon, "the anonymous user is not current");
        });
        await check("linkCredentials keeps the anonymous user's id", async () => {
                await anon.linkCredentials(Realm.Credentials.emailPassword(CAROL.email, CAROL.password));
                assert(anon.id === anonId, `id changed to ${anon.id}`);
                const types = anon.identities.map((i) => i.providerType).sort();
                assert(JSON.stringify(types) === JSON.stringify(["anon-user", "local-userpass"]), `identities ${JSON.stringify(types)}`);
                assert(anon.profile.email === CAROL.email, `profile.email ${anon.profile.email}`);
                assert(anon.isLoggedIn && typeof anon.refreshToken === "string", "the linking user lost its session");
                assert(verifies(anon.accessToken), "the linked user's token does not verify");
                await anon.refreshAccessToken();
        });
        await check("the empty account of the linked credential is gone", async () => {
                assert(!userExists(CAROL.id), `user ${CAROL.id} still exists`);
                const shown = JSON.parse(stitchctl("user", "show", CAROL.email, "--json"));
                assert(shown.user.id === anonId, `stitchctl user show ${CAROL.email} gives ${shown.user.id}`);
        });
        let carol;
        await check("emailPassword login after linking returns the anonymous user's id", async () => {
                carol = await app.logIn(Realm.Credentials.emailPassword(CAROL.email, CAROL.password));
                assert(carol.id === anonId, `user id ${carol.id}, expected ${anonId}`);
        });

        await check("logOut ends the session: the old tokens fail", async () => {
                await ada.refreshProfile();
                const at = ada.accessToken;
                const rt = ada.refreshToken;
                assert(verifies(at), "the token does not verify before logOut");
                await ada.logOut();
                assert(!ada.isLoggedIn && ada.accessToken === null && ada.refreshToken === null, `state ${ada.state}`);
                assert(!verifies(at), "the access token still verifies after logOut");
                const r = await rawRefresh(rt);
                assert(r.status === 401 && r.body && r.body.error_code === "InvalidSession",
                       `refresh with the logged-out refresh token: ${r.status} ${JSON.stringify(r.body)}`);
                assert(app.currentUser !== ada, "app.currentUser is still the logged-out user");
        });
        await check("a session revoked by stitchctl: the SDK gets InvalidSession and drops the tokens", async () => {
                const u = await app.logIn(Realm.Credentials.emailPassword(CAROL.email, CAROL.password));
                const sid = claims(u.accessToken).sid;
                stitchctl("session", "revoke", sid);
                await expectReject(u.refreshProfile(), 401, "InvalidSession");
                assert(u.refreshToken === null && !u.isLoggedIn, "the SDK kept the revoked session's tokens");
        });
        await check("deleteUser", async () => {
                const d = await app.logIn(Realm.Credentials.anonymous(false));
                assert(userExists(d.id), "the new anonymous user is not known to stitchctl");
                await app.deleteUser(d);
                assert(!userExists(d.id), `user ${d.id} still exists after deleteUser`);
        });

        // custom-token ([Provider.custom-token] with an HS256 key file):
        // JWT_TOKEN (sub realm-web-jwt, name "Jay"), JWT_FORGED (another key).
        let jwtUser = null;
        await check("Credentials.jwt logs in (custom-token)", async () => {
                jwtUser = await app.logIn(Realm.Credentials.jwt(env("JWT_TOKEN")));
                assert(/^[0-9a-f]{24}$/.test(jwtUser.id), `user id ${jwtUser.id}`);
                assert(jwtUser.providerType === "custom-token", `providerType ${jwtUser.providerType}`);
                assert(verifies(jwtUser.accessToken), "the custom-token session's access token does not verify");
        });
        await check("the custom-token user's profile has its identity and metadata", async () => {
                assert(jwtUser, "no custom-token user");
                await jwtUser.refreshProfile();
                assert(jwtUser.identities.length === 1 && jwtUser.identities[0].providerType === "custom-token",
                       `identities ${JSON.stringify(jwtUser.identities)}`);
                assert(jwtUser.profile.name === "Jay", `profile ${JSON.stringify(jwtUser.profile)}`);
        });
        await check("Credentials.jwt again is the same user", async () => {
                const again = await app.logIn(Realm.Credentials.jwt(env("JWT_TOKEN")));
                assert(jwtUser && again.id === jwtUser.id, `${again.id} is not ${jwtUser && jwtUser.id}`);
        });
        await check("Credentials.jwt with a forged token is refused (401 AuthError)", async () => {
                await expectReject(app.logIn(Realm.Credentials.jwt(env("JWT_FORGED"))), 401, "AuthError");
        });

        // oauth2-google against the stand-in Google (CreateUsers=yes):
        // GOOGLE_ID_TOKEN and GOOGLE_AUTH_CODE are both for Google user
        // 104242424242424242424 (grace@example.com).
        let googleUser = null;
        await check("Credentials.google({idToken}) logs in (oauth2-google)", async () => {
                googleUser = await app.logIn(Realm.Credentials.google({idToken: env("GOOGLE_ID_TOKEN")}));
                assert(/^[0-9a-f]{24}$/.test(googleUser.id), `user id ${googleUser.id}`);
                assert(googleUser.providerType === "oauth2-google", `providerType ${googleUser.providerType}`);
                assert(verifies(googleUser.accessToken), "the Google session's access token does not verify");
        });
        await check("the Google user's profile has its identity and Google's email", async () => {
                assert(googleUser, "no Google user");
                await googleUser.refreshProfile();
                assert(googleUser.identities.length === 1 && googleUser.identities[0].providerType === "oauth2-google",
                       `identities ${JSON.stringify(googleUser.identities)}`);
                assert(googleUser.profile.email === "grace@example.com", `profile ${JSON.stringify(googleUser.profile)}`);
        });
        await check("Credentials.google({authCode}) is the same Google user", async () => {
                const again = await app.logIn(Realm.Credentials.google({authCode: env("GOOGLE_AUTH_CODE")}));
                assert(googleUser && again.id === googleUser.id, `${again.id} is not ${googleUser && googleUser.id}`);
        });
        await check("a used authCode is refused (401 AuthError)", async () => {
                await expectReject(app.logIn(Realm.Credentials.google({authCode: env("GOOGLE_AUTH_CODE")})), 401,
                                   "AuthError");
        });

        // oauth2-facebook against the stand-in Graph API (CreateUsers=yes).
        let fbUser = null;
        await check("Credentials.facebook logs in (oauth2-facebook)", async () => {
                fbUser = await app.logIn(Realm.Credentials.facebook(env("FB_TOKEN")));
                assert(/^[0-9a-f]{24}$/.test(fbUser.id), `user id ${fbUser.id}`);
                assert(fbUser.providerType === "oauth2-facebook", `providerType ${fbUser.providerType}`);
                assert(verifies(fbUser.accessToken), "the Facebook session's access token does not verify");
        });
        await check("the Facebook user's profile has Graph's name and email", async () => {
                assert(fbUser, "no Facebook user");
                await fbUser.refreshProfile();
                assert(fbUser.profile.email === "linus@example.com" && fbUser.profile.name === "Test User 10042",
                       `profile ${JSON.stringify(fbUser.profile)}`);
        });
        await check("Credentials.facebook with a token Graph does not know is refused (401 AuthError)", async () => {
                await expectReject(app.logIn(Realm.Credentials.facebook("EAAunknown0000")), 401, "AuthError");
        });
}

main().then(
        () => {
                say(`# ${checks} checks, ${failures} failed`);
                process.exit(failures ? 1 : 0);
        },
        (e) => {
                say(`not ok unexpected: ${e && e.stack ? e.stack : e}`);
                process.exit(1);
        },
);
