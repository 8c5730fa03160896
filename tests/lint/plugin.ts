/**
 * Project lint rules, loaded by `deno lint` through `deno.json`'s `lint.plugins`.
 *
 * - `poncho/function-length`: a product function (in `lib/`, `store/` or `cli/`, not a test) is
 *   at most {@link MAX_FUNCTION_LINES} lines, nested functions counted in their parent. Long
 *   functions are split into named steps with one job each.
 * - `poncho/explained-catch`: a `catch` that does not look at its error (no binding, or a binding
 *   it never uses), and a `.catch(() => ...)` callback without a parameter, treat every failure
 *   alike: EACCES the same as a missing file, a corrupt entry the same as an absent one. Such a
 *   catch must say in a comment (inside it, or in the three lines above it) why any failure is fine there (best-effort cleanup, a
 *   probe whose every failure means "no"); otherwise catch the expected error and rethrow the rest.
 *
 * @module
 */

/** How many lines above a catch a comment may stand and still count as its reason. */
const EXPLAIN_ABOVE = 3;

/** The longest a product function may be, in lines from its first to its last. */
export const MAX_FUNCTION_LINES = 60;

const PRODUCT = /\/(lib|store|cli)\/[^]*\.ts$/;

function isProduct(filename: string): boolean {
  return PRODUCT.test(filename) && !filename.endsWith("_test.ts") && !filename.includes("/deps/");
}

function lineCount(text: string, [start, end]: Deno.lint.Range): number {
  let lines = 1;
  for (let i = start; i < end; i++) if (text.charCodeAt(i) === 10) lines++;
  return lines;
}

function paramNames(node: Deno.lint.Node | null | undefined): string[] {
  if (!node) return [];
  if (node.type === "Identifier") return [node.name];
  return [];
}

const plugin: Deno.lint.Plugin = {
  name: "poncho",
  rules: {
    "function-length": {
      create(ctx) {
        if (!isProduct(ctx.filename)) return {};
        const check = (node: Deno.lint.Node) => {
          const lines = lineCount(ctx.sourceCode.text, node.range);
          if (lines > MAX_FUNCTION_LINES) {
            ctx.report({
              node,
              message: `function is ${lines} lines, over ${MAX_FUNCTION_LINES}`,
              hint: "split it into named steps with one job each",
            });
          }
        };
        return {
          FunctionDeclaration: check,
          FunctionExpression: check,
          ArrowFunctionExpression: check,
        };
      },
    },
    "explained-catch": {
      create(ctx) {
        if (!isProduct(ctx.filename)) return {};
        const text = ctx.sourceCode.text;
        const lineOf = (offset: number) => lineCount(text, [0, offset]);
        // Lines that hold a comment, so a reason may stand inside the handler or just above it.
        const commented = new Set<number>();
        for (const c of ctx.sourceCode.getAllComments()) {
          for (let l = lineOf(c.range[0]); l <= lineOf(c.range[1]); l++) commented.add(l);
        }
        const explained = (node: Deno.lint.Node) => {
          const first = lineOf(node.range[0]);
          for (let l = first - EXPLAIN_ABOVE; l <= lineOf(node.range[1]); l++) {
            if (commented.has(l)) return true;
          }
          return false;
        };
        return {
          CatchClause(node) {
            const names = paramNames(node.param);
            const body = ctx.sourceCode.getText(node.body);
            const used = names.some((n) => new RegExp(`\\b${n}\\b`).test(body));
            if (!used && !explained(node.body)) {
              ctx.report({
                node,
                message: "catch ignores which error it caught",
                hint:
                  "catch the expected error (e.g. Deno.errors.NotFound) and rethrow the rest, " +
                  "or say in a comment inside why every failure is fine here",
              });
            }
          },
          CallExpression(node) {
            const callee = node.callee;
            if (callee.type !== "MemberExpression" || callee.property.type !== "Identifier") return;
            const handler = callee.property.name === "catch"
              ? node.arguments[0]
              : callee.property.name === "then"
              ? node.arguments[1]
              : undefined;
            if (!handler) return;
            if (
              handler.type !== "ArrowFunctionExpression" && handler.type !== "FunctionExpression"
            ) {
              return;
            }
            if (handler.params.length > 0 || explained(handler)) return;
            ctx.report({
              node: handler,
              message: "rejection handler ignores which error it caught",
              hint: "take the error and rethrow what is not expected, " +
                "or say in a comment inside why every failure is fine here",
            });
          },
        };
      },
    },
  },
};

export default plugin;
