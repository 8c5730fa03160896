import assert from "node:assert/strict";
import { canActAsOtherUser, runPoncho, runPonchoAs, withTempLayout } from "../tests/util.ts";
import { fixtureToolsAvailable, makeEnvArchive } from "../tests/fixtures/env_archive.ts";

Deno.test("store: usage errors are exit 1, one line each, naming the subcommand or option", async () => {
  let r = await runPoncho(["store"]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /Usage: poncho store/);
  r = await runPoncho(["store", "frob"]);
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr.trim(),
    "poncho store: unknown store command 'frob' (expected list, gc, path or pack)",
  );
  r = await runPoncho(["store", "list", "--planned"]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim(), "poncho store: list: option --planned does not apply here");
  r = await runPoncho(["store", "gc", "--max-size", "lots"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--max-size 'lots' is not a size/);
  r = await runPoncho(["store", "pack", "nope", "/tmp/x.tar.zst", "--store", "/nonexistent/s"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /store environment nope does not exist/);
});

Deno.test("store list warns about a damaged index record; gc removes it and says why", () =>
  withTempLayout(async (layout) => {
    await Deno.mkdir(layout.index, { recursive: true });
    const record = `${layout.index}/env-1.json`;
    await Deno.writeTextFile(record, '{"id": "env-1", "sour');
    let r = await runPoncho(["store", "list", "--store", layout.root]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^no environments in /);
    assert.equal(
      r.stderr.trim(),
      `poncho store: warning: index record ${record} is damaged (not JSON, or fields missing): ` +
        "no ready environment has that id; poncho store gc removes it",
    );
    r = await runPoncho(["store", "gc", "--store", layout.root]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(`swept ${record} \\(0B, record of something that no longer exists\\)`),
    );
    await assert.rejects(Deno.lstat(record), Deno.errors.NotFound);
    r = await runPoncho(["store", "list", "--store", layout.root]);
    assert.equal(r.stderr, "");
  }));

Deno.test({
  name: "store gc in a shared store: what another user owns (a killed unpack's temp tree, a " +
    "record, a lock) is left and listed as denied, exit 0; the user's own goes; that owner's gc " +
    "removes the rest",
  ignore: !canActAsOtherUser,
  fn: () =>
    withTempLayout(async (layout) => {
      const other = 65534; // nobody
      const old = new Date(Date.now() - 3 * 86_400_000);
      // A shared store: world-writable, sticky directories (each user removes only its own).
      await Deno.chmod(layout.root, 0o755);
      for (const d of [`${layout.root}/v1`, layout.tmp, layout.locks, layout.index]) {
        await Deno.mkdir(d, { recursive: true });
        await Deno.chmod(d, 0o1777);
      }
      await Deno.mkdir(`${layout.index}/sources`, { mode: 0o1777 });
      await Deno.chmod(`${layout.index}/sources`, 0o1777);
      const tree = async (path: string, uid: number) => {
        await Deno.mkdir(`${path}/sub`, { recursive: true, mode: 0o700 });
        await Deno.writeTextFile(`${path}/sub/f`, "x");
        await Deno.chmod(path, 0o700);
        for (const p of [`${path}/sub/f`, `${path}/sub`, path]) await Deno.chown(p, uid, uid);
        await Deno.utime(path, old, old);
      };
      const mine = `${layout.tmp}/.poncho-tmp-fedcba9876543210-2-aaaaaaaa`;
      const theirs = `${layout.tmp}/.poncho-tmp-0123456789abcdef-1-bbbbbbbb`;
      await tree(mine, other);
      await tree(theirs, 0);
      const theirLock = `${layout.locks}/source-${"a".repeat(32)}.lock`;
      const myLock = `${layout.locks}/source-${"b".repeat(32)}.lock`;
      const theirRecord = `${layout.index}/sources/${"c".repeat(32)}.json`;
      await Deno.writeTextFile(theirLock, "");
      await Deno.writeTextFile(myLock, "");
      await Deno.chown(myLock, other, other);
      await Deno.writeTextFile(theirRecord, JSON.stringify({ path: "/nonexistent.tar.zst" }));

      const r = await runPonchoAs(other, ["store", "gc", "--json", "--store", layout.root]);
      assert.equal(r.code, 0, r.stderr);
      const json = JSON.parse(r.stdout);
      assert.deepEqual([...json.denied].sort(), [theirLock, theirs, theirRecord].sort());
      const swept = json.swept.map((s: { path: string }) => s.path);
      assert.ok(swept.includes(mine) && swept.includes(myLock), r.stdout);
      const present = async (p: string) => await Deno.lstat(p).then(() => true, () => false);
      assert.deepEqual(
        await Promise.all([mine, myLock, theirs, theirLock, theirRecord].map(present)),
        [false, false, true, true, true],
      );
      const text = await runPonchoAs(other, ["store", "gc", "--store", layout.root]);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, new RegExp(`kept ${theirs}: permission denied \\(another user's`));

      // Their own gc (here: root's) removes the rest.
      const own = await runPoncho(["store", "gc", "--json", "--store", layout.root]);
      assert.equal(own.code, 0, own.stderr);
      assert.deepEqual(JSON.parse(own.stdout).denied, []);
      assert.deepEqual(await Promise.all([theirs, theirLock, theirRecord].map(present)), [
        false,
        false,
        false,
      ]);
    }),
});

