// Audit sinks (SPEC §6): a callback, an append-only JSON-lines file and a pino adapter, combined into one hook.
import { open, type FileHandle } from 'node:fs/promises';
import type { AuditEvent, AuditHook } from '../tokens/audit.js';
import { logErrorToConsole } from './errors.js';
import { LineBuffer } from './line-buffer.js';

/** Where audit events go. `write` may be async; `close` flushes what is buffered. */
export interface AuditSink {
  write(event: AuditEvent): void | Promise<void>;
  close?(): void | Promise<void>;
}

/** An audit hook that fans out to sinks; pass it as `audit` to the token service and the guard. */
export interface AuditLog extends AuditHook {
  /** Flushes and closes every sink. Events written before `close()` is called are never lost. */
  close(): Promise<void>;
}

/** Options of {@link createAuditLog}. */
export interface AuditLogOptions {
  /**
   * Reports a sink that failed. A failing sink never fails the request that caused the event.
   * @default logs the error's message to `console.error`
   */
  onError?: (error: unknown, context: string) => void;
}

const who = (user: string | null | undefined): string => user ?? 'anonymous';

/**
 * The human-readable line of an event. For a token call it is Jira's
 * `{user} has been authenticated via API Token ({tokenId})`.
 */
export function formatAuditMessage(event: AuditEvent): string {
  const id = event.tokenId ?? 'unknown id';
  switch (event.type) {
    case 'token.used':
      return `${who(event.user)} has been authenticated via API Token (${id})`;
    case 'token.denied':
      return `API Token call refused for ${who(event.user)} (${id}): ${event.reason ?? 'denied'}`;
    case 'token.created':
      return `API Token (${id}) created by ${who(event.user)}`;
    case 'token.updated':
      return `API Token (${id}) updated by ${who(event.user)}`;
    case 'token.rotated':
      return `API Token (${id}) rotated by ${who(event.user)}${event.reason ? `, ${event.reason}` : ''}`;
    case 'token.revoked':
      return `API Token (${id}) revoked by ${who(event.user)}`;
    case 'token.purged':
      return `API Token (${id}) purged`;
  }
  // An event type this version does not know (from a hook's own caller): still a line, never undefined.
  return `${String((event as { type: unknown }).type)} for ${who(event.user)} (${id})`;
}

let lastSecond = Number.NaN;
let lastPrefix = '';
/** The latest ISO string that can be built from a cached second (years 1970–9999; others use toISOString). */
const MAX_FAST_MS = 253_402_300_799_999;
/** A valid date's ISO time; the `YYYY-MM-DDTHH:MM:SS.` part is reused while the second is the same. */
function writeIso(out: LineBuffer, date: Date): void {
  const ms = date.getTime();
  if (!(ms >= 0 && ms <= MAX_FAST_MS)) {
    out.ascii(date.toISOString());
    return;
  }
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    lastPrefix = date.toISOString().slice(0, 20);
  }
  const milli = ms - second * 1000;
  out.ascii(lastPrefix);
  out.ascii(milli < 10 ? '00' : milli < 100 ? '0' : '');
  out.ascii(String(milli));
  out.ascii('Z');
}

/** The fields an audit record has, in this order (SPEC §6, then the guard's `line` and `status`). */
const FIELDS = ['type', 'at', 'user', 'tokenId', 'via', 'method', 'path', 'ip', 'userAgent', 'outcome', 'reason', 'requestId', 'line', 'status'] as const;
/** `,"name":` for each field, from `path` on. */
const KEYS = FIELDS.map((name) => `,"${name}":`);

/** A field value as JSON text, as `JSON.stringify` writes it in an object; null for what it cannot write. */
function writeValue(out: LineBuffer, value: unknown): void {
  switch (typeof value) {
    case 'string':
      out.json(value);
      return;
    case 'number':
      out.ascii(Number.isFinite(value) ? String(value) : 'null');
      return;
    case 'boolean':
      out.ascii(value ? 'true' : 'false');
      return;
    case 'undefined':
      out.ascii('null');
      return;
    default:
      if (value instanceof Date) {
        if (Number.isNaN(value.getTime())) out.ascii('null');
        else {
          out.ascii('"');
          writeIso(out, value);
          out.ascii('"');
        }
        return;
      }
      // Never throws: one event that cannot be serialised (a bigint, a cycle) must not stop a batch.
      try {
        out.utf8(JSON.stringify(value) ?? 'null');
      } catch {
        out.ascii('null');
      }
  }
}

