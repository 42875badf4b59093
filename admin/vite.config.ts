/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// Served by core-api under /admin/ (hashed files under /admin/assets/ are cached for a year).
// `npm run dev` proxies the API to a running `vane up` (VANE_CORE_URL, default :8080).
export default defineConfig({
  base: "/admin/",
  plugins: [react()],
  build: { outDir: "dist", assetsDir: "assets", sourcemap: false, target: "es2022" },
  server: {
    proxy: { "/api": process.env.VANE_CORE_URL ?? "http://127.0.0.1:8080" },
  },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
