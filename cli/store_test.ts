import assert from "node:assert/strict";
import { runPoncho, withTempLayout } from "../tests/util.ts";

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
