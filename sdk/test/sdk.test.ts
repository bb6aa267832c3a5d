// Drives a real AYB server (started by tests/e2e TestTypeScriptSDK, which
// sets AYB_URL and creates public.notes with an owner policy and realtime,
// and public.add_numbers). Run alone: AYB_URL=http://127.0.0.1:8090 npm test
import { test } from "node:test";
import assert from "node:assert/strict";
import { AYB, ApiError, errorCodes, type ChangeEvent, type Session } from "../src/index.js";

const url = process.env.AYB_URL;
if (!url) throw new Error("set AYB_URL to a running AYB server (see tests/e2e/sdk_test.go)");

const password = "a sturdy passphrase 42";
const run = Date.now().toString(36);

interface Note {
  id: number;
  owner: string;
  title: string;
  done: boolean;
}

async function signedUp(name: string): Promise<AYB> {
  const c = new AYB(url!);
  const r = await c.auth.signUp({ email: `${name}-${run}@example.com`, password });
  assert.ok("access_token" in r, "sign-up signs in");
  return c;
}

async function refusal(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ApiError, `an ApiError, not ${e}`);
    return e;
  }
  assert.fail("the call succeeded");
}

test("auth: sign up, sign in, me, refresh, sign out", async () => {
  const c = await signedUp("auth");
  const me = await c.auth.me();
  assert.equal(me.email, `auth-${run}@example.com`);

  const other = new AYB(url!);
  const wrong = await refusal(other.auth.signIn({ email: me.email, password: "not the password at all" }));
  assert.equal(wrong.status, 401);
  assert.equal(wrong.code, "invalid_credentials");
  assert.ok(wrong.known);

  const s = await other.auth.signIn({ email: me.email, password });
  const before = s.refresh_token;
  const changes: Array<Session | null> = [];
  other.auth.onChange((x) => changes.push(x));
  const refreshed = await other.auth.refresh();
  assert.notEqual(refreshed.refresh_token, before, "the refresh token rotates");
  assert.equal((await other.auth.me()).id, me.id);

  await other.auth.signOut();
  assert.equal(other.auth.session, null);
  assert.deepEqual(changes.map((x) => x === null), [false, true]);
  const anon = await refusal(other.auth.me());
  assert.equal(anon.status, 401);
});

test("auth: the session survives in storage and an expired access token is refreshed", async () => {
  const store = new Map<string, string>();
  const storage = {
    getItem: (k: string) => store.get(k) ?? null,
    setItem: (k: string, v: string) => void store.set(k, v),
    removeItem: (k: string) => void store.delete(k),
  };
  const c = new AYB(url!, { storage });
  await c.auth.signUp({ email: `stored-${run}@example.com`, password });
  assert.ok(store.get("ayb.session"));

  // A new client (a page reload) finds the session; pretend its access
  // token expired: the next call refreshes first.
  const saved = JSON.parse(store.get("ayb.session")!) as Session;
  store.set("ayb.session", JSON.stringify({ ...saved, expires_at: Math.floor(Date.now() / 1000) - 1 }));
  const again = new AYB(url!, { storage });
  assert.equal((await again.auth.me()).email, `stored-${run}@example.com`);
  assert.notEqual(again.auth.session!.refresh_token, saved.refresh_token, "it refreshed");
});

