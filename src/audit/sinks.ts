// Audit sinks (SPEC §6): a callback, an append-only JSON-lines file and a pino adapter, combined into one hook.
import { open, type FileHandle } from 'node:fs/promises';
import type { AuditEvent, AuditHook } from './events.js';
import { checkFunction, checkKnownKeys, checkNumber } from '../internal/options.js';
import { logErrorToConsole } from '../internal/report.js';

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
  onError?: ((error: unknown, context: string) => void) | undefined;
}

/** The user of a message; anything but a string (a caller's mistake) is no user, never a throw. */
const who = (user: string | null | undefined): string => (typeof user === 'string' ? user : 'anonymous');

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
    case 'session.login':
      return `${who(event.user)} logged in with a session`;
    case 'session.login_failed':
      return `Login failed for ${who(event.user)}`;
    case 'session.login_denied':
      return `Login refused for ${who(event.user)}: ${event.reason ?? 'denied'}`;
    case 'session.logout':
      return `${who(event.user)} logged out`;
    case 'xsrf.denied':
      return `XSRF check failed for ${who(event.user)}: ${event.reason ?? 'denied'}`;
    case 'manage.denied':
      return `Token management refused for ${who(event.user)}: ${event.reason ?? 'denied'}`;
  }
  // An event type this version does not know (from a hook's own caller): still a line, never undefined.
  return `${String((event as { type: unknown }).type)} for ${who(event.user)} (${id})`;
}

let lastSecond = Number.NaN;
let lastPrefix = '';
/** The latest ISO string that can be built from a cached second (years 1970–9999; others use toISOString). */
const MAX_FAST_MS = 253_402_300_799_999;
/** An ISO time; the `YYYY-MM-DDTHH:MM:SS.` part is reused while the second is the same. */
function isoOf(date: Date): string {
  const ms = date.getTime();
  if (!(ms >= 0 && ms <= MAX_FAST_MS)) return date.toISOString();
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    lastPrefix = date.toISOString().slice(0, 20);
  }
  const milli = ms - second * 1000;
  return `${lastPrefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}

/** The fields an audit record has, in this order (SPEC §6, then the guard's `line` and `status`). */
const FIELDS = ['type', 'at', 'user', 'tokenId', 'via', 'method', 'path', 'ip', 'userAgent', 'outcome', 'reason', 'requestId', 'line', 'status'] as const;

/**
 * Characters that are valid in JSON text but that a log viewer may show as a line break or use to reorder
 * what it shows (Trojan Source): C1 controls, line and paragraph separators, bidirectional and other
 * invisible format characters. The JSON-lines sink writes them as `\uXXXX` escapes: the same value once
 * parsed, and one event per line in any viewer.
 */
const INVISIBLE = /[\x7f-\x9f\xad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g;
const INVISIBLE_TEST = new RegExp(INVISIBLE.source);
const escapeInvisible = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
/**
 * The inside of a JSON string literal for `s` (without the quotes). Printable ASCII without `"` or `\`,
 * which is nearly every value, is its own escape; anything else goes to `JSON.stringify` (so lone
 * surrogates come out as `\uXXXX` just as there), then INVISIBLE characters are escaped too.
 */
function jsonInner(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x7f) return JSON.stringify(s).slice(1, -1).replace(INVISIBLE, escapeInvisible);
  }
  return s;
}

/** A field value as JSON text, or undefined for a field that is left out. */
function jsonValue(value: unknown): string | undefined {
  switch (typeof value) {
    case 'undefined':
      return undefined;
    case 'string':
      return `"${jsonInner(value)}"`;
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    default:
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'null' : `"${isoOf(value)}"`;
      // Never throws: one event that cannot be serialised (a bigint, a cycle) must not stop a batch.
      try {
        return JSON.stringify(value)?.replace(INVISIBLE, escapeInvisible) ?? 'null';
      } catch {
        return 'null';
      }
  }
}

/**
 * {@link auditRecord} as one line of JSON text: the text `JSON.stringify` gives, with INVISIBLE characters
 * escaped as well. Built field by field
 * in a fixed order: this runs for every token call, and `JSON.stringify` leaves its fast path for any
 * object holding a Date.
 */
