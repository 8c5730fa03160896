import assert from "node:assert/strict";
import {
  BuildError,
  CorruptError,
  EXIT_CODES,
  explanationLines,
  fsError,
  NetworkError,
  NotFoundError,
  PermissionError,
  PonchoError,
  UsageError,
  userError,
} from "./errors.ts";

/** The error `fn` throws. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected an error");
}

Deno.test("error kinds carry their exit code, path and URL", () => {
  const cases: [PonchoError, string, number][] = [
    [new UsageError("u"), "usage", 1],
    [new NotFoundError("n", { path: "/a" }), "not-found", 2],
    [new PermissionError("p", { path: "/a" }), "permission", 3],
    [new PermissionError("p", { path: "/a", input: true }), "permission", 2],
    [new NetworkError("x", { url: "http://h/" }), "network", 3],
    [new CorruptError("c"), "corrupt", 3],
    [new BuildError("b"), "build", 3],
    [new PonchoError("legacy", 4), "activation", 4],
    [new PonchoError("legacy"), "build", 3],
  ];
  for (const [err, kind, code] of cases) {
    assert.equal(err.kind, kind, err.message);
    assert.equal(err.exitCode, code, err.message);
    assert.ok(err instanceof PonchoError);
  }
  assert.equal(new NotFoundError("n", { path: "/a" }).path, "/a");
  assert.equal(new NetworkError("x", { url: "http://h/" }).url, "http://h/");
  for (const [kind, code] of Object.entries(EXIT_CODES)) {
    assert.ok([1, 2, 3, 4].includes(code), `${kind} -> ${code}`);
  }
});

Deno.test("fsError maps real ENOSPC, ENOTDIR, EISDIR, ENOENT, EPERM errors to kinds naming the path", () => {
  const full = fsError(
    thrown(() => Deno.writeFileSync("/dev/full", new Uint8Array(10))),
    "/dev/full",
    { what: "cannot write" },
  ) as PonchoError;
  assert.equal(full.kind, "no-space");
  assert.equal(full.exitCode, 3);
  assert.match(full.message, /^cannot write \/dev\/full: no space left on device/);
  assert.equal(full.path, "/dev/full");

  const notDir = fsError(thrown(() => Deno.readFileSync("/etc/passwd/x")), "/etc/passwd/x", {
    role: "input",
  }) as PonchoError;
  assert.equal(notDir.kind, "not-found");
  assert.equal(notDir.exitCode, 2);
  assert.match(notDir.message, /\/etc\/passwd\/x: a component of the path is not a directory/);

  const isDir = fsError(thrown(() => Deno.readFileSync("/tmp")), "/tmp", { role: "input" });
  assert.equal((isDir as PonchoError).kind, "not-found");

  const missingOut = fsError(
    thrown(() => Deno.writeFileSync("/nonexistent/o", new Uint8Array())),
    "/nonexistent/o",
    {
      role: "output",
    },
  ) as PonchoError;
  assert.equal(missingOut.kind, "usage");

  const inStore = fsError(thrown(() => Deno.readFileSync("/nonexistent")), "/nonexistent");
  assert.equal((inStore as PonchoError).kind, "build");

  const denied = fsError(thrown(() => Deno.mkdirSync("/sys/poncho-x")), "/sys/poncho-x");
  assert.equal((denied as PonchoError).kind, "permission");
  assert.equal((denied as PonchoError).exitCode, 3);

  // Not an operating-system error: a bug, returned as it is.
  const bug = new TypeError("x is undefined");
  assert.equal(fsError(bug, "/a"), bug);
  assert.equal(userError(bug), undefined);
  const known = new UsageError("u");
  assert.equal(fsError(known, "/a"), known);
});

Deno.test("userError maps an unmapped OS error at the top level, keeping Deno's path", () => {
  const err = userError(thrown(() => Deno.writeFileSync("/dev/full", new Uint8Array(1))));
  assert.ok(err);
  assert.equal(err.kind, "no-space");
  assert.match(err.message, /writefile '\/dev\/full'/);
  assert.doesNotMatch(err.message, /os error/);
});

Deno.test("explanationLines cuts a long explanation and counts what was cut", () => {
  const lines = Array.from({ length: 20_000 }, (_, i) => `dep-${i} cannot be installed`);
  const out = explanationLines(lines);
  assert.ok(out.length <= 41);
  assert.ok(out.join("\n").length < 6000);
  assert.match(out.at(-1)!, /^\.\.\. \d+ more lines \(\d+ characters\) cut/);
  const kept = out.length - 1;
  assert.match(out.at(-1)!, new RegExp(`^\\.\\.\\. ${20_000 - kept} more lines`));
  const one = explanationLines(["x".repeat(189_008)]);
  assert.ok(one[0].length < 400, "one huge line is cut too");
  assert.match(one[0], /188708 more characters/);
  assert.deepEqual(explanationLines(["a", "b"]), ["a", "b"]);
});
