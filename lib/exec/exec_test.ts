import assert from "node:assert/strict";
import { execInEnv, resolveCommand } from "./exec.ts";
import { EXIT_ACTIVATION, PonchoError } from "../errors.ts";
import { readToEnd } from "../../tests/util.ts";

const EXEC_MODULE = new URL("./exec.ts", import.meta.url).href;
const ERRORS_MODULE = new URL("../errors.ts", import.meta.url).href;

/** Runs `execInEnv(options)` in a separate Deno process, as `poncho run` would. */
function spawnExec(options: Record<string, unknown>, env?: Record<string, string>) {
  const src = `
    import { execInEnv } from ${JSON.stringify(EXEC_MODULE)};
    import { PonchoError } from ${JSON.stringify(ERRORS_MODULE)};
    try {
      Deno.exit(await execInEnv(${JSON.stringify(options)}));
    } catch (err) {
      if (!(err instanceof PonchoError)) throw err;
      console.error("poncho run: " + err.message);
      Deno.exit(err.exitCode);
    }`;
  return new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", src],
    stdout: "piped",
    stderr: "piped",
    env,
  }).spawn();
}

async function makePrefix(): Promise<string> {
  const prefix = await Deno.makeTempDir({ prefix: "poncho-exec-" });
  await Deno.mkdir(`${prefix}/bin`);
  await Deno.writeTextFile(`${prefix}/bin/hello`, '#!/bin/sh\necho hello from env "$@"\n', {
    mode: 0o755,
  });
  return prefix;
}

Deno.test("the command's exit status is returned; 128+N when killed by signal N", async () => {
  const prefix = await makePrefix();
  try {
    assert.equal(await execInEnv({ prefix, argv: ["sh", "-c", "exit 7"] }), 7);
    assert.equal(await execInEnv({ prefix, argv: ["sh", "-c", "kill -USR1 $$"] }), 138);
    assert.equal(await execInEnv({ prefix, argv: ["sh", "-c", "kill -KILL $$"] }), 137);
  } finally {
    await Deno.remove(prefix, { recursive: true });
  }
});

Deno.test("activation: PATH, CONDA_PREFIX, PONCHO_PREFIX set; PYTHONPATH/HOME unset", async () => {
  const prefix = await makePrefix();
  try {
    const child = spawnExec(
      {
        prefix,
        argv: [
          "sh",
          "-c",
          'hello; echo "$CONDA_PREFIX|$CONDA_DEFAULT_ENV|$PONCHO_PREFIX|${PYTHONPATH-unset}|' +
          '${PYTHONHOME-unset}|$KEEP"; echo "$PATH"',
        ],
      },
      { PYTHONPATH: "/bad", PYTHONHOME: "/bad", KEEP: "kept", PATH: "/usr/bin:/bin" },
    );
    const out = await child.output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    assert.equal(lines[0], "hello from env");
    assert.equal(lines[1], `${prefix}|${prefix}|${prefix}|unset|unset|kept`);
    assert.equal(lines[2], `${prefix}/bin:/usr/bin:/bin`);
  } finally {
    await Deno.remove(prefix, { recursive: true });
  }
});

Deno.test("activate.d scripts are sourced in order before the command", async () => {
  const prefix = await makePrefix();
  try {
    const dir = `${prefix}/etc/conda/activate.d`;
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(`${dir}/b.sh`, 'export ORDER="${ORDER}b"\n');
    await Deno.writeTextFile(`${dir}/a.sh`, 'export ORDER="${ORDER}a"\ntest -n "" && echo no\n');
    const child = spawnExec({
      prefix,
      argv: ["sh", "-c", 'echo "$ORDER $0 $1"', "zero", "one"],
      activateScripts: [`${dir}/a.sh`, `${dir}/b.sh`],
    });
    const out = await child.output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.equal(new TextDecoder().decode(out.stdout).trim(), "ab zero one");
  } finally {
    await Deno.remove(prefix, { recursive: true });
  }
});