test("auth: metadata, devices, password change, links, a session from a landing URL", async () => {
  const c = await signedUp("acct");
  const email = `acct-${run}@example.com`;
  assert.equal((await c.auth.updateMe({ metadata: { theme: "dark", lang: "fr" } })).metadata?.theme, "dark");
  assert.deepEqual((await c.auth.updateMe({ metadata: { theme: null } })).metadata, { lang: "fr" });

  // A second device, seen in the list and signed out from the first.
  const phone = new AYB(url!);
  await phone.auth.signIn({ email, password });
  const devices = await c.auth.sessions();
  assert.equal(devices.length, 2);
  assert.equal(devices.filter((d) => d.current).length, 1);
  await c.auth.revokeSession(devices.find((d) => !d.current)!.id);
  assert.equal((await refusal(phone.auth.me())).status, 401, "the revoked device is out");
  assert.equal(phone.auth.session, null, "and its refresh token was refused");

  const newPassword = "another sturdy passphrase 43";
  await c.auth.changePassword({ currentPassword: password, newPassword });
  assert.equal((await c.auth.me()).email, email, "the client holds the new session");
  assert.equal((await refusal(new AYB(url!).auth.signIn({ email, password }))).code, "invalid_credentials");
  await new AYB(url!).auth.signIn({ email, password: newPassword });

  await c.auth.requestPasswordReset(email); // the same answer for any address
  await c.auth.requestPasswordReset(`nobody-${run}@example.com`);

  // An OAuth or magic-link landing carries the tokens in the fragment.
  const s = c.auth.session!;
  const landing = new AYB(url!);
  const got = await landing.auth.sessionFromURL(`https://app.example/#type=magic_link&status=ok&access_token=${s.access_token}` +
    `&refresh_token=${s.refresh_token}&token_type=bearer&expires_in=${s.expires_in}&expires_at=${s.expires_at}`);
  assert.equal(got!.user.email, email);
  assert.equal(await landing.auth.sessionFromURL("https://app.example/#type=magic_link"), null);
  const bad = await refusal(landing.auth.sessionFromURL("https://app.example/#error=invalid_link&error_description=used"));
  assert.equal(bad.code, "invalid_link");
});

test("records: create, get, list with filter and sort, update, delete; RLS hides others' rows", async () => {
  const alice = await signedUp("alice");
  const bob = await signedUp("bob");

  const milk = await alice.records.create<Note>("notes", { title: "milk" });
  assert.equal(milk.title, "milk");
  assert.equal(milk.owner, alice.auth.session!.user.id, "the owner default is auth.uid()");
  await alice.records.create<Note>("notes", { title: "bread", done: true });
  await alice.records.create<Note>("notes", { title: "eggs" });

  assert.deepEqual(await alice.records.get<Note>("notes", milk.id), milk);
  const open = await alice.records.list<Note>("notes", { filter: "done = false", sort: "-title" });
  assert.deepEqual(open.items.map((n) => n.title), ["milk", "eggs"]);
  assert.equal(open.totalItems, 2);

  const seen: string[] = [];
  for await (const n of alice.records.iterate<Note>("notes", { sort: "id", perPage: 1 })) seen.push(n.title);
  assert.deepEqual(seen, ["milk", "bread", "eggs"], "iterate follows the after cursor");

  // Bob sees none of them, and cannot read one by key.
  assert.equal((await bob.records.list("notes")).items.length, 0);
  const hidden = await refusal(bob.records.get("notes", milk.id));
  assert.equal(hidden.status, 404);
  assert.equal(hidden.code, "not_found");

  const updated = await alice.records.update<Note>("notes", milk.id, { done: true });
  assert.equal(updated.done, true);
  assert.equal(updated.title, "milk", "PATCH is partial");
  assert.equal(await alice.records.update("notes", milk.id, { title: "oat milk" }, { returnMinimal: true }), undefined);

  await alice.records.delete("notes", milk.id);
  assert.equal((await refusal(alice.records.get("notes", milk.id))).status, 404);
});

