import { defineConfig } from 'vite'

// The page is served by nginx in the image; /api goes to the back-end
// through the Ingress (or through the dev proxy below).
export default defineConfig({
  build: { outDir: 'build' },
  server: { proxy: { '/api': 'http://127.0.0.1:8080' } },
})
