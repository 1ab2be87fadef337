// Policy fixture files: their JSON schema, loading a folder of them, and running their cases (SPEC §10 `test`).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import Ajv, { type JSONSchemaType } from 'ajv';
import { evaluateRestrictions, parseRestrictions, type Decision, type DenialReason, type EvaluateOptions, type RestrictionRequest } from '../index.js';

/** What a case expects. */
export interface FixtureExpectation {
  allowed: boolean;
  line?: number;
  reason?: DenialReason;
  explanationIncludes?: string;
}

/** One case: a request and the decision it must get. */
export interface FixtureCase {
  name: string;
  request: RestrictionRequest;
  expect: FixtureExpectation;
}

/** A fixture file: one rule set and the cases run against it. */
export interface FixtureFile {
  description?: string;
  rules: string | string[];
  options?: EvaluateOptions;
  cases: FixtureCase[];
}

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['rules', 'cases'],
  properties: {
    description: { type: 'string', nullable: true },
    rules: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
    options: {
      type: 'object',
      nullable: true,
      additionalProperties: false,
      properties: {
        caseInsensitive: { type: 'boolean', nullable: true },
        strict: { type: 'boolean', nullable: true },
        basePath: { type: 'string', nullable: true, pattern: '^(?:(?:/[^/\\s]+)+)?$' },
      },
    },
    cases: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'request', 'expect'],
        properties: {
          name: { type: 'string', minLength: 1 },
          request: {
            type: 'object',
            additionalProperties: false,
            required: ['method', 'url'],
            properties: {
              method: { type: 'string', minLength: 1 },
              url: { type: 'string' },
              contentType: { type: 'string', nullable: true },
              body: {},
            },
          },
          expect: {
            type: 'object',
            additionalProperties: false,
            required: ['allowed'],
            properties: {
              allowed: { type: 'boolean' },
              line: { type: 'integer', minimum: 1, nullable: true },
              reason: { type: 'string', enum: ['ambiguous_path', 'ambiguous_query', 'no_rule_matched'], nullable: true },
              explanationIncludes: { type: 'string', nullable: true },
            },
          },
        },
      },
    },
  },
} as unknown as JSONSchemaType<FixtureFile>;

const validate = new Ajv({ allErrors: true, strict: true }).compile<FixtureFile>(schema);

/** A fixture file that failed to load, or a case's outcome. */
export interface CaseResult {
  file: string;
  name: string;
  passed: boolean;
  /** What went wrong, when it failed. */
  problem?: string;
}

/** Reads and validates one fixture file; throws an Error naming the file and the schema violations. */
export function loadFixtureFile(path: string): FixtureFile {
  const data: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (!validate(data)) {
    const problems = (validate.errors ?? []).map(describeSchemaError).join('; ');
    throw new Error(`${path}: not a fixture file: ${problems}`);
  }
  return data;
}

/** One schema violation, naming the property at fault (ajv names an unknown or missing one in `params`). */
function describeSchemaError(e: { instancePath: string; message?: string; params: Record<string, unknown> }): string {
  const at = e.instancePath || '/';
  if (typeof e.params.additionalProperty === 'string') return `${at}: unknown property ${JSON.stringify(e.params.additionalProperty)}`;
  if (typeof e.params.missingProperty === 'string') return `${at}: missing property ${JSON.stringify(e.params.missingProperty)}`;
  if (Array.isArray(e.params.allowedValues)) return `${at} ${e.message ?? ''}: ${e.params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  return `${at} ${e.message ?? ''}`;
}

/** Loads and runs one fixture file. A file that fails to load counts as one failed case. */
export function runFixturePath(path: string): CaseResult[] {
  const label = relative(process.cwd(), path) || path;
  try {
    return runFixtureFile(loadFixtureFile(path), label);
  } catch (err) {
    return [{ file: label, name: '(file)', passed: false, problem: err instanceof Error ? err.message : String(err) }];
  }
}

/** Every `.json` file below `dir`, sorted. */
export function findFixtureFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...findFixtureFiles(path));
    else if (name.endsWith('.json')) out.push(path);
  }
  return out;
}

/** Compares a decision with what a case expects; returns the mismatch or null. */
export function checkExpectation(decision: Decision, expect: FixtureExpectation): string | null {
  const problems: string[] = [];
  if (decision.allowed !== expect.allowed) problems.push(`expected ${expect.allowed ? 'ALLOWED' : 'DENIED'}, got ${decision.allowed ? 'ALLOWED' : 'DENIED'}`);
  if (expect.line !== undefined && decision.line !== expect.line) problems.push(`expected line ${expect.line}, got ${decision.line ?? 'none'}`);
  if (expect.reason !== undefined && decision.reason !== expect.reason) problems.push(`expected reason ${expect.reason}, got ${decision.reason ?? 'none'}`);
  if (expect.explanationIncludes !== undefined && !decision.explanation.includes(expect.explanationIncludes)) {
    problems.push(`explanation does not include ${JSON.stringify(expect.explanationIncludes)}`);
  }
  return problems.length === 0 ? null : `${problems.join('; ')}\n    ${decision.explanation.replace(/\n/g, '\n    ')}`;
}

/** Runs every case of one fixture file. A file whose rules do not parse fails all its cases. */
export function runFixtureFile(file: FixtureFile, label: string): CaseResult[] {
  const text = Array.isArray(file.rules) ? file.rules.join('\n') : file.rules;
  let set: ReturnType<typeof parseRestrictions>;
  try {
    set = parseRestrictions(text);
  } catch (err) {
    const problem = `rules do not parse: ${err instanceof Error ? err.message : String(err)}`;
    return file.cases.map((c) => ({ file: label, name: c.name, passed: false, problem }));
  }
  return file.cases.map((c) => {
    const problem = checkExpectation(evaluateRestrictions(set, c.request, file.options ?? {}), c.expect);
    return problem === null ? { file: label, name: c.name, passed: true } : { file: label, name: c.name, passed: false, problem };
  });
}

/** Loads and runs every fixture file below `dir`. Files that fail to load count as one failed case. */
export function runFixtureDir(dir: string): CaseResult[] {
  return findFixtureFiles(dir).flatMap((path) => runFixturePath(path));
}