Deno.test({
  name:
    "store gc in a shared store: an environment whose directory is another user's stays whole " +
    "(its record too); a lock is swept even when its holder record is not ours; another user's " +
    "build-cache lock is listed once and the cache items are kept; a temp another user's record " +
    "names is not removed",
  ignore: !canActAsOtherUser || !fixtureToolsAvailable(),
  fn: () =>
    withTempLayout(async (layout) => {
      const other = 65534; // nobody
      await Deno.chmod(layout.root, 0o755);
      const { archive, manifest } = await makeEnvArchive(layout.root, "env.tar.zst");
      const run = await runPoncho(["run", "--store", layout.root, "-e", archive, "--", "true"]);
      assert.equal(run.code, 0, run.stderr);
      for (const d of ["v1", "v1/envs", "v1/tmp", "v1/locks", "v1/index", "v1/archives"]) {
        await Deno.mkdir(`${layout.root}/${d}`, { recursive: true });
        await Deno.chmod(`${layout.root}/${d}`, 0o1777);
      }
      // Root's environment, whose lock file and record are nobody's (say, adopted by nobody).
      const env = `${layout.envs}/${manifest.id}`;
      const record = `${layout.index}/${manifest.id}.json`;
      for (const p of [`${layout.locks}/env-${manifest.id}.lock`, record]) {
        await Deno.chown(p, other, other);
      }
      // A dead lock of nobody's whose holder record is root's.
      const lock = `${layout.locks}/source-${"d".repeat(32)}.lock`;
      await Deno.writeTextFile(lock, "");
      await Deno.chown(lock, other, other);
      await Deno.writeTextFile(`${lock}.holder`, "host 1\n");
      // A cached archive of nobody's, and root's build-cache lock.
      const cached = `${layout.archives}/mine.tar.zst`;
      await Deno.writeTextFile(cached, "x");
      await Deno.chown(cached, other, other);
      const cacheLock = `${layout.locks}/build-cache.lock`;
      await Deno.writeTextFile(cacheLock, "");
      // A dead process's owner directory of root's recording a temp that is nobody's own.
      const owner = `${layout.tmp}/o-999999-abcdef01`;
      await Deno.mkdir(owner);
      await Deno.chmod(owner, 0o777); // as its owner may make it
      await Deno.writeTextFile(`${owner}/.owner.lock`, "");
      await Deno.chmod(`${owner}/.owner.lock`, 0o666); // lockable by anyone
      const theirTemp = `${layout.root}/v1/poncho-run-nobodys`; // in a sticky dir it may delete
      await Deno.mkdir(theirTemp);
      await Deno.chown(theirTemp, other, other);
      await Deno.writeTextFile(`${owner}/ext-0123.json`, JSON.stringify({ path: theirTemp }));

      const r = await runPonchoAs(other, [
        "store",
        "gc",
        "--json",
        "--older-than",
        "0",
        "--store",
        layout.root,
      ]);
      assert.equal(r.code, 0, r.stderr);
      const json = JSON.parse(r.stdout);
      for (const p of [env, `${lock}.holder`, cacheLock]) assert.ok(json.denied.includes(p), p);
      assert.ok(!json.denied.includes(cached) && !json.denied.includes(lock), r.stdout);
      assert.ok(json.swept.some((s: { path: string }) => s.path === lock), r.stdout);
      assert.ok(json.skippedCache.some((c: { path: string }) => c.path === cached), r.stdout);
      const present = async (p: string) => await Deno.lstat(p).then(() => true, () => false);
      assert.deepEqual(
        await Promise.all([env, `${env}/.poncho/ready.json`, record, `${lock}.holder`, cached]
          .map(present)),
        [true, true, true, true, true],
      );
      assert.equal(await present(lock), false);
      // Root's record could not make nobody's gc delete nobody's own temp.
      assert.ok(await present(theirTemp), "a temp recorded by another user is not removed");
      assert.ok(json.denied.includes(owner), r.stdout);
    }),
});