/**
 * Writes {@link auditRecord} as one line of JSON text: the same text `JSON.stringify` gives, then `\n`.
 * Built field by field in a fixed order straight into bytes: this runs for every token call, and builds no
 * string and no object on the way.
 */
export function writeAuditLine(out: LineBuffer, event: AuditEvent): void {
  // type, at and user are always written (null when missing), the other fields only when set.
  out.ascii('{"type":');
  writeValue(out, event.type);
  out.ascii(',"at":');
  writeValue(out, event.at);
  out.ascii(',"user":');
  const user = event.user;
  writeValue(out, user);
  const tokenId = event.tokenId;
  if (tokenId !== undefined) {
    out.ascii(',"tokenId":');
    writeValue(out, tokenId);
  }
  for (let i = 4; i < FIELDS.length; i++) {
    const value = event[FIELDS[i]!];
    if (value === undefined) continue;
    out.ascii(KEYS[i]!);
    writeValue(out, value);
  }
  out.ascii(',"message":');
  if (event.type === 'token.used' && typeof user === 'string' && typeof tokenId === 'string') {
    // Jira's line for a token call, written from its parts (the text between them has nothing to escape).
    out.ascii('"');
    out.jsonPart(user);
    out.ascii(' has been authenticated via API Token (');
    out.jsonPart(tokenId);
    out.ascii(')"');
  } else out.json(formatAuditMessage(event));
  out.ascii('}');
  out.endLine();
}

/** {@link writeAuditLine} as a string. */
export function auditLine(event: AuditEvent): string {
  const out = new LineBuffer(512);
  writeAuditLine(out, event);
  return Buffer.concat(out.take()).toString('utf8');
}

/**
 * An event as one JSON object: the fields of SPEC §6 that are set, in a fixed order, the time as an ISO
 * string, and the text line as `message`. Properties outside {@link AuditEvent} are not part of it.
 */
export function auditRecord(event: AuditEvent): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (const key of FIELDS) {
    const value = event[key];
    if (value !== undefined || key === 'type' || key === 'at' || key === 'user') {
      record[key] = value instanceof Date ? (Number.isNaN(value.getTime()) ? null : value.toISOString()) : (value ?? null);
    }
  }
  record.message = formatAuditMessage(event);
  return record;
}

function checkSink(sink: unknown, index: number): AuditSink {
  if (typeof sink === 'function') return { write: sink as AuditHook };
  if (typeof sink !== 'object' || sink === null || typeof (sink as AuditSink).write !== 'function') {
    throw new TypeError(`createAuditLog: sink ${index} must be a function or an object with write(event) (for example new JsonLinesSink(file))`);
  }
  return sink as AuditSink;
}


/**
 * Combines sinks into one audit hook. Each event goes to every sink; a sink that throws or rejects is
 * reported to `onError` and the others still get the event.
 *
 * @example
 * const audit = createAuditLog([new JsonLinesSink('audit.jsonl'), pinoSink(logger)]);
 * const tokens = createTokenService({ store, audit });
 * app.use(tokenGuard({ tokens, audit }));
 * // on shutdown: await audit.close();
 */
export function createAuditLog(sinks: ReadonlyArray<AuditSink | AuditHook>, options: AuditLogOptions = {}): AuditLog {
  if (!Array.isArray(sinks)) throw new TypeError('createAuditLog needs an array of sinks');
  const checked = sinks.map(checkSink);
  const onError = options.onError ?? logErrorToConsole;
  const log = ((event: AuditEvent): void => {
    for (const sink of checked) {
      try {
        const result = sink.write(event);
        if (result instanceof Promise) result.catch((err: unknown) => onError(err, 'audit sink failed'));
      } catch (err) {
        onError(err, 'audit sink failed');
      }
    }
  }) as AuditLog;
  log.close = async () => {
    // Each close runs in its own promise, so one that throws synchronously cannot stop the others.
    const results = await Promise.allSettled(checked.map((sink) => Promise.resolve().then(() => sink.close?.())));
    for (const r of results) if (r.status === 'rejected') onError(r.reason, 'audit sink failed to close');
  };
  return log;
}

/** A sink that calls a function with each event. */
export function callbackSink(fn: AuditHook): AuditSink {
  if (typeof fn !== 'function') throw new TypeError('callbackSink needs a function');
  return { write: fn };
}