Deno.test("a missing command is exit 4 with a one-line message", async () => {
  const prefix = await makePrefix();
  try {
    await assert.rejects(
      execInEnv({ prefix, argv: ["no-such-command-poncho"] }),
      (err: unknown) => {
        assert.ok(err instanceof PonchoError);
        assert.equal(err.exitCode, EXIT_ACTIVATION);
        assert.match(err.message, /no-such-command-poncho/);
        return true;
      },
    );
    const out = await spawnExec({ prefix, argv: ["no-such-command-poncho"] }).output();
    assert.equal(out.code, 4);
    const stderr = new TextDecoder().decode(out.stderr).trim();
    assert.equal(stderr.split("\n").length, 1);
    assert.match(stderr, /cannot start 'no-such-command-poncho'/);
  } finally {
    await Deno.remove(prefix, { recursive: true });
  }
});

Deno.test("resolveCommand follows PATH order and skips non-executables", async () => {
  const prefix = await makePrefix();
  try {
    await Deno.writeTextFile(`${prefix}/bin/plain`, "not executable", { mode: 0o644 });
    assert.equal(resolveCommand("hello", `/nonexistent:${prefix}/bin`), `${prefix}/bin/hello`);
    assert.equal(resolveCommand("plain", `${prefix}/bin`), undefined);
    assert.equal(resolveCommand(`${prefix}/bin/hello`, ""), `${prefix}/bin/hello`);
  } finally {
    await Deno.remove(prefix, { recursive: true });
  }
});

for (const signal of ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT"] as const) {
  Deno.test(`${signal} sent to poncho is forwarded to the command`, async () => {
    const prefix = await makePrefix();
    try {
      const name = signal.slice(3);
      const script = `trap 'echo got ${name}; exit 42' ${name}; echo ready; ` +
        "while :; do sleep 0.05; done";
      const child = spawnExec({ prefix, argv: ["sh", "-c", script] });
      const reader = child.stdout.getReader();
      const { value } = await reader.read();
      assert.equal(new TextDecoder().decode(value).trim(), "ready");
      child.kill(signal);
      const rest = await readToEnd(reader);
      const status = await child.status;
      await child.stderr.cancel();
      assert.equal(rest.trim(), `got ${name}`);
      assert.equal(status.code, 42);
    } finally {
      await Deno.remove(prefix, { recursive: true });
    }
  });
}

Deno.test("replace: the command takes the process (its pid, its death, SIGPIPE default, unload run)", async () => {
  const prefix = await makePrefix();
  try {
    const flag = `${prefix}/unloaded`;
    const src = `
      import { execInEnv } from ${JSON.stringify(EXEC_MODULE)};
      addEventListener("unload", () => Deno.writeTextFileSync(${JSON.stringify(flag)}, "yes"));
      await execInEnv({ prefix: ${JSON.stringify(prefix)}, replace: true, argv: ["sh", "-c",
        'hello; echo "$$"; grep "^SigIgn" /proc/self/status; kill -TERM $$'] });
      console.log("not replaced");`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", src],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out = await child.output();
    const [hello, pid, sigIgn] = new TextDecoder().decode(out.stdout).trim().split("\n");
    assert.equal(hello, "hello from env");
    assert.equal(Number(pid), child.pid);
    assert.equal(out.signal, "SIGTERM", new TextDecoder().decode(out.stderr));
    assert.equal(BigInt(`0x${sigIgn.split(/\s+/)[1]}`) & (1n << 12n), 0n, "SIGPIPE stays ignored");
    assert.equal(await Deno.readTextFile(flag), "yes");
  } finally {
    await Deno.remove(prefix, { recursive: true });
  }
});

Deno.test("replace without FFI: the command runs as a child, 128+N for its signal", async () => {
  const prefix = await makePrefix();
  try {
    const script = `${prefix}/main.ts`;
    await Deno.writeTextFile(
      script,
      `import { execInEnv } from ${JSON.stringify(EXEC_MODULE)};
      Deno.exit(await execInEnv({ prefix: ${JSON.stringify(prefix)}, replace: true,
        argv: ["sh", "-c", 'echo "$$"; kill -TERM $$'] }));`,
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--allow-read", "--allow-env", "--allow-run", script],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out = await child.output();
    assert.notEqual(Number(new TextDecoder().decode(out.stdout).trim()), child.pid);
    assert.equal(out.code, 143, new TextDecoder().decode(out.stderr));
    assert.equal(out.signal, null);
  } finally {
    await Deno.remove(prefix, { recursive: true });
  }
});
