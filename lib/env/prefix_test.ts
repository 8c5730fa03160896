import assert from "node:assert/strict";
import { join } from "node:path";
import { PonchoError } from "../errors.ts";
import {
  findAllBytes,
  fixShebang,
  indexOfBytes,
  isBinary,
  parseShebang,
  replaceBinary,
  replaceText,
} from "./prefix.ts";
import { commandPath, hasCommand } from "../../tests/util.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

const gcc = hasCommand("gcc");
const python = hasCommand("python3");
if (!gcc) console.log("prefix_test: gcc not found, skipping the ELF test");
if (!python) console.log("prefix_test: python3 not found, skipping the shebang tests");

Deno.test("indexOfBytes agrees with a naive search on random data (anchor and Horspool)", () => {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 4;
  const data = Uint8Array.from({ length: 5000 }, () => 0x30 + rnd());
  for (const len of [1, 2, 3, 5, 7, 8, 13, 40]) {
    const needle = data.slice(1234, 1234 + len);
    const naive = (from: number) => {
      outer: for (let i = from; i <= data.length - len; i++) {
        for (let j = 0; j < len; j++) if (data[i + j] !== needle[j]) continue outer;
        return i;
      }
      return -1;
    };
    for (const from of [0, 17, 1234, 1235, 4999]) {
      assert.equal(indexOfBytes(data, needle, from), naive(from), `len ${len} from ${from}`);
    }
  }
  assert.equal(indexOfBytes(enc.encode("abc"), enc.encode("abcd")), -1);
  assert.equal(indexOfBytes(enc.encode("xx/opt/prefix/abc"), enc.encode("/prefix/abc")), 6);
  assert.equal(indexOfBytes(enc.encode("/prefix/abc"), enc.encode("/prefix/abc"), 1), -1);
  assert.deepEqual(findAllBytes(enc.encode("xaxaxa"), enc.encode("xa")), [0, 2, 4]);
});

Deno.test("isBinary is true exactly when a NUL byte is present", () => {
  assert.equal(isBinary(enc.encode("#!/bin/sh\necho hi\n")), false);
  assert.equal(isBinary(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0, 1])), true);
});

Deno.test("replaceText replaces every occurrence and may change the length", () => {
  const data = enc.encode("A=/old/p\nB=/old/p/lib:/old/p/bin\n");
  const out = replaceText(data, "/old/p", "/new/longer/prefix");
  assert.equal(
    dec.decode(out),
    "A=/new/longer/prefix\nB=/new/longer/prefix/lib:/new/longer/prefix/bin\n",
  );
  assert.equal(replaceText(data, "/absent", "/x"), data);
});

Deno.test("replaceBinary pads each C string with NULs and keeps the length", () => {
  const ph = "/ph_" + "x".repeat(20);
  const data = enc.encode(`head\0${ph}/lib:${ph}/bin\0mid\0${ph}\0tail`);
  const out = replaceBinary(data, ph, "/n");
  assert.equal(out.length, data.length);
  const want = `head\0/n/lib:/n/bin${"\0".repeat(2 * (ph.length - 2))}\0mid\0/n${
    "\0".repeat(ph.length - 2)
  }\0tail`;
  assert.equal(dec.decode(out), want);
  assert.equal(dec.decode(data).includes(ph), true, "input is not modified");
  assert.equal(replaceBinary(data, "/absent", "/n"), data);
  assert.throws(
    () => replaceBinary(data, ph, "/" + "y".repeat(ph.length)),
    (e: unknown) =>
      e instanceof PonchoError && /longer than the binary placeholder/.test(e.message),
  );
});