export function auditLine(event: AuditEvent, atMs?: number): string {
  // type, at and user are always written (null when missing), the other fields only when set. `atMs` is
  // the event's time as read when a deferred writer received it (a Date can be changed in place).
  const at = atMs === undefined ? jsonValue(event.at) : Number.isNaN(atMs) ? 'null' : jsonValue(new Date(atMs));
  let out = `{"type":${jsonValue(event.type) ?? 'null'},"at":${at ?? 'null'}`;
  const user = event.user;
  const userText = typeof user === 'string' ? jsonInner(user) : undefined;
  out += userText === undefined ? `,"user":${jsonValue(user) ?? 'null'}` : `,"user":"${userText}"`;
  const tokenId = event.tokenId;
  const idText = typeof tokenId === 'string' ? jsonInner(tokenId) : undefined;
  if (idText !== undefined) out += `,"tokenId":"${idText}"`;
  else if (tokenId !== undefined) out += `,"tokenId":${jsonValue(tokenId)}`;
  for (let i = 4; i < FIELDS.length; i++) {
    const text = jsonValue(event[FIELDS[i]!]);
    if (text !== undefined) out += `,"${FIELDS[i]!}":${text}`;
  }
  // Jira's line for a token call, put together from the parts already escaped (the text between them
  // has nothing to escape, so this is the escape of the whole line).
  const message =
    event.type === 'token.used' && userText !== undefined && idText !== undefined
      ? `"${userText} has been authenticated via API Token (${idText})"`
      : (jsonValue(formatAuditMessage(event)) ?? 'null');
  return `${out},"message":${message}}\n`;
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
  if (typeof options !== 'object' || options === null) throw new TypeError('createAuditLog(sinks, options): options must be an object such as { onError }');
  checkKnownKeys('createAuditLog', options, ['onError']);
  checkFunction('options.onError', options.onError);
  const checked = sinks.map(checkSink);
  const onError = options.onError ?? logErrorToConsole;
  const log = ((event: AuditEvent): void => {
    // Every sink gets the same object, and the JSON-lines sink serialises it later: frozen, no sink (and no
    // caller) can change what the others write. tokenfence's own events arrive frozen already.
    Object.freeze(event);
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
      // pino writes U+2028, bidirectional controls and other invisible characters as they are: here they
      // become visible `\uXXXX` text, so a name cannot pass for another in a log viewer.
      for (const key in fields) if (typeof fields[key] === 'string') fields[key] = visible(fields[key]);
      const record = { audit: fields };
      if (event.outcome === 'success') logger.info(record, visible(message as string));
      else logger.warn(record, visible(message as string));
    },
  };
}

/** `text` with INVISIBLE characters written as `\uXXXX` text. */
const visible = (text: string): string => (INVISIBLE_TEST.test(text) ? text.replace(INVISIBLE, escapeInvisible) : text);

/** Options of {@link JsonLinesSink}. */
export interface JsonLinesSinkOptions {
  /** Buffered lines are written at least this often, in milliseconds. @default 200 */
  flushMs?: number | undefined;
  /** This many buffered events are written at once, without waiting for the timer. @default 1000 */
  maxBatch?: number | undefined;
  /** The file mode when the file is created (audit logs name users and paths). @default 0o600 */
  mode?: number | undefined;
  /**
   * The most bytes of lines kept in memory while the file cannot be written (disk full, a missing
   * directory). Lines beyond it are dropped and reported, rather than growing without bound. @default 64 MiB
   */
  maxPendingBytes?: number | undefined;
  /** Reports a batch that could not be written by a timed flush, and dropped lines. @default logs to `console.error` */
  onError?: ((error: unknown, context: string) => void) | undefined;
}

/** The line of an event that cannot be serialised at all (a value whose conversion to text throws). */
function fallbackLine(event: AuditEvent): string {
  const type = typeof event?.type === 'string' ? event.type : null;
  const at = event?.at instanceof Date && !Number.isNaN(event.at.getTime()) ? isoOf(event.at) : null;
  return `${JSON.stringify({ type, at, user: null, message: 'this audit event could not be serialised' })}\n`;
}

/**
 * An append-only JSON-lines file: one {@link auditRecord} per line, written in batches, in order. `close()`
 * writes everything buffered and closes the file; writing after `close()` throws.
 *
 * Events are kept as they are until the batch is written, then serialised together: one tight loop per
 * batch costs less than serialising on every request. The events tokenfence emits, and every event that
 * passes through {@link createAuditLog}, are frozen, so the line written is the event as it was emitted.
 *
 * Lines that could not be written (the file cannot be opened, the disk is full) stay queued, in order,
 * and are written by the next flush; a write that stopped part-way goes on from the byte where it stopped,
 * so no line is lost, duplicated or cut in two. While the file cannot be written at most
 * `maxPendingBytes` wait; later batches are dropped and reported. For log rotation, call `reopen()` after
 * the file was moved (on SIGHUP, as with logrotate's `postrotate`).
 */