test("records: bad input is a clear error and writes nothing", async () => {
  const c = await signedUp("bad");
  const unknownCol = await refusal(c.records.list("notes", { filter: "colour = 'red'" }));
  assert.equal(unknownCol.status, 400);
  assert.match(unknownCol.message, /colour/);

  const unknownKey = await refusal(c.records.create("notes", { title: "x", colour: "red" }));
  assert.equal(unknownKey.status, 400);

  // One failing operation rolls the whole batch back.
  const failed = await refusal(c.records.batch("notes", [
    { method: "create", body: { title: "first" } },
    { method: "create", body: { title: null } },
  ]));
  assert.equal(failed.status, 400);
  assert.equal((await c.records.list("notes")).totalItems, 0, "nothing of the failed batch is left");

  const ok = await c.records.batch<Note>("notes", [
    { method: "create", body: { title: "a" } },
    { method: "create", body: { title: "b" } },
  ]);
  assert.deepEqual(ok.map((r) => r.status), [201, 201]);
  const del = await c.records.batch("notes", [{ method: "delete", id: ok[0].body!.id }]);
  assert.equal(del[0].status, 204);
  assert.equal((await c.records.list("notes")).totalItems, 1);
});

test("rpc: POST with named arguments and GET for an immutable function", async () => {
  const c = await signedUp("rpc");
  assert.equal(await c.rpc<number>("add_numbers", { a: 2, b: 3 }), 5);
  assert.equal(await c.rpc<number>("add_numbers", { a: 40, b: 2 }, { get: true }), 42);
  const missing = await refusal(c.rpc("no_such_function"));
  assert.equal(missing.status, 404);
});

test("realtime: own changes arrive, others' do not, and a resume catches up", async () => {
  // Alice's client notes its token handovers (POST /api/realtime/{id}/token).
  const handovers: number[] = [];
  const watched: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    if (String(input).match(/\/api\/realtime\/[^/?]+\/token$/)) handovers.push(res.status);
    return res;
  };
  const alice = new AYB(url!, { fetch: watched });
  await alice.auth.signUp({ email: `rt-alice-${run}@example.com`, password });
  const bob = await signedUp("rt-bob");
  const got: ChangeEvent<Note>[] = [];
  const bobGot: ChangeEvent<Note>[] = [];
  const sub = alice.realtime.subscribe<Note>(["notes"], (e) => got.push(e));
  const bobSub = bob.realtime.subscribe<Note>(["notes"], (e) => bobGot.push(e));
  await Promise.all([sub.ready, bobSub.ready]);

  const n = await alice.records.create<Note>("notes", { title: "live" });
  await until(() => got.length >= 1);
  assert.equal(got[0].op, "insert");
  assert.equal(got[0].record!.title, "live");
  assert.equal(got[0].pk.id, n.id);

  // While alice is away, a change happens; resuming from her last id
  // brings it, once.
  const last = sub.lastEventId;
  assert.ok(last !== undefined);
  sub.close();
  await alice.records.update("notes", n.id, { title: "changed while away" });
  const resumed: ChangeEvent<Note>[] = [];
  const again = alice.realtime.subscribe<Note>(["notes"], (e) => resumed.push(e), { lastEventId: last });
  await again.ready;
  await until(() => resumed.length >= 1);
  assert.equal(resumed[0].op, "update");
  assert.equal(resumed[0].record!.title, "changed while away");

  // A refreshed session is handed to the open stream, which keeps going.
  await alice.auth.refresh();
  await until(() => handovers.length >= 1);
  assert.deepEqual(handovers, [204]);
  await alice.records.delete("notes", n.id);
  await until(() => resumed.length >= 2);
  assert.equal(resumed[1].op, "delete");
  again.close();

  await sleep(500);
  bobSub.close();
  assert.equal(bobGot.length, 0, "bob sees none of alice's changes");
});

test("realtime: a refused subscription rejects ready with the server's error", async () => {
  const c = await signedUp("rt-refused");
  const sub = c.realtime.subscribe(["no_such_table"], () => {});
  const e = await refusal(sub.ready);
  assert.equal(e.status, 404);
});

test("the error catalog is the server's", () => {
  assert.equal(errorCodes.not_found, 404);
  assert.equal(errorCodes.rate_limited, 429);
  assert.equal(errorCodes.invalid_credentials, 401);
});

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await sleep(25);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
