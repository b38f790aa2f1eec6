// Vite build of the dashboard: web/ → web/dist/, served by hookd at / (src/api/routes/dashboard.ts).
// `npx vite web` serves it on :5173 for development, proxying the API to a hookd on :8080.
import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [preact()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 200 },
  server: { proxy: { '/service': 'http://127.0.0.1:8080' } },
});
