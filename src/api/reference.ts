// The API's own description, open to all (as version discovery is): the OpenAPI document at
// /v1/openapi.json and a reference page at /docs rendered by Swagger UI from the pinned
// swagger-ui-dist package's files, so nothing is fetched from elsewhere at run time.
import { createRequire } from 'node:module';
import path from 'node:path';
import express, { Router } from 'express';
import { openApiDocument } from './openapi.js';

const ASSETS_DIR = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
/** Only what the page loads, not the package's other bundles and source maps. */
const ASSETS = ['swagger-ui.css', 'swagger-ui-bundle.js', 'favicon-32x32.png'];

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Tempered API reference</title>
  <link rel="icon" href="/docs/assets/favicon-32x32.png">
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="reference"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({ url: '/v1/openapi.json', dom_id: '#reference', deepLinking: true, persistAuthorization: false });
  </script>
</body>
</html>
`;

export function referenceRouter(): Router {
  const router = Router();
  router.get('/v1/openapi.json', (_req, res) => {
    res.json(openApiDocument());
  });
  router.get('/docs', (_req, res) => {
    res.type('html').send(PAGE);
  });
  const assets = express.static(ASSETS_DIR, { index: false, fallthrough: false, maxAge: '1h' });
  router.get('/docs/assets/:file', (req, res, next) => {
    if (!ASSETS.includes(req.params.file)) return next();
    req.url = `/${req.params.file}`;
    assets(req, res, next);
  });
  return router;
}
