// Checks real responses against the served OpenAPI document (JSON Schema 2020-12, as OpenAPI 3.1
// uses): the harness runs every response of every integration test through it.
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { Express } from 'express';
import { openApiDocument } from '../../src/api/openapi.js';

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

type Document = ReturnType<typeof openApiDocument>;

interface PathTemplate {
  template: string;
  pattern: RegExp;
  parameters: number;
}

/** Document paths as patterns, literal ones first: /v1/nodes/detail wins over /v1/nodes/{node}. */
function pathTemplates(document: Document): PathTemplate[] {
  return Object.keys(document.paths ?? {})
    .map((template) => ({
      template,
      pattern: new RegExp(`^${template.replace(/\{\w+\}/g, '[^/]+')}$`),
      parameters: (template.match(/\{/g) ?? []).length,
    }))
    .sort((a, b) => a.parameters - b.parameters);
}

export function createResponseChecker(document: Document = openApiDocument()) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  const templates = pathTemplates(document);
  const validators = new Map<string, ValidateFunction>();

  /** The documented template of a request path, or undefined when the document has none. */
  function templateOf(urlPath: string): string | undefined {
    const bare = urlPath.split('?')[0].replace(/(.)\/$/, '$1');
    return templates.find((t) => t.pattern.test(bare))?.template;
  }

  /**
   * What is wrong with this response by the document, or undefined when it fits (or when the
   * document has no such operation: that is the route-coverage test's business).
   */
  function problemWith(method: string, urlPath: string, status: number, body: unknown): string | undefined {
    const template = templateOf(urlPath);
    const operation = template && document.paths?.[template]?.[method.toLowerCase() as 'get'];
    if (!operation) return undefined;
    const responses = operation.responses as Record<string, { content?: Record<string, { schema?: object }> }>;
    const response = responses[String(status)] ?? responses.default;
    const where = `${method} ${template} → ${status}`;
    if (!response) return `${where}: status not documented`;
    const schema = response.content?.['application/json']?.schema;
    if (!schema) return body === undefined ? undefined : `${where}: a body where the document has none`;
    const key = `${method} ${template} ${status in responses ? status : 'default'}`;
    let validate = validators.get(key);
    if (!validate) {
      // The components beside the schema, so its #/components/... references resolve.
      validate = ajv.compile({ ...schema, components: document.components });
      validators.set(key, validate);
    }
    if (validate(body)) return undefined;
    return `${where}: ${ajv.errorsText(validate.errors, { separator: '; ' })}`;
  }

  return { templateOf, problemWith };
}

interface RouterLayer {
  rawPath?: string | string[];
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: RouterLayer[] };
}

/** `METHOD /path/{param}` of every route an Express app mounts, read from its router stack. */
export function mountedRoutes(app: Express): string[] {
  const found = new Set<string>();
  const asTemplate = (path: string) =>
    path
      .replace(/:(\w+)/g, '{$1}')
      .replace(/\/+/g, '/')
      .replace(/(.)\/$/, '$1');
  const paths = (raw: string | string[] | undefined) => (raw === undefined ? [''] : [raw].flat());
  function walk(stack: RouterLayer[], prefix: string): void {
    for (const layer of stack) {
      if (layer.route) {
        for (const path of paths(layer.route.path))
          for (const method of Object.keys(layer.route.methods))
            found.add(`${method.toUpperCase()} ${asTemplate(prefix + path)}`);
      } else if (layer.handle?.stack) {
        for (const path of paths(layer.rawPath)) walk(layer.handle.stack, prefix + (path === '/' ? '' : path));
      }
    }
  }
  // Express types a layer's route without the `methods` it has at run time.
  walk(app.router.stack as unknown as RouterLayer[], '');
  return [...found].sort();
}

/** `METHOD /path` of every operation in the document. */
export function documentedRoutes(document: Document = openApiDocument()): string[] {
  return Object.entries(document.paths ?? {})
    .flatMap(([path, item]) =>
      Object.keys(item ?? {})
        .filter((key) => ['get', 'put', 'post', 'patch', 'delete'].includes(key))
        .map((method) => `${method.toUpperCase()} ${path}`),
    )
    .sort();
}
