import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { build, defineConfig, type Plugin, type Rolldown } from "vite";

// The bundle is embedded in the Go binary (internal/ui), which serves dist/assets with a
// year-long cache: every asset name carries its content hash. The build empties dist,
// so it writes back the placeholder git keeps there (go:embed needs one file).
const placeholder = "The web UI's bundle is built here by `make ui` (npm run build in ui/).\n";

// precompress writes name.gz and name.br beside each compressible asset, at the
// highest levels, once per build: the server sends them as the client accepts.
function precompress(outDir: string): Plugin {
  return {
    name: "mlship-precompress",
    apply: "build",
    generateBundle() {
      this.emitFile({ type: "asset", fileName: "README.md", source: placeholder });
    },
    writeBundle() {
      const dir = join(outDir, "assets");
      for (const name of readdirSync(dir)) {
        if (!/\.(js|css|svg|json|txt)$/.test(name)) continue;
        const body = readFileSync(join(dir, name));
        if (body.length < 1024) continue;
        writeFileSync(join(dir, name + ".gz"), gzipSync(body, { level: 9 }));
        writeFileSync(join(dir, name + ".br"), brotliCompressSync(body, {
          params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.length },
        }));
      }
    },
  };
}

// inlineEarly puts src/early.ts (the first page's calls) in index.html as a classic script,
// built on its own: it runs as the page is parsed, before the app's code is even fetched.
// index.html names it as a module, which the dev server runs as such.
function inlineEarly(): Plugin {
  const tag = '<script type="module" src="/src/early.ts"></script>';
  return {
    name: "mlship-inline-early",
    apply: "build",
    transformIndexHtml: {
      order: "pre",
      async handler(html) {
        if (!html.includes(tag)) throw new Error(`index.html has no ${tag}`);
        const out = (await build({
          configFile: false,
          logLevel: "warn",
          build: {
            write: false,
            target: "es2022",
            lib: { entry: "src/early.ts", formats: ["iife"], name: "mlshipEarlyCalls" },
          },
        })) as Rolldown.RolldownOutput[];
        const code = out[0].output[0].code.trim();
        if (code.includes("</script")) throw new Error("early.ts's build holds </script");
        return html.replace(tag, `<script>${code}</script>`);
      },
    },
  };
}

const outDir = "../internal/ui/dist";

export default defineConfig({
  base: "/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  plugins: [inlineEarly(), precompress(outDir)],
  build: {
    outDir,
    emptyOutDir: true,
    assetsDir: "assets",
    target: "es2022",
    modulePreload: { polyfill: false },
    rolldownOptions: {
      // The precompression takes most of the build's time, by design: no warning about it.
      checks: { pluginTimings: false },
      output: {
        entryFileNames: "assets/[name]-[hash].js",
        chunkFileNames: "assets/[name]-[hash].js",
        assetFileNames: "assets/[name]-[hash][extname]",
      },
    },
  },
});
