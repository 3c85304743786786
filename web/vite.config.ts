/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The API to proxy to in `npm run dev` (the SPA then runs on its own origin, like any other client).
const api = process.env.VIGIL_API_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  server: {
    port: 5173,
    proxy: { "/api": { target: api, changeOrigin: false } },
  },
  build: {
    // Served by the API under a strict CSP: no inline scripts, everything from our own origin.
    assetsInlineLimit: 0,
    sourcemap: true,
  },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    css: false,
    // Two cores on CI: keep the worker count modest.
    maxWorkers: 2,
    testTimeout: 20_000,
  },
});