export class JsonLinesSink implements AuditSink {
  readonly path: string;
  readonly #flushMs: number;
  readonly #maxBatch: number;
  readonly #mode: number;
  readonly #maxPendingBytes: number;
  readonly #onError: (error: unknown, context: string) => void;
  /** Events not yet serialised, and their times as read on arrival (`at` is a Date, which freezing does not fix). */
  #events: AuditEvent[] = [];
  #times: number[] = [];
  /** Serialised lines not yet in the file, in order; the first may be partly written already. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #file: FileHandle | undefined;
  /** The chain of drains: one runs at a time, so lines reach the file in order. */
  #writing: Promise<void> = Promise.resolve();
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(path: string, options: JsonLinesSinkOptions = {}) {
    if (typeof path !== 'string' || path === '') throw new TypeError('JsonLinesSink needs a file path');
    if (typeof options !== 'object' || options === null) throw new TypeError('new JsonLinesSink(path, options): options must be an object such as { flushMs: 200 }');
    checkKnownKeys('new JsonLinesSink', options, ['flushMs', 'maxBatch', 'mode', 'maxPendingBytes', 'onError'], { flushInterval: 'did you mean "flushMs" (milliseconds)?' });
    checkNumber('options.flushMs', options.flushMs, { min: 0, max: 2 ** 31 - 1, unit: 'milliseconds' });
    checkNumber('options.maxBatch', options.maxBatch, { min: 1, integer: true, unit: 'events' });
    checkNumber('options.mode', options.mode, { min: 0, max: 0o777, integer: true, unit: 'file mode bits (such as 0o600)' });
    checkNumber('options.maxPendingBytes', options.maxPendingBytes, { min: 1, integer: true, unit: 'bytes' });
    checkFunction('options.onError', options.onError);
    this.path = path;
    this.#flushMs = options.flushMs ?? 200;
    this.#maxBatch = options.maxBatch ?? 1000;
    this.#mode = options.mode ?? 0o600;
    this.#maxPendingBytes = options.maxPendingBytes ?? 64 * 1024 * 1024;
    this.#onError = options.onError ?? logErrorToConsole;
    if (!(this.#flushMs >= 0) || !(Number.isSafeInteger(this.#maxBatch) && this.#maxBatch > 0)) {
      throw new TypeError('JsonLinesSink: flushMs must be ≥ 0 and maxBatch a positive integer');
    }
    if (!(Number.isSafeInteger(this.#maxPendingBytes) && this.#maxPendingBytes > 0)) throw new TypeError('JsonLinesSink: maxPendingBytes must be a positive integer');
  }

  write(event: AuditEvent): void {
    if (this.#closed) throw new Error(`JsonLinesSink(${this.path}) is closed`);
    const at = (event as { at?: unknown } | null)?.at;
    this.#times.push(at instanceof Date ? at.getTime() : Number.NaN);
    if (this.#events.push(event) >= this.#maxBatch) this.#flushInBackground();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#flushInBackground(), this.#flushMs);
      this.#timer.unref();
    }
  }

  #flushInBackground(): void {
    this.flush().catch((err: unknown) => this.#onError(err, `audit file ${this.path}: ${this.#pendingBytes} bytes of lines could not be written yet (kept, to be written by the next flush)`));
  }

  /** Serialises the buffered events and queues their lines; never throws (one bad event gets a fallback line). */
  #serialise(): void {
    if (this.#events.length === 0) return;
    const events = this.#events;
    const times = this.#times;
    this.#events = [];
    this.#times = [];
    let text = '';
    for (let i = 0; i < events.length; i++) {
      try {
        text += auditLine(events[i]!, times[i]);
      } catch {
        text += fallbackLine(events[i]!);
      }
    }
    const bytes = Buffer.from(text, 'utf8');
    if (this.#pendingBytes + bytes.length > this.#maxPendingBytes) {
      this.#onError(
        new Error(`audit file ${this.path}: ${events.length} events dropped: ${this.#pendingBytes} bytes are still waiting to be written (maxPendingBytes ${this.#maxPendingBytes})`),
        'audit events dropped',
      );
      return;
    }
    this.#pending.push(bytes);
    this.#pendingBytes += bytes.length;
  }

  /** Writes the queued lines from the front; what is not written stays at the front, from the byte where it stopped. */
  async #drain(): Promise<void> {
    if (this.#pending.length === 0) return;
    this.#file ??= await open(this.path, 'a', this.#mode);
    const file = this.#file;
    while (this.#pending.length > 0) {
      const chunk = this.#pending[0]!;
      const { bytesWritten } = await file.write(chunk, 0, chunk.length);
      // A write that takes nothing and reports no error would loop for ever: treat it as a failure.
      if (bytesWritten === 0) throw new Error(`audit file ${this.path}: a write made no progress`);
      this.#pendingBytes -= bytesWritten;
      if (bytesWritten === chunk.length) this.#pending.shift();
      else this.#pending[0] = chunk.subarray(bytesWritten);
    }
  }

  /** Writes the buffered lines; resolves when they (and every earlier line) are in the file. */
  flush(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#serialise();
    const written = this.#writing.then(() => this.#drain());
    this.#writing = written.catch(() => undefined);
    return written;
  }

  /**
   * Closes the file after the lines queued so far are written; the next write opens the path anew. Call it
   * after log rotation moved the file, so new lines go to a new file at the path.
   */
  reopen(): Promise<void> {
    const done = this.flush().finally(async () => {
      const file = this.#file;
      this.#file = undefined;
      await file?.close();
    });
    this.#writing = done.catch(() => undefined);
    return done;
  }

  /** Writes everything buffered and closes the file. A second call waits for the first; after a failed close, a later call tries again. */
  close(): Promise<void> {
    this.#closing ??= this.#close().catch((err: unknown) => {
      this.#closing = undefined;
      throw err;
    });
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    try {
      await this.flush();
    } finally {
      await this.#writing;
      const file = this.#file;
      this.#file = undefined;
      if (file) await file.close();
    }
  }
}
