import assert from "node:assert/strict";
import { join } from "node:path";
import { compilePyc } from "./pyc.ts";
import { commandPath, withTempDir } from "../../tests/util.ts";

const python3 = commandPath("python3");
if (!python3) console.log("pyc_test: no python3; skipped");

Deno.test({
  name: "compilePyc: checked-hash .pyc beside each source, no prefix inside, bad files skipped",
  ignore: !python3,
  fn: () =>
    withTempDir("poncho-pyc-", async (prefix) => {
      await Deno.mkdir(join(prefix, "bin"));
      await Deno.symlink(python3, join(prefix, "bin", "python3"));
      const sp = "lib/python3/site-packages";
      await Deno.mkdir(join(prefix, sp, "pkg"), { recursive: true });
      await Deno.writeTextFile(
        join(prefix, sp, "pkg/__init__.py"),
        "def f():\n    raise ValueError\n",
      );
      await Deno.writeTextFile(join(prefix, sp, "pkg/py2.py"), "print 'python 2 only'\n");
      await Deno.writeTextFile(join(prefix, sp, "pkg/data.txt"), "not python\n");
      const got = await compilePyc(prefix, "bin/python3", [
        `${sp}/pkg/__init__.py`,
        `${sp}/pkg/py2.py`,
        `${sp}/pkg/data.txt`,
      ]);
      assert.deepEqual([...got.keys()], [`${sp}/pkg/__init__.py`]);
      const pyc = got.get(`${sp}/pkg/__init__.py`)!;
      assert.match(pyc, new RegExp(`^${sp}/pkg/__pycache__/__init__\\.[a-z]+-\\d+\\.pyc$`));
      const bytes = await Deno.readFile(join(prefix, pyc));
      // PEP 552 flags word: 0b11 = hash-based, checked.
      assert.equal(new DataView(bytes.buffer).getUint32(4, true), 3);
      assert.ok(!new TextDecoder("latin1").decode(bytes).includes(prefix), "no prefix inside");
      // Python accepts it as it is: importing writes nothing new.
      const before = [...Deno.readDirSync(join(prefix, sp, "pkg/__pycache__"))].length;
      const out = await new Deno.Command(join(prefix, "bin/python3"), {
        args: ["-c", "import pkg, sys; print(pkg.__file__)"],
        env: { PYTHONPATH: join(prefix, sp) },
        stdout: "piped",
      }).output();
      assert.ok(out.success);
      assert.equal([...Deno.readDirSync(join(prefix, sp, "pkg/__pycache__"))].length, before);
      // Many files (compiled in parallel where there are cores): each one, nothing else written.
      const many = Array.from({ length: 80 }, (_, i) => `${sp}/many/m${i}.py`);
      await Deno.mkdir(join(prefix, sp, "many"));
      for (const m of many) await Deno.writeTextFile(join(prefix, m), `X = ${many.indexOf(m)}\n`);
      const all = await compilePyc(prefix, "bin/python3", many);
      assert.deepEqual([...all.keys()].sort(), [...many].sort());
      for (const pyc of all.values()) assert.ok(Deno.statSync(join(prefix, pyc)).isFile);
      assert.equal([...Deno.readDirSync(join(prefix, sp, "many/__pycache__"))].length, 80);
      // No interpreter: nothing compiled, no error.
      assert.equal((await compilePyc(prefix, "bin/python9.9", [`${sp}/pkg/__init__.py`])).size, 0);
    }),
});
