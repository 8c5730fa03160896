import assert from "node:assert/strict";
import { legacyCommand, legacyCreateArgs, legacyRunArgs } from "./legacy.ts";
import { NotFoundError, UsageError } from "../lib/errors.ts";

const existing = (...paths: string[]) => (p: string) => Promise.resolve(paths.includes(p));
const noStore = () => undefined;

Deno.test("python_package_run NAME STRING: NAME.tar.gz first, then NAME, run by /bin/sh -c", async () => {
  assert.deepEqual(
    await legacyRunArgs(["venv", "python3 x.py"], existing("venv.tar.gz", "venv"), noStore),
    ["-e", "venv.tar.gz", "--", "/bin/sh", "-c", "python3 x.py"],
  );
  assert.deepEqual(
    await legacyRunArgs(["-d", "env.tar.zst", "echo $X"], existing("env.tar.zst"), noStore),
    ["-d", "-e", "env.tar.zst", "--", "/bin/sh", "-c", "echo $X"],
  );
  await assert.rejects(
    () => legacyRunArgs(["venv", "true"], existing(), noStore),
    (e: Error) => e instanceof NotFoundError && /venv\.tar\.gz nor venv/.test(e.message),
  );
  for (const bad of [["venv"], ["venv", "a", "b"], []]) {
    await assert.rejects(() => legacyRunArgs(bad, existing("venv"), noStore), UsageError);
  }
  assert.equal(await legacyRunArgs(["-h"], existing(), noStore), undefined);
});

Deno.test("python_package_run -e ENV --unpack-to DIR: Work Queue's form; PONCHO_STORE wins over DIR", async () => {
  const args = ["-e", "env.tar.gz", "--unpack-to", "/sb/env.tar.gz-env", "python", "w.py", "f"];
  assert.deepEqual(await legacyRunArgs(args, existing(), noStore), [
    "-e",
    "env.tar.gz",
    "--unpack-to",
    "/sb/env.tar.gz-env",
    "--",
    "python",
    "w.py",
    "f",
  ]);
  const store = (n: string) => n === "PONCHO_STORE" ? "/shared/store" : undefined;
  assert.deepEqual(await legacyRunArgs(args, existing(), store), [
    "-e",
    "env.tar.gz",
    "--",
    "python",
    "w.py",
    "f",
  ]);
});

Deno.test("python_package_create DEPS NAME writes NAME.tar.gz; other options pass through", () => {
  assert.deepEqual(legacyCreateArgs(["deps.json", "venv"]), ["deps.json", "venv.tar.gz"]);
  assert.deepEqual(legacyCreateArgs(["-c", "file:///ch", "-q", "d.json", "v"]), [
    "-c",
    "file:///ch",
    "-q",
    "d.json",
    "v.tar.gz",
  ]);
  assert.equal(legacyCreateArgs(["--help"]), undefined);
  assert.throws(() => legacyCreateArgs(["deps.json"]), UsageError);
  assert.throws(() => legacyCreateArgs(["deps.json", "-q"]), UsageError);
});

Deno.test("python_package_analyze: usage errors are exit code 1 material", async () => {
  const analyze = legacyCommand("python_package_analyze");
  await assert.rejects(() => analyze(["only.py"]), UsageError);
  await assert.rejects(() => analyze(["--toplevel", "a.py", "b.json"]), UsageError);
  assert.throws(() => legacyCommand("poncho_package_run"), TypeError);
});
