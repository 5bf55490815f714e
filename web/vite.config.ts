import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// The build lands inside the Python package, so `make run` serves it without Node.js.
const outDir = fileURLToPath(new URL("../src/prodlens/web/dist", import.meta.url));

export default defineConfig({
  build: {
    outDir,
    emptyOutDir: true,
    assetsDir: "assets",
    // Hashed names are cached for a year; index.html is never cached.
    sourcemap: false,
    target: "es2022",
    modulePreload: { polyfill: false },
  },
  server: {
    // `npm run dev` proxies the API of a `make run` server, cookies included.
    proxy: {
      "/api": { target: "http://127.0.0.1:8000", ws: true },
    },
  },
  test: {
    environment: "happy-dom",
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
  },
});
