// The management API's OpenAPI 3.1 document (issue 15): every route of the router is in it, every path in it
// is a route, and a maintained validator (the official 3.1 JSON schema) accepts it.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { createTokenService, MemoryTokenStore, tokenRouter } from '../../../../src/index';

const MOUNT = '/rest/api-tokens/latest';

describe('the OpenAPI document', () => {
  const tokens = createTokenService({ store: new MemoryTokenStore() });
  afterAll(() => tokens.close());
  const router = tokenRouter({ tokens });
  const doc = router.openApi(MOUNT) as { openapi: string; paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>> };

  /** The router's own routes, read from its stack: `METHOD /mount/path` with `{param}` for `:param`. */
  const routes = (router as unknown as { stack: { route?: { path: string; methods: Record<string, boolean> } }[] }).stack
    .filter((layer) => layer.route !== undefined && layer.route.path !== '/openapi.json')
    .flatMap((layer) =>
      Object.keys(layer.route!.methods)
        .filter((m) => m !== '_all')
        .map((method) => `${method.toUpperCase()} ${`${MOUNT}${layer.route!.path === '/' ? '' : layer.route!.path}`.replace(/:(\w+)/g, '{$1}')}`),
    );
  const documented = Object.entries(doc.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`));

  test('every route is documented and every documented operation is a route', () => {
    expect(routes.length).toBeGreaterThanOrEqual(12);
    expect([...documented].sort()).toEqual([...routes].sort());
  });

  test('the official OpenAPI 3.1 schema accepts it', () => {
    // The validator is an ES module only, which jest's CommonJS runtime cannot load: it runs in a child Node.
    const script = `import { Validator } from '@seriousme/openapi-schema-validator';
      const validator = new Validator();
      const result = await validator.validate(JSON.parse(await new Response(process.stdin).text()));
      console.log(JSON.stringify({ ...result, version: validator.version }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: resolve(__dirname, '..', '..', '..', '..'), input: JSON.stringify(doc), encoding: 'utf8' });
    const result = JSON.parse(out) as { valid: boolean; errors?: unknown; version: string };
    expect(result.errors).toBeUndefined();
    expect(result).toMatchObject({ valid: true, version: '3.1' });
  });

  test('the validator refuses a broken document (the check can fail)', () => {
    const script = `import { Validator } from '@seriousme/openapi-schema-validator';
      const result = await new Validator().validate(JSON.parse(await new Response(process.stdin).text()));
      console.log(JSON.stringify({ valid: result.valid }));`;
    const broken = { ...doc, paths: { [`${MOUNT}/`]: { get: { responses: { 200: { content: 'not an object' } } } } } };
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: resolve(__dirname, '..', '..', '..', '..'), input: JSON.stringify(broken), encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ valid: false });
  });

  test('every operation has an id, a success answer and the error body for its failures', () => {
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        expect([path, method, typeof operation.operationId]).toEqual([path, method, 'string']);
        expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['401', '403', '503']));
      }
    }
  });
});