/** The part of a pino logger the adapter uses (any logger with this shape works). */
export interface PinoLike {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * A sink that logs each event through a pino logger: successes at `info`, failures at `warn`, the event's
 * fields under `audit` and the text line as the message.
 */
export function pinoSink(logger: PinoLike): AuditSink {
  if (typeof logger?.info !== 'function' || typeof logger.warn !== 'function') throw new TypeError('pinoSink needs a pino logger (an object with info and warn)');
  return {
    write(event) {
      const { message, ...fields } = auditRecord(event);
      const record = { audit: fields };
      if (event.outcome === 'success') logger.info(record, message as string);
      else logger.warn(record, message as string);
    },
  };
}

/** Options of {@link JsonLinesSink}. */
export interface JsonLinesSinkOptions {
  /** Buffered lines are written at least this often, in milliseconds. @default 200 */
  flushMs?: number;
  /** This many buffered events are written at once, without waiting for the timer. @default 1000 */
  maxBatch?: number;
  /** The file mode when the file is created (audit logs name users and paths). @default 0o600 */
  mode?: number;
  /** Reports a batch that could not be written by a timed flush. @default logs to `console.error` */
  onError?: (error: unknown, context: string) => void;
}

/**
 * An append-only JSON-lines file: one {@link auditRecord} per line, written in batches, in order. `close()`
 * writes everything buffered and closes the file; writing after `close()` throws.
 *
 * Each event is serialised as it is written, straight into bytes outside the JavaScript heap (a
 * `LineBuffer`), so the sink keeps no event objects and the batch is written as it stands.
 */
export class JsonLinesSink implements AuditSink {
  readonly path: string;
  readonly #flushMs: number;
  readonly #maxBatch: number;
  readonly #mode: number;
  readonly #onError: (error: unknown, context: string) => void;
  /** Lines not written yet. */
  readonly #lines = new LineBuffer();
  /** Lines of a batch that could not be written because the file did not open; they go first next time. */
  #unwritten: Buffer[] = [];
  #timer: NodeJS.Timeout | undefined;
  #file: Promise<FileHandle> | undefined;
  #writing: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(path: string, options: JsonLinesSinkOptions = {}) {
    if (typeof path !== 'string' || path === '') throw new TypeError('JsonLinesSink needs a file path');
    this.path = path;
    this.#flushMs = options.flushMs ?? 200;
    this.#maxBatch = options.maxBatch ?? 1000;
    this.#mode = options.mode ?? 0o600;
    this.#onError = options.onError ?? logErrorToConsole;
    if (!(this.#flushMs >= 0) || !(Number.isSafeInteger(this.#maxBatch) && this.#maxBatch > 0)) {
      throw new TypeError('JsonLinesSink: flushMs must be ≥ 0 and maxBatch a positive integer');
    }
  }

  write(event: AuditEvent): void {
    if (this.#closed) throw new Error(`JsonLinesSink(${this.path}) is closed`);
    const lines = this.#lines;
    try {
      writeAuditLine(lines, event);
    } catch (err) {
      // Not expected (serialisation does not throw); the half-written line must not reach the file.
      lines.dropLine();
      throw err;
    }
    if (lines.lines >= this.#maxBatch) this.#flushInBackground();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#flushInBackground(), this.#flushMs);
      this.#timer.unref();
    }
  }

  #flushInBackground(): void {
    const lines = this.#lines.lines;
    this.flush().catch((err: unknown) => this.#onError(err, `audit file ${this.path}: ${lines} events could not be written`));
  }

  /** Writes the buffered lines; resolves when they (and every earlier batch) are in the file. */
  flush(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#lines.lines === 0 && this.#unwritten.length === 0) return this.#writing;
    const parts = this.#unwritten.concat(this.#lines.take());
    this.#unwritten = [];
    const batch = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    this.#file ??= open(this.path, 'a', this.#mode);
    const file = this.#file;
    // Batches are chained, so lines stay in order; a failed batch is reported by the caller of flush/close.
    const written = this.#writing.then(async () => {
      let handle: FileHandle;
      try {
        handle = await file;
      } catch (err) {
        // Nothing was written: keep the lines for the next flush and open the file anew then.
        if (this.#file === file) this.#file = undefined;
        this.#unwritten.unshift(batch);
        throw err;
      }
      await handle.appendFile(batch);
    });
    this.#writing = written.catch(() => undefined);
    return written;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.flush();
    } finally {
      await this.#writing;
      const file = this.#file;
      this.#file = undefined;
      if (file) await (await file).close();
    }
  }
}
