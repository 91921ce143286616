import { defineConfig } from "vite";
import { VitePWA } from "vite-plugin-pwa";

// Served by Flask at /field/ (server/field.py); everything is bundled locally (no CDN).
export default defineConfig({
  base: "/field/",
  build: { outDir: "dist", emptyOutDir: true, target: "es2020", sourcemap: false },
  plugins: [
    VitePWA({
      registerType: "autoUpdate",
      injectRegister: null, // registered in src/main.ts
      filename: "sw.js",
      manifestFilename: "manifest.webmanifest",
      includeAssets: ["icons/*.png"],
      manifest: {
        name: "督导现场 Field inspections",
        short_name: "督导现场",
        description: "Offline checklists, photos and verdicts for school inspections",
        lang: "zh-CN",
        start_url: "/field/",
        scope: "/field/",
        display: "standalone",
        orientation: "portrait",
        background_color: "#ffffff",
        theme_color: "#1565c0",
        icons: [
          { src: "icons/icon-192.png", sizes: "192x192", type: "image/png" },
          { src: "icons/icon-512.png", sizes: "512x512", type: "image/png" },
          { src: "icons/icon-512.png", sizes: "512x512", type: "image/png", purpose: "maskable" },
        ],
      },
      workbox: {
        // The shell is precached; API calls always go to the network (data lives in IndexedDB).
        globPatterns: ["**/*.{js,css,html,png,webmanifest}"],
        navigateFallback: "/field/index.html",
        navigateFallbackAllowlist: [/^\/field\//],
        cleanupOutdatedCaches: true,
        clientsClaim: true,
        skipWaiting: true,
      },
    }),
  ],
  test: { environment: "node", include: ["test/**/*.test.ts"] },
} as any);
