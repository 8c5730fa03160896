/**
 * Jupyter notebooks (`.ipynb`): the Python in their code cells, with IPython
 * syntax removed so the import scanner sees plain Python. Line magics
 * (`%matplotlib`), shell lines (`!ls`, `x = !ls`) and help lines (`obj?`) are
 * blanked, keeping line numbers; cells under a non-Python cell magic
 * (`%%bash`, `%%html`, ...) are skipped; the bodies of `%%time`, `%%timeit`,
 * `%%capture`, ... are analysed. `%%writefile m.py` makes `m` a local module
 * (and its body is analysed), and `!pip install X` / `%pip install X` /
 * `!conda install X` are reported so the packages can be added.
 *
 * @module
 */

/** One piece of Python to scan, from one cell. */
export interface NotebookCode {
  /** 1-based position of the cell in the notebook (all cell types counted). */
  cell: number;
  /** The Python text; skipped lines are blank so line numbers match the cell. */
  source: string;
}

/** A package install command found in a cell. */
export interface NotebookInstall {
  /** 1-based cell position. */
  cell: number;
  /** 1-based line inside the cell. */
  line: number;
  /** `pip` (pip/`%pip`) or `conda` (conda/mamba/`%conda`). */
  manager: "pip" | "conda";
  /** The requirement arguments as written (options dropped). */
  packages: string[];
}

/** What a notebook holds for the analysis. */
export interface NotebookContent {
  /** Python to scan, one entry per analysed cell. */
  code: NotebookCode[];
  /** Files written by `%%writefile` (paths as written), with their cell. */
  writefiles: { cell: number; path: string }[];
  /** Install commands found. */
  installs: NotebookInstall[];
  /** Problems (not Python, unreadable cells). */
  problems: { cell: number; message: string }[];
}

/** Cell magics whose body is Python run in the kernel (or a Python subprocess). */
const PYTHON_CELL_MAGICS = new Set([
  "time",
  "timeit",
  "capture",
  "prun",
  "debug",
  "python",
  "python3",
  "px",
  "cache",
  "writefile",
  "file",
]);

const INSTALL = /^\s*[!%]\s*(pip3?|python3?\s+-m\s+pip|conda|mamba|micromamba)\s+install\s+(.*)$/;

/** Options of pip/conda install that take a value (the value is not a package). */
const OPTIONS_WITH_VALUE = new Set([
  "-r",
  "--requirement",
  "-c",
  "--constraint",
  "-i",
  "--index-url",
  "--extra-index-url",
  "-f",
  "--find-links",
  "-t",
  "--target",
  "--prefix",
  "-p",
  "-n",
  "--name",
  "--channel",
  "--trusted-host",
  "-e",
  "--editable",
  "--python-version",
  "--platform",
]);

function installArgs(rest: string): string[] {
  const words = rest.replace(/\s+#.*$/, "").match(/"[^"]*"|'[^']*'|\S+/g) ?? [];
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i].replace(/^["']|["']$/g, "");
    if (w.startsWith("-")) {
      if (OPTIONS_WITH_VALUE.has(w)) i++;
      continue;
    }
    if (/[{}$]/.test(w) || w.includes("/") || w === "&&" || w === ";" || w === "|") {
      if (w === "&&" || w === ";" || w === "|") break;
      continue;
    }
    out.push(w);
  }
  return out;
}

function cellText(cell: Record<string, unknown>): string | null {
  const src = cell.source ?? cell.input;
  if (typeof src === "string") return src;
  if (Array.isArray(src) && src.every((s) => typeof s === "string")) return src.join("");
  return null;
}

/**
 * Reads a notebook's JSON text.
 *
 * @throws {SyntaxError} when the text is not JSON.
 * @throws {TypeError} when the JSON is not a notebook (no `cells`).
 */
export function readNotebook(text: string): NotebookContent {
  const nb = JSON.parse(text) as Record<string, unknown>;
  const worksheets = nb.worksheets as { cells?: unknown }[] | undefined;
  const cells = Array.isArray(nb.cells)
    ? nb.cells
    : Array.isArray(worksheets) && Array.isArray(worksheets[0]?.cells)
    ? worksheets[0].cells as unknown[]
    : null;
  if (cells === null) throw new TypeError("not a Jupyter notebook: no `cells`");
  const out: NotebookContent = { code: [], writefiles: [], installs: [], problems: [] };
  const meta = (nb.metadata ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const lang = meta.kernelspec?.language ?? meta.language_info?.name;
  if (typeof lang === "string" && lang.toLowerCase() !== "python") {
    out.problems.push({ cell: 0, message: `notebook language is ${lang}, not Python; skipped` });
    return out;
  }
  cells.forEach((raw, i) => {
    const cell = raw as Record<string, unknown>;
    if (!cell || cell.cell_type !== "code") return;
    const number = i + 1;
    const text = cellText(cell);
    if (text === null) {
      out.problems.push({ cell: number, message: "cell source is not text; skipped" });
      return;
    }
    const lines = text.split(/\r?\n|\r/);
    let first = 0;
    while (first < lines.length && lines[first].trim() === "") first++;
    const magic = /^\s*%%(\w+)\s*(.*)$/.exec(lines[first] ?? "");
    if (magic) {
      if (!PYTHON_CELL_MAGICS.has(magic[1])) return; // %%bash, %%html, %%sql, ...
      if (magic[1] === "writefile" || magic[1] === "file") {
        const path = magic[2].split(/\s+/).filter((w) => !w.startsWith("-")).pop() ?? "";
        if (path) out.writefiles.push({ cell: number, path: path.replace(/^["']|["']$/g, "") });
        if (!path.endsWith(".py")) return;
      }
      lines[first] = "";
    }
    const python = lines.map((line, n) => {
      const inst = INSTALL.exec(line);
      if (inst) {
        const manager = /pip/.test(inst[1]) ? "pip" : "conda";
        const packages = installArgs(inst[2]);
        if (packages.length) out.installs.push({ cell: number, line: n + 1, manager, packages });
        return "";
      }
      if (/^\s*[!%]/.test(line)) return ""; // shell line or line magic
      if (/^\s*[\w.]+(\s*,\s*[\w.]+)*\s*=\s*[!%]/.test(line)) return ""; // x = !ls
      if (/^\s*\?\??\s*[\w.]/.test(line) || /^\s*[\w.]+\?\??\s*$/.test(line)) return ""; // help
      return line;
    });
    out.code.push({ cell: number, source: python.join("\n") });
  });
  return out;
}