Deno.test({
  name: "replaceBinary relocates a real ELF built with gcc",
  ignore: !gcc,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const ph = "/opt/" + "placehold_".repeat(25); // 255 characters
      assert.equal(ph.length, 255);
      await Deno.writeTextFile(
        join(dir, "p.c"),
        `#include <stdio.h>\nstatic const char prefix[] = "${ph}";\n` +
          `int main(void) { puts(prefix); return 0; }\n`,
      );
      const cc = await new Deno.Command("gcc", {
        args: ["-O0", "-o", join(dir, "p"), join(dir, "p.c")],
      }).output();
      assert.ok(cc.success, dec.decode(cc.stderr));
      const original = await Deno.readFile(join(dir, "p"));
      const newPrefix = join(dir, "relocated env");
      const out = replaceBinary(original, ph, newPrefix);
      assert.equal(out.length, original.length);
      await Deno.writeFile(join(dir, "p2"), out, { mode: 0o755 });
      const run = await new Deno.Command(join(dir, "p2")).output();
      assert.ok(run.success);
      assert.equal(dec.decode(run.stdout), newPrefix + "\n");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("parseShebang splits the interpreter from its options", () => {
  assert.deepEqual(parseShebang("#!/a b/bin/python3.11 -E -s"), {
    interpreter: "/a b/bin/python3.11",
    args: "-E -s",
  });
  assert.deepEqual(parseShebang("#! /usr/bin/env python3"), {
    interpreter: "/usr/bin/env",
    args: "python3",
  });
  assert.equal(parseShebang("# not a shebang"), undefined);
});

Deno.test("fixShebang leaves short, space-free shebangs and non-scripts alone", () => {
  const ok = enc.encode("#!/usr/bin/python3\nprint(1)\n");
  assert.equal(fixShebang(ok), ok);
  const elf = new Uint8Array([0x7f, 0x45, 0x4c, 0x46]);
  assert.equal(fixShebang(elf), elf);
});

async function runShebangCase(interpDir: string, body: string, args: string[]) {
  await Deno.mkdir(interpDir, { recursive: true });
  const py = join(interpDir, "python3.11");
  await Deno.symlink(commandPath("python3"), py);
  const script = join(interpDir, "script");
  const original = enc.encode(`#!${py} -E\n${body}`);
  const fixed = fixShebang(original);
  assert.notEqual(fixed, original);
  await Deno.writeFile(script, fixed, { mode: 0o755 });
  // Run it the way the kernel would (exec the file) and also via /bin/sh explicitly.
  const direct = await new Deno.Command(script, { args }).output();
  const viaSh = await new Deno.Command("/bin/sh", { args: [script, ...args] }).output();
  return { direct, viaSh, fixed: dec.decode(fixed) };
}

Deno.test({
  name: "fixShebang: a python interpreter under a path with spaces really runs",
  ignore: !python,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const body = "import sys\nprint(sys.argv[1:], sys.flags.ignore_environment)\n";
      const r = await runShebangCase(join(dir, "my env", "bin"), body, ["a b", "c"]);
      assert.match(
        r.fixed,
        /^#!\/bin\/sh\n'''exec' ".*my env\/bin\/python3\.11" "-E" "\$0" "\$@"\n/,
      );
      for (const out of [r.direct, r.viaSh]) {
        assert.ok(out.success, dec.decode(out.stderr));
        assert.equal(dec.decode(out.stdout), "['a b', 'c'] 1\n");
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "fixShebang: a python interpreter under a 200-character path really runs",
  ignore: !python,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      let long = dir;
      while (long.length < 200) long = join(long, "deep_directory_name");
      const r = await runShebangCase(join(long, "bin"), "import sys\nprint(sys.argv[1])\n", ["x"]);
      for (const out of [r.direct, r.viaSh]) {
        assert.ok(out.success, dec.decode(out.stderr));
        assert.equal(dec.decode(out.stdout), "x\n");
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("fixShebang: other interpreters use /usr/bin/env with their name", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bin = join(dir, "an env", "bin");
    await Deno.mkdir(bin, { recursive: true });
    await Deno.symlink("/bin/sh", join(bin, "mysh"));
    const fixed = fixShebang(enc.encode(`#!${bin}/mysh -e\necho "got $1"\n`));
    assert.equal(dec.decode(fixed), `#!/usr/bin/env -S mysh -e\necho "got $1"\n`);
    await Deno.writeFile(join(bin, "tool"), fixed, { mode: 0o755 });
    const out = await new Deno.Command(join(bin, "tool"), {
      args: ["x"],
      env: { PATH: `${bin}:/usr/bin:/bin` },
    }).output();
    assert.equal(dec.decode(out.stdout), "got x\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "fixShebang keeps the interpreter byte-exact under a prefix with two spaces, a tab and ' -x'",
  ignore: !python,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const prefix = join(dir, "two  spaces\ttab -x");
      const bin = join(prefix, "bin");
      await Deno.mkdir(bin, { recursive: true });
      await Deno.symlink(commandPath("python3"), join(bin, "python3.11"));
      const body = "import sys\nprint(sys.argv[1:], sys.flags.no_user_site)\n";
      const original = enc.encode(`#!${bin}/python3.11 -s\n${body}`);
      // The kernel would run "<dir>/two"; without the prefix, the last word with a '/' ends it.
      assert.equal(parseShebang(`#!${bin}/python3.11 -s`)?.interpreter, `${bin}/python3.11`);
      assert.equal(parseShebang(`#!${bin}/python3.11\t-s  `)?.args, "-s");
      assert.deepEqual(parseShebang(`#!${bin}/python3.11 -s`, prefix), {
        interpreter: `${bin}/python3.11`,
        args: "-s",
      });
      const fixed = fixShebang(original, prefix);
      const text = dec.decode(fixed);
      assert.ok(
        text.startsWith(`#!/bin/sh\n'''exec' "${bin}/python3.11" "-s" "$0" "$@"\n' '''\n`),
        text,
      );
      assert.ok(text.endsWith(body));
      const script = join(bin, "tool");
      await Deno.writeFile(script, fixed, { mode: 0o755 });
      const out = await new Deno.Command(script, { args: ["a  b"] }).output();
      assert.ok(out.success, dec.decode(out.stderr));
      assert.equal(dec.decode(out.stdout), "['a  b'] 1\n");
      // A short shebang without blanks is left alone, even with a prefix given.
      const plain = enc.encode("#!/usr/bin/python3\n");
      assert.equal(fixShebang(plain, prefix), plain);
      // Non-UTF-8 bytes in the path survive untouched.
      const latin = new Uint8Array([
        ...enc.encode("#!/x y/\xff"),
        0xe9,
        ...enc.encode("/python\n"),
      ]);
      const kept = fixShebang(latin, "/x y");
      assert.ok(kept.includes(0xe9));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
